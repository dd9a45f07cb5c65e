/*
 * The relay engine over plain sockets: a client and a backend are the far
 * ends of two non-blocking AF_UNIX stream socketpairs, and the test plays
 * the event loop, handing readiness to pump_run() by hand. What it pins
 * down is draft-luotonen's close rules and the gateway's own promises:
 * either side may speak first, a half-close travels only behind the bytes
 * before it, one stalled direction never stops the other, and memory stays
 * within the buffer limit however slow a reader is.
 */
#include <sys/epoll.h>
#include <sys/socket.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "pump.h"

#define BUF_MAX		16384
#define ALL		(EPOLLIN | EPOLLOUT)
/* A relay that spins or blocks fails the run instead of hanging it. */
#define WATCHDOG_S	20

struct fx {
	struct pump	 r;
	int		 client;	/* the client program's socket */
	int		 backend;	/* the backend server's socket */
	int		 relay_fds[2];
};

static int
setup(void **state)
{
	struct fx	*fx;
	int		 c[2], b[2];

	if ((fx = calloc(1, sizeof(*fx))) == NULL)
		return -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    c) == -1 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0, b) == -1) {
		free(fx);
		return -1;
	}
	fx->client = c[0];
	fx->backend = b[0];
	fx->relay_fds[0] = c[1];
	fx->relay_fds[1] = b[1];
	pump_end_init(&fx->r.client, c[1], &pump_plain_ops, NULL);
	pump_end_init(&fx->r.backend, b[1], &pump_plain_ops, NULL);
	buf_init(&fx->r.up, BUF_MAX);
	buf_init(&fx->r.down, BUF_MAX);
	alarm(WATCHDOG_S);
	*state = fx;
	return 0;
}

static void
close_if_open(int *fd)
{
	if (*fd != -1)
		close(*fd);
	*fd = -1;
}

static int
teardown(void **state)
{
	struct fx	*fx = *state;

	alarm(0);
	pump_free(&fx->r);
	close_if_open(&fx->client);
	close_if_open(&fx->backend);
	close_if_open(&fx->relay_fds[0]);
	close_if_open(&fx->relay_fds[1]);
	free(fx);
	return 0;
}

/* Everything is ready: what epoll would report after any activity. */
static enum pump_state
pump(struct fx *fx)
{
	enum pump_state	 s;

	pump_end_event(&fx->r.client, ALL);
	pump_end_event(&fx->r.backend, ALL);
	s = pump_run(&fx->r);
	assert_true(fx->r.up.cap <= fx->r.up.max);
	assert_true(fx->r.down.cap <= fx->r.down.max);
	return s;
}

static void
send_all(int fd, const void *p, size_t n)
{
	assert_int_equal(write(fd, p, n), (ssize_t)n);
}

static void
expect_nothing(int fd)
{
	char	 c;

	assert_int_equal(read(fd, &c, 1), -1);
	assert_int_equal(errno, EAGAIN);
}

/* Exactly these bytes are waiting on fd: a larger read gets no more. */
static void
expect_bytes(int fd, const char *want)
{
	char	 got[256];
	size_t	 n = strlen(want);

	assert_true(n < sizeof(got));
	assert_int_equal(read(fd, got, sizeof(got)), (ssize_t)n);
	assert_memory_equal(got, want, n);
}

static void
expect_eof(int fd)
{
	char	 c;

	assert_int_equal(read(fd, &c, 1), 0);
}

static uint8_t
pattern(uint64_t i, unsigned seed)
{
	return (uint8_t)((i * 131 + seed) ^ (i >> 9));
}

/* Fill fd's outgoing path until it refuses; returns the count. */
static size_t
stuff(int fd)
{
	char	 junk[4096];
	size_t	 total = 0;
	ssize_t	 n;

	memset(junk, 'j', sizeof(junk));
	while ((n = write(fd, junk, sizeof(junk))) > 0)
		total += (size_t)n;
	assert_int_equal(errno, EAGAIN);
	return total;
}

static void
drain_junk(int fd, size_t n)
{
	char	 buf[4096];
	ssize_t	 got;

	while (n > 0) {
		got = read(fd, buf, n < sizeof(buf) ? n : sizeof(buf));
		assert_true(got > 0);
		for (ssize_t i = 0; i < got; i++)
			assert_int_equal(buf[i], 'j');
		n -= (size_t)got;
	}
}

