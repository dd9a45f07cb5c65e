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
	assert_string_equal(out.tls_version, in.tls_version);
	assert_string_equal(out.tls_cipher, in.tls_cipher);
	conn_facts_free(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unset_facts_read_empty),
		cmocka_unit_test(test_setting_one_fact_keeps_the_others),
		cmocka_unit_test(test_record_round_trip_keeps_every_field),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
