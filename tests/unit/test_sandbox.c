/*
 * The gate and relay workers' seccomp allow-lists, tried in forked
 * children: what each role does all day keeps working inside its sandbox,
 * and every call a compromised worker would want (reaching out, signalling,
 * signal ownership through fcntl, executable memory, making a shared
 * descriptor blocking or shutting a shared listener, and for a relay worker
 * passing a descriptor on) kills it with SIGSYS. Each child reports over a
 * pipe that it is inside the sandbox before it tries the call, so a death on
 * the way in does not pass for the filter at work.
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
#include <netinet/in.h>
#include <netinet/tcp.h>
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
#define PAGE		4096

/* Exit codes of the children: which step failed. */
enum child_exit {
	CHILD_OK = 0,
	CHILD_ENTER = 10,	/* sandbox_enter failed */
	CHILD_REPORT,		/* could not write to the report pipe */
	CHILD_PREPARE,
	CHILD_PIPE,
	CHILD_EPOLL,
	CHILD_CLOCK,
	CHILD_MALLOC,
	CHILD_FDRECV,
	CHILD_FCNTL,
	CHILD_SEND,
	CHILD_SHUTDOWN,
	CHILD_CLOSE,
	CHILD_ACCEPT,
	CHILD_SOCKOPT,
	CHILD_FDPASS,
	CHILD_SURVIVED = 99	/* a forbidden call returned */
};

/* Descriptors and memory a child prepares before it enters the sandbox. */
struct prep {
	int	 report;	/* write end: ENTERED once inside */
	int	 pipe[2];
	int	 epfd;
	int	 pair[2];	/* SEQPACKET; pair[1] has pipe[1] in flight */
	int	 sock;		/* an AF_UNIX socket for connect/bind */
	int	 tcp;		/* a TCP socket for socket options */
	int	 listener;	/* AF_UNIX, with one connection waiting */
	int	 client;
	pid_t	 pid;
	void	*page;		/* read-write, for mprotect */
};

/* Send fd over sock with one byte (SCM_RIGHTS). 1, or -1. */
static ssize_t
send_fd(int sock, int fd)
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

	memset(&u, 0, sizeof(u));
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0);
}

