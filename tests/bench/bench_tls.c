/*
 * The client side of one tunnel: TCP and TLS to the proxy, the CONNECT
 * request, and the proxy's answer, read with a bound on its head.
 */
#include <sys/socket.h>
#include <sys/time.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "bench.h"

#define HDR_MAX		8192		/* bound on the proxy's answer head */

const char *
ssl_errstr(void)
{
	static __thread char buf[160];
	unsigned long l;

	if ((l = ERR_peek_last_error()) == 0)
		return errno ? strerror(errno) : "connection closed";
	ERR_error_string_n(l, buf, sizeof(buf));
	return buf;
}

/* Classify a failed SSL_* call on a blocking socket with timeouts. */
static int
ssl_fail(struct err *e, int code, SSL *ssl, int ret, const char *what,
    int timeout)
{
	switch (SSL_get_error(ssl, ret)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return fail(e, code, "%s: no progress within %d s "
		    "(--timeout)", what, timeout);
	case SSL_ERROR_ZERO_RETURN:
		return fail(e, code, "%s: gateway closed the TLS connection",
		    what);
	default:
		return fail(e, code, "%s: %s", what, ssl_errstr());
	}
}

int
sock_setup(int fd, int timeout)
{
	struct timeval tv = { .tv_sec = timeout };
	int one = 1;

	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1)
		return -1;
	return 0;
}

