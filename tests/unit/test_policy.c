/*
 * Policy matcher: what a rule matches (users, groups, names, networks,
 * ports) and in what order. Loading and refusing bad policies is tested in
 * test_policy_load.c.
 */
#include "policy_fixture.h"

static void
test_first_match_wins(void **state)
{
	struct policy	*p;

	(void)state;
	p = load_ok(HEAD
	    "{ name = \"block-db\"; action = \"deny\"; users = [ \"*\" ];"
	    "  hosts = [ \"db.example.com\" ]; ports = [ 5432 ]; },\n"
	    "{ name = \"all\"; action = \"allow\"; users = [ \"*\" ];"
	    "  hosts = [ \"*.example.com\" ]; ports = [ \"*\" ]; }\n);");
	assert_int_equal(policy_rule_count(p), 2);
	assert_string_equal(verdict(p, "alice", "db.example.com", NULL, 5432),
	    "deny:block-db");
	assert_string_equal(verdict(p, "alice", "db.example.com", NULL, 22),
	    "allow:all");
	policy_free(p);

	p = load_ok(HEAD
	    "{ name = \"all\"; action = \"allow\"; users = [ \"*\" ];"
	    "  hosts = [ \"*.example.com\" ]; ports = [ \"*\" ]; },\n"
	    "{ name = \"block-db\"; action = \"deny\"; users = [ \"*\" ];"
	    "  hosts = [ \"db.example.com\" ]; ports = [ 5432 ]; }\n);");
	assert_string_equal(verdict(p, "alice", "db.example.com", NULL, 5432),
	    "allow:all");
	policy_free(p);
}

static void
test_default_deny(void **state)
{
	struct policy	*p;

	(void)state;
	p = load_ok(HEAD
	    "{ name = \"web\"; action = \"allow\"; users = [ \"alice\" ];"
	    "  hosts = [ \"www.example.com\" ]; ports = [ 443 ]; }\n);");
	assert_string_equal(verdict(p, "alice", "www.example.com", NULL, 443),
	    "allow:web");
	assert_string_equal(verdict(p, "bob", "www.example.com", NULL, 443),
	    "deny:" POLICY_DEFAULT_RULE);
	assert_string_equal(verdict(p, "alice", "mail.example.com", NULL, 443),
	    "deny:" POLICY_DEFAULT_RULE);
	assert_string_equal(verdict(p, "alice", "www.example.com", NULL, 80),
	    "deny:" POLICY_DEFAULT_RULE);
	policy_free(p);

	p = load_ok("version = 1;\nrules = ();\n");
	assert_int_equal(policy_rule_count(p), 0);
	assert_string_equal(verdict(p, "alice", "www.example.com", NULL, 443),
	    "deny:" POLICY_DEFAULT_RULE);
	policy_free(p);

	/* No policy at all is no access, not a crash. */
	assert_string_equal(verdict(NULL, "alice", "a.example", NULL, 1),
	    "deny:" POLICY_DEFAULT_RULE);
}

static void
test_users_exact_and_case_sensitive(void **state)
{
	struct policy	*p;

	(void)state;
	p = load_ok(HEAD
	    "{ name = \"r\"; action = \"allow\";"
	    "  users = [ \"alice\", \"bob\" ];"
	    "  hosts = [ \"a.example\" ]; ports = [ 22 ]; }\n);");
	assert_string_equal(verdict(p, "alice", "a.example", NULL, 22),
	    "allow:r");
	assert_string_equal(verdict(p, "bob", "a.example", NULL, 22),
	    "allow:r");
	assert_string_equal(verdict(p, "Alice", "a.example", NULL, 22),
	    "deny:default-deny");
	assert_string_equal(verdict(p, "alic", "a.example", NULL, 22),
	    "deny:default-deny");
	assert_string_equal(verdict(p, "alice2", "a.example", NULL, 22),
	    "deny:default-deny");
	assert_string_equal(verdict(p, "", "a.example", NULL, 22),
	    "deny:default-deny");
	policy_free(p);
}

static void
test_user_star_is_any_authenticated_user(void **state)
{
	struct policy	*p;

	(void)state;
	p = load_ok(HEAD
	    "{ name = \"r\"; action = \"allow\"; users = [ \"*\" ];"
	    "  hosts = [ \"a.example\" ]; ports = [ 22 ]; }\n);");
	assert_string_equal(verdict(p, "zed", "a.example", NULL, 22),
	    "allow:r");
	assert_string_equal(verdict(p, NULL, "a.example", NULL, 22),
	    "deny:default-deny");
	policy_free(p);
}

