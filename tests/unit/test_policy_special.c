/*
 * Special-purpose destinations (unspecified, loopback, link-local,
 * multicast, broadcast, the gateway's own addresses), IPv4 carried in IPv6,
 * and policy_lookup_needed(): what the policy lets through when the address
 * is not an ordinary one, and when a name is worth resolving at all.
 */
#include "policy_fixture.h"

#define SPECIAL	"deny:" POLICY_SPECIAL_RULE

#define ALLOW_WIDE(extra) HEAD \
	"{ name = \"wide\"; action = \"allow\"; users = [ \"*\" ];" \
	"  hosts = [ \"0.0.0.0/0\", \"::/0\", \"64.0.0.0/2\" ];" \
	"  ports = [ \"*\" ]; " extra " }\n);"

static void
expect_all(const struct policy *p, const char *const *addrs, size_t n,
    const char *want)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (strcmp(verdict(p, "u", NULL, addrs[i], 1), want) != 0)
			fail_msg("%s: %s, want %s", addrs[i],
			    verdict(p, "u", NULL, addrs[i], 1), want);
}

#define EXPECT_ALL(p, a, want)	expect_all(p, a, sizeof(a) / sizeof(a[0]), want)

/* Linux connects 0.0.0.0 and :: to the gateway itself, over loopback. */
static void
test_unspecified_is_never_allowed(void **state)
{
	static const char *const unspecified[] = { "0.0.0.0", "0.0.0.1",
	    "0.255.255.255", "::", "::ffff:0.0.0.0", "::ffff:0.1.2.3",
	    "::0.0.0.2", "64:ff9b::", "2002::", "2001:0:1:2:3:4:ffff:ffff" };
	struct policy	*p;

	(void)state;
	p = load_ok(ALLOW_WIDE("special = [ \"loopback\", \"link-local\", "
	    "\"multicast\", \"own\" ];"));
	EXPECT_ALL(p, unspecified, SPECIAL);
	/* Not even through a name, and whatever deny rules say first. */
	assert_string_equal(verdict(p, "u", "zero.example", "0.0.0.0", 1),
	    SPECIAL);
	policy_free(p);
	p = load_ok(HEAD
	    "{ name = \"no-zero\"; action = \"deny\"; users = [ \"*\" ];"
	    "  hosts = [ \"0.0.0.0/8\", \"::\" ]; ports = [ 1 ]; }\n);");
	EXPECT_ALL(p, unspecified, SPECIAL);
	policy_free(p);
}

static void
test_wide_networks_do_not_reach_special_ranges(void **state)
{
	static const char *const special[] = { "127.0.0.1", "127.255.255.254",
	    "::1", "::ffff:127.0.0.1", "169.254.169.254", "169.254.0.1",
	    "fe80::1", "febf:ffff::1", "224.0.0.1", "239.255.255.255",
	    "ff02::1", "ff0e::1", "255.255.255.255" };
	static const char *const ordinary[] = { "126.255.255.255",
	    "128.0.0.0", "64.0.0.1", "169.253.255.255", "169.255.0.0",
	    "fec0::1", "fe7f:ffff::1", "223.255.255.255", "240.0.0.1",
	    "255.255.255.254", "2001:db8::1", "1.0.0.0" };
	struct policy	*p;

	(void)state;
	p = load_ok(ALLOW_WIDE(""));
	EXPECT_ALL(p, special, SPECIAL);
	EXPECT_ALL(p, ordinary, "allow:wide");
	policy_free(p);
	/* A network wider than the range is not a decision to reach it. */
	p = load_ok(HEAD
	    "{ name = \"r\"; action = \"allow\"; users = [ \"*\" ];"
	    "  hosts = [ \"126.0.0.0/7\", \"169.254.0.0/15\", \"fe80::/9\","
	    "    \"fe00::/7\", \"224.0.0.0/3\", \"::/127\" ];"
	    "  ports = [ 1 ]; }\n);");
	EXPECT_ALL(p, special, SPECIAL);
	policy_free(p);
}

