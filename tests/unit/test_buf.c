/*
 * struct buf: the hard maximum holds on every path that grows the buffer,
 * failed gets and puts leave it untouched, consumed space is reused by
 * compaction rather than growth, and an empty buffer can give its memory back.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"

static void
fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 7);
}

static void
test_init_allocates_nothing(void **state)
{
	struct buf	 b;

	(void)state;
	buf_init(&b, 100);
	assert_null(b.data);
	assert_int_equal(b.max, 100);
	assert_int_equal(b.cap, 0);
	assert_int_equal(buf_len(&b), 0);
	buf_free(&b);
}

static void
test_put_up_to_max_then_full(void **state)
{
	struct buf	 b;
	uint8_t		 in[100], out[100];

	(void)state;
	fill(in, sizeof(in), 1);
	buf_init(&b, sizeof(in));
	assert_int_equal(buf_put(&b, in, 60), 0);
	assert_int_equal(buf_put(&b, in + 60, 40), 0);
	assert_int_equal(buf_len(&b), 100);
	assert_true(b.cap <= b.max);
	assert_int_equal(buf_put(&b, in, 1), BUF_ERR_FULL);
	assert_int_equal(buf_len(&b), 100);
	assert_int_equal(buf_get(&b, out, sizeof(out)), 0);
	assert_memory_equal(in, out, sizeof(in));
	buf_free(&b);
}

static void
test_put_over_max_stores_nothing(void **state)
{
	struct buf	 b;
	uint8_t		 in[64], out[8];

	(void)state;
	fill(in, sizeof(in), 2);
	buf_init(&b, 32);
	assert_int_equal(buf_put(&b, in, 8), 0);
	/* A put that cannot fit whole must not store a prefix of it. */
	assert_int_equal(buf_put(&b, in + 8, 25), BUF_ERR_FULL);
	assert_int_equal(buf_len(&b), 8);
	assert_int_equal(buf_put(&b, in, SIZE_MAX), BUF_ERR_FULL);
	assert_int_equal(buf_len(&b), 8);
	assert_int_equal(buf_get(&b, out, 8), 0);
	assert_memory_equal(in, out, 8);
	buf_free(&b);
}

static void
test_put_zero_is_noop(void **state)
{
	struct buf	 b;

	(void)state;
	buf_init(&b, 0);
	assert_int_equal(buf_put(&b, "x", 0), 0);
	assert_int_equal(buf_put(&b, "x", 1), BUF_ERR_FULL);
	assert_null(b.data);
	buf_free(&b);
}

static void
test_small_max_caps_first_allocation(void **state)
{
	struct buf	 b;

	(void)state;
	buf_init(&b, 100);
	assert_int_equal(buf_put(&b, "abc", 3), 0);
	assert_non_null(b.data);
	assert_true(b.cap >= 3 && b.cap <= 100);
	buf_free(&b);
}

static void
test_growth_never_exceeds_max(void **state)
{
	static uint8_t	 in[10000];
	struct buf	 b;
	size_t		 put = 0;

	(void)state;
	fill(in, sizeof(in), 3);
	buf_init(&b, 10000);
	/* Growth doubles from 4096; 8192 then 16384 would pass the limit. */
	while (put + 999 <= sizeof(in)) {
		assert_int_equal(buf_put(&b, in + put, 999), 0);
		put += 999;
		assert_true(b.cap <= b.max);
		assert_true(b.cap >= buf_len(&b));
	}
	assert_int_equal(buf_put(&b, in + put, sizeof(in) - put), 0);
	assert_int_equal(b.cap, 10000);
	assert_memory_equal(buf_rptr(&b), in, sizeof(in));
	buf_free(&b);
}