static void
test_groups_and_users_either_matches(void **state)
{
	static const char *const	 ops[] = { "dev", "ops" };
	static const char *const	 other[] = { "dev", "op", "opsx" };
	static const char *const	 holes[] = { NULL, "ops" };
	struct policy			*p;

	(void)state;
	p = load_ok(HEAD
	    "{ name = \"r\"; action = \"allow\"; users = [ \"carol\" ];"
	    "  groups = [ \"ops\", \"sre\" ];"
	    "  hosts = [ \"a.example\" ]; ports = [ 22 ]; }\n);");
	assert_string_equal(verdict_g(p, "dave", ops, 2, "a.example", NULL,
	    22), "allow:r");
	assert_string_equal(verdict_g(p, "dave", other, 3, "a.example", NULL,
	    22), "deny:default-deny");
	assert_string_equal(verdict_g(p, "dave", holes, 2, "a.example", NULL,
	    22), "allow:r");
	assert_string_equal(verdict(p, "dave", "a.example", NULL, 22),
	    "deny:default-deny");
	/* In users, not in any group: the users list alone is enough. */
	assert_string_equal(verdict_g(p, "carol", other, 3, "a.example", NULL,
	    22), "allow:r");
	/* Group names are case-sensitive, like user names. */
	assert_string_equal(verdict_g(p, "dave", (const char *const[]){ "OPS" },
	    1, "a.example", NULL, 22), "deny:default-deny");
	policy_free(p);
}

/* An account re-check reports only the groups some rule names. */
static void
test_names_group_only_for_groups_a_rule_names(void **state)
{
	struct policy	*p;

	(void)state;
	p = load_ok(HEAD
	    "{ name = \"r\"; action = \"allow\"; users = [ \"carol\" ];"
	    "  groups = [ \"ops\" ]; hosts = [ \"a.example\" ]; ports = [ 22 ]; },\n"
	    "{ name = \"d\"; action = \"deny\"; groups = [ \"sre\" ];"
	    "  hosts = [ \"b.example\" ]; ports = [ 22 ]; }\n);");
	assert_true(policy_names_group(p, "ops"));
	assert_true(policy_names_group(p, "sre"));
	assert_false(policy_names_group(p, "OPS"));
	assert_false(policy_names_group(p, "op"));
	assert_false(policy_names_group(p, "carol"));
	assert_false(policy_names_group(p, ""));
	policy_free(p);
}

static void
test_exact_name_case_and_trailing_dot(void **state)
{
	struct policy	*p;

	(void)state;
	p = load_ok(HEAD
	    "{ name = \"db\"; action = \"allow\"; users = [ \"*\" ];"
	    "  hosts = [ \"DB.Example.com\", \"dot.example.\" ];"
	    "  ports = [ 5432 ]; }\n);");
	assert_string_equal(verdict(p, "u", "db.example.com", NULL, 5432),
	    "allow:db");
	assert_string_equal(verdict(p, "u", "DB.EXAMPLE.COM", NULL, 5432),
	    "allow:db");
	assert_string_equal(verdict(p, "u", "db.example.com.", NULL, 5432),
	    "allow:db");
	assert_string_equal(verdict(p, "u", "dot.example", NULL, 5432),
	    "allow:db");
	assert_string_equal(verdict(p, "u", "db.example.com..", NULL, 5432),
	    "deny:default-deny");
	assert_string_equal(verdict(p, "u", "xdb.example.com", NULL, 5432),
	    "deny:default-deny");
	assert_string_equal(verdict(p, "u", "a.db.example.com", NULL, 5432),
	    "deny:default-deny");
	assert_string_equal(verdict(p, "u", "db.example.co", NULL, 5432),
	    "deny:default-deny");
	assert_string_equal(verdict(p, "u", "", NULL, 5432),
	    "deny:default-deny");
	assert_string_equal(verdict(p, "u", ".", NULL, 5432),
	    "deny:default-deny");
	policy_free(p);
}

