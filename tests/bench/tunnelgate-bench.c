/*
 * tunnelgate-bench: load tool for an HTTPS CONNECT proxy (tunnelgate, or
 * Squid for a baseline).  It opens tunnels over TLS to the proxy towards a
 * backend that runs inside this process on 127.0.0.1, and measures bulk
 * throughput each way, full tunnel setups per second and idle tunnels.
 *
 * Exit status: 0 ok, 1 usage/network/data error, 2 the proxy did not answer
 * 200, 3 TLS handshake or certificate failure.
 */
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define CHUNK		65536		/* bytes per SSL_write/write */
#define HDR_MAX		8192		/* bound on the proxy's answer head */
#define ERR_LEN		256
#define CRED_MAX	255
#define TARGET_MAX	300
#define MAX_CONC	1024
#define MAX_TUNNELS	200000
#define MAX_LAT		(1u << 24)	/* latency samples kept per thread */

enum { EX_OK, EX_FAIL, EX_STATUS, EX_TLS };
enum mode { M_UP, M_DOWN, M_SETUP, M_IDLE };

struct err {
	int		 code;
	char		 msg[ERR_LEN];
};

struct bench {
	enum mode	 mode;
	char		 gwhost[256];
	char		 gwport[8];
	int		 gw_is_ip;
	struct addrinfo	*gwai;
	const char	*ca;
	const char	*user;
	const char	*target;
	uint64_t	 bytes;
	unsigned	 concurrency;
	unsigned	 duration;
	size_t		 tunnels;
	unsigned	 hold;
	int		 timeout;
	int		 resume;
	int		 verify;
	uint16_t	 backend_port;
	SSL_CTX		*ctx;
	char		 req[2048];
	size_t		 reqlen;
	double		 deadline;
};

struct conn {
	int		 fd;
	SSL		*ssl;
	int		 healthy;	/* close_notify may be sent */
	unsigned char	*pend;		/* tunnel bytes read with the answer */
	size_t		 plen, poff;
};

struct echo {
	int		 fd;
	struct echo	*prev, *next;
};

struct backend {
	const struct bench *b;
	int		 lfd;
	int		 evfd;
	uint16_t	 port;
	pthread_t	 thr;
	struct echo	 conns;
	double		 t_done;
	unsigned char	 digest[32];
	struct err	 err;
};

struct worker {
	const struct bench *b;
	pthread_t	 thr;
	double		*lat;
	size_t		 nlat, cap;
	uint64_t	 tunnels, errors;
	struct err	 first;
};

static const char *progname = "tunnelgate-bench";

static __attribute__((format(printf, 3, 4))) int
fail(struct err *e, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	e->code = code;
	return code;
}

static __attribute__((noreturn)) void
die(const struct err *e)
{
	fprintf(stderr, "%s: %s\n", progname, e->msg);
	exit(e->code == EX_OK ? EX_FAIL : e->code);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *
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

static int
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

static void
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

static int
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

static int
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

static int
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
	if ((r = conn_write(c, b->req, b->reqlen, b->timeout, e)) != EX_OK ||
	    (r = read_answer(b, c, e)) != EX_OK)
		goto out;
	return EX_OK;
out:
	conn_close(c);
	return r;
}

/* Both ends of a bulk run: the TLS tunnel (c != NULL) or the backend's
 * plain socket. */
struct stream {
	const struct bench *b;
	struct conn	*c;
	int		 fd;
};

static int
stream_io(struct stream *s, int wr, void *buf, size_t len, size_t *done,
    struct err *e)
{
	ssize_t n;

	if (s->c != NULL) {
		*done = len;
		return wr ? conn_write(s->c, buf, len, s->b->timeout, e) :
		    conn_read(s->c, buf, len, done, s->b->timeout, e);
	}
	if ((n = wr ? write(s->fd, buf, len) : read(s->fd, buf, len)) <= 0)
		return fail(e, EX_FAIL, "backend %s: %s", wr ? "write" : "read",
		    n == 0 ? "tunnel closed" : errno == EAGAIN ?
		    "no progress within --timeout" : strerror(errno));
	*done = (size_t)n;
	return EX_OK;
}

