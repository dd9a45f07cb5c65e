/*
 * The authenticator's held requests: each gate slot's share, so that one
 * gate worker's slow misses leave the others room, and the slots served in
 * turn, each oldest first.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth_held.h"

static struct auth_held_set	 set;

/* The request's id says which slot sent it and in what order. */
static void
hold(size_t slot, uint64_t id)
{
	struct auth_request	 req;

	memset(&req, 0, sizeof(req));
	req.hdr.req_id = id;
	assert_true(auth_held_room(&set, slot));
	auth_held_put(&set, slot, 7, &req);
}

/* The id of the request served next, which is then done with. */
static uint64_t
serve(void)
{
	struct auth_held	*h = auth_held_next(&set);
	uint64_t		 id;

	assert_non_null(h);
	id = h->req.hdr.req_id;
	auth_held_done(&set, h);
	return id;
}

static void
test_a_lone_gate_worker_keeps_the_whole_set(void **state)
{
	uint64_t	 i;

	(void)state;
	auth_held_init(&set, 1);
	for (i = 0; i < AUTH_HELD_MAX; i++)
		hold(0, i);
	assert_false(auth_held_room(&set, 0));
	for (i = 0; i < AUTH_HELD_MAX; i++)
		assert_int_equal(serve(), i);
	assert_null(auth_held_next(&set));
	assert_true(auth_held_room(&set, 0));
}

static void
test_a_slot_at_its_share_leaves_the_others_room(void **state)
{
	uint64_t	 i;

	(void)state;
	auth_held_init(&set, 2);
	for (i = 0; i < AUTH_HELD_MAX / 2; i++)
		hold(0, i);
	assert_false(auth_held_room(&set, 0));
	for (i = 0; i < AUTH_HELD_MAX / 2; i++)
		hold(1, 100 + i);
	assert_false(auth_held_room(&set, 1));
	/* One served frees room for its own slot only. */
	assert_int_equal(serve(), 0);
	assert_true(auth_held_room(&set, 0));
	assert_false(auth_held_room(&set, 1));
}

static void
test_slots_are_served_in_turn_each_oldest_first(void **state)
{
	static const uint64_t	 order[] = { 0, 100, 200, 1, 101, 2, 3 };
	size_t			 i;

	(void)state;
	auth_held_init(&set, 3);
	for (i = 0; i < 4; i++)
		hold(0, i);
	hold(1, 100);
	hold(2, 200);
	hold(1, 101);
	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		assert_int_equal(serve(), order[i]);
	assert_null(auth_held_next(&set));
}

static void
test_a_late_request_of_another_slot_is_next_but_one(void **state)
{
	uint64_t	 i;

	(void)state;
	auth_held_init(&set, 2);
	for (i = 0; i < AUTH_HELD_MAX / 2; i++)
		hold(0, i);
	assert_int_equal(serve(), 0);
	hold(1, 100);
	assert_int_equal(serve(), 100);
	assert_int_equal(serve(), 1);
}

static void
test_with_more_slots_than_places_each_may_hold_one(void **state)
{
	size_t	 slot;

	(void)state;
	auth_held_init(&set, TG_MAX_GATE_WORKERS);
	hold(0, 1);
	assert_false(auth_held_room(&set, 0));
	for (slot = 1; slot < AUTH_HELD_MAX; slot++)
		hold(slot, slot + 1);
	assert_false(auth_held_room(&set, AUTH_HELD_MAX));
}

static void
test_a_served_request_is_wiped(void **state)
{
	struct auth_request	 req;
	struct auth_held	*h;
	size_t			 i;

	(void)state;
	auth_held_init(&set, 1);
	memset(&req, 0, sizeof(req));
	memcpy(req.password, "secret", sizeof("secret"));
	auth_held_put(&set, 0, 7, &req);
	h = auth_held_next(&set);
	auth_held_done(&set, h);
	for (i = 0; i < sizeof(h->req.password); i++)
		assert_int_equal(h->req.password[i], 0);
	assert_false(h->used);
}

static void
test_a_dropped_slot_frees_its_share_only(void **state)
{
	(void)state;
	auth_held_init(&set, 2);
	for (uint64_t i = 0; i < set.share; i++)
		hold(0, i);
	hold(1, 100);
	assert_false(auth_held_room(&set, 0));
	auth_held_drop_slot(&set, 0);
	assert_true(auth_held_room(&set, 0));
	assert_int_equal(set.n_held, 1);
	assert_int_equal(serve(), 100);
	assert_null(auth_held_next(&set));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_lone_gate_worker_keeps_the_whole_set),
		cmocka_unit_test(test_a_slot_at_its_share_leaves_the_others_room),
		cmocka_unit_test(test_slots_are_served_in_turn_each_oldest_first),
		cmocka_unit_test(test_a_late_request_of_another_slot_is_next_but_one),
		cmocka_unit_test(test_with_more_slots_than_places_each_may_hold_one),
		cmocka_unit_test(test_a_served_request_is_wiped),
		cmocka_unit_test(test_a_dropped_slot_frees_its_share_only),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
