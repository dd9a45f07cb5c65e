/*
 * The master's side of the control protocol: one dispatch function for
 * every child, reading through the table in ctl.c with the role the master
 * knows the child has, never the one a message claims. A child that sends
 * what the table refuses, a report its role cannot make, or more than the
 * rate bound allows is killed and replaced; nothing it sent after that is
 * read.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "allows.h"
#include "audit.h"
#include "auth_throttle.h"
#include "ctl.h"
#include "log.h"
#include "master_priv.h"
#include "metrics.h"
#include "proc.h"
#include "tunnels.h"
#include "user_tunnels.h"

const char *
master_child_name(enum child_kind kind)
{
	switch (kind) {
	case CHILD_AUTH:
		return "authenticator";
	case CHILD_GATE:
		return "gate worker";
	case CHILD_RELAY:
		return "relay worker";
	case CHILD_KEY:
		return "key process";
	case CHILD_METRICS:
		return "metrics child";
	}
	return "child";
}

static unsigned
child_role(const struct child *c)
{
	switch (c->kind) {
	case CHILD_AUTH:
		return MSG_AUTH;
	case CHILD_GATE:
		return MSG_GATE;
	case CHILD_RELAY:
		return MSG_RELAY;
	case CHILD_KEY:
		return MSG_KEY;
	case CHILD_METRICS:
		return MSG_METRICS;
	}
	return 0;
}

void
master_audit_own(const char *reason)
{
	struct audit_record	 rec;

	memset(&rec, 0, sizeof(rec));
	rec.event = AUDIT_VIOLATION;
	AUDIT_SET(rec.reason, reason);
	auditlog_write_own(&rec);
}

void
master_audit_reload(const char *by, bool applied, const char *why)
{
	struct audit_record	 rec;
	char			 reason[sizeof(rec.reason)];

	memset(&rec, 0, sizeof(rec));
	rec.event = AUDIT_RELOAD;
	(void)snprintf(reason, sizeof(reason), "%s: %s",
	    applied ? "applied" : "refused", why);
	AUDIT_SET(rec.reason, reason);
	AUDIT_SET(rec.by, by);
	/* After a refusal, the policy that stays in force. */
	AUDIT_SET(rec.policy, policy_hash(m.gen->policy));
	rec.count = policy_rule_count(m.gen->policy);
	auditlog_write_own(&rec);
}

void
master_audit_cache_flush(const char *by, const char *user, bool applied,
    unsigned entries)
{
	struct audit_record	 rec;
	char			 reason[sizeof(rec.reason)];

	memset(&rec, 0, sizeof(rec));
	rec.event = AUDIT_CACHE_FLUSH;
	(void)snprintf(reason, sizeof(reason), "%s: %s", applied ? "applied" :
	    "refused", !applied ? "an authenticator holds the credential "
	    "cache" : user != NULL ? "one user" : "every user");
	AUDIT_SET(rec.reason, reason);
	AUDIT_SET(rec.by, by);
	if (user != NULL)
		AUDIT_SET(rec.user, user);
	rec.count = entries;
	auditlog_write_own(&rec);
}

/*
 * What the master adds to a child's record: the version of the policy
 * that decided, from the sender's generation or, for a close, from the
 * tunnel table; groups only as an authenticator or the table says.
 */
static void
master_audit_stamp(const struct child *c, struct audit_record *r)
{
	const struct tunnel	*t;
	int64_t			 keep;

	r->policy[0] = '\0';
	if (c->kind != CHILD_AUTH)
		r->groups[0] = '\0';
	else if (r->event == AUDIT_ALLOW) {
		/* A gate worker opens within its request's auth timeout. */
		keep = c->gen->cfg->timeout_auth_ms;
		allows_put(r, proc_now_ms() + (keep > TG_GRANT_OPEN_MS ? keep :
		    TG_GRANT_OPEN_MS));
	}
	if (r->event == AUDIT_CLOSE) {
		if ((t = tunnels_find(r->tunnel_id)) != NULL) {
			AUDIT_SET(r->policy, t->facts.policy);
			AUDIT_SET(r->groups, t->facts.groups);
		}
	} else if (c->gen != NULL && r->event != AUDIT_LOCKOUT)
		AUDIT_SET(r->policy, policy_hash(c->gen->policy));
}

/*
 * A gate worker's open carries what an authenticator allowed for that
 * tunnel (allows.h), or is not written. The allow record was sent before
 * the gate worker had its answer, but on another socket: read what the
 * authenticators sent first. No allow: that tunnel ends, not the worker,
 * which may be honest and only late.
 */
