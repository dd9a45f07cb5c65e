#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn_limits.h"
#include "ctl.h"
#include "gate_conn.h"
#include "ipc.h"
#include "key_client.h"
#include "log.h"
#include "proc.h"
#include "sandbox.h"
#include "tls_client.h"
#include "tls_tickets.h"
#include "worker_tunnels.h"

#define GATE_EVENTS		256
/*
 * Connections one wake-up may accept. Few: each accepted connection's
 * handshake runs in this worker's loop, so a worker that took a burst of 64
 * kept them from the idle worker woken next (EPOLLEXCLUSIVE) and made the
 * slowest 1% wait (docs/performance.md, "What each design choice buys").
 */
#define GATE_ACCEPT_BATCH	4
#define GATE_ACCEPT_PAUSE_MS	100

/*
 * Free heap a worker keeps rather than hands back to the kernel. A tunnel's
 * buffers are taken and released around every read (an idle tunnel holds
 * none), and with glibc's default 128 KiB trim threshold each release gave
 * the top of the heap back with brk(): page faults, a TLB flush and a brk()
 * up again on the next read, a fifth of a relay worker's CPU per new tunnel
 * (perf, docs/performance.md). The mmap threshold is set above the largest
 * buffer so that none is an mmap() of its own either.
 */
#define WORKER_HEAP_KEEP	(8 * 1024 * 1024)
#define WORKER_MMAP_MIN		(1024 * 1024)

static unsigned
gate_state_timeout(const struct config *cfg, enum conn_state s)
{
	switch (s) {
	case CS_HANDSHAKE:
		return cfg->timeout_handshake_ms;
	case CS_REQUEST:
	case CS_REPLY:
		return cfg->timeout_request_ms;
	case CS_AUTH:
		return cfg->timeout_auth_ms;
	case CS_DELAY:
		return cfg->auth_failure_delay_ms;
	default:
		return cfg->timeout_idle_ms;
	}
}

/*
 * Each state has one timeout, so appending to the tail keeps every list
 * ordered by deadline and the earliest one is always at a head.
 */
void
gate_set_state(struct worker *g, struct conn *c, enum conn_state s)
{
	if (c->state == CS_AUTH && s != CS_AUTH)
		g->n_pending--;
	else if (c->state != CS_AUTH && s == CS_AUTH)
		g->n_pending++;
	TAILQ_REMOVE(&g->lists[c->state], c, timer);
	c->state = s;
	c->deadline_ms = proc_now_ms() + gate_state_timeout(g->env->cfg, s);
	TAILQ_INSERT_TAIL(&g->lists[s], c, timer);
}

void
gate_touch(struct worker *g, struct conn *c)
{
	gate_set_state(g, c, c->state);
}

/*
 * A held 407 is due a fixed time after its request, not after its reply,
 * and replies come back in any order: insert by deadline, searching from
 * the tail, where a new one usually belongs.
 */
void
gate_hold_until(struct worker *g, struct conn *c, int64_t until_ms)
{
	struct conn_list	*list = &g->lists[CS_DELAY];
	struct conn		*p;

	gate_set_state(g, c, CS_DELAY);
	TAILQ_REMOVE(list, c, timer);
	c->deadline_ms = until_ms;
	TAILQ_FOREACH_REVERSE(p, list, conn_list, timer)
		if (p->deadline_ms <= until_ms)
			break;
	if (p == NULL)
		TAILQ_INSERT_HEAD(list, c, timer);
	else
		TAILQ_INSERT_AFTER(list, p, c, timer);
}

bool
refusal_audit_take(struct refusal_rate *r, unsigned *before)
{
	int64_t	 second = proc_now_ms() / 1000;

	if (second != r->second) {
		r->second = second;
		r->said = 0;
	}
	if (r->said >= REFUSED_AUDITS_PER_SEC) {
		r->unsaid++;
		return false;
	}
	r->said++;
	*before = r->unsaid;
	r->unsaid = 0;
	return true;
}

void
gate_audit(struct worker *g, struct conn *c, enum audit_event ev,
    enum audit_closed_by by, const char *reason)
{
	struct audit_record	 rec;

