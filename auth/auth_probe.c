/*
 * The pre-flight of what the configuration depends on, as a login would
 * meet it: every LDAP server (connect, StartTLS, service bind, a search of
 * the user base) or the PAM service (the file exists and pam_start reads
 * it). Run by tunnelgatectl check --online, and by the master, in a child
 * of its own, at start and on SIGHUP.
 */
#include <stdio.h>

#include "auth.h"
#include "auth_ldap.h"
#include "auth_probe.h"
#include "config.h"

int
auth_probe(const struct config *cfg, auth_probe_report say, void *arg)
{
	const struct config_ldap	*l = &cfg->ldap;
	char				 why[512], msg[600];
	unsigned			 i;
	int				 ok = 0;

	if (cfg->auth_backend == AUTH_BACKEND_PAM) {
		if (auth_pam_probe(cfg, why, sizeof(why)) == -1) {
			say(arg, false, why);
			return 0;
		}
		snprintf(msg, sizeof(msg), "PAM service %s: loads",
		    cfg->pam_service);
		say(arg, true, msg);
		return 1;
	}
	auth_ldap_init();
	for (i = 0; i < l->n_uris; i++) {
		if (aldap_probe(l, l->uris[i], auth_now_ms() +
		    cfg->timeout_auth_ms, why, sizeof(why)) == -1) {
			say(arg, false, why);
			continue;
		}
		snprintf(msg, sizeof(msg), "%s: %s", l->uris[i],
		    l->bind_mode == CONFIG_LDAP_BIND_SEARCH ?
		    "connected, bound as the service account, searched the "
		    "user base" : "connected (template binds: no service "
		    "account to try)");
		say(arg, true, msg);
		ok++;
	}
	return ok;
}
