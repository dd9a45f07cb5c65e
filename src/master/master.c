#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "audit.h"
#include "fs_check.h"
#include "auth_proto.h"
#include "authenticator.h"
#include "ctl.h"
#include "worker.h"
#include "ipc.h"
#include "listeners.h"
#include "log.h"
#include "master.h"
#include "master_priv.h"
#include "privsep.h"
#include "proc.h"
#include "tls.h"

#define MASTER_EVENTS		64
#define MASTER_KILL_GRACE_MS	5000

struct master m;

static void master_spawn(struct generation *, enum child_kind, unsigned slot);
static void master_raise_nofile(const struct config *);

static void
gen_close_ends(struct generation *gen)
{
	for (unsigned i = 0; gen->gate_ends && i < gen->cfg->gate_workers; i++) {
		if (gen->gate_ends[i] != -1)
			close(gen->gate_ends[i]);
		if (gen->auth_ends[i] != -1)
			close(gen->auth_ends[i]);
		gen->gate_ends[i] = gen->auth_ends[i] = -1;
	}
}

static void
gen_free(struct generation *gen)
{
	gen_close_ends(gen);
	free(gen->gate_ends);
	free(gen->auth_ends);
	free(gen->serials);
	free(gen->gate_slots);
	free(gen->auth_slots);
	SSL_CTX_free(gen->ctx);
	policy_free(gen->policy);
	free(gen->cfg);
	free(gen);
}

static struct generation *
gen_new(struct config *cfg, struct policy *policy, SSL_CTX *ctx)
{
	struct generation	*gen;
	unsigned		 g = cfg->gate_workers;
	int			 sv[2];

	if ((gen = calloc(1, sizeof(*gen))) == NULL ||
	    (gen->gate_ends = calloc(g, sizeof(int))) == NULL ||
	    (gen->auth_ends = calloc(g, sizeof(int))) == NULL ||
	    (gen->serials = calloc(g, sizeof(uint32_t))) == NULL ||
	    (gen->gate_slots = calloc(g, sizeof(struct slot))) == NULL ||
	    (gen->auth_slots = calloc(cfg->auth_workers,
	    sizeof(struct slot))) == NULL)
		fatal("%s: calloc", __func__);
	gen->id = ++m.next_gen_id;
	gen->cfg = cfg;
	gen->policy = policy;
	gen->ctx = ctx;
	for (unsigned i = 0; i < g; i++)
		gen->gate_ends[i] = gen->auth_ends[i] = -1;
	for (unsigned i = 0; i < g; i++) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0, sv) == -1)
			fatal("%s: socketpair", __func__);
		gen->gate_ends[i] = sv[0];
		gen->auth_ends[i] = sv[1];
	}
	return gen;
}

struct child *
master_add_child(pid_t pid, enum child_kind kind, unsigned slot,
    struct generation *gen, int ctl_fd)
{
	struct child	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		fatal("%s: calloc", __func__);
	*c = (struct child){ .pid = pid, .kind = kind, .slot = slot, .gen = gen,
	    .ctl_fd = ctl_fd };
	TAILQ_INSERT_TAIL(&m.children, c, entry);
	master_watch(c->ctl_fd, c);
	if (gen != NULL)
		gen->children++;
	return c;
}

int64_t
master_schedule_restart(struct slot *s)
{
	int64_t	 now = proc_now_ms();

	s->pid = 0;
	s->failures = now - s->started_ms >= PROC_STABLE_MS ? 1 :
	    s->failures + 1;
	s->restart_at = now + proc_backoff_ms(s->failures - 1);
	return s->restart_at - now;
}

void
master_watch(int fd, void *ptr)
{
	struct epoll_event	 e = { .events = EPOLLIN, .data.ptr = ptr };

	if (epoll_ctl(m.epfd, EPOLL_CTL_ADD, fd, &e) == -1)
		fatal("%s: epoll_ctl", __func__);
}

static void
master_send_status(struct generation *gen, pid_t dead)
{
	struct ctl_auth_status	 st;
	struct child		*c;

	if (m.stopping || gen->retired)
		return;
	memset(&st, 0, sizeof(st));
	ctl_hdr_init(&st.hdr, CTL_AUTH_STATUS);
	st.alive = gen->auth_alive;
	st.dead_pid = (uint32_t)dead;
	TAILQ_FOREACH(c, &m.children, entry)
		if (c->gen == gen && c->kind == CHILD_GATE &&
		    ipc_send(c->ctl_fd, &st, sizeof(st), NULL, 0) == -1)
			log_warn("%s: to gate worker %d", __func__, (int)c->pid);
}

