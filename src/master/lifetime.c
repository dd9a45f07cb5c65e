/*
 * How long a tunnel may live: limits.max_tunnel_lifetime, from the
 * master's clock at the tunnel's open record, whatever it carries. The
 * table lists tunnels in the order they opened, so only the oldest ones
 * are looked at, and the next due time is the first younger one's.
 */
#include <stdio.h>

#include "master_priv.h"
#include "tunnels.h"

void
lifetime_timers(int64_t now, int64_t *next)
{
	unsigned	 life = m.gen->cfg->limit_tunnel_lifetime_ms;
	struct tunnel	*t;
	char		 reason[128];
	int64_t		 due;

	if (life == 0 || m.stopping)
		return;
	(void)snprintf(reason, sizeof(reason), "lifetime: "
	    "limits.max_tunnel_lifetime is %u s", life / 1000);
	for (t = tunnels_first(); t != NULL; t = tunnels_next(t)) {
		due = t->opened_ms + life;
		if (due > now) {
			if (*next == -1 || due < *next)
				*next = due;
			return;
		}
		/* Asked already (by this or an admin): its grace runs. */
		if (t->kill_reason[0] == '\0')
			(void)tunnels_kill(t, AUDIT_BY_POLICY, reason);
	}
}
