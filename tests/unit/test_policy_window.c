/*
 * Rule windows at fixed instants, against the system's zone files: local
 * days and hours across the 2026 daylight-saving changes, windows past
 * midnight (their days are the days they start), when an open window
 * ends, and what policy_check() says outside one.
 */
#include "policy_fixture.h"

#define RULE(window) HEAD \
	"{ name = \"w\"; action = \"allow\"; users = [ \"*\" ];" \
	"  hosts = [ \"10.0.0.0/8\" ]; ports = [ 22 ]; max_duration = \"1h30m\";" \
	"  window = { " window " }; }\n);"

/* 2026-03-27 Fri 00:00 UTC; Berlin changes to CEST 2026-03-29 01:00 UTC. */
#define FRI	1774569600LL
#define H	3600LL
#define DAY	(24 * H)

static bool
open_at(const struct policy *p, int64_t t, int64_t *ends)
{
	return policy_rule_window_open(p, 0, t, ends);
}

static void
test_days_and_hours_in_the_zone_across_dst(void **state)
{
	struct policy			*p;
	struct policy_rule_limits	 lim;
	int64_t				 ends;

	(void)state;
	p = load_ok(RULE("days = [ \"fri\", \"sun-mon\" ]; hours = "
	    "\"08:00-18:00\"; tz = \"Europe/Berlin\";"));
	assert_true(policy_has_time_limits(p));
	policy_rule_time(p, 0, &lim);
	assert_int_equal(lim.max_duration, 5400);
	assert_string_equal(lim.window, "mon,fri,sun 08:00-18:00 Europe/Berlin");
	/* Friday, CET (UTC+1): 08:00 local is 07:00 UTC. */
	assert_false(open_at(p, FRI + 7 * H - 1, &ends));
	assert_true(open_at(p, FRI + 7 * H, &ends));
	assert_int_equal(ends, FRI + 17 * H);
	assert_false(open_at(p, FRI + 17 * H, &ends));
	/* Saturday: not a day of the window. */
	assert_false(open_at(p, FRI + DAY + 10 * H, &ends));
	/* Sunday, CEST (UTC+2) since 01:00 UTC: 08:00 local is 06:00 UTC. */
	assert_true(open_at(p, FRI + 2 * DAY + 6 * H, &ends));
	assert_int_equal(ends, FRI + 2 * DAY + 16 * H);
	assert_false(open_at(p, FRI + 2 * DAY + 16 * H, &ends));
	/* Monday, and not Tuesday. */
	assert_true(open_at(p, FRI + 3 * DAY + 12 * H, &ends));
	assert_false(open_at(p, FRI + 4 * DAY + 12 * H, &ends));
	policy_free(p);
}

static void
test_a_window_past_midnight_belongs_to_its_first_day(void **state)
{
	struct policy	*p;
	int64_t		 ends;

	(void)state;
	p = load_ok(RULE("days = [ \"fri\" ]; hours = \"22:00:30-06:00\"; "
	    "tz = \"UTC\";"));
	assert_false(open_at(p, FRI + 1 * H, &ends));	/* thursday's night */
	assert_false(open_at(p, FRI + 22 * H + 29, &ends));
	assert_true(open_at(p, FRI + 22 * H + 30, &ends));
	assert_int_equal(ends, FRI + DAY + 6 * H);
	assert_true(open_at(p, FRI + DAY + 5 * H, &ends));	/* saturday */
	assert_int_equal(ends, FRI + DAY + 6 * H);
	assert_false(open_at(p, FRI + DAY + 6 * H, &ends));
	assert_false(open_at(p, FRI + DAY + 23 * H, &ends));
	policy_free(p);
}

static void
test_outside_the_window_the_rule_denies(void **state)
{
	struct sockaddr_storage	 ss;
	struct policy		*p;
	struct policy_subject	 subj = { "alice", NULL, 0 };
	struct policy_target	 t = { NULL, (struct sockaddr *)&ss, 22, NULL,
				    FRI + 12 * H };
	struct policy_verdict	 v;

	(void)state;
	set_addr(&ss, "10.1.2.3");
	p = load_ok(RULE("hours = \"00:00-24:00\"; days = [ \"fri\" ]; "
	    "tz = \"Asia/Tokyo\";"));
	policy_check(p, &subj, &t, &v);	/* friday 21:00 in Tokyo */
	assert_int_equal(v.action, POLICY_ALLOW);
	assert_false(v.outside_window);
	t.now = FRI + 15 * H;		/* saturday 00:00 in Tokyo */
	policy_check(p, &subj, &t, &v);
	assert_int_equal(v.action, POLICY_DENY);
	assert_string_equal(v.rule, "w");
	assert_true(v.outside_window);
	policy_free(p);
}

static void
test_rules_without_limits(void **state)
{
	struct policy			*p;
	struct policy_rule_limits	 lim;
	int64_t				 ends;

	(void)state;
	p = load_ok(HEAD "{ name = \"plain\"; action = \"allow\"; users = "
	    "[ \"*\" ]; hosts = [ \"10.0.0.0/8\" ]; ports = [ 22 ]; }\n);");
	assert_false(policy_has_time_limits(p));
	assert_string_equal(verdict(p, "alice", NULL, "10.1.2.3", 22),
	    "allow:plain");
	policy_rule_time(p, 0, &lim);
	assert_int_equal(lim.max_duration, 0);
	assert_false(lim.has_window);
	assert_true(open_at(p, FRI, &ends));
	assert_int_equal(ends, 0);
	policy_free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_days_and_hours_in_the_zone_across_dst),
		cmocka_unit_test(
		    test_a_window_past_midnight_belongs_to_its_first_day),
		cmocka_unit_test(test_outside_the_window_the_rule_denies),
		cmocka_unit_test(test_rules_without_limits),
	};

	return cmocka_run_group_tests_name("policy_window", tests, NULL, NULL);
}
