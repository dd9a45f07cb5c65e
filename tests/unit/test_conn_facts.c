/* conn_facts: a tunnel's audit facts, stored at their real length. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "conn_facts.h"

static void
test_unset_facts_read_empty(void **state)
{
	struct conn_facts	 f;

	(void)state;
	memset(&f, 0, sizeof(f));
	for (int i = 0; i < FACT_N; i++)
		assert_string_equal(conn_fact(&f, (enum conn_fact)i), "");
	conn_facts_free(&f);
}

static void
test_setting_one_fact_keeps_the_others(void **state)
{
	struct conn_facts	 f;

	(void)state;
	memset(&f, 0, sizeof(f));
	assert_int_equal(conn_fact_set(&f, FACT_TARGET, "db.internal:5432"), 0);
	assert_int_equal(conn_fact_set(&f, FACT_USER, "alice"), 0);
	assert_int_equal(conn_fact_set(&f, FACT_RULE, "ops"), 0);
	assert_int_equal(conn_fact_set(&f, FACT_USER, "bob"), 0);
	assert_string_equal(conn_fact(&f, FACT_USER), "bob");
	assert_string_equal(conn_fact(&f, FACT_TARGET), "db.internal:5432");
	assert_string_equal(conn_fact(&f, FACT_RESOLVED), "");
	assert_string_equal(conn_fact(&f, FACT_RULE), "ops");
	conn_facts_free(&f);
	assert_null(f.names);
}

static void
test_record_round_trip_keeps_every_field(void **state)
{
	struct audit_record	 in, out;
	struct conn_facts	 f;

	(void)state;
	memset(&in, 0, sizeof(in));
	memset(&out, 0, sizeof(out));
	memset(&f, 0, sizeof(f));
	in.tunnel_id = 0x1122334455667788ULL;
	AUDIT_SET(in.client, "[2001:db8::1]:50412");
	memset(in.user, 'u', sizeof(in.user) - 1);
	memset(in.target, 't', sizeof(in.target) - 1);
	AUDIT_SET(in.resolved, "10.0.0.5:22");
	AUDIT_SET(in.rule, "ops-ssh");
	AUDIT_SET(in.proxy, "10.0.0.2:41000");
	AUDIT_SET(in.tls_version, "TLSv1.3");
	AUDIT_SET(in.tls_cipher, "TLS_CHACHA20_POLY1305_SHA256");
	assert_int_equal(conn_facts_from_record(&f, &in), 0);
	conn_facts_to_record(&f, &out);
	assert_true(out.tunnel_id == in.tunnel_id);
	assert_string_equal(out.client, in.client);
	assert_string_equal(out.user, in.user);
	assert_string_equal(out.target, in.target);
	assert_string_equal(out.resolved, in.resolved);
	assert_string_equal(out.rule, in.rule);
	assert_string_equal(out.proxy, in.proxy);
	assert_string_equal(out.tls_version, in.tls_version);
	assert_string_equal(out.tls_cipher, in.tls_cipher);
	conn_facts_free(&f);
}

static void
test_sources_are_ipv4_addresses_and_ipv6_prefixes(void **state)
{
	struct source_key	 k, k2;

	(void)state;
	assert_int_equal(source_key_parse("192.0.2.7:443", 64, &k), 0);
	assert_true(k.v4);
	assert_string_equal(k.label, "192.0.2.7");
	/* A v4-mapped address is the same source as its IPv4 address. */
	assert_int_equal(source_key_parse("[::ffff:192.0.2.7]:1", 64, &k2), 0);
	assert_true(k2.v4);
	assert_memory_equal(k.addr, k2.addr, sizeof(k.addr));
	assert_int_equal(source_key_parse("[2001:db8:1:2:3:4:5:6]:80", 64, &k), 0);
	assert_false(k.v4);
	assert_string_equal(k.label, "2001:db8:1:2::/64");
	assert_int_equal(source_key_parse("[2001:db8:1:2:ffff::1]:81", 64, &k2), 0);
	assert_memory_equal(k.addr, k2.addr, sizeof(k.addr));
	assert_int_equal(source_key_parse("[2001:db8:1:2:3:4:5:6]:80", 60, &k), 0);
	assert_string_equal(k.label, "2001:db8:1::/60");
	assert_int_equal(source_key_parse("[2001:db8::1]:80", 128, &k), 0);
	assert_string_equal(k.label, "2001:db8::1/128");
}

static void
test_a_client_that_is_no_address_is_refused(void **state)
{
	static const char *const bad[] = { "", ":", "[]:1", "[::1", "host:80",
	    "192.0.2.7", "[192.0.2.7]:1", "1.2.3.4.5:6",
	    "[0000:0000:0000:0000:0000:0000:0000:0000:1]:1" };
	struct source_key	 k;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(source_key_parse(bad[i], 64, &k), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sources_are_ipv4_addresses_and_ipv6_prefixes),
		cmocka_unit_test(test_a_client_that_is_no_address_is_refused),
		cmocka_unit_test(test_unset_facts_read_empty),
		cmocka_unit_test(test_setting_one_fact_keeps_the_others),
		cmocka_unit_test(test_record_round_trip_keeps_every_field),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
