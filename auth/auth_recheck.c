/*
 * The account re-check, asked as a login would be but without a password:
 *  PAM	the account is known to NSS, not root or a system account, and
 *	pam_acct_mgmt() of the project's service accepts it (an expired
 *	account or password is refused); groups from NSS.
 *  LDAP	the service account still finds exactly one entry with the user
 *	filter, auth.ldap.account_filter still matches it, and its groups
 *	come from memberOf or the group search (auth_ldap_lookup()).
 * A verdict from the backend that refuses the account is "revoked"; one that
 * comes from no backend (the directory down, a PAM module's error) is
 * "unavailable", and the master leaves the tunnels alone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "auth_ldap.h"
#include "auth_recheck.h"
#include "log.h"

static enum auth_verdict
recheck_account(const struct config *cfg, const char *user, char ***groups,
    size_t *n_groups, char *reason, size_t reasonlen)
{
	char			 name[AUTH_USER_MAX + 1];
	enum auth_verdict	 v;

	*groups = NULL;
	*n_groups = 0;
	if (cfg->auth_backend == AUTH_BACKEND_LDAP)
		v = auth_ldap_lookup(cfg, user, auth_now_ms() +
		    cfg->timeout_auth_ms, name, groups, n_groups, reason,
		    reasonlen);
	else {
		v = auth_pam_account_check(cfg, user, NULL, name, reason,
		    reasonlen);
		if (v == AUTH_ALLOW && auth_groups(name, groups, n_groups,
		    reason, reasonlen) == -1)
			v = AUTH_UNAVAILABLE;
	}
	/* The policy names accounts exactly; another name is another one. */
	if (v == AUTH_ALLOW && strcmp(name, user) != 0) {
		(void)snprintf(reason, reasonlen, "the account is now named "
		    "%.64s", name);
		v = AUTH_ACCOUNT_UNUSABLE;
	}
	return v;
}

/* The groups the policy names, packed; -1 if they do not fit. */
static int
recheck_pack_groups(const struct policy *policy, char *const *groups,
    size_t n, struct ctl_recheck_reply *r)
{
	size_t	 off = 0, len;

	for (size_t i = 0; i < n; i++) {
		if (!policy_names_group(policy, groups[i]))
			continue;
		len = strlen(groups[i]) + 1;
		if (len > sizeof(r->groups) - off)
			return -1;
		memcpy(r->groups + off, groups[i], len);
		off += len;
		r->n_groups++;
	}
	return 0;
}

static void
recheck_fill(const struct auth_env *env, struct ctl_recheck_reply *r)
{
	char			**groups;
	size_t			 n_groups;
	enum auth_verdict	 v;

	v = recheck_account(env->cfg, r->user, &groups, &n_groups, r->reason,
	    sizeof(r->reason));
	switch (v) {
	case AUTH_ALLOW:
		r->status = CTL_RECHECK_OK;
		r->reason[0] = '\0';
		if (recheck_pack_groups(env->policy, groups, n_groups, r) ==
		    -1) {
			r->status = CTL_RECHECK_UNAVAILABLE;
			r->n_groups = 0;
			memset(r->groups, 0, sizeof(r->groups));
			(void)snprintf(r->reason, sizeof(r->reason), "the "
			    "groups the policy names are over %d bytes",
			    TG_RECHECK_GROUPS_SIZE);
		}
		break;
	case AUTH_BAD_CREDENTIALS:	/* no such account any more */
	case AUTH_ACCOUNT_UNUSABLE:
		r->status = CTL_RECHECK_REVOKED;
		break;
	default:
		r->status = CTL_RECHECK_UNAVAILABLE;
	}
	free(groups);
}

void
auth_recheck_answer(const struct auth_env *env, const struct ctl_recheck *req)
{
	struct ctl_recheck_reply	 r;

	memset(&r, 0, sizeof(r));
	ctl_hdr_init(&r.hdr, CTL_RECHECK_REPLY);
	r.serial = req->serial;
	memcpy(r.user, req->user, sizeof(r.user));
	if (auth_user_refusal(r.user) != NULL) {
		/* Only an account's own name is ever asked about. */
		r.status = CTL_RECHECK_UNAVAILABLE;
		(void)snprintf(r.reason, sizeof(r.reason), "not an account "
		    "name tunnelgated accepts");
	} else
		recheck_fill(env, &r);
	if (r.status != CTL_RECHECK_OK && r.reason[0] == '\0')
		(void)snprintf(r.reason, sizeof(r.reason), "no reason given");
	if (ctl_send(env->ctl_fd, &r, sizeof(r), NULL, 0) == -1)
		log_warn("authenticator: re-check answer for %s lost", r.user);
}
