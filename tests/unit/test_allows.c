/*
 * The master's record of what authenticators allowed (src/master/allows.c):
 * an open record takes the decided fields of its tunnel's allow and nothing
 * else of it, once; an id allowed twice opens with neither decision; what no
 * open claims is dropped when due, and only then.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "allows.h"

static struct audit_record
allow_of(uint64_t id, const char *user, const char *target)
{
	struct audit_record	 r;

	memset(&r, 0, sizeof(r));
	r.event = AUDIT_ALLOW;
	r.tunnel_id = id;
	AUDIT_SET(r.user, user);
	AUDIT_SET(r.target, target);
	AUDIT_SET(r.resolved, "127.0.0.1:22");
	AUDIT_SET(r.rule, "ops");
	AUDIT_SET(r.groups, "ops,dev");
	AUDIT_SET(r.cert_subject, "CN=alice");
	AUDIT_SET(r.cert_sha256, "ab12");
	AUDIT_SET(r.client, "192.0.2.1:4000");
	return r;
}

static struct audit_record
forged_open(uint64_t id)
{
	struct audit_record	 r;

	memset(&r, 0, sizeof(r));
	r.event = AUDIT_OPEN;
	r.tunnel_id = id;
	AUDIT_SET(r.user, "mallory");
	AUDIT_SET(r.target, "x.test:1");
	AUDIT_SET(r.rule, "forged");
	AUDIT_SET(r.client, "198.51.100.7:5000");
	AUDIT_SET(r.tls_version, "TLSv1.3");
	return r;
}

static void
drop_all(void)
{
	int64_t	 next = -1;

	allows_timers(INT64_MAX, &next);
}

static void
test_an_open_takes_the_decision_once(void **state)
{
	struct audit_record	 allow = allow_of(7, "alice", "db.test:22");
	struct audit_record	 open = forged_open(7);

	(void)state;
	allows_put(&allow, 1000);
	assert_true(allows_take(&open));
	assert_string_equal(open.user, "alice");
	assert_string_equal(open.target, "db.test:22");
	assert_string_equal(open.resolved, "127.0.0.1:22");
	assert_string_equal(open.rule, "ops");
	assert_string_equal(open.groups, "ops,dev");
	assert_string_equal(open.cert_subject, "CN=alice");
	assert_string_equal(open.cert_sha256, "ab12");
	/* What the gate worker saw itself stays as it said. */
	assert_string_equal(open.client, "198.51.100.7:5000");
	assert_string_equal(open.tls_version, "TLSv1.3");
	open = forged_open(7);
	assert_false(allows_take(&open));
	assert_string_equal(open.user, "mallory");
}

static void
test_no_allow_and_id_zero_give_nothing(void **state)
{
	struct audit_record	 allow = allow_of(0, "alice", "db.test:22");
	struct audit_record	 open = forged_open(0);

	(void)state;
	allows_put(&allow, 1000);
	assert_false(allows_take(&open));
	open = forged_open(8);
	assert_false(allows_take(&open));
}

static void
test_an_id_allowed_twice_opens_with_neither(void **state)
{
	struct audit_record	 a = allow_of(9, "alice", "db.test:22");
	struct audit_record	 b = allow_of(9, "alice", "other.test:22");
	struct audit_record	 open = forged_open(9);

	(void)state;
	allows_put(&a, 1000);
	allows_put(&b, 1000);
	assert_false(allows_take(&open));
	assert_string_equal(open.target, "x.test:1");
	/* Gone with that refusal: a later allow of the id stands alone. */
	allows_put(&b, 1000);
	open = forged_open(9);
	assert_true(allows_take(&open));
	assert_string_equal(open.target, "other.test:22");
}

static void
test_unclaimed_allows_are_dropped_when_due(void **state)
{
	struct audit_record	 a = allow_of(10, "alice", "db.test:22");
	struct audit_record	 b = allow_of(11, "bob", "db.test:22");
	struct audit_record	 open;
	int64_t			 next = -1;

	(void)state;
	allows_put(&a, 1000);
	allows_put(&b, 2000);
	assert_false(allows_due(999));
	allows_timers(999, &next);
	assert_int_equal(next, 1000);
	assert_true(allows_due(1000));
	next = -1;
	allows_timers(1000, &next);
	assert_int_equal(next, 2000);
	open = forged_open(10);
	assert_false(allows_take(&open));
	open = forged_open(11);
	assert_true(allows_take(&open));
	assert_string_equal(open.user, "bob");
	next = -1;
	allows_timers(5000, &next);
	assert_int_equal(next, -1);
	assert_false(allows_due(5000));
}

static int
teardown(void **state)
{
	(void)state;
	drop_all();
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_an_open_takes_the_decision_once,
		    teardown),
		cmocka_unit_test_teardown(test_no_allow_and_id_zero_give_nothing,
		    teardown),
		cmocka_unit_test_teardown(
		    test_an_id_allowed_twice_opens_with_neither, teardown),
		cmocka_unit_test_teardown(
		    test_unclaimed_allows_are_dropped_when_due, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
