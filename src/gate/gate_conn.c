#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "conn_limits.h"
#include "gate_conn.h"
#include "gate_proxy.h"
#include "http_request.h"
#include "http_response.h"
#include "log.h"
#include "netaddr.h"
#include "proc.h"
#include "tls.h"
#include "tls_client.h"
#include "tls_export.h"
#include "tls_tickets.h"

#define TLS_RECORD_HANDSHAKE	0x16
#define TLS_RECORD_HEADER	5
#define TLS_RECORD_MAX		16384	/* a plaintext record, RFC 8446 5.1 */

/*
 * Ids for GATE_IDS_BATCH connections from one getrandom() call: 256 bytes,
 * the most it returns whole whatever signals arrive.
 */
#define GATE_IDS_BATCH		32

static uint64_t
conn_new_tunnel_id(void)
{
	static uint64_t	 ids[GATE_IDS_BATCH];
	static size_t	 left;

	if (left == 0) {
		if (getrandom(ids, sizeof(ids), 0) != sizeof(ids))
			fatal("gate: getrandom");
		left = GATE_IDS_BATCH;
	}
	return ids[--left];
}

void
conn_watch(struct worker *g, struct ev *ev, int fd, enum ev_kind kind,
    struct conn *c)
{
	struct epoll_event	 e = {
		.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
		.data.ptr = ev,
	};

	ev->kind = kind;
	ev->fd = fd;
	ev->conn = c;
	if (epoll_ctl(g->epfd, EPOLL_CTL_ADD, fd, &e) == -1)
		fatal("gate: epoll_ctl add");
}

void
conn_accept(struct worker *g, int fd, const struct sockaddr *peer,
    const struct config_listener *l)
{
	const struct config	*cfg = g->env->cfg;
	struct conn		*c;
	char			 client[NETADDR_STR_MAX];

	netaddr_format(peer, client, sizeof(client));
	if (!gate_proxy_allowed(l, peer, client)) {
		close(fd);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("gate: calloc");
		close(fd);
		return;
	}
	AUDIT_SET(c->facts.client, client);
	c->proxy_versions = l->proxy_protocol;
	c->listener = (unsigned)(l - g->env->listener_conf);
	c->facts.tunnel_id = conn_new_tunnel_id();
	pump_end_init(&c->pump.client, fd, &ssl_pump_ops, NULL);
	pump_end_init(&c->pump.backend, -1, &pump_plain_ops, NULL);
	/*
	 * The request and what the client pipelines after it share "up",
	 * bounded by the header limit until the tunnel opens: what an
	 * unauthenticated client can make us hold is limits.header_bytes.
	 */
	buf_init(&c->pump.up, cfg->limit_header_bytes);
	buf_init(&c->pump.down, cfg->limit_buffer_bytes);
	c->state = CS_HANDSHAKE;
	c->deadline_ms = proc_now_ms() + cfg->timeout_handshake_ms;
	TAILQ_INSERT_TAIL(&g->lists[CS_HANDSHAKE], c, timer);
	g->n_conns++;
	conn_watch(g, &c->client_ev, fd, EV_CLIENT, c);
	/* Behind a balancer the source is known once its header is read. */
	if (c->proxy_versions == 0)
		conn_admit(g, c);
}

/* A refusal by a limit, audited at a bounded rate (refusal_audit_take). */
static void
conn_audit_refused(struct worker *g, struct conn *c, const char *why,
    const struct source_key *k)
{
	char		 reason[128];
	unsigned	 before;

	if (!refusal_audit_take(&g->refused, &before))
		return;
	if (before > 0)
		(void)snprintf(reason, sizeof(reason), "%s (source %s); %u more "
		    "refused by limits before this one", why, k->label, before);
	else
		(void)snprintf(reason, sizeof(reason), "%s (source %s)", why,
		    k->label);
	if (before > 0 || g->refused.said == 1)
		log_info("%s: refused: %s", c->facts.client, reason);
	gate_audit(g, c, AUDIT_ERROR, AUDIT_BY_NONE, reason);
}