static void
test_get_past_end_consumes_nothing(void **state)
{
	struct buf	 b;
	uint8_t		 out[8];

	(void)state;
	memset(out, 0xee, sizeof(out));
	buf_init(&b, 64);
	assert_int_equal(buf_put(&b, "abcde", 5), 0);
	assert_int_equal(buf_get(&b, out, 6), BUF_ERR_SHORT);
	assert_int_equal(buf_len(&b), 5);
	assert_int_equal(out[0], 0xee);
	assert_int_equal(buf_get(&b, out, 2), 0);
	assert_memory_equal(out, "ab", 2);
	assert_int_equal(buf_get(&b, out, 4), BUF_ERR_SHORT);
	assert_int_equal(buf_get(&b, out, 3), 0);
	assert_memory_equal(out, "cde", 3);
	assert_int_equal(buf_len(&b), 0);
	assert_int_equal(buf_get(&b, out, 1), BUF_ERR_SHORT);
	buf_free(&b);
}

static void
test_consume_is_clamped_and_resets(void **state)
{
	struct buf	 b;

	(void)state;
	buf_init(&b, 64);
	assert_int_equal(buf_put(&b, "abcdef", 6), 0);
	buf_consume(&b, 2);
	assert_int_equal(buf_len(&b), 4);
	assert_int_equal(b.off, 2);
	assert_memory_equal(buf_rptr(&b), "cdef", 4);
	buf_consume(&b, 1000);
	assert_int_equal(buf_len(&b), 0);
	/* Fully consumed: the next put starts at the front again. */
	assert_int_equal(b.off, 0);
	assert_int_equal(b.len, 0);
	buf_free(&b);
}

static void
test_compaction_reuses_consumed_space(void **state)
{
	struct buf	 b;
	uint8_t		 in[64], out[64];
	uint8_t		*before;
	size_t		 cap;

	(void)state;
	fill(in, sizeof(in), 4);
	buf_init(&b, 64);
	assert_int_equal(buf_put(&b, in, 64), 0);
	before = b.data;
	cap = b.cap;
	assert_int_equal(buf_get(&b, out, 40), 0);
	assert_memory_equal(out, in, 40);
	/* 24 stored at offset 40: 40 more fit only by moving them down. */
	assert_int_equal(buf_put(&b, in, 40), 0);
	assert_ptr_equal(b.data, before);
	assert_int_equal(b.cap, cap);
	assert_int_equal(b.off, 0);
	assert_int_equal(buf_len(&b), 64);
	assert_memory_equal(buf_rptr(&b), in + 40, 24);
	assert_memory_equal(buf_rptr(&b) + 24, in, 40);
	assert_int_equal(buf_put(&b, in, 1), BUF_ERR_FULL);
	buf_free(&b);
}

static void
test_wptr_grows_to_max_and_commit_is_clamped(void **state)
{
	struct buf	 b;
	uint8_t		*w;
	size_t		 space;

	(void)state;
	buf_init(&b, 65536);
	w = buf_wptr(&b, &space);
	assert_non_null(w);
	assert_int_equal(space, 65536);
	assert_int_equal(b.cap, 65536);
	memcpy(w, "hello", 5);
	buf_commit(&b, 5);
	assert_int_equal(buf_len(&b), 5);
	assert_memory_equal(buf_rptr(&b), "hello", 5);
	w = buf_wptr(&b, &space);
	assert_ptr_equal(w, b.data + 5);
	assert_int_equal(space, 65536 - 5);
	/* A commit larger than the space handed out stops at the end. */
	buf_commit(&b, 1000000);
	assert_int_equal(buf_len(&b), 65536);
	assert_int_equal(b.cap, 65536);
	buf_free(&b);
}

static void
test_wptr_full_returns_null(void **state)
{
	struct buf	 b;
	size_t		 space = 123;
	uint8_t		 in[16];

	(void)state;
	fill(in, sizeof(in), 5);
	buf_init(&b, sizeof(in));
	assert_int_equal(buf_put(&b, in, sizeof(in)), 0);
	assert_null(buf_wptr(&b, &space));
	assert_int_equal(space, 0);
	buf_consume(&b, 4);
	/* Space freed at the front is handed out at the tail. */
	assert_non_null(buf_wptr(&b, &space));
	assert_int_equal(space, 4);
	assert_memory_equal(buf_rptr(&b), in + 4, 12);
	buf_free(&b);
}

