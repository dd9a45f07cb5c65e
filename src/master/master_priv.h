/* Master internals shared by master.c, master_ctl.c and relaypool.c. */
#ifndef TG_MASTER_PRIV_H
#define TG_MASTER_PRIV_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>
#include <openssl/ssl.h>

#include "buf.h"
#include "ctl.h"
#include "listeners.h"
#include "policy.h"
#include "tls_client_ca.h"
#include "tunnelset.h"

enum child_kind { CHILD_AUTH, CHILD_GATE, CHILD_RELAY, CHILD_KEY,
	CHILD_METRICS };

struct slot {
	pid_t		 pid;		/* 0 while not running */
	unsigned	 failures;	/* consecutive quick deaths */
	int64_t		 started_ms;
	int64_t		 restart_at;	/* 0: no restart scheduled */
};

/* Everything forked from one configuration. */
struct generation {
	unsigned		 id;
	struct config		*cfg;
	struct policy		*policy;
	SSL_CTX			*ctx;
	struct tls_client_ca_set *client_ca;	/* per listener */
	int			*gate_ends;	/* per gate slot */
	int			*auth_ends;	/* shared by all authenticators */
	/* Per gate slot: the gate worker's and the key process's ends. */
	int			*gate_key_ends, *key_ends;
	uint32_t		*serials;	/* per gate slot: which pairs */
	struct slot		*gate_slots, *auth_slots, *key_slots;
	unsigned		 auth_alive;
	unsigned		 children;
	bool			 retired;
};

/*
 * A child closes its control socket only on its way out. One still running
 * this long after is deaf to retire and status messages, so it is killed.
 */
#define CHILD_HANGUP_GRACE_MS	2000

struct child {
	TAILQ_ENTRY(child)	 entry;
	pid_t			 pid;
	enum child_kind		 kind;
	unsigned		 slot;
	struct generation	*gen;		/* NULL for relay workers */
	int			 ctl_fd;
	bool			 killed;	/* broke a protocol; not read */
	bool			 reaped;	/* dead: its pid may be reused */
	int64_t			 hung_up_at;	/* its control socket ended */
	struct buf		 outbox;	/* owed messages (outbox.c) */
	size_t			 outbox_msgs;
	int64_t			 outbox_since;	/* its socket was last seen full */
	int64_t			 tokens;	/* rate bucket, in 1/1000 message */
	int64_t			 tokens_at;
	int			 limits_row;	/* gate worker: conn_limits row */
	unsigned		 tunnels;	/* gate worker: open, not handed off */
	uint64_t		 ping_serial;	/* heartbeat.c: unanswered, or 0 */
	int64_t			 ping_at;	/* ... sent then, or next due then */
};

/*
 * Relay workers belong to no generation: they keep their tunnels across
 * reloads. Each has one socket; every gate worker holds its sending end.
 */
struct relay_slot {
	struct slot		 s;
	int			 send_end, recv_end;
	struct tunnelset	 live;		/* handed off, not closed */
	/* Its predecessors': one may adopt what they left queued. */
	struct tunnelset	 orphans;
};

struct master {
	TAILQ_HEAD(, child)	 children;
	struct generation	*gen;		/* current */
	struct listeners	 listeners;
	int			 epfd, sigfd;
	int			 exe_fd;	/* our executable, for relay workers */
	unsigned		 next_gen_id;
	bool			 stopping;
	int64_t			 kill_at;
	struct relay_slot	 relays[TG_MAX_RELAY_WORKERS];
	unsigned		 n_relays;
	struct ctl_relay_init	 relay_init;	/* settings from the first config */
	bool			 loads_dirty;	/* counts changed since sent */
	int64_t			 loads_at;	/* next send allowed */
};

extern struct master m;

void	 master_watch(int fd, void *ptr);
struct child *master_add_child(pid_t, enum child_kind, unsigned slot,
	    struct generation *, int ctl_fd);
/* Record a death in s and schedule the restart; returns the delay. */
int64_t	 master_schedule_restart(struct slot *s);

/*
 * Load the config and policy again and start a generation from them. true
 * if applied; why gets what was applied, or the first error that refused it.
 * by says who asked ("signal", "uid N") in the reload audit record.
 */
bool	 master_reload(const char *by, char *why, size_t why_size);
/* The reload audit record: who asked, the outcome, the policy in force. */
void	 master_audit_reload(const char *by, bool applied, const char *why);
/* The cache_flush audit record: who asked, whose entries (NULL: all), how many. */
void	 master_audit_cache_flush(const char *by, const char *user, bool applied,
	    unsigned entries);

/* retire.c: a generation's children, or one child, told to retire. */
void	 master_retire(struct generation *);
void	 retire_child(struct child *);

/*
 * outbox.c: the one way the master sends a child a message without
 * descriptors. It never waits: a full socket queues it, in order, and a
 * child that does not read is killed. 0 sent, 1 queued, -1 neither (the
 * child was killed, or has gone).
 */
int	 master_tell(struct child *, const void *msg, size_t len,
	    const char *what);
void	 outbox_timers(int64_t now, int64_t *next);
void	 outbox_free(struct child *);

/*
 * heartbeat.c: a child that leaves a ping unanswered for timeouts.hang is
 * killed. heartbeat_pong() gives NULL, or why the answer is a lie.
 */
void	 heartbeat_timers(int64_t now, int64_t *next);
const char *heartbeat_pong(struct child *, const struct ctl_ping *);

/* revoke.c: end live tunnels the new policy denies (policy.recheck_live). */
void	 revoke_recheck(const struct config *, const struct policy *);

/* generation.c */
struct generation *gen_new(struct config *, struct policy *, SSL_CTX *);
void	 gen_free(struct generation *);
/* Close the master's copies of the slots' sockets (a retired generation). */
void	 gen_close_ends(struct generation *);
struct slot *gen_slot(struct generation *, enum child_kind, unsigned slot);
/* Fresh socket pairs for a gate slot whose worker died. */
void	 gen_replace_pair(struct generation *, unsigned slot);

/* master_ctl.c */
void	 master_dispatch_child(struct child *);
/* Log, audit a violation, SIGKILL; the restart follows its death. */
void	 master_kill_child(struct child *, const char *what);
/* Read what every child of that kind has sent so far. */
void	 master_drain(enum child_kind);
void	 master_audit_own(const char *reason);
const char *master_child_name(enum child_kind);

/* relaypool.c */
int	 relays_start(const struct config *);
void	 relays_spawn(unsigned slot);
void	 relays_child_died(struct child *);
/* A gate worker's report; NULL, or why it is a lie. */
const char *relays_handoff(const struct ctl_handoff *, bool sent);
/* A relay worker's close record; false if it names no tunnel it holds. */
bool	 relays_closed(struct child *, uint64_t tunnel_id);
/* That slot's tunnel died with its process: count it no more. */
void	 relays_forget(unsigned slot, uint64_t tunnel_id);
/* A gate worker died: its reports of tunnels never opened count no more. */
void	 relays_gate_died(void);
/* Adds to out the ids of the tunnels still queued on slot's socket. */
void	 relays_queued(unsigned slot, struct tunnelset *out);
void	 relays_send_loads(int gate_ctl_fd);
void	 relays_timers(int64_t now, int64_t *next);
void	 relays_stop(void);
/* The gate workers' sending ends, for their keep list and env. */
size_t	 relays_send_ends(int *fds, size_t max);

/*
 * master_probe.c: what the auth backend needs, tried in a child. 0 if some
 * of it works (or it could not be tried), -1 if nothing does.
 */
int	 master_probe(const struct config *);

#endif