bool
conn_admit(struct worker *g, struct conn *c)
{
	const struct config	*cfg = g->env->cfg;
	struct source_key	 k;
	const char		*why;

	if (conn_facts_source(&c->facts, cfg->limit_ipv6_prefix, &k) != 0) {
		log_warnx("%s: not an address; closing", c->facts.client);
		conn_close(g, c, AUDIT_BY_NONE, NULL);
		return false;
	}
	why = conn_limits_admit(cfg, &k, proc_now_ms(), &c->source_bucket);
	if (why == NULL) {
		c->counted = true;
		return true;
	}
	/* Nothing can be said before TLS, and a handshake is what it costs. */
	conn_audit_refused(g, c, why, &k);
	conn_close(g, c, AUDIT_BY_NONE, NULL);
	return false;
}

void
conn_close(struct worker *g, struct conn *c, enum audit_closed_by by,
    const char *reason)
{
	if (c->dead)
		return;
	if (c->state == CS_TUNNEL && !c->handed_off && !c->unaudited)
		gate_audit(g, c, AUDIT_CLOSE, by, reason);
	if (c->state == CS_AUTH)
		g->n_pending--;
	if (c->counted)
		conn_limits_release(c->source_bucket);
	c->counted = false;
	TAILQ_REMOVE(&g->lists[c->state], c, timer);
	TAILQ_INSERT_TAIL(&g->graveyard, c, timer);
	c->dead = true;
	/*
	 * epoll keys on the open file, and a tunnel's sockets can be open in
	 * two workers for a moment around a handoff (or in flight between
	 * them), so close() alone could leave events naming a freed conn.
	 */
	epoll_ctl(g->epfd, EPOLL_CTL_DEL, c->pump.client.fd, NULL);
	if (c->backend_ev.conn != NULL)
		epoll_ctl(g->epfd, EPOLL_CTL_DEL, c->pump.backend.fd, NULL);
	SSL_free(c->ssl);
	c->ssl = NULL;
	close(c->pump.client.fd);
	if (c->pump.backend.fd != -1)
		close(c->pump.backend.fd);
	pump_free(&c->pump);
	g->n_conns--;
}

/*
 * When a failed request's answer is due: auth.failure_delay after it, or,
 * for a check that took longer, the first whole multiple of the delay not
 * yet past. A slow check (a directory that answers an unknown name sooner
 * than a wrong password) then shows only in which step its answer came,
 * not in how long each kind of check took.
 */
static int64_t
conn_failure_due(int64_t asked_ms, int64_t delay_ms, int64_t now_ms)
{
	int64_t	 steps;

	if (delay_ms <= 0)
		return now_ms;
	steps = (now_ms - asked_ms + delay_ms - 1) / delay_ms;
	return asked_ms + (steps < 1 ? 1 : steps) * delay_ms;
}

/* Answer the client once, then close; nothing it sends later is parsed. */
void
conn_reply(struct worker *g, struct conn *c, int status, const char *reason)
{
	char	 resp[256];
	size_t	 n;
	int64_t	 due;

	log_debug("%s: %016llx: %d (%s)", c->facts.client,
	    (unsigned long long)c->facts.tunnel_id, status, reason);
	n = http_response_format(status, g->env->cfg->auth_realm, resp,
	    sizeof(resp));
	buf_free(&c->pump.up);
	buf_reset(&c->pump.down);
	if (n == 0 || buf_put(&c->pump.down, resp, n) != 0) {
		conn_close(g, c, AUDIT_BY_NONE, NULL);
		return;
	}
	/*
	 * Every 407 for a request that carried credentials goes out the same
	 * time after it, whatever was wrong, so its timing tells nothing; the
	 * wait costs this connection only, never an authenticator. A 429 of a
	 * lockout waits as long: answered at once, it would let a guesser
	 * spend handshakes as fast as it can make them.
	 */
	if ((status == 407 || status == 429) && c->asked_ms != 0) {
		due = conn_failure_due(c->asked_ms,
		    g->env->cfg->auth_failure_delay_ms, proc_now_ms());
		if (due > proc_now_ms()) {
			gate_hold_until(g, c, due);
			return;
		}
	}
	gate_set_state(g, c, CS_REPLY);
	conn_client_event(g, c, 0);
}

/* A refusal the gate decides itself: audited here, then answered. */
void
conn_refuse(struct worker *g, struct conn *c, int status, const char *reason)
{
	gate_audit(g, c, status == 407 ? AUDIT_AUTH_FAIL : AUDIT_ERROR,
	    AUDIT_BY_NONE, reason);
	conn_reply(g, c, status, reason);
}

