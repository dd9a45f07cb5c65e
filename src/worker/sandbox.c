#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <seccomp.h>

#if defined(__has_include) && __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND	0
#endif

#include "log.h"
#include "sandbox.h"

/* One allowed system call: always, or only when every comparison holds. */
struct sandbox_rule {
	int			 nr;
	unsigned		 ncmp;
	struct scmp_arg_cmp	 cmp[2];
};

#define ALLOW(call)		{ SCMP_SYS(call), 0, { { 0 } } }
#define ARG_EQ(i, v)		{ (i), SCMP_CMP_EQ, (v), 0 }
#define ARG_CLEAR(i, bits)	{ (i), SCMP_CMP_MASKED_EQ, (bits), 0 }
#define ARG_BITS(i, mask, v)	{ (i), SCMP_CMP_MASKED_EQ, (mask), (v) }
#define NITEMS(a)		(sizeof(a) / sizeof((a)[0]))

/*
 * Every role; a key process needs nothing more (it reads requests, sends
 * signatures and control messages, and waits in poll). sendto only without an address: that is send() on a
 * connected socket, which is all a worker's sockets are. fcntl only reads
 * the flags, sets O_NONBLOCK and close-on-exec: F_SETOWN, F_SETSIG and
 * O_ASYNC would make the kernel signal a process of the worker's choosing.
 * Listeners and handed-over sockets share their open file description with
 * other workers, so F_SETFL must keep O_NONBLOCK (a blocking listener would
 * stall the other gate workers in accept) and shutdown may only end the
 * sending direction (SHUT_RD on a listener closes it for every process).
 * mmap never maps executable memory, and mprotect is absent, so no code can
 * be added at run time. getrandom because libcrypto reseeds after fork;
 * brk/mmap/munmap/mremap/madvise because malloc grows and trims; futex
 * because glibc's allocator may take a lock; poll for the wait on a full
 * control socket; sigaltstack because the sanitizers' exit path asks for it.
 */
static const struct sandbox_rule sandbox_common[] = {
	ALLOW(read), ALLOW(write), ALLOW(readv), ALLOW(writev),
	ALLOW(recvfrom), ALLOW(recvmsg),
	{ SCMP_SYS(sendto), 1, { ARG_EQ(4, 0) } },
	ALLOW(close),
	{ SCMP_SYS(shutdown), 1, { ARG_EQ(1, SHUT_WR) } },
	{ SCMP_SYS(fcntl), 1, { ARG_EQ(1, F_GETFL) } },
	{ SCMP_SYS(fcntl), 2, { ARG_EQ(1, F_SETFL),
	    ARG_BITS(2, O_ASYNC | O_NONBLOCK, O_NONBLOCK) } },
	{ SCMP_SYS(fcntl), 1, { ARG_EQ(1, F_GETFD) } },
	{ SCMP_SYS(fcntl), 1, { ARG_EQ(1, F_SETFD) } },
	ALLOW(epoll_wait), ALLOW(epoll_pwait), ALLOW(epoll_ctl),
	ALLOW(poll), ALLOW(ppoll),
	ALLOW(clock_gettime), ALLOW(gettimeofday), ALLOW(getpid),
	ALLOW(getrandom), ALLOW(brk),
	{ SCMP_SYS(mmap), 1, { ARG_CLEAR(2, PROT_EXEC) } },
	ALLOW(munmap), ALLOW(mremap), ALLOW(madvise), ALLOW(futex),
	ALLOW(rt_sigreturn), ALLOW(rt_sigprocmask), ALLOW(restart_syscall),
	ALLOW(exit), ALLOW(exit_group), ALLOW(sigaltstack),
};

/*
 * The gate worker's own: accept4 on the listeners, sendmsg because the
 * handoff passes a tunnel's two sockets to a relay worker, and TCP_QUICKACK
 * after a handshake (TCP_NODELAY comes set: the master's listeners and the
 * authenticators' backend sockets have it). A relay worker sends only
 * plain messages, with send(), so it has no sendmsg and no way to pass a
 * descriptor on.
 */
static const struct sandbox_rule sandbox_gate[] = {
	ALLOW(accept4),
	ALLOW(sendmsg),
	{ SCMP_SYS(setsockopt), 2, { ARG_EQ(1, IPPROTO_TCP),
	    ARG_EQ(2, TCP_QUICKACK) } },
};

/* The metrics child accepts scrapers on its one listener; nothing else. */
static const struct sandbox_rule sandbox_metrics[] = {
	ALLOW(accept4),
};

static int
sandbox_add(scmp_filter_ctx ctx, const struct sandbox_rule *rules, size_t n)
{
	int	 e;

	for (size_t i = 0; i < n; i++) {
		if ((e = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, rules[i].nr,
		    rules[i].ncmp, rules[i].cmp)) != 0) {
			log_warnx("sandbox: seccomp_rule_add for system call "
			    "%d: %s", rules[i].nr, strerror(-e));
			return -1;
		}
	}
	return 0;
}

int
sandbox_enter(enum worker_role role)
{
	scmp_filter_ctx	 ctx;
	int		 r = -1, e;

	/*
	 * valgrind does not implement seccomp(2), and a filter would refuse
	 * its own calls anyway. A native process never sees this as true.
	 */
	if (RUNNING_ON_VALGRIND) {
		log_warnx("sandbox: running under valgrind, which cannot load "
		    "seccomp filters: this worker has none");
		return 0;
	}
	/*
	 * glibc reads the time zone on the first gmtime_r(), which OpenSSL
	 * calls to check a client certificate's dates: do it now, while
	 * open() is allowed (in the chroot there is none: UTC).
	 */
	tzset();
	if ((ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)) == NULL) {
		log_warnx("sandbox: seccomp_init failed");
		return -1;
	}
	/* The i386 and x32 call numbers differ: any such call kills too. */
	if ((e = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
	    SCMP_ACT_KILL_PROCESS)) != 0) {
		log_warnx("sandbox: seccomp_attr_set: %s", strerror(-e));
		goto out;
	}
	if (sandbox_add(ctx, sandbox_common, NITEMS(sandbox_common)) != 0 ||
	    (role == WORKER_GATE &&
	    sandbox_add(ctx, sandbox_gate, NITEMS(sandbox_gate)) != 0) ||
	    (role == WORKER_METRICS &&
	    sandbox_add(ctx, sandbox_metrics, NITEMS(sandbox_metrics)) != 0))
		goto out;
	if ((e = seccomp_load(ctx)) != 0) {
		log_warnx("sandbox: seccomp_load: %s", strerror(-e));
		goto out;
	}
	r = 0;
 out:
	seccomp_release(ctx);
	return r;
}