/*
 * Send or receive --bytes.  The data is random and, under --verify, each
 * chunk is numbered, so that a lost, repeated or reordered chunk changes the
 * SHA-256 of what was actually sent or received.
 */
static int
stream_bulk(struct stream *s, int wr, unsigned char *digest, double *t_done,
    struct err *e)
{
	uint64_t moved = 0, idx = 0, want = s->b->bytes;
	EVP_MD_CTX *md = NULL;
	unsigned char *buf;
	size_t len, n;
	int r = EX_OK;

	if ((buf = malloc(CHUNK)) == NULL)
		return fail(e, EX_FAIL, "malloc: %s", strerror(errno));
	if ((wr && RAND_bytes(buf, CHUNK) != 1) || (s->b->verify &&
	    ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)))
		r = fail(e, EX_FAIL, "bulk data setup: %s", ssl_errstr());
	while (r == EX_OK && moved < want) {
		len = want - moved < CHUNK ? (size_t)(want - moved) : CHUNK;
		if (wr && md != NULL)
			memcpy(buf, &idx, sizeof(idx));
		idx++;
		if ((r = stream_io(s, wr, buf, len, &n, e)) != EX_OK)
			break;
		if (md != NULL && EVP_DigestUpdate(md, buf, n) != 1)
			r = fail(e, EX_FAIL, "SHA-256: %s", ssl_errstr());
		moved += n;
	}
	*t_done = now();
	if (r == EX_OK && md != NULL && EVP_DigestFinal_ex(md, digest, NULL) != 1)
		r = fail(e, EX_FAIL, "SHA-256: %s", ssl_errstr());
	if (r != EX_OK && moved < want) {
		len = strlen(e->msg);
		snprintf(e->msg + len, sizeof(e->msg) - len, " after %llu of "
		    "%llu bytes", (unsigned long long)moved,
		    (unsigned long long)want);
	}
	EVP_MD_CTX_free(md);
	free(buf);
	return r;
}

static int
listen_backend(struct backend *bk, int nonblock, struct err *e)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int one = 1;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(bk->b->backend_port);
	if ((bk->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC |
	    (nonblock ? SOCK_NONBLOCK : 0), 0)) == -1)
		return fail(e, EX_FAIL, "backend socket: %s", strerror(errno));
	if (setsockopt(bk->lfd, SOL_SOCKET, SO_REUSEADDR, &one,
	    sizeof(one)) == -1 ||
	    sock_setup(bk->lfd, bk->b->timeout) == -1 ||
	    bind(bk->lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(bk->lfd, SOMAXCONN) == -1 ||
	    getsockname(bk->lfd, (struct sockaddr *)&sin, &len) == -1)
		return fail(e, EX_FAIL, "backend listen on 127.0.0.1:%u: %s "
		    "(--backend-port)", bk->b->backend_port, strerror(errno));
	bk->port = ntohs(sin.sin_port);
	return EX_OK;
}

static void *
backend_bulk(void *arg)
{
	struct backend *bk = arg;
	struct stream s = { .b = bk->b };
	unsigned char go;
	size_t n;

	if ((s.fd = accept4(bk->lfd, NULL, NULL, SOCK_CLOEXEC)) == -1) {
		fail(&bk->err, EX_FAIL, "backend accept: %s", errno == EAGAIN ?
		    "no tunnel arrived within --timeout" : strerror(errno));
		return NULL;
	}
	if (sock_setup(s.fd, bk->b->timeout) == -1)
		fail(&bk->err, EX_FAIL, "backend setsockopt: %s",
		    strerror(errno));
	/* Downstream waits for the client's go byte, so that nothing is
	 * queued in the proxy before the client starts its clock. */
	else if (bk->b->mode == M_UP ||
	    stream_io(&s, 0, &go, 1, &n, &bk->err) == EX_OK)
		stream_bulk(&s, bk->b->mode == M_DOWN, bk->digest, &bk->t_done,
		    &bk->err);
	close(s.fd);
	return NULL;
}

static void
echo_drop(struct echo *c)
{
	c->prev->next = c->next;
	c->next->prev = c->prev;
	close(c->fd);
	free(c);
}

