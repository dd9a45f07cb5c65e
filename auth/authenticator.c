#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <sys/epoll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "auth.h"
#include "auth_cert.h"
#include "auth_held.h"
#include "auth_ldap.h"
#include "auth_lockout.h"
#include "auth_recheck.h"
#include "auth_throttle.h"
#include "authenticator.h"
#include "ctl.h"
#include "ipc.h"
#include "log.h"
#include "tg_limits.h"

/*
 * How long an answer waits on a full gate socket before that gate worker is
 * judged deaf and replaced: longer than an honest one's longest pause, a
 * wait on the key process.
 */
#define AUTH_SEND_WAIT_MS (TG_KEY_REPLY_TIMEOUT_MS + 500)
/* Requests taken between two slow ones, so that held ones are not starved. */
#define AUTH_ROUND_MAX	64

struct authenticator {
	const struct auth_env	*env;
	struct auth_cache	*cache;
	char			**groups;	/* LDAP's, for auth_connect() */
	/* The account's own name, once auth_credentials() said yes. */
	char			 user[AUTH_USER_MAX + 1];
	size_t			 n_groups;
	/* One gate socket per gate slot, then ctl; revents from epfd. */
	struct pollfd		 pfds[TG_MAX_GATE_WORKERS + 1];
	int			 epfd;
	uint32_t		 serials[TG_MAX_GATE_WORKERS];
	size_t			 n_open;	/* gate sockets not at EOF */
	bool			 retired;	/* the master said: no new work */
	int64_t			 retire_by;	/* no logins taken after this */
	struct auth_held_set	 held;
	/* The request auth_answer() works on, until its gate worker knows. */
	int			 serving_sock;
	const struct auth_request *serving;
};

/* auth_before_wait() has no other way to the request being answered. */
static struct authenticator	*auth_self;
/* auth_send() waited on a full gate socket since auth_pull() last looked. */
static bool			 auth_send_waited;

static void	auth_suspend(struct authenticator *, size_t, const char *);

/* The gate worker on sock left it full: it is not read again. */
static void
auth_deaf(int sock)
{
	log_warnx("authenticator: answer to a gate worker lost: its socket "
	    "stayed full for %d ms", AUTH_SEND_WAIT_MS);
	for (size_t i = 0; i < auth_self->env->n_socks; i++)
		if (auth_self->pfds[i].fd == sock &&
		    auth_self->pfds[i].events != 0)
			auth_suspend(auth_self, i, "does not read its replies");
}

/*
 * Replies are small and an honest gate worker drains them on every turn of
 * its loop. One that leaves its socket full would cost every authenticator
 * a wait per answer; it is reported and replaced instead.
 */
static void
auth_send(int sock, const void *msg, size_t len, int fd)
{
	struct pollfd	 pfd = { .fd = sock, .events = POLLOUT };
	int		 n;

	while (ipc_send(sock, msg, len, fd == -1 ? NULL : &fd, fd == -1 ? 0 : 1)
	    == -1) {
		if (errno != EAGAIN) {
			log_warn("authenticator: answer to a gate worker lost");
			return;
		}
		auth_send_waited = true;
		if ((n = poll(&pfd, 1, AUTH_SEND_WAIT_MS)) == 0) {
			auth_deaf(sock);
			return;
		}
		if (n == -1 && errno != EINTR) {
			log_warn("authenticator: poll on a gate socket");
			return;
		}
	}
}

/* PAM_RHOST is the client's address without its port. */
static void
auth_rhost(const struct auth_request *req, char rhost[AUTH_ADDR_MAX])
{
	char	*colon;

	auditlog_strlcpy(rhost, req->client[0] == '[' ? req->client + 1 :
	    req->client, AUTH_ADDR_MAX);
	if ((colon = strrchr(rhost, req->client[0] == '[' ? ']' : ':')) != NULL)
		*colon = '\0';
}

