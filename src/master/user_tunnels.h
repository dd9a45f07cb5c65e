/*
 * limits.user_tunnels, the master's half. An authenticator counts an
 * account's tunnel in the throttle table when it allows it
 * (auth_throttle_tunnel, before the back-end connect), so two
 * authenticators cannot both take an account's last place. Only the master
 * sees every way a tunnel ends (a close record, a worker's death, a gate
 * worker that never opened it), so it gives the place back. It learns the
 * account from the authenticator's allow record, never from a gate or
 * relay worker, which can only end tunnels the master knows they hold.
 */
#ifndef TG_USER_TUNNELS_H
#define TG_USER_TUNNELS_H

#include <stdbool.h>
#include <stdint.h>

/* An authenticator's allow record: the account's place is taken. */
void	 user_tunnels_granted(uint64_t id, const char *user, int64_t now_ms);
/* The gate worker's open record; false if no grant is known for id. */
bool	 user_tunnels_opened(uint64_t id);
/* A gate worker's error record: a grant it never opened ends. */
void	 user_tunnels_failed(uint64_t id);
/* The tunnel is gone, whoever ended it. */
void	 user_tunnels_ended(uint64_t id);
/* Grants no gate worker opened within TG_GRANT_OPEN_MS end. */
void	 user_tunnels_timers(int64_t now_ms, int64_t *next);

#endif