static void
echo_accept(struct backend *bk, int ep)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct echo *c;
	int fd, one = 1;

	for (;;) {
		if ((fd = accept4(bk->lfd, NULL, NULL,
		    SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1) {
			if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED && bk->err.code == EX_OK)
				fail(&bk->err, EX_FAIL, "backend accept: %s",
				    strerror(errno));
			return;
		}
		if ((c = malloc(sizeof(*c))) == NULL) {
			close(fd);
			continue;
		}
		c->fd = fd;
		ev.data.ptr = c;
		if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one)) == -1 ||
		    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == -1) {
			close(fd);
			free(c);
			continue;
		}
		c->next = bk->conns.next;
		c->prev = &bk->conns;
		c->next->prev = c;
		bk->conns.next = c;
	}
}

/* Only the probe byte of setup mode ever flows here, so a send buffer
 * that cannot take it back at once means a broken tunnel. */
static void
echo_io(struct echo *c)
{
	char buf[512];
	ssize_t n;

	if ((n = read(c->fd, buf, sizeof(buf))) > 0 &&
	    write(c->fd, buf, (size_t)n) == n)
		return;
	if (n == -1 && errno == EAGAIN)
		return;
	echo_drop(c);
}

static void *
backend_echo(void *arg)
{
	struct backend *bk = arg;
	struct echo lev = { .fd = bk->lfd }, sev = { .fd = bk->evfd };
	struct epoll_event evs[64], ev = { .events = EPOLLIN };
	int ep, i, n;

	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		fail(&bk->err, EX_FAIL, "epoll: %s", strerror(errno));
		return NULL;
	}
	ev.data.ptr = &lev;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, lev.fd, &ev) == -1)
		goto err;
	ev.data.ptr = &sev;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, sev.fd, &ev) == -1)
		goto err;
	for (;;) {
		if ((n = epoll_wait(ep, evs, 64, -1)) == -1) {
			if (errno == EINTR)
				continue;
			goto err;
		}
		for (i = 0; i < n; i++) {
			if (evs[i].data.ptr == &sev)
				goto out;
			if (evs[i].data.ptr == &lev)
				echo_accept(bk, ep);
			else
				echo_io(evs[i].data.ptr);
		}
	}
err:
	fail(&bk->err, EX_FAIL, "backend epoll: %s", strerror(errno));
out:
	close(ep);
	return NULL;
}

static int
backend_start(const struct bench *b, struct backend *bk, struct err *e)
{
	int echo = b->mode == M_SETUP || b->mode == M_IDLE, r;

	memset(bk, 0, sizeof(*bk));
	bk->b = b;
	bk->evfd = -1;
	bk->conns.next = bk->conns.prev = &bk->conns;
	if ((r = listen_backend(bk, echo, e)) != EX_OK)
		return r;
	if (echo && (bk->evfd = eventfd(0, EFD_CLOEXEC)) == -1)
		return fail(e, EX_FAIL, "eventfd: %s", strerror(errno));
	if ((r = pthread_create(&bk->thr, NULL, echo ? backend_echo :
	    backend_bulk, bk)) != 0)
		return fail(e, EX_FAIL, "backend thread: %s", strerror(r));
	return EX_OK;
}

static void
backend_stop(struct backend *bk)
{
	uint64_t one = 1;

	if (bk->evfd != -1 && write(bk->evfd, &one, sizeof(one)) !=
	    sizeof(one))
		fprintf(stderr, "%s: backend stop: %s\n", progname,
		    strerror(errno));
	pthread_join(bk->thr, NULL);
	while (bk->conns.next != &bk->conns)
		echo_drop(bk->conns.next);
	if (bk->evfd != -1)
		close(bk->evfd);
	close(bk->lfd);
}