	memset(&rec, 0, sizeof(rec));
	conn_facts_to_record(&c->facts, &rec);
	rec.event = ev;
	rec.closed_by = by;
	AUDIT_SET(rec.reason, reason ? reason : "");
	if (ev == AUDIT_CLOSE) {
		rec.bytes_up = c->pump.bytes_up;
		rec.bytes_down = c->pump.bytes_down > c->status_bytes ?
		    c->pump.bytes_down - c->status_bytes : 0;
		rec.duration_ms = (uint64_t)(proc_now_ms() - c->opened_ms);
	}
	(void)ctl_send_audit(g->env->ctl_fd, &rec);
}

int
gate_send_auth(struct worker *g, struct conn *c, const struct http_request *req)
{
	static struct auth_request	 m;
	int				 r;

	if (g->env->auth_fd == -1)
		return -1;
	memset(&m, 0, AUTH_REQUEST_MIN);
	if (tls_client_chain(c->ssl, m.chain, sizeof(m.chain), &m.chain_len)
	    == -1) {
		log_info("%s: client certificate chain over %u bytes",
		    c->facts.client, TG_MAX_CLIENT_CHAIN_BYTES);
		return -2;
	}
	auth_msg_init(&m.hdr, AUTH_MSG_REQUEST, ++g->next_req_id);
	m.hdr.h.size = (uint32_t)AUTH_REQUEST_SIZE(&m);
	m.tunnel_id = c->facts.tunnel_id;
	m.deadline_ms = proc_now_ms() + g->env->cfg->timeout_auth_ms;
	m.port = req->port;
	m.listener = (uint16_t)c->listener;
	/* The certificate alone names the user: a password is not passed on. */
	if (g->env->cfg->auth_identity != AUTH_IDENTITY_CERT) {
		memcpy(m.user, req->user, sizeof(m.user));
		memcpy(m.password, req->password, sizeof(m.password));
	}
	memcpy(m.host, req->host, sizeof(m.host));
	AUDIT_SET(m.client, c->facts.client);
	AUDIT_SET(m.proxy, conn_fact(&c->facts, FACT_PROXY));
	AUDIT_SET(m.tls_version, c->facts.tls_version);
	AUDIT_SET(m.tls_cipher, c->facts.tls_cipher);
	r = ipc_send(g->env->auth_fd, &m, AUTH_REQUEST_SIZE(&m), NULL, 0);
	explicit_bzero(m.password, sizeof(m.password));
	if (r == -1) {
		log_warn("worker: request to the authenticators");
		return -1;
	}
	c->req_id = m.hdr.req_id;
	c->auth_pid = 0;
	return 0;
}

static void
worker_add_fd(struct worker *g, int fd, struct ev *ev, uint32_t events)
{
	struct epoll_event	 e = { .events = events, .data.ptr = ev };

	ev->fd = fd;
	if (epoll_ctl(g->epfd, EPOLL_CTL_ADD, fd, &e) == -1)
		fatal("worker: epoll_ctl add fd %d", fd);
}

/*
 * Out of descriptors: the listener stays readable, so stop watching it for
 * a moment instead of spinning on EMFILE; connections wait in the backlog.
 */
static void
gate_pause_accepting(struct worker *g)
{
	if (g->accept_paused_until != 0)
		return;
	log_warnx("out of file descriptors with %u connections; pausing "
	    "accept for %d ms (raise RLIMIT_NOFILE or lower limits.connections)",
	    g->n_conns, GATE_ACCEPT_PAUSE_MS);
	for (size_t i = 0; i < g->env->n_listeners; i++)
		epoll_ctl(g->epfd, EPOLL_CTL_DEL, g->env->listeners[i], NULL);
	g->accept_paused_until = proc_now_ms() + GATE_ACCEPT_PAUSE_MS;
}

static void
gate_resume_accepting(struct worker *g)
{
	struct epoll_event	 e;

	g->accept_paused_until = 0;
	if (!g->accepting)
		return;
	for (size_t i = 0; i < g->env->n_listeners; i++) {
		e.events = EPOLLIN | EPOLLEXCLUSIVE;
		e.data.ptr = &g->listener_evs[i];
		if (epoll_ctl(g->epfd, EPOLL_CTL_ADD, g->env->listeners[i], &e) == -1)
			fatal("worker: epoll_ctl");
	}
}

