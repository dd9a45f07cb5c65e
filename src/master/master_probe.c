/*
 * The authentication backend's pre-flight (auth_probe.c) for the master:
 * at start, a warning when nothing works; on SIGHUP, a configuration under
 * which nothing works is refused and the running one stays. The probe
 * talks to the directory, so it runs in a child, as the authenticators
 * do, never in the master itself; the master waits for it (bounded by
 * timeouts.auth for each server).
 */
#include <sys/wait.h>

#include <errno.h>
#include <unistd.h>

#include "auth_probe.h"
#include "config.h"
#include "log.h"
#include "master_priv.h"

/*
 * The child's exit status when every check failed. Any other end (a
 * signal, valgrind's error exit for a child that leaks as it exits) says
 * nothing about the backend, so it refuses nothing.
 */
#define PROBE_NOTHING_WORKS	3

static void
master_probe_report(void *arg, bool ok, const char *msg)
{
	(void)arg;
	if (ok)
		log_info("auth backend: %s", msg);
	else
		log_warnx("auth backend: %s", msg);
}

int
master_probe(const struct config *cfg)
{
	pid_t	 pid;
	int	 status;

	if ((pid = fork()) == -1) {
		log_warn("auth backend: cannot fork its check");
		return 0;
	}
	if (pid == 0) {
		log_set_procname("tg-probe");
		_exit(auth_probe(cfg, master_probe_report, NULL) > 0 ? 0 :
		    PROBE_NOTHING_WORKS);
	}
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR) {
			log_warn("auth backend: waitpid");
			return 0;
		}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != PROBE_NOTHING_WORKS) {
		log_warnx("auth backend: its check ended abnormally (wait status "
		    "%d); nothing is refused for it", status);
		return 0;
	}
	log_warnx("auth backend: nothing auth.%s needs works (see above); "
	    "every login would fail with 503", cfg->auth_backend ==
	    AUTH_BACKEND_PAM ? "pam" : "ldap");
	return -1;
}
