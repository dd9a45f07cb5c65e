/*
 * Credential cache behaviour with a synthetic clock: what is remembered, for
 * how long, and what is never remembered.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "auth.h"

#define POS_TTL	1000
#define NEG_TTL	100

static int
hit(struct auth_cache *c, const char *user, const char *pw, int64_t now,
    enum auth_verdict want)
{
	enum auth_verdict	 v = (enum auth_verdict)0;

	if (!auth_cache_lookup(c, user, pw, now, &v))
		return 0;
	assert_int_equal(v, want);
	return 1;
}

static int
setup(void **state)
{
	if ((*state = auth_cache_new(16, POS_TTL, NEG_TTL)) == NULL)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	auth_cache_free(*state);
	return 0;
}

static void
test_stored_allow_hits(void **state)
{
	struct auth_cache	*c = *state;

	assert_false(hit(c, "alice", "pw", 0, AUTH_ALLOW));
	auth_cache_store(c, "alice", "pw", 0, AUTH_ALLOW);
	assert_true(hit(c, "alice", "pw", 1, AUTH_ALLOW));
	assert_true(hit(c, "alice", "pw", 1, AUTH_ALLOW));
}

static void
test_other_credentials_miss(void **state)
{
	struct auth_cache	*c = *state;

	auth_cache_store(c, "alice", "pw", 0, AUTH_ALLOW);
	assert_false(hit(c, "alice", "pw2", 1, AUTH_ALLOW));
	assert_false(hit(c, "alice", "p", 1, AUTH_ALLOW));
	assert_false(hit(c, "alice", "", 1, AUTH_ALLOW));
	assert_false(hit(c, "bob", "pw", 1, AUTH_ALLOW));
	assert_false(hit(c, "alicepw", "", 1, AUTH_ALLOW));
	/* The separator keeps user "ab" + "c" apart from "a" + "bc". */
	auth_cache_store(c, "ab", "c", 0, AUTH_ALLOW);
	assert_false(hit(c, "a", "bc", 1, AUTH_ALLOW));
}

static void
test_positive_ttl_expires(void **state)
{
	struct auth_cache	*c = *state;

	auth_cache_store(c, "alice", "pw", 5000, AUTH_ALLOW);
	assert_true(hit(c, "alice", "pw", 5000 + POS_TTL - 1, AUTH_ALLOW));
	assert_false(hit(c, "alice", "pw", 5000 + POS_TTL, AUTH_ALLOW));
	/* Dropped on that lookup, not only hidden. */
	assert_false(hit(c, "alice", "pw", 5000, AUTH_ALLOW));
}

static void
test_negative_ttl_expires(void **state)
{
	struct auth_cache	*c = *state;

	auth_cache_store(c, "alice", "wrong", 0, AUTH_BAD_CREDENTIALS);
	auth_cache_store(c, "carol", "old", 0, AUTH_ACCOUNT_UNUSABLE);
	assert_true(hit(c, "alice", "wrong", NEG_TTL - 1, AUTH_BAD_CREDENTIALS));
	assert_true(hit(c, "carol", "old", NEG_TTL - 1, AUTH_ACCOUNT_UNUSABLE));
	assert_false(hit(c, "alice", "wrong", NEG_TTL, AUTH_BAD_CREDENTIALS));
	assert_false(hit(c, "carol", "old", NEG_TTL, AUTH_ACCOUNT_UNUSABLE));
}

static void
test_restore_replaces_verdict(void **state)
{
	struct auth_cache	*c = *state;

	auth_cache_store(c, "alice", "pw", 0, AUTH_BAD_CREDENTIALS);
	auth_cache_store(c, "alice", "pw", 10, AUTH_ALLOW);
	assert_true(hit(c, "alice", "pw", 10 + NEG_TTL, AUTH_ALLOW));
	/* The old positive entry must not resurface once the new one expires. */
	auth_cache_store(c, "bob", "pw", 0, AUTH_ALLOW);
	auth_cache_store(c, "bob", "pw", 10, AUTH_BAD_CREDENTIALS);
	assert_true(hit(c, "bob", "pw", 10, AUTH_BAD_CREDENTIALS));
	assert_false(hit(c, "bob", "pw", 10 + NEG_TTL, AUTH_ALLOW));
}

static void
test_unavailable_and_backend_verdicts_not_cached(void **state)
{
	struct auth_cache	*c = *state;

	auth_cache_store(c, "alice", "pw", 0, AUTH_UNAVAILABLE);
	auth_cache_store(c, "bob", "pw", 0, AUTH_POLICY_DENY);
	auth_cache_store(c, "carol", "pw", 0, AUTH_BACKEND_REFUSED);
	auth_cache_store(c, "dave", "pw", 0, AUTH_BACKEND_TIMEOUT);
	assert_false(hit(c, "alice", "pw", 1, AUTH_UNAVAILABLE));
	assert_false(hit(c, "bob", "pw", 1, AUTH_POLICY_DENY));
	assert_false(hit(c, "carol", "pw", 1, AUTH_BACKEND_REFUSED));
	assert_false(hit(c, "dave", "pw", 1, AUTH_BACKEND_TIMEOUT));
}

