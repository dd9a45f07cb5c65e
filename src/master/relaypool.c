/*
 * The master's pool of relay workers. They are exec'd, not just forked, so
 * that they start without the private key or anything else the master
 * holds, and they live outside the generations: a reload or a gate worker
 * crash never touches the tunnels they relay.
 *
 * Their loads are the master's own count, never the relay workers' word: a
 * tunnel counts for a relay worker from the CTL_HANDOFF of the gate worker
 * that holds it until that relay worker's close record for the same id.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "handoff.h"
#include "ipc.h"
#include "log.h"
#include "master_priv.h"
#include "proc.h"
#include "tunnels.h"

/* Gate workers learn the counts at most this often. */
#define RELAY_LOADS_MS		100
/*
 * Tunnels one relay worker may be counted for beyond twice its capacity
 * (gate workers' views of the loads lag); the count stays far below
 * UINT32_MAX, the mark of a relay worker that is down.
 */
#define RELAY_COUNT_SLACK	1024

int
relays_start(const struct config *cfg)
{
	struct ctl_relay_init	*ri = &m.relay_init;
	int			 sv[2];

	if ((m.exe_fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC)) == -1) {
		log_warn("relay workers: cannot open our own executable");
		return -1;
	}
	memset(ri, 0, sizeof(*ri));
	ctl_hdr_init(&ri->hdr, CTL_RELAY_INIT);
	ri->timeout_idle_ms = cfg->timeout_idle_ms;
	ri->timeout_drain_ms = cfg->timeout_drain_ms;
	ri->limit_buffer_bytes = cfg->limit_buffer_bytes;
	ri->limit_tunnels = cfg->limit_connections;
	ri->log_level = cfg->log_level;
	ri->log_syslog = cfg->log_syslog;
	auditlog_strlcpy(ri->user, cfg->relay_user.name, sizeof(ri->user));
	auditlog_strlcpy(ri->chroot_dir, cfg->chroot_dir, sizeof(ri->chroot_dir));
	m.n_relays = cfg->relay_workers;
	for (unsigned i = 0; i < m.n_relays; i++) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0, sv) == -1) {
			log_warn("relay workers: socketpair");
			return -1;
		}
		m.relays[i].send_end = sv[0];
		m.relays[i].recv_end = sv[1];
		/* Big enough for a few handoffs with their pipelined bytes. */
		setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &(int){ 1 << 20 },
		    sizeof(int));
		relays_spawn(i);
	}
	return 0;
}

void
relays_spawn(unsigned slot)
{
	struct relay_slot	*r = &m.relays[slot];
	char			*argv[] = { "tunnelgated", "-R", NULL };
	int			 ctl[2], fds[TG_RELAY_EXEC_FDS];
	pid_t			 pid;

	r->s.restart_at = 0;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) == -1) {
		log_warn("relay pool: socketpair");
		master_schedule_restart(&r->s);
		return;
	}
	fds[0] = ctl[1];
	fds[1] = r->recv_end;
	pid = proc_spawn_exec(m.exe_fd, fds, TG_RELAY_EXEC_FDS, argv);
	close(ctl[1]);
	if (pid == -1) {
		close(ctl[0]);
		master_schedule_restart(&r->s);
		return;
	}
	m.relay_init.slot = slot;
	if (ipc_send(ctl[0], &m.relay_init, sizeof(m.relay_init), NULL, 0) == -1)
		log_warn("relay pool: settings for relay worker %d", (int)pid);
	fcntl(ctl[0], F_SETFL, O_NONBLOCK);
	master_add_child(pid, CHILD_RELAY, slot, NULL, ctl[0]);
	r->s.pid = pid;
	r->s.started_ms = proc_now_ms();
	relays_send_loads(-1);
}

void
relays_child_died(struct child *c)
{
	struct relay_slot	*r = &m.relays[c->slot];

	/*
	 * Its tunnels died with it, but its successor adopts any still queued,
	 * and those a predecessor left that it died before reading.
	 */
	tunnelset_merge(&r->orphans, &r->live);
	if (m.stopping) {
		r->s.pid = 0;
		return;
	}
	log_info("restarting the relay worker in %lld ms",
	    (long long)master_schedule_restart(&r->s));
	relays_send_loads(-1);
}