/* The descriptor of the next message on sock, or -1. */
static int
recv_fd(int sock)
{
	union {
		char		 buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr	 align;
	} u;
	char		 byte;
	struct iovec	 iov = { &byte, 1 };
	struct msghdr	 msg = { .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	struct cmsghdr	*cm;
	int		 fd;

	if (recvmsg(sock, &msg, 0) != 1 || (cm = CMSG_FIRSTHDR(&msg)) == NULL ||
	    cm->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

/* A listening AF_UNIX socket (abstract name) with one client connected. */
static void
prepare_listener(struct prep *p)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	socklen_t		 len;
	int			 n;

	n = snprintf(sun.sun_path + 1, sizeof(sun.sun_path) - 1,
	    "tunnelgate-sandbox-%d", (int)p->pid);
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
	if ((p->listener = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
	    bind(p->listener, (struct sockaddr *)&sun, len) == -1 ||
	    listen(p->listener, 1) == -1 ||
	    (p->client = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
	    connect(p->client, (struct sockaddr *)&sun, len) == -1)
		_exit(CHILD_PREPARE);
}

static void
prepare(struct prep *p, int report)
{
	struct rlimit	 no_core = { 0, 0 };
	struct epoll_event ev = { .events = EPOLLIN };

	p->report = report;
	p->pid = getpid();
	/* A SIGSYS death would otherwise write a core file each time. */
	if (setrlimit(RLIMIT_CORE, &no_core) == -1 ||
	    pipe(p->pipe) == -1 ||
	    (p->epfd = epoll_create1(0)) == -1 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET, 0, p->pair) == -1 ||
	    (p->sock = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
	    (p->tcp = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    send_fd(p->pair[0], p->pipe[1]) != 1 ||
	    (p->page = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)) == MAP_FAILED)
		_exit(CHILD_PREPARE);
	prepare_listener(p);
	ev.data.fd = p->pipe[0];
	if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->pipe[0], &ev) == -1)
		_exit(CHILD_EPOLL);
}

/* ---------------------------------------------------------------------------
 * What the workers do all day
 */

static void
allowed_io(struct prep *p)
{
	struct epoll_event	 ev;
	struct timespec		 ts;
	unsigned char		*mem;
	char			 buf[8];

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
}

/* Adopt a received descriptor as the workers do with handed-over sockets. */
static void
allowed_descriptors(struct prep *p)
{
	char	 buf[8];
	int	 fd, fl;

	if ((fd = recv_fd(p->pair[1])) == -1 || write(fd, "fd", 2) != 2 ||
	    read(p->pipe[0], buf, sizeof(buf)) != 2)
		_exit(CHILD_FDRECV);
	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1 ||
	    fcntl(fd, F_GETFD) != FD_CLOEXEC)
		_exit(CHILD_FCNTL);
	if (send(p->pair[0], "msg", 3, MSG_NOSIGNAL | MSG_DONTWAIT) != 3 ||
	    recv(p->pair[1], buf, sizeof(buf), 0) != 3)
		_exit(CHILD_SEND);
	if (shutdown(p->pair[0], SHUT_WR) == -1)
		_exit(CHILD_SHUTDOWN);
	if (close(fd) == -1 || close(p->pair[0]) == -1)
		_exit(CHILD_CLOSE);
}

static void
allowed_relay(struct prep *p)
{
	allowed_io(p);
	allowed_descriptors(p);
	_exit(CHILD_OK);
}

/* The gate's own: accept, TCP_QUICKACK, the handoff's fd passing. */
static void
allowed_gate(struct prep *p)
{
	int	 one = 1, fd;

	allowed_io(p);
	if ((fd = accept4(p->listener, NULL, NULL,
	    SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1)
		_exit(CHILD_ACCEPT);
	if (setsockopt(p->tcp, IPPROTO_TCP, TCP_QUICKACK, &one,
	    sizeof(one)) == -1)
		_exit(CHILD_SOCKOPT);
	/* The other way round: pair[1] holds the descriptor in flight. */
	if (send_fd(p->pair[1], fd) != 1 || close(fd) == -1 ||
	    (fd = recv_fd(p->pair[0])) == -1 || close(fd) == -1)
		_exit(CHILD_FDPASS);
	allowed_descriptors(p);
	_exit(CHILD_OK);
}

/* ---------------------------------------------------------------------------
 * What a compromised worker would try
 */

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
try_listen(struct prep *p)
{
	listen(p->listener, 16);
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

/* Signal 0: if the filter let it through, nothing is disturbed. */
static void
try_kill(struct prep *p)
{
	kill(p->pid, 0);
}

static void
try_tgkill(struct prep *p)
{
	syscall(SYS_tgkill, p->pid, p->pid, 0);
}

static void
try_tkill(struct prep *p)
{
	syscall(SYS_tkill, p->pid, 0);
}

static void
try_fcntl_setown(struct prep *p)
{
	fcntl(p->tcp, F_SETOWN, p->pid);
}

static void
try_fcntl_setown_ex(struct prep *p)
{
	struct f_owner_ex	 owner = { F_OWNER_PID, p->pid };

	fcntl(p->tcp, F_SETOWN_EX, &owner);
}

static void
try_fcntl_setsig(struct prep *p)
{
	fcntl(p->tcp, F_SETSIG, SIGUSR1);
}

static void
try_fcntl_async(struct prep *p)
{
	fcntl(p->tcp, F_SETFL, O_ASYNC | O_NONBLOCK);
}

/* Listeners are shared: a blocking one would stall the other workers. */
static void
try_fcntl_blocking(struct prep *p)
{
	fcntl(p->listener, F_SETFL, 0);
}

static void
try_shutdown_read(struct prep *p)
{
	shutdown(p->listener, SHUT_RD);
}

static void
try_shutdown_both(struct prep *p)
{
	shutdown(p->pair[0], SHUT_RDWR);
}

static void
try_fcntl_dupfd(struct prep *p)
{
	fcntl(p->tcp, F_DUPFD, 0);
}

static void
try_mmap_exec(struct prep *p)
{
	(void)p;
	mmap(NULL, PAGE, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS,
	    -1, 0);
}

static void
try_mprotect(struct prep *p)
{
	mprotect(p->page, PAGE, PROT_READ | PROT_EXEC);
}

static void
try_sendto_address(struct prep *p)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };

	memcpy(sun.sun_path, "\0tunnelgate-sandbox-test", 24);
	sendto(p->pair[0], "x", 1, 0, (struct sockaddr *)&sun,
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 24));
}

static void
try_sendmsg(struct prep *p)
{
	send_fd(p->pair[0], p->pipe[0]);
}

static void
try_accept(struct prep *p)
{
	accept4(p->listener, NULL, NULL, 0);
}

static void
try_setsockopt_nodelay(struct prep *p)
{
	int	 one = 1;

	setsockopt(p->tcp, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void
try_setsockopt_other(struct prep *p)
{
	int	 size = 4096;

	setsockopt(p->tcp, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
}

#if defined(__x86_64__)
/* getpid through the i386 entry, whose numbers the filter does not know. */
static void
try_i386_abi(struct prep *p)
{
	long	 r;

	(void)p;
	__asm__ volatile ("int $0x80" : "=a"(r) : "a"(20L) : "memory");
}
#endif

/* ---------------------------------------------------------------------------
 * Running a child in a sandbox
 */

struct child {
	pid_t	 pid;
	int	 report;	/* read end */
};

static struct child
spawn(enum worker_role role, void (*body)(struct prep *))
{
	struct child	 c;
	struct prep	 p;
	char		 entered = ENTERED;
	int		 fds[2];

	assert_int_equal(pipe(fds), 0);
	c.pid = fork();
	assert_true(c.pid != -1);
	if (c.pid == 0) {
		close(fds[0]);
		prepare(&p, fds[1]);
		if (sandbox_enter(role) != 0)
			_exit(CHILD_ENTER);
		if (write(p.report, &entered, 1) != 1)
			_exit(CHILD_REPORT);
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

static const char *
role_name(enum worker_role role)
{
	return role == WORKER_GATE ? "gate" : "relay";
}

static void
check_allowed(enum worker_role role, void (*body)(struct prep *))
{
	struct child	 c;
	bool		 entered;
	int		 status;

	c = spawn(role, body);
	status = reap(&c, &entered);
	assert_true(entered);
	if (!WIFEXITED(status))
		fail_msg("%s: child killed by signal %d (SIGSYS is %d): an "
		    "allowed call is missing from the filter", role_name(role),
		    WTERMSIG(status), SIGSYS);
	assert_int_equal(WEXITSTATUS(status), CHILD_OK);
}

static void
test_gate_calls_work_inside_the_gate_sandbox(void **state)
{
	(void)state;
	check_allowed(WORKER_GATE, allowed_gate);
}

static void
test_relay_calls_work_inside_the_relay_sandbox(void **state)
{
	(void)state;
	check_allowed(WORKER_RELAY, allowed_relay);
}

#define GATE	(1u << WORKER_GATE)
#define RELAY	(1u << WORKER_RELAY)
#define BOTH	(GATE | RELAY)

struct forbidden {
	const char	*name;
	unsigned	 roles;		/* whose filter must refuse it */
	void		(*call)(struct prep *);
};

static const struct forbidden forbidden[] = {
	{ "socket", BOTH, try_socket },
	{ "connect", BOTH, try_connect },
	{ "bind", BOTH, try_bind },
	{ "listen", BOTH, try_listen },
	{ "openat", BOTH, try_openat },
	{ "open", BOTH, try_open },
	{ "execve", BOTH, try_execve },
	{ "ptrace", BOTH, try_ptrace },
	{ "kill", BOTH, try_kill },
	{ "tgkill", BOTH, try_tgkill },
	{ "tkill", BOTH, try_tkill },
	{ "fcntl-F_SETOWN", BOTH, try_fcntl_setown },
	{ "fcntl-F_SETOWN_EX", BOTH, try_fcntl_setown_ex },
	{ "fcntl-F_SETSIG", BOTH, try_fcntl_setsig },
	{ "fcntl-F_SETFL-O_ASYNC", BOTH, try_fcntl_async },
	{ "fcntl-F_SETFL-blocking", BOTH, try_fcntl_blocking },
	{ "fcntl-F_DUPFD", BOTH, try_fcntl_dupfd },
	{ "shutdown-SHUT_RD", BOTH, try_shutdown_read },
	{ "shutdown-SHUT_RDWR", BOTH, try_shutdown_both },
	{ "mmap-PROT_EXEC", BOTH, try_mmap_exec },
	{ "mprotect", BOTH, try_mprotect },
	{ "sendto-with-address", BOTH, try_sendto_address },
	{ "setsockopt-SO_RCVBUF", BOTH, try_setsockopt_other },
#if defined(__x86_64__)
	{ "i386-int80", BOTH, try_i386_abi },
#endif
	{ "sendmsg", RELAY, try_sendmsg },
	{ "accept4", RELAY, try_accept },
	{ "setsockopt-TCP_NODELAY", BOTH, try_setsockopt_nodelay },
};

#define NFORBIDDEN	(sizeof(forbidden) / sizeof(forbidden[0]))

struct forbidden_case {
	enum worker_role	 role;
	const struct forbidden	*f;
};

static void
test_forbidden_call_kills_with_sigsys(void **state)
{
	const struct forbidden_case	*fc = *state;
	const char			*role = role_name(fc->role);
	struct child			 c;
	bool				 entered;
	int				 status;

	c = spawn(fc->role, fc->f->call);
	status = reap(&c, &entered);
	if (!entered)
		fail_msg("%s %s: the child never got into the sandbox (status "
		    "0x%x)", role, fc->f->name, status);
	if (WIFEXITED(status))
		fail_msg("%s %s returned inside the sandbox (exit %d)", role,
		    fc->f->name, WEXITSTATUS(status));
	assert_true(WIFSIGNALED(status));
	if (WTERMSIG(status) != SIGSYS)
		fail_msg("%s %s: killed by signal %d, not SIGSYS", role,
		    fc->f->name, WTERMSIG(status));
}

#define MAX_CASES	(2 * NFORBIDDEN)

int
main(void)
{
	static struct CMUnitTest	 tests[2 + MAX_CASES];
	static struct forbidden_case	 cases[MAX_CASES];
	static char			 names[MAX_CASES][80];
	static const enum worker_role	 roles[] = { WORKER_GATE, WORKER_RELAY };
	size_t				 n = 0;

	tests[0] = (struct CMUnitTest)cmocka_unit_test(
	    test_gate_calls_work_inside_the_gate_sandbox);
	tests[1] = (struct CMUnitTest)cmocka_unit_test(
	    test_relay_calls_work_inside_the_relay_sandbox);
	for (size_t r = 0; r < 2; r++) {
		for (size_t i = 0; i < NFORBIDDEN; i++) {
			if (!(forbidden[i].roles & (1u << roles[r])))
				continue;
			cases[n] = (struct forbidden_case){ roles[r], &forbidden[i] };
			snprintf(names[n], sizeof(names[n]),
			    "test_forbidden_call_kills_with_sigsys/%s/%s",
			    role_name(roles[r]), forbidden[i].name);
			tests[2 + n] = (struct CMUnitTest){ names[n],
			    test_forbidden_call_kills_with_sigsys, NULL, NULL,
			    &cases[n] };
			n++;
		}
	}
	return _cmocka_run_group_tests("sandbox", tests, 2 + n, NULL, NULL);
}
