/* netaddr: the address text of the audit log and the trusted-network check. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <sys/un.h>
#include <cmocka.h>

#include "netaddr.h"

static struct sockaddr_storage
sa(const char *addr, uint16_t port)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
	} else {
		assert_int_equal(inet_pton(AF_INET6, addr, &s6->sin6_addr), 1);
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
	}
	return ss;
}

static bool
contains(const char *net, const char *addr)
{
	struct netaddr_net	 n;
	struct sockaddr_storage	 ss = sa(addr, 1);

	assert_int_equal(netaddr_net_parse(net, &n), 0);
	return netaddr_net_contains(&n, (struct sockaddr *)&ss);
}

static void
test_format_matches_the_audit_log(void **state)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_un	 un = { .sun_family = AF_UNIX };
	char			 out[NETADDR_STR_MAX];

	(void)state;
	ss = sa("198.51.100.23", 51234);
	netaddr_format((struct sockaddr *)&ss, out, sizeof(out));
	assert_string_equal(out, "198.51.100.23:51234");
	ss = sa("2001:db8:7::23", 50412);
	netaddr_format((struct sockaddr *)&ss, out, sizeof(out));
	assert_string_equal(out, "[2001:db8:7::23]:50412");
	/* The longest form fits. */
	ss = sa("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", 65535);
	netaddr_format((struct sockaddr *)&ss, out, sizeof(out));
	assert_string_equal(out,
	    "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
	netaddr_format((struct sockaddr *)&un, out, sizeof(out));
	assert_string_equal(out, "");
}

static void
test_parse_reads_back_what_format_writes(void **state)
{
	static const char *const good[] = { "198.51.100.23:51234",
	    "[2001:db8:7::23]:50412", "0.0.0.0:0", "[::1]:65535" };
	static const char *const bad[] = { "", ":1", "1.2.3.4", "1.2.3.4:",
	    "1.2.3.4:65536", "1.2.3.4:1x", "[1.2.3.4]:1", "2001:db8::1:80",
	    "[2001:db8::1]", "[2001:db8::1]80", "host.test:80", "1.2.3.4:-1" };
	struct sockaddr_storage	 ss;
	char			 out[NETADDR_STR_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(netaddr_parse(good[i], &ss), 0);
		netaddr_format((struct sockaddr *)&ss, out, sizeof(out));
		assert_string_equal(out, good[i]);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(netaddr_parse(bad[i], &ss), -1);
}

static void
test_networks_match_by_prefix(void **state)
{
	(void)state;
	assert_true(contains("10.0.0.5", "10.0.0.5"));
	assert_false(contains("10.0.0.5", "10.0.0.6"));
	assert_true(contains("10.1.2.3/8", "10.200.0.1"));
	assert_false(contains("10.0.0.0/8", "11.0.0.1"));
	assert_true(contains("0.0.0.0/0", "203.0.113.9"));
	assert_true(contains("192.168.7.128/25", "192.168.7.255"));
	assert_false(contains("192.168.7.128/25", "192.168.7.127"));
	assert_true(contains("2001:db8::/32", "2001:db8:ffff::1"));
	assert_false(contains("2001:db8::/32", "2001:db9::1"));
	assert_true(contains("::1", "::1"));
	/* Families do not mix, except an IPv4-mapped peer on an IPv4 net. */
	assert_false(contains("::/0", "10.0.0.1"));
	assert_false(contains("::ffff:0:0/96", "10.0.0.1"));
	assert_true(contains("10.0.0.0/8", "::ffff:10.0.0.1"));
	assert_false(contains("10.0.0.0/8", "::10.0.0.1"));
}

static void
test_parse_refuses_what_is_not_a_network(void **state)
{
	static const char *const bad[] = {
		"", "/8", "10.0.0.0/", "10.0.0.0/33", "::/129", "10.0.0.0/-1",
		"10.0.0.0/+8", "10.0.0.0/ 8", "10.0.0.0/8 ", "10.0.0.0/0008",
		"10.0.0", "host.example", "fe80::1%eth0", "10.0.0.0/8/8",
		"1111:2222:3333:4444:5555:6666:7777:8888:9999",
	};
	struct netaddr_net	 n;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (netaddr_net_parse(bad[i], &n) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
	assert_int_equal(netaddr_net_parse("10.9.8.7/16", &n), 0);
	assert_int_equal(n.family, AF_INET);
	assert_int_equal(n.prefix, 16);
	assert_memory_equal(n.addr, "\x0a\x09\x00\x00", 4);
	assert_int_equal(netaddr_net_parse("2001:db8::1/0", &n), 0);
	assert_int_equal(n.family, AF_INET6);
	assert_int_equal(n.prefix, 0);
	for (int i = 0; i < 16; i++)
		assert_int_equal(n.addr[i], 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_matches_the_audit_log),
		cmocka_unit_test(test_parse_reads_back_what_format_writes),
		cmocka_unit_test(test_networks_match_by_prefix),
		cmocka_unit_test(test_parse_refuses_what_is_not_a_network),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
