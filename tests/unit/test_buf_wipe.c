/*
 * struct buf forgets what leaves it: consumed, reset and freed bytes, the
 * stale copy compaction leaves behind and the old storage a growing buffer
 * gives up are all zero. Request buffers hold Basic credentials, and a
 * connection may end on any path (400, 405, 408, 431, a hang-up). Only a
 * buffer of sealed records (buf_init_sealed) skips it.
 *
 * Freed storage is inspected on its way out: this binary is linked with
 * -Wl,--wrap=free, so buf.c's free() calls __wrap_free() below first.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"

void	__real_free(void *);
void	__wrap_free(void *);

static struct {
	const void	*watch;
	size_t		 len;
	bool		 seen;
	bool		 zero;
} freed;

static bool
all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

void
__wrap_free(void *p)
{
	if (p != NULL && p == freed.watch) {
		freed.seen = true;
		freed.zero = all_zero(p, freed.len);
	}
	__real_free(p);
}

static void
watch_free(const struct buf *b, size_t len)
{
	freed.watch = b->data;
	freed.len = len;
	freed.seen = freed.zero = false;
}

static const char SECRET[] = "Proxy-Authorization: Basic YWxpY2U6c2VjcmV0";
#define SECRET_LEN	(sizeof(SECRET) - 1)

static void
test_consume_wipes_what_it_drops(void **state)
{
	struct buf	 b;

	(void)state;
	buf_init(&b, 64);
	assert_int_equal(buf_put(&b, SECRET, SECRET_LEN), 0);
	buf_consume(&b, 6);
	assert_true(all_zero(b.data, 6));
	assert_memory_equal(buf_rptr(&b), SECRET + 6, SECRET_LEN - 6);
	buf_consume(&b, SECRET_LEN);
	assert_true(all_zero(b.data, SECRET_LEN));
	buf_free(&b);
}

static void
test_get_wipes_what_it_returns(void **state)
{
	struct buf	 b;
	char		 out[SECRET_LEN];

	(void)state;
	buf_init(&b, 64);
	assert_int_equal(buf_put(&b, SECRET, SECRET_LEN), 0);
	assert_int_equal(buf_get(&b, out, 10), 0);
	assert_memory_equal(out, SECRET, 10);
	assert_true(all_zero(b.data, 10));
	buf_free(&b);
}

static void
test_reset_wipes_stored_bytes(void **state)
{
	struct buf	 b;

	(void)state;
	buf_init(&b, 64);
	assert_int_equal(buf_put(&b, SECRET, SECRET_LEN), 0);
	buf_consume(&b, 1);
	buf_reset(&b);
	assert_non_null(b.data);
	assert_true(all_zero(b.data, SECRET_LEN));
	buf_free(&b);
}

static void
test_compaction_leaves_no_stale_copy(void **state)
{
	struct buf	 b;
	uint8_t		 in[64], out[40];

	(void)state;
	memset(in, 's', sizeof(in));
	buf_init(&b, 64);
	assert_int_equal(buf_put(&b, in, 64), 0);
	assert_int_equal(buf_get(&b, out, 40), 0);
	/* 24 bytes move down to the front; 30 new ones follow them. */
	assert_int_equal(buf_put(&b, "0123456789abcdefghijklmnopqrst", 30), 0);
	assert_int_equal(b.off, 0);
	assert_int_equal(b.len, 54);
	assert_true(all_zero(b.data + 54, 10));
	buf_free(&b);
}

static void
test_growth_wipes_the_old_storage(void **state)
{
	struct buf	 b;
	uint8_t		 more[200];

	(void)state;
	memset(more, 'm', sizeof(more));
	buf_init(&b, 65536);
	assert_int_equal(buf_put(&b, SECRET, SECRET_LEN), 0);
	assert_int_equal(b.cap, 4096);
	while (b.len + sizeof(more) <= b.cap)
		assert_int_equal(buf_put(&b, more, sizeof(more)), 0);
	watch_free(&b, b.len);
	assert_int_equal(buf_put(&b, more, sizeof(more)), 0);
	assert_true(freed.seen);
	assert_true(freed.zero);
	assert_int_equal(b.cap, 8192);
	assert_memory_equal(buf_rptr(&b), SECRET, SECRET_LEN);
	buf_free(&b);
}

static void
test_free_wipes_unread_bytes(void **state)
{
	struct buf	 b;

	(void)state;
	buf_init(&b, 64);
	assert_int_equal(buf_put(&b, SECRET, SECRET_LEN), 0);
	buf_consume(&b, 3);
	watch_free(&b, SECRET_LEN);
	buf_free(&b);
	assert_true(freed.seen);
	assert_true(freed.zero);
	assert_null(b.data);
}

static void
test_release_if_empty_frees_zeroed_storage(void **state)
{
	struct buf	 b;
	uint8_t		*w;
	size_t		 space;

	(void)state;
	buf_init(&b, 4096);
	w = buf_wptr(&b, &space);
	memcpy(w, SECRET, SECRET_LEN);
	buf_commit(&b, SECRET_LEN);
	buf_consume(&b, SECRET_LEN);
	watch_free(&b, SECRET_LEN);
	buf_release_if_empty(&b);
	assert_true(freed.seen);
	assert_true(freed.zero);
}

/*
 * A buffer of sealed records spends no pass over the bytes it relays: what
 * leaves it stays as the network saw it. Buffers made with buf_init() are
 * the ones above.
 */
static void
test_sealed_buffer_skips_the_zeroing(void **state)
{
	static const uint8_t	 record[] = { 0x17, 0x03, 0x03, 0x00, 0x02,
	    0xa1, 0xb2 };
	uint8_t			 big[256];
	struct buf		 b;

	(void)state;
	buf_init_sealed(&b, 16384);
	assert_int_equal(buf_put(&b, record, sizeof(record)), 0);
	buf_consume(&b, sizeof(record));
	assert_int_equal(buf_len(&b), 0);
	assert_memory_equal(b.data, record, sizeof(record));
	assert_int_equal(buf_put(&b, record, sizeof(record)), 0);
	buf_reset(&b);
	assert_memory_equal(b.data, record, sizeof(record));
	/* Released while empty and taken again, it is still a sealed one. */
	watch_free(&b, sizeof(record));
	buf_free(&b);
	assert_true(freed.seen && !freed.zero);
	assert_int_equal(buf_put(&b, record, sizeof(record)), 0);
	buf_consume(&b, sizeof(record));
	assert_memory_equal(b.data, record, sizeof(record));
	/* Growing gives the old storage up as it was. */
	assert_int_equal(buf_put(&b, record, sizeof(record)), 0);
	memset(big, 0x5a, sizeof(big));
	watch_free(&b, sizeof(record));
	for (size_t i = 0; i < 4096 / sizeof(big); i++)
		assert_int_equal(buf_put(&b, big, sizeof(big)), 0);
	assert_true(freed.seen && !freed.zero);
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest	 tests[] = {
		cmocka_unit_test(test_consume_wipes_what_it_drops),
		cmocka_unit_test(test_get_wipes_what_it_returns),
		cmocka_unit_test(test_reset_wipes_stored_bytes),
		cmocka_unit_test(test_compaction_leaves_no_stale_copy),
		cmocka_unit_test(test_growth_wipes_the_old_storage),
		cmocka_unit_test(test_free_wipes_unread_bytes),
		cmocka_unit_test(test_release_if_empty_frees_zeroed_storage),
		cmocka_unit_test(test_sealed_buffer_skips_the_zeroing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