/*
 * With no authenticator alive the gate workers have answered 503 to every
 * queued request; drop them so a restarted pool does not act on them.
 */
static void
master_discard_requests(struct generation *gen)
{
	struct auth_request	 req;
	int			 fds[IPC_MAX_FDS];
	size_t			 nfds;
	ssize_t			 n;

	for (unsigned i = 0; i < gen->cfg->gate_workers; i++) {
		for (;;) {
			nfds = IPC_MAX_FDS;
			n = ipc_recv(gen->auth_ends[i], &req, sizeof(req), fds,
			    &nfds);
			/* A malformed one was dropped with its descriptors. */
			if (n == -1 && (errno == EPROTO || errno == EMSGSIZE))
				continue;
			if (n <= 0)
				break;
			for (size_t k = 0; k < nfds; k++)
				close(fds[k]);
		}
	}
	explicit_bzero(&req, sizeof(req));
}

static void
master_spawn(struct generation *gen, enum child_kind kind, unsigned slot)
{
	const struct config	*cfg = gen->cfg;
	struct proc_demote	 demote = { .user = cfg->gate_user.name,
				    .chroot_dir = cfg->chroot_dir, .no_network = true };
	struct worker_env		 genv;
	struct auth_env		 aenv;
	struct slot		*s;
	int			 keep[TG_MAX_KEEP_FDS];
	int			 relay_fds[TG_MAX_RELAY_WORKERS], ctl[2];
	size_t			 nkeep = 0, n_relays;
	pid_t			 pid;

	s = kind == CHILD_GATE ? &gen->gate_slots[slot] : &gen->auth_slots[slot];
	s->restart_at = 0;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0, ctl) == -1) {
		log_warn("%s: socketpair", __func__);
		s->restart_at = proc_now_ms() + proc_backoff_ms(s->failures);
		return;
	}
	if (kind == CHILD_GATE) {
		n_relays = relays_send_ends(relay_fds, TG_MAX_RELAY_WORKERS);
		genv = (struct worker_env){ .cfg = cfg, .ctx = gen->ctx,
		    .listeners = m.listeners.fds, .n_listeners = m.listeners.n,
		    .role = WORKER_GATE,
		    .auth_fd = gen->gate_ends[slot], .ctl_fd = ctl[1],
		    .auth_alive = gen->auth_alive, .relay_fds = relay_fds,
		    .n_relays = n_relays, .handoff_fd = -1 };
		for (unsigned i = 0; i < m.listeners.n; i++)
			keep[nkeep++] = m.listeners.fds[i];
		for (size_t i = 0; i < n_relays; i++)
			keep[nkeep++] = relay_fds[i];
		keep[nkeep++] = gen->gate_ends[slot];
		keep[nkeep++] = ctl[1];
		pid = proc_spawn("tg-gate", keep, nkeep, &demote, worker_main, &genv);
	} else {
		aenv = (struct auth_env){ .cfg = cfg, .policy = gen->policy,
		    .socks = gen->auth_ends, .serials = gen->serials,
		    .n_socks = cfg->gate_workers, .ctl_fd = ctl[1] };
		for (unsigned i = 0; i < cfg->gate_workers; i++)
			keep[nkeep++] = gen->auth_ends[i];
		keep[nkeep++] = ctl[1];
		if (gen->auth_alive == 0)
			master_discard_requests(gen);
		pid = proc_spawn("tg-auth", keep, nkeep, NULL,
		    authenticator_main, &aenv);
	}
	close(ctl[1]);
	if (pid == -1) {
		close(ctl[0]);
		s->restart_at = proc_now_ms() + proc_backoff_ms(s->failures);
		return;
	}
	master_add_child(pid, kind, slot, gen, ctl[0]);
	s->pid = pid;
	s->started_ms = proc_now_ms();
	if (kind == CHILD_AUTH) {
		gen->auth_alive++;
		master_send_status(gen, 0);
	} else
		relays_send_loads(ctl[0]);
}

static void
master_start_generation(struct generation *gen)
{
	/* Authenticators first, so gate workers start with a live pool. */
	for (unsigned i = 0; i < gen->cfg->auth_workers; i++)
		master_spawn(gen, CHILD_AUTH, i);
	for (unsigned i = 0; i < gen->cfg->gate_workers; i++)
		master_spawn(gen, CHILD_GATE, i);
	log_info("generation %u: %u gate workers, %u authenticators, "
	    "%zu policy rules", gen->id, gen->cfg->gate_workers,
	    gen->cfg->auth_workers, policy_rule_count(gen->policy));
}

