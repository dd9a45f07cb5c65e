#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "nodump.h"
#include "proc.h"
#include "tg_limits.h"

int64_t
proc_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
proc_wall_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
proc_backoff_ms(unsigned first_ms, unsigned failures)
{
	const int64_t	 most = TG_MAX_RESTART_DELAY_SECS * 1000;
	int64_t		 ms = first_ms;

	while (failures-- > 0 && ms < most)
		ms *= 2;
	return ms > most ? most : ms;
}

static int
cmp_int(const void *a, const void *b)
{
	int	 x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

/*
 * A child that went on after a failed close_range() (ENOSYS on a kernel
 * before 5.9, EPERM under a container's seccomp profile) would run holding
 * every descriptor of the master: the audit log, the control socket, the
 * other slots' sockets. An empty range (a kept descriptor right above the
 * last) is no call at all: the kernel refuses first > last.
 */
static void
proc_close_range(unsigned first, unsigned last)
{
	if (first <= last && close_range(first, last, 0) == -1)
		fatal("process: close_range(%u, %u)", first, last);
}

/* Close every descriptor above 2 that is not in keep. */
static void
proc_close_others(const int *keep, size_t nkeep)
{
	int	 sorted[TG_MAX_KEEP_FDS];
	unsigned lo = 3;

	if (nkeep > TG_MAX_KEEP_FDS)
		fatalx("process: too many descriptors to keep (%zu)", nkeep);
	memcpy(sorted, keep, nkeep * sizeof(int));
	qsort(sorted, nkeep, sizeof(int), cmp_int);
	for (size_t i = 0; i < nkeep; i++) {
		if (sorted[i] < (int)lo)
			continue;
		if ((unsigned)sorted[i] > lo)
			proc_close_range(lo, (unsigned)sorted[i] - 1);
		lo = (unsigned)sorted[i] + 1;
	}
	proc_close_range(lo, ~0U);
}

static void
proc_reset_signals(void)
{
	sigset_t	 all;
	int		 sigs[] = { SIGHUP, SIGTERM, SIGINT, SIGUSR1, SIGUSR2,
			    SIGCHLD, SIGPIPE };

	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], SIG_DFL);
	/*
	 * Reload and log reopening are the master's business; a signal sent to
	 * the whole service (systemctl kill, a process group) must not end the
	 * workers and their tunnels.
	 */
	signal(SIGHUP, SIG_IGN);
	signal(SIGUSR1, SIG_IGN);
	signal(SIGUSR2, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
}

void
proc_demote_now(const struct proc_demote *d)
{
	struct passwd	*pw;

	if (d == NULL || d->user == NULL)
		return;
	if ((pw = getpwnam(d->user)) == NULL)
		fatalx("demote: user %s not found", d->user);
	/* Checked at start (privsep_check()); the system may have changed. */
	if (pw->pw_uid == 0 || pw->pw_gid == 0)
		fatalx("demote: user %s has uid or gid 0; refusing to run as "
		    "root", d->user);
	/*
	 * An empty namespace has no interface up and no route: the child's
	 * own connect() reaches nothing, while sockets it already holds or
	 * receives keep working in the namespace they were made in. Only
	 * root may create one; it comes after the user lookup, which NSS may
	 * answer over the network.
	 */
	if (d->no_network) {
		if (unshare(CLONE_NEWNET) == -1)
			fatal("demote: unshare(CLONE_NEWNET) (the kernel needs "
			    "network namespaces, CONFIG_NET_NS, and a container "
			    "must grant CAP_SYS_ADMIN)");
		/*
		 * A socket stays in the namespace it was made in: with the
		 * syslog socket made before, sendmsg() to an abstract address
		 * would reach the master's namespace (and pass descriptors
		 * there). /dev/log is a path, found from any namespace, but
		 * not from inside the chroot.
		 */
		log_reopen();
	}
	if (chroot(d->chroot_dir) == -1 || chdir("/") == -1)
		fatal("demote: chroot %s (privsep.chroot must be an existing "
		    "directory)", d->chroot_dir);
	if (setgroups(1, &pw->pw_gid) == -1 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1)
		fatal("demote: cannot drop privileges to %s", d->user);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("demote: PR_SET_NO_NEW_PRIVS");
	if (setuid(0) != -1)
		fatalx("demote: could regain root after dropping privileges");
}

pid_t
proc_spawn(const char *name, const int *keep, size_t nkeep,
    const struct proc_demote *demote, void (*run)(void *), void *arg)
{
	pid_t	 parent = getpid(), pid;

	switch ((pid = fork())) {
	case -1:
		log_warn("process: fork %s", name);
		return -1;
	case 0:
		break;
	default:
		return pid;
	}
	prctl(PR_SET_NAME, name, 0, 0, 0);
	log_set_procname(name);
	proc_reset_signals();
	if (prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) == -1 ||
	    getppid() != parent)
		_exit(1);
	proc_close_others(keep, nkeep);
	log_reopen();
	proc_demote_now(demote);
	/* Again: a demotion makes the process dumpable per fs.suid_dumpable. */
	nodump_enforce();
	run(arg);
	_exit(1);
}

pid_t
proc_spawn_exec(int exe_fd, const int *fds, size_t nfds, char *const argv[])
{
	extern char	**environ;
	pid_t		 parent = getpid(), pid;
	int		 exe, high[TG_RELAY_EXEC_FDS];

	switch ((pid = fork())) {
	case -1:
		log_warn("process: fork");
		return -1;
	case 0:
		break;
	default:
		return pid;
	}
	proc_reset_signals();
	if (prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) == -1 ||
	    getppid() != parent)
		_exit(1);
	/*
	 * The dup2() calls below may put another socket at the syslog
	 * socket's number: a message logged after them must open its own.
	 */
	log_forget();
	/* Copy everything above the target range first, then into place. */
	if (nfds > TG_RELAY_EXEC_FDS ||
	    (exe = fcntl(exe_fd, F_DUPFD_CLOEXEC, (int)(3 + nfds))) == -1)
		_exit(1);
	for (size_t i = 0; i < nfds; i++)
		if ((high[i] = fcntl(fds[i], F_DUPFD, (int)(3 + nfds))) == -1)
			_exit(1);
	for (size_t i = 0; i < nfds; i++)
		if (dup2(high[i], (int)(3 + i)) == -1)
			_exit(1);
	proc_close_range((unsigned)(3 + nfds), (unsigned)exe - 1);
	proc_close_range((unsigned)exe + 1, ~0U);
	fexecve(exe, argv, environ);
	_exit(127);
}