static int
run_bulk(const struct bench *b, struct backend *bk, struct err *e)
{
	unsigned char digest[32];
	struct conn c;
	struct stream s = { .b = b, .c = &c };
	double t0, t1;
	size_t n;
	int r, up = b->mode == M_UP;

	if ((r = tunnel_open(b, &c, NULL, e)) == EX_OK) {
		t0 = now();
		if (up || (r = stream_io(&s, 1, "g", 1, &n, e)) == EX_OK)
			r = stream_bulk(&s, up, digest, &t1, e);
		/* On success the backend has all the data before the tunnel
		 * closes; on failure the close ends the backend's wait. */
		if (r == EX_OK)
			backend_stop(bk);
		conn_close(&c);
	}
	if (r != EX_OK) {
		/* Wakes a backend still waiting in accept(). */
		if (shutdown(bk->lfd, SHUT_RDWR) == -1)
			fprintf(stderr, "%s: backend shutdown: %s\n", progname,
			    strerror(errno));
		backend_stop(bk);
		return r;
	}
	if (bk->err.code != EX_OK) {
		*e = bk->err;
		return e->code;
	}
	if (up)
		t1 = bk->t_done;
	if (b->verify && memcmp(digest, bk->digest, sizeof(digest)) != 0)
		return fail(e, EX_FAIL, "--verify: SHA-256 of the %llu bytes "
		    "received differs from what was sent",
		    (unsigned long long)b->bytes);
	printf("%s bytes=%llu seconds=%.3f MB/s=%.1f%s\n", up ? "up" : "down",
	    (unsigned long long)b->bytes, t1 - t0,
	    (double)b->bytes / (t1 - t0) / 1e6, b->verify ? " verified" : "");
	return EX_OK;
}

static int
setup_one(struct worker *w, SSL_SESSION **sess, struct err *e)
{
	const struct bench *b = w->b;
	struct conn c;
	unsigned char byte = 'p';
	size_t got;
	int r;

	if ((r = tunnel_open(b, &c, *sess, e)) != EX_OK)
		return r;
	if ((r = conn_write(&c, &byte, 1, b->timeout, e)) == EX_OK &&
	    (r = conn_read(&c, &byte, 1, &got, b->timeout, e)) == EX_OK &&
	    byte != 'p')
		r = fail(e, EX_FAIL, "echo through the tunnel returned "
		    "a different byte");
	if (r == EX_OK && b->resume) {
		SSL_SESSION_free(*sess);
		*sess = SSL_get1_session(c.ssl);
	}
	conn_close(&c);
	return r;
}

