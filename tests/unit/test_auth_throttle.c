/*
 * Failed-login budgets with a synthetic clock: when a lockout begins, that
 * it refuses both keys' logins, grows, ends, and is forgotten.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "auth_throttle.h"

static struct config	 cfg;

static int
setup(void **state)
{
	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.throttle_source_failures = 4;
	cfg.throttle_user_failures = 3;
	cfg.throttle_window_ms = 600000;
	cfg.throttle_lockout_ms = 1000;
	cfg.throttle_lockout_max_ms = 3000;
	auth_throttle_unmap();
	return auth_throttle_setup();
}

static size_t
failed_login(const char *source, const char *user, int64_t now,
    struct throttle_event ev[2])
{
	return auth_throttle_failed(&cfg, source, user, now, ev);
}

static void
test_the_failure_that_spends_a_budget_begins_a_lockout(void **state)
{
	struct throttle_event	 ev[2];
	unsigned		 secs;

	(void)state;
	assert_int_equal(failed_login("192.0.2.1", "bob", 0, ev), 0);
	assert_int_equal(failed_login("192.0.2.1", "Bob", 10, ev), 0);
	assert_int_equal(auth_throttle_locked(&cfg, "192.0.2.1", "bob", 20,
	    &secs), 0);
	/* Names compare case-insensitively: this is bob's third. */
	assert_int_equal(failed_login("192.0.2.2", "BOB", 20, ev), 1);
	assert_int_equal(ev[0].kind, THROTTLE_USER);
	assert_string_equal(ev[0].label, "bob");
	assert_int_equal(ev[0].failures, 3);
	assert_int_equal(ev[0].secs, 1);
	/* Whatever the source, and whoever asks for bob. */
	assert_int_equal(auth_throttle_locked(&cfg, "198.51.100.9", "bob", 30,
	    &secs), THROTTLE_USER);
	assert_int_equal(secs, 1);
	assert_int_equal(auth_throttle_locked(&cfg, "192.0.2.1", "alice", 30,
	    &secs), 0);
	assert_int_equal(auth_throttle_locked(&cfg, "", "bob", 1021, &secs), 0);
}

static void
test_a_source_budget_counts_every_name(void **state)
{
	struct throttle_event	 ev[2];
	unsigned		 secs;

	(void)state;
	for (int i = 0; i < 3; i++)
		assert_int_equal(failed_login("2001:db8::/64", i ? "x" : "y", i, ev), 0);
	assert_int_equal(failed_login("2001:db8::/64", "z", 3, ev), 1);
	assert_int_equal(ev[0].kind, THROTTLE_SOURCE);
	assert_string_equal(ev[0].label, "2001:db8::/64");
	assert_int_equal(auth_throttle_locked(&cfg, "2001:db8::/64", "alice", 4,
	    &secs), THROTTLE_SOURCE);
}

static void
test_lockouts_double_up_to_the_maximum_and_are_forgotten(void **state)
{
	struct throttle_event	 ev[2];
	int64_t			 t = 0;
	unsigned		 want[] = { 1, 2, 3, 3 };

	(void)state;
	for (size_t round = 0; round < 4; round++) {
		while (failed_login("", "carol", t, ev) == 0)
			t += 10;
		assert_int_equal(ev[0].secs, want[round]);
		t += (int64_t)ev[0].secs * 1000;
	}
	/*
	 * Quiet for lockout_max, and the budget refilled (the half failure
	 * a lockout keeps over it takes window / budget / 2): from the start.
	 */
	t += 700000;
	for (int i = 0; i < 2; i++)
		assert_int_equal(failed_login("", "carol", t + i, ev), 0);
	assert_int_equal(failed_login("", "carol", t + 2, ev), 1);
	assert_int_equal(ev[0].secs, 1);
}

static int	 released;
static char	 released_label[TG_THROTTLE_LABEL_SIZE];

static void
note_release(const struct throttle_event *ev)
{
	released++;
	memcpy(released_label, ev->label, sizeof(released_label));
}

static void
test_each_end_is_reported_once(void **state)
{
	struct throttle_event	 ev[2];

	(void)state;
	released = 0;
	for (int i = 0; i < 3; i++)
		failed_login("", "dave", i, ev);
	auth_throttle_released(500, note_release);
	assert_int_equal(released, 0);
	auth_throttle_released(1002, note_release);
	assert_int_equal(released, 1);
	assert_string_equal(released_label, "dave");
	auth_throttle_released(5000, note_release);
	assert_int_equal(released, 1);
}

static void
test_a_right_password_refills_the_users_budget_only(void **state)
{
	struct throttle_event	 ev[2];

	(void)state;
	for (int i = 0; i < 2; i++)
		assert_int_equal(failed_login("192.0.2.5", "erin", i, ev), 0);
	auth_throttle_succeeded(&cfg, "Erin", 5);
	assert_int_equal(failed_login("192.0.2.5", "erin", 6, ev), 0);
	assert_int_equal(failed_login("192.0.2.5", "erin", 7, ev), 1);
	assert_int_equal(ev[0].kind, THROTTLE_SOURCE);
}

static void
test_a_budget_of_zero_is_off(void **state)
{
	struct throttle_event	 ev[2];
	unsigned		 secs;

	(void)state;
	cfg.throttle_user_failures = 0;
	cfg.throttle_source_failures = 0;
	for (int i = 0; i < 50; i++)
		assert_int_equal(failed_login("192.0.2.6", "frank", i, ev), 0);
	assert_int_equal(auth_throttle_locked(&cfg, "192.0.2.6", "frank", 60,
	    &secs), 0);
}

