/*
 * What an authenticator allowed, kept by the master until the gate worker's
 * open record for the same tunnel. A gate worker holds code an attacker may
 * run, so its open record is written only for a tunnel an authenticator
 * allowed, and with what the authenticator decided (the canonical user, the
 * target it checked, the address it connected, the rule, the groups, the
 * client certificate) in place of what the gate worker wrote.
 */
#ifndef TG_ALLOWS_H
#define TG_ALLOWS_H

#include <stdbool.h>
#include <stdint.h>

#include "audit.h"

/* Kept until drop_at_ms unless an open record claims it first. */
void	 allows_put(const struct audit_record *allow, int64_t drop_at_ms);
/*
 * Writes the decision's fields over open's and forgets it; false if no
 * allow for open's tunnel is known, or two were.
 */
bool	 allows_take(struct audit_record *open);
/* Whether one is due to be dropped: read the gate workers' opens first. */
bool	 allows_due(int64_t now_ms);
void	 allows_timers(int64_t now_ms, int64_t *next);

#endif
