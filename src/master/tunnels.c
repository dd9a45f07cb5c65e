/*
 * The master's tunnel table (tunnels.h). A balanced tree (tsearch) finds a
 * tunnel by id in O(log n) whatever ids children send; a list keeps them in
 * the order they opened for status.
 */
#include <search.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "master_priv.h"
#include "metrics.h"
#include "proc.h"
#include "tg_limits.h"
#include "tunnels.h"
#include "tunnelset.h"
#include "user_tunnels.h"

#define REASON_WORKER_DIED	"worker_died"
/* handoff_refuse(): a refusal over the relay worker's audit rate. */
#define REASON_NOT_ADOPTED	"handoff: refused by the relay worker"
/* Its close line is not written: the master has no open line to match. */
#define REASON_UNTRACKED	"untracked: the master holds no open record of it"

TAILQ_HEAD(tunnel_list, tunnel);

static void			*tree;
static struct tunnel_list	 list = TAILQ_HEAD_INITIALIZER(list);
static size_t			 count;
static size_t			 killing;	/* with kill_due_ms set */
static size_t			 doubting;	/* with doubt_until_ms set */
/*
 * When the doubts are next looked at (0: at the next timer pass). Every
 * handoff is doubted until its relay worker reports it, so doubting is
 * rarely 0 under load, and a look walks the whole table: it happens when
 * the earliest doubt known at the last look is due, not at every pass.
 * Doubts are always TUNNEL_ADOPT_GRACE_MS from their making, so a new one
 * is never due before those already known; one resolved meanwhile costs
 * only an early look.
 */
static int64_t			 doubt_look_ms;

