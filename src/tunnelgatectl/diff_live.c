/*
 * tunnelgatectl diff OLD NEW --live: the tunnels open now (the master's
 * table, read over the control socket as `status` reads it) that NEW
 * denies, each judged by policy_check_tunnel() with the user's groups from
 * the configured backend: what a reload with recheck_live would cut.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth_net.h"
#include "ctl_client.h"
#include "ctl_cmd.h"
#include "ctl_groups.h"
#include "diff_live.h"

struct live_walk {
	const struct config	*cfg;
	const struct policy	*policy;
	const char		*pfile;
	const struct policy_own	*own;
	unsigned		 seen, cut, unknown;
};

static void
live_row(const struct admin_tunnel *t, void *arg)
{
	struct live_walk	*w = arg;
	struct policy_subject	 subj = { .user = t->facts.user };
	struct policy_verdict	 v;
	char			**groups = NULL, why[300];
	size_t			 n = 0, idx;
	unsigned		 line;
	int			 rc;

	w->seen++;
	if (ctl_groups(w->cfg, t->facts.user, &groups, &n, why,
	    sizeof(why)) == -1) {
		printf("  %016" PRIx64 " %s: cannot be judged: %s\n",
		    t->tunnel_id, t->facts.user, why);
		w->unknown++;
		return;
	}
	subj.groups = (const char *const *)groups;
	subj.n_groups = n;
	rc = policy_check_tunnel(w->policy, &subj, t->facts.target,
	    t->facts.resolved, w->own, &v);
	free(groups);
	if (rc == -1) {
		printf("  %016" PRIx64 " %s: cannot be judged: not connected "
		    "to an address yet\n", t->tunnel_id, t->facts.user);
		w->unknown++;
		return;
	}
	if (v.action == POLICY_ALLOW)
		return;
	w->cut++;
	printf("  %016" PRIx64 " %s from %s to %s (%s), now rule %s",
	    t->tunnel_id, t->facts.user, t->facts.client, t->facts.target,
	    t->facts.resolved, t->facts.rule);
	if (policy_rule_where(w->policy, v.rule, &idx, &line) == 0)
		printf("; would be cut by rules[%zu] %s (%s:%u)\n", idx,
		    v.rule, w->pfile, line);
	else
		printf("; would be cut by %s\n", v.rule);
}

int
diff_live(const char *sock_path, const struct config *cfg,
    const struct policy *policy, const char *pfile)
{
	struct live_walk	 w = { cfg, policy, pfile, NULL, 0, 0, 0 };
	struct admin_request	 req;
	struct admin_done	 done;

	if (auth_own_addrs(&w.own) == -1) {
		fprintf(stderr, "tunnelgatectl diff: cannot list this host's "
		    "addresses\n");
		return -1;
	}
	memset(&req, 0, sizeof(req));
	admin_hdr_init(&req.hdr, ADMIN_REQUEST);
	req.cmd = ADMIN_STATUS;
	printf("live tunnels %s would cut:\n", pfile);
	if (ctl_client_call(sock_path, &req, live_row, &w, &done) == -1)
		return -1;
	if (done.result != ADMIN_OK) {
		fprintf(stderr, "tunnelgatectl diff: %s\n", done.text);
		return -1;
	}
	printf("%u of %u live tunnels would be cut", w.cut, w.seen);
	if (w.unknown > 0)
		printf(", %u could not be judged", w.unknown);
	printf(" (groups from %s)\n", cfg != NULL &&
	    cfg->auth_backend == AUTH_BACKEND_LDAP ? "the directory" : "NSS");
	return (int)(w.cut + w.unknown);
}