static void *
setup_worker(void *arg)
{
	struct worker *w = arg;
	SSL_SESSION *sess = NULL;
	struct err e;
	double *nl, t0;

	while ((t0 = now()) < w->b->deadline) {
		if (setup_one(w, &sess, &e) != EX_OK) {
			if (w->errors++ == 0)
				w->first = e;
			continue;
		}
		w->tunnels++;
		if (w->nlat == w->cap && w->cap < MAX_LAT) {
			w->cap = w->cap ? w->cap * 2 : 1024;
			if ((nl = realloc(w->lat, w->cap * sizeof(*nl))) ==
			    NULL) {
				w->cap = w->nlat;
				continue;
			}
			w->lat = nl;
		}
		if (w->nlat < w->cap)
			w->lat[w->nlat++] = (now() - t0) * 1e3;
	}
	SSL_SESSION_free(sess);
	return NULL;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
percentile(const double *v, size_t n, unsigned p)
{
	size_t rank;

	if (n == 0)
		return 0;
	rank = (n * p + 99) / 100;
	return v[rank ? rank - 1 : 0];
}

static void
setup_report(struct worker *w, unsigned n, double secs, struct err *e)
{
	uint64_t tunnels = 0, errors = 0;
	size_t total = 0, i;
	double *all;

	for (i = 0; i < n; i++) {
		tunnels += w[i].tunnels;
		errors += w[i].errors;
		total += w[i].nlat;
		if (w[i].errors && e->code == EX_OK)
			*e = w[i].first;
	}
	if ((all = malloc((total ? total : 1) * sizeof(*all))) == NULL) {
		fprintf(stderr, "%s: malloc: %s\n", progname, strerror(errno));
		e->code = EX_FAIL;
		return;
	}
	for (total = 0, i = 0; i < n; i++) {
		if (w[i].nlat)
			memcpy(all + total, w[i].lat, w[i].nlat * sizeof(*all));
		total += w[i].nlat;
	}
	qsort(all, total, sizeof(*all), cmp_double);
	printf("setup tunnels=%llu seconds=%.3f tunnels/s=%.1f errors=%llu "
	    "p50_ms=%.2f p99_ms=%.2f\n", (unsigned long long)tunnels, secs,
	    (double)tunnels / secs, (unsigned long long)errors,
	    percentile(all, total, 50), percentile(all, total, 99));
	free(all);
	if (errors)
		fprintf(stderr, "%s: %llu failed tunnels, the first: %s\n",
		    progname, (unsigned long long)errors, e->msg);
}

static int
run_setup(struct bench *b, struct err *e)
{
	struct worker *w;
	unsigned i, started;
	double t0;
	int r = 0;

	if ((w = calloc(b->concurrency, sizeof(*w))) == NULL)
		return fail(e, EX_FAIL, "calloc: %s", strerror(errno));
	t0 = now();
	b->deadline = t0 + b->duration;
	for (started = 0; started < b->concurrency; started++) {
		w[started].b = b;
		if ((r = pthread_create(&w[started].thr, NULL, setup_worker,
		    &w[started])) != 0)
			break;
	}
	for (i = 0; i < started; i++)
		pthread_join(w[i].thr, NULL);
	if (r != 0) {
		fprintf(stderr, "%s: client thread %u: %s\n", progname,
		    started, strerror(r));
		e->code = EX_FAIL;
	} else
		setup_report(w, started, now() - t0, e);
	for (i = 0; i < started; i++)
		free(w[i].lat);
	free(w);
	return e->code;
}

static void
hold(unsigned secs)
{
	struct timespec ts = { .tv_sec = secs };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static int
run_idle(const struct bench *b, struct err *e)
{
	struct conn *c;
	size_t i, open;
	int r = EX_OK;

	if ((c = calloc(b->tunnels, sizeof(*c))) == NULL)
		return fail(e, EX_FAIL, "calloc: %s", strerror(errno));
	for (open = 0; open < b->tunnels; open++) {
		if ((r = tunnel_open(b, &c[open], NULL, e)) != EX_OK) {
			size_t l = strlen(e->msg);

			snprintf(e->msg + l, sizeof(e->msg) - l,
			    " (tunnel %zu of %zu)", open + 1, b->tunnels);
			break;
		}
	}
	if (r == EX_OK) {
		printf("idle tunnels=%zu\n", open);
		fflush(stdout);
		hold(b->hold);
	}
	for (i = 0; i < open; i++)
		conn_close(&c[i]);
	free(c);
	return r;
}

static int
raise_nofile(rlim_t need, struct err *e)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return fail(e, EX_FAIL, "getrlimit: %s", strerror(errno));
	if (rl.rlim_cur >= need)
		return EX_OK;
	rl.rlim_cur = need;
	if (rl.rlim_max < need)
		rl.rlim_max = need;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		return fail(e, EX_FAIL, "cannot raise the open files limit to "
		    "%llu: %s (raise ulimit -Hn)", (unsigned long long)need,
		    strerror(errno));
	return EX_OK;
}

static int
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

static __attribute__((noreturn)) void
usage(void)
{
	fprintf(stderr,
"usage: %s --gateway HOST:PORT [--ca FILE] [--user NAME] --mode MODE [opts]\n"
"  --mode up|down --bytes N [--verify]   bulk throughput through one tunnel\n"
"  --mode setup [--concurrency C] [--duration S] [--resume]\n"
"                                        full tunnel setups per second\n"
"  --mode idle [--tunnels N] [--hold S]  hold N open tunnels for S seconds\n"
"  --target HOST:PORT     CONNECT authority (default: the built-in backend)\n"
"  --backend-port P       port of the built-in backend on 127.0.0.1 (default\n"
"                         ephemeral), for a --target name that leads to it\n"
"  --timeout S            socket timeout (default 30)\n"
"The password for --user is read from the environment variable TG_PASSWORD.\n"
"N accepts the decimal suffixes k, M and G. Exit: 0 ok, 1 error, 2 the\n"
"gateway did not answer 200, 3 TLS or certificate failure.\n", progname);
	exit(EX_FAIL);
}

static __attribute__((noreturn)) void
bad_arg(const char *opt, const char *val, const char *why)
{
	fprintf(stderr, "%s: %s \"%s\": %s\n", progname, opt, val, why);
	exit(EX_FAIL);
}

static uint64_t
parse_num(const char *opt, const char *s, uint64_t min, uint64_t max)
{
	unsigned long long v;
	uint64_t mul = 1;
	char *end;

	errno = 0;
	if (*s < '0' || *s > '9' || (v = strtoull(s, &end, 10), errno != 0))
		bad_arg(opt, s, "not a number");
	if (*end != '\0') {
		if (end[1] != '\0' || strchr("kMG", *end) == NULL)
			bad_arg(opt, s, "unknown suffix (k, M, G)");
		mul = *end == 'k' ? 1000 : *end == 'M' ? 1000000 : 1000000000;
	}
	if (v > max / mul || v * mul < min || v * mul > max)
		bad_arg(opt, s, "out of range");
	return (uint64_t)v * mul;
}

static int
printable(const char *s, size_t max)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (i >= max || (unsigned char)s[i] <= 0x20 ||
		    (unsigned char)s[i] >= 0x7f)
			return 0;
	return i > 0;
}

