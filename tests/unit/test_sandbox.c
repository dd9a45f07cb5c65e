/*
 * The relay worker's seccomp allow-list, tried in forked children: what
 * relaying needs keeps working inside the sandbox, and every call a
 * compromised relay worker would want for reaching out (socket, connect,
 * bind, open, execve, ptrace) kills it with SIGSYS. Each child reports over
 * a pipe that it is inside the sandbox before it tries the call, so a death
 * on the way in does not pass for the filter at work.
 */
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "sandbox.h"

#define CHILD_WAIT_MS	20000
#define ENTERED		'E'
#define MIB		(1024 * 1024)

/* Exit codes of the children: which step failed. */
enum child_exit {
	CHILD_OK = 0,
	CHILD_ENTER = 10,	/* sandbox_relay_enter failed */
	CHILD_REPORT,		/* could not write to the report pipe */
	CHILD_PIPE,
	CHILD_EPOLL,
	CHILD_CLOCK,
	CHILD_MALLOC,
	CHILD_FDPASS,
	CHILD_FCNTL,
	CHILD_SHUTDOWN,
	CHILD_CLOSE,
	CHILD_SURVIVED = 99	/* a forbidden call returned */
};

/* Descriptors a child prepares before it enters the sandbox. */
struct prep {
	int	 report;	/* write end: ENTERED once inside */
	int	 pipe[2];
	int	 epfd;
	int	 pair[2];	/* SEQPACKET, for SCM_RIGHTS */
	int	 sock;		/* an AF_UNIX socket for connect/bind */
};

static void
prepare(struct prep *p, int report)
{
	struct rlimit	 no_core = { 0, 0 };
	struct epoll_event ev = { .events = EPOLLIN };

	p->report = report;
	/* A SIGSYS death would otherwise write a core file each time. */
	if (setrlimit(RLIMIT_CORE, &no_core) == -1 ||
	    pipe(p->pipe) == -1 ||
	    (p->epfd = epoll_create1(0)) == -1 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET, 0, p->pair) == -1 ||
	    (p->sock = socket(AF_UNIX, SOCK_STREAM, 0)) == -1)
		_exit(CHILD_PIPE);
	ev.data.fd = p->pipe[0];
	if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->pipe[0], &ev) == -1)
		_exit(CHILD_EPOLL);
}

static void
enter(struct prep *p)
{
	char	 c = ENTERED;

	if (sandbox_relay_enter() != 0)
		_exit(CHILD_ENTER);
	if (write(p->report, &c, 1) != 1)
		_exit(CHILD_REPORT);
}

/* Send fd over the SEQPACKET pair and receive it back as a new descriptor. */
static int
pass_fd(struct prep *p, int fd)
{
	union {
		char		 buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr	 align;
	} u;
	char		 byte = 'x';
	struct iovec	 iov = { &byte, 1 };
	struct msghdr	 msg = { .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	struct cmsghdr	*cm;
	int		 got;

	memset(&u, 0, sizeof(u));
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	if (sendmsg(p->pair[0], &msg, 0) != 1)
		return -1;
	memset(&u, 0, sizeof(u));
	msg.msg_control = u.buf;
	msg.msg_controllen = sizeof(u.buf);
	if (recvmsg(p->pair[1], &msg, 0) != 1 ||
	    (cm = CMSG_FIRSTHDR(&msg)) == NULL || cm->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&got, CMSG_DATA(cm), sizeof(int));
	return got;
}

/* What a relay worker does all day; exits with the step that failed. */
static void
allowed_calls(struct prep *p)
{
	struct epoll_event	 ev;
	struct timespec		 ts;
	unsigned char		*mem;
	char			 buf[8];
	int			 fd;

	if (write(p->pipe[1], "ping", 4) != 4 ||
	    epoll_wait(p->epfd, &ev, 1, 0) != 1 || ev.data.fd != p->pipe[0] ||
	    read(p->pipe[0], buf, sizeof(buf)) != 4 ||
	    memcmp(buf, "ping", 4) != 0)
		_exit(CHILD_PIPE);
	if (epoll_wait(p->epfd, &ev, 1, 0) != 0)
		_exit(CHILD_EPOLL);
	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1 ||
	    clock_gettime(CLOCK_REALTIME, &ts) == -1)
		_exit(CHILD_CLOCK);
	if ((mem = malloc(MIB)) == NULL)
		_exit(CHILD_MALLOC);
	memset(mem, 0xa5, MIB);
	if (mem[MIB - 1] != 0xa5)
		_exit(CHILD_MALLOC);
	free(mem);
	if ((fd = pass_fd(p, p->pipe[1])) == -1 || write(fd, "fd", 2) != 2 ||
	    read(p->pipe[0], buf, sizeof(buf)) != 2)
		_exit(CHILD_FDPASS);
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == -1)
		_exit(CHILD_FCNTL);
	if (shutdown(p->pair[0], SHUT_WR) == -1)
		_exit(CHILD_SHUTDOWN);
	if (close(fd) == -1 || close(p->pair[0]) == -1)
		_exit(CHILD_CLOSE);
	_exit(CHILD_OK);
}