static bool
master_open_allowed(struct child *gate, struct audit_record *r)
{
	if (allows_take(r))
		return true;
	master_drain(CHILD_AUTH);
	if (allows_take(r))
		return true;
	log_warnx("gate worker %d: open record for tunnel %016llx, which no "
	    "authenticator allowed (or two did); not written", (int)gate->pid,
	    (unsigned long long)r->tunnel_id);
	tunnels_end_untracked(gate, r->tunnel_id);
	return false;
}

void
master_kill_child(struct child *c, const char *what)
{
	char	 who[64], line[256];

	if (c->killed)
		return;
	c->killed = true;
	if (c->gen != NULL)
		snprintf(who, sizeof(who), "%s %d (generation %u)",
		    master_child_name(c->kind), (int)c->pid, c->gen->id);
	else
		snprintf(who, sizeof(who), "%s %d", master_child_name(c->kind),
		    (int)c->pid);
	log_warnx("%s: %s; killing it", who, what);
	snprintf(line, sizeof(line), "%s killed: %s", who, what);
	master_audit_own(line);
	if (!c->reaped)
		kill(c->pid, SIGKILL);
	epoll_ctl(m.epfd, EPOLL_CTL_DEL, c->ctl_fd, NULL);
}

/* A token bucket; every tunnel a child holds may end at once. */
static bool
master_rate_ok(struct child *c)
{
	const int64_t	 cost = 1000;
	int64_t		 now = proc_now_ms(), cap;
	unsigned	 limit = c->gen != NULL ? c->gen->cfg->limit_connections :
			    m.relay_init.limit_tunnels;

	cap = ((int64_t)CTL_RATE_BURST + limit) * cost;
	if (c->tokens_at == 0)
		c->tokens = cap;
	else
		c->tokens += (now - c->tokens_at) * CTL_RATE_PER_SEC;
	if (c->tokens > cap)
		c->tokens = cap;
	c->tokens_at = now;
	if (c->tokens < cost)
		return false;
	c->tokens -= cost;
	return true;
}

/* What a record means for limits.user_tunnels (user_tunnels.h). */
static void
master_count_user_tunnels(struct child *c, const struct audit_record *rec)
{
	if (c->kind == CHILD_AUTH && rec->event == AUDIT_ALLOW) {
		if (auth_throttle_counts_tunnels(c->gen->cfg))
			user_tunnels_granted(rec->tunnel_id, rec->user,
			    proc_now_ms());
	} else if (c->kind == CHILD_GATE && rec->event == AUDIT_OPEN) {
		/* The allow record was sent first, but on another socket. */
		if (!user_tunnels_opened(rec->tunnel_id)) {
			master_drain(CHILD_AUTH);
			user_tunnels_opened(rec->tunnel_id);
		}
	} else if (c->kind == CHILD_GATE && rec->event == AUDIT_ERROR)
		user_tunnels_failed(rec->tunnel_id);
}

static void
master_audit_child(struct child *c, const struct audit_record *sent)
{
	struct audit_record	 stamped = *sent, *rec = &stamped;
	struct audit_sender	 s = { msg_role_name(child_role(c)), c->pid,
				    c->gen != NULL ? c->gen->id : 0 };
	const char		*why;

	/*
	 * Not killed: a compromised gate worker could hand a relay worker a
	 * tunnel without telling the master, and an honest relay worker
	 * would then be punished for closing it. Nor one whose close record
	 * the master wrote already, when a worker died with it in flight.
	 */
	if (rec->event == AUDIT_CLOSE && (c->kind == CHILD_RELAY ?
	    !relays_closed(c, rec->tunnel_id) :
	    !tunnels_holds(c, rec->tunnel_id))) {
		log_warnx("%s %d: close record for tunnel %016llx, which it "
		    "does not hold; not written", master_child_name(c->kind),
		    (int)c->pid, (unsigned long long)rec->tunnel_id);
		return;
	}
	master_audit_stamp(c, rec);
	if (c->kind == CHILD_GATE && rec->event == AUDIT_OPEN &&
	    !master_open_allowed(c, rec))
		return;
	if (rec->event == AUDIT_OPEN && (why = tunnels_open(c, rec)) != NULL) {
		master_kill_child(c, why);
		return;
	}
	auditlog_write(rec, &s);
	metrics_audit(rec, c->kind == CHILD_AUTH);
	if (rec->event == AUDIT_CLOSE)
		tunnels_close(c, rec->tunnel_id);
	master_count_user_tunnels(c, rec);
}

static struct child *
master_find_gate(const struct generation *gen, unsigned slot)
{
	struct child	*c;

	TAILQ_FOREACH(c, &m.children, entry)
		if (c->gen == gen && c->kind == CHILD_GATE && c->slot == slot)
			return c;
	return NULL;
}

/*
 * An authenticator or key process names the gate socket; the master knows
 * who holds it.
 */
