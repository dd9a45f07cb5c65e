/*
 * Data on an open tunnel: read, write, half-close, and the blocking mode
 * that tg_open() gives (a poll() around the non-blocking calls).
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "libtg_priv.h"

static int
note(struct tg_tunnel *t, int code, const char *msg)
{
	snprintf(t->errmsg, sizeof(t->errmsg), "%s", msg);
	return code;
}

static int
wait_fd(struct tg_tunnel *t, int want)
{
	struct pollfd	 pfd = { .fd = t->fd,
	    .events = want == TG_WANT_READ ? POLLIN : POLLOUT };
	int		 timeout = tg_tunnel_timeout_ms(t);

	if (poll(&pfd, 1, timeout) == -1 && errno != EINTR)
		return tg_fail(t, TG_ERR_SYSTEM, "poll: %s", strerror(errno));
	return TG_OK;
}

static int
ssl_want(struct tg_tunnel *t, int r, const char *during)
{
	int	 err = SSL_get_error(t->ssl, r);

	if (err == SSL_ERROR_WANT_READ)
		return TG_WANT_READ;
	if (err == SSL_ERROR_WANT_WRITE)
		return TG_WANT_WRITE;
	if (err == SSL_ERROR_ZERO_RETURN) {
		t->read_eof = 1;
		return TG_OK;
	}
	return tg_io_failed(t, err, during);
}

static ssize_t
read_once(struct tg_tunnel *t, void *buf, size_t len)
{
	size_t	 n;
	int	 r;

	if (t->state < TS_OPEN && (r = tg_tunnel_step(t)) != TG_OK)
		return r;
	if (t->state == TS_FAILED)
		return t->code;
	if (t->restlen > 0) {
		n = len < t->restlen ? len : t->restlen;
		memcpy(buf, t->head + t->restoff, n);
		t->restoff += n;
		t->restlen -= n;
		return (ssize_t)n;
	}
	if (t->read_eof)
		return 0;
	errno = 0;
	if ((r = SSL_read_ex(t->ssl, buf, len, &n)) == 1)
		return (ssize_t)n;
	return ssl_want(t, r, "during the tunnel");
}

static ssize_t	 write_once(struct tg_tunnel *, const void *, size_t);

/*
 * Run one read or write step until it completes; a blocking tunnel waits for
 * whatever the TLS layer wants, a non-blocking one returns TG_WANT_*.
 */
static ssize_t
io_loop(struct tg_tunnel *t, bool writing, void *buf, size_t len)
{
	ssize_t	 r;
	int	 w;

	if (t == NULL || buf == NULL || len == 0)
		return TG_ERR_INVALID;
	if (len > SSIZE_MAX)
		len = SSIZE_MAX;
	for (;;) {
		r = writing ? write_once(t, buf, len) : read_once(t, buf, len);
		if (r != TG_WANT_READ && r != TG_WANT_WRITE)
			return r;
		if (!t->blocking)
			return r;
		if ((w = wait_fd(t, (int)r)) != TG_OK)
			return w;
	}
}

ssize_t
tg_read(struct tg_tunnel *t, void *buf, size_t len)
{
	return io_loop(t, false, buf, len);
}

static ssize_t
write_once(struct tg_tunnel *t, const void *buf, size_t len)
{
	size_t	 n;
	int	 r;

	if (t->state == TS_FAILED)
		return t->code;
	if (t->write_shut)
		return note(t, TG_ERR_STATE, "write after tg_shutdown()");
	if (t->state < TS_OPEN) {
		n = tg_tunnel_queue_early(t, buf, len);
		r = tg_tunnel_step(t);
		if (n > 0 && (r == TG_OK || r == TG_WANT_READ ||
		    r == TG_WANT_WRITE))
			return (ssize_t)n;
		if (r != TG_OK)
			return r;
	}
	errno = 0;
	if ((r = SSL_write_ex(t->ssl, buf, len, &n)) == 1)
		return (ssize_t)n;
	if ((r = ssl_want(t, r, "during the tunnel")) == TG_OK)
		return tg_fail(t, TG_ERR_PROTOCOL, "TLS session closed");
	return r;
}

ssize_t
tg_write(struct tg_tunnel *t, const void *buf, size_t len)
{
	/* io_loop only hands buf on to write_once, which takes it as const. */
	return io_loop(t, true, (void *)(uintptr_t)buf, len);
}

/* Our close_notify: the gateway half-closes the target's side. */
static int
shutdown_once(struct tg_tunnel *t)
{
	int	 r;

	if (t->state == TS_FAILED)
		return t->code;
	if (t->state < TS_OPEN)
		return note(t, TG_ERR_STATE, "tg_shutdown() before the tunnel "
		    "is open");
	if (t->write_shut)
		return TG_OK;
	errno = 0;
	if ((r = SSL_shutdown(t->ssl)) >= 0) {
		t->write_shut = 1;
		return TG_OK;
	}
	return ssl_want(t, r, "while half-closing");
}

int
tg_shutdown(struct tg_tunnel *t)
{
	int	 r;

	if (t == NULL)
		return TG_ERR_INVALID;
	while ((r = shutdown_once(t)) == TG_WANT_READ || r == TG_WANT_WRITE) {
		if (!t->blocking)
			return r;
		if ((r = wait_fd(t, r)) != TG_OK)
			return r;
	}
	return r;
}

int
tg_set_blocking(struct tg_tunnel *t, int on)
{
	if (t == NULL)
		return TG_ERR_INVALID;
	t->blocking = on != 0;
	return TG_OK;
}

static int
open_blocking(struct tg_tunnel *t)
{
	int	 r;

	while ((r = tg_tunnel_step(t)) == TG_WANT_READ || r == TG_WANT_WRITE)
		if ((r = wait_fd(t, r)) != TG_OK)
			return r;
	return r;
}

int
tg_open(const struct tg_options *o, const char *target, struct tg_tunnel **tp)
{
	struct tg_ctx	*c;
	int		 r;

	*tp = NULL;
	if ((r = tg_ctx_new(o, &c)) != TG_OK) {
		if (c != NULL && (*tp = calloc(1, sizeof(**tp))) != NULL) {
			(*tp)->fd = -1;
			tg_fail(*tp, r, "%s", c->errmsg);
		}
		tg_ctx_free(c);
		return *tp ? r : TG_ERR_SYSTEM;
	}
	r = tg_tunnel_start(c, target, tp);
	if (*tp == NULL) {
		tg_ctx_free(c);
		return r;
	}
	(*tp)->own_ctx = c;
	(*tp)->blocking = 1;
	if (r != TG_OK)
		return r;
	return open_blocking(*tp);
}