static void
gate_stop_accepting(struct worker *g)
{
	if (!g->accepting)
		return;
	g->accepting = false;
	/*
	 * The listening sockets are shared with the master and other workers,
	 * so close() alone would leave them in our epoll set, still stealing
	 * EPOLLEXCLUSIVE wake-ups from the workers that accept.
	 */
	for (size_t i = 0; i < g->env->n_listeners; i++) {
		epoll_ctl(g->epfd, EPOLL_CTL_DEL, g->env->listeners[i], NULL);
		close(g->env->listeners[i]);
	}
	if (g->env->role == WORKER_RELAY)
		epoll_ctl(g->epfd, EPOLL_CTL_DEL, g->env->handoff_fd, NULL);
}

static void
gate_accept(struct worker *g, size_t li)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sl;
	int			 fd;

	for (int i = 0; i < GATE_ACCEPT_BATCH && g->accepting; i++) {
		sl = sizeof(ss);
		fd = accept4(g->env->listeners[li], (struct sockaddr *)&ss, &sl,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE)
				gate_pause_accepting(g);
			else if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("worker: accept");
			return;
		}
		if (worker_full(g)) {
			/* Nothing can be said before TLS; refuse fast. */
			close(fd);
			continue;
		}
		conn_accept(g, fd, (struct sockaddr *)&ss,
		    &g->env->listener_conf[li]);
	}
}

static struct conn *
gate_find_pending(struct worker *g, uint64_t req_id)
{
	struct conn	*c;

	TAILQ_FOREACH(c, &g->lists[CS_AUTH], timer)
		if (c->req_id == req_id)
			return c;
	return NULL;
}

/* Fail requests no authenticator will answer: all, or one dead pid's. */
static void
gate_fail_pending(struct worker *g, uint32_t dead_pid)
{
	struct conn	*c, *next;

	for (c = TAILQ_FIRST(&g->lists[CS_AUTH]); c != NULL; c = next) {
		next = TAILQ_NEXT(c, timer);
		if (dead_pid == 0 || c->auth_pid == dead_pid)
			conn_refuse(g, c, 503, "authenticator died");
	}
}

static void
gate_dispatch_auth(struct worker *g)
{
	union {
		struct auth_taken	taken;
		struct auth_reply	reply;
		uint8_t			raw[AUTH_MSG_BUF];
	} m;
	struct msg_in	 in;
	struct conn	*c;

	for (;;) {
		switch (msg_recv(&auth_proto, g->env->auth_fd, MSG_AUTH,
		    MSG_GATE, &m, sizeof(m), &in)) {
		case MSG_AGAIN:
			return;
		case MSG_EOF:
			fatalx("worker: the authenticators' end is gone");
		case MSG_BAD:
			/* The more privileged side broke the protocol. */
			fatalx("worker: bad message from an authenticator: %s",
			    in.why);
		case MSG_OK:
			break;
		}
		c = gate_find_pending(g, m.taken.hdr.req_id);
		if (in.t->type == AUTH_MSG_TAKEN) {
			if (c != NULL)
				c->auth_pid = m.taken.pid;
			continue;
		}
		if (c == NULL) {
			/* Answer to a request already timed out or failed. */
			if (in.nfds == 1)
				close(in.fds[0]);
			continue;
		}
		conn_auth_reply(g, c, &m.reply, in.nfds == 1 ? in.fds[0] : -1);
	}
}

/*
 * A retired worker stops accepting and, once its last request is answered,
 * closes its authenticator socket so that authenticators of its generation
 * see every peer gone and exit.
 */
static void
gate_release_auth(struct worker *g)
{
	if (g->accepting || g->n_pending > 0 || g->env->auth_fd == -1 ||
	    !TAILQ_EMPTY(&g->lists[CS_HANDSHAKE]) ||
	    !TAILQ_EMPTY(&g->lists[CS_REQUEST]))
		return;
	/* Shared with the master: close() alone would leave it in epoll. */
	epoll_ctl(g->epfd, EPOLL_CTL_DEL, g->env->auth_fd, NULL);
	close(g->env->auth_fd);
	g->env->auth_fd = -1;
}

/* The master is gone: finish like on SIGTERM. */
static void
worker_master_gone(struct worker *g)
{
	g->draining = true;
	g->drain_at = proc_now_ms() + g->env->cfg->timeout_drain_ms;
	gate_stop_accepting(g);
	epoll_ctl(g->epfd, EPOLL_CTL_DEL, g->env->ctl_fd, NULL);
	g->stats_at = INT64_MAX;
}