static enum auth_verdict
auth_credentials(struct authenticator *a, const struct auth_request *req,
    char *reason, size_t reasonlen)
{
	enum auth_verdict	 v;
	int64_t			 now = auth_now_ms();
	char			 rhost[AUTH_ADDR_MAX], why[128];
	const char		*refused;
	bool			 keep = true;

	/* Never ask a backend about a spelling the policy cannot name. */
	if ((refused = auth_user_refusal(req->user)) != NULL) {
		snprintf(reason, reasonlen, "%s", refused);
		return AUTH_BAD_CREDENTIALS;
	}
	if (auth_cache_lookup(a->cache, req->user, req->password, now, &v,
	    a->user, &a->groups, &a->n_groups)) {
		snprintf(reason, reasonlen, "%s", v == AUTH_ALLOW ?
		    "cached" : "cached failure");
		return v;
	}
	auth_rhost(req, rhost);
	auth_before_wait();
	/* The directory answers with the groups; they go with the verdict. */
	if (a->env->cfg->auth_backend == AUTH_BACKEND_LDAP)
		v = auth_ldap_check(a->env->cfg, req->user, req->password,
		    req->deadline_ms, a->user, &a->groups, &a->n_groups,
		    reason, reasonlen);
	else if ((v = auth_pam_check(a->env->cfg, req->user, req->password,
	    rhost, a->user, reason, reasonlen)) == AUTH_ALLOW) {
		/*
		 * Read once, kept with the entry: the tunnels of a cached
		 * login read no NSS files. A list NSS cannot give is asked
		 * for again by auth_connect(), which refuses with the reason;
		 * one the entry cannot hold is read for each tunnel.
		 */
		if (auth_groups(a->user, &a->groups, &a->n_groups, why,
		    sizeof(why)) == 0 && !auth_cache_keeps(
		    (const char *const *)a->groups, a->n_groups))
			keep = false;
	}
	auth_cache_store(a->cache, req->user, req->password, auth_now_ms(), v,
	    a->user, keep ? (const char *const *)a->groups : NULL,
	    keep ? a->n_groups : 0);
	return v;
}

/*
 * The account a verified certificate names, without a password: its own
 * name into a->user, its state checked as for a password login.
 */
static enum auth_verdict
auth_cert_account(struct authenticator *a, const struct auth_request *req,
    const char *name, char account[AUTH_USER_MAX + 1], char ***groups,
    size_t *n_groups, char *reason, size_t reasonlen)
{
	char	 rhost[AUTH_ADDR_MAX];

	auth_before_wait();
	if (a->env->cfg->auth_backend == AUTH_BACKEND_LDAP)
		return auth_ldap_lookup(a->env->cfg, name, req->deadline_ms,
		    account, groups, n_groups, reason, reasonlen);
	auth_rhost(req, rhost);
	return auth_pam_account_check(a->env->cfg, name, rhost, account,
	    reason, reasonlen);
}

/*
 * What auth.identity asks for: the password, the certificate, or both
 * naming one account. cert is what auth_cert_check() verified.
 */
static enum auth_verdict
auth_identify(struct authenticator *a, const struct auth_request *req,
    const struct auth_cert *cert, char *reason, size_t reasonlen)
{
	char			 by_cert[AUTH_USER_MAX + 1], **groups = NULL;
	size_t			 n_groups = 0;
	enum auth_verdict	 v;

	if (a->env->cfg->auth_identity == AUTH_IDENTITY_PASSWORD)
		return auth_credentials(a, req, reason, reasonlen);
	if (!cert->present) {
		snprintf(reason, reasonlen, "no client certificate");
		return AUTH_BAD_CREDENTIALS;
	}
	if (a->env->cfg->auth_identity == AUTH_IDENTITY_CERT) {
		free(a->groups);
		a->groups = NULL;
		return auth_cert_account(a, req, cert->name, a->user,
		    &a->groups, &a->n_groups, reason, reasonlen);
	}
	if ((v = auth_credentials(a, req, reason, reasonlen)) != AUTH_ALLOW)
		return v;
	/* The password login's groups stay; the certificate's only name. */
	v = auth_cert_account(a, req, cert->name, by_cert, &groups, &n_groups,
	    reason, reasonlen);
	free(groups);
	if (v == AUTH_ALLOW && strcmp(by_cert, a->user) != 0) {
		(void)snprintf(reason, reasonlen, "client certificate names "
		    "%.40s, the password %.40s", by_cert, a->user);
		v = AUTH_BAD_CREDENTIALS;
	}
	if (v != AUTH_ALLOW) {
		a->user[0] = '\0';
		free(a->groups);
		a->groups = NULL;
	}
	return v;
}