static void conn_flush_reply(struct worker *, struct conn *);

/*
 * What we sent last (a plain-text 400, a TLS alert) is all the client gets:
 * close our direction, then drain what it still sends until it closes or
 * the reply deadline passes. A close() with its bytes unread would send a
 * reset that can reach the client before, and destroy, our answer.
 */
static void
conn_linger(struct worker *g, struct conn *c)
{
	/* Nothing more goes through TLS: a lingering client costs no SSL. */
	SSL_free(c->ssl);
	c->ssl = NULL;
	c->pump.client.io = NULL;
	shutdown(c->pump.client.fd, SHUT_WR);
	c->lingering = true;
	gate_set_state(g, c, CS_REPLY);
	conn_flush_reply(g, c);
}

/* Plain HTTP on the TLS port: say so in plain text, then close gently. */
static void
conn_plaintext(struct worker *g, struct conn *c)
{
	ssize_t	 n;

	n = send(c->pump.client.fd, http_response_plaintext_400,
	    strlen(http_response_plaintext_400), MSG_NOSIGNAL | MSG_DONTWAIT);
	(void)n;	/* best effort: the client is not speaking our protocol */
	gate_audit(g, c, AUDIT_ERROR, AUDIT_BY_NONE,
	    "plaintext HTTP on the TLS port");
	conn_linger(g, c);
}

/*
 * The client's Finished is the last thing it sends before its CONNECT, and we
 * send nothing in between, so the kernel would delay its ACK (~40 ms). A
 * client that leaves Nagle on holds the CONNECT record until that ACK comes:
 * acknowledge at once. Failure only costs latency.
 */
static void
conn_ack_now(struct conn *c)
{
	int	 one = 1;

	(void)setsockopt(c->pump.client.fd, IPPROTO_TCP, TCP_QUICKACK, &one,
	    sizeof(one));
}

enum first_record { FIRST_WAIT, FIRST_TLS, FIRST_PLAINTEXT, FIRST_CLOSE };

/*
 * What the client sent first, from one peek: a TLS record only once it is
 * whole in the socket's receive buffer. Until then the connection holds no
 * TLS state: a client that trickles its ClientHello costs the kernel's
 * buffer, not the tens of KiB of an SSL object with a partial record in its
 * read buffer. Edge-triggered epoll reports each arrival, so peeking loses
 * no event.
 */
static enum first_record
conn_first_record(struct conn *c)
{
	static uint8_t	 peek[TLS_RECORD_HEADER + TLS_RECORD_MAX];
	ssize_t		 n;
	size_t		 len;

	n = recv(c->pump.client.fd, peek, sizeof(peek), MSG_PEEK);
	if (n == -1)
		return errno == EAGAIN || errno == EINTR ? FIRST_WAIT :
		    FIRST_CLOSE;
	if (n == 0)
		return FIRST_CLOSE;
	if (peek[0] != TLS_RECORD_HANDSHAKE)
		return isupper(peek[0]) ? FIRST_PLAINTEXT : FIRST_CLOSE;
	if (n < TLS_RECORD_HEADER)
		return FIRST_WAIT;
	len = (size_t)peek[3] << 8 | peek[4];
	/* Not a record a ClientHello fits in: let OpenSSL refuse it. */
	if (len > TLS_RECORD_MAX)
		return FIRST_TLS;
	return (size_t)n >= TLS_RECORD_HEADER + len ? FIRST_TLS : FIRST_WAIT;
}

/*
 * A refused client certificate is worth an audit record (an expired or
 * revoked one is someone the admin knows); other failures are scanners.
 */
static void
conn_handshake_failed(struct worker *g, struct conn *c)
{
	struct source_key	 k;
	const char		*cert;
	char			 why[96];

	cert = tls_client_refusal(c->ssl, ERR_peek_error());
	log_debug("%s: TLS handshake failed: %s", c->facts.client,
	    tls_error_string());
	if (cert != NULL &&
	    conn_facts_source(&c->facts, g->env->cfg->limit_ipv6_prefix,
	    &k) == 0) {
		(void)snprintf(why, sizeof(why), "client certificate refused: "
		    "%s", cert);
		conn_audit_refused(g, c, why, &k);
	}
	conn_linger(g, c);
}

