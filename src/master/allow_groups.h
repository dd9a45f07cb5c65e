/*
 * The groups an authenticator's allow record names, kept by the master
 * until the gate worker's open record for the same tunnel, so that the
 * open and close records carry the groups the backend returned without
 * taking them from a gate or relay worker.
 */
#ifndef TG_ALLOW_GROUPS_H
#define TG_ALLOW_GROUPS_H

#include <stdbool.h>
#include <stdint.h>

#include "tg_limits.h"

void	 allow_groups_put(uint64_t id, const char *groups, int64_t now_ms);
/* Copies them into out and forgets them; false if none are known. */
bool	 allow_groups_take(uint64_t id, char out[TG_AUDIT_GROUPS_SIZE]);
/* Those no open record claimed within TG_GRANT_OPEN_MS are dropped. */
void	 allow_groups_timers(int64_t now_ms, int64_t *next);

#endif