const char *
relays_handoff(const struct ctl_handoff *h, bool sent)
{
	struct relay_slot	*r;
	size_t			 most = 2 * (size_t)m.relay_init.limit_tunnels +
				    RELAY_COUNT_SLACK;

	if (h->relay >= m.n_relays)
		return "a handoff to a relay worker that does not exist";
	r = &m.relays[h->relay];
	if (sent) {
		/* Gate workers' views lag; honest ones overshoot a little. */
		if (r->live.n >= most)
			return "more handoffs to one relay worker than it holds";
		if (tunnelset_add(&r->live, h->tunnel_id) != 0)
			return "a handoff of a tunnel already handed off";
	} else if (tunnelset_remove(&r->live, h->tunnel_id) != 0)
		return "a failed handoff it never reported";
	m.loads_dirty = true;
	return NULL;
}

bool
relays_closed(struct child *c, uint64_t tunnel_id)
{
	struct relay_slot	*r = &m.relays[c->slot];

	/* The gate worker reported the handoff before sending it. */
	if (tunnelset_remove(&r->live, tunnel_id) != 0 &&
	    tunnelset_remove(&r->orphans, tunnel_id) != 0) {
		master_drain(CHILD_GATE);
		if (tunnelset_remove(&r->live, tunnel_id) != 0)
			return false;
	}
	m.loads_dirty = true;
	return true;
}

void
relays_forget(unsigned slot, uint64_t tunnel_id)
{
	struct relay_slot	*r = &m.relays[slot];

	if (tunnelset_remove(&r->live, tunnel_id) == 0 ||
	    tunnelset_remove(&r->orphans, tunnel_id) == 0)
		m.loads_dirty = true;
}

/* One relay slot's ids as relays_gate_died() sorts them. */
struct relays_sorting {
	unsigned		 slot;
	bool			 peeked;
	struct tunnelset	 queued;
};

/*
 * Known to the tunnel table, or carried by a handoff still queued on the
 * relay worker's socket. The queue is peeked at only for the first id the
 * table does not know: each peek copies TLS secrets into the master.
 */
static bool
relays_known_or_queued(uint64_t id, void *arg)
{
	struct relays_sorting	*s = arg;

	if (tunnels_find(id) != NULL)
		return true;
	if (!s->peeked) {
		relays_queued(s->slot, &s->queued);
		s->peeked = true;
	}
	return tunnelset_has(&s->queued, id);
}

/*
 * A gate worker died. Its reports counted only tunnels the table gave it,
 * and those no relay worker took died with it (tunnels_worker_died), so an
 * id the table does not know is here only where the two disagree; it must
 * not count against its relay worker for as long as that worker lives. It
 * is kept only while a handoff for it still waits on the relay worker's
 * socket; one already adopted was told to end when the relay worker
 * reported it.
 */
void
relays_gate_died(void)
{
	struct relays_sorting	 s;
	size_t			 before;

	for (unsigned i = 0; i < m.n_relays; i++) {
		if ((before = m.relays[i].live.n) == 0)
			continue;
		memset(&s, 0, sizeof(s));
		s.slot = i;
		tunnelset_filter(&m.relays[i].live, relays_known_or_queued, &s);
		tunnelset_clear(&s.queued);
		if (m.relays[i].live.n != before) {
			log_warnx("relay worker %u: %zu reported handoffs of "
			    "tunnels the master has no record of dropped", i,
			    before - m.relays[i].live.n);
			m.loads_dirty = true;
		}
	}
}

/*
 * Which handed-off tunnels still wait on slot's socket: the master peeks at
 * each queued message (SO_PEEK_OFF steps past the ones already seen) and
 * keeps only the tunnel id. Without a control buffer the kernel installs
 * none of the attached sockets here; the copy of the TLS secrets is wiped.
 * A relay worker reading meanwhile only makes an id look gone, never one
 * look queued that is not.
 */
