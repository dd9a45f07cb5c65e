/*
 * Credential cache behaviour with a synthetic clock: what is remembered, for
 * how long, and what is never remembered.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth.h"
#include "auth_cache.h"

#define POS_TTL	1000
#define NEG_TTL	100

static int
hit(struct auth_cache *c, const char *user, const char *pw, int64_t now,
    enum auth_verdict want)
{
	enum auth_verdict	 v = (enum auth_verdict)0;

	if (!auth_cache_lookup(c, user, pw, now, &v, NULL, NULL, NULL))
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
	auth_cache_store(c, "alice", "pw", 0, AUTH_ALLOW, NULL, NULL, 0);
	assert_true(hit(c, "alice", "pw", 1, AUTH_ALLOW));
	assert_true(hit(c, "alice", "pw", 1, AUTH_ALLOW));
}

static void
test_other_credentials_miss(void **state)
{
	struct auth_cache	*c = *state;

	auth_cache_store(c, "alice", "pw", 0, AUTH_ALLOW, NULL, NULL, 0);
	assert_false(hit(c, "alice", "pw2", 1, AUTH_ALLOW));
	assert_false(hit(c, "alice", "p", 1, AUTH_ALLOW));
	assert_false(hit(c, "alice", "", 1, AUTH_ALLOW));
	assert_false(hit(c, "bob", "pw", 1, AUTH_ALLOW));
	assert_false(hit(c, "alicepw", "", 1, AUTH_ALLOW));
	/* The separator keeps user "ab" + "c" apart from "a" + "bc". */
	auth_cache_store(c, "ab", "c", 0, AUTH_ALLOW, NULL, NULL, 0);
	assert_false(hit(c, "a", "bc", 1, AUTH_ALLOW));
}

static void
test_positive_ttl_expires(void **state)
{
	struct auth_cache	*c = *state;

	auth_cache_store(c, "alice", "pw", 5000, AUTH_ALLOW, NULL, NULL, 0);
	assert_true(hit(c, "alice", "pw", 5000 + POS_TTL - 1, AUTH_ALLOW));
	assert_false(hit(c, "alice", "pw", 5000 + POS_TTL, AUTH_ALLOW));
	/* Dropped on that lookup, not only hidden. */
	assert_false(hit(c, "alice", "pw", 5000, AUTH_ALLOW));
}

static void
test_negative_ttl_expires(void **state)
{
	struct auth_cache	*c = *state;

	auth_cache_store(c, "alice", "wrong", 0, AUTH_BAD_CREDENTIALS,
	    NULL, NULL, 0);
	auth_cache_store(c, "carol", "old", 0, AUTH_ACCOUNT_UNUSABLE,
	    NULL, NULL, 0);
	assert_true(hit(c, "alice", "wrong", NEG_TTL - 1, AUTH_BAD_CREDENTIALS));
	assert_true(hit(c, "carol", "old", NEG_TTL - 1, AUTH_ACCOUNT_UNUSABLE));
	assert_false(hit(c, "alice", "wrong", NEG_TTL, AUTH_BAD_CREDENTIALS));
	assert_false(hit(c, "carol", "old", NEG_TTL, AUTH_ACCOUNT_UNUSABLE));
}

static void
test_restore_replaces_verdict(void **state)
{
	struct auth_cache	*c = *state;

	auth_cache_store(c, "alice", "pw", 0, AUTH_BAD_CREDENTIALS,
	    NULL, NULL, 0);
	auth_cache_store(c, "alice", "pw", 10, AUTH_ALLOW, NULL, NULL, 0);
	assert_true(hit(c, "alice", "pw", 10 + NEG_TTL, AUTH_ALLOW));
	/* The old positive entry must not resurface once the new one expires. */
	auth_cache_store(c, "bob", "pw", 0, AUTH_ALLOW, NULL, NULL, 0);
	auth_cache_store(c, "bob", "pw", 10, AUTH_BAD_CREDENTIALS,
	    NULL, NULL, 0);
	assert_true(hit(c, "bob", "pw", 10, AUTH_BAD_CREDENTIALS));
	assert_false(hit(c, "bob", "pw", 10 + NEG_TTL, AUTH_ALLOW));
}