static void
try_socket(struct prep *p)
{
	(void)p;
	socket(AF_INET, SOCK_STREAM, 0);
}

static void
try_connect(struct prep *p)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };

	strcpy(sun.sun_path, "/nonexistent/tunnelgate.sock");
	connect(p->sock, (struct sockaddr *)&sun, sizeof(sun));
}

static void
try_bind(struct prep *p)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };

	/* Abstract name: a bind that would succeed without the filter. */
	memcpy(sun.sun_path, "\0tunnelgate-sandbox-test", 24);
	bind(p->sock, (struct sockaddr *)&sun,
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 24));
}

static void
try_openat(struct prep *p)
{
	(void)p;
	openat(AT_FDCWD, "/dev/null", O_RDONLY);
}

static void
try_open(struct prep *p)
{
	(void)p;
	syscall(SYS_open, "/dev/null", O_RDONLY);
}

static void
try_execve(struct prep *p)
{
	char	*argv[] = { "true", NULL }, *envp[] = { NULL };

	(void)p;
	execve("/bin/true", argv, envp);
}

static void
try_ptrace(struct prep *p)
{
	(void)p;
	ptrace(PTRACE_TRACEME, 0, NULL, NULL);
}

struct child {
	pid_t	 pid;
	int	 report;	/* read end */
};

static struct child
spawn(void (*body)(struct prep *))
{
	struct child	 c;
	struct prep	 p;
	int		 fds[2];

	assert_int_equal(pipe(fds), 0);
	c.pid = fork();
	assert_true(c.pid != -1);
	if (c.pid == 0) {
		close(fds[0]);
		prepare(&p, fds[1]);
		enter(&p);
		body(&p);
		_exit(CHILD_SURVIVED);
	}
	close(fds[1]);
	c.report = fds[0];
	return c;
}

/* The child's wait status; kills it and fails if it outlives the wait. */
static int
reap(struct child *c, bool *entered)
{
	struct timespec	 tick = { 0, 10 * 1000 * 1000 };
	char		 byte = 0;
	int		 status, waited;
	pid_t		 r;

	for (waited = 0; (r = waitpid(c->pid, &status, WNOHANG)) == 0 &&
	    waited < CHILD_WAIT_MS; waited += 10)
		nanosleep(&tick, NULL);
	if (r == 0) {
		kill(c->pid, SIGKILL);
		waitpid(c->pid, &status, 0);
		fail_msg("sandboxed child %d still running after %d ms",
		    (int)c->pid, CHILD_WAIT_MS);
	}
	assert_int_equal(r, c->pid);
	*entered = read(c->report, &byte, 1) == 1 && byte == ENTERED;
	close(c->report);
	return status;
}

static void
test_allowed_calls_work_inside_the_sandbox(void **state)
{
	struct child	 c;
	bool		 entered;
	int		 status;

	(void)state;
	c = spawn(allowed_calls);
	status = reap(&c, &entered);
	assert_true(entered);
	if (!WIFEXITED(status))
		fail_msg("child killed by signal %d (SIGSYS is %d): an allowed "
		    "call is missing from the filter", WTERMSIG(status), SIGSYS);
	assert_int_equal(WEXITSTATUS(status), CHILD_OK);
}

struct forbidden {
	const char	*name;
	void		(*call)(struct prep *);
};

static void
test_forbidden_call_kills_with_sigsys(void **state)
{
	const struct forbidden	*f = *state;
	struct child		 c;
	bool			 entered;
	int			 status;

	c = spawn(f->call);
	status = reap(&c, &entered);
	if (!entered)
		fail_msg("%s: the child never got into the sandbox (status "
		    "0x%x)", f->name, status);
	if (WIFEXITED(status))
		fail_msg("%s returned inside the sandbox (exit %d)", f->name,
		    WEXITSTATUS(status));
	assert_true(WIFSIGNALED(status));
	if (WTERMSIG(status) != SIGSYS)
		fail_msg("%s: killed by signal %d, not SIGSYS", f->name,
		    WTERMSIG(status));
}

static const struct forbidden forbidden[] = {
	{ "socket", try_socket },
	{ "connect", try_connect },
	{ "bind", try_bind },
	{ "openat", try_openat },
	{ "open", try_open },
	{ "execve", try_execve },
	{ "ptrace", try_ptrace },
};

#define NFORBIDDEN	(sizeof(forbidden) / sizeof(forbidden[0]))

int
main(void)
{
	static struct CMUnitTest	 tests[1 + NFORBIDDEN];
	static char			 names[NFORBIDDEN][64];

	tests[0] = (struct CMUnitTest)cmocka_unit_test(
	    test_allowed_calls_work_inside_the_sandbox);
	for (size_t i = 0; i < NFORBIDDEN; i++) {
		snprintf(names[i], sizeof(names[i]),
		    "test_forbidden_call_kills_with_sigsys/%s",
		    forbidden[i].name);
		tests[1 + i] = (struct CMUnitTest){ names[i],
		    test_forbidden_call_kills_with_sigsys, NULL, NULL,
		    (void *)&forbidden[i] };
	}
	return _cmocka_run_group_tests("sandbox", tests, 1 + NFORBIDDEN, NULL,
	    NULL);
}
