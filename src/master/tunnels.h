/*
 * The master's table of live tunnels: every tunnel a gate worker opened and
 * no worker has closed yet, wherever it is relayed. It is built from what
 * the master already reads and validates: a gate worker's `open` record,
 * the CTL_HANDOFF reports that move a tunnel to a relay worker, the close
 * records, and the workers' CTL_TUNNEL_STATS. Children only ever change
 * entries they hold, so a compromised worker can misreport its own tunnels'
 * counts and nothing else. When a worker dies, the master writes the close
 * records of the tunnels that died with it (reason `worker_died`, or that
 * of the kill it had asked for): those it held, and those handed between
 * it and a relay worker that no live worker will adopt. Whichever way a
 * death falls, each tunnel the table held gets exactly one close record: a
 * worker relaying a tunnel the table no longer has is told to end it, and
 * its close record is not written.
 */
#ifndef TG_TUNNELS_H
#define TG_TUNNELS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include "audit.h"
#include "ctl.h"

struct child;

enum tunnel_holder { TUNNEL_IN_GATE, TUNNEL_IN_RELAY };

struct tunnel {
	uint64_t		 id;		/* first: the tree's key */
	TAILQ_ENTRY(tunnel)	 entry;
	struct audit_record	 facts;		/* the gate worker's open record */
	unsigned		 gen;		/* of the gate worker that opened it */
	enum tunnel_holder	 holder;
	pid_t			 gate_pid;	/* holds it, or handed it off */
	unsigned		 relay;		/* TUNNEL_IN_RELAY: slot */
	bool			 taken;		/* that relay worker adopted it */
	uint64_t		 bytes_up, bytes_down;
	int64_t			 opened_ms;	/* monotonic */
	int64_t			 opened_wall_ms;
	int64_t			 active_ms;	/* monotonic: bytes last moved */
	/*
	 * rule_limits.c: the index of facts.rule in the policy of generation
	 * rule_gen (0: not looked up yet), SIZE_MAX if that policy has no
	 * such rule. A reload renumbers rules, so it holds for that
	 * generation's policy only.
	 */
	unsigned		 rule_gen;
	size_t			 rule_idx;
	/*
	 * Handed off and not reported adopted: by then the relay worker says
	 * it adopted it (or its close record says it refused it), else, once
	 * no longer queued, it was refused unaudited (handoff_refuse) or,
	 * gate_died, it may have died unsent.
	 */
	int64_t			 doubt_until_ms;
	bool			 gate_died;
	/* Asked to end it: by when, and what its close record says. */
	int64_t			 kill_due_ms;
	uint32_t		 kill_by;	/* enum audit_closed_by */
	char			 kill_reason[128];
};

/*
 * The walk of the table, in the order the tunnels opened:
 * for (t = tunnels_first(); t != NULL; t = tunnels_next(t)). tunnels_kill
 * leaves t in the table (its close record removes it), so a walk may kill
 * as it goes.
 */
struct tunnel *tunnels_first(void);
struct tunnel *tunnels_next(const struct tunnel *);
size_t	 tunnels_count(void);
struct tunnel *tunnels_find(uint64_t id);
/* A master-written record of t: its facts, bytes so far and age at now. */
void	 tunnel_record(const struct tunnel *, int64_t now, enum audit_event,
	    struct audit_record *);

/* A gate worker's open record; NULL, or why the gate worker lies. */
const char *tunnels_open(struct child *gate, const struct audit_record *);
/*
 * May a gate worker report a handoff of id to relay (sent), or its failure?
 * Only of a tunnel it holds, or of its own handoff to that relay worker
 * which no relay worker has taken yet.
 */
bool	 tunnels_may_report(const struct child *gate, unsigned relay,
	    uint64_t id, bool sent);
/* A report tunnels_may_report() let through: to relay, or back. */
void	 tunnels_handoff(struct child *gate, unsigned relay, uint64_t id,
	    bool sent);
/* Is id in the table, held by this worker? */
bool	 tunnels_holds(const struct child *, uint64_t id);
/*
 * A worker relays a tunnel the table does not have: one whose close record
 * the master wrote when a worker died, or one no open record announced.
 * Tell it to end it; its close record is not written (the table lacks it).
 */
void	 tunnels_end_untracked(struct child *, uint64_t id);
/* A close record from the worker that holds the tunnel. */
void	 tunnels_close(struct child *, uint64_t id);
void	 tunnels_stats(struct child *, const struct ctl_tunnel_stats *);
/*
 * Close records for what died with this worker: reason worker_died, or
 * that of a kill asked for (tunnels_kill), even one it never read.
 */
void	 tunnels_worker_died(struct child *);
/*
 * Tell the worker holding t to end it (CTL_TUNNEL_KILL); 0, or -1 if no
 * worker holds it now. A worker that has not closed it TUNNEL_KILL_GRACE_MS
 * later is killed (tunnels_timers); any close record the master writes
 * for t from then on says reason.
 */
#define TUNNEL_KILL_GRACE_MS	1000
/* How long a relay worker may take to report a handoff it read. */
#define TUNNEL_ADOPT_GRACE_MS	5000
int	 tunnels_kill(struct tunnel *t, enum audit_closed_by, const char *reason);
void	 tunnels_timers(int64_t now, int64_t *next);
/*
 * lifetime.c: end tunnels older than limits.max_tunnel_lifetime (reason
 * "lifetime"); called by tunnels_timers.
 */
void	 lifetime_timers(int64_t now, int64_t *next);
/*
 * rule_limits.c: end tunnels past their rule's max_duration (reason
 * "lifetime") or window (reason "window_closed"); called by tunnels_timers.
 */
void	 rule_limits_timers(int64_t now, int64_t *next);
/*
 * progress.c: every audit.progress_interval, a progress record for each
 * tunnel open at least that long; called by tunnels_timers.
 */
void	 progress_timers(int64_t now, int64_t *next);
/*
 * recheck.c: every auth.recheck_interval, ask the authenticators about the
 * accounts of live tunnels and end those they no longer allow (reason
 * "account_revoked"); called by tunnels_timers. recheck_reply takes an
 * authenticator's answer: NULL, or why it is a lie.
 */
void	 recheck_timers(int64_t now, int64_t *next);
const char *recheck_reply(struct child *, const struct ctl_recheck_reply *);
/* The holder's process id, or 0 if it is not running. */
pid_t	 tunnels_holder_pid(const struct tunnel *);

#endif
