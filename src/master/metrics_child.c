/*
 * The master's side of tg-metrics: it binds metrics.listen (a loopback
 * address:port or a Unix socket path) while still root, then execs the
 * child with the listener and a control socket, so that the child starts
 * with nothing of the master's memory, and restarts it like any child.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "master_priv.h"
#include "metrics.h"
#include "metrics_serve.h"
#include "netaddr.h"
#include "proc.h"

static struct {
	int		 listen_fd;
	struct slot	 s;
	char		 user[TG_USER_NAME_SIZE];
	char		 chroot_dir[PATH_MAX];
	char		 path[TG_CONTROL_PATH_SIZE];	/* Unix socket, or "" */
} mc = { .listen_fd = -1 };

static int
metrics_listen_unix(const char *path)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	int			 fd;

	(void)snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		return -1;
	/* A socket left by a daemon that died. */
	if (unlink(path) == -1 && errno != ENOENT)
		log_warn("metrics.listen: unlink %s", path);
	/* Any local user may scrape, as with a loopback port. */
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    chmod(path, 0666) == -1) {
		close(fd);
		return -1;
	}
	(void)snprintf(mc.path, sizeof(mc.path), "%s", path);
	return fd;
}

static int
metrics_listen_inet(const char *text)
{
	struct sockaddr_storage	 ss;
	int			 fd;

	if (netaddr_parse(text, &ss) == -1) {
		errno = EINVAL;
		return -1;
	}
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		return -1;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &(int){ 1 },
	    sizeof(int));
	if (bind(fd, (struct sockaddr *)&ss, ss.ss_family == AF_INET ?
	    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

static void
metrics_spawn(void)
{
	char	*argv[] = { "tunnelgated", METRICS_EXEC_FLAG, mc.user,
		    mc.chroot_dir, NULL };
	int	 ctl[2], fds[METRICS_EXEC_FDS];
	pid_t	 pid;

	mc.s.restart_at = 0;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) == -1) {
		log_warn("metrics: socketpair");
		master_schedule_restart(&mc.s);
		return;
	}
	fds[0] = ctl[1];
	fds[1] = mc.listen_fd;
	pid = proc_spawn_exec(m.exe_fd, fds, METRICS_EXEC_FDS, argv);
	close(ctl[1]);
	if (pid == -1) {
		close(ctl[0]);
		master_schedule_restart(&mc.s);
		return;
	}
	fcntl(ctl[0], F_SETFL, O_NONBLOCK);
	master_add_child(pid, CHILD_METRICS, 0, NULL, ctl[0]);
	mc.s.pid = pid;
	mc.s.started_ms = proc_now_ms();
}

int
metrics_start(const struct config *cfg)
{
	const char	*l = cfg->metrics_listen;

	if (l[0] == '\0')
		return 0;
	mc.listen_fd = l[0] == '/' ? metrics_listen_unix(l) :
	    metrics_listen_inet(l);
	if (mc.listen_fd == -1 || listen(mc.listen_fd, 16) == -1) {
		log_warn("metrics.listen: cannot listen on %s (a port taken, "
		    "or a directory that does not exist?)", l);
		return -1;
	}
	(void)snprintf(mc.user, sizeof(mc.user), "%s", cfg->gate_user.name);
	(void)snprintf(mc.chroot_dir, sizeof(mc.chroot_dir), "%s",
	    cfg->chroot_dir);
	log_info("metrics on %s", l);
	metrics_spawn();
	return 0;
}

void
metrics_child_died(struct child *c)
{
	(void)c;
	if (m.stopping) {
		mc.s.pid = 0;
		return;
	}
	log_info("restarting the metrics child in %lld ms",
	    (long long)master_schedule_restart(&mc.s));
}

void
metrics_timers(int64_t now, int64_t *next)
{
	if (mc.s.restart_at == 0 || m.stopping)
		return;
	if (mc.s.restart_at <= now)
		metrics_spawn();
	else if (*next == -1 || mc.s.restart_at < *next)
		*next = mc.s.restart_at;
}

void
metrics_stop(void)
{
	if (mc.s.pid != 0)
		kill(mc.s.pid, SIGTERM);
	if (mc.listen_fd != -1)
		close(mc.listen_fd);
	mc.listen_fd = -1;
	if (mc.path[0] != '\0')
		(void)unlink(mc.path);
	mc.path[0] = '\0';
}
