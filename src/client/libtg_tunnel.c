/*
 * Opening a tunnel, without blocking: TCP connect to each gateway address
 * in turn, TLS handshake, CONNECT request (with pipelined bytes), then the
 * gateway's answer. Every phase has its own deadline.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "libtg_priv.h"

int64_t
tg_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
wipe_request(struct tg_tunnel *t)
{
	if (t->out == NULL)
		return;
	OPENSSL_cleanse(t->out, t->outcap);
	free(t->out);
	t->out = NULL;
	t->outlen = t->outoff = t->outcap = 0;
}

int
tg_fail(struct tg_tunnel *t, int code, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(t->errmsg, sizeof(t->errmsg), fmt, ap);
	va_end(ap);
	tg_sanitize(t->errmsg);
	t->state = TS_FAILED;
	t->code = code;
	wipe_request(t);
	return code;
}

static const char *
peer_addr(const struct addrinfo *ai, char *buf, size_t len)
{
	if (getnameinfo(ai->ai_addr, ai->ai_addrlen, buf, (socklen_t)len, NULL,
	    0, NI_NUMERICHOST) != 0)
		snprintf(buf, len, "?");
	return buf;
}

/* Try the current address and, if it fails at once, the next ones. */
static int
connect_next(struct tg_tunnel *t, int lastcode)
{
	struct tg_ctx	*c = t->ctx;
	char		 addr[INET6_ADDRSTRLEN];
	int		 on = 1;

	for (; t->ai != NULL; t->ai = t->ai->ai_next) {
		if (t->fd != -1)
			close(t->fd);
		t->fd = socket(t->ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, IPPROTO_TCP);
		if (t->fd == -1)
			return tg_fail(t, TG_ERR_SYSTEM, "socket: %s",
			    strerror(errno));
		/* Real-time streams: never hold small writes back. */
		if (setsockopt(t->fd, IPPROTO_TCP, TCP_NODELAY, &on,
		    sizeof(on)) == -1)
			return tg_fail(t, TG_ERR_SYSTEM, "TCP_NODELAY: %s",
			    strerror(errno));
		if (connect(t->fd, t->ai->ai_addr, t->ai->ai_addrlen) == 0 ||
		    errno == EINPROGRESS) {
			t->deadline = tg_now_ms() + c->connect_ms;
			return TG_WANT_WRITE;
		}
		snprintf(t->errmsg, sizeof(t->errmsg), "cannot connect to "
		    "gateway %s port %s (%s): %s", c->host, c->port,
		    peer_addr(t->ai, addr, sizeof(addr)), strerror(errno));
		lastcode = TG_ERR_CONNECT;
	}
	t->state = TS_FAILED;
	t->code = lastcode;
	wipe_request(t);
	return lastcode;
}

static int
connect_failed(struct tg_tunnel *t, int code, const char *why)
{
	char	 addr[INET6_ADDRSTRLEN];

	snprintf(t->errmsg, sizeof(t->errmsg), "cannot connect to gateway %s "
	    "port %s (%s): %s", t->ctx->host, t->ctx->port,
	    peer_addr(t->ai, addr, sizeof(addr)), why);
	t->ai = t->ai->ai_next;
	return connect_next(t, code);
}

static int
start_tls(struct tg_tunnel *t)
{
	char	 ssl[256];
	BIO	*bio;

	if ((t->ssl = SSL_new(t->ctx->ssl_ctx)) == NULL ||
	    (bio = tg_bio_new(t)) == NULL) {
		tg_ssl_errstr(ssl, sizeof(ssl));
		return tg_fail(t, TG_ERR_SYSTEM, "TLS session: %s", ssl);
	}
	SSL_set_bio(t->ssl, bio, bio);
	/* RFC 6066: SNI carries DNS names only, never address literals. */
	if (!t->ctx->name_is_ip &&
	    SSL_set_tlsext_host_name(t->ssl, t->ctx->server_name) != 1) {
		tg_ssl_errstr(ssl, sizeof(ssl));
		return tg_fail(t, TG_ERR_INVALID, "server name %s: %s",
		    t->ctx->server_name, ssl);
	}
	tg_session_offer(t->ctx, t->ssl);
	SSL_set_connect_state(t->ssl);
	t->state = TS_HANDSHAKE;
	t->deadline = tg_now_ms() + t->ctx->handshake_ms;
	return TG_OK;
}