static void
test_an_entry_inside_the_range_reaches_it(void **state)
{
	struct policy	*p;

	(void)state;
	p = load_ok(HEAD
	    "{ name = \"lo1\"; action = \"allow\"; users = [ \"*\" ];"
	    "  hosts = [ \"127.0.0.1\", \"::1/128\" ]; ports = [ 1 ]; },\n"
	    "{ name = \"lo8\"; action = \"allow\"; users = [ \"*\" ];"
	    "  hosts = [ \"127.0.0.0/8\" ]; ports = [ 2 ]; },\n"
	    "{ name = \"meta\"; action = \"allow\"; users = [ \"*\" ];"
	    "  hosts = [ \"169.254.169.254/32\", \"fe80::/64\" ];"
	    "  ports = [ 3 ]; },\n"
	    "{ name = \"mc\"; action = \"allow\"; users = [ \"*\" ];"
	    "  hosts = [ \"224.0.0.0/4\", \"ff00::/8\", \"255.255.255.255\" ];"
	    "  ports = [ 4 ]; },\n"
	    "{ name = \"mixed\"; action = \"allow\"; users = [ \"*\" ];"
	    "  hosts = [ \"127.0.0.0/8\", \"0.0.0.0/0\" ]; ports = [ 5 ]; }"
	    "\n);");
	assert_string_equal(verdict(p, "u", NULL, "127.0.0.1", 1), "allow:lo1");
	assert_string_equal(verdict(p, "u", NULL, "::1", 1), "allow:lo1");
	assert_string_equal(verdict(p, "u", NULL, "::ffff:127.0.0.1", 1),
	    "allow:lo1");
	assert_string_equal(verdict(p, "u", NULL, "127.0.0.2", 1),
	    "deny:default-deny");
	assert_string_equal(verdict(p, "u", NULL, "127.9.9.9", 2), "allow:lo8");
	assert_string_equal(verdict(p, "u", NULL, "169.254.169.254", 3),
	    "allow:meta");
	assert_string_equal(verdict(p, "u", NULL, "169.254.169.253", 3),
	    "deny:default-deny");
	assert_string_equal(verdict(p, "u", NULL, "fe80::1", 3), "allow:meta");
	assert_string_equal(verdict(p, "u", NULL, "fe80:0:0:1::1", 3),
	    "deny:default-deny");
	assert_string_equal(verdict(p, "u", NULL, "239.1.1.1", 4), "allow:mc");
	assert_string_equal(verdict(p, "u", NULL, "ff02::1", 4), "allow:mc");
	assert_string_equal(verdict(p, "u", NULL, "255.255.255.255", 4),
	    "allow:mc");
	/* An entry for one range opens no other. */
	assert_string_equal(verdict(p, "u", NULL, "127.0.0.1", 5),
	    "allow:mixed");
	assert_string_equal(verdict(p, "u", NULL, "169.254.169.254", 5),
	    SPECIAL);
	assert_string_equal(verdict(p, "u", NULL, "127.0.0.1", 3),
	    "deny:default-deny");
	policy_free(p);
}