void
relays_queued(unsigned slot, struct tunnelset *out)
{
	static _Alignas(struct handoff_msg) uint8_t msg[HANDOFF_MSG_MAX];
	const struct handoff_msg *h = (const struct handoff_msg *)msg;
	int		 fd = m.relays[slot].recv_end, off = 0;
	ssize_t		 n;

	if (setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off)) == -1) {
		log_warn("relay worker %u: cannot look at its queue", slot);
		return;
	}
	while ((n = recv(fd, msg, sizeof(msg), MSG_PEEK | MSG_DONTWAIT |
	    MSG_TRUNC)) > 0) {
		/* Only a lying gate worker sends more; the relay drops it. */
		if ((size_t)n > sizeof(msg)) {
			socklen_t len = sizeof(off);

			if (getsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &off,
			    &len) == -1 || n - (ssize_t)sizeof(msg) > INT_MAX - off)
				break;
			off += (int)(n - (ssize_t)sizeof(msg));
			if (setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &off,
			    sizeof(off)) == -1)
				break;
		} else if ((size_t)n >= sizeof(*h))
			(void)tunnelset_add(out, h->facts.tunnel_id);
	}
	OPENSSL_cleanse(msg, sizeof(msg));
	off = -1;
	(void)setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off));
}

/* To one gate worker's control socket, or to every gate worker (-1). */
void
relays_send_loads(int gate_ctl_fd)
{
	struct ctl_relay_loads	 msg;
	struct child		*c;

	if (m.n_relays == 0 || m.stopping)
		return;
	memset(&msg, 0, sizeof(msg));
	ctl_hdr_init(&msg.hdr, CTL_RELAY_LOADS);
	msg.n = m.n_relays;
	msg.capacity = m.relay_init.limit_tunnels;
	msg.buffer_bytes = m.relay_init.limit_buffer_bytes;
	for (unsigned i = 0; i < m.n_relays; i++)
		msg.tunnels[i] = m.relays[i].s.pid == 0 ? UINT32_MAX :
		    (uint32_t)(m.relays[i].live.n + m.relays[i].orphans.n);
	/*
	 * Not through the outbox: each set replaces the last, RELAY_LOADS_MS
	 * apart, so one a full socket drops is made good by the next.
	 */
	if (gate_ctl_fd != -1) {
		(void)ipc_send(gate_ctl_fd, &msg, sizeof(msg), NULL, 0);
		return;
	}
	m.loads_dirty = false;
	m.loads_at = proc_now_ms() + RELAY_LOADS_MS;
	TAILQ_FOREACH(c, &m.children, entry)
		if (c->kind == CHILD_GATE && !c->gen->retired)
			(void)ipc_send(c->ctl_fd, &msg, sizeof(msg), NULL, 0);
}

void
relays_timers(int64_t now, int64_t *next)
{
	if (m.loads_dirty) {
		if (now >= m.loads_at)
			relays_send_loads(-1);
		else if (*next == -1 || m.loads_at < *next)
			*next = m.loads_at;
	}
	for (unsigned i = 0; i < m.n_relays; i++) {
		struct slot *s = &m.relays[i].s;

		if (s->restart_at == 0)
			continue;
		if (s->restart_at <= now)
			relays_spawn(i);
		else if (*next == -1 || s->restart_at < *next)
			*next = s->restart_at;
	}
}

void
relays_stop(void)
{
	for (unsigned i = 0; i < m.n_relays; i++) {
		if (m.relays[i].s.pid != 0)
			kill(m.relays[i].s.pid, SIGTERM);
		/*
		 * No gate worker is started any more: when the last one has
		 * gone, the relay worker reads the end of its handoffs.
		 */
		if (m.relays[i].send_end != -1) {
			close(m.relays[i].send_end);
			m.relays[i].send_end = -1;
		}
	}
}

size_t
relays_send_ends(int *fds, size_t max)
{
	size_t	 n = 0;

	for (unsigned i = 0; i < m.n_relays && n < max; i++)
		fds[n++] = m.relays[i].send_end;
	return n;
}
