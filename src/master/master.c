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
#include "auth_cache.h"
#include "auth_throttle.h"
#include "authenticator.h"
#include "conn_limits.h"
#include "ctl.h"
#include "worker.h"
#include "ipc.h"
#include "key_proc.h"
#include "listeners.h"
#include "log.h"
#include "master.h"
#include "allows.h"
#include "master_priv.h"
#include "metrics.h"
#include "privsep.h"
#include "proc.h"
#include "ticket_keys.h"
#include "user_tunnels.h"
#include "tls.h"
#include "tunnels.h"
#include "admin.h"

#define MASTER_EVENTS		64
#define MASTER_KILL_GRACE_MS	5000

struct master m;

static void master_spawn(struct generation *, enum child_kind, unsigned slot);
static void master_raise_nofile(const struct config *);

struct child *
master_add_child(pid_t pid, enum child_kind kind, unsigned slot,
    struct generation *gen, int ctl_fd)
{
	struct child	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		fatal("master: calloc");
	*c = (struct child){ .pid = pid, .kind = kind, .slot = slot, .gen = gen,
	    .ctl_fd = ctl_fd, .limits_row = -1 };
	TAILQ_INSERT_TAIL(&m.children, c, entry);
	master_watch(c->ctl_fd, c);
	if (gen != NULL)
		gen->children++;
	return c;
}

/* workers.restart_delay of the configuration in force. */
static int64_t
master_backoff_ms(unsigned failures)
{
	return proc_backoff_ms(m.gen != NULL ? m.gen->cfg->restart_delay_ms :
	    TG_RESTART_DELAY_DEFAULT_MS, failures);
}

int64_t
master_schedule_restart(struct slot *s)
{
	int64_t	 now = proc_now_ms();

	s->pid = 0;
	s->failures = now - s->started_ms >= PROC_STABLE_MS ? 1 :
	    s->failures + 1;
	s->restart_at = now + master_backoff_ms(s->failures - 1);
	return s->restart_at - now;
}

void
master_watch(int fd, void *ptr)
{
	struct epoll_event	 e = { .events = EPOLLIN, .data.ptr = ptr };

	if (epoll_ctl(m.epfd, EPOLL_CTL_ADD, fd, &e) == -1)
		fatal("master: epoll_ctl");
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
		if (c->gen == gen && c->kind == CHILD_GATE)
			(void)master_tell(c, &st, sizeof(st),
			    "the authenticators' status");
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

/*
 * What a gate worker must not hold, it drops before anything else: the
 * authenticators' throttle table (it could lift a lockout) and credential
 * cache (salted digests, names and groups). Nor does an authenticator need
 * the gate workers' connection counts.
 */
__attribute__((noreturn)) static void
master_gate_main(void *env)
{
	auth_throttle_unmap();
	auth_cache_unmap();
	worker_main(env);
}

__attribute__((noreturn)) static void
master_auth_main(void *env)
{
	conn_limits_unmap();
	authenticator_main(env);
}

__attribute__((noreturn)) static void
master_key_main(void *env)
{
	auth_throttle_unmap();
	auth_cache_unmap();
	conn_limits_unmap();
	key_main(env);
}

/* Reads the key as root, then demotes itself (key_main). */
static pid_t
master_spawn_key(struct generation *gen, unsigned slot, int ctl_fd)
{
	struct key_env	 kenv = { .cfg = gen->cfg, .gate_fd = gen->key_ends[slot],
			    .ctl_fd = ctl_fd, .slot = slot,
			    .serial = gen->serials[slot] };
	int		 keep[] = { gen->key_ends[slot], ctl_fd };

	return proc_spawn("tg-key", keep, 2, NULL, master_key_main, &kenv);
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
	int			 row = -1;

	s = gen_slot(gen, kind, slot);
	s->restart_at = 0;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0, ctl) == -1) {
		log_warn("master: socketpair");
		s->restart_at = proc_now_ms() + master_backoff_ms(s->failures);
		return;
	}
	if (kind == CHILD_GATE) {
		n_relays = relays_send_ends(relay_fds, TG_MAX_RELAY_WORKERS);
		genv = (struct worker_env){ .cfg = cfg, .ctx = gen->ctx,
		    .listeners = m.listeners.fds, .n_listeners = m.listeners.n,
		    .listener_conf = m.listeners.conf,
		    .client_ca = gen->client_ca,
		    .role = WORKER_GATE,
		    .auth_fd = gen->gate_ends[slot], .ctl_fd = ctl[1],
		    .key_fd = gen->gate_key_ends[slot],
		    .auth_alive = gen->auth_alive, .relay_fds = relay_fds,
		    .n_relays = n_relays, .handoff_fd = -1,
		    .limits_row = row = conn_limits_row_take() };
		for (unsigned i = 0; i < m.listeners.n; i++)
			keep[nkeep++] = m.listeners.fds[i];
		for (size_t i = 0; i < n_relays; i++)
			keep[nkeep++] = relay_fds[i];
		keep[nkeep++] = gen->gate_ends[slot];
		keep[nkeep++] = gen->gate_key_ends[slot];
		keep[nkeep++] = ctl[1];
		ticket_keys_send(ctl[0]);
		pid = proc_spawn("tg-gate", keep, nkeep, &demote,
		    master_gate_main, &genv);
	} else if (kind == CHILD_KEY)
		pid = master_spawn_key(gen, slot, ctl[1]);
	else {
		aenv = (struct auth_env){ .cfg = cfg, .policy = gen->policy,
		    .client_ca = gen->client_ca,
		    .socks = gen->auth_ends, .serials = gen->serials,
		    .n_socks = cfg->gate_workers, .ctl_fd = ctl[1] };
		for (unsigned i = 0; i < cfg->gate_workers; i++)
			keep[nkeep++] = gen->auth_ends[i];
		keep[nkeep++] = ctl[1];
		if (gen->auth_alive == 0)
			master_discard_requests(gen);
		pid = proc_spawn("tg-auth", keep, nkeep, NULL, master_auth_main,
		    &aenv);
	}
	close(ctl[1]);
	if (pid == -1) {
		conn_limits_row_free(row);
		close(ctl[0]);
		s->restart_at = proc_now_ms() + master_backoff_ms(s->failures);
		return;
	}
	master_add_child(pid, kind, slot, gen, ctl[0])->limits_row = row;
	s->pid = pid;
	s->started_ms = proc_now_ms();
	if (kind == CHILD_AUTH) {
		gen->auth_alive++;
		master_send_status(gen, 0);
	} else if (kind == CHILD_GATE)
		relays_send_loads(ctl[0]);
}

