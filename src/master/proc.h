/*
 * One process module for every child the master forks: name it, close what
 * it must not hold, drop privileges, then run it. Restart back-off lives here
 * too so every kind of child is supervised the same way.
 */
#ifndef TG_PROC_H
#define TG_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct proc_demote {
	const char	*user;		/* NULL: the child stays root */
	const char	*chroot_dir;
	bool		 no_network;	/* own empty network namespace */
};

/*
 * Fork a child. In the child: comm set to name, signals reset, every fd but
 * 0-2 and keep[] closed, parent-death signal set, privileges dropped as
 * demote says (network namespace and a syslog connection made in it, chroot,
 * groups, uid/gid, no_new_privs; any failure, closing included, is fatal),
 * then run(arg) which must not return. Returns the pid, or -1 in the master.
 */
pid_t	 proc_spawn(const char *name, const int *keep, size_t nkeep,
	    const struct proc_demote *demote, void (*run)(void *), void *arg);

/*
 * Fork a child that execs the executable open at exe_fd with argv, so it
 * starts with a fresh address space (no private key, no config in memory).
 * fds[i] becomes descriptor 3 + i in it; nothing else stays open but 0-2
 * (a child that cannot close the rest exits). Returns the pid, or -1 in the
 * master.
 */
pid_t	 proc_spawn_exec(int exe_fd, const int *fds, size_t nfds,
	    char *const argv[]);
/* Drop privileges as proc_spawn does, for a child that exec'd first. */
void	 proc_demote_now(const struct proc_demote *);

/*
 * Delay before restarting a child that died after failures quick deaths:
 * first_ms doubled failures times, at most TG_MAX_RESTART_DELAY_SECS.
 */
int64_t	 proc_backoff_ms(unsigned first_ms, unsigned failures);
/* A child that lived this long before dying is not counted as failing. */
#define PROC_STABLE_MS	30000

/* Milliseconds on CLOCK_MONOTONIC. */
int64_t	 proc_now_ms(void);
int64_t	 proc_wall_ms(void);

#endif
