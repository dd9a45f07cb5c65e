/*
 * The one receive path every protocol table goes through, on real
 * SOCK_SEQPACKET socketpairs: what a peer got wrong is MSG_BAD (never end of
 * file, never silently dropped), descriptors that came with a refused
 * message are closed, and a valid message arrives with its row and its
 * descriptors.
 */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "msg.h"

struct t_small {
	struct msg_hdr	 hdr;
	uint32_t	 value;
	uint32_t	 pad;
};

struct t_with_fd {
	struct msg_hdr	 hdr;
};

static int
small_check(const void *msg, size_t n, size_t nfds, unsigned from,
    const char **why)
{
	uint32_t	 v;

	(void)n;
	(void)nfds;
	(void)from;
	memcpy(&v, (const uint8_t *)msg + offsetof(struct t_small, value),
	    sizeof(v));
	if (v == 0) {
		*why = "value 0";
		return -1;
	}
	return 0;
}

static const struct msg_type test_types[] = {
	MSG_FIXED(1, "small", struct t_small, MSG_GATE, MSG_AUTH, 0, 0,
	    small_check),
	MSG_FIXED(2, "with fd", struct t_with_fd, MSG_MASTER, MSG_AUTH, 1, 1,
	    NULL),
};

static const struct msg_proto test_proto = { "test", 3, test_types, 2 };

static int	 sv[2];

static int
setup(void **state)
{
	(void)state;
	return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv);
}

static int
teardown(void **state)
{
	(void)state;
	close(sv[0]);
	close(sv[1]);
	return 0;
}

static size_t
open_fds(void)
{
	DIR		*d = opendir("/proc/self/fd");
	size_t		 n = 0;

	assert_non_null(d);
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

/* msg with n copies of fd attached. */
static void
send_raw(const void *msg, size_t len, int fd, size_t n)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * 5)];
	} c;
	struct iovec	 iov = { (void *)msg, len };
	struct msghdr	 mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr	*cm;
	int		 fds[5] = { fd, fd, fd, fd, fd };

	assert_true(n <= 5);
	if (n > 0) {
		memset(&c, 0, sizeof(c));
		mh.msg_control = c.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * n);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * n);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * n);
	}
	assert_int_equal(sendmsg(sv[0], &mh, 0), (ssize_t)len);
}

static enum msg_status
recv_as(unsigned from, struct msg_in *in)
{
	uint8_t	 buf[64];

	return msg_recv(&test_proto, sv[1], from, MSG_AUTH, buf, sizeof(buf), in);
}

static struct t_small
small(uint32_t value)
{
	struct t_small	 m = { .value = value };

	msg_hdr_init(&test_proto, &m.hdr, 1);
	return m;
}

static void
test_valid_message_arrives_with_its_row(void **state)
{
	struct t_small	 m = small(5);
	struct msg_in	 in;

	(void)state;
	send_raw(&m, sizeof(m), -1, 0);
	assert_int_equal(recv_as(MSG_GATE, &in), MSG_OK);
	assert_string_equal(in.t->name, "small");
	assert_int_equal(in.len, sizeof(m));
	assert_int_equal(in.nfds, 0);
	assert_int_equal(recv_as(MSG_GATE, &in), MSG_AGAIN);
}

static void
test_end_of_file_is_not_a_bad_message(void **state)
{
	struct msg_in	 in;

	(void)state;
	close(sv[0]);
	sv[0] = open("/dev/null", O_RDONLY);
	assert_int_equal(recv_as(MSG_GATE, &in), MSG_EOF);
}

static void
test_each_refusal_is_bad_with_a_reason(void **state)
{
	struct t_small	 m = small(5), zero = small(0);
	uint8_t		 big[128] = { 0 };
	struct msg_in	 in;

	(void)state;
	/* Wrong sender, failed check, header size, version, longer than cap. */
	send_raw(&m, sizeof(m), -1, 0);
	assert_int_equal(recv_as(MSG_RELAY, &in), MSG_BAD);
	assert_non_null(in.why);
	send_raw(&zero, sizeof(zero), -1, 0);
	assert_int_equal(recv_as(MSG_GATE, &in), MSG_BAD);
	assert_string_equal(in.why, "value 0");
	send_raw(&m, sizeof(m) - 1, -1, 0);
	assert_int_equal(recv_as(MSG_GATE, &in), MSG_BAD);
	m.hdr.version = 4;
	send_raw(&m, sizeof(m), -1, 0);
	assert_int_equal(recv_as(MSG_GATE, &in), MSG_BAD);
	memcpy(big, &m, sizeof(m));
	send_raw(big, sizeof(big), -1, 0);
	assert_int_equal(recv_as(MSG_GATE, &in), MSG_BAD);
	assert_string_equal(in.why, "longer than any message of the protocol");
	/* Nothing of it is left to read. */
	assert_int_equal(recv_as(MSG_GATE, &in), MSG_AGAIN);
}

static void
test_descriptors_of_a_refused_message_are_closed(void **state)
{
	struct t_small	 m = small(5);
	struct msg_in	 in;
	size_t		 before;
	int		 fd = open("/dev/null", O_RDONLY);

	(void)state;
	before = open_fds();
	/* One descriptor on a type that carries none. */
	send_raw(&m, sizeof(m), fd, 1);
	assert_int_equal(recv_as(MSG_GATE, &in), MSG_BAD);
	assert_string_equal(in.why, "carries descriptors it may not");
	assert_int_equal(open_fds(), before);
	/* More than any message may carry: refused below the table. */
	send_raw(&m, sizeof(m), fd, IPC_MAX_FDS + 1);
	assert_int_equal(recv_as(MSG_GATE, &in), MSG_BAD);
	assert_int_equal(open_fds(), before);
	close(fd);
}

static void
test_a_required_descriptor_arrives_and_its_absence_is_bad(void **state)
{
	struct t_with_fd m;
	struct msg_in	 in;
	int		 fd = open("/dev/null", O_RDONLY);

	(void)state;
	msg_hdr_init(&test_proto, &m.hdr, 2);
	send_raw(&m, sizeof(m), -1, 0);
	assert_int_equal(recv_as(MSG_MASTER, &in), MSG_BAD);
	assert_string_equal(in.why, "lacks the descriptors it must carry");
	send_raw(&m, sizeof(m), fd, 1);
	assert_int_equal(recv_as(MSG_MASTER, &in), MSG_OK);
	assert_int_equal(in.nfds, 1);
	assert_true(fcntl(in.fds[0], F_GETFD) != -1);
	close(in.fds[0]);
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest	 tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_valid_message_arrives_with_its_row, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_end_of_file_is_not_a_bad_message, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_each_refusal_is_bad_with_a_reason, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_descriptors_of_a_refused_message_are_closed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_a_required_descriptor_arrives_and_its_absence_is_bad,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
