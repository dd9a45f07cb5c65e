/* Master internals shared by master.c, master_ctl.c and relaypool.c. */
#ifndef TG_MASTER_PRIV_H
#define TG_MASTER_PRIV_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>
#include <openssl/ssl.h>

#include "ctl.h"
#include "listeners.h"
#include "policy.h"
#include "tunnelset.h"

enum child_kind { CHILD_AUTH, CHILD_GATE, CHILD_RELAY };

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
	int			*gate_ends;	/* per gate slot */
	int			*auth_ends;	/* shared by all authenticators */
	uint32_t		*serials;	/* per gate slot: which pair */
	struct slot		*gate_slots, *auth_slots;
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
	int64_t			 hung_up_at;	/* its control socket ended */
	int64_t			 tokens;	/* rate bucket, in 1/1000 message */
	int64_t			 tokens_at;
};

/*
 * Relay workers belong to no generation: they keep their tunnels across
 * reloads. Each has one socket; every gate worker holds its sending end.
 */
struct relay_slot {
	struct slot		 s;
	int			 send_end, recv_end;
	struct tunnelset	 live;		/* handed off, not closed */
	/* The previous process's: one may adopt what it left queued. */
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

/* master_ctl.c */
void	 master_dispatch_child(struct child *);
/* Log, audit a violation, SIGKILL; the restart follows its death. */
void	 master_kill_child(struct child *, const char *what);
/* Read what every gate worker has sent so far. */
void	 master_drain_gates(void);
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
void	 relays_send_loads(int gate_ctl_fd);
void	 relays_timers(int64_t now, int64_t *next);
void	 relays_stop(void);
/* The gate workers' sending ends, for their keep list and env. */
size_t	 relays_send_ends(int *fds, size_t max);

#endif