static int
step_connect(struct tg_tunnel *t)
{
	struct pollfd	 pfd = { .fd = t->fd, .events = POLLOUT };
	socklen_t	 len = sizeof(int);
	int		 n, err = 0;
	char		 why[64];

	if ((n = poll(&pfd, 1, 0)) == -1 && errno != EINTR)
		return tg_fail(t, TG_ERR_SYSTEM, "poll: %s", strerror(errno));
	if (n <= 0) {
		if (tg_now_ms() < t->deadline)
			return TG_WANT_WRITE;
		snprintf(why, sizeof(why), "no answer within %u ms",
		    t->ctx->connect_ms);
		return connect_failed(t, TG_ERR_TIMEOUT, why);
	}
	if (getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		return tg_fail(t, TG_ERR_SYSTEM, "SO_ERROR: %s", strerror(errno));
	if (err != 0)
		return connect_failed(t, TG_ERR_CONNECT, strerror(err));
	return start_tls(t);
}

static int
handshake_failed(struct tg_tunnel *t, int err)
{
	struct tg_ctx	*c = t->ctx;
	long		 v = SSL_get_verify_result(t->ssl);
	char		 ssl[256];

	if (v != X509_V_OK) {
		ERR_clear_error();
		return tg_fail(t, TG_ERR_TLS, "gateway %s: certificate not "
		    "accepted for %s: %s (%s)", c->host, c->server_name,
		    X509_verify_cert_error_string(v),
		    v == X509_V_ERR_HOSTNAME_MISMATCH ||
		    v == X509_V_ERR_IP_ADDRESS_MISMATCH ?
		    "connect by a name in its certificate, or give that name "
		    "with --server-name" :
		    "give the CA that signed it with --ca");
	}
	if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
		return tg_fail(t, TG_ERR_TLS, "gateway %s port %s closed the "
		    "connection during the TLS handshake%s%s", c->host, c->port,
		    errno ? ": " : " (is it a TLS port?)",
		    errno ? strerror(errno) : "");
	}
	tg_ssl_errstr(ssl, sizeof(ssl));
	return tg_fail(t, TG_ERR_TLS, "TLS handshake with gateway %s port %s "
	    "failed: %s", c->host, c->port, ssl);
}

static int
step_handshake(struct tg_tunnel *t)
{
	int	 r, err;

	errno = 0;
	if ((r = SSL_connect(t->ssl)) == 1) {
		t->state = TS_REQUEST;
		t->deadline = tg_now_ms() + t->ctx->response_ms;
		return TG_OK;
	}
	err = SSL_get_error(t->ssl, r);
	if (err == SSL_ERROR_WANT_READ)
		return TG_WANT_READ;
	if (err == SSL_ERROR_WANT_WRITE)
		return TG_WANT_WRITE;
	return handshake_failed(t, err);
}

/* A read or write that failed after the handshake. */
int
tg_io_failed(struct tg_tunnel *t, int err, const char *during)
{
	char	 ssl[256];

	if (err == SSL_ERROR_ZERO_RETURN)
		return tg_fail(t, TG_ERR_PROTOCOL, "gateway %s closed the "
		    "tunnel %s", t->ctx->host, during);
	if (t->bio_eof || (err == SSL_ERROR_SYSCALL && errno == 0)) {
		ERR_clear_error();
		return tg_fail(t, TG_ERR_CUT, "gateway %s closed the connection "
		    "%s, without TLS close_notify", t->ctx->host, during);
	}
	if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
		return tg_fail(t, TG_ERR_CUT, "connection to gateway %s lost "
		    "%s: %s", t->ctx->host, during, strerror(errno));
	tg_ssl_errstr(ssl, sizeof(ssl));
	return tg_fail(t, TG_ERR_TLS, "TLS error with gateway %s %s: %s",
	    t->ctx->host, during, ssl);
}

static int
step_request(struct tg_tunnel *t)
{
	size_t	 n;
	int	 r;

	while (t->outoff < t->outlen) {
		errno = 0;
		if ((r = SSL_write_ex(t->ssl, t->out + t->outoff,
		    t->outlen - t->outoff, &n)) != 1) {
			r = SSL_get_error(t->ssl, r);
			if (r == SSL_ERROR_WANT_READ)
				return TG_WANT_READ;
			if (r == SSL_ERROR_WANT_WRITE)
				return TG_WANT_WRITE;
			return tg_io_failed(t, r, "while sending the request");
		}
		t->outoff += n;
	}
	wipe_request(t);
	t->state = TS_RESPONSE;
	return TG_OK;
}

static int
answer(struct tg_tunnel *t, int status, size_t headlen, const char *reason)
{
	int	 code = tg_status_code(status);

	t->status = status;
	if (code != TG_OK)
		return tg_fail(t, code, "gateway %s refused CONNECT %s: %d %s: "
		    "%s", t->ctx->host, t->target, status, reason,
		    tg_status_hint(status));
	t->restoff = headlen;
	t->restlen = t->headlen - headlen;
	t->state = TS_OPEN;
	return TG_OK;
}

static int
step_response(struct tg_tunnel *t)
{
	char	 reason[TG_REASON_MAX];
	size_t	 n, headlen;
	int	 r, status;

	for (;;) {
		errno = 0;
		if ((r = SSL_read_ex(t->ssl, t->head + t->headlen,
		    sizeof(t->head) - t->headlen, &n)) != 1) {
			r = SSL_get_error(t->ssl, r);
			if (r == SSL_ERROR_WANT_READ)
				return TG_WANT_READ;
			if (r == SSL_ERROR_WANT_WRITE)
				return TG_WANT_WRITE;
			return tg_io_failed(t, r, "before answering");
		}
		t->headlen += n;
		r = tg_parse_head(t->head, t->headlen, &headlen, &status,
		    reason, sizeof(reason));
		if (r == 1)
			return answer(t, status, headlen, reason);
		if (r == -1)
			return tg_fail(t, TG_ERR_PROTOCOL, "gateway %s port %s: "
			    "answer is not HTTP/1.x (is it a tunnelgate "
			    "gateway?)", t->ctx->host, t->ctx->port);
		if (t->headlen == sizeof(t->head))
			return tg_fail(t, TG_ERR_PROTOCOL, "gateway %s: answer "
			    "head longer than %zu bytes", t->ctx->host,
			    sizeof(t->head));
	}
}

