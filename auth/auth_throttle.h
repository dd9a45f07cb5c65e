/*
 * Failed-login budgets, per source (struct source_key) and per user name,
 * asked before PAM or LDAP is: a key that spent its budget is locked out
 * for a while, and every login it names is refused (429) whatever the
 * password, so guessing cannot go on and the directory's own lockout is
 * not reached. A budget refills over throttle.window; each lockout of a
 * key lasts twice the one before (from throttle.lockout up to
 * throttle.lockout_max) and the count of lockouts is forgotten once the
 * key has been quiet for lockout_max, so no account is shut out for good.
 *
 * The table must outlive the processes that use it: authenticators are
 * replaced on every reload and restart, and a lockout that a reload or a
 * crash lifted would be worth nothing. So the master creates it, before any
 * child, in a shared mapping that every authenticator of every generation
 * inherits; gate workers drop it right after the fork (they may not see or
 * change it), relay workers are exec'd without it. The authenticators
 * change it under one process-shared, robust mutex. The master reads it
 * once a second to write the release records. The same table counts each
 * account's new tunnels for limits.user_rate, which must outlive the
 * authenticators for the same reason.
 */
#ifndef TG_AUTH_THROTTLE_H
#define TG_AUTH_THROTTLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "tg_limits.h"

/*
 * Failed logins per source and per name; new tunnels per account (the
 * table's entries); tunnels an account has open (counted in its
 * THROTTLE_TUNNELS entry, named apart for the limit it is).
 */
enum throttle_kind { THROTTLE_SOURCE = 1, THROTTLE_USER = 2, THROTTLE_TUNNELS = 3,
	THROTTLE_OPEN = 4 };

/* A lockout that began or ended, for its audit record. */
struct throttle_event {
	enum throttle_kind	 kind;
	char			 label[TG_THROTTLE_LABEL_SIZE];
	unsigned		 failures;	/* the budget it spent */
	unsigned		 secs;		/* how long it is locked */
};

/* Master, at start: 0, or -1 (logged). */
int	 auth_throttle_setup(void);
/* A child that must not see the table (a gate worker). */
void	 auth_throttle_unmap(void);

/*
 * Is the source (a source_key label, or "") or the user locked out now?
 * 0, or the kind that is, with *secs until it ends.
 */
int	 auth_throttle_locked(const struct config *, const char *source,
	    const char *user, int64_t now_ms, unsigned *secs);
/*
 * Count a failed login against both; fills ev with the lockouts it began
 * and returns how many (0 to 2).
 */
size_t	 auth_throttle_failed(const struct config *, const char *source,
	    const char *user, int64_t now_ms, struct throttle_event ev[2]);
/* The user's password was right: its budget is whole again. */
void	 auth_throttle_succeeded(const struct config *, const char *user,
	    int64_t now_ms);
/*
 * limits.user_rate and limits.user_tunnels: may the account open one more
 * tunnel now? 0 (and it is counted), or the limit it would pass:
 * THROTTLE_TUNNELS (new tunnels, which refill over a minute like a
 * budget) or THROTTLE_OPEN (tunnels open at once).
 */
int	 auth_throttle_tunnel(const struct config *, const char *user,
	    int64_t now_ms);
/* Whether auth_throttle_tunnel counts tunnels under this config at all. */
bool	 auth_throttle_counts_tunnels(const struct config *);
/*
 * A tunnel counted by auth_throttle_tunnel has ended or was never opened:
 * the authenticator when its back-end connect failed, the master for the
 * rest (user_tunnels.c).
 */
void	 auth_throttle_tunnel_gone(const struct config *, const char *user,
	    int64_t now_ms);
/* Master: each lockout that has ended since the last call, once. */
void	 auth_throttle_released(int64_t now_ms,
	    void (*fn)(const struct throttle_event *));

#endif