static void
worker_dispatch_ctl(struct worker *g)
{
	union {
		struct ctl_auth_status	status;
		struct ctl_relay_loads	loads;
		struct ctl_ticket_keys	keys;
		struct ctl_tunnel_kill	kill;
		struct ctl_ping		ping;
		uint8_t			raw[CTL_MSG_BUF];
	} m;
	struct msg_in	 in;
	unsigned	 self = g->env->role == WORKER_GATE ? MSG_GATE : MSG_RELAY;

	for (;;) {
		switch (msg_recv(&ctl_proto, g->env->ctl_fd, MSG_MASTER, self,
		    &m, sizeof(m), &in)) {
		case MSG_AGAIN:
			return;
		case MSG_EOF:
			worker_master_gone(g);
			return;
		case MSG_BAD:
			fatalx("worker: bad message from the master: %s",
			    in.why);
		case MSG_OK:
			break;
		}
		switch (in.t->type) {
		case CTL_AUTH_STATUS:
			g->auth_alive = m.status.alive;
			if (m.status.alive == 0)
				gate_fail_pending(g, 0);
			else if (m.status.dead_pid != 0)
				gate_fail_pending(g, m.status.dead_pid);
			break;
		case CTL_RETIRE:
			gate_stop_accepting(g);
			break;
		case CTL_RELAY_LOADS:
			if (m.loads.n != g->env->n_relays)
				fatalx("worker: %u relay workers, expected "
				    "%zu", m.loads.n, g->env->n_relays);
			memcpy(g->relay_load, m.loads.tunnels,
			    sizeof(g->relay_load));
			g->relay_capacity = m.loads.capacity;
			g->relay_buffer_bytes = m.loads.buffer_bytes;
			break;
		case CTL_TICKET_KEYS:
			tls_tickets_take(&m.keys);
			explicit_bzero(&m, sizeof(m));
			break;
		case CTL_TUNNEL_KILL:
			worker_kill_tunnel(g, &m.kill);
			break;
		case CTL_PING:
			(void)ctl_pong(g->env->ctl_fd, &m.ping);
			break;
		default:
			fatalx("worker: unexpected %s message from the master",
			    in.t->name);
		}
	}
}

static void
worker_dispatch_signal(struct worker *g)
{
	struct signalfd_siginfo	 si;

	while (read(g->sig_ev.fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
			/*
			 * A handoff is a tunnel whose 200 was sent: one still
			 * queued, or one a draining gate worker sends after
			 * this, drains like the rest. A relay worker takes
			 * them until every gate worker is gone (the master
			 * closed its own end at the stop: end of file) or its
			 * drain time is up.
			 */
			if (g->env->role != WORKER_RELAY)
				gate_stop_accepting(g);
			if (!g->draining) {
				g->draining = true;
				g->drain_at = proc_now_ms() +
				    g->env->cfg->timeout_drain_ms;
			}
		}
	}
}

/* Expire deadlines; returns the epoll timeout until the next one. */
static int
worker_timers(struct worker *g)
{
	int64_t		 now = proc_now_ms(), next = -1;
	struct conn	*c;

	for (int s = 0; s < CS_NSTATES; s++) {
		while ((c = TAILQ_FIRST(&g->lists[s])) != NULL &&
		    (c->deadline_ms <= now || (g->draining && now >= g->drain_at)))
			conn_timeout(g, c);
		if (c != NULL && (next == -1 || c->deadline_ms < next))
			next = c->deadline_ms;
	}
	if (g->draining && now >= g->drain_at)
		gate_stop_accepting(g);
	if (g->draining && (next == -1 || g->drain_at < next))
		next = g->drain_at;
	worker_tunnel_timers(g, now, &next);
	if (g->accept_paused_until != 0) {
		if (now >= g->accept_paused_until)
			gate_resume_accepting(g);
		else if (next == -1 || g->accept_paused_until < next)
			next = g->accept_paused_until;
	}
	if (next == -1)
		return -1;
	return next <= now ? 0 : (int)(next - now > 60000 ? 60000 : next - now);
}

static void
worker_reap(struct worker *g)
{
	struct conn	*c;

	while ((c = TAILQ_FIRST(&g->graveyard)) != NULL) {
		TAILQ_REMOVE(&g->graveyard, c, timer);
		conn_facts_free(&c->facts);
		free(c);
	}
}

