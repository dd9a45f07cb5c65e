/*
 * What changes between two policies, for tunnelgatectl diff: which users
 * and groups gain or lose which destinations and ports.
 *
 * Exact for requests to an address (every address range and port range
 * the two files distinguish is checked with policy_check(), special-address
 * floor included) and for names as name entries decide them (a name whose
 * answer depends on the address it resolves to shows as that address's
 * change). Subjects are each user named, each group named (for a member
 * not named in users), and any other user. Not modelled: the gateway's own
 * addresses, and IPv6 addresses carrying IPv4 ones (judged as the IPv4
 * address, which is listed).
 */
#ifndef TG_POLICY_DIFF_H
#define TG_POLICY_DIFF_H

#include <stdbool.h>
#include <stddef.h>

#include "policy.h"

/* One change: subject ("user alice"), gained or lost, where, which ports. */
typedef void	(*policy_diff_report)(void *arg, const char *subject,
		    bool gained, const char *dest, const char *ports);

/* Returns the number of changes reported, or -1 out of memory. */
long		 policy_diff(const struct policy *old, const struct policy *new,
		    policy_diff_report, void *arg);

#endif