/* A name that resolves to loopback is DNS rebinding unless opted in. */
static void
test_names_reach_special_ranges_only_when_opted_in(void **state)
{
	struct policy	*p;

	(void)state;
	p = load_ok(HEAD
	    "{ name = \"plain\"; action = \"allow\"; users = [ \"*\" ];"
	    "  hosts = [ \"backend.test\" ]; ports = [ 1 ]; },\n"
	    "{ name = \"lo\"; action = \"allow\"; users = [ \"*\" ];"
	    "  hosts = [ \"backend.test\", \"0.0.0.0/0\" ]; ports = [ 2 ];"
	    "  special = [ \"loopback\" ]; },\n"
	    "{ name = \"ll\"; action = \"allow\"; users = [ \"*\" ];"
	    "  hosts = [ \"*.test\" ]; ports = [ 3 ];"
	    "  special = [ \"link-local\", \"multicast\" ]; }\n);");
	assert_string_equal(verdict(p, "u", "backend.test", "127.0.0.1", 1),
	    SPECIAL);
	assert_string_equal(verdict(p, "u", "backend.test", "::1", 1),
	    SPECIAL);
	assert_string_equal(verdict(p, "u", "backend.test", "192.0.2.1", 1),
	    "allow:plain");
	assert_string_equal(verdict(p, "u", "backend.test", "127.0.0.1", 2),
	    "allow:lo");
	assert_string_equal(verdict(p, "u", "backend.test.", "::1", 2),
	    "allow:lo");
	/* The opt-in covers the rule's networks too, and only its range. */
	assert_string_equal(verdict(p, "u", NULL, "127.0.0.1", 2), "allow:lo");
	assert_string_equal(verdict(p, "u", "backend.test", "169.254.169.254",
	    2), SPECIAL);
	assert_string_equal(verdict(p, "u", "a.test", "169.254.169.254", 3),
	    "allow:ll");
	assert_string_equal(verdict(p, "u", "a.test", "ff02::1", 3),
	    "allow:ll");
	assert_string_equal(verdict(p, "u", "a.test", "127.0.0.1", 3),
	    SPECIAL);
	/* No opt-in opens broadcast: only 255.255.255.255 itself does. */
	assert_string_equal(verdict(p, "u", "a.test", "255.255.255.255", 3),
	    SPECIAL);
	policy_free(p);
}

/* A skipped allow is not a verdict: later rules still decide. */
static void
test_later_rules_decide_after_a_skipped_allow(void **state)
{
	struct policy	*p;

	(void)state;
	p = load_ok(HEAD
	    "{ name = \"wide\"; action = \"allow\"; users = [ \"*\" ];"
	    "  hosts = [ \"0.0.0.0/0\" ]; ports = [ 1 ]; },\n"
	    "{ name = \"alice-lo\"; action = \"allow\"; users = [ \"alice\" ];"
	    "  hosts = [ \"127.0.0.1\" ]; ports = [ 1 ]; },\n"
	    "{ name = \"no-lo\"; action = \"deny\"; users = [ \"bob\" ];"
	    "  hosts = [ \"127.0.0.0/8\" ]; ports = [ 1 ]; }\n);");
	assert_string_equal(verdict(p, "alice", NULL, "127.0.0.1", 1),
	    "allow:alice-lo");
	assert_string_equal(verdict(p, "bob", NULL, "127.0.0.1", 1),
	    "deny:no-lo");
	assert_string_equal(verdict(p, "carol", NULL, "127.0.0.1", 1),
	    SPECIAL);
	assert_string_equal(verdict(p, "carol", NULL, "127.0.0.1", 2),
	    "deny:default-deny");
	policy_free(p);
}