static const char *
phase_name(enum tg_state s)
{
	switch (s) {
	case TS_HANDSHAKE:
		return "the TLS handshake";
	case TS_REQUEST:
	case TS_RESPONSE:
		return "the gateway's answer";
	default:
		return "the connection";
	}
}

static unsigned int
phase_ms(const struct tg_tunnel *t)
{
	return t->state == TS_HANDSHAKE ? t->ctx->handshake_ms :
	    t->ctx->response_ms;
}

int
tg_tunnel_step(struct tg_tunnel *t)
{
	int	 r = TG_OK;

	if (t == NULL)
		return TG_ERR_INVALID;
	if (t->state > TS_CONNECT && t->state < TS_OPEN &&
	    tg_now_ms() >= t->deadline)
		return tg_fail(t, TG_ERR_TIMEOUT, "gateway %s port %s: no "
		    "progress in %s within %u ms", t->ctx->host, t->ctx->port,
		    phase_name(t->state), phase_ms(t));
	while (r == TG_OK) {
		switch (t->state) {
		case TS_CONNECT:
			r = step_connect(t);
			break;
		case TS_HANDSHAKE:
			r = step_handshake(t);
			break;
		case TS_REQUEST:
			r = step_request(t);
			break;
		case TS_RESPONSE:
			r = step_response(t);
			break;
		case TS_OPEN:
			return TG_OK;
		case TS_FAILED:
			return t->code;
		}
	}
	return r;
}

int
tg_tunnel_timeout_ms(const struct tg_tunnel *t)
{
	int64_t	 left;

	if (t == NULL || t->state >= TS_OPEN)
		return -1;
	left = t->deadline - tg_now_ms();
	return left < 0 ? 0 : left > 86400000 ? 86400000 : (int)left;
}

int
tg_tunnel_start(struct tg_ctx *c, const char *target, struct tg_tunnel **tp)
{
	struct tg_tunnel *t;

	if ((*tp = t = calloc(1, sizeof(*t))) == NULL)
		return TG_ERR_SYSTEM;
	t->fd = -1;
	t->ctx = c;
	if (c == NULL || c->addrs == NULL)
		return tg_fail(t, TG_ERR_INVALID, "no usable context");
	if (target == NULL || !tg_valid_target(target))
		return tg_fail(t, TG_ERR_INVALID, "target %s: expected "
		    "HOST:PORT or [IPv6]:PORT", target ? target : "(none)");
	snprintf(t->target, sizeof(t->target), "%s", target);
	t->outcap = TG_REQUEST_MAX + (c->pipeline ? TG_EARLY_MAX : 0);
	if ((t->out = malloc(t->outcap)) == NULL)
		return tg_fail(t, TG_ERR_SYSTEM, "out of memory");
	if (tg_build_request(target, c->auth_header, c->auth_len, t->out,
	    TG_REQUEST_MAX, &t->outlen) == -1)
		return tg_fail(t, TG_ERR_INVALID, "request for %s too long",
		    target);
	t->reqlen = t->outlen;
	t->state = TS_CONNECT;
	t->ai = c->addrs;
	return connect_next(t, TG_ERR_CONNECT) == TG_WANT_WRITE ? TG_OK :
	    t->code;
}

/* Pipelining (draft §3.3): bytes written before the request went out
 * follow it in the same flight. */
size_t
tg_tunnel_queue_early(struct tg_tunnel *t, const void *buf, size_t len)
{
	size_t	 n;

	if (!t->ctx->pipeline || t->state >= TS_REQUEST || t->out == NULL)
		return 0;
	n = t->reqlen + TG_EARLY_MAX - t->outlen;
	if (n > len)
		n = len;
	memcpy(t->out + t->outlen, buf, n);
	t->outlen += n;
	return n;
}

int
tg_http_status(const struct tg_tunnel *t)
{
	return t ? t->status : 0;
}

const char *
tg_errmsg(const struct tg_tunnel *t)
{
	if (t == NULL)
		return "out of memory";
	return t->errmsg[0] ? t->errmsg : "no error";
}

int
tg_fd(const struct tg_tunnel *t)
{
	return t ? t->fd : -1;
}

void
tg_close(struct tg_tunnel *t)
{
	if (t == NULL)
		return;
	SSL_free(t->ssl);
	if (t->fd != -1)
		close(t->fd);
	wipe_request(t);
	tg_ctx_free(t->own_ctx);
	free(t);
}
