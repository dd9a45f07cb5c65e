/* Master internals shared by master.c and the relay pool (master_relay.c). */
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
	struct slot		*gate_slots, *auth_slots;
	unsigned		 auth_alive;
	unsigned		 children;
	bool			 retired;
};

struct child {
	TAILQ_ENTRY(child)	 entry;
	pid_t			 pid;
	enum child_kind		 kind;
	unsigned		 slot;
	struct generation	*gen;		/* NULL for relay workers */
	int			 ctl_fd;
};

/*
 * Relay workers belong to no generation: they keep their tunnels across
 * reloads. Each has one socket; every gate worker holds its sending end.
 */
struct relay_slot {
	struct slot	 s;
	int		 send_end, recv_end;
	uint32_t	 tunnels;	/* last reported */
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
};

extern struct master m;

void	 master_watch(int fd, void *ptr);
struct child *master_add_child(pid_t, enum child_kind, unsigned slot,
	    struct generation *, int ctl_fd);
/* Record a death in s and schedule the restart; returns the delay. */
int64_t	 master_schedule_restart(struct slot *s);

/* master_relay.c */
int	 relays_start(const struct config *);
void	 relays_spawn(unsigned slot);
void	 relays_child_died(struct child *);
void	 relays_load(struct child *, const struct ctl_relay_load *);
void	 relays_send_loads(int gate_ctl_fd);
void	 relays_timers(int64_t now, int64_t *next);
void	 relays_stop(void);
/* The gate workers' sending ends, for their keep list and env. */
size_t	 relays_send_ends(int *fds, size_t max);

#endif
