/*
 * A rule's own limits on the tunnels it allowed (docs/policy.md, "Time
 * limits"): max_duration, counted from the tunnel's open record like
 * limits.max_tunnel_lifetime, and the window, whose end closes the tunnel
 * (reason window_closed). The rule is the one of that name in the policy
 * now in force. Policies with such rules are swept at least every second
 * (and exactly when the first tunnel is due), so a tunnel opened just
 * before a limit passes ends within a second of it. A tunnel's rule is
 * looked up by name once per policy generation, not at every sweep.
 */
#include <stdint.h>
#include <stdio.h>
#include "master_priv.h"
#include "proc.h"
#include "tunnels.h"

#define SWEEP_MS	1000

/*
 * t's rule in p, the policy of generation gen: an index kept from another
 * generation's policy may name another rule there, or none.
 */
static int
rule_limits_rule(const struct policy *p, unsigned gen, struct tunnel *t,
    size_t *idx)
{
	unsigned	 line;

	if (t->rule_gen != gen) {
		t->rule_gen = gen;
		if (policy_rule_where(p, t->facts.rule, &t->rule_idx,
		    &line) == -1)
			t->rule_idx = SIZE_MAX;
	}
	*idx = t->rule_idx;
	return t->rule_idx == SIZE_MAX ? -1 : 0;
}

/* When t is due (monotonic ms), or 0 if it is due now, with why. */
static int64_t
rule_limits_due(const struct policy *p, unsigned gen, struct tunnel *t,
    int64_t now, int64_t wall, char *reason, size_t size)
{
	struct policy_rule_limits	 lim;
	int64_t				 due = -1, ends;
	size_t				 idx;

	if (rule_limits_rule(p, gen, t, &idx) == -1)
		return -1;
	policy_rule_time(p, idx, &lim);
	if (lim.max_duration != 0) {
		due = t->opened_ms + (int64_t)lim.max_duration * 1000;
		if (due <= now) {
			(void)snprintf(reason, size, "lifetime: rule %s "
			    "max_duration is %u s", t->facts.rule,
			    lim.max_duration);
			return 0;
		}
	}
	if (lim.has_window) {
		if (!policy_rule_window_open(p, idx, wall / 1000, &ends)) {
			(void)snprintf(reason, size, "window_closed: rule %s "
			    "window %s", t->facts.rule, lim.window);
			return 0;
		}
		if (due == -1 || now + ends * 1000 - wall < due)
			due = now + ends * 1000 - wall;
	}
	return due;
}

void
rule_limits_timers(int64_t now, int64_t *next)
{
	static unsigned		 gen_seen;
	static bool		 timed;
	static int64_t		 sweep_at;
	const struct policy	*p = m.gen->policy;
	struct tunnel		*t;
	char			 reason[256];	/* the close record keeps 127 */
	int64_t			 due, wall;

	if (m.gen->id != gen_seen || gen_seen == 0) {
		gen_seen = m.gen->id;
		timed = policy_has_time_limits(p);
		sweep_at = now;
	}
	if (!timed || m.stopping)
		return;
	if (now >= sweep_at) {
		sweep_at = now + SWEEP_MS;
		wall = proc_wall_ms();
		for (t = tunnels_first(); t != NULL; t = tunnels_next(t)) {
			/* Asked already (by this or an admin): its grace runs. */
			if (t->kill_reason[0] != '\0' ||
			    (due = rule_limits_due(p, m.gen->id, t, now, wall,
			    reason, sizeof(reason))) == -1)
				continue;
			if (due == 0)
				(void)tunnels_kill(t, AUDIT_BY_POLICY, reason);
			else if (due < sweep_at)
				sweep_at = due;
		}
	}
	if (*next == -1 || sweep_at < *next)
		*next = sweep_at;
}