static enum auth_verdict
auth_connect(struct authenticator *a, const struct auth_request *req, int *fd,
    struct audit_record *rec)
{
	struct policy_subject	 subject = { .user = a->user };
	char			**groups = NULL;
	size_t			 n_groups = 0;
	enum auth_verdict	 v;

	/* LDAP's always; a PAM login's when its cache entry kept them. */
	if (a->env->cfg->auth_backend == AUTH_BACKEND_LDAP ||
	    a->groups != NULL) {
		groups = a->groups;
		n_groups = a->n_groups;
		a->groups = NULL;
	} else {
		auth_before_wait();
		if (auth_groups(a->user, &groups, &n_groups, rec->reason,
		    sizeof(rec->reason)) == -1)
			return AUTH_UNAVAILABLE;
	}
	subject.groups = (const char *const *)groups;
	subject.n_groups = n_groups;
	/* What the policy judged: the auditor sees why a user was denied. */
	auditlog_groups(rec->groups, subject.groups, n_groups);
	v = auth_backend_connect(a->env->cfg, a->env->policy, &subject,
	    req->host, req->port, req->deadline_ms, fd, rec->rule, rec->resolved,
	    rec->reason, sizeof(rec->reason));
	free(groups);
	return v;
}

/* Before any wait: a gate worker fails exactly a dead pid's requests. */
static void
auth_take(int sock, const struct auth_request *req)
{
	struct auth_taken	 taken;

	memset(&taken, 0, sizeof(taken));
	auth_msg_init(&taken.hdr, AUTH_MSG_TAKEN, req->hdr.req_id);
	taken.pid = (uint32_t)getpid();
	auth_send(sock, &taken, sizeof(taken), -1);
}

/*
 * A request answered from memory (a cached login, an address literal, a
 * connect that completes at once) is over before its gate worker could
 * act on a TAKEN, and a TAKEN would only wake it once more. So the request
 * being answered is announced here, by whatever is about to wait on
 * something outside this process; once per request.
 */
void
auth_before_wait(void)
{
	struct authenticator	*a = auth_self;

	if (a == NULL || a->serving == NULL)
		return;
	auth_take(a->serving_sock, a->serving);
	a->serving = NULL;
}

/*
 * The credentials were right: the account's tunnel limits, then the policy
 * and the back-end connect. A tunnel counted here and not allowed gives
 * its place back at once; an allowed one, when the master sees it end.
 */
static enum auth_verdict
auth_open(struct authenticator *a, struct auth_request *req, int *fd,
    struct audit_record *rec, bool *too_many)
{
	const struct config	*cfg = a->env->cfg;
	enum auth_verdict	 v;
	int			 over;

	/* From here on the account's name, not the typed one. */
	AUDIT_SET(rec->user, a->user);
	if ((over = auth_throttle_tunnel(cfg, a->user, auth_now_ms())) != 0) {
		*too_many = true;
		if (over == THROTTLE_TUNNELS)
			snprintf(rec->reason, sizeof(rec->reason), "too many "
			    "new tunnels for this user (limits.user_rate %u a "
			    "minute)", cfg->limit_user_rate);
		else
			snprintf(rec->reason, sizeof(rec->reason), "too many "
			    "tunnels open for this user (limits.user_tunnels "
			    "%u)", cfg->limit_user_tunnels);
		return AUTH_THROTTLED;
	}
	if ((v = auth_connect(a, req, fd, rec)) != AUTH_ALLOW)
		auth_throttle_tunnel_gone(cfg, a->user, auth_now_ms());
	return v;
}