static void
worker_dispatch(struct worker *g, struct ev *ev, uint32_t events)
{
	switch (ev->kind) {
	case EV_LISTENER:
		if (g->accepting)
			gate_accept(g, (size_t)(ev - g->listener_evs));
		break;
	case EV_AUTH:
		gate_dispatch_auth(g);
		break;
	case EV_CTL:
		worker_dispatch_ctl(g);
		break;
	case EV_SIGNAL:
		worker_dispatch_signal(g);
		break;
	case EV_CLIENT:
		if (!ev->conn->dead)
			conn_client_event(g, ev->conn, events);
		break;
	case EV_BACKEND:
		if (!ev->conn->dead)
			conn_backend_event(g, ev->conn, events);
		break;
	case EV_HANDOFF:
		if (g->accepting && handoff_receive(g) == 0)
			gate_stop_accepting(g);
		break;
	}
}

static void
worker_setup(struct worker *g, struct worker_env *env)
{
	sigset_t	 mask;
	uint64_t	 seed;

	memset(g, 0, sizeof(*g));
	/* A sanitizer's allocator ignores these; the worker works either way. */
	if (mallopt(M_TRIM_THRESHOLD, WORKER_HEAP_KEEP) != 1 ||
	    mallopt(M_MMAP_THRESHOLD, WORKER_MMAP_MIN) != 1)
		log_debug("worker: the allocator keeps its own trim policy");
	g->env = env;
	g->accepting = true;
	g->auth_alive = env->auth_alive;
	for (int s = 0; s < CS_NSTATES; s++)
		TAILQ_INIT(&g->lists[s]);
	TAILQ_INIT(&g->graveyard);
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		fatal("worker: getrandom");
	g->next_req_id = seed;
	if ((g->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		fatal("worker: epoll_create1");
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	g->sig_ev.kind = EV_SIGNAL;
	g->sig_ev.fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (g->sig_ev.fd == -1)
		fatal("worker: signalfd");
	worker_add_fd(g, g->sig_ev.fd, &g->sig_ev, EPOLLIN);
	g->ctl_ev.kind = EV_CTL;
	worker_add_fd(g, env->ctl_fd, &g->ctl_ev, EPOLLIN);
	if ((g->listener_evs = calloc(env->n_listeners, sizeof(struct ev))) == NULL)
		fatal("worker: calloc");
	for (size_t i = 0; i < env->n_listeners; i++) {
		g->listener_evs[i].kind = EV_LISTENER;
		/* EPOLLEXCLUSIVE: one worker wakes per connection, not all. */
		worker_add_fd(g, env->listeners[i], &g->listener_evs[i],
		    EPOLLIN | EPOLLEXCLUSIVE);
	}
	if (env->role == WORKER_RELAY) {
		g->handoff_ev.kind = EV_HANDOFF;
		worker_add_fd(g, env->handoff_fd, &g->handoff_ev, EPOLLIN);
	}
	if (env->role == WORKER_GATE) {
		conn_limits_use_row(env->limits_row);
		key_client_use(env->key_fd);
		g->auth_ev.kind = EV_AUTH;
		worker_add_fd(g, env->auth_fd, &g->auth_ev, EPOLLIN);
		/* The master queued the ticket keys before the fork. */
		worker_dispatch_ctl(g);
	}
}

void
worker_main(void *arg)
{
	struct worker		 g;
	struct epoll_event	 events[GATE_EVENTS];
	int			 n, timeout;

	worker_setup(&g, arg);
	if (sandbox_enter(g.env->role) != 0)
		fatalx("%s worker: cannot enter the seccomp sandbox",
		    g.env->role == WORKER_GATE ? "gate" : "relay");
	log_debug("worker ready");
	for (;;) {
		timeout = worker_timers(&g);
		worker_reap(&g);
		gate_release_auth(&g);
		if (!g.accepting && g.n_conns == 0)
			break;
		n = epoll_wait(g.epfd, events, GATE_EVENTS, timeout);
		if (n == -1 && errno != EINTR)
			fatal("worker: epoll_wait");
		for (int i = 0; i < n; i++)
			worker_dispatch(&g, events[i].data.ptr,
			    events[i].events);
		worker_reap(&g);
	}
	log_debug("worker done");
	free(g.listener_evs);
	exit(0);
}
