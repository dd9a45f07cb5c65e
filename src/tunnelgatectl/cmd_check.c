/*
 * tunnelgatectl check: what tunnelgated -t checks (the same code,
 * config_check.c), then the policy lint: rules that never or only partly
 * decide, allow/deny overlaps, duplicate entries, too wide networks, and
 * with --resolve what needs NSS and DNS. Exit 0 clean, 1 warnings, 2
 * errors.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth_probe.h"
#include "config.h"
#include "config_check.h"
#include "ctl_cmd.h"
#include "ctl_groups.h"
#include "log.h"
#include "policy.h"
#include "policy_lint.h"

#ifndef TG_DEFAULT_CONFIG
#define TG_DEFAULT_CONFIG "/usr/local/etc/tunnelgate/tunnelgated.conf"
#endif

struct check_opts {
	const char		*config;	/* NULL: the policy alone */
	const char		*policy;
	bool			 resolve;
	bool			 online;
	struct policy_lint_opts	 lint;
};

static void
check_report(void *arg, unsigned line, const char *msg)
{
	printf("%s:%u: warning: %s\n", (const char *)arg, line, msg);
}

static int
check_nss_user(void *arg, const char *name)
{
	(void)arg;
	errno = 0;
	if (getpwnam(name) != NULL)
		return 1;
	return errno == 0 || errno == ENOENT || errno == ESRCH ? 0 : -1;
}

static int
check_nss_group(void *arg, const char *name)
{
	(void)arg;
	errno = 0;
	if (getgrnam(name) != NULL)
		return 1;
	return errno == 0 || errno == ENOENT || errno == ESRCH ? 0 : -1;
}

static int
check_number(const char *opt, const char *s, unsigned max, unsigned *v)
{
	char		*end;
	unsigned long	 n;

	errno = 0;
	n = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || n > max) {
		fprintf(stderr, "tunnelgatectl check: %s %s: give a prefix "
		    "length 0-%u\n", opt, s, max);
		return -1;
	}
	*v = (unsigned)n;
	return 0;
}

static int
check_usage(void)
{
	fprintf(stderr, "usage: tunnelgatectl check [-c CONF] [--policy FILE] "
	    "[--resolve] [--online] [--wide4 N] [--wide6 N]\n");
	return CTL_EXIT_ERROR;
}

static int
check_args(int argc, char *argv[], struct check_opts *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "policy", required_argument, NULL, 'p' },
		{ "resolve", no_argument, NULL, 'r' },
		{ "online", no_argument, NULL, 'o' },
		{ "wide4", required_argument, NULL, '4' },
		{ "wide6", required_argument, NULL, '6' },
		{ NULL, 0, NULL, 0 },
	};
	int	 ch;

	memset(o, 0, sizeof(*o));
	o->lint.wide4 = POLICY_LINT_WIDE4;
	o->lint.wide6 = POLICY_LINT_WIDE6;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			o->config = optarg;
			break;
		case 'p':
			o->policy = optarg;
			break;
		case 'r':
			o->resolve = true;
			break;
		case 'o':
			o->online = true;
			break;
		case '4':
			if (check_number("--wide4", optarg, 32,
			    &o->lint.wide4) == -1)
				return -1;
			break;
		case '6':
			if (check_number("--wide6", optarg, 128,
			    &o->lint.wide6) == -1)
				return -1;
			break;
		default:
			return -1;
		}
	}
	if (optind != argc || (o->online && o->config == NULL &&
	    o->policy != NULL))
		return -1;
	/* --policy alone checks that file; otherwise the config too. */
	if (o->config == NULL && o->policy == NULL)
		o->config = TG_DEFAULT_CONFIG;
	return 0;
}

/* Loads what o names; the policy is o->policy's if given. */
static int
check_load(const struct check_opts *o, struct config **cfg,
    struct policy **policy)
{
	*cfg = NULL;
	*policy = NULL;
	if (o->config != NULL) {
		if (config_check_load(o->config, cfg, policy) == -1)
			return -1;
		if (config_check_tls(*cfg) == -1)
			return -1;
		if (o->policy == NULL)
			return 0;
		policy_free(*policy);
	}
	return (*policy = policy_load(o->policy)) == NULL ? -1 : 0;
}

struct check_online {
	unsigned	 ok, failed;
};

static void
check_online_report(void *arg, bool ok, const char *msg)
{
	struct check_online	*c = arg;

	if (ok)
		c->ok++;
	else
		c->failed++;
	printf("online: %s: %s\n", ok ? "ok" : "FAILED", msg);
}

/* 0 all work, 1 some do not, 2 none does (every login would fail). */
static int
check_online(const struct config *cfg)
{
	struct check_online	 c = { 0, 0 };

	auth_probe(cfg, check_online_report, &c);
	if (c.ok == 0) {
		printf("online: nothing the %s backend needs works; every login "
		    "would fail\n", cfg->auth_backend == AUTH_BACKEND_PAM ?
		    "PAM" : "LDAP");
		return CTL_EXIT_ERROR;
	}
	return c.failed > 0 ? CTL_EXIT_WARN : CTL_EXIT_OK;
}

int
cmd_check(int argc, char *argv[])
{
	struct check_opts		 o;
	struct policy_lint_names	 nss = { check_nss_user,
					    check_nss_group, NULL };
	struct policy_lint_names	 ldap = { ctl_ldap_user_known,
					    ctl_ldap_group_known, NULL };
	struct config			*cfg = NULL;
	struct policy			*policy = NULL;
	const char			*pfile;
	size_t				 found;
	int				 rc = CTL_EXIT_ERROR;

	if (check_args(argc, argv, &o) == -1)
		return check_usage();
	log_init_tool("tunnelgatectl");
	if (check_load(&o, &cfg, &policy) == -1)
		goto out;
	pfile = o.policy != NULL ? o.policy : cfg->policy_file;
	found = policy_lint(policy, &o.lint, check_report, (void *)pfile);
	/* The backend the daemon would ask: NSS, or the directory. */
	ldap.arg = cfg;
	if (o.resolve)
		found += policy_lint_resolve(policy, cfg == NULL ||
		    cfg->auth_backend == AUTH_BACKEND_PAM ? &nss : &ldap,
		    check_report, (void *)pfile);
	if (cfg != NULL)
		printf("%s: configuration OK\n", cfg->path);
	printf("%s: %zu rules, %zu warning%s\n", pfile,
	    policy_rule_count(policy), found, found == 1 ? "" : "s");
	rc = found > 0 ? CTL_EXIT_WARN : CTL_EXIT_OK;
	if (o.online && cfg != NULL) {
		int online = check_online(cfg);

		rc = online > rc ? online : rc;
	}
 out:
	policy_free(policy);
	free(cfg);
	return rc;
}