void
conn_close(struct conn *c)
{
	if (c->ssl != NULL) {
		/* One call sends close_notify; waiting for the peer's would
		 * only add a round trip to every measured tunnel. */
		if (c->healthy && SSL_shutdown(c->ssl) < 0)
			ERR_clear_error();
		SSL_free(c->ssl);
	}
	if (c->fd != -1)
		close(c->fd);
	free(c->pend);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

int
conn_read(struct conn *c, void *buf, size_t len, size_t *got, int timeout,
    struct err *e)
{
	int ret;

	if (c->poff < c->plen) {
		*got = c->plen - c->poff < len ? c->plen - c->poff : len;
		memcpy(buf, c->pend + c->poff, *got);
		c->poff += *got;
		return EX_OK;
	}
	ERR_clear_error();
	errno = 0;
	if ((ret = SSL_read_ex(c->ssl, buf, len, got)) != 1) {
		c->healthy = 0;
		return ssl_fail(e, EX_FAIL, c->ssl, ret, "TLS read from gateway",
		    timeout);
	}
	return EX_OK;
}

int
conn_write(struct conn *c, const void *buf, size_t len, int timeout,
    struct err *e)
{
	size_t done;
	int ret;

	ERR_clear_error();
	errno = 0;
	if ((ret = SSL_write_ex(c->ssl, buf, len, &done)) != 1) {
		c->healthy = 0;
		return ssl_fail(e, EX_FAIL, c->ssl, ret, "TLS write to gateway",
		    timeout);
	}
	return EX_OK;
}

static size_t
head_end(const unsigned char *p, size_t from, size_t len)
{
	size_t i;

	for (i = from; i < len; i++) {
		if (p[i] != '\n')
			continue;
		if (i + 1 < len && p[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && p[i + 1] == '\r' && p[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

static int
status_check(const unsigned char *p, size_t len, struct err *e)
{
	char line[160];
	size_t i, n;

	for (n = 0; n < len && p[n] != '\r' && p[n] != '\n'; n++)
		;
	for (i = 0; i < n && i < sizeof(line) - 1; i++)
		line[i] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
	line[i] = '\0';
	if (n < 12 || memcmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ' ||
	    (n > 12 && p[12] != ' '))
		return fail(e, EX_STATUS, "gateway answer is not an HTTP/1 "
		    "status line: \"%s\"", line);
	if (memcmp(p + 9, "200", 3) != 0)
		return fail(e, EX_STATUS, "gateway answered \"%s\"", line);
	return EX_OK;
}

/* Read the answer head (bounded); bytes after it belong to the tunnel. */
static int
read_answer(const struct bench *b, struct conn *c, struct err *e)
{
	unsigned char hdr[HDR_MAX];
	size_t have = 0, got, end = 0;
	int r;

	while (end == 0) {
		if (have == sizeof(hdr))
			return fail(e, EX_STATUS, "gateway answer head exceeds "
			    "%d bytes", HDR_MAX);
		if ((r = conn_read(c, hdr + have, sizeof(hdr) - have, &got,
		    b->timeout, e)) != EX_OK)
			return r;
		end = head_end(hdr, have > 2 ? have - 2 : 0, have + got);
		have += got;
	}
	if ((r = status_check(hdr, have, e)) != EX_OK)
		return r;
	if (have > end) {
		if ((c->pend = malloc(have - end)) == NULL)
			return fail(e, EX_FAIL, "malloc: %s", strerror(errno));
		memcpy(c->pend, hdr + end, have - end);
		c->plen = have - end;
	}
	return EX_OK;
}

int
tunnel_open(const struct bench *b, struct conn *c, SSL_SESSION *sess,
    struct err *e)
{
	const struct addrinfo *ai;
	int r = EX_OK, ret;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	for (ai = b->gwai; ai != NULL; ai = ai->ai_next) {
		if ((c->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC,
		    0)) == -1)
			return fail(e, EX_FAIL, "socket: %s", strerror(errno));
		if (sock_setup(c->fd, b->timeout) == 0 &&
		    connect(c->fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		r = fail(e, EX_FAIL, "connect to gateway %s port %s: %s",
		    b->gwhost, b->gwport, strerror(errno));
		close(c->fd);
		c->fd = -1;
	}
	if (c->fd == -1)
		return r;
	c->t_tcp = now();
	if ((c->ssl = SSL_new(b->ctx)) == NULL || SSL_set_fd(c->ssl, c->fd) != 1 ||
	    (!b->gw_is_ip && SSL_set_tlsext_host_name(c->ssl, b->gwhost) != 1) ||
	    (sess != NULL && SSL_set_session(c->ssl, sess) != 1)) {
		r = fail(e, EX_FAIL, "TLS setup: %s", ssl_errstr());
		goto out;
	}
	ERR_clear_error();
	errno = 0;
	if ((ret = SSL_connect(c->ssl)) != 1) {
		if (SSL_get_verify_result(c->ssl) != X509_V_OK)
			r = fail(e, EX_TLS, "gateway certificate for %s: %s "
			    "(check --ca and --gateway)", b->gwhost,
			    X509_verify_cert_error_string(
			    SSL_get_verify_result(c->ssl)));
		else
			r = ssl_fail(e, EX_TLS, c->ssl, ret,
			    "TLS handshake with gateway", b->timeout);
		goto out;
	}
	c->healthy = 1;
	c->t_tls = now();
	/* A plain forwarder has connected the backend once the handshake
	 * is done: the stream is the tunnel already. */
	if (b->no_connect)
		return EX_OK;
	if ((r = conn_write(c, b->req, b->reqlen, b->timeout, e)) != EX_OK ||
	    (r = read_answer(b, c, e)) != EX_OK)
		goto out;
	c->t_200 = now();
	return EX_OK;
out:
	conn_close(c);
	return r;
}

int
build_request(struct bench *b, uint16_t port, struct err *e)
{
	char tgt[TARGET_MAX + 1], cred[2 * CRED_MAX + 2];
	unsigned char b64[4 * ((sizeof(cred) + 2) / 3) + 1];
	const char *pass;
	int n, clen;

	if (b->target != NULL)
		snprintf(tgt, sizeof(tgt), "%s", b->target);
	else
		snprintf(tgt, sizeof(tgt), "127.0.0.1:%u", port);
	b64[0] = '\0';
	if (b->user != NULL) {
		if ((pass = getenv("TG_PASSWORD")) == NULL)
			return fail(e, EX_FAIL, "--user needs the password in "
			    "the environment variable TG_PASSWORD");
		if (strlen(pass) > CRED_MAX)
			return fail(e, EX_FAIL, "TG_PASSWORD is longer than %d "
			    "bytes", CRED_MAX);
		clen = snprintf(cred, sizeof(cred), "%s:%s", b->user, pass);
		n = EVP_EncodeBlock(b64, (unsigned char *)cred, clen);
		OPENSSL_cleanse(cred, sizeof(cred));
		if (n <= 0)
			return fail(e, EX_FAIL, "base64 of the credentials "
			    "failed");
	}
	n = snprintf(b->req, sizeof(b->req), "CONNECT %s HTTP/1.1\r\n"
	    "Host: %s\r\n%s%s%s\r\n", tgt, tgt,
	    b->user ? "Proxy-Authorization: Basic " : "", (char *)b64,
	    b->user ? "\r\n" : "");
	OPENSSL_cleanse(b64, sizeof(b64));
	if (n < 0 || (size_t)n >= sizeof(b->req))
		return fail(e, EX_FAIL, "CONNECT request too long");
	b->reqlen = (size_t)n;
	return EX_OK;
}
