/*
 * The socket under a tunnel's TLS. OpenSSL's socket BIO writes with
 * write(2), which raises SIGPIPE on a closed connection and would kill an
 * application that never asked for it; a library must not change signal
 * dispositions, so this BIO sends with MSG_NOSIGNAL instead.
 */
#include <sys/socket.h>

#include <errno.h>

#include <openssl/bio.h>

#include "libtg_priv.h"

static int
bio_write_ex(BIO *b, const char *buf, size_t len, size_t *written)
{
	struct tg_tunnel *t = BIO_get_data(b);
	ssize_t		 n;

	BIO_clear_retry_flags(b);
	do {
		n = send(t->fd, buf, len, MSG_NOSIGNAL);
	} while (n == -1 && errno == EINTR);
	if (n >= 0) {
		*written = (size_t)n;
		return 1;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		BIO_set_retry_write(b);
	return 0;
}

static int
bio_read_ex(BIO *b, char *buf, size_t len, size_t *readbytes)
{
	struct tg_tunnel *t = BIO_get_data(b);
	ssize_t		 n;

	BIO_clear_retry_flags(b);
	do {
		n = recv(t->fd, buf, len, 0);
	} while (n == -1 && errno == EINTR);
	if (n > 0) {
		*readbytes = (size_t)n;
		return 1;
	}
	if (n == 0)
		t->bio_eof = 1;
	else if (errno == EAGAIN || errno == EWOULDBLOCK)
		BIO_set_retry_read(b);
	return 0;
}

/* OpenSSL asks BIO_CTRL_EOF to tell a peer's FIN without close_notify
 * (a truncation) from a socket error. */
static long
bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct tg_tunnel *t = BIO_get_data(b);

	(void)num;
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1;
	case BIO_CTRL_EOF:
		return t->bio_eof;
	case BIO_C_GET_FD:
		if (ptr != NULL)
			*(int *)ptr = t->fd;
		return t->fd;
	default:
		return 0;
	}
}

BIO_METHOD *
tg_bio_method_new(void)
{
	BIO_METHOD	*m;
	int		 idx;

	if ((idx = BIO_get_new_index()) == -1 ||
	    (m = BIO_meth_new(idx | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR,
	    "tunnelgate socket")) == NULL)
		return NULL;
	if (BIO_meth_set_write_ex(m, bio_write_ex) != 1 ||
	    BIO_meth_set_read_ex(m, bio_read_ex) != 1 ||
	    BIO_meth_set_ctrl(m, bio_ctrl) != 1) {
		BIO_meth_free(m);
		return NULL;
	}
	return m;
}

BIO *
tg_bio_new(struct tg_tunnel *t)
{
	BIO	*b;

	if ((b = BIO_new(t->ctx->bio_method)) == NULL)
		return NULL;
	BIO_set_data(b, t);
	BIO_set_init(b, 1);
	return b;
}