static const char *
master_gate_broke(struct child *from, const struct ctl_gate_broke *b)
{
	struct generation	*gen = from->gen;
	struct child		*gate;
	char			 what[192];

	if (b->slot >= gen->cfg->gate_workers)
		return "names a gate socket that does not exist";
	/* Authenticators serve every gate socket, a key process one. */
	if (from->kind == CHILD_KEY && b->slot != from->slot)
		return "names a gate socket other than its own";
	/*
	 * A report on a pair already replaced is about a dead worker; a
	 * retired generation's gate workers close their sockets when done.
	 */
	if (gen->retired || m.stopping || b->serial != gen->serials[b->slot] ||
	    (gate = master_find_gate(gen, b->slot)) == NULL)
		return NULL;
	snprintf(what, sizeof(what), "%s, says %s %d", b->why,
	    master_child_name(from->kind), (int)from->pid);
	master_kill_child(gate, what);
	return NULL;
}

/*
 * A report moves a relay worker's count only for a tunnel the table gives
 * the gate worker. An id the table does not know is not counted, and the
 * sender is not killed: an honest gate worker hands on a tunnel whose open
 * record was lost or refused (master_open_allowed) before it reads the
 * order to end it, and the relay worker is told when it reports the
 * tunnel. A tunnel the table gives to someone else no honest gate worker
 * reports: counted, it would let one fill any relay worker.
 */
static const char *
master_handoff(struct child *gate, const struct ctl_handoff *h, bool sent)
{
	const char	*why;

	if (tunnels_find(h->tunnel_id) == NULL) {
		if (sent)
			log_warnx("gate worker %d: handoff of tunnel %016llx, "
			    "which the master has no record of; not counted",
			    (int)gate->pid, (unsigned long long)h->tunnel_id);
		else	/* its relay worker died, the tunnel with it */
			tunnels_end_untracked(gate, h->tunnel_id);
		return NULL;
	}
	if (!tunnels_may_report(gate, h->relay, h->tunnel_id, sent))
		return sent ? "a handoff of a tunnel it does not hold" :
		    "a failed handoff it never reported";
	if ((why = relays_handoff(h, sent)) == NULL)
		tunnels_handoff(gate, h->relay, h->tunnel_id, sent);
	return why;
}

static const char *
master_handle(struct child *c, const struct msg_type *t, const void *msg)
{
	switch (t->type) {
	case CTL_AUDIT:
		master_audit_child(c, &((const struct ctl_audit *)msg)->rec);
		return NULL;
	case CTL_HANDOFF:
	case CTL_HANDOFF_FAILED:
		return master_handoff(c, msg, t->type == CTL_HANDOFF);
	case CTL_TUNNEL_STATS:
		tunnels_stats(c, msg);
		return NULL;
	case CTL_GATE_BROKE:
		return master_gate_broke(c, msg);
	case CTL_METRICS_ASK:
		metrics_send(c->ctl_fd);
		return NULL;
	case CTL_RECHECK_REPLY:
		return recheck_reply(c, msg);
	case CTL_PONG:
		return heartbeat_pong(c, msg);
	}
	return "a message the master does not take";
}

void
master_dispatch_child(struct child *c)
{
	union {
		struct ctl_audit	audit;
		struct ctl_handoff	handoff;
		struct ctl_gate_broke	broke;
		struct ctl_tunnel_stats	stats;
		struct ctl_recheck_reply recheck;
		uint8_t			raw[CTL_MSG_BUF];
	} msg;
	struct msg_in	 in;
	const char	*why;

	while (!c->killed) {
		switch (msg_recv(&ctl_proto, c->ctl_fd, child_role(c),
		    MSG_MASTER, &msg, sizeof(msg), &in)) {
		case MSG_AGAIN:
			return;
		case MSG_EOF:
			/* Exiting, SIGCHLD follows; else master_timers kills it. */
			epoll_ctl(m.epfd, EPOLL_CTL_DEL, c->ctl_fd, NULL);
			c->hung_up_at = proc_now_ms();
			return;
		case MSG_BAD:
			master_kill_child(c, in.why);
			return;
		case MSG_OK:
			break;
		}
		/*
		 * Authenticators write a record per request a gate worker
		 * sends; bounding them would let a gate worker's flood get the
		 * privileged side killed. Gate workers are bounded instead.
		 */
		if (c->kind != CHILD_AUTH && !master_rate_ok(c))
			why = "over CTL_RATE_PER_SEC control messages a second";
		else
			why = master_handle(c, in.t, &msg);
		if (why != NULL)
			master_kill_child(c, why);
	}
}

void
master_drain(enum child_kind kind)
{
	struct child	*c;

	TAILQ_FOREACH(c, &m.children, entry)
		if (c->kind == kind)
			master_dispatch_child(c);
}
