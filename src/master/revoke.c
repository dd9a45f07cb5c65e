/*
 * Revocation on reload (policy.recheck_live): every live tunnel of the
 * master's table is checked again against the new policy with the
 * authenticators' own matcher (policy_check(): user, groups, the address
 * connected to, its port, the special-address floor and the gateway's own
 * addresses), and the worker holding each one the policy now denies is
 * told to end it, with the close reason naming the rule that now decides.
 * The groups are NSS's, looked up as the PAM backend looks them up.
 */
#include <stdio.h>
#include <stdlib.h>

#include "auth.h"
#include "auth_net.h"
#include "log.h"
#include "master_priv.h"
#include "tunnels.h"

/* The verdict for t; false if it cannot be told (then t is left alone). */
static bool
revoke_verdict(const struct policy *policy, const struct tunnel *t,
    const struct policy_own *own, struct policy_verdict *v)
{
	struct policy_subject	 subject = { .user = t->facts.user };
	char			**groups = NULL, why[128];
	size_t			 n_groups = 0;
	int			 rc;

	if (auth_groups(t->facts.user, &groups, &n_groups, why,
	    sizeof(why)) == -1) {
		log_warnx("recheck of tunnel %016llx (%s): %s; left open",
		    (unsigned long long)t->id, t->facts.user, why);
		return false;
	}
	subject.groups = (const char *const *)groups;
	subject.n_groups = n_groups;
	rc = policy_check_tunnel(policy, &subject, t->facts.target,
	    t->facts.resolved, own, v);
	free(groups);
	return rc == 0;
}

/* An allow rule outside its window closes it as rule_limits.c would. */
static void
revoke_reason(const struct policy *policy, const struct policy_verdict *v,
    char *reason, size_t size)
{
	struct policy_rule_limits	 lim;
	size_t				 idx;
	unsigned			 line;

	if (v->outside_window &&
	    policy_rule_where(policy, v->rule, &idx, &line) == 0) {
		policy_rule_time(policy, idx, &lim);
		(void)snprintf(reason, size, "window_closed: rule %s window %s",
		    v->rule, lim.window);
	} else
		(void)snprintf(reason, size, "revoked: rule %s now decides",
		    v->rule);
}

void
revoke_recheck(const struct config *cfg, const struct policy *policy)
{
	const struct policy_own	*own = NULL;
	struct policy_verdict	 v;
	struct tunnel		*t;
	char			 reason[256];	/* the close record keeps 127 */
	unsigned		 n = 0, checked = 0;

	if (!cfg->policy_recheck_live || tunnels_count() == 0)
		return;
	if (cfg->auth_backend != AUTH_BACKEND_PAM) {
		log_info("policy.recheck_live: live tunnels are re-checked only "
		    "with the PAM backend (the master has no LDAP groups)");
		return;
	}
	if (auth_own_addrs(&own) == -1) {
		log_warnx("policy.recheck_live: cannot list the gateway's own "
		    "addresses; live tunnels are not re-checked");
		return;
	}
	for (t = tunnels_first(); t != NULL; t = tunnels_next(t)) {
		if (!revoke_verdict(policy, t, own, &v))
			continue;
		checked++;
		if (v.action == POLICY_ALLOW)
			continue;
		revoke_reason(policy, &v, reason, sizeof(reason));
		if (tunnels_kill(t, AUDIT_BY_POLICY, reason) == 0)
			n++;
	}
	log_info("policy.recheck_live: %u live tunnels checked, %u revoked",
	    checked, n);
}