static void
master_retire(struct generation *gen)
{
	struct ctl_retire	 r;
	struct child		*c;

	gen->retired = true;
	memset(&r, 0, sizeof(r));
	ctl_hdr_init(&r.hdr, CTL_RETIRE);
	TAILQ_FOREACH(c, &m.children, entry)
		if (c->gen == gen && ipc_send(c->ctl_fd, &r, sizeof(r), NULL,
		    0) == -1)
			master_kill_child(c, "cannot be told to retire");
	/* Its workers hold their own copies; ours would keep them alive. */
	gen_close_ends(gen);
	if (gen->children == 0)
		gen_free(gen);
}

static struct child *
master_find_child(pid_t pid)
{
	struct child	*c;

	TAILQ_FOREACH(c, &m.children, entry)
		if (c->pid == pid)
			return c;
	return NULL;
}

/*
 * A gate worker of the current generation died: its successor gets a fresh
 * socket pair, so nothing its predecessor queued (a compromised one may have
 * queued anything) reaches the authenticators as its successor's. Every
 * authenticator gets the new end before the old one hangs up.
 */
static void
gen_replace_pair(struct generation *gen, unsigned slot)
{
	struct ctl_auth_socket	 msg;
	struct child		*c;
	int			 sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0, sv) == -1) {
		log_warn("%s: socketpair; gate slot %u keeps its socket",
		    __func__, slot);
		return;
	}
	memset(&msg, 0, sizeof(msg));
	ctl_hdr_init(&msg.hdr, CTL_AUTH_SOCKET);
	msg.slot = slot;
	msg.serial = ++gen->serials[slot];
	TAILQ_FOREACH(c, &m.children, entry) {
		if (c->gen != gen || c->kind != CHILD_AUTH || c->killed ||
		    ipc_send(c->ctl_fd, &msg, sizeof(msg), &sv[1], 1) == 0)
			continue;
		log_warn("authenticator %d: cannot pass it gate socket %u; "
		    "restarting it", (int)c->pid, slot);
		kill(c->pid, SIGKILL);
	}
	close(gen->gate_ends[slot]);
	close(gen->auth_ends[slot]);
	gen->gate_ends[slot] = sv[0];
	gen->auth_ends[slot] = sv[1];
}

static void
master_child_died(struct child *c, int status)
{
	struct generation	*gen = c->gen;
	const char		*name = master_child_name(c->kind);
	struct slot		*s;
	bool			 expected = m.stopping || (gen && gen->retired);

	if (WIFSIGNALED(status))
		log_warnx("%s %d killed by signal %d (%s)", name, (int)c->pid,
		    WTERMSIG(status), strsignal(WTERMSIG(status)));
	else if (WEXITSTATUS(status) != 0 || !expected)
		log_warnx("%s %d exited with status %d", name, (int)c->pid,
		    WEXITSTATUS(status));
	TAILQ_REMOVE(&m.children, c, entry);
	close(c->ctl_fd);
	if (c->kind == CHILD_RELAY) {
		relays_child_died(c);
		free(c);
		return;
	}
	gen->children--;
	s = c->kind == CHILD_GATE ? &gen->gate_slots[c->slot] :
	    &gen->auth_slots[c->slot];
	s->pid = 0;
	if (c->kind == CHILD_AUTH) {
		gen->auth_alive--;
		master_send_status(gen, c->pid);
	}
	if (!expected) {
		if (c->kind == CHILD_GATE)
			gen_replace_pair(gen, c->slot);
		log_info("restarting the %s in %lld ms", name,
		    (long long)master_schedule_restart(s));
	}
	free(c);
	if (gen->retired && gen->children == 0)
		gen_free(gen);
}

static void
master_reap(void)
{
	struct child	*c;
	pid_t		 pid;
	int		 status;

	/*
	 * A stopped child holds its slot (listeners, tunnels handed to it, an
	 * authenticator's share of requests) and serves nothing: end it, and
	 * its death below restarts the slot.
	 */
	while ((pid = waitpid(-1, &status, WNOHANG | WUNTRACED)) > 0) {
		if ((c = master_find_child(pid)) == NULL)
			continue;
		if (WIFSTOPPED(status)) {
			log_warnx("%s %d stopped by signal %d (%s); killing it so "
			    "that it is replaced", master_child_name(c->kind),
			    (int)pid, WSTOPSIG(status), strsignal(WSTOPSIG(status)));
			kill(pid, SIGKILL);
		} else
			master_child_died(c, status);
	}
}

