/*
 * The control socket's commands that act: kill (tunnels chosen by id,
 * user, target pattern or client network, ended by the worker holding
 * each with close reason admin_kill and the asking uid), reload and cache
 * flush, each with its audit record.
 */
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

#include "admin.h"
#include "auth_cache.h"
#include "log.h"
#include "master_priv.h"
#include "netaddr.h"
#include "tunnels.h"

static bool
kill_matches(const struct tunnel *t, const struct admin_request *r,
    const struct netaddr_net *net)
{
	struct sockaddr_storage	 ss;

	switch (r->by) {
	case ADMIN_BY_ID:
		return t->id == r->tunnel_id;
	case ADMIN_BY_USER:
		return strcmp(t->facts.user, r->arg) == 0;
	case ADMIN_BY_TARGET:
		return fnmatch(r->arg, t->facts.target, FNM_CASEFOLD) == 0;
	case ADMIN_BY_CLIENT:
		return netaddr_parse(t->facts.client, &ss) == 0 &&
		    netaddr_net_contains(net, (struct sockaddr *)&ss);
	}
	return false;
}

void
admin_kill(struct admin_conn *a, const struct admin_request *r)
{
	struct netaddr_net	 net;
	struct tunnel		*t;
	char			 reason[128];
	uint32_t		 n = 0;

	memset(&net, 0, sizeof(net));
	if (r->by == ADMIN_BY_CLIENT && netaddr_net_parse(r->arg, &net) != 0) {
		admin_done(a, ADMIN_REFUSED, 0, "not an address or network: "
		    "%s (use 192.0.2.7, 10.0.0.0/8 or 2001:db8::/32)", r->arg);
		return;
	}
	(void)snprintf(reason, sizeof(reason), "admin_kill by uid %u",
	    (unsigned)admin_uid(a));
	for (t = tunnels_first(); t != NULL; t = tunnels_next(t)) {
		if (kill_matches(t, r, &net) &&
		    tunnels_kill(t, AUDIT_BY_ADMIN, reason) == 0)
			n++;
	}
	log_info("control socket: uid %u: kill: %u tunnels", (unsigned)admin_uid(a),
	    n);
	admin_done(a, ADMIN_OK, n, "%u tunnels closing", n);
}

void
admin_reload(struct admin_conn *a)
{
	char	 why[ADMIN_TEXT_SIZE - 16], by[32];

	log_info("control socket: uid %u asks for a reload",
	    (unsigned)admin_uid(a));
	(void)snprintf(by, sizeof(by), "uid %u", (unsigned)admin_uid(a));
	if (m.stopping) {
		master_audit_reload(by, false, "the daemon is stopping");
		admin_done(a, ADMIN_REFUSED, 0, "refused: the daemon is stopping");
		return;
	}
	if (master_reload(by, why, sizeof(why)))
		admin_done(a, ADMIN_OK, 0, "applied: %s", why);
	else
		admin_done(a, ADMIN_REFUSED, 0, "refused: %s", why);
}

/*
 * Whoever answers next verifies the user with the backend: a removed group
 * membership or a changed password counts at once, and during a directory
 * outage a flushed user is refused.
 */
void
admin_cache_flush(struct admin_conn *a, const struct admin_request *r)
{
	const char	*user = r->arg[0] != '\0' ? r->arg : NULL;
	unsigned	 n;
	char		 by[32];

	(void)snprintf(by, sizeof(by), "uid %u", (unsigned)admin_uid(a));
	if (auth_cache_flush(user, &n) == -1) {
		master_audit_cache_flush(by, user, false, 0);
		admin_done(a, ADMIN_REFUSED, 0, "refused: an authenticator "
		    "holds the credential cache; try again");
		return;
	}
	master_audit_cache_flush(by, user, true, n);
	log_info("control socket: uid %u: cache flush %s%s: %u entries "
	    "forgotten", (unsigned)admin_uid(a), user != NULL ? "of user " :
	    "of every user", user != NULL ? user : "", n);
	admin_done(a, ADMIN_OK, n, "%u credential cache entries forgotten%s%s",
	    n, user != NULL ? " for " : "", user != NULL ? user : "");
}