/* announced: its gate worker has had a TAKEN for it. */
static void
auth_answer(struct authenticator *a, int sock, struct auth_request *req,
    bool announced)
{
	struct auth_reply	 reply;
	struct audit_record	 rec;
	struct auth_cert	 cert;
	enum auth_verdict	 v;
	int			 fd = -1;
	bool			 too_many = false;
	int64_t			 started_ms = auth_now_ms();

	memset(&rec, 0, sizeof(rec));
	rec.tunnel_id = req->tunnel_id;
	AUDIT_SET(rec.client, req->client);
	AUDIT_SET(rec.proxy, req->proxy);
	AUDIT_SET(rec.user, req->user);
	snprintf(rec.target, sizeof(rec.target), strchr(req->host, ':') ?
	    "[%s]:%u" : "%s:%u", req->host, req->port);
	AUDIT_SET(rec.tls_version, req->tls_version);
	AUDIT_SET(rec.tls_cipher, req->tls_cipher);
	a->serving_sock = sock;
	a->serving = announced ? NULL : req;
	/* Set only by credentials accepted for this request. */
	a->user[0] = '\0';
	free(a->groups);
	a->groups = NULL;
	a->n_groups = 0;
	v = auth_cert_check(a->env->cfg, a->env->client_ca, req, &cert,
	    rec.reason, sizeof(rec.reason));
	AUDIT_SET(rec.cert_subject, cert.subject);
	AUDIT_SET(rec.cert_sha256, cert.sha256);
	/* The certificate's name is the one throttled, checked and audited. */
	if (a->env->cfg->auth_identity == AUTH_IDENTITY_CERT) {
		AUDIT_SET(req->user, cert.name);
		AUDIT_SET(rec.user, cert.name);
	}

	if (auth_now_ms() >= req->deadline_ms) {
		/* The gate worker has answered 503 already; do nothing for it. */
		v = AUTH_UNAVAILABLE;
		AUDIT_SET(rec.reason, "request expired before an authenticator "
		    "was free");
	} else if (a->retired && auth_now_ms() > a->retire_by) {
		/*
		 * A retired gate worker accepts nothing new, so a request this
		 * late comes from one that ignored retire: the policy it would
		 * be judged by has been replaced.
		 */
		v = AUTH_UNAVAILABLE;
		AUDIT_SET(rec.reason, "generation retired by a reload");
	} else if (auth_lockout_refused(a->env, req, rec.reason, sizeof(rec.reason))) {
		/* Whatever the password: a right one must not end a lockout. */
		v = AUTH_THROTTLED;
	} else {
		if (v == AUTH_ALLOW)
			v = auth_identify(a, req, &cert, rec.reason,
			    sizeof(rec.reason));
		if (v == AUTH_BAD_CREDENTIALS || v == AUTH_ACCOUNT_UNUSABLE)
			auth_lockout_count(a->env, req);
		else if (v == AUTH_ALLOW)
			auth_throttle_succeeded(a->env->cfg, req->user,
			    auth_now_ms());
		if (v == AUTH_ALLOW)
			v = auth_open(a, req, &fd, &rec, &too_many);
	}
	explicit_bzero(req->password, sizeof(req->password));

	switch (v) {
	case AUTH_ALLOW:
		rec.event = AUDIT_ALLOW;
		break;
	case AUTH_BAD_CREDENTIALS:
	case AUTH_ACCOUNT_UNUSABLE:
	case AUTH_THROTTLED:
		rec.event = AUDIT_AUTH_FAIL;
		break;
	case AUTH_POLICY_DENY:
		rec.event = AUDIT_DENY;
		break;
	default:
		rec.event = AUDIT_ERROR;
	}
	/* The credentials were right: the account is over a limit. */
	if (too_many)
		rec.event = AUDIT_ERROR;
	/* For the master's latency histogram; decision lines do not show it. */
	rec.duration_ms = (uint64_t)(auth_now_ms() - started_ms);
	/*
	 * The master writes a gate worker's open only after this allow: a
	 * tunnel whose allow was lost would have no open, so it gets none.
	 */
	if (ctl_send_audit(a->env->ctl_fd, &rec) == -1 &&
	    rec.event == AUDIT_ALLOW) {
		close(fd);
		fd = -1;
		auth_throttle_tunnel_gone(a->env->cfg, a->user, auth_now_ms());
		v = AUTH_UNAVAILABLE;
		AUDIT_SET(rec.reason, "the allow record could not reach the "
		    "master");
	}

	memset(&reply, 0, sizeof(reply));
	auth_msg_init(&reply.hdr, AUTH_MSG_REPLY, req->hdr.req_id);
	reply.verdict = v;
	reply.pid = (uint32_t)getpid();
	AUDIT_SET(reply.rule, rec.rule);
	AUDIT_SET(reply.resolved, rec.resolved);
	AUDIT_SET(reply.reason, rec.reason);
	AUDIT_SET(reply.user, a->user);
	a->serving = NULL;
	auth_send(sock, &reply, sizeof(reply), fd);
	if (fd != -1)
		close(fd);
}

