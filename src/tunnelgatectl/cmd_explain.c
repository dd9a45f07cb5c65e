/*
 * tunnelgatectl explain USER HOST:PORT: which rule decides, for the name
 * and for every address it resolves to, with the code the authenticators
 * run: the same literal test, the same "is a lookup needed" walk, the same
 * resolver, the gateway's own addresses and policy_check().
 */
#include <sys/socket.h>

#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "auth_net.h"
#include "config.h"
#include "config_check.h"
#include "ctl_cmd.h"
#include "ctl_groups.h"
#include "log.h"
#include "http_request.h"
#include "netaddr.h"
#include "policy.h"
#include "tg_limits.h"

/* The authenticators' resolver gets timeouts.dns; this is its default. */
#define EXPLAIN_DNS_MS	5000

struct explain {
	const char		*config;
	const char		*policy_file;
	const char		*groups_arg;
	bool			 lookup;
	const char		*user;
	char			 host[NI_MAXHOST];
	uint16_t		 port;
	struct config		*cfg;
	struct policy		*policy;
	const char		*pfile;
	char			**groups;
	size_t			 n_groups;
};

static int
explain_usage(void)
{
	fprintf(stderr, "usage: tunnelgatectl explain [-c CONF | --policy FILE] "
	    "USER HOST:PORT [--groups G,... | --lookup]\n");
	return CTL_EXIT_ERROR;
}

/*
 * HOST:PORT as the gate's request parser reads a CONNECT target, so that a
 * target the gateway answers 400 (an inet_aton form such as 127.1, a zone
 * index, a dotted quad with a trailing dot) gets no verdict here either.
 */
static int
explain_target(struct explain *e, const char *arg)
{
	struct http_request	 req;
	char			 line[HTTP_HOST_MAX + 64];
	int			 n;

	n = snprintf(line, sizeof(line), "CONNECT %s HTTP/1.1\r\n\r\n", arg);
	if (n < 0 || (size_t)n >= sizeof(line) || strpbrk(arg, " \r\n") != NULL ||
	    http_request_parse((const uint8_t *)line, (size_t)n, sizeof(line),
	    &req) != HTTP_PARSE_OK) {
		fprintf(stderr, "tunnelgatectl explain: %s: the gateway answers "
		    "400 to this target; write HOST:PORT, e.g. "
		    "db.example.com:22, 10.0.0.1:443 or [2001:db8::1]:22 (an "
		    "IPv4 address as four decimal numbers, no IPv6 zone)\n", arg);
		return -1;
	}
	snprintf(e->host, sizeof(e->host), "%s", req.host);
	e->port = req.port;
	return 0;
}

static int
explain_args(int argc, char *argv[], struct explain *e)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "policy", required_argument, NULL, 'p' },
		{ "groups", required_argument, NULL, 'g' },
		{ "lookup", no_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	int	 ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			e->config = optarg;
			break;
		case 'p':
			e->policy_file = optarg;
			break;
		case 'g':
			e->groups_arg = optarg;
			break;
		case 'l':
			e->lookup = true;
			break;
		default:
			return -1;
		}
	}
	if (argc - optind != 2 || (e->groups_arg != NULL && e->lookup) ||
	    (e->config != NULL && e->policy_file != NULL))
		return -1;
	e->user = argv[optind];
	return explain_target(e, argv[optind + 1]);
}

/* --groups a,b,c: the layout auth_groups() returns. */
static int
explain_groups_list(struct explain *e)
{
	const char	*list[AUTH_MAX_GROUPS];
	char		*copy, *tok, *save = NULL;
	size_t		 n = 0;
	int		 rc = -1;

	if ((copy = strdup(e->groups_arg)) == NULL)
		return -1;
	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		if (n == AUTH_MAX_GROUPS) {
			fprintf(stderr, "tunnelgatectl explain: --groups: at "
			    "most %d groups\n", AUTH_MAX_GROUPS);
			goto out;
		}
		list[n++] = tok;
	}
	if ((e->groups = auth_groups_dup(list, n)) == NULL && n > 0) {
		fprintf(stderr, "tunnelgatectl explain: --groups: a name is "
		    "too long\n");
		goto out;
	}
	e->n_groups = n;
	rc = 0;
 out:
	free(copy);
	return rc;
}

static int
explain_groups(struct explain *e)
{
	char	 why[300];

	if (e->groups_arg != NULL)
		return explain_groups_list(e);
	if (!e->lookup)
		return 0;
	if (ctl_groups(e->cfg, e->user, &e->groups, &e->n_groups, why,
	    sizeof(why)) == -1) {
		fprintf(stderr, "tunnelgatectl explain: %s: %s\n", e->user, why);
		return -1;
	}
	return 0;
}

static int
explain_load(struct explain *e)
{
	if (e->policy_file != NULL) {
		e->pfile = e->policy_file;
		return (e->policy = policy_load(e->policy_file)) == NULL ?
		    -1 : 0;
	}
	if (config_check_load(e->config != NULL ? e->config :
	    TG_DEFAULT_CONFIG, &e->cfg, &e->policy) == -1)
		return -1;
	e->pfile = e->cfg->policy_file;
	return 0;
}