static void
test_oldest_evicted_at_max_entries(void **state)
{
	struct auth_cache	*c;
	char			 user[32];
	int			 i;

	(void)state;
	assert_non_null(c = auth_cache_new(4, POS_TTL, NEG_TTL));
	for (i = 0; i < 4; i++) {
		snprintf(user, sizeof(user), "u%d", i);
		auth_cache_store(c, user, "pw", 0, AUTH_ALLOW);
	}
	/* Re-storing u0 makes it the youngest, so u1 goes first. */
	auth_cache_store(c, "u0", "pw", 0, AUTH_ALLOW);
	auth_cache_store(c, "u4", "pw", 0, AUTH_ALLOW);
	assert_true(hit(c, "u0", "pw", 1, AUTH_ALLOW));
	assert_false(hit(c, "u1", "pw", 1, AUTH_ALLOW));
	assert_true(hit(c, "u2", "pw", 1, AUTH_ALLOW));
	assert_true(hit(c, "u3", "pw", 1, AUTH_ALLOW));
	assert_true(hit(c, "u4", "pw", 1, AUTH_ALLOW));
	auth_cache_store(c, "u5", "pw", 0, AUTH_ALLOW);
	assert_false(hit(c, "u2", "pw", 1, AUTH_ALLOW));
	assert_true(hit(c, "u5", "pw", 1, AUTH_ALLOW));
	auth_cache_free(c);
}

static void
test_many_entries_stay_consistent(void **state)
{
	struct auth_cache	*c;
	char			 user[32];
	int			 i, hits = 0;

	(void)state;
	assert_non_null(c = auth_cache_new(1000, POS_TTL, NEG_TTL));
	for (i = 0; i < 5000; i++) {
		snprintf(user, sizeof(user), "user%d", i);
		/* Some expire early, leaving holes in the ring. */
		auth_cache_store(c, user, "pw", i % 7 == 0 ? -POS_TTL : 0,
		    AUTH_ALLOW);
		if (i % 3 == 0)
			assert_false(hit(c, "nobody", "pw", 1, AUTH_ALLOW));
	}
	for (i = 0; i < 5000; i++) {
		snprintf(user, sizeof(user), "user%d", i);
		if (hit(c, user, "pw", 1, AUTH_ALLOW)) {
			assert_true(i >= 4000 && i % 7 != 0);
			hits++;
		}
	}
	/* The last 1000 stored, less the 143 multiples of 7 among them. */
	assert_int_equal(hits, 1000 - 143);
	auth_cache_free(c);
}

static void
test_zero_max_entries_disables(void **state)
{
	struct auth_cache	*c;

	(void)state;
	assert_non_null(c = auth_cache_new(0, POS_TTL, NEG_TTL));
	auth_cache_store(c, "alice", "pw", 0, AUTH_ALLOW);
	assert_false(hit(c, "alice", "pw", 1, AUTH_ALLOW));
	auth_cache_free(c);
}

static void
test_zero_ttl_disables_that_kind(void **state)
{
	struct auth_cache	*c;

	(void)state;
	/* One slot: a store that is not kept must not evict either. */
	assert_non_null(c = auth_cache_new(1, POS_TTL, 0));
	auth_cache_store(c, "alice", "pw", 0, AUTH_ALLOW);
	auth_cache_store(c, "alice", "wrong", 0, AUTH_BAD_CREDENTIALS);
	assert_false(hit(c, "alice", "wrong", 0, AUTH_BAD_CREDENTIALS));
	assert_true(hit(c, "alice", "pw", 0, AUTH_ALLOW));
	auth_cache_free(c);
}

static void
test_oversized_cache_refused(void **state)
{
	(void)state;
	assert_null(auth_cache_new(UINT32_MAX, POS_TTL, NEG_TTL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_stored_allow_hits,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_credentials_miss,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_positive_ttl_expires,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_negative_ttl_expires,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_replaces_verdict,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_unavailable_and_backend_verdicts_not_cached,
		    setup, teardown),
		cmocka_unit_test(test_oldest_evicted_at_max_entries),
		cmocka_unit_test(test_many_entries_stay_consistent),
		cmocka_unit_test(test_zero_max_entries_disables),
		cmocka_unit_test(test_zero_ttl_disables_that_kind),
		cmocka_unit_test(test_oversized_cache_refused),
	};

	return cmocka_run_group_tests_name("auth_cache", tests, NULL, NULL);
}