/*
 * The gate worker on slot broke the protocol. Never read that socket again
 * (events 0 leaves only its hang-up visible), and let the master kill the
 * gate worker; it sends a fresh socket with the replacement.
 */
/* Ask the master to kill and replace the gate worker of that socket. */
static void
auth_report_gate(struct authenticator *a, size_t slot, const char *why)
{
	struct ctl_gate_broke	 m;

	memset(&m, 0, sizeof(m));
	ctl_hdr_init(&m.hdr, CTL_GATE_BROKE);
	m.slot = (uint32_t)slot;
	m.serial = a->serials[slot];
	AUDIT_SET(m.why, why);
	if (ctl_send(a->env->ctl_fd, &m, sizeof(m), NULL, 0) == -1)
		log_warn("authenticator: cannot tell the master");
}

/*
 * Every authenticator watches every gate socket. EPOLLEXCLUSIVE wakes one
 * idle authenticator per request, not the whole pool only for all but one
 * to find the socket empty; a busy one still sees it readable when it
 * looks again. A suspended socket (events 0) shows only its hang-up.
 */
static void
auth_watch(struct authenticator *a, size_t slot, short events)
{
	struct epoll_event	 e = { .data.u64 = slot };

	if (events != 0)
		e.events = EPOLLIN | (slot < a->env->n_socks ? EPOLLEXCLUSIVE :
		    0);
	a->pfds[slot].events = events;
	a->pfds[slot].revents = 0;
	if (epoll_ctl(a->epfd, EPOLL_CTL_ADD, a->pfds[slot].fd, &e) == -1)
		fatal("authenticator: epoll_ctl add");
}

/* The socket is shared with other processes: close() alone leaves it in. */
static void
auth_unwatch(struct authenticator *a, size_t slot)
{
	if (epoll_ctl(a->epfd, EPOLL_CTL_DEL, a->pfds[slot].fd, NULL) == -1)
		fatal("authenticator: epoll_ctl del");
}

static void
auth_suspend(struct authenticator *a, size_t slot, const char *what)
{
	log_warnx("gate socket %zu: its gate worker %s; not reading it until "
	    "the master replaces that gate worker", slot, what);
	auth_unwatch(a, slot);
	auth_watch(a, slot, 0);
	auth_report_gate(a, slot, what);
}

static void
auth_close_sock(struct authenticator *a, size_t slot)
{
	auth_unwatch(a, slot);
	close(a->pfds[slot].fd);
	a->pfds[slot].fd = -1;
	a->n_open--;
	auth_held_drop_slot(&a->held, slot);
}

/*
 * A request is quick when its credentials are in the cache (or it has
 * expired, or names no user the policy could): answer it now. Any other is held, to be served after everything
 * quick that is queued behind it.
 */
static void
auth_triage(struct authenticator *a, size_t slot, struct auth_request *req)
{
	enum auth_verdict	 v;
	int64_t			 now = auth_now_ms();

	/*
	 * The deadline is the gate worker's word: one far off would let a
	 * compromised gate worker keep the pool busy past timeouts.auth.
	 */
	if (req->deadline_ms > now + a->env->cfg->timeout_auth_ms)
		req->deadline_ms = now + a->env->cfg->timeout_auth_ms;
	if (now >= req->deadline_ms || auth_user_refusal(req->user) != NULL ||
	    auth_lockout_refused(a->env, req, NULL, 0) || auth_cache_lookup(a->cache, req->user, req->password, now, &v,
	    NULL, NULL, NULL)) {
		auth_answer(a, a->pfds[slot].fd, req, false);
		return;
	}
	/* A held request waits behind others: its gate worker learns now. */
	auth_take(a->pfds[slot].fd, req);
	auth_held_put(&a->held, slot, a->serials[slot], req);
}

