/*
 * The client's write side for a tunnel that stays in this gate worker:
 * libssl writes every record to its BIO on its own, so over a socket BIO
 * each record costs a write(). Under this BIO the records of one pump step
 * collect in a bounded buffer and leave with one write when it is flushed
 * (tls_write(), libssl after an alert) or full.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/ssl.h>

#include "buf.h"
#include "log.h"
#include "tls.h"

/* Four whole records: what one pump step of a 64 KiB buffer seals. */
#define TLS_BATCH_BYTES		(4 * SSL3_RT_MAX_PACKET_SIZE)

struct tls_batch {
	int		 fd;
	int		 err;		/* the first failed write's errno */
	struct buf	 out;		/* sealed records not yet written */
	size_t		 queued;	/* the caller's bytes sealed in out */
	bool		 close_queued;	/* our close_notify is in out or gone */
};

static BIO_METHOD	*batch_method;
static int		 batch_type;

static struct tls_batch *
tls_batch_of(SSL *ssl)
{
	BIO	*w = SSL_get_wbio(ssl);

	if (w == NULL || batch_method == NULL ||
	    BIO_method_type(w) != batch_type)
		return NULL;
	return BIO_get_data(w);
}

/*
 * 1 once out is empty; -1 (retry flag set on EAGAIN) if not. A failure
 * sticks, with its errno: a later write would only report EPIPE instead
 * of the reset that ended the connection.
 */
static int
batch_flush(BIO *bio, struct tls_batch *t)
{
	BIO_clear_retry_flags(bio);
	if (t->err != 0 && buf_len(&t->out) > 0) {
		errno = t->err;
		return -1;
	}
	if (buf_write_to(&t->out, t->fd) == 0)
		return 1;
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		BIO_set_retry_write(bio);
	else
		t->err = errno;
	return -1;
}

static int
batch_write(BIO *bio, const char *p, int len)
{
	struct tls_batch	*t = BIO_get_data(bio);
	uint8_t			*w;
	size_t			 space, k;

	BIO_clear_retry_flags(bio);
	if (len <= 0)
		return 0;
	if ((w = buf_wptr(&t->out, &space)) == NULL) {
		if (batch_flush(bio, t) != 1)
			return -1;
		if ((w = buf_wptr(&t->out, &space)) == NULL) {
			errno = ENOMEM;
			return -1;
		}
	}
	k = (size_t)len < space ? (size_t)len : space;
	memcpy(w, p, k);
	buf_commit(&t->out, k);
	return (int)k;
}

static long
batch_ctrl(BIO *bio, int cmd, long num, void *ptr)
{
	struct tls_batch	*t = BIO_get_data(bio);

	(void)num;
	(void)ptr;
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return batch_flush(bio, t);
	case BIO_CTRL_WPENDING:
		return (long)buf_len(&t->out);
	default:
		return 0;
	}
}

static int
batch_destroy(BIO *bio)
{
	struct tls_batch	*t = BIO_get_data(bio);

	if (t != NULL) {
		buf_free(&t->out);
		free(t);
	}
	BIO_set_data(bio, NULL);
	return 1;
}

static int
batch_method_init(void)
{
	int	 type;

	if (batch_method != NULL)
		return 0;
	if ((type = BIO_get_new_index()) == -1 ||
	    (batch_method = BIO_meth_new(type | BIO_TYPE_SOURCE_SINK,
	    "tunnelgate record batch")) == NULL)
		return -1;
	if (BIO_meth_set_write(batch_method, batch_write) != 1 ||
	    BIO_meth_set_ctrl(batch_method, batch_ctrl) != 1 ||
	    BIO_meth_set_destroy(batch_method, batch_destroy) != 1) {
		BIO_meth_free(batch_method);
		batch_method = NULL;
		return -1;
	}
	batch_type = type | BIO_TYPE_SOURCE_SINK;
	return 0;
}

void
tls_batch_writes(SSL *ssl)
{
	struct tls_batch	*t;
	BIO			*bio;
	int			 fd;

	/* The batch writes to the socket libssl reads from. */
	if ((fd = SSL_get_rfd(ssl)) == -1 || batch_method_init() == -1) {
		log_warnx("gate: record batching unavailable, a write per "
		    "record: %s", tls_error_string());
		return;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		log_warn("gate: record batching unavailable, a write per "
		    "record");
		return;
	}
	if ((bio = BIO_new(batch_method)) == NULL) {
		free(t);
		log_warnx("gate: BIO_new: %s", tls_error_string());
		return;
	}
	t->fd = fd;
	buf_init_sealed(&t->out, TLS_BATCH_BYTES);
	BIO_set_data(bio, t);
	BIO_set_init(bio, 1);
	SSL_set0_wbio(ssl, bio);
}

size_t
tls_batch_pending(SSL *ssl)
{
	struct tls_batch	*t = tls_batch_of(ssl);

	return t != NULL ? buf_len(&t->out) : 0;
}

size_t
tls_batch_queued(SSL *ssl)
{
	struct tls_batch	*t = tls_batch_of(ssl);

	return t != NULL ? t->queued : 0;
}

void
tls_batch_set_queued(SSL *ssl, size_t n)
{
	struct tls_batch	*t = tls_batch_of(ssl);

	if (t != NULL)
		t->queued = n;
}

bool
tls_batch_mark_closed(SSL *ssl)
{
	struct tls_batch	*t = tls_batch_of(ssl);

	if (t == NULL)
		return false;
	t->close_queued = true;
	return true;
}

bool
tls_batch_closed(SSL *ssl)
{
	struct tls_batch	*t = tls_batch_of(ssl);

	return t != NULL && t->close_queued;
}
