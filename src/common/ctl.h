/*
 * Master <-> child control messages on each child's SOCK_SEQPACKET socket.
 * Children send audit records; the master sends gate workers the
 * authenticator pool's state and tells a generation to retire. Fixed-size
 * and versioned like the authenticator protocol; the master kills a child
 * that sends anything malformed.
 */
#ifndef TG_CTL_H
#define TG_CTL_H

#include <stddef.h>
#include <stdint.h>

#include "audit.h"
#include "tg_limits.h"

#define CTL_PROTO_VERSION	1

enum ctl_type {
	CTL_AUDIT = 1,		/* child -> master */
	CTL_AUTH_STATUS = 2,	/* master -> gate */
	CTL_RETIRE = 3,		/* master -> child: stop taking new work */
	CTL_RELAY_INIT = 4,	/* master -> relay worker, once, after exec */
	CTL_RELAY_LOAD = 5,	/* relay worker -> master: its tunnel count */
	CTL_RELAY_LOADS = 6,	/* master -> gate: every relay worker's count */
};

struct ctl_hdr {
	uint16_t	 version;
	uint16_t	 type;
	uint32_t	 size;
};

struct ctl_audit {
	struct ctl_hdr		 hdr;
	struct audit_record	 rec;
};

struct ctl_auth_status {
	struct ctl_hdr		 hdr;
	uint32_t		 alive;		/* authenticators running */
	uint32_t		 dead_pid;	/* one that just died, or 0 */
};

struct ctl_retire {
	struct ctl_hdr		 hdr;
};

/* What a freshly exec'd relay worker needs; it reads no config file. */
struct ctl_relay_init {
	struct ctl_hdr		 hdr;
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

struct ctl_relay_load {
	struct ctl_hdr		 hdr;
	uint32_t		 tunnels;
	uint32_t		 pad;
};

struct ctl_relay_loads {
	struct ctl_hdr		 hdr;
	uint32_t		 n;		/* relay workers */
	uint32_t		 capacity;	/* tunnels each may hold */
	uint32_t		 tunnels[TG_MAX_RELAY_WORKERS];	/* UINT32_MAX: down */
};

void	 ctl_hdr_init(struct ctl_hdr *, enum ctl_type, size_t size);
/* Type of a valid message of n bytes, or -1. */
int	 ctl_msg_validate(const void *msg, size_t n);
/* Send an audit record to the master; failures are logged, not fatal. */
void	 ctl_send_audit(int ctl_fd, const struct audit_record *);

#endif