static void
test_unavailable_and_backend_verdicts_not_cached(void **state)
{
	struct auth_cache	*c = *state;

	auth_cache_store(c, "alice", "pw", 0, AUTH_UNAVAILABLE, NULL, NULL, 0);
	auth_cache_store(c, "bob", "pw", 0, AUTH_POLICY_DENY, NULL, NULL, 0);
	auth_cache_store(c, "carol", "pw", 0, AUTH_BACKEND_REFUSED,
	    NULL, NULL, 0);
	auth_cache_store(c, "dave", "pw", 0, AUTH_BACKEND_TIMEOUT,
	    NULL, NULL, 0);
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
		auth_cache_store(c, user, "pw", 0, AUTH_ALLOW, NULL, NULL, 0);
	}
	/* Re-storing u0 makes it the youngest, so u1 goes first. */
	auth_cache_store(c, "u0", "pw", 0, AUTH_ALLOW, NULL, NULL, 0);
	auth_cache_store(c, "u4", "pw", 0, AUTH_ALLOW, NULL, NULL, 0);
	assert_true(hit(c, "u0", "pw", 1, AUTH_ALLOW));
	assert_false(hit(c, "u1", "pw", 1, AUTH_ALLOW));
	assert_true(hit(c, "u2", "pw", 1, AUTH_ALLOW));
	assert_true(hit(c, "u3", "pw", 1, AUTH_ALLOW));
	assert_true(hit(c, "u4", "pw", 1, AUTH_ALLOW));
	auth_cache_store(c, "u5", "pw", 0, AUTH_ALLOW, NULL, NULL, 0);
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
		    AUTH_ALLOW, NULL, NULL, 0);
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
	auth_cache_store(c, "alice", "pw", 0, AUTH_ALLOW, NULL, NULL, 0);
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
	auth_cache_store(c, "alice", "pw", 0, AUTH_ALLOW, NULL, NULL, 0);
	auth_cache_store(c, "alice", "wrong", 0, AUTH_BAD_CREDENTIALS,
	    NULL, NULL, 0);
	assert_false(hit(c, "alice", "wrong", 0, AUTH_BAD_CREDENTIALS));
	assert_true(hit(c, "alice", "pw", 0, AUTH_ALLOW));
	auth_cache_free(c);
}

/* A hit's groups, checked against want (NULL: none stored) and freed. */
static void
hit_groups(struct auth_cache *c, const char *user, int64_t now,
    const char *const *want, size_t n_want)
{
	enum auth_verdict	 v;
	char			**groups = (char **)1;
	size_t			 n = 99, i;

	assert_true(auth_cache_lookup(c, user, "pw", now, &v, NULL, &groups,
	    &n));
	if (want == NULL) {
		assert_null(groups);
		return;
	}
	assert_non_null(groups);
	assert_int_equal(n, n_want);
	for (i = 0; i < n; i++)
		assert_string_equal(groups[i], want[i]);
	free(groups);
}

static void
test_groups_kept_with_positive_entry(void **state)
{
	struct auth_cache	*c = *state;
	const char		*ops_dev[] = { "ops", "dev" };
	char			 changed[] = "ops";
	const char		*mutable[] = { changed };

	auth_cache_store(c, "alice", "pw", 0, AUTH_ALLOW, NULL, ops_dev, 2);
	hit_groups(c, "alice", 1, ops_dev, 2);
	/* Stored as a copy: the caller's strings may change or go. */
	auth_cache_store(c, "bob", "pw", 0, AUTH_ALLOW, NULL, mutable, 1);
	changed[0] = 'x';
	hit_groups(c, "bob", 1, ops_dev, 1);
	/* Each hit gets its own copy. */
	hit_groups(c, "alice", 2, ops_dev, 2);
}

static void
test_no_groups_differs_from_empty_groups(void **state)
{
	struct auth_cache	*c = *state;
	const char		*none[] = { NULL };

	auth_cache_store(c, "pamuser", "pw", 0, AUTH_ALLOW, NULL, NULL, 0);
	hit_groups(c, "pamuser", 1, NULL, 0);
	auth_cache_store(c, "loner", "pw", 0, AUTH_ALLOW, NULL, none, 0);
	hit_groups(c, "loner", 1, none, 0);
}

static void
test_groups_not_kept_with_failures(void **state)
{
	struct auth_cache	*c = *state;
	const char		*ops[] = { "ops" };

	auth_cache_store(c, "carol", "pw", 0, AUTH_ACCOUNT_UNUSABLE,
	    NULL, ops, 1);
	hit_groups(c, "carol", 1, NULL, 0);
	auth_cache_store(c, "alice", "pw", 0, AUTH_BAD_CREDENTIALS,
	    NULL, ops, 1);
	hit_groups(c, "alice", 1, NULL, 0);
}