/*
 * Relay workers keep the settings they started with, the user included:
 * check the new gate user against the relay user they really run as.
 */
static int
master_reload_users(struct config *cfg)
{
	if (strcmp(cfg->relay_user.name, m.relay_init.user) != 0) {
		log_info("%s: relay workers keep running as \"%s\" until a "
		    "restart", cfg->relay_user.where, m.relay_init.user);
		(void)snprintf(cfg->relay_user.name,
		    sizeof(cfg->relay_user.name), "%s", m.relay_init.user);
	}
	return privsep_check(cfg);
}

static void
master_reload(void)
{
	struct generation	*old = m.gen;
	struct config		*cfg;
	struct policy		*policy = NULL;
	SSL_CTX			*ctx = NULL;
	char			 path[PATH_MAX];

	log_info("SIGHUP: reloading %s", old->cfg->path);
	if ((cfg = calloc(1, sizeof(*cfg))) == NULL)
		fatal("%s: calloc", __func__);
	if (fs_check_config_file(old->cfg->path, path, sizeof(path)) == -1 ||
	    config_load(path, cfg) == -1 || fs_check_config(cfg) == -1 ||
	    fs_prepare_chroot(cfg) == -1 ||
	    master_reload_users(cfg) == -1 ||
	    (policy = policy_load(cfg->policy_file)) == NULL ||
	    (ctx = tls_ctx_new(cfg)) == NULL ||
	    listeners_update(&m.listeners, cfg) == -1) {
		log_warnx("reload failed (see above); the running configuration "
		    "and policy stay in force");
		SSL_CTX_free(ctx);
		policy_free(policy);
		free(cfg);
		return;
	}
	if (strcmp(cfg->audit_file, old->cfg->audit_file) != 0 ||
	    cfg->audit_syslog != old->cfg->audit_syslog)
		auditlog_open(cfg->audit_file, cfg->audit_syslog);
	log_init("tunnelgated", cfg->log_syslog, cfg->log_level);
	master_raise_nofile(cfg);
	m.gen = gen_new(cfg, policy, ctx);
	master_start_generation(m.gen);
	master_retire(old);
}

static void
master_stop(void)
{
	struct ctl_retire	 r;
	struct child		*c;

	if (m.stopping)
		return;
	log_info("stopping: no new connections, draining tunnels for %u ms",
	    m.gen->cfg->timeout_drain_ms);
	m.stopping = true;
	m.kill_at = proc_now_ms() + m.gen->cfg->timeout_drain_ms +
	    MASTER_KILL_GRACE_MS;
	listeners_close(&m.listeners);
	gen_close_ends(m.gen);
	memset(&r, 0, sizeof(r));
	ctl_hdr_init(&r.hdr, CTL_RETIRE);
	TAILQ_FOREACH(c, &m.children, entry) {
		if (c->kind == CHILD_GATE)
			kill(c->pid, SIGTERM);
		/* They leave once the gate workers they serve are gone. */
		else if (c->kind == CHILD_AUTH)
			(void)ipc_send(c->ctl_fd, &r, sizeof(r), NULL, 0);
	}
	relays_stop();
}

static void
master_dispatch_signal(void)
{
	struct signalfd_siginfo	 si;

	while (read(m.sigfd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			master_reap();
			break;
		case SIGHUP:
			if (!m.stopping)
				master_reload();
			break;
		case SIGUSR1:
			log_info("SIGUSR1: reopening the audit log");
			auditlog_reopen();
			break;
		case SIGTERM:
		case SIGINT:
			master_stop();
			break;
		}
	}
}

/* Start due restarts; returns the epoll timeout until the next event. */
/* Children that closed their control socket but did not exit. */
static void
master_kill_deaf(int64_t now, int64_t *next)
{
	struct child	*c;
	int64_t		 due;

	TAILQ_FOREACH(c, &m.children, entry) {
		if (c->hung_up_at == 0 || c->killed)
			continue;
		due = c->hung_up_at + CHILD_HANGUP_GRACE_MS;
		if (due <= now)
			master_kill_child(c, "closed its control socket but "
			    "kept running");
		else if (*next == -1 || due < *next)
			*next = due;
	}
}