static void
test_own_addresses_need_naming(void **state)
{
	static const uint32_t		 v4[] = { 0xc000020a, 0x7f000001 };
	static struct in6_addr		 v6[1];
	static const struct policy_own	 own = { v4, 2, v6, 1 };
	struct policy			*p;

	(void)state;
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::10", &v6[0]), 1);
	fixture_own = &own;
	p = load_ok(HEAD
	    "{ name = \"one\"; action = \"allow\"; users = [ \"*\" ];"
	    "  hosts = [ \"192.0.2.10\", \"2001:db8::10\" ]; ports = [ 1 ]; },"
	    "\n{ name = \"net\"; action = \"allow\"; users = [ \"*\" ];"
	    "  hosts = [ \"192.0.2.0/24\", \"gw.example\", \"2001:db8::/32\" ];"
	    "  ports = [ 2 ]; },\n"
	    "{ name = \"opt\"; action = \"allow\"; users = [ \"*\" ];"
	    "  hosts = [ \"gw.example\", \"0.0.0.0/0\" ]; ports = [ 3 ];"
	    "  special = [ \"own\" ]; }\n);");
	assert_string_equal(verdict(p, "u", NULL, "192.0.2.10", 1),
	    "allow:one");
	assert_string_equal(verdict(p, "u", NULL, "2001:db8::10", 1),
	    "allow:one");
	assert_string_equal(verdict(p, "u", NULL, "192.0.2.10", 2), SPECIAL);
	assert_string_equal(verdict(p, "u", "gw.example", "192.0.2.10", 2),
	    SPECIAL);
	assert_string_equal(verdict(p, "u", NULL, "::ffff:192.0.2.10", 2),
	    SPECIAL);
	assert_string_equal(verdict(p, "u", NULL, "64:ff9b::c000:20a", 3),
	    "allow:opt");
	assert_string_equal(verdict(p, "u", NULL, "2001:db8::10", 2),
	    SPECIAL);
	assert_string_equal(verdict(p, "u", NULL, "192.0.2.11", 2),
	    "allow:net");
	assert_string_equal(verdict(p, "u", "gw.example", "192.0.2.10", 3),
	    "allow:opt");
	/* An own address in a special range stays in that range. */
	assert_string_equal(verdict(p, "u", "gw.example", "127.0.0.1", 3),
	    SPECIAL);
	fixture_own = NULL;
	assert_string_equal(verdict(p, "u", NULL, "192.0.2.10", 2),
	    "allow:net");
	policy_free(p);
}

/* Each form of 10.1.2.3 and of 192.0.2.1 that reaches the IPv4 host. */
static const char *const ten[] = { "10.1.2.3", "::ffff:10.1.2.3",
    "::10.1.2.3", "64:ff9b::a01:203", "2002:a01:203::1",
    "2001:0:4136:e378:8000:63bf:f5fe:fdfc" };
static const char *const doc[] = { "192.0.2.1", "::ffff:192.0.2.1",
    "::192.0.2.1", "64:ff9b::c000:201", "2002:c000:201:1::",
    "2001:0:4136:e378:8000:63bf:3fff:fdfe" };

static void
test_ipv4_in_ipv6_is_judged_as_ipv4(void **state)
{
	struct policy	*p;

	(void)state;
	p = load_ok(HEAD
	    "{ name = \"no-ten\"; action = \"deny\"; users = [ \"*\" ];"
	    "  hosts = [ \"10.0.0.0/8\" ]; ports = [ 1 ]; },\n"
	    "{ name = \"doc\"; action = \"allow\"; users = [ \"*\" ];"
	    "  hosts = [ \"192.0.2.0/24\" ]; ports = [ 1 ]; },\n"
	    "{ name = \"all6\"; action = \"allow\"; users = [ \"*\" ];"
	    "  hosts = [ \"::/0\" ]; ports = [ 1, 2 ]; }\n);");
	EXPECT_ALL(p, ten, "deny:no-ten");
	EXPECT_ALL(p, doc, "allow:doc");
	/* An IPv6 allow does not reach an IPv4 host it was not meant for. */
	assert_string_equal(verdict(p, "u", NULL, "64:ff9b::a01:203", 2),
	    "deny:default-deny");
	assert_string_equal(verdict(p, "u", NULL, "2001:db8::1", 2),
	    "allow:all6");
	policy_free(p);
	/* A deny of the translator's prefix still refuses it as written. */
	p = load_ok(HEAD
	    "{ name = \"no-6to4\"; action = \"deny\"; users = [ \"*\" ];"
	    "  hosts = [ \"2002::/16\", \"64:ff9b::/96\" ]; ports = [ 1 ]; },\n"
	    "{ name = \"all4\"; action = \"allow\"; users = [ \"*\" ];"
	    "  hosts = [ \"0.0.0.0/0\" ]; ports = [ 1 ]; }\n);");
	assert_string_equal(verdict(p, "u", NULL, doc[3], 1), "deny:no-6to4");
	assert_string_equal(verdict(p, "u", NULL, doc[4], 1), "deny:no-6to4");
	assert_string_equal(verdict(p, "u", NULL, doc[5], 1), "allow:all4");
	assert_string_equal(verdict(p, "u", NULL, doc[1], 1), "allow:all4");
	policy_free(p);
}