static void
test_group_bounds(void **state)
{
	struct auth_cache	*c = *state;
	/* One byte more than a name may have, for the too-long one. */
	static char		 names[AUTH_MAX_GROUPS + 1]
				    [AUTH_GROUP_NAME_MAX + 2];
	const char		*list[AUTH_MAX_GROUPS + 1];
	size_t			 i;

	for (i = 0; i <= AUTH_MAX_GROUPS; i++) {
		memset(names[i], 'g', AUTH_GROUP_NAME_MAX);
		snprintf(names[i], 8, "%03zu", i);
		names[i][3] = 'g';
		list[i] = names[i];
	}
	/* The largest list there can be is kept whole. */
	auth_cache_store(c, "many", "pw", 0, AUTH_ALLOW,
	    NULL, list, AUTH_MAX_GROUPS);
	hit_groups(c, "many", 1, list, AUTH_MAX_GROUPS);
	/* One group more, or one byte more, and nothing is cached. */
	auth_cache_store(c, "toomany", "pw", 0, AUTH_ALLOW, NULL, list,
	    AUTH_MAX_GROUPS + 1);
	assert_false(hit(c, "toomany", "pw", 1, AUTH_ALLOW));
	names[7][AUTH_GROUP_NAME_MAX] = 'g';
	auth_cache_store(c, "longname", "pw", 0, AUTH_ALLOW, NULL, list, 8);
	assert_false(hit(c, "longname", "pw", 1, AUTH_ALLOW));
	assert_null(auth_groups_dup(list, 8));
}

/* What one process of the pool stores, another finds. */
static void
test_shared_by_the_processes_forked_after(void **state)
{
	struct auth_cache	*c = *state;
	int			 st;
	pid_t			 pid;

	if ((pid = fork()) == 0) {
		auth_cache_store(c, "alice", "pw", 0, AUTH_ALLOW, NULL, NULL, 0);
		_exit(0);
	}
	assert_true(pid > 0 && waitpid(pid, &st, 0) == pid && st == 0);
	assert_true(hit(c, "alice", "pw", 1, AUTH_ALLOW));
}

/*
 * A process killed at any moment, holding the lock or not, neither stops
 * the others nor leaves them a broken table.
 */
static void
test_a_killed_holder_does_not_stop_the_pool(void **state)
{
	struct auth_cache	*c = *state;
	static char		 name[AUTH_GROUP_NAME_MAX + 1];
	const char		*list[AUTH_MAX_GROUPS];
	char			 user[32];
	pid_t			 pid;

	/* The largest lists: most of a store's time is spent holding the lock. */
	memset(name, 'g', AUTH_GROUP_NAME_MAX);
	for (size_t i = 0; i < AUTH_MAX_GROUPS; i++)
		list[i] = name;
	for (int round = 0; round < 20; round++) {
		if ((pid = fork()) == 0)
			for (unsigned i = 0;; i++) {
				snprintf(user, sizeof(user), "u%u", i % 64);
				auth_cache_store(c, user, "pw", 0, AUTH_ALLOW,
				    NULL, list, AUTH_MAX_GROUPS);
			}
		assert_true(pid > 0);
		while (!hit(c, "u0", "pw", 1, AUTH_ALLOW))
			;
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, NULL, 0), pid);
		auth_cache_store(c, "after", "pw", 0, AUTH_ALLOW, NULL, NULL, 0);
		assert_true(hit(c, "after", "pw", 1, AUTH_ALLOW));
	}
}