static int
master_timers(void)
{
	struct generation	*gen = m.gen;
	int64_t			 now = proc_now_ms(), next = -1;
	struct slot		*s;

	if (m.stopping) {
		if (now >= m.kill_at) {
			struct child *c;

			TAILQ_FOREACH(c, &m.children, entry)
				kill(c->pid, SIGKILL);
			m.kill_at = now + 1000;
		}
		return (int)(m.kill_at - now);
	}
	master_kill_deaf(now, &next);
	for (unsigned k = 0; k < 2; k++) {
		unsigned n = k ? gen->cfg->gate_workers : gen->cfg->auth_workers;

		for (unsigned i = 0; i < n; i++) {
			s = k ? &gen->gate_slots[i] : &gen->auth_slots[i];
			if (s->restart_at == 0)
				continue;
			if (s->restart_at <= now)
				master_spawn(gen, k ? CHILD_GATE : CHILD_AUTH, i);
			else if (next == -1 || s->restart_at < next)
				next = s->restart_at;
		}
	}
	relays_timers(now, &next);
	return next == -1 ? -1 : (int)(next - now);
}

static void
master_setup(void)
{
	sigset_t	 mask;

	TAILQ_INIT(&m.children);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	if ((m.sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) == -1 ||
	    (m.epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		fatal("%s: signalfd/epoll", __func__);
	master_watch(m.sigfd, NULL);
}

/*
 * Descriptors the busiest process needs: a gate worker at limits.connections
 * with everything it keeps (a relay worker holds as many tunnels and keeps
 * less). Every child inherits the master's limit.
 */
static rlim_t
master_nofile_need(const struct config *cfg)
{
	return (rlim_t)cfg->limit_connections * TG_FDS_PER_CONNECTION +
	    cfg->n_listeners + cfg->relay_workers + 2 + TG_WORKER_OWN_FDS;
}

/*
 * Raise the soft limit to the hard one; say what to change if that cannot
 * hold the configured connections.
 */
static void
master_raise_nofile(const struct config *cfg)
{
	struct rlimit	 rl;
	rlim_t		 need = master_nofile_need(cfg), own, fits;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1) {
		log_warn("getrlimit RLIMIT_NOFILE");
		return;
	}
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		log_warn("setrlimit RLIMIT_NOFILE");
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur >= need)
		return;
	own = need - (rlim_t)cfg->limit_connections * TG_FDS_PER_CONNECTION;
	fits = rl.rlim_cur > own ? (rl.rlim_cur - own) / TG_FDS_PER_CONNECTION :
	    0;
	log_warnx("%s: limits.connections = %u needs %llu descriptors per "
	    "gate worker, but the RLIMIT_NOFILE hard limit is %llu; accept "
	    "pauses when they run out: raise that limit (LimitNOFILE= in the "
	    "systemd unit) or lower limits.connections to %llu", cfg->path,
	    cfg->limit_connections, (unsigned long long)need,
	    (unsigned long long)rl.rlim_cur, (unsigned long long)fits);
}

int
master_main(struct config *cfg, struct policy *policy)
{
	struct epoll_event	 events[MASTER_EVENTS];
	SSL_CTX			*ctx;
	int			 n, timeout;

	if (getuid() != 0)
		fatalx("must start as root: the authenticators need root for "
		    "PAM and the workers drop to privsep.gate_user and "
		    "privsep.relay_user");
	if (fs_prepare_chroot(cfg) == -1)
		return 1;
	master_raise_nofile(cfg);
	if ((ctx = tls_ctx_new(cfg)) == NULL)
		return 1;
	if (auditlog_open(cfg->audit_file, cfg->audit_syslog) == -1)
		return 1;
	master_setup();
	if (listeners_update(&m.listeners, cfg) == -1 || relays_start(cfg) == -1)
		return 1;
	m.gen = gen_new(cfg, policy, ctx);
	master_start_generation(m.gen);
	for (unsigned i = 0; i < m.listeners.n; i++)
		log_info("listening on %s port %u", m.listeners.conf[i].address,
		    m.listeners.conf[i].port);
	while (!(m.stopping && TAILQ_EMPTY(&m.children))) {
		timeout = master_timers();
		n = epoll_wait(m.epfd, events, MASTER_EVENTS, timeout);
		if (n == -1 && errno != EINTR)
			fatal("%s: epoll_wait", __func__);
		/* Signals last: reaping frees children this batch may name. */
		for (int i = 0; i < n; i++)
			if (events[i].data.ptr != NULL)
				master_dispatch_child(events[i].data.ptr);
		for (int i = 0; i < n; i++)
			if (events[i].data.ptr == NULL)
				master_dispatch_signal();
	}
	log_info("all workers finished; exiting");
	gen_free(m.gen);
	auditlog_close();
	close(m.epfd);
	close(m.sigfd);
	return 0;
}