static void
test_open_tunnels_are_counted_until_they_end(void **state)
{
	(void)state;
	cfg.limit_user_tunnels = 2;
	assert_int_equal(auth_throttle_tunnel(&cfg, "grace", 0), 0);
	/* The account's own name counts, whatever its spelling. */
	assert_int_equal(auth_throttle_tunnel(&cfg, "Grace", 1), 0);
	assert_int_equal(auth_throttle_tunnel(&cfg, "grace", 2), THROTTLE_OPEN);
	assert_int_equal(auth_throttle_tunnel(&cfg, "heidi", 3), 0);
	/* Long after: open tunnels do not refill like a rate. */
	assert_int_equal(auth_throttle_tunnel(&cfg, "grace", 3600000),
	    THROTTLE_OPEN);
	auth_throttle_tunnel_gone(&cfg, "grace", 3600001);
	assert_int_equal(auth_throttle_tunnel(&cfg, "grace", 3600002), 0);
	assert_int_equal(auth_throttle_tunnel(&cfg, "grace", 3600003),
	    THROTTLE_OPEN);
	/* An end never counted lowers nothing below zero. */
	for (int i = 0; i < 5; i++)
		auth_throttle_tunnel_gone(&cfg, "ivan", 3600004);
	assert_int_equal(auth_throttle_tunnel(&cfg, "ivan", 3600005), 0);
}

static void
test_the_rate_and_the_open_count_are_two_limits(void **state)
{
	(void)state;
	cfg.limit_user_rate = 3;
	cfg.limit_user_tunnels = 100;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(auth_throttle_tunnel(&cfg, "judy", i), 0);
		auth_throttle_tunnel_gone(&cfg, "judy", i);
	}
	assert_int_equal(auth_throttle_tunnel(&cfg, "judy", 10),
	    THROTTLE_TUNNELS);
	/* A minute refills the rate. */
	assert_int_equal(auth_throttle_tunnel(&cfg, "judy", 60010), 0);
	cfg.limit_user_rate = 0;
	cfg.limit_user_tunnels = 0;
	for (int i = 0; i < 500; i++)
		assert_int_equal(auth_throttle_tunnel(&cfg, "judy", 60020), 0);
}

/* Accounts with tunnels open keep their count when the table is full. */
static void
test_an_open_count_is_not_pushed_out(void **state)
{
	char	 name[32];

	(void)state;
	cfg.limit_user_tunnels = 1;
	assert_int_equal(auth_throttle_tunnel(&cfg, "mallory", 0), 0);
	for (int i = 0; i < 4 * TG_THROTTLE_ENTRIES; i++) {
		snprintf(name, sizeof(name), "user%d", i);
		auth_throttle_tunnel(&cfg, name, 1);
		auth_throttle_tunnel_gone(&cfg, name, 1);
	}
	assert_int_equal(auth_throttle_tunnel(&cfg, "mallory", 2), THROTTLE_OPEN);
}

/*
 * A guesser who fails as fast as the throttle lets him, for a minute: in no
 * stretch of T ms do more than budget * (1 + T / window) failures get
 * through, plus the half a failure the rounding of a burst allows, plus one
 * at the end of each lockout shorter than the refill of one failure
 * (docs/tunnelgated.conf.5, throttle). A lockout that dropped the score to
 * the budget would forget up to half a failure each time and let it add up.
 */
static void
spray_within_the_bound(unsigned lockout_ms)
{
	struct throttle_event	 ev[2];
	static int64_t		 at[4096], ends[4096];
	size_t			 n = 0, nends = 0, short_ends;
	unsigned		 secs;
	double			 most;

	cfg.throttle_user_failures = 5;
	cfg.throttle_window_ms = 2000;
	cfg.throttle_lockout_ms = lockout_ms;
	cfg.throttle_lockout_max_ms = lockout_ms;
	for (int64_t t = 0; t < 60000 && n < 4096; t += 70) {
		if (auth_throttle_locked(&cfg, "", "dave", t, &secs) != 0)
			continue;
		if (failed_login("", "dave", t, ev) != 0)
			ends[nends++] = t + lockout_ms;
		at[n++] = t;
	}
	assert_true(n > 5 * 30);
	for (size_t i = 0; i < n; i++)
		for (size_t j = i, k = 0; j < n; j++) {
			for (short_ends = 0, k = 0; k < nends; k++)
				short_ends += lockout_ms < 2000 / 5 &&
				    ends[k] > at[i] && ends[k] <= at[j];
			most = 5.0 * (1 + (double)(at[j] - at[i]) / 2000) +
			    0.5 + (double)short_ends;
			if ((double)(j - i + 1) > most)
				fail_msg("%zu failures from %lld to %lld ms, "
				    "at most %.1f", j - i + 1, (long long)at[i],
				    (long long)at[j], most);
		}
}

static void
test_no_stretch_passes_more_than_the_refills_allow(void **state)
{
	(void)state;
	spray_within_the_bound(1000);
}

static void
test_short_lockouts_pass_one_more_each(void **state)
{
	(void)state;
	spray_within_the_bound(150);
}

int
main(void)
{
#define T(f)	cmocka_unit_test_setup(f, setup)
	const struct CMUnitTest tests[] = {
		T(test_the_failure_that_spends_a_budget_begins_a_lockout),
		T(test_a_source_budget_counts_every_name),
		T(test_lockouts_double_up_to_the_maximum_and_are_forgotten),
		T(test_each_end_is_reported_once),
		T(test_a_right_password_refills_the_users_budget_only),
		T(test_a_budget_of_zero_is_off),
		T(test_open_tunnels_are_counted_until_they_end),
		T(test_the_rate_and_the_open_count_are_two_limits),
		T(test_an_open_count_is_not_pushed_out),
		T(test_no_stretch_passes_more_than_the_refills_allow),
		T(test_short_lockouts_pass_one_more_each),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