static void
conn_handshake(struct worker *g, struct conn *c)
{
	int	 r;

	if (c->proxy_versions != 0) {
		switch (gate_proxy_read(c)) {
		case GATE_PROXY_WAIT:
			return;
		case GATE_PROXY_CLOSE:
			conn_close(g, c, AUDIT_BY_NONE, NULL);
			return;
		case GATE_PROXY_DONE:
			if (!conn_admit(g, c))
				return;
			break;
		}
	}
	if (c->ssl == NULL) {
		switch (conn_first_record(c)) {
		case FIRST_WAIT:
			c->pump.client.readable = false;
			return;
		case FIRST_PLAINTEXT:
			conn_plaintext(g, c);
			return;
		case FIRST_CLOSE:
			conn_close(g, c, AUDIT_BY_NONE, NULL);
			return;
		case FIRST_TLS:
			break;
		}
		if ((c->ssl = SSL_new(g->env->ctx)) == NULL ||
		    SSL_set_fd(c->ssl, c->pump.client.fd) != 1 ||
		    tls_client_verify_setup(c->ssl,
		    &g->env->client_ca->l[c->listener]) != 0 ||
		    tls_tickets_conn_init(c->ssl,
		    &g->env->listener_conf[c->listener]) != 0) {
			log_warnx("gate: SSL_new: %s", tls_error_string());
			conn_close(g, c, AUDIT_BY_NONE, NULL);
			return;
		}
		SSL_set_accept_state(c->ssl);
		/*
		 * A flight in one read, not a read per record header and one
		 * per body. Off again once the handshake is done, so that
		 * what libssl holds at a handoff is at most part of a record
		 * (handoff_ready() waits for it). libssl 3.2 and later move
		 * what was read ahead to a buffer SSL_has_pending() does not
		 * see when the keys change, so there it stays off: asked of
		 * the library running, which may be newer than the headers.
		 */
		if (OpenSSL_version_num() < 0x30200000UL)
			SSL_set_read_ahead(c->ssl, 1);
		c->pump.client.io = c->ssl;
		if (g->env->n_relays > 0 && tls_export_attach(c->ssl) != 0)
			log_warnx("%s: cannot track TLS state; this tunnel "
			    "stays in the gate worker", c->facts.client);
	}
	ERR_clear_error();
	if ((r = SSL_do_handshake(c->ssl)) == 1) {
		SSL_set_read_ahead(c->ssl, 0);
		conn_ack_now(c);
		tls_facts(c->ssl, c->facts.tls_version,
		    sizeof(c->facts.tls_version), c->facts.tls_cipher,
		    sizeof(c->facts.tls_cipher));
		gate_set_state(g, c, CS_REQUEST);
		conn_client_event(g, c, 0);
		return;
	}
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		c->pump.client.readable = false;
		break;
	case SSL_ERROR_WANT_WRITE:
		c->pump.client.writable = false;
		break;
	default:
		conn_handshake_failed(g, c);
	}
}

static void
conn_request(struct worker *g, struct conn *c, struct http_request *req)
{
	bool	 cert_only = g->env->cfg->auth_identity == AUTH_IDENTITY_CERT;
	char	 target[HTTP_HOST_MAX + 10];

	snprintf(target, sizeof(target), strchr(req->host, ':') != NULL ?
	    "[%s]:%u" : "%s:%u", req->host, req->port);
	/* What follows the header is tunnel data; consuming wipes the header. */
	buf_consume(&c->pump.up, req->header_len);
	/*
	 * A request without credentials is how many clients start; its 407 is
	 * the same for every user, so it goes out at once. With
	 * auth.identity "certificate" the certificate is the credential.
	 */
	if (cert_only ? SSL_get0_peer_certificate(c->ssl) == NULL :
	    !req->has_credentials) {
		conn_refuse(g, c, 407, AUDIT_REASON_NO_CREDENTIALS);
		return;
	}
	c->asked_ms = proc_now_ms();
	if (conn_fact_set(&c->facts, FACT_TARGET, target) != 0 ||
	    conn_fact_set(&c->facts, FACT_USER, cert_only ? "" : req->user)
	    != 0) {
		conn_refuse(g, c, 503, "out of memory");
		return;
	}
	if (g->auth_alive == 0) {
		conn_refuse(g, c, 503, "no authenticator running");
		return;
	}
	if (g->n_pending >= g->env->cfg->limit_pending_auth) {
		conn_refuse(g, c, 503, "too many pending authentications");
		return;
	}
	switch (gate_send_auth(g, c, req)) {
	case 0:
		break;
	case -2:
		conn_refuse(g, c, 403, "client certificate chain too long");
		return;
	default:
		conn_refuse(g, c, 503, "authenticators unreachable");
		return;
	}
	gate_set_state(g, c, CS_AUTH);
}

