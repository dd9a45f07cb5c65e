/*
 * The master's count of one relay worker's tunnels: ids in and out exactly
 * once, a merge keeps both sets' ids, and ids an attacker picks to be
 * as unfavourable as possible (sorted, clustered) cost no more than random
 * ones.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "tunnelset.h"

static void
test_ids_go_in_and_out_once(void **state)
{
	struct tunnelset	 s = { 0 };

	(void)state;
	assert_int_equal(tunnelset_add(&s, 7), 0);
	assert_int_equal(tunnelset_add(&s, 0), 0);
	assert_int_equal(tunnelset_add(&s, UINT64_MAX), 0);
	assert_int_equal(tunnelset_add(&s, 7), -1);
	assert_int_equal(s.n, 3);
	assert_int_equal(tunnelset_remove(&s, 8), -1);
	assert_int_equal(tunnelset_remove(&s, 7), 0);
	assert_int_equal(tunnelset_remove(&s, 7), -1);
	assert_int_equal(tunnelset_remove(&s, 0), 0);
	assert_int_equal(s.n, 1);
	tunnelset_clear(&s);
	assert_int_equal(s.n, 0);
	assert_int_equal(tunnelset_remove(&s, UINT64_MAX), -1);
}

static void
test_merge_keeps_both_sets(void **state)
{
	struct tunnelset	 live = { 0 }, orphans = { 0 };

	(void)state;
	assert_int_equal(tunnelset_add(&orphans, 1), 0);
	assert_int_equal(tunnelset_add(&orphans, 2), 0);
	assert_int_equal(tunnelset_add(&live, 2), 0);
	assert_int_equal(tunnelset_add(&live, 3), 0);
	tunnelset_merge(&orphans, &live);
	assert_int_equal(live.n, 0);
	assert_int_equal(orphans.n, 3);
	assert_int_equal(tunnelset_remove(&orphans, 1), 0);
	assert_int_equal(tunnelset_remove(&orphans, 2), 0);
	assert_int_equal(tunnelset_remove(&orphans, 3), 0);
	assert_int_equal(orphans.n, 0);
	assert_int_equal(tunnelset_add(&live, 3), 0);
	tunnelset_merge(&orphans, &live);
	assert_true(tunnelset_has(&orphans, 3) && live.n == 0);
	tunnelset_clear(&orphans);
}

static double
seconds_for(uint64_t (*id)(uint64_t), uint64_t n)
{
	struct tunnelset	 s = { 0 };
	struct timespec		 a, b;

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (uint64_t i = 0; i < n; i++)
		assert_int_equal(tunnelset_add(&s, id(i)), 0);
	for (uint64_t i = 0; i < n; i++)
		assert_int_equal(tunnelset_remove(&s, id(i)), 0);
	clock_gettime(CLOCK_MONOTONIC, &b);
	assert_int_equal(s.n, 0);
	return (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
}

static uint64_t
sorted_id(uint64_t i)
{
	return i << 20;
}

static uint64_t
mixed_id(uint64_t i)
{
	return i * 0x9e3779b97f4a7c15ULL;
}

static void
test_chosen_ids_cost_no_more_than_random_ones(void **state)
{
	double	 sorted, mixed;

	(void)state;
	sorted = seconds_for(sorted_id, 200000);
	mixed = seconds_for(mixed_id, 200000);
	/* A list or a plain hash would be quadratic here: minutes, not ms. */
	assert_true(sorted < mixed * 4 + 0.2);
}

static bool
keep_even(uint64_t id, void *calls)
{
	(*(unsigned *)calls)++;
	return id % 2 == 0;
}

static void
test_filter_keeps_what_it_is_told_and_asks_once_each(void **state)
{
	struct tunnelset	 s = { NULL, 0 };
	unsigned		 calls = 0;

	(void)state;
	for (uint64_t id = 1; id <= 1000; id++)
		assert_int_equal(tunnelset_add(&s, id * 3), 0);
	tunnelset_filter(&s, keep_even, &calls);
	assert_int_equal(calls, 1000);
	assert_int_equal(s.n, 500);
	assert_true(tunnelset_has(&s, 6) && !tunnelset_has(&s, 3));
	for (uint64_t id = 1; id <= 1000; id++)
		assert_int_equal(tunnelset_remove(&s, id * 3), id % 2 == 0 ? 0 : -1);
	assert_int_equal(s.n, 0);
	tunnelset_filter(&s, keep_even, &calls);
	assert_int_equal(calls, 1000);
	tunnelset_clear(&s);
}

int
main(void)
{
	const struct CMUnitTest	 tests[] = {
		cmocka_unit_test(test_ids_go_in_and_out_once),
		cmocka_unit_test(test_merge_keeps_both_sets),
		cmocka_unit_test(test_filter_keeps_what_it_is_told_and_asks_once_each),
		cmocka_unit_test(test_chosen_ids_cost_no_more_than_random_ones),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
