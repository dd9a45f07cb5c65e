/*
 * Master <-> child control messages on each child's SOCK_SEQPACKET socket,
 * described by one table (ctl_proto, see msg.h) that says which role may
 * send each type: children send audit records (each role only the events it
 * produces), gate workers report handoffs, authenticators report a gate
 * worker that broke the auth protocol; the master sends gate workers the
 * pool's state and the relay loads, authenticators replacement sockets and
 * relay workers their settings. The master kills a child that sends
 * anything the table refuses, or more than CTL_RATE_PER_SEC messages a
 * second beyond a burst.
 */
#ifndef TG_CTL_H
#define TG_CTL_H

#include <stddef.h>
#include <stdint.h>

#include "audit.h"
#include "msg.h"
#include "tg_limits.h"

#define CTL_PROTO_VERSION	2

enum ctl_type {
	CTL_AUDIT = 1,		/* authenticator, gate, relay -> master */
	CTL_AUTH_STATUS = 2,	/* master -> gate */
	CTL_RETIRE = 3,		/* master -> gate, auth: stop taking new work */
	CTL_RELAY_INIT = 4,	/* master -> relay worker, once, after exec */
	/* 5 was a relay worker's self-reported load; the master counts now. */
	CTL_RELAY_LOADS = 6,	/* master -> gate: every relay worker's count */
	CTL_HANDOFF = 7,	/* gate -> master: tunnel goes to relay worker */
	CTL_HANDOFF_FAILED = 8,	/* gate -> master: ... but it stayed here */
	CTL_GATE_BROKE = 9,	/* authenticator -> master: kill that gate */
	CTL_AUTH_SOCKET = 10,	/* master -> authenticator: a fresh gate socket */
};

/*
 * Messages a child may send per second, and the burst above that. A gate
 * worker sends at most about three per connection (open, handoff, close)
 * and TLS handshakes bound its connection rate far below this; every
 * tunnel a worker holds may end at once, so the master adds the
 * connection limit to the burst.
 */
#define CTL_RATE_PER_SEC	20000
#define CTL_RATE_BURST		20000

struct ctl_audit {
	struct msg_hdr		 hdr;
	struct audit_record	 rec;
};

struct ctl_auth_status {
	struct msg_hdr		 hdr;
	uint32_t		 alive;		/* authenticators running */
	uint32_t		 dead_pid;	/* one that just died, or 0 */
};

struct ctl_retire {
	struct msg_hdr		 hdr;
};

/* What a freshly exec'd relay worker needs; it reads no config file. */
struct ctl_relay_init {
	struct msg_hdr		 hdr;
	uint32_t		 slot;
	uint32_t		 timeout_idle_ms;
	uint32_t		 timeout_drain_ms;
	uint32_t		 limit_buffer_bytes;
	uint32_t		 limit_tunnels;
	uint32_t		 log_level;
	uint32_t		 log_syslog;
	uint32_t		 pad;
	char			 user[TG_USER_NAME_SIZE];	/* privsep.relay_user */
	char			 chroot_dir[4096];
};

struct ctl_relay_loads {
	struct msg_hdr		 hdr;
	uint32_t		 n;		/* relay workers */
	uint32_t		 capacity;	/* tunnels each may hold */
	uint32_t		 tunnels[TG_MAX_RELAY_WORKERS];	/* UINT32_MAX: down */
};

/*
 * Sent by a gate worker before the handoff message, so the master counts
 * the tunnel for that relay worker before the relay worker can close it;
 * CTL_HANDOFF_FAILED follows when no relay worker took it after all.
 */
struct ctl_handoff {
	struct msg_hdr		 hdr;
	uint32_t		 relay;		/* relay worker slot */
	uint32_t		 pad;
	uint64_t		 tunnel_id;
};

/* The gate socket of slot, pair serial, sent what why says. */
#define CTL_WHY_MAX	128

struct ctl_gate_broke {
	struct msg_hdr		 hdr;
	uint32_t		 slot;
	uint32_t		 serial;
	char			 why[CTL_WHY_MAX];
};

/* The authenticator end of slot's new socket pair travels as SCM_RIGHTS. */
struct ctl_auth_socket {
	struct msg_hdr		 hdr;
	uint32_t		 slot;
	uint32_t		 serial;
};

extern const struct msg_proto ctl_proto;

/* Large enough for any control message plus one byte. */
#define CTL_MSG_BUF	(sizeof(struct ctl_relay_init) + 1)

void	 ctl_hdr_init(struct msg_hdr *, enum ctl_type);
/*
 * Send a control message; if the socket is full wait up to a second, as the
 * master drains promptly. 0, or -1 with errno.
 */
int	 ctl_send(int ctl_fd, const void *msg, size_t len, const int *fds,
	    size_t nfds);
/* Send an audit record to the master; failures are logged, not fatal. */
void	 ctl_send_audit(int ctl_fd, const struct audit_record *);

#endif
