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

#include "audit.h"
#include "ctl.h"
#include "log.h"
#include "master_priv.h"
#include "proc.h"

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
	}
	return 0;
}

void
master_audit_own(const char *reason)
{
	struct audit_record	 rec;
	struct audit_sender	 me = { msg_role_name(MSG_MASTER), getpid(), 0 };

	memset(&rec, 0, sizeof(rec));
	rec.event = AUDIT_VIOLATION;
	AUDIT_SET(rec.reason, reason);
	auditlog_write(&rec, &me);
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

static void
master_audit_child(struct child *c, const struct audit_record *rec)
{
	struct audit_sender	 s = { msg_role_name(child_role(c)), c->pid,
				    c->gen != NULL ? c->gen->id : 0 };

	/*
	 * Not killed: a compromised gate worker could hand a relay worker a
	 * tunnel without telling the master, and an honest relay worker
	 * would then be punished for closing it.
	 */
	if (c->kind == CHILD_RELAY && rec->event == AUDIT_CLOSE &&
	    !relays_closed(c, rec->tunnel_id)) {
		log_warnx("relay worker %d: close record for tunnel %016llx, "
		    "which it was never handed; not written", (int)c->pid,
		    (unsigned long long)rec->tunnel_id);
		return;
	}
	auditlog_write(rec, &s);
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

/* An authenticator names the gate socket; the master knows who holds it. */
static const char *
master_gate_broke(struct child *auth, const struct ctl_gate_broke *b)
{
	struct generation	*gen = auth->gen;
	struct child		*gate;
	char			 what[160];

	if (b->slot >= gen->cfg->gate_workers)
		return "names a gate socket that does not exist";
	/*
	 * A report on a pair already replaced is about a dead worker; a
	 * retired generation's gate workers close their sockets when done.
	 */
	if (gen->retired || m.stopping || b->serial != gen->serials[b->slot] ||
	    (gate = master_find_gate(gen, b->slot)) == NULL)
		return NULL;
	snprintf(what, sizeof(what), "%s, says authenticator %d", b->why,
	    (int)auth->pid);
	master_kill_child(gate, what);
	return NULL;
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
		return relays_handoff(msg, t->type == CTL_HANDOFF);
	case CTL_GATE_BROKE:
		return master_gate_broke(c, msg);
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
master_drain_gates(void)
{
	struct child	*c;

	TAILQ_FOREACH(c, &m.children, entry)
		if (c->kind == CHILD_GATE)
			master_dispatch_child(c);
}
