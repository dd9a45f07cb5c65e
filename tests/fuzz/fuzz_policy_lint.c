/*
 * The policy lint and diff on whatever the loader accepts. Besides memory
 * errors, abort when a finding is malformed (no line, not about a rule) or
 * wrong where the matcher can tell: a rule the lint calls fully shadowed
 * must never be the deciding rule of any probe, and a policy compared with
 * itself has no change.
 */
#include <stdio.h>

#include "fuzz_policy_common.h"
#include "policy.h"
#include "policy_diff.h"
#include "policy_lint.h"

#define MAX_SHADOWED	64

struct findings {
	char	 shadowed[MAX_SHADOWED][64];
	size_t	 n;
};

static void
report(void *arg, unsigned line, const char *msg)
{
	struct findings	*f = arg;
	const char	*open, *close;
	size_t		 len;

	check(line > 0);
	check(strncmp(msg, "rules[", 6) == 0);
	open = strchr(msg, '(');
	close = strstr(msg, "): ");
	check(open != NULL && close != NULL && close > open);
	if (strncmp(close, "): fully shadowed", 17) != 0 || f->n == MAX_SHADOWED)
		return;
	len = (size_t)(close - open - 1);
	check(len < sizeof(f->shadowed[0]));
	memcpy(f->shadowed[f->n], open + 1, len);
	f->shadowed[f->n++][len] = '\0';
}

static const char *const addrs[] = { "10.0.0.1", "10.1.2.3", "127.0.0.1",
    "169.254.169.254", "224.0.0.1", "255.255.255.255", "192.0.2.10",
    "192.168.1.1", "2001:db8::1", "::1", "fe80::1", "ff02::1",
    "::ffff:10.0.0.1", "64:ff9b::7f00:1", "2002:a00:1::", "8.8.8.8" };
static const char *const hosts[] = { "db.example.com", "a.internal.example",
    "x.test", "10.0.0.1" };
static const char *const users[] = { "alice", "bob", "carol" };
static const uint16_t ports[] = { 1, 22, 25, 443, 8080, 65535 };
static struct sockaddr_storage	 sas[sizeof(addrs) / sizeof(addrs[0])];

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_policy_init("fuzz_policy_lint", addrs, sas, NELEM(addrs));
	return 0;
}

/* The lint does not know the gateway's own addresses: none here. */
static void
probe_all(const struct policy *p, const struct findings *f)
{
	static const char *const	 groups[] = { "ops", "dev" };
	struct policy_subject		 subj = { NULL, groups, 2 };
	struct policy_target		 t = { NULL, NULL, 0, NULL, 0 };
	struct policy_verdict		 v;
	size_t				 u, h, a, pt, s;

	for (u = 0; u < NELEM(users); u++)
		for (h = 0; h < NELEM(hosts); h++)
			for (a = 0; a < NELEM(addrs); a++)
				for (pt = 0; pt < NELEM(ports); pt++) {
					subj.user = users[u];
					subj.n_groups = u;
					t.host = hosts[h];
					t.addr = (const struct sockaddr *)&sas[a];
					t.port = ports[pt];
					policy_check(p, &subj, &t, &v);
					for (s = 0; s < f->n; s++)
						check(strcmp(v.rule,
						    f->shadowed[s]) != 0);
				}
}

static void
no_change(void *arg, const char *subject, bool gained, const char *dest,
    const char *ports)
{
	(void)arg;
	(void)subject;
	(void)gained;
	(void)dest;
	(void)ports;
	abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy_lint_opts	 o = { POLICY_LINT_WIDE4, POLICY_LINT_WIDE6 };
	struct findings		 f;
	struct policy		*p;
	char			*text;

	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	p = policy_load_string(text, "fuzz");
	free(text);
	if (p == NULL)
		return 0;
	memset(&f, 0, sizeof(f));
	policy_lint(p, &o, report, &f);
	probe_all(p, &f);
	check(policy_diff(p, p, no_change, NULL) == 0);
	policy_free(p);
	return 0;
}