static void
master_start_generation(struct generation *gen)
{
	/* Authenticators first, so gate workers start with a live pool. */
	for (unsigned i = 0; i < gen->cfg->auth_workers; i++)
		master_spawn(gen, CHILD_AUTH, i);
	for (unsigned i = 0; i < gen->cfg->gate_workers; i++) {
		master_spawn(gen, CHILD_KEY, i);
		master_spawn(gen, CHILD_GATE, i);
	}
	log_info("generation %u: %u gate workers, %u authenticators, "
	    "%zu policy rules", gen->id, gen->cfg->gate_workers,
	    gen->cfg->auth_workers, policy_rule_count(gen->policy));
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
	/* What it said before it died: an open, a handoff, an adoption. */
	c->reaped = true;
	if (!c->killed)
		master_dispatch_child(c);
	TAILQ_REMOVE(&m.children, c, entry);
	close(c->ctl_fd);
	outbox_free(c);
	/* Its connections died with it. */
	conn_limits_row_free(c->limits_row);
	tunnels_worker_died(c);
	if (c->kind == CHILD_GATE)
		relays_gate_died();
	if (!expected)
		metrics_restarted(c);
	if (c->kind == CHILD_METRICS) {
		metrics_child_died(c);
		free(c);
		return;
	}
	if (c->kind == CHILD_RELAY) {
		relays_child_died(c);
		free(c);
		return;
	}
	gen->children--;
	s = gen_slot(gen, c->kind, c->slot);
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
 * Relay workers keep the settings they started with, the user included,
 * and key processes keep their user too: the old generation's key
 * processes outlive the reload beside the new gate workers, and the new
 * ones run beside the old gate workers, so a key user that moved could
 * share a uid with gate workers of either. Check the new gate user against
 * the users the others really run as.
 */
static int
master_reload_users(struct config *cfg, const struct config *old)
{
	if (strcmp(cfg->relay_user.name, m.relay_init.user) != 0) {
		log_info("%s: relay workers keep running as \"%s\" until a "
		    "restart", cfg->relay_user.where, m.relay_init.user);
		(void)snprintf(cfg->relay_user.name,
		    sizeof(cfg->relay_user.name), "%s", m.relay_init.user);
	}
	if (strcmp(cfg->key_user.name, old->key_user.name) != 0) {
		log_info("%s: key processes keep running as \"%s\" until a "
		    "restart", cfg->key_user.where, old->key_user.name);
		(void)snprintf(cfg->key_user.name, sizeof(cfg->key_user.name),
		    "%s", old->key_user.name);
	}
	return privsep_check(cfg);
}

/*
 * The pre-flight's child exits holding what the reload has loaded so far;
 * kept reachable here, a leak check of that exit (valgrind follows forks)
 * does not count them lost.
 */
static struct config *volatile	 held_cfg;
static struct policy *volatile	 held_policy;

static int
master_reload_probe(struct config *cfg, struct policy *policy)
{
	int	 r;

	held_cfg = cfg;
	held_policy = policy;
	r = master_probe(cfg);
	held_cfg = NULL;
	held_policy = NULL;
	return r;
}

bool
master_reload(const char *by, char *why, size_t why_size)
{
	struct generation	*old = m.gen;
	struct config		*cfg;
	struct policy		*policy = NULL;
	SSL_CTX			*ctx = NULL;
	struct tls_client_ca_set *cas = NULL;
	char			 path[PATH_MAX], first[512];
	unsigned		 flushed;

	log_info("reloading %s", old->cfg->path);
	if ((cfg = calloc(1, sizeof(*cfg))) == NULL)
		fatal("master: calloc");
	log_keep_first_warning(first, sizeof(first));
	if (fs_check_config_file(old->cfg->path, path, sizeof(path)) == -1 ||
	    config_load(path, cfg) == -1 || fs_check_config(cfg) == -1 ||
	    fs_prepare_chroot(cfg) == -1 ||
	    master_reload_users(cfg, old->cfg) == -1 ||
	    (policy = policy_load(cfg->policy_file)) == NULL ||
	    master_reload_probe(cfg, policy) == -1 ||
	    tls_key_check_exec(cfg) == -1 ||
	    (ctx = tls_ctx_new(cfg)) == NULL ||
	    (cas = tls_client_ca_load(cfg)) == NULL ||
	    listeners_update(&m.listeners, cfg) == -1) {
		log_keep_first_warning(NULL, 0);
		(void)snprintf(why, why_size, "%s", first[0] != '\0' ? first :
		    "see the daemon log");
		log_warnx("reload failed (see above); the running configuration "
		    "and policy stay in force");
		tls_client_ca_free(cas);
		SSL_CTX_free(ctx);
		policy_free(policy);
		free(cfg);
		master_audit_reload(by, false, why);
		return false;
	}
	log_keep_first_warning(NULL, 0);
	if ((strcmp(cfg->audit_file, old->cfg->audit_file) != 0 ||
	    cfg->audit_syslog != old->cfg->audit_syslog) &&
	    auditlog_open(cfg->audit_file, cfg->audit_syslog) == -1) {
		log_warnx("reload: audit.file %s cannot be used (see above); "
		    "audit records go on to %s", cfg->audit_file,
		    old->cfg->audit_file);
		/* So that the next reload compares with what is in use. */
		memcpy(cfg->audit_file, old->cfg->audit_file,
		    sizeof(cfg->audit_file));
		cfg->audit_syslog = old->cfg->audit_syslog;
	}
	log_init("tunnelgated", cfg->log_syslog, cfg->log_level);
	master_raise_nofile(cfg);
	ticket_keys_configure(cfg);
	/* A new size starts empty; on failure the pool keeps the old one. */
	(void)auth_cache_setup(cfg->cache_max_entries);
	/* Entries keep one backend's verdict, name and groups, never another's. */
	if (cfg->auth_backend != old->cfg->auth_backend &&
	    auth_cache_flush(NULL, &flushed) == -1)
		log_warnx("reload: the credential cache of the old auth.backend "
		    "could not be emptied; run tunnelgatectl cache flush");
	m.gen = gen_new(cfg, policy, ctx);
	m.gen->client_ca = cas;
	master_start_generation(m.gen);
	master_retire(old);
	revoke_recheck(cfg, policy);
	(void)snprintf(why, why_size, "generation %u: %zu policy rules",
	    m.gen->id, policy_rule_count(policy));
	master_audit_reload(by, true, why);
	return true;
}

static void
master_stop(void)
{
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
	TAILQ_FOREACH(c, &m.children, entry) {
		if (c->kind == CHILD_GATE)
			kill(c->pid, SIGTERM);
		/* They leave once the gate workers they serve are gone. */
		else if (c->kind == CHILD_AUTH || c->kind == CHILD_KEY)
			retire_child(c);
	}
	relays_stop();
	metrics_stop();
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
			if (!m.stopping) {
				char	 why[512];

				log_info("SIGHUP");
				(void)master_reload("signal", why,
				    sizeof(why));
			}
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

/* A lockout ended: the master says so, as nobody else is there to. */
static void
master_audit_release(const struct throttle_event *ev)
{
	struct audit_record	 rec;

	memset(&rec, 0, sizeof(rec));
	rec.event = AUDIT_RELEASE;
	if (ev->kind == THROTTLE_USER)
		AUDIT_SET(rec.user, ev->label);
	else
		AUDIT_SET(rec.client, ev->label);
	snprintf(rec.reason, sizeof(rec.reason), "lockout of %s %s ended",
	    ev->kind == THROTTLE_USER ? "user" : "source", ev->label);
	log_info("%s", rec.reason);
	auditlog_write_own(&rec);
}

/* Release records are due to the second at most. */
#define MASTER_RELEASE_EVERY_MS	1000

static void
master_releases(int64_t now, int64_t *next)
{
	static int64_t	 due;

	if (now >= due) {
		auth_throttle_released(now, master_audit_release);
		due = now + MASTER_RELEASE_EVERY_MS;
	}
	if (*next == -1 || due < *next)
		*next = due;
}

/* Start due restarts; returns the epoll timeout until the next event. */
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
		next = m.kill_at;
		outbox_timers(now, &next);
		return (int)(next - now);
	}
	master_kill_deaf(now, &next);
	outbox_timers(now, &next);
	heartbeat_timers(now, &next);
	master_releases(now, &next);
	admin_timers(now, &next);
	tunnels_timers(now, &next);
	for (unsigned k = 0; k < 3; k++) {
		enum child_kind kind = k == 0 ? CHILD_AUTH : k == 1 ? CHILD_KEY :
		    CHILD_GATE;
		unsigned n = kind == CHILD_AUTH ? gen->cfg->auth_workers :
		    gen->cfg->gate_workers;

		for (unsigned i = 0; i < n; i++) {
			s = gen_slot(gen, kind, i);
			if (s->restart_at == 0)
				continue;
			if (s->restart_at <= now)
				master_spawn(gen, kind, i);
			else if (next == -1 || s->restart_at < next)
				next = s->restart_at;
		}
	}
	relays_timers(now, &next);
	metrics_timers(now, &next);
	ticket_keys_timers(now, &next);
	user_tunnels_timers(now, &next);
	/* A master that was busy for long has opens to read before it drops. */
	if (allows_due(now))
		master_drain(CHILD_GATE);
	allows_timers(now, &next);
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
		fatal("master: signalfd/epoll");
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
	struct tls_client_ca_set *cas;
	int			 n, timeout;

	if (getuid() != 0)
		fatalx("must start as root: the authenticators need root for "
		    "PAM and the workers drop to privsep.gate_user, "
		    "privsep.relay_user and privsep.key_user");
	if (fs_prepare_chroot(cfg) == -1)
		return 1;
	master_raise_nofile(cfg);
	/*
	 * A directory may come up later: at start, only a warning. First,
	 * while the master holds little a forked check could be said to leak.
	 */
	(void)master_probe(cfg);
	if (tls_key_check_exec(cfg) == -1 || (ctx = tls_ctx_new(cfg)) == NULL ||
	    (cas = tls_client_ca_load(cfg)) == NULL)
		return 1;
	if (auditlog_open(cfg->audit_file, cfg->audit_syslog) == -1)
		return 1;
	/* Before any child: every generation's children inherit them. */
	if (conn_limits_setup() == -1 || auth_throttle_setup() == -1 ||
	    auth_cache_setup(cfg->cache_max_entries) == -1 ||
	    ticket_keys_setup(cfg) == -1)
		return 1;
	master_setup();
	if (listeners_update(&m.listeners, cfg) == -1 || admin_open(cfg) == -1 ||
	    relays_start(cfg) == -1 || metrics_start(cfg) == -1)
		return 1;
	m.gen = gen_new(cfg, policy, ctx);
	m.gen->client_ca = cas;
	master_start_generation(m.gen);
	for (unsigned i = 0; i < m.listeners.n; i++)
		log_info("listening on %s port %u", m.listeners.conf[i].address,
		    m.listeners.conf[i].port);
	while (!(m.stopping && TAILQ_EMPTY(&m.children))) {
		timeout = master_timers();
		n = epoll_wait(m.epfd, events, MASTER_EVENTS, timeout);
		if (n == -1 && errno != EINTR)
			fatal("master: epoll_wait");
		/* Signals last: reaping frees children this batch may name. */
		for (int i = 0; i < n; i++)
			if (events[i].data.ptr != NULL &&
			    !admin_event(events[i].data.ptr, events[i].events))
				master_dispatch_child(events[i].data.ptr);
		for (int i = 0; i < n; i++)
			if (events[i].data.ptr == NULL)
				master_dispatch_signal();
	}
	log_info("all workers finished; exiting");
	admin_close();
	gen_free(m.gen);
	auditlog_close();
	close(m.epfd);
	close(m.sigfd);
	return 0;
}