static void
conn_read_request(struct worker *g, struct conn *c)
{
	struct http_request	 req;
	ssize_t			 n;
	int			 r;

	for (;;) {
		n = pump_read_client(&c->pump);
		if (n == PUMP_IO_WANT_READ || n == PUMP_IO_WANT_WRITE)
			return;
		if (n <= 0) {
			conn_close(g, c, AUDIT_BY_NONE, NULL);
			return;
		}
		r = http_request_resume(buf_rptr(&c->pump.up),
		    buf_len(&c->pump.up), g->env->cfg->limit_header_bytes,
		    &c->parse, &req);
		if (r == HTTP_PARSE_INCOMPLETE)
			continue;
		if (r == HTTP_PARSE_OK)
			conn_request(g, c, &req);
		else
			conn_refuse(g, c, r, r == 405 ? "method not allowed" :
			    r == 431 ? "request header too large" :
			    "malformed request");
		http_request_wipe(&req);
		return;
	}
}

/*
 * After an error answer: send it, close our direction, then read and drop
 * whatever the client still sends until it closes or the reply deadline
 * passes. Closing with unread bytes would send a reset that can destroy the
 * answer before the client reads it.
 */
static void
conn_flush_reply(struct worker *g, struct conn *c)
{
	uint8_t	 sink[4096];
	ssize_t	 r;

	if (!c->lingering) {
		r = pump_flush_client(&c->pump);
		if (r == PUMP_IO_WANT_READ || r == PUMP_IO_WANT_WRITE)
			return;
		if (r != 0) {
			conn_close(g, c, AUDIT_BY_NONE, NULL);
			return;
		}
		if (c->ssl != NULL) {
			ERR_clear_error();
			SSL_shutdown(c->ssl);
		}
		shutdown(c->pump.client.fd, SHUT_WR);
		c->lingering = true;
	}
	while ((r = read(c->pump.client.fd, sink, sizeof(sink))) > 0)
		;
	if (r == 0 || (errno != EAGAIN && errno != EINTR))
		conn_close(g, c, AUDIT_BY_NONE, NULL);
}

void
conn_client_event(struct worker *g, struct conn *c, uint32_t events)
{
	pump_end_event(&c->pump.client, events);
	switch (c->state) {
	case CS_HANDSHAKE:
		conn_handshake(g, c);
		break;
	case CS_REQUEST:
		conn_read_request(g, c);
		break;
	case CS_REPLY:
		conn_flush_reply(g, c);
		break;
	case CS_TUNNEL:
		conn_pump(g, c);
		break;
	default:
		break;
	}
}

void
conn_backend_event(struct worker *g, struct conn *c, uint32_t events)
{
	pump_end_event(&c->pump.backend, events);
	if (c->state == CS_TUNNEL)
		conn_pump(g, c);
}

void
conn_pump(struct worker *g, struct conn *c)
{
	struct pump	*r = &c->pump;
	char		 reason[128];

	switch (pump_run(r)) {
	case PUMP_RUNNING:
		if (r->moved)
			gate_touch(g, c);
		if (c->try_handoff)
			handoff_try(g, c);
		break;
	case PUMP_DONE:
		conn_close(g, c, r->first_eof, "closed");
		break;
	case PUMP_FAILED:
		snprintf(reason, sizeof(reason), "%s: %s",
		    r->failed_by == AUDIT_BY_CLIENT ? "client" : "backend",
		    r->failed_by == AUDIT_BY_CLIENT ? r->client.err :
		    r->backend.err);
		conn_close(g, c, AUDIT_BY_ERROR, reason);
		break;
	}
}