static void
test_client_first_both_ways(void **state)
{
	struct fx	*fx = *state;

	send_all(fx->client, "hello", 5);
	assert_int_equal(pump(fx), PUMP_RUNNING);
	assert_true(fx->r.moved);
	expect_bytes(fx->backend, "hello");
	expect_nothing(fx->client);
	assert_int_equal(fx->r.bytes_up, 5);
	assert_int_equal(fx->r.bytes_down, 0);

	send_all(fx->backend, "world!!", 7);
	assert_int_equal(pump(fx), PUMP_RUNNING);
	expect_bytes(fx->client, "world!!");
	expect_nothing(fx->backend);
	assert_int_equal(fx->r.bytes_up, 5);
	assert_int_equal(fx->r.bytes_down, 7);

	assert_int_equal(pump(fx), PUMP_RUNNING);
	assert_false(fx->r.moved);
	assert_int_equal(fx->r.first_eof, AUDIT_BY_NONE);
}

static void
test_backend_speaks_first(void **state)
{
	struct fx	*fx = *state;

	/* SSH, SMTP, MySQL: the server greets before the client says a word. */
	send_all(fx->backend, "SSH-2.0-test\r\n", 14);
	assert_int_equal(pump(fx), PUMP_RUNNING);
	expect_bytes(fx->client, "SSH-2.0-test\r\n");
	assert_int_equal(fx->r.bytes_down, 14);
	assert_int_equal(fx->r.bytes_up, 0);
	send_all(fx->client, "SSH-2.0-client\r\n", 16);
	assert_int_equal(pump(fx), PUMP_RUNNING);
	expect_bytes(fx->backend, "SSH-2.0-client\r\n");
	assert_int_equal(fx->r.bytes_up, 16);
}

static void
test_both_send_at_once(void **state)
{
	struct fx	*fx = *state;

	send_all(fx->client, "ping", 4);
	send_all(fx->backend, "pong!", 5);
	assert_int_equal(pump(fx), PUMP_RUNNING);
	expect_bytes(fx->backend, "ping");
	expect_bytes(fx->client, "pong!");
	assert_int_equal(fx->r.bytes_up, 4);
	assert_int_equal(fx->r.bytes_down, 5);
}

static void
test_buffers_released_after_drain(void **state)
{
	struct fx	*fx = *state;

	send_all(fx->client, "abc", 3);
	send_all(fx->backend, "def", 3);
	assert_int_equal(pump(fx), PUMP_RUNNING);
	expect_bytes(fx->backend, "abc");
	expect_bytes(fx->client, "def");
	/* An idle tunnel holds no buffer memory. */
	assert_null(fx->r.up.data);
	assert_null(fx->r.down.data);
	assert_int_equal(fx->r.up.max, BUF_MAX);
}

static void
test_readiness_comes_from_events(void **state)
{
	struct fx	*fx = *state;

	send_all(fx->client, "a", 1);
	pump_end_event(&fx->r.client, EPOLLIN);
	assert_int_equal(pump_run(&fx->r), PUMP_RUNNING);
	expect_bytes(fx->backend, "a");
	/* The read that hit EAGAIN used the edge up. */
	assert_false(fx->r.client.readable);
	send_all(fx->client, "b", 1);
	assert_int_equal(pump_run(&fx->r), PUMP_RUNNING);
	assert_false(fx->r.moved);
	expect_nothing(fx->backend);
	pump_end_event(&fx->r.client, EPOLLIN);
	assert_int_equal(pump_run(&fx->r), PUMP_RUNNING);
	expect_bytes(fx->backend, "b");
	assert_int_equal(fx->r.bytes_up, 2);
}

/* One direction's bytes as they arrive: checked against the pattern. */
struct stream {
	uint64_t	 sent, recvd, total;
	unsigned	 seed;
};

static void
stream_send(int fd, struct stream *s)
{
	uint8_t	 chunk[3000];
	size_t	 n = sizeof(chunk);
	ssize_t	 w;

	if (s->total - s->sent < n)
		n = (size_t)(s->total - s->sent);
	for (size_t i = 0; i < n; i++)
		chunk[i] = pattern(s->sent + i, s->seed);
	if (n > 0 && (w = write(fd, chunk, n)) > 0)
		s->sent += (uint64_t)w;
}

static void
stream_recv(int fd, struct stream *s)
{
	uint8_t	 chunk[5000];
	ssize_t	 n;

	while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
		for (ssize_t i = 0; i < n; i++)
			if (chunk[i] != pattern(s->recvd + (uint64_t)i, s->seed))
				fail_msg("byte %llu corrupted",
				    (unsigned long long)(s->recvd + (uint64_t)i));
		s->recvd += (uint64_t)n;
	}
	assert_int_equal(n, -1);
	assert_int_equal(errno, EAGAIN);
}

