/*
 * Groups from the same code the authenticators run: auth_groups() (NSS)
 * for the PAM backend; for LDAP the certificate-login lookup, which finds
 * the entry as the service account and gathers memberOf or the group
 * search exactly as a login does.
 */
#include <stdio.h>
#include <stdlib.h>

#include "auth.h"
#include "auth_ldap.h"
#include "ctl_groups.h"

int
ctl_groups(const struct config *cfg, const char *user, char ***groups,
    size_t *n, char *why, size_t whylen)
{
	char			 name[AUTH_USER_MAX + 1], reason[256];
	enum auth_verdict	 v;

	if (cfg == NULL || cfg->auth_backend == AUTH_BACKEND_PAM)
		return auth_groups(user, groups, n, why, whylen);
	auth_ldap_init();
	v = auth_ldap_lookup(cfg, user, auth_now_ms() + cfg->timeout_auth_ms,
	    name, groups, n, reason, sizeof(reason));
	if (v == AUTH_ALLOW)
		return 0;
	(void)snprintf(why, whylen, "%s%s", reason, v == AUTH_UNAVAILABLE ?
	    " (try tunnelgatectl check --online)" : "");
	return -1;
}

int
ctl_ldap_user_known(void *arg, const char *user)
{
	const struct config	*cfg = arg;
	char			 name[AUTH_USER_MAX + 1], reason[256];
	char			**groups = NULL;
	size_t			 n = 0;
	enum auth_verdict	 v;

	auth_ldap_init();
	v = auth_ldap_lookup(cfg, user, auth_now_ms() + cfg->timeout_auth_ms,
	    name, &groups, &n, reason, sizeof(reason));
	free(groups);
	if (v == AUTH_UNAVAILABLE)
		return -1;
	/* A locked account is known: the entry is there. */
	return v == AUTH_BAD_CREDENTIALS ? 0 : 1;
}

int
ctl_ldap_group_known(void *arg, const char *group)
{
	const struct config	*cfg = arg;
	char			 why[256];

	return auth_ldap_group_known(cfg, group, auth_now_ms() +
	    cfg->timeout_auth_ms, why, sizeof(why));
}