static void
test_suffix_needs_a_label_before_it(void **state)
{
	struct policy	*p;
	char		 longname[400];

	(void)state;
	p = load_ok(HEAD
	    "{ name = \"int\"; action = \"allow\"; users = [ \"*\" ];"
	    "  hosts = [ \"*.Internal.Example\" ]; ports = [ 22 ]; }\n);");
	assert_string_equal(verdict(p, "u", "a.internal.example", NULL, 22),
	    "allow:int");
	assert_string_equal(verdict(p, "u", "a.b.internal.example", NULL, 22),
	    "allow:int");
	assert_string_equal(verdict(p, "u", "A.INTERNAL.EXAMPLE.", NULL, 22),
	    "allow:int");
	assert_string_equal(verdict(p, "u", "internal.example", NULL, 22),
	    "deny:default-deny");
	assert_string_equal(verdict(p, "u", "internal.example.", NULL, 22),
	    "deny:default-deny");
	assert_string_equal(verdict(p, "u", "evilinternal.example", NULL, 22),
	    "deny:default-deny");
	assert_string_equal(verdict(p, "u", ".internal.example", NULL, 22),
	    "deny:default-deny");
	assert_string_equal(verdict(p, "u", "a.internal.example.com", NULL,
	    22), "deny:default-deny");
	/* Longer than any DNS name: no match, and no read past the end. */
	memset(longname, 'a', sizeof(longname));
	memcpy(longname + sizeof(longname) - 18, ".internal.example", 18);
	assert_string_equal(verdict(p, "u", longname, NULL, 22),
	    "deny:default-deny");
	policy_free(p);
}

static void
test_names_and_addresses_never_cross(void **state)
{
	struct policy	*p;

	(void)state;
	p = load_ok(HEAD
	    "{ name = \"byname\"; action = \"allow\"; users = [ \"*\" ];"
	    "  hosts = [ \"db.example.com\" ]; ports = [ 22 ]; },\n"
	    "{ name = \"bynet\"; action = \"allow\"; users = [ \"*\" ];"
	    "  hosts = [ \"10.0.0.0/8\" ]; ports = [ 22 ]; }\n);");
	/* The name rule does not care where the name resolves. */
	assert_string_equal(verdict(p, "u", "db.example.com", "192.0.2.1", 22),
	    "allow:byname");
	/* A literal address as host is matched by networks only. */
	assert_string_equal(verdict(p, "u", "10.1.2.3", NULL, 22),
	    "deny:default-deny");
	assert_string_equal(verdict(p, "u", "10.1.2.3", "10.1.2.3", 22),
	    "allow:bynet");
	assert_string_equal(verdict(p, "u", NULL, "10.1.2.3", 22),
	    "allow:bynet");
	policy_free(p);
}

static void
test_ipv4_cidr_boundaries(void **state)
{
	struct policy	*p;

	(void)state;
	p = load_ok(HEAD
	    "{ name = \"ten\"; action = \"allow\"; users = [ \"*\" ];"
	    "  hosts = [ \"10.0.0.0/8\" ]; ports = [ 1 ]; },\n"
	    "{ name = \"half\"; action = \"allow\"; users = [ \"*\" ];"
	    "  hosts = [ \"192.0.2.128/25\" ]; ports = [ 1 ]; },\n"
	    "{ name = \"one\"; action = \"allow\"; users = [ \"*\" ];"
	    "  hosts = [ \"198.51.100.7\" ]; ports = [ 1 ]; },\n"
	    "{ name = \"all4\"; action = \"deny\"; users = [ \"*\" ];"
	    "  hosts = [ \"0.0.0.0/0\" ]; ports = [ 2 ]; }\n);");
	assert_string_equal(verdict(p, "u", NULL, "10.0.0.0", 1), "allow:ten");
	assert_string_equal(verdict(p, "u", NULL, "10.255.255.255", 1),
	    "allow:ten");
	assert_string_equal(verdict(p, "u", NULL, "9.255.255.255", 1),
	    "deny:default-deny");
	assert_string_equal(verdict(p, "u", NULL, "11.0.0.0", 1),
	    "deny:default-deny");
	assert_string_equal(verdict(p, "u", NULL, "192.0.2.127", 1),
	    "deny:default-deny");
	assert_string_equal(verdict(p, "u", NULL, "192.0.2.128", 1),
	    "allow:half");
	assert_string_equal(verdict(p, "u", NULL, "192.0.2.255", 1),
	    "allow:half");
	assert_string_equal(verdict(p, "u", NULL, "198.51.100.7", 1),
	    "allow:one");
	assert_string_equal(verdict(p, "u", NULL, "198.51.100.6", 1),
	    "deny:default-deny");
	assert_string_equal(verdict(p, "u", NULL, "198.51.100.8", 1),
	    "deny:default-deny");
	assert_string_equal(verdict(p, "u", NULL, "255.255.255.255", 2),
	    "deny:all4");
	/* /0 of one family says nothing about the other. */
	assert_string_equal(verdict(p, "u", NULL, "2001:db8::1", 2),
	    "deny:default-deny");
	policy_free(p);
}