static void
test_large_transfer_both_ways(void **state)
{
	struct fx	*fx = *state;
	struct stream	 up = { .total = 1 << 20, .seed = 1 };
	struct stream	 down = { .total = 3 << 19, .seed = 2 };
	unsigned	 rounds;

	for (rounds = 0; rounds < 100000; rounds++) {
		if (up.recvd == up.total && down.recvd == down.total)
			break;
		stream_send(fx->client, &up);
		stream_send(fx->backend, &down);
		assert_int_equal(pump(fx), PUMP_RUNNING);
		assert_true(buf_len(&fx->r.up) <= BUF_MAX);
		assert_true(buf_len(&fx->r.down) <= BUF_MAX);
		stream_recv(fx->backend, &up);
		stream_recv(fx->client, &down);
	}
	assert_int_equal(up.recvd, up.total);
	assert_int_equal(down.recvd, down.total);
	assert_int_equal(fx->r.bytes_up, up.total);
	assert_int_equal(fx->r.bytes_down, down.total);
	assert_null(fx->r.up.data);
	assert_null(fx->r.down.data);
}

#define TAIL_LEN	12000

/*
 * Read what the backend got in small bites, pumping in between, until its
 * EOF: junk bytes first, then the tail pattern. The relay must never have
 * shut the backend while any of the tail was still in its buffer.
 */
static void
backend_reads_slowly(struct fx *fx, size_t junk, struct stream *tail)
{
	uint8_t	 bite[2000];
	ssize_t	 n;
	int	 rounds;

	for (rounds = 0; rounds < 10000; rounds++) {
		n = read(fx->backend, bite, junk > 0 && junk < sizeof(bite) ?
		    junk : sizeof(bite));
		if (n == 0)
			break;
		if (n > 0 && junk > 0) {
			for (ssize_t i = 0; i < n; i++)
				assert_int_equal(bite[i], 'j');
			junk -= (size_t)n;
		} else if (n > 0) {
			for (ssize_t i = 0; i < n; i++)
				assert_int_equal(bite[i],
				    pattern(tail->recvd + (uint64_t)i, tail->seed));
			tail->recvd += (uint64_t)n;
		} else
			assert_int_equal(errno, EAGAIN);
		assert_int_equal(pump(fx), PUMP_RUNNING);
		if (buf_len(&fx->r.up) > 0)
			assert_false(fx->r.backend.shut);
	}
	assert_int_equal(junk, 0);
	assert_int_equal(tail->recvd, TAIL_LEN);
}

static void
test_client_eof_waits_for_buffered_bytes(void **state)
{
	struct fx	*fx = *state;
	struct stream	 tail = { .total = TAIL_LEN, .seed = 4 };
	size_t		 junk;
	int		 small = 4096;

	/*
	 * The backend is slow: its socket is full, so the tail stays buffered,
	 * and a small send buffer makes the relay's writes partial.
	 */
	assert_int_equal(setsockopt(fx->relay_fds[1], SOL_SOCKET, SO_SNDBUF,
	    &small, sizeof(small)), 0);
	junk = stuff(fx->relay_fds[1]);
	while (tail.sent < tail.total)
		stream_send(fx->client, &tail);
	assert_int_equal(shutdown(fx->client, SHUT_WR), 0);
	assert_int_equal(pump(fx), PUMP_RUNNING);
	assert_true(fx->r.client.eof);
	assert_int_equal(fx->r.first_eof, AUDIT_BY_CLIENT);
	assert_int_equal(buf_len(&fx->r.up), TAIL_LEN);
	assert_false(fx->r.backend.shut);
	assert_int_equal(fx->r.bytes_up, 0);

	/* The client half-closed, yet it still hears the backend. */
	send_all(fx->backend, "reply", 5);
	assert_int_equal(pump(fx), PUMP_RUNNING);
	expect_bytes(fx->client, "reply");
	assert_false(fx->r.backend.shut);

	backend_reads_slowly(fx, junk, &tail);
	assert_true(fx->r.backend.shut);
	assert_false(fx->r.client.shut);
	assert_int_equal(fx->r.bytes_up, TAIL_LEN);
	assert_null(fx->r.up.data);

	send_all(fx->backend, "more", 4);
	assert_int_equal(pump(fx), PUMP_RUNNING);
	expect_bytes(fx->client, "more");

	assert_int_equal(shutdown(fx->backend, SHUT_WR), 0);
	assert_int_equal(pump(fx), PUMP_DONE);
	expect_eof(fx->client);
	assert_int_equal(fx->r.first_eof, AUDIT_BY_CLIENT);
	assert_int_equal(fx->r.bytes_down, 9);
}

