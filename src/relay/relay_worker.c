/*
 * Entry of a relay worker, exec'd by the master (tunnelgated -R) so that it
 * starts with nothing of the master's memory: no private key, no config, no
 * policy. It reads its few settings from the master, drops to the
 * unprivileged user in the chroot, enters the seccomp sandbox and runs the
 * workers' event loop on tunnels handed over by gate workers.
 */
#include <poll.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "config.h"
#include "ctl.h"
#include "worker.h"
#include "ipc.h"
#include "log.h"
#include "nodump.h"
#include "proc.h"
#include "relay_worker.h"
#include "tg_limits.h"
#include "tls_record.h"

/* Where proc_spawn_exec() puts the master's two descriptors. */
#define RELAY_CTL_FD		3
#define RELAY_HANDOFF_FD	4
_Static_assert(RELAY_HANDOFF_FD - RELAY_CTL_FD + 1 == TG_RELAY_EXEC_FDS,
    "the master passes a relay worker TG_RELAY_EXEC_FDS descriptors");
#define RELAY_INIT_WAIT_MS	10000

static void
relay_read_init(struct ctl_relay_init *ri)
{
	struct pollfd	 pfd = { .fd = RELAY_CTL_FD, .events = POLLIN };
	union {
		struct ctl_relay_init	init;
		uint8_t			raw[CTL_MSG_BUF];
	} m;
	struct msg_in	 in;

	if (poll(&pfd, 1, RELAY_INIT_WAIT_MS) != 1)
		fatalx("relay worker: no settings from the master");
	if (msg_recv(&ctl_proto, RELAY_CTL_FD, MSG_MASTER, MSG_RELAY, &m,
	    sizeof(m), &in) != MSG_OK || in.t->type != CTL_RELAY_INIT)
		fatalx("relay worker: bad settings message from the master");
	*ri = m.init;
}

void
relay_worker_main(void)
{
	static struct config	 cfg;
	static struct worker_env	 env;
	struct ctl_relay_init	 ri;
	struct proc_demote	 demote;

	/* The exec made this process dumpable again. */
	nodump_enforce();
	prctl(PR_SET_NAME, "tg-relay", 0, 0, 0);
	log_init("tg-relay", false, LOG_LVL_INFO);
	relay_read_init(&ri);
	log_init("tg-relay", ri.log_syslog != 0, (enum log_level)ri.log_level);
	cfg.timeout_idle_ms = ri.timeout_idle_ms;
	cfg.timeout_drain_ms = ri.timeout_drain_ms;
	cfg.limit_buffer_bytes = ri.limit_buffer_bytes;
	cfg.limit_connections = ri.limit_tunnels;
	if (tls_record_global_init() != 0)
		fatalx("relay worker: libcrypto lacks the AEADs it needs");
	demote = (struct proc_demote){ .user = ri.user,
	    .chroot_dir = ri.chroot_dir, .no_network = true };
	proc_demote_now(&demote);
	nodump_enforce();
	env = (struct worker_env){ .role = WORKER_RELAY, .cfg = &cfg, .auth_fd = -1,
	    .ctl_fd = RELAY_CTL_FD, .handoff_fd = RELAY_HANDOFF_FD };
	worker_main(&env);
}