/* A rule's time limits, and whether now is in its window. */
static void
explain_time(const struct explain *e, size_t idx,
    const struct policy_verdict *v)
{
	struct policy_rule_limits	 lim;

	policy_rule_time(e->policy, idx, &lim);
	if (lim.has_window)
		printf(", %s its window %s", v->outside_window ? "now outside" :
		    "now within", lim.window);
	if (lim.max_duration != 0)
		printf(", tunnels end after max_duration %u s",
		    lim.max_duration);
	printf("\n");
}

static void
explain_rule(const struct explain *e, const struct policy_verdict *v)
{
	size_t		 idx;
	unsigned	 line;

	printf("%s, ", v->action == POLICY_ALLOW ? "allow" : "deny");
	if (policy_rule_where(e->policy, v->rule, &idx, &line) == 0) {
		printf("rules[%zu] %s (%s:%u)", idx, v->rule, e->pfile, line);
		explain_time(e, idx, v);
	} else if (strcmp(v->rule, POLICY_SPECIAL_RULE) == 0)
		printf("%s (a special-purpose address no allow rule opens; see "
		    "\"Special-purpose destinations\" in policy.md)\n",
		        v->rule);
	else
		printf("%s (no rule matched)\n", v->rule);
}

/* The addresses to check, as auth_backend.c gets them; 1 if not needed. */
static int
explain_addrs(const struct explain *e, const struct policy_subject *subj,
    struct addrinfo **res)
{
	struct policy_verdict	 v;
	enum auth_verdict	 av;
	char			 reason[256], name[HTTP_HOST_MAX + 1];

	/* The request parser already kept host within a name's length. */
	if (!auth_dns_name(e->host, name)) {
		printf("  %s: no such host\n", e->host);
		return 1;
	}
	if (auth_dns_numeric(name, e->port, res)) {
		printf("  %s: an address, not looked up\n", e->host);
		return 0;
	}
	if (!policy_lookup_needed(e->policy, subj, e->host, e->port, 0,
	    &v)) {
		printf("  %s: not looked up, no rule could allow it: ",
		    e->host);
		explain_rule(e, &v);
		return 1;
	}
	printf("  %s: looked up (an allow rule for this user and port may "
	    "match it)\n", e->host);
	av = auth_dns_resolve(name, e->port, auth_now_ms() +
	    (e->cfg != NULL ? e->cfg->timeout_dns_ms : EXPLAIN_DNS_MS), res,
	    reason, sizeof(reason));
	if (av != AUTH_ALLOW) {
		printf("  %s: %s; the gateway answers 502 or 504\n", e->host,
		    reason);
		return 1;
	}
	return 0;
}

static int
explain_run(struct explain *e)
{
	struct policy_subject	 subj = { e->user,
				    (const char *const *)e->groups,
				    e->n_groups };
	struct policy_target	 t = { .host = e->host, .port = e->port };
	struct policy_verdict	 v;
	struct addrinfo		*res = NULL, *ai;
	char			 addr[NETADDR_STR_MAX];
	size_t			 g;
	int			 rc, n = 0;

	printf("%s (groups:", e->user);
	for (g = 0; g < e->n_groups; g++)
		printf("%s%s", g > 0 ? "," : " ", e->groups[g]);
	printf("%s) to %s port %u\n", e->n_groups == 0 ? " none" : "",
	    e->host, e->port);
	if (auth_own_addrs(&t.own) == -1) {
		fprintf(stderr, "tunnelgatectl explain: cannot list this "
		    "host's addresses\n");
		return CTL_EXIT_ERROR;
	}
	if ((rc = explain_addrs(e, &subj, &res)) != 0) {
		printf("result: deny\n");
		return CTL_EXIT_WARN;
	}
	rc = CTL_EXIT_WARN;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		if (n++ == TG_MAX_BACKEND_ADDRS) {
			printf("  %s: the gateway checks the first %d addresses "
			    "only; the rest are never tried\n", e->host,
			    TG_MAX_BACKEND_ADDRS);
			break;
		}
		t.addr = ai->ai_addr;
		policy_check(e->policy, &subj, &t, &v);
		netaddr_format(ai->ai_addr, addr, sizeof(addr));
		printf("  %s: ", addr);
		explain_rule(e, &v);
		if (v.action == POLICY_ALLOW)
			rc = CTL_EXIT_OK;
	}
	freeaddrinfo(res);
	printf("result: %s\n", rc == CTL_EXIT_OK ? "allow (the gateway tries "
	    "the allowed addresses in this order)" : "deny");
	return rc;
}

int
cmd_explain(int argc, char *argv[])
{
	struct explain	 e;
	int		 rc = CTL_EXIT_ERROR;

	memset(&e, 0, sizeof(e));
	if (explain_args(argc, argv, &e) == -1)
		return explain_usage();
	log_init_tool("tunnelgatectl");
	if (explain_load(&e) == 0 && explain_groups(&e) == 0)
		rc = explain_run(&e);
	free(e.groups);
	policy_free(e.policy);
	free(e.cfg);
	return rc;
}