/*
 * Take one request from a gate socket if another authenticator did not.
 * Returns 1 if one was taken; 0 when the socket has nothing more this round.
 */
static int
auth_dispatch_gate(struct authenticator *a, size_t slot)
{
	union {
		struct auth_request	req;
		uint8_t			raw[AUTH_MSG_BUF];
	} m;
	struct pollfd	*pfd = &a->pfds[slot];
	struct msg_in	 in;
	char		 what[CTL_WHY_MAX];

	if (pfd->events == 0) {
		if (pfd->revents & (POLLHUP | POLLERR))
			auth_close_sock(a, slot);
		return 0;
	}
	switch (msg_recv(&auth_proto, pfd->fd, MSG_GATE, MSG_AUTH, &m,
	    sizeof(m), &in)) {
	case MSG_AGAIN:
		return 0;
	case MSG_EOF:
		/*
		 * A retired gate worker closes its socket when done; any other
		 * has died or hung up on purpose, and the master replaces it.
		 */
		if (!a->retired)
			auth_report_gate(a, slot, "hung up on its authenticator "
			    "socket");
		auth_close_sock(a, slot);
		return 0;
	case MSG_BAD:
		(void)snprintf(what, sizeof(what), "sent a bad message (%s)",
		    in.why);
		auth_suspend(a, slot, what);
		return 0;
	case MSG_OK:
		break;
	}
	auth_triage(a, slot, &m.req);
	explicit_bzero(&m, sizeof(m));
	return 1;
}

/*
 * One request at a time from each readable socket in turn, so that no gate
 * worker's queue hides another's, until the sockets are empty, the held
 * set is full or a round's worth was taken. A socket whose slot holds its
 * share is left for later, as all are when the set is full: what it sends
 * next may be one more miss. A pass in which an answer
 * waited on a full gate socket ends the round, so that the held requests
 * and the master's messages are not kept waiting behind a slow reader
 * (one that stays full is suspended by auth_send()).
 */
static void
auth_pull(struct authenticator *a)
{
	size_t	 i, n = a->env->n_socks, taken = 0;
	int	 more = 1;

	auth_send_waited = false;
	while (more && !auth_send_waited && a->held.n_held < AUTH_HELD_MAX &&
	    taken < AUTH_ROUND_MAX) {
		more = 0;
		for (i = 0; i < n && a->held.n_held < AUTH_HELD_MAX; i++) {
			if (a->pfds[i].fd == -1 || a->pfds[i].revents == 0 ||
			    !auth_held_room(&a->held, i))
				continue;
			if (auth_dispatch_gate(a, i)) {
				more = 1;
				taken++;
			} else
				a->pfds[i].revents = 0;
		}
	}
}

/* The next held request; its socket may have been replaced meanwhile. */
static void
auth_serve_held(struct authenticator *a)
{
	struct auth_held	*h = auth_held_next(&a->held);

	if (h == NULL)
		return;
	/* A suspended socket's gate worker is being replaced. */
	if (a->pfds[h->slot].fd != -1 && a->pfds[h->slot].events != 0 &&
	    a->serials[h->slot] == h->serial)
		auth_answer(a, a->pfds[h->slot].fd, &h->req, true);
	auth_held_done(&a->held, h);
}

/* A gate slot's new socket pair: the old socket, if still open, goes. */
static void
auth_replace_sock(struct authenticator *a, const struct ctl_auth_socket *s,
    int fd)
{
	struct pollfd	*pfd;

	if (s->slot >= a->env->n_socks)
		fatalx("authenticator: the master named gate slot %u of %zu",
		    s->slot, a->env->n_socks);
	pfd = &a->pfds[s->slot];
	if (pfd->fd != -1) {
		auth_unwatch(a, s->slot);
		close(pfd->fd);
		auth_held_drop_slot(&a->held, s->slot);
	} else
		a->n_open++;
	pfd->fd = fd;
	auth_watch(a, s->slot, POLLIN);
	a->serials[s->slot] = s->serial;
}