static int
tunnel_cmp(const void *a, const void *b)
{
	uint64_t	 x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

struct tunnel *
tunnels_first(void)
{
	return TAILQ_FIRST(&list);
}

struct tunnel *
tunnels_next(const struct tunnel *t)
{
	return TAILQ_NEXT(t, entry);
}

size_t
tunnels_count(void)
{
	return count;
}

struct tunnel *
tunnels_find(uint64_t id)
{
	void	**p = tfind(&id, &tree, tunnel_cmp);

	return p == NULL ? NULL : *p;
}

static void
tunnel_remove(struct tunnel *t)
{
	user_tunnels_ended(t->id);
	if (t->kill_due_ms != 0)
		killing--;
	if (t->doubt_until_ms != 0)
		doubting--;
	tdelete(&t->id, &tree, tunnel_cmp);
	TAILQ_REMOVE(&list, t, entry);
	count--;
	free(t);
}

/* Does this child hold t? Relay slots outlive their processes' pids. */
static bool
tunnel_held_by(const struct tunnel *t, const struct child *c)
{
	if (t->holder == TUNNEL_IN_GATE)
		return c->kind == CHILD_GATE && c->pid == t->gate_pid;
	return c->kind == CHILD_RELAY && c->slot == t->relay;
}

const char *
tunnels_open(struct child *gate, const struct audit_record *rec)
{
	struct tunnel	*t;

	if (tunnels_find(rec->tunnel_id) != NULL)
		return "an open record for a tunnel already open";
	/* An honest gate worker holds no more than limits.connections. */
	if (gate->tunnels >= gate->gen->cfg->limit_connections)
		return "more open tunnels than limits.connections";
	if ((t = calloc(1, sizeof(*t))) == NULL)
		fatal("tunnels: calloc");
	t->id = rec->tunnel_id;
	t->facts = *rec;
	t->gen = gate->gen->id;
	t->holder = TUNNEL_IN_GATE;
	t->gate_pid = gate->pid;
	t->opened_ms = t->active_ms = proc_now_ms();
	t->opened_wall_ms = proc_wall_ms();
	if (tsearch(&t->id, &tree, tunnel_cmp) == NULL)
		fatal("tunnels: tsearch");
	TAILQ_INSERT_TAIL(&list, t, entry);
	count++;
	gate->tunnels++;
	return NULL;
}

bool
tunnels_may_report(const struct child *gate, unsigned relay, uint64_t id,
    bool sent)
{
	const struct tunnel	*t = tunnels_find(id);

	if (t == NULL)
		return false;
	if (sent)
		return tunnel_held_by(t, gate);
	/* Its own handoff to that relay worker, which has not taken it. */
	return t->holder == TUNNEL_IN_RELAY && t->relay == relay && !t->taken &&
	    t->gate_pid == gate->pid;
}

void
tunnels_handoff(struct child *gate, unsigned relay, uint64_t id, bool sent)
{
	struct tunnel	*t = tunnels_find(id);

	/*
	 * A relay worker audits its refusals at a bounded rate, so silence
	 * may be a refusal: doubt the handoff until it reports the tunnel.
	 */
	if (t->doubt_until_ms == 0 && sent)
		doubting++;
	else if (t->doubt_until_ms != 0 && !sent)
		doubting--;
	t->doubt_until_ms = sent ? proc_now_ms() + TUNNEL_ADOPT_GRACE_MS : 0;
	if (sent && doubt_look_ms == 0)
		doubt_look_ms = t->doubt_until_ms;
	if (sent) {
		/* The gate worker handed it on before it read the kill. */
		if (t->kill_due_ms != 0) {
			killing--;
			t->kill_due_ms = 0;
		}
		t->holder = TUNNEL_IN_RELAY;
		t->relay = relay;
		t->taken = false;
		gate->tunnels--;
	} else {
		t->holder = TUNNEL_IN_GATE;
		gate->tunnels++;
		/* A kill sent meanwhile went to a relay worker that never had it. */
		if (t->kill_reason[0] != '\0' && t->kill_due_ms == 0)
			(void)tunnels_kill(t, (enum audit_closed_by)t->kill_by,
			    t->kill_reason);
	}
}

bool
tunnels_holds(const struct child *c, uint64_t id)
{
	const struct tunnel	*t = tunnels_find(id);

	return t != NULL && tunnel_held_by(t, c);
}

void
tunnels_end_untracked(struct child *c, uint64_t id)
{
	struct ctl_tunnel_kill	 k;

	log_warnx("%s %d holds tunnel %016llx, which the master has closed "
	    "or never heard of; telling it to end it",
	    master_child_name(c->kind), (int)c->pid, (unsigned long long)id);
	memset(&k, 0, sizeof(k));
	ctl_hdr_init(&k.hdr, CTL_TUNNEL_KILL);
	k.tunnel_id = id;
	k.closed_by = AUDIT_BY_ERROR;
	AUDIT_SET(k.reason, REASON_UNTRACKED);
	(void)master_tell(c, &k, sizeof(k), "a tunnel kill");
}

void
tunnels_close(struct child *c, uint64_t id)
{
	struct tunnel	*t = tunnels_find(id);

	if (t == NULL || !tunnel_held_by(t, c))
		return;
	if (c->kind == CHILD_GATE)
		c->tunnels--;
	tunnel_remove(t);
}

void
tunnels_stats(struct child *c, const struct ctl_tunnel_stats *s)
{
	int64_t		 now = proc_now_ms();
	struct tunnel	*t;
	bool		 drained = false, adopted;

	for (uint32_t i = 0; i < s->n; i++) {
		const struct ctl_tunnel_stat *e = &s->t[i];

		t = tunnels_find(e->tunnel_id);
		/* A relay worker may adopt before we read the gate's report. */
		if ((t == NULL || !tunnel_held_by(t, c)) &&
		    c->kind == CHILD_RELAY && !drained) {
			master_drain(CHILD_GATE);
			drained = true;
			t = tunnels_find(e->tunnel_id);
		}
		if (t == NULL) {
			tunnels_end_untracked(c, e->tunnel_id);
			continue;
		}
		if (!tunnel_held_by(t, c))
			continue;
		adopted = !t->taken;
		t->taken = true;
		if (t->doubt_until_ms != 0) {
			t->doubt_until_ms = 0;
			doubting--;
		}
		t->bytes_up = e->bytes_up;
		t->bytes_down = e->bytes_down;
		t->active_ms = e->idle_ms > now - t->opened_ms ? t->opened_ms :
		    now - e->idle_ms;
		/* Told to end while it was in flight: ask the adopter. */
		if (adopted && t->kill_reason[0] != '\0' && t->kill_due_ms == 0)
			(void)tunnels_kill(t, (enum audit_closed_by)t->kill_by,
			    t->kill_reason);
	}
}

void
tunnel_record(const struct tunnel *t, int64_t now, enum audit_event event,
    struct audit_record *rec)
{
	*rec = t->facts;
	rec->event = event;
	rec->closed_by = AUDIT_BY_NONE;
	rec->reason[0] = '\0';
	rec->bytes_up = t->bytes_up;
	rec->bytes_down = t->bytes_down;
	rec->duration_ms = (uint64_t)(now - t->opened_ms);
}

static void
tunnel_write_died(const struct tunnel *t, int64_t now, const char *reason)
{
	struct audit_record	 rec;

	tunnel_record(t, now, AUDIT_CLOSE, &rec);
	rec.closed_by = AUDIT_BY_ERROR;
	AUDIT_SET(rec.reason, reason);
	/*
	 * The master had asked for its end: that is why it ended, whether its
	 * worker died before the kill reached it (queued behind a full socket,
	 * the outbox killed it), or because it would not obey.
	 */
	if (t->kill_reason[0] != '\0') {
		rec.closed_by = t->kill_by;
		AUDIT_SET(rec.reason, t->kill_reason);
	}
	auditlog_write_own(&rec);
	metrics_audit(&rec, false);
}

/*
 * Is t, handed to a relay worker and not yet reported adopted, still
 * waiting on that relay worker's socket? scanned/queued cache one look per
 * slot. One no longer queued was read by a relay worker that died before
 * saying so, or never sent by a gate worker that died after its report: it
 * is gone either way. A relay worker that did read it, and that this look
 * raced, is told to end it when it reports it (tunnels_stats).
 */
static bool
tunnel_queued(const struct tunnel *t, bool *scanned, struct tunnelset *queued)
{
	if (!scanned[t->relay]) {
		scanned[t->relay] = true;
		relays_queued(t->relay, &queued[t->relay]);
	}
	return tunnelset_remove(&queued[t->relay], t->id) == 0;
}

/* Did t die with c? */
static bool
tunnel_died_with(const struct tunnel *t, const struct child *c,
    bool *scanned, struct tunnelset *queued)
{
	if (t->holder == TUNNEL_IN_GATE || t->taken)
		return tunnel_held_by(t, c);
	/* Handed off, not yet adopted: by c, or to c's slot. */
	if (c->kind == CHILD_GATE ? t->gate_pid != c->pid : !tunnel_held_by(t, c))
		return false;
	/* No successor will read the queue of a stopping daemon. */
	if (c->kind == CHILD_RELAY && m.stopping)
		return true;
	return !tunnel_queued(t, scanned, queued);
}

/*
 * A handoff by a gate worker that died, no longer queued and not reported
 * adopted: read by its relay worker, which has not said so yet, or never
 * sent. While that relay worker lives it gets TUNNEL_ADOPT_GRACE_MS to say
 * so, rather than a close record now and a kill when its report comes.
 */
static bool
tunnel_doubt(struct tunnel *t, const struct child *c, int64_t now)
{
	if (c->kind != CHILD_GATE || t->holder != TUNNEL_IN_RELAY ||
	    m.relays[t->relay].s.pid == 0)
		return false;
	if (t->doubt_until_ms == 0)
		doubting++;
	t->doubt_until_ms = now + TUNNEL_ADOPT_GRACE_MS;
	t->gate_died = true;
	return true;
}

void
tunnels_worker_died(struct child *c)
{
	static bool		 scanned[TG_MAX_RELAY_WORKERS];
	static struct tunnelset	 queued[TG_MAX_RELAY_WORKERS];
	struct tunnel		*t, *next;
	int64_t			 now = proc_now_ms();
	unsigned		 n = 0;

	if (c->kind != CHILD_GATE && c->kind != CHILD_RELAY)
		return;
	/*
	 * What the other side has said about handoffs in flight first: the
	 * gate workers' reports of handoffs to this relay worker, or the
	 * relay workers' adoptions of this gate worker's handoffs.
	 */
	master_drain(c->kind == CHILD_GATE ? CHILD_RELAY : CHILD_GATE);
	for (t = tunnels_first(); t != NULL; t = next) {
		next = tunnels_next(t);
		if (!tunnel_died_with(t, c, scanned, queued) ||
		    tunnel_doubt(t, c, now))
			continue;
		tunnel_write_died(t, now, REASON_WORKER_DIED);
		if (t->holder == TUNNEL_IN_RELAY)
			relays_forget(t->relay, t->id);
		tunnel_remove(t);
		n++;
	}
	for (unsigned i = 0; i < TG_MAX_RELAY_WORKERS; i++) {
		scanned[i] = false;
		tunnelset_clear(&queued[i]);
	}
	if (n > 0)
		log_warnx("%s %d died holding %u tunnels; their close records "
		    "say worker_died, or why the master was ending them",
		    master_child_name(c->kind), (int)c->pid, n);
}

pid_t
tunnels_holder_pid(const struct tunnel *t)
{
	if (t->holder == TUNNEL_IN_GATE)
		return t->gate_pid;
	return m.relays[t->relay].s.pid;
}

static struct child *
holder_child(const struct tunnel *t)
{
	pid_t		 pid = tunnels_holder_pid(t);
	struct child	*c;

	if (pid == 0)
		return NULL;
	TAILQ_FOREACH(c, &m.children, entry)
		if (c->pid == pid && !c->killed)
			return c;
	return NULL;
}

int
tunnels_kill(struct tunnel *t, enum audit_closed_by by, const char *reason)
{
	struct ctl_tunnel_kill	 k;
	struct child		*c;
	int64_t			 grace = TUNNEL_KILL_GRACE_MS;
	int			 told;

	if (t->kill_reason[0] == '\0') {
		t->kill_by = by;
		AUDIT_SET(t->kill_reason, reason);
	}
	if ((c = holder_child(t)) == NULL)
		return -1;
	memset(&k, 0, sizeof(k));
	ctl_hdr_init(&k.hdr, CTL_TUNNEL_KILL);
	k.tunnel_id = t->id;
	k.closed_by = by;
	AUDIT_SET(k.reason, reason);
	if ((told = master_tell(c, &k, sizeof(k), "a tunnel kill")) == -1)
		return -1;
	/*
	 * Queued behind a full socket, it may take the outbox up to
	 * CHILD_HANGUP_GRACE_MS to deliver (or it kills the child): the grace
	 * starts after that, and no later, whatever the child reads meanwhile.
	 */
	if (told == 1)
		grace += CHILD_HANGUP_GRACE_MS;
	/*
	 * Only one it has adopted: a queued one is not in its hands yet, and
	 * is asked again when its relay worker reports it (tunnels_stats).
	 */
	if (t->kill_due_ms == 0 && (t->holder == TUNNEL_IN_GATE || t->taken)) {
		killing++;
		t->kill_due_ms = proc_now_ms() + grace;
	}
	return 0;
}

/* Is a tunnel in doubt due? If so, what relay workers said is read first. */
static bool
tunnels_doubt_due(int64_t now, int64_t *next)
{
	struct tunnel	*t;
	bool		 due = false;

	for (t = tunnels_first(); t != NULL; t = tunnels_next(t)) {
		if (t->doubt_until_ms == 0)
			continue;
		if (t->doubt_until_ms <= now)
			due = true;
		else if (*next == -1 || t->doubt_until_ms < *next)
			*next = t->doubt_until_ms;
	}
	if (due)
		master_drain(CHILD_RELAY);
	return due;
}

/*
 * No relay worker reported these in time. One still queued (behind a
 * flood, or for a relay worker being restarted) waits another grace; the
 * rest were refused without a record, or died with their gate worker.
 */
static void
tunnels_doubts_end(int64_t now, int64_t *later, unsigned *refused)
{
	static bool		 scanned[TG_MAX_RELAY_WORKERS];
	static struct tunnelset	 queued[TG_MAX_RELAY_WORKERS];
	struct tunnel		*t, *nt;

	for (t = tunnels_first(); t != NULL; t = nt) {
		nt = tunnels_next(t);
		if (t->doubt_until_ms == 0 || t->doubt_until_ms > now)
			continue;
		if (tunnel_queued(t, scanned, queued)) {
			t->doubt_until_ms = now + TUNNEL_ADOPT_GRACE_MS;
			if (*later == -1 || t->doubt_until_ms < *later)
				*later = t->doubt_until_ms;
			continue;
		}
		if (t->gate_died) {
			log_warnx("tunnel %016llx: no relay worker reported it "
			    "in %d ms after its gate worker died; closed as "
			    "having died with it", (unsigned long long)t->id,
			    TUNNEL_ADOPT_GRACE_MS);
			tunnel_write_died(t, now, REASON_WORKER_DIED);
		} else {
			tunnel_write_died(t, now, REASON_NOT_ADOPTED);
			(*refused)++;
		}
		relays_forget(t->relay, t->id);
		tunnel_remove(t);
	}
	for (unsigned i = 0; i < TG_MAX_RELAY_WORKERS; i++) {
		scanned[i] = false;
		tunnelset_clear(&queued[i]);
	}
}

static void
tunnels_doubt_timers(int64_t now, int64_t *next)
{
	unsigned	 refused = 0;
	int64_t		 later = -1;

	if (doubting == 0)
		return;
	if (doubt_look_ms != 0 && now < doubt_look_ms) {
		if (*next == -1 || doubt_look_ms < *next)
			*next = doubt_look_ms;
		return;
	}
	if (tunnels_doubt_due(now, &later))
		tunnels_doubts_end(now, &later, &refused);
	doubt_look_ms = later == -1 ? 0 : later;
	if (later != -1 && (*next == -1 || later < *next))
		*next = later;
	if (refused > 0)
		log_warnx("%u handed-off tunnels not reported adopted in %d ms "
		    "and no longer queued: refused by their relay workers",
		    refused, TUNNEL_ADOPT_GRACE_MS);
}

void
tunnels_timers(int64_t now, int64_t *next)
{
	struct tunnel	*t;
	struct child	*c;
	char		 what[96];

	lifetime_timers(now, next);
	rule_limits_timers(now, next);
	progress_timers(now, next);
	recheck_timers(now, next);
	tunnels_doubt_timers(now, next);
	if (killing == 0)
		return;
	for (t = tunnels_first(); t != NULL; t = tunnels_next(t)) {
		if (t->kill_due_ms == 0)
			continue;
		if (t->kill_due_ms > now) {
			if (*next == -1 || t->kill_due_ms < *next)
				*next = t->kill_due_ms;
			continue;
		}
		if ((c = holder_child(t)) == NULL)
			continue;
		(void)snprintf(what, sizeof(what), "did not end tunnel %016llx "
		    "when told", (unsigned long long)t->id);
		master_kill_child(c, what);
	}
}