static void
parse_gateway(struct bench *b, const char *s)
{
	const char *colon, *host = s;
	size_t hlen;

	if (*s == '[') {
		host = s + 1;
		if ((colon = strchr(s, ']')) == NULL || colon[1] != ':')
			bad_arg("--gateway", s, "expected [IPv6]:PORT");
		hlen = (size_t)(colon - host);
		colon++;
	} else {
		if ((colon = strrchr(s, ':')) == NULL ||
		    memchr(s, ':', (size_t)(colon - s)) != NULL)
			bad_arg("--gateway", s, "expected HOST:PORT");
		hlen = (size_t)(colon - s);
	}
	if (hlen == 0 || hlen >= sizeof(b->gwhost))
		bad_arg("--gateway", s, "bad host length");
	memcpy(b->gwhost, host, hlen);
	b->gwhost[hlen] = '\0';
	snprintf(b->gwport, sizeof(b->gwport), "%llu", (unsigned long long)
	    parse_num("--gateway port", colon + 1, 1, 65535));
}

static void
parse_args(struct bench *b, int argc, char *argv[])
{
	static const struct option lopts[] = {
		{ "gateway", required_argument, NULL, 'g' },
		{ "ca", required_argument, NULL, 'a' },
		{ "user", required_argument, NULL, 'u' },
		{ "mode", required_argument, NULL, 'm' },
		{ "bytes", required_argument, NULL, 'b' },
		{ "concurrency", required_argument, NULL, 'c' },
		{ "duration", required_argument, NULL, 'd' },
		{ "tunnels", required_argument, NULL, 'n' },
		{ "hold", required_argument, NULL, 'H' },
		{ "timeout", required_argument, NULL, 't' },
		{ "target", required_argument, NULL, 'T' },
		{ "backend-port", required_argument, NULL, 'p' },
		{ "resume", no_argument, NULL, 'r' },
		{ "verify", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int ch, mode = -1;

	memset(b, 0, sizeof(*b));
	b->bytes = 1000000000;
	b->concurrency = 64;
	b->duration = 10;
	b->tunnels = 1000;
	b->hold = 10;
	b->timeout = 30;
	while ((ch = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
		switch (ch) {
		case 'g': parse_gateway(b, optarg); break;
		case 'a': b->ca = optarg; break;
		case 'u':
			if (!printable(optarg, CRED_MAX) || strchr(optarg, ':'))
				bad_arg("--user", optarg, "1 to 255 printable "
				    "characters without ':' or space");
			b->user = optarg;
			break;
		case 'm':
			for (mode = M_UP; mode <= M_IDLE; mode++)
				if (strcmp(optarg, (const char *[]){ "up",
				    "down", "setup", "idle" }[mode]) == 0)
					break;
			if (mode > M_IDLE)
				bad_arg("--mode", optarg, "up, down, setup or idle");
			b->mode = (enum mode)mode;
			break;
		case 'b': b->bytes = parse_num("--bytes", optarg, 1,
		    UINT64_C(1) << 50); break;
		case 'c': b->concurrency = (unsigned)parse_num("--concurrency",
		    optarg, 1, MAX_CONC); break;
		case 'd': b->duration = (unsigned)parse_num("--duration",
		    optarg, 1, 86400); break;
		case 'n': b->tunnels = (size_t)parse_num("--tunnels", optarg,
		    1, MAX_TUNNELS); break;
		case 'H': b->hold = (unsigned)parse_num("--hold", optarg, 0,
		    86400); break;
		case 't': b->timeout = (int)parse_num("--timeout", optarg, 1,
		    3600); break;
		case 'T':
			if (!printable(optarg, TARGET_MAX) || !strchr(optarg, ':'))
				bad_arg("--target", optarg, "expected HOST:PORT");
			b->target = optarg;
			break;
		case 'p': b->backend_port = (uint16_t)parse_num(
		    "--backend-port", optarg, 0, 65535); break;
		case 'r': b->resume = 1; break;
		case 'v': b->verify = 1; break;
		default: usage();
		}
	}
	if (optind != argc || b->gwhost[0] == '\0' || mode == -1)
		usage();
}

static int
bench_init(struct bench *b, struct err *e)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
	    .ai_flags = AI_NUMERICSERV };
	unsigned char ip[16];
	X509_VERIFY_PARAM *vp;
	int r;

	b->gw_is_ip = inet_pton(AF_INET, b->gwhost, ip) == 1 ||
	    inet_pton(AF_INET6, b->gwhost, ip) == 1;
	/* Resolved once: the setup rate must not include name lookups. */
	if ((r = getaddrinfo(b->gwhost, b->gwport, &hints, &b->gwai)) != 0)
		return fail(e, EX_FAIL, "resolve gateway %s: %s", b->gwhost,
		    gai_strerror(r));
	if ((b->ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    SSL_CTX_set_min_proto_version(b->ctx, TLS1_2_VERSION) != 1)
		return fail(e, EX_TLS, "TLS context: %s", ssl_errstr());
	SSL_CTX_set_verify(b->ctx, SSL_VERIFY_PEER, NULL);
	if (b->ca != NULL && access(b->ca, R_OK) == -1)
		return fail(e, EX_TLS, "CA file %s: %s", b->ca, strerror(errno));
	if (b->ca != NULL ? SSL_CTX_load_verify_file(b->ctx, b->ca) != 1 :
	    SSL_CTX_set_default_verify_paths(b->ctx) != 1)
		return fail(e, EX_TLS, "load CA %s: %s", b->ca ? b->ca :
		    "system store", ssl_errstr());
	vp = SSL_CTX_get0_param(b->ctx);
	if ((b->gw_is_ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, b->gwhost) :
	    X509_VERIFY_PARAM_set1_host(vp, b->gwhost, 0)) != 1)
		return fail(e, EX_TLS, "set expected gateway name: %s",
		    ssl_errstr());
	/* Idle tunnels then hold no record buffers, as in a client that
	 * keeps many quiet tunnels. */
	if (b->mode == M_IDLE)
		SSL_CTX_set_mode(b->ctx, SSL_MODE_RELEASE_BUFFERS);
	if (b->mode == M_SETUP)
		return raise_nofile(2 * (rlim_t)b->concurrency + 64, e);
	if (b->mode == M_IDLE)
		return raise_nofile(2 * (rlim_t)b->tunnels + 64, e);
	return EX_OK;
}

int
main(int argc, char *argv[])
{
	struct bench b;
	struct backend bk;
	struct err e = { .code = EX_OK };
	int r = EX_FAIL;

	parse_args(&b, argc, argv);
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		fail(&e, EX_FAIL, "signal: %s", strerror(errno));
	if (e.code != EX_OK || bench_init(&b, &e) != EX_OK ||
	    backend_start(&b, &bk, &e) != EX_OK ||
	    build_request(&b, bk.port, &e) != EX_OK)
		die(&e);
	switch (b.mode) {
	case M_UP:
	case M_DOWN:
		r = run_bulk(&b, &bk, &e);
		break;
	case M_SETUP:
	case M_IDLE:
		r = b.mode == M_SETUP ? run_setup(&b, &e) : run_idle(&b, &e);
		backend_stop(&bk);
		if (r == EX_OK && bk.err.code != EX_OK) {
			e = bk.err;
			r = e.code;
		}
		break;
	}
	/* Setup mode reported its failures with its figures. */
	if (r != EX_OK && (b.mode != M_SETUP || bk.err.code != EX_OK))
		fprintf(stderr, "%s: %s\n", progname, e.msg);
	OPENSSL_cleanse(b.req, sizeof(b.req));
	SSL_CTX_free(b.ctx);
	freeaddrinfo(b.gwai);
	return r;
}