/* 0, or -1 when the master is gone. */
static int
auth_dispatch_master(struct authenticator *a)
{
	union {
		struct ctl_auth_socket	sock;
		struct ctl_recheck	recheck;
		struct ctl_ping		ping;
		uint8_t			raw[CTL_MSG_BUF];
	} m;
	struct msg_in	 in;

	for (;;) {
		switch (msg_recv(&ctl_proto, a->env->ctl_fd, MSG_MASTER,
		    MSG_AUTH, &m, sizeof(m), &in)) {
		case MSG_AGAIN:
			return 0;
		case MSG_EOF:
			return -1;
		case MSG_BAD:
			fatalx("authenticator: bad message from the master: %s",
			    in.why);
		case MSG_OK:
			break;
		}
		switch (in.t->type) {
		case CTL_RETIRE:
			/* Connections accepted before it may still ask. */
			a->retired = true;
			a->retire_by = auth_now_ms() +
			    a->env->cfg->timeout_handshake_ms +
			    a->env->cfg->timeout_request_ms;
			break;
		case CTL_RECHECK:
			auth_recheck_answer(a->env, &m.recheck);
			break;
		case CTL_PING:
			(void)ctl_pong(a->env->ctl_fd, &m.ping);
			break;
		default:
			auth_replace_sock(a, &m.sock, in.fds[0]);
		}
	}
}

/* Fills each slot's revents as poll() would; -1 on EINTR. */
static int
auth_wait(struct authenticator *a, int timeout_ms)
{
	struct epoll_event	 ev[TG_MAX_GATE_WORKERS + 1];
	size_t			 n = a->env->n_socks;
	int			 k;

	if ((k = epoll_wait(a->epfd, ev, (int)(n + 1), timeout_ms)) == -1) {
		if (errno == EINTR)
			return -1;
		fatal("authenticator: epoll_wait");
	}
	for (size_t i = 0; i <= n; i++)
		a->pfds[i].revents = 0;
	for (int j = 0; j < k; j++)
		if (ev[j].data.u64 <= n)
			a->pfds[ev[j].data.u64].revents = (short)ev[j].events;
	return 0;
}

void
authenticator_main(void *arg)
{
	struct authenticator	 a;
	const struct auth_env	*env = arg;
	const struct config	*cfg = env->cfg;
	size_t			 i, n = env->n_socks;

	/*
	 * libldap frees the encoded bind request, password included, without
	 * wiping it, and PAM modules may do the same with their copies. glibc
	 * then overwrites what is freed (except small blocks it caches per
	 * thread; libldap's BER buffers are larger). Sanitizer allocators
	 * ignore it.
	 */
	(void)mallopt(M_PERTURB, 0xa5);
	memset(&a, 0, sizeof(a));
	a.env = env;
	auth_self = &a;
	if (n > TG_MAX_GATE_WORKERS)
		fatalx("authenticator: %zu gate sockets, at most %d", n,
		    TG_MAX_GATE_WORKERS);
	a.cache = auth_cache_new(cfg->cache_max_entries,
	    cfg->cache_positive_ttl_ms, cfg->cache_negative_ttl_ms);
	if (a.cache == NULL)
		fatalx("authenticator: cannot allocate the credential cache");
	if (cfg->auth_backend == AUTH_BACKEND_LDAP)
		auth_ldap_init();
	if ((a.epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		fatal("authenticator: epoll_create1");
	for (i = 0; i <= n; i++) {
		a.pfds[i].fd = i < n ? env->socks[i] : env->ctl_fd;
		auth_watch(&a, i, POLLIN);
		if (i < n)
			a.serials[i] = env->serials[i];
	}
	a.n_open = n;
	auth_held_init(&a.held, n);
	/* Until retired, a gate slot with no socket waits for its new pair. */
	while (!a.retired || a.n_open > 0) {
		/* While requests are held, only look at what else is queued. */
		if (auth_wait(&a, a.held.n_held > 0 ? 0 : -1) == -1)
			continue;
		/* First: a replaced socket's old events must not be acted on. */
		if (a.pfds[n].revents && auth_dispatch_master(&a) == -1)
			break;
		auth_pull(&a);
		auth_serve_held(&a);
	}
	explicit_bzero(&a.held, sizeof(a.held));
	auth_cache_free(a.cache);
	exit(0);
}