static void
test_ipv6_cidr_boundaries(void **state)
{
	struct policy	*p;

	(void)state;
	p = load_ok(HEAD
	    "{ name = \"doc\"; action = \"allow\"; users = [ \"*\" ];"
	    "  hosts = [ \"2001:DB8::/32\" ]; ports = [ 1 ]; },\n"
	    "{ name = \"odd\"; action = \"allow\"; users = [ \"*\" ];"
	    "  hosts = [ \"2001:db9:8000::/33\" ]; ports = [ 1 ]; },\n"
	    "{ name = \"lo\"; action = \"allow\"; users = [ \"*\" ];"
	    "  hosts = [ \"::1\" ]; ports = [ 1 ]; }\n);");
	assert_string_equal(verdict(p, "u", NULL, "2001:db8::", 1),
	    "allow:doc");
	assert_string_equal(verdict(p, "u", NULL,
	    "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", 1), "allow:doc");
	assert_string_equal(verdict(p, "u", NULL,
	    "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", 1), "deny:default-deny");
	assert_string_equal(verdict(p, "u", NULL, "2001:db9:7fff:ffff::", 1),
	    "deny:default-deny");
	assert_string_equal(verdict(p, "u", NULL, "2001:db9:8000::", 1),
	    "allow:odd");
	assert_string_equal(verdict(p, "u", NULL, "2001:db9:ffff::1", 1),
	    "allow:odd");
	assert_string_equal(verdict(p, "u", NULL, "2001:dba::", 1),
	    "deny:default-deny");
	assert_string_equal(verdict(p, "u", NULL, "::1", 1), "allow:lo");
	assert_string_equal(verdict(p, "u", NULL, "::2", 1),
	    "deny:" POLICY_SPECIAL_RULE);
	assert_string_equal(verdict(p, "u", NULL, "::", 1),
	    "deny:" POLICY_SPECIAL_RULE);
	assert_string_equal(verdict(p, "u", NULL, "0.0.0.1", 1),
	    "deny:" POLICY_SPECIAL_RULE);
	assert_string_equal(verdict(p, "u", NULL, "::3", 1),
	    "deny:" POLICY_SPECIAL_RULE);
	policy_free(p);
}

static void
test_ipv4_mapped_address_is_ipv4(void **state)
{
	struct policy	*p;

	(void)state;
	p = load_ok(HEAD
	    "{ name = \"no-ten\"; action = \"deny\"; users = [ \"*\" ];"
	    "  hosts = [ \"10.0.0.0/8\" ]; ports = [ 22 ]; },\n"
	    "{ name = \"all6\"; action = \"allow\"; users = [ \"*\" ];"
	    "  hosts = [ \"::/0\" ]; ports = [ 22 ]; }\n);");
	assert_string_equal(verdict(p, "u", NULL, "::ffff:10.1.2.3", 22),
	    "deny:no-ten");
	/* Not under "::/0" either: the connection is an IPv4 one. */
	assert_string_equal(verdict(p, "u", NULL, "::ffff:192.0.2.1", 22),
	    "deny:default-deny");
	assert_string_equal(verdict(p, "u", NULL, "2001:db8::1", 22),
	    "allow:all6");
	/* IPv4-compatible (::a.b.c.d) reaches the IPv4 host too. */
	assert_string_equal(verdict(p, "u", NULL, "::10.1.2.3", 22),
	    "deny:no-ten");
	policy_free(p);
}

static void
test_cidr_never_matches_without_address(void **state)
{
	struct policy	*p;

	(void)state;
	p = load_ok(HEAD
	    "{ name = \"any\"; action = \"allow\"; users = [ \"*\" ];"
	    "  hosts = [ \"0.0.0.0/0\", \"::/0\" ]; ports = [ 22 ]; }\n);");
	assert_string_equal(verdict(p, "u", "10.0.0.1", NULL, 22),
	    "deny:default-deny");
	assert_string_equal(verdict(p, "u", "2001:db8::1", NULL, 22),
	    "deny:default-deny");
	assert_string_equal(verdict(p, "u", "10.0.0.1", "10.0.0.1", 22),
	    "allow:any");
	policy_free(p);
}