/*
 * The tunnel stays in this worker for good: several records per read and
 * per write, as a relay worker does. Not while a handoff may still come,
 * which needs every sealed byte on the wire and none read ahead. Nor does
 * it need the copy of its secrets kept for a handoff any more.
 */
void
conn_relay_here(struct conn *c)
{
	tls_export_detach(c->ssl);
	tls_read_ahead(c->ssl);
	tls_batch_writes(c->ssl);
}

static void
conn_open_tunnel(struct worker *g, struct conn *c, int fd)
{
	char	 resp[64];
	size_t	 n;

	/* A tunnel without its 200 would look to the client like a refusal. */
	n = http_response_format(200, "", resp, sizeof(resp));
	if (n == 0 || buf_put(&c->pump.down, resp, n) != 0) {
		close(fd);
		conn_refuse(g, c, 503, "out of memory");
		return;
	}
	c->status_bytes = (uint32_t)n;
	/*
	 * Both sockets have TCP_NODELAY: the client's from its listener
	 * (listener_open()), the backend's from the authenticator
	 * (auth_backend_connect()), which also made it non-blocking.
	 */
	pump_end_init(&c->pump.backend, fd, &pump_plain_ops, NULL);
	/* Authorized: the up buffer becomes a relay direction. */
	buf_raise_max(&c->pump.up, g->env->cfg->limit_buffer_bytes);
	gate_set_state(g, c, CS_TUNNEL);
	c->opened_ms = proc_now_ms();
	c->try_handoff = g->env->n_relays > 0;
	if (!c->try_handoff)
		conn_relay_here(c);
	gate_audit(g, c, AUDIT_OPEN, AUDIT_BY_NONE, NULL);
	conn_pump(g, c);
	/*
	 * Most tunnels leave for a relay worker in that pump: watch the
	 * backend only for one that stays, which saves two epoll_ctl() calls
	 * a tunnel. Adding a socket to edge-triggered epoll reports what is
	 * already pending, so nothing that came meanwhile is missed.
	 */
	if (!c->dead)
		conn_watch(g, &c->backend_ev, fd, EV_BACKEND, c);
}

void
conn_auth_reply(struct worker *g, struct conn *c, const struct auth_reply *m,
    int backend_fd)
{
	if (conn_fact_set(&c->facts, FACT_RULE, m->rule) != 0 ||
	    conn_fact_set(&c->facts, FACT_RESOLVED, m->resolved) != 0)
		log_warnx("%s: out of memory; audit records lack the rule",
		    c->facts.client);
	/* The tunnel's records name the account, never the spelling typed. */
	if (m->user[0] != '\0' &&
	    conn_fact_set(&c->facts, FACT_USER, m->user) != 0) {
		if (backend_fd != -1)
			close(backend_fd);
		conn_refuse(g, c, 503, "out of memory");
		return;
	}
	if (m->verdict == AUTH_ALLOW && backend_fd != -1) {
		conn_open_tunnel(g, c, backend_fd);
		return;
	}
	if (backend_fd != -1)
		close(backend_fd);
	if (m->verdict == AUTH_ALLOW)
		conn_refuse(g, c, 503, "authenticator sent no backend socket");
	else
		conn_reply(g, c, auth_verdict_status(m->verdict), m->reason);
}

void
conn_timeout(struct worker *g, struct conn *c)
{
	switch (c->state) {
	case CS_REQUEST:
		if (!g->draining) {
			conn_refuse(g, c, 408, "request timeout");
			return;
		}
		break;
	case CS_AUTH:
		if (!g->draining) {
			conn_refuse(g, c, 503, "authenticator timeout");
			return;
		}
		break;
	case CS_DELAY:
		/* Its 407 is due (or the worker is draining): send it. */
		gate_set_state(g, c, CS_REPLY);
		conn_client_event(g, c, 0);
		return;
	case CS_TUNNEL:
		if (g->draining)
			conn_close(g, c, AUDIT_BY_SHUTDOWN, "drain timeout");
		else
			conn_close(g, c, AUDIT_BY_IDLE, "idle timeout");
		return;
	default:
		break;
	}
	conn_close(g, c, AUDIT_BY_NONE, NULL);
}
