#include <errno.h>
#include <string.h>
#include <seccomp.h>

#include "log.h"
#include "sandbox.h"

/*
 * recvmsg carries handed-over descriptors in; sendmsg carries audit records
 * out; sendto and recvfrom are send() and recv() on the tunnel's sockets.
 * fcntl makes received sockets non-blocking. getrandom stays because
 * libcrypto may reseed; mmap/munmap/brk/madvise because malloc grows and
 * trims; futex because glibc's allocator may take a lock; sigaltstack
 * because the sanitizers' exit path asks for it.
 */
static const int sandbox_relay_syscalls[] = {
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev),
	SCMP_SYS(recvmsg), SCMP_SYS(sendmsg), SCMP_SYS(sendto),
	SCMP_SYS(recvfrom), SCMP_SYS(close), SCMP_SYS(shutdown),
	SCMP_SYS(fcntl), SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait),
	SCMP_SYS(epoll_ctl), SCMP_SYS(poll), SCMP_SYS(ppoll),
	SCMP_SYS(clock_gettime), SCMP_SYS(gettimeofday), SCMP_SYS(getpid),
	SCMP_SYS(getrandom), SCMP_SYS(brk), SCMP_SYS(mmap), SCMP_SYS(munmap),
	SCMP_SYS(mremap), SCMP_SYS(madvise), SCMP_SYS(futex),
	SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigprocmask),
	SCMP_SYS(restart_syscall), SCMP_SYS(exit), SCMP_SYS(exit_group),
	SCMP_SYS(sigaltstack),
};

int
sandbox_relay_enter(void)
{
	scmp_filter_ctx	 ctx;
	int		 r = -1, e;

	if ((ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)) == NULL) {
		log_warnx("%s: seccomp_init failed", __func__);
		return -1;
	}
	for (size_t i = 0; i < sizeof(sandbox_relay_syscalls) /
	    sizeof(sandbox_relay_syscalls[0]); i++) {
		if ((e = seccomp_rule_add(ctx, SCMP_ACT_ALLOW,
		    sandbox_relay_syscalls[i], 0)) != 0) {
			log_warnx("%s: seccomp_rule_add %d: %s", __func__,
			    sandbox_relay_syscalls[i], strerror(-e));
			goto out;
		}
	}
	if ((e = seccomp_load(ctx)) != 0) {
		log_warnx("%s: seccomp_load: %s", __func__, strerror(-e));
		goto out;
	}
	r = 0;
 out:
	seccomp_release(ctx);
	return r;
}