static void
test_ports_single_range_and_star(void **state)
{
	struct policy	*p;

	(void)state;
	p = load_ok(HEAD
	    "{ name = \"mixed\"; action = \"allow\"; users = [ \"a\" ];"
	    "  hosts = [ \"h.example\" ];"
	    "  ports = ( 22, \"8000-8100\", \"443\", 0x50 ); },\n"
	    "{ name = \"star\"; action = \"allow\"; users = [ \"b\" ];"
	    "  hosts = [ \"h.example\" ]; ports = [ \"*\" ]; }\n);");
	assert_string_equal(verdict(p, "a", "h.example", NULL, 22),
	    "allow:mixed");
	assert_string_equal(verdict(p, "a", "h.example", NULL, 21),
	    "deny:default-deny");
	assert_string_equal(verdict(p, "a", "h.example", NULL, 23),
	    "deny:default-deny");
	assert_string_equal(verdict(p, "a", "h.example", NULL, 7999),
	    "deny:default-deny");
	assert_string_equal(verdict(p, "a", "h.example", NULL, 8000),
	    "allow:mixed");
	assert_string_equal(verdict(p, "a", "h.example", NULL, 8100),
	    "allow:mixed");
	assert_string_equal(verdict(p, "a", "h.example", NULL, 8101),
	    "deny:default-deny");
	assert_string_equal(verdict(p, "a", "h.example", NULL, 443),
	    "allow:mixed");
	assert_string_equal(verdict(p, "a", "h.example", NULL, 80),
	    "allow:mixed");
	assert_string_equal(verdict(p, "b", "h.example", NULL, 1),
	    "allow:star");
	assert_string_equal(verdict(p, "b", "h.example", NULL, 65535),
	    "allow:star");
	assert_string_equal(verdict(p, "b", "h.example", NULL, 0),
	    "deny:default-deny");
	policy_free(p);
}

static void
test_shipped_example_policy(void **state)
{
	static const char *const	 ops[] = { "ops" };
	static const char *const	 staff[] = { "staff" };
	struct policy			*p;

	(void)state;
	/* make runs the tests from the top of the tree. */
	assert_non_null(p = policy_load("etc/policy.conf"));
	assert_int_equal(policy_rule_count(p), 6);
	assert_true(policy_has_time_limits(p));
	assert_string_equal(verdict_g(p, "olga", ops, 1, "web.corp.example.com",
	    "10.3.0.9", 22), "allow:ops-ssh");
	assert_string_equal(verdict_g(p, "olga", ops, 1, "sw.mgmt.example.com",
	    "10.3.0.1", 22), "deny:no-mgmt");
	assert_string_equal(verdict(p, "alice", "db.corp.example.com",
	    "10.9.0.2", 5432), "allow:db");
	assert_string_equal(verdict_g(p, "sam", staff, 1,
	    "jump1.corp.example.com", "10.20.0.4", 3389), "allow:rdp-jump");
	assert_string_equal(verdict_g(p, "sam", staff, 1,
	    "jump1.corp.example.com", "10.20.0.4", 22), "deny:default-deny");
	policy_free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_match_wins),
		cmocka_unit_test(test_default_deny),
		cmocka_unit_test(test_users_exact_and_case_sensitive),
		cmocka_unit_test(test_user_star_is_any_authenticated_user),
		cmocka_unit_test(test_groups_and_users_either_matches),
		cmocka_unit_test(test_names_group_only_for_groups_a_rule_names),
		cmocka_unit_test(test_exact_name_case_and_trailing_dot),
		cmocka_unit_test(test_suffix_needs_a_label_before_it),
		cmocka_unit_test(test_names_and_addresses_never_cross),
		cmocka_unit_test(test_ipv4_cidr_boundaries),
		cmocka_unit_test(test_ipv6_cidr_boundaries),
		cmocka_unit_test(test_ipv4_mapped_address_is_ipv4),
		cmocka_unit_test(test_cidr_never_matches_without_address),
		cmocka_unit_test(test_ports_single_range_and_star),
		cmocka_unit_test(test_shipped_example_policy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