static void
test_backend_eof_first(void **state)
{
	struct fx	*fx = *state;

	send_all(fx->backend, "bye", 3);
	assert_int_equal(shutdown(fx->backend, SHUT_WR), 0);
	assert_int_equal(pump(fx), PUMP_RUNNING);
	expect_bytes(fx->client, "bye");
	expect_eof(fx->client);
	assert_true(fx->r.client.shut);
	assert_false(fx->r.backend.shut);
	assert_int_equal(fx->r.first_eof, AUDIT_BY_BACKEND);

	/* Still half-open: what the client sends after that goes through. */
	send_all(fx->client, "late", 4);
	assert_int_equal(pump(fx), PUMP_RUNNING);
	expect_bytes(fx->backend, "late");

	assert_int_equal(shutdown(fx->client, SHUT_WR), 0);
	assert_int_equal(pump(fx), PUMP_DONE);
	expect_eof(fx->backend);
	assert_int_equal(fx->r.first_eof, AUDIT_BY_BACKEND);
	assert_int_equal(fx->r.bytes_up, 4);
	assert_int_equal(fx->r.bytes_down, 3);
}

static void
test_done_only_when_both_finished(void **state)
{
	struct fx	*fx = *state;
	size_t		 junk;

	/* Both ends close at once, but the client is slow to read. */
	junk = stuff(fx->relay_fds[0]);
	send_all(fx->backend, "last words", 10);
	assert_int_equal(shutdown(fx->backend, SHUT_WR), 0);
	assert_int_equal(shutdown(fx->client, SHUT_WR), 0);
	assert_int_equal(pump(fx), PUMP_RUNNING);
	assert_true(fx->r.backend.shut);
	assert_false(fx->r.client.shut);
	assert_int_equal(pump(fx), PUMP_RUNNING);

	drain_junk(fx->client, junk);
	assert_int_equal(pump(fx), PUMP_DONE);
	expect_bytes(fx->client, "last words");
	expect_eof(fx->client);
	expect_eof(fx->backend);
	assert_int_equal(fx->r.bytes_down, 10);
}

static void
test_backpressure_bounds_memory(void **state)
{
	struct fx	*fx = *state;
	struct stream	 up = { .total = UINT64_MAX, .seed = 3 };
	int		 small = 4096;
	uint64_t	 before;
	unsigned	 stalls = 0, rounds;

	assert_int_equal(setsockopt(fx->relay_fds[1], SOL_SOCKET, SO_SNDBUF,
	    &small, sizeof(small)), 0);
	/*
	 * The backend never reads: push until neither the client nor the
	 * relay can move another byte.
	 */
	for (rounds = 0; rounds < 10000 && stalls < 3; rounds++) {
		before = up.sent + fx->r.bytes_up + buf_len(&fx->r.up);
		stream_send(fx->client, &up);
		assert_int_equal(pump(fx), PUMP_RUNNING);
		assert_true(buf_len(&fx->r.up) <= BUF_MAX);
		assert_true(fx->r.up.cap <= BUF_MAX);
		if (up.sent + fx->r.bytes_up + buf_len(&fx->r.up) == before)
			stalls++;
		else
			stalls = 0;
	}
	assert_int_equal(stalls, 3);
	assert_int_equal(buf_len(&fx->r.up), BUF_MAX);
	assert_false(fx->r.moved);
	assert_true(fx->r.bytes_up > 0);
	assert_true(up.sent > fx->r.bytes_up + BUF_MAX);

	/* The stalled direction does not hold up the other one. */
	send_all(fx->backend, "still here", 10);
	assert_int_equal(pump(fx), PUMP_RUNNING);
	expect_bytes(fx->client, "still here");
	assert_int_equal(buf_len(&fx->r.up), BUF_MAX);

	/* Once the backend reads, every byte arrives, in order. */
	up.total = up.sent;
	for (rounds = 0; rounds < 100000 && up.recvd < up.total; rounds++) {
		stream_recv(fx->backend, &up);
		assert_int_equal(pump(fx), PUMP_RUNNING);
	}
	assert_int_equal(up.recvd, up.total);
	assert_int_equal(fx->r.bytes_up, up.total);
	assert_null(fx->r.up.data);
}