static const char *
lookup(const struct policy *p, const char *user, const char *const *groups,
    size_t n_groups, const char *host, uint16_t port)
{
	static char		 out[128];
	struct policy_subject	 subj = { user, groups, n_groups };
	struct policy_verdict	 v = { POLICY_ALLOW, NULL, false };

	if (policy_lookup_needed(p, &subj, host, port, 0, &v))
		return "lookup";
	assert_int_equal(v.action, POLICY_DENY);
	snprintf(out, sizeof(out), "deny:%s", v.rule);
	return out;
}

static void
test_lookup_only_where_an_allow_could_follow(void **state)
{
	static const char *const	 ops[] = { "ops" };
	struct policy			*p;

	(void)state;
	p = load_ok(HEAD
	    "{ name = \"no-secret\"; action = \"deny\"; users = [ \"*\" ];"
	    "  hosts = [ \"secret.example\" ]; ports = [ \"*\" ]; },\n"
	    "{ name = \"no-ten\"; action = \"deny\"; users = [ \"*\" ];"
	    "  hosts = [ \"10.0.0.0/8\" ]; ports = [ \"*\" ]; },\n"
	    "{ name = \"ops-names\"; action = \"allow\"; groups = [ \"ops\" ];"
	    "  hosts = [ \"*.corp.example\" ]; ports = [ 22 ]; },\n"
	    "{ name = \"ops-nets\"; action = \"allow\"; groups = [ \"ops\" ];"
	    "  hosts = [ \"192.0.2.0/24\" ]; ports = [ 443 ]; },\n"
	    "{ name = \"bob\"; action = \"allow\"; users = [ \"bob\" ];"
	    "  hosts = [ \"web.example\" ]; ports = [ 80 ]; }\n);");
	assert_string_equal(lookup(p, "alice", NULL, 0, "web.example", 80),
	    "deny:default-deny");
	assert_string_equal(lookup(p, "bob", NULL, 0, "web.example", 80),
	    "lookup");
	assert_string_equal(lookup(p, "bob", NULL, 0, "WEB.example.", 80),
	    "lookup");
	assert_string_equal(lookup(p, "bob", NULL, 0, "web.example", 81),
	    "deny:default-deny");
	assert_string_equal(lookup(p, "bob", NULL, 0, "other.example", 80),
	    "deny:default-deny");
	assert_string_equal(lookup(p, "bob", NULL, 0, "secret.example.", 80),
	    "deny:no-secret");
	assert_string_equal(lookup(p, "olga", ops, 1, "a.corp.example", 22),
	    "lookup");
	assert_string_equal(lookup(p, "olga", ops, 1, "a.corp.example", 23),
	    "deny:default-deny");
	/* Any name may resolve into a network an allow rule names. */
	assert_string_equal(lookup(p, "olga", ops, 1, "anything.example",
	    443), "lookup");
	assert_string_equal(lookup(p, "olga", ops, 1, "secret.example", 443),
	    "deny:no-secret");
	assert_string_equal(lookup(p, NULL, NULL, 0, "web.example", 80),
	    "deny:default-deny");
	assert_string_equal(lookup(NULL, "bob", NULL, 0, "web.example", 80),
	    "deny:default-deny");
	policy_free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unspecified_is_never_allowed),
		cmocka_unit_test(test_wide_networks_do_not_reach_special_ranges),
		cmocka_unit_test(test_an_entry_inside_the_range_reaches_it),
		cmocka_unit_test(
		    test_names_reach_special_ranges_only_when_opted_in),
		cmocka_unit_test(test_later_rules_decide_after_a_skipped_allow),
		cmocka_unit_test(test_own_addresses_need_naming),
		cmocka_unit_test(test_ipv4_in_ipv6_is_judged_as_ipv4),
		cmocka_unit_test(test_lookup_only_where_an_allow_could_follow),
	};

	return cmocka_run_group_tests_name("policy_special", tests, NULL,
	    NULL);
}
