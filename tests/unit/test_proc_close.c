/*
 * A child of the master never runs holding the master's descriptors: when
 * close_range() fails (ENOSYS before Linux 5.9, EPERM under a container's
 * seccomp profile) it exits, naming the call and the error. This binary is
 * linked with -Wl,--wrap=close_range, so proc.c's calls reach
 * __wrap_close_range() below, which fails on demand.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "proc.h"

int	__real_close_range(unsigned, unsigned, int);
int	__wrap_close_range(unsigned, unsigned, int);

static int	 close_range_errno;

int
__wrap_close_range(unsigned first, unsigned last, int flags)
{
	if (close_range_errno != 0) {
		errno = close_range_errno;
		return -1;
	}
	return __real_close_range(first, last, flags);
}

__attribute__((noreturn)) static void
child_runs(void *arg)
{
	(void)arg;
	_exit(0);
}

/*
 * fd moved out of the way: with 3 free, the exec child's copy of its
 * executable lands right above the (empty) range it keeps, and the range
 * between them is empty.
 */
static int
move_high(int fd)
{
	int	 high;

	if (fd == -1)
		return -1;
	high = fcntl(fd, F_DUPFD_CLOEXEC, 64);
	close(fd);
	return high;
}

struct outcome {
	int	 status;
	char	 err[2048];
};

static pid_t
spawn(bool exec)
{
	char *const	 argv[] = { "true", NULL };
	int		 keep[] = { STDERR_FILENO }, exe;
	pid_t		 pid;

	if (!exec)
		return proc_spawn("tg-test", keep, 1, NULL, child_runs, NULL);
	if ((exe = move_high(open("/bin/true", O_RDONLY | O_CLOEXEC))) == -1)
		return -1;
	pid = proc_spawn_exec(exe, NULL, 0, argv);
	close(exe);
	return pid;
}

/* Spawn with the child's stderr on a pipe; its exit status and output. */
static void
run_child(bool exec, int fail_with, struct outcome *o)
{
	int	 p[2], saved;
	size_t	 len = 0;
	ssize_t	 n;
	pid_t	 pid;

	assert_int_equal(pipe(p), 0);
	assert_true((saved = move_high(dup(STDERR_FILENO))) != -1);
	assert_int_equal(dup2(p[1], STDERR_FILENO), STDERR_FILENO);
	close(p[1]);
	assert_true((p[0] = move_high(p[0])) != -1);
	close_range_errno = fail_with;
	pid = spawn(exec);
	close_range_errno = 0;
	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &o->status, 0), pid);
	while (len < sizeof(o->err) - 1 &&
	    (n = read(p[0], o->err + len, sizeof(o->err) - 1 - len)) > 0)
		len += (size_t)n;
	o->err[len] = '\0';
	close(p[0]);
}

/* Which spawn, and the errno close_range() fails with (0: it works). */
struct spawn_case {
	bool	 exec;
	int	 fail_with;
};

static struct spawn_case forked = { false, 0 }, forked_enosys = { false, ENOSYS },
    execd = { true, 0 }, execd_eperm = { true, EPERM };

static void
test_child_runs_when_close_range_works(void **state)
{
	const struct spawn_case	*c = *state;
	struct outcome		 o;

	run_child(c->exec, c->fail_with, &o);
	assert_true(WIFEXITED(o.status));
	assert_int_equal(WEXITSTATUS(o.status), 0);
}

static void
test_child_exits_when_close_range_fails(void **state)
{
	const struct spawn_case	*c = *state;
	struct outcome		 o;

	run_child(c->exec, c->fail_with, &o);
	assert_true(WIFEXITED(o.status));
	assert_int_equal(WEXITSTATUS(o.status), 1);
	assert_non_null(strstr(o.err, "close_range"));
	assert_non_null(strstr(o.err, strerror(c->fail_with)));
}

int
main(void)
{
	const struct CMUnitTest	 tests[] = {
		cmocka_unit_test_prestate(test_child_runs_when_close_range_works,
		    &forked),
		cmocka_unit_test_prestate(test_child_exits_when_close_range_fails,
		    &forked_enosys),
		cmocka_unit_test_prestate(test_child_runs_when_close_range_works,
		    &execd),
		cmocka_unit_test_prestate(test_child_exits_when_close_range_fails,
		    &execd_eperm),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