static void
test_write_to_closed_backend_fails(void **state)
{
	struct fx	*fx = *state;

	close_if_open(&fx->backend);
	send_all(fx->client, "x", 1);
	assert_int_equal(pump(fx), PUMP_FAILED);
	assert_int_equal(fx->r.failed_by, AUDIT_BY_BACKEND);
	assert_non_null(strstr(fx->r.backend.err, "write"));
	assert_string_equal(fx->r.client.err, "");
}

static void
test_write_to_closed_client_fails(void **state)
{
	struct fx	*fx = *state;

	close_if_open(&fx->client);
	send_all(fx->backend, "y", 1);
	assert_int_equal(pump(fx), PUMP_FAILED);
	assert_int_equal(fx->r.failed_by, AUDIT_BY_CLIENT);
	assert_non_null(strstr(fx->r.client.err, "write"));
}

/*
 * A read that fails behind bytes is a close with a reason: the bytes reach
 * the other side, which then gets its end of stream, before the failure.
 */
static void
test_read_failure_delivers_earlier_bytes_then_closes(void **state)
{
	struct fx	*fx = *state;

	/* Closing with unread bytes makes the relay's next read ECONNRESET. */
	send_all(fx->relay_fds[0], "unread", 6);
	send_all(fx->client, "last", 4);
	close_if_open(&fx->client);
	assert_int_equal(pump(fx), PUMP_FAILED);
	expect_bytes(fx->backend, "last");
	expect_eof(fx->backend);
	assert_int_equal(fx->r.failed_by, AUDIT_BY_CLIENT);
	assert_non_null(strstr(fx->r.client.err, "read"));
	assert_int_equal(fx->r.bytes_up, 4);
}

/* Until the other side took the bytes, the failure waits. */
static void
test_read_failure_waits_for_a_slow_reader(void **state)
{
	struct fx	*fx = *state;
	size_t		 junk;

	junk = stuff(fx->relay_fds[1]);
	send_all(fx->relay_fds[0], "unread", 6);
	send_all(fx->client, "last", 4);
	close_if_open(&fx->client);
	assert_int_equal(pump(fx), PUMP_RUNNING);
	assert_true(fx->r.client.failed);
	assert_false(fx->r.backend.shut);
	assert_int_equal(buf_len(&fx->r.up), 4);

	drain_junk(fx->backend, junk);
	assert_int_equal(pump(fx), PUMP_FAILED);
	expect_bytes(fx->backend, "last");
	expect_eof(fx->backend);
	assert_int_equal(fx->r.failed_by, AUDIT_BY_CLIENT);
}

static void
test_pipelined_bytes_follow_the_reply(void **state)
{
	struct fx	*fx = *state;
	static const char req[] = "CONNECT db:5432 HTTP/1.1\r\n\r\nEARLY";
	size_t		 hdr = sizeof(req) - 1 - 5;

	send_all(fx->client, req, sizeof(req) - 1);
	pump_end_event(&fx->r.client, EPOLLIN);
	assert_int_equal(pump_read_client(&fx->r), (ssize_t)(sizeof(req) - 1));
	assert_int_equal(pump_read_client(&fx->r), PUMP_IO_WANT_READ);
	buf_consume(&fx->r.up, hdr);

	assert_int_equal(buf_put(&fx->r.down, "HTTP/1.1 200 OK\r\n\r\n", 19), 0);
	assert_int_equal(pump_flush_client(&fx->r), 0);
	expect_bytes(fx->client, "HTTP/1.1 200 OK\r\n\r\n");

	assert_int_equal(pump(fx), PUMP_RUNNING);
	expect_bytes(fx->backend, "EARLY");
	assert_int_equal(fx->r.bytes_up, 5);
}

int
main(void)
{
	const struct CMUnitTest	 tests[] = {
		cmocka_unit_test_setup_teardown(test_client_first_both_ways,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_backend_speaks_first,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_both_send_at_once,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_buffers_released_after_drain,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_readiness_comes_from_events,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_large_transfer_both_ways,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_client_eof_waits_for_buffered_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backend_eof_first,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_done_only_when_both_finished,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_backpressure_bounds_memory,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_write_to_closed_backend_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_write_to_closed_client_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_read_failure_delivers_earlier_bytes_then_closes, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_read_failure_waits_for_a_slow_reader, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_pipelined_bytes_follow_the_reply, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