static void
test_release_if_empty(void **state)
{
	struct buf	 b;
	uint8_t		 big[62];

	(void)state;
	memset(big, 'q', sizeof(big));
	buf_init(&b, 64);
	assert_int_equal(buf_put(&b, "ab", 2), 0);
	buf_release_if_empty(&b);
	assert_non_null(b.data);
	assert_memory_equal(buf_rptr(&b), "ab", 2);
	buf_consume(&b, 2);
	buf_release_if_empty(&b);
	assert_null(b.data);
	assert_int_equal(b.cap, 0);
	assert_int_equal(b.max, 64);
	/* Released buffers are reusable with the same limit. */
	assert_int_equal(buf_put(&b, "xyz", 3), 0);
	assert_memory_equal(buf_rptr(&b), "xyz", 3);
	assert_int_equal(buf_put(&b, big, sizeof(big)), BUF_ERR_FULL);
	buf_free(&b);
}

static void
test_reset_keeps_allocation(void **state)
{
	struct buf	 b;

	(void)state;
	buf_init(&b, 64);
	assert_int_equal(buf_put(&b, "abcd", 4), 0);
	buf_consume(&b, 1);
	buf_reset(&b);
	assert_int_equal(buf_len(&b), 0);
	assert_int_equal(b.off, 0);
	assert_non_null(b.data);
	assert_int_equal(buf_put(&b, "z", 1), 0);
	assert_memory_equal(buf_rptr(&b), "z", 1);
	buf_free(&b);
	assert_null(b.data);
	assert_int_equal(buf_len(&b), 0);
}

/*
 * buf_write_to: everything out and the storage released; on a full socket
 * EAGAIN with the rest kept; on a closed peer the write's own error.
 */
static void
test_write_to_drains_keeps_and_fails(void **state)
{
	static uint8_t	 chunk[4096], got[sizeof(chunk)];
	struct buf	 b;
	int		 sv[2];
	size_t		 total = 0;

	(void)state;
	/* As in the daemon: a closed peer is an error return, not a signal. */
	assert_true(signal(SIGPIPE, SIG_IGN) != SIG_ERR);
	memset(chunk, 0x42, sizeof(chunk));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    sv), 0);
	buf_init(&b, sizeof(chunk));
	assert_int_equal(buf_put(&b, chunk, 100), 0);
	assert_int_equal(buf_write_to(&b, sv[0]), 0);
	assert_int_equal(buf_len(&b), 0);
	assert_null(b.data);
	assert_int_equal(read(sv[1], got, sizeof(got)), 100);
	for (;;) {
		assert_int_equal(buf_put(&b, chunk, sizeof(chunk)), 0);
		if (buf_write_to(&b, sv[0]) == -1)
			break;
		total += sizeof(chunk);
		assert_true(total < 64 * 1024 * 1024);
	}
	assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
	assert_true(buf_len(&b) > 0);
	assert_int_equal(close(sv[1]), 0);
	assert_int_equal(buf_write_to(&b, sv[0]), -1);
	assert_int_equal(errno, EPIPE);
	assert_true(buf_len(&b) > 0);
	buf_free(&b);
	close(sv[0]);
}

int
main(void)
{
	const struct CMUnitTest	 tests[] = {
		cmocka_unit_test(test_init_allocates_nothing),
		cmocka_unit_test(test_put_up_to_max_then_full),
		cmocka_unit_test(test_put_over_max_stores_nothing),
		cmocka_unit_test(test_put_zero_is_noop),
		cmocka_unit_test(test_small_max_caps_first_allocation),
		cmocka_unit_test(test_growth_never_exceeds_max),
		cmocka_unit_test(test_get_past_end_consumes_nothing),
		cmocka_unit_test(test_consume_is_clamped_and_resets),
		cmocka_unit_test(test_compaction_reuses_consumed_space),
		cmocka_unit_test(test_wptr_grows_to_max_and_commit_is_clamped),
		cmocka_unit_test(test_wptr_full_returns_null),
		cmocka_unit_test(test_release_if_empty),
		cmocka_unit_test(test_reset_keeps_allocation),
		cmocka_unit_test(test_write_to_drains_keeps_and_fails),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
