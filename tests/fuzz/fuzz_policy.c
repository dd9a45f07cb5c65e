/*
 * The policy loader on arbitrary text, and the matcher on whatever it
 * accepts. Besides memory errors, abort on any verdict that breaks the
 * contract: a verdict always names a rule, "default-deny" and
 * "special-address" always deny, an unspecified address is never allowed,
 * the same question always gets the same answer, and a name for which
 * policy_lookup_needed() says no lookup is needed is allowed at no address.
 */
#include "fuzz_policy_common.h"
#include "policy.h"

static const char *const addrs[] = { "10.0.0.1", "127.0.0.1", "0.0.0.0",
    "169.254.169.254", "224.0.0.1", "255.255.255.255", "192.0.2.10",
    "2001:db8::1", "::1", "::", "fe80::1", "ff02::1", "::ffff:10.0.0.1",
    "::ffff:127.0.0.1", "64:ff9b::7f00:1", "2002:a00:1::",
    "2001:0:4136:e378:8000:63bf:f5ff:fffe", "::10.0.0.1" };
static struct sockaddr_storage	 sas[sizeof(addrs) / sizeof(addrs[0])];
static const uint32_t		 own_v4[] = { 0xc000020a };
static const struct policy_own	 own = { own_v4, 1, NULL, 0 };

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_policy_init("fuzz_policy", addrs, sas,
	    sizeof(addrs) / sizeof(addrs[0]));
	return 0;
}

/* A fixed clock, so that the two checks of one probe agree on windows. */
#define FUZZ_NOW	1767225600	/* 2026-01-01 00:00 UTC */

/* Each rule's time limits, around a day and across a year's DST dates. */
static void
probe_times(const struct policy *p)
{
	struct policy_rule_limits	 lim;
	int64_t				 t, ends;
	size_t				 i;

	for (i = 0; i < policy_rule_count(p); i++) {
		policy_rule_time(p, i, &lim);
		check(strlen(lim.window) < sizeof(lim.window));
		check(lim.has_window == (lim.window[0] != '\0'));
		for (t = FUZZ_NOW; t < FUZZ_NOW + 366 * 86400; t += 7 * 3607)
			if (policy_rule_window_open(p, i, t, &ends))
				check(lim.has_window ? ends > t &&
				    ends <= t + 2 * 86400 : ends == 0);
	}
}

static void
probe(const struct policy *p, const char *user, const char *host,
    const struct sockaddr *sa, uint16_t port)
{
	static const char *const	 groups[] = { "ops", NULL, "staff" };
	struct policy_subject		 subj = { user, groups, 3 };
	struct policy_target		 t = { host, sa, port, &own, FUZZ_NOW };
	struct policy_verdict		 v, again;

	policy_check(p, &subj, &t, &v);
	check(v.rule != NULL && v.rule[0] != '\0');
	check(v.action == POLICY_ALLOW || v.action == POLICY_DENY);
	if (strcmp(v.rule, POLICY_DEFAULT_RULE) == 0 ||
	    strcmp(v.rule, POLICY_SPECIAL_RULE) == 0)
		check(v.action == POLICY_DENY);
	policy_check(p, &subj, &t, &again);
	check(again.action == v.action && again.rule == v.rule);
}

/* Every address the name could resolve to, for one user, host and port. */
static void
probe_name(const struct policy *p, const char *user, const char *host,
    uint16_t port)
{
	static const char *const	 groups[] = { "ops", NULL, "staff" };
	struct policy_subject		 subj = { user, groups, 3 };
	struct policy_target		 t = { host, NULL, port, &own, FUZZ_NOW };
	struct policy_verdict		 pre, v;
	bool				 needed;
	size_t				 i;

	needed = policy_lookup_needed(p, &subj, host, port, FUZZ_NOW, &pre);
	if (!needed)
		check(pre.action == POLICY_DENY && pre.rule != NULL);
	for (i = 0; i < sizeof(sas) / sizeof(sas[0]); i++) {
		t.addr = (const struct sockaddr *)&sas[i];
		probe(p, user, host, t.addr, port);
		policy_check(p, &subj, &t, &v);
		check(needed || v.action == POLICY_DENY);
		if (strcmp(addrs[i], "0.0.0.0") == 0 ||
		    strcmp(addrs[i], "::") == 0)
			check(v.action == POLICY_DENY);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
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

	probe_name(p, "alice", "db.example.com", 22);
	probe_name(p, "bob", "A.Internal.Example.", 443);
	probe_name(p, "alice", "10.0.0.1", 8080);
	probe_name(p, "carol", "backend.test", 65535);
	probe(p, "carol", NULL, NULL, 65535);
	probe(p, NULL, "x", (const struct sockaddr *)&sas[0], 1);
	probe_times(p);
	policy_free(p);
	return 0;
}