static void
test_flush_one_user_or_all(void **state)
{
	struct auth_cache	*c = *state;
	const char		*ops[] = { "ops" };
	unsigned		 n;

	auth_cache_store(c, "Alice", "pw", 0, AUTH_ALLOW, "alice", ops, 1);
	auth_cache_store(c, "alice", "old", 0, AUTH_BAD_CREDENTIALS, NULL,
	    NULL, 0);
	auth_cache_store(c, "ALICE2", "pw", 0, AUTH_ALLOW, "bob", NULL, 0);
	auth_cache_store(c, "carol", "pw", 0, AUTH_ALLOW, NULL, NULL, 0);
	/* By the typed name or the account's, without case. */
	assert_int_equal(auth_cache_flush("ALICE", &n), 0);
	assert_int_equal(n, 2);
	assert_false(hit(c, "Alice", "pw", 1, AUTH_ALLOW));
	assert_false(hit(c, "alice", "old", 1, AUTH_BAD_CREDENTIALS));
	assert_int_equal(auth_cache_flush("Bob", &n), 0);
	assert_int_equal(n, 1);
	assert_false(hit(c, "ALICE2", "pw", 1, AUTH_ALLOW));
	assert_true(hit(c, "carol", "pw", 1, AUTH_ALLOW));
	assert_int_equal(auth_cache_flush(NULL, &n), 0);
	assert_int_equal(n, 1);
	assert_false(hit(c, "carol", "pw", 1, AUTH_ALLOW));
	/* Still usable after. */
	auth_cache_store(c, "carol", "pw", 2, AUTH_ALLOW, NULL, NULL, 0);
	assert_true(hit(c, "carol", "pw", 3, AUTH_ALLOW));
}

/* Under the sanitizer build, a copy not freed here is a reported leak. */
static void
test_groups_freed_when_entries_go(void **state)
{
	struct auth_cache	*c;
	const char		*ops[] = { "ops" };

	(void)state;
	assert_non_null(c = auth_cache_new(2, POS_TTL, NEG_TTL));
	auth_cache_store(c, "a", "pw", 0, AUTH_ALLOW, NULL, ops, 1);
	auth_cache_store(c, "a", "pw", 1, AUTH_ALLOW,
	    NULL, ops, 1);	/* replaced */
	auth_cache_store(c, "b", "pw", 0, AUTH_ALLOW, NULL, ops, 1);
	auth_cache_store(c, "c", "pw", 0, AUTH_ALLOW,
	    NULL, ops, 1);	/* evicts a */
	assert_false(hit(c, "a", "pw", 1, AUTH_ALLOW));
	assert_false(hit(c, "b", "pw", POS_TTL, AUTH_ALLOW));	/* expired */
	auth_cache_store(c, "d", "pw", 0, AUTH_ALLOW, NULL, ops, 1);
	hit_groups(c, "d", 1, ops, 1);
	auth_cache_free(c);				/* c and d */
}

/* The key is the typed name; a hit gives the name the backend found. */
static void
test_a_hit_gives_the_accounts_own_name(void **state)
{
	struct auth_cache	*c;
	enum auth_verdict	 v;
	char			 name[AUTH_USER_MAX + 1];

	(void)state;
	assert_non_null(c = auth_cache_new(8, POS_TTL, NEG_TTL));
	auth_cache_store(c, "BOB", "pw", 0, AUTH_ALLOW, "bob", NULL, 0);
	auth_cache_store(c, "Bob", "wrong", 0, AUTH_BAD_CREDENTIALS, "bob",
	    NULL, 0);
	memset(name, 'x', sizeof(name));
	assert_true(auth_cache_lookup(c, "BOB", "pw", 1, &v, name, NULL, NULL));
	assert_int_equal(v, AUTH_ALLOW);
	assert_string_equal(name, "bob");
	/* A refusal names no account. */
	assert_true(auth_cache_lookup(c, "Bob", "wrong", 1, &v, name, NULL,
	    NULL));
	assert_int_equal(v, AUTH_BAD_CREDENTIALS);
	assert_string_equal(name, "");
	/* Another spelling is another key: the backend is asked again. */
	assert_false(auth_cache_lookup(c, "bob", "pw", 1, &v, name, NULL,
	    NULL));
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
		cmocka_unit_test(test_a_hit_gives_the_accounts_own_name),
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
		cmocka_unit_test_setup_teardown(
		    test_groups_kept_with_positive_entry, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_no_groups_differs_from_empty_groups, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_groups_not_kept_with_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_bounds,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_shared_by_the_processes_forked_after, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_a_killed_holder_does_not_stop_the_pool, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush_one_user_or_all,
		    setup, teardown),
		cmocka_unit_test(test_groups_freed_when_entries_go),
		cmocka_unit_test(test_oldest_evicted_at_max_entries),
		cmocka_unit_test(test_many_entries_stay_consistent),
		cmocka_unit_test(test_zero_max_entries_disables),
		cmocka_unit_test(test_zero_ttl_disables_that_kind),
		cmocka_unit_test(test_oversized_cache_refused),
	};

	return cmocka_run_group_tests_name("auth_cache", tests, NULL, NULL);
}
