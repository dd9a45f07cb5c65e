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

#define CTL_PROTO_VERSION	1

enum ctl_type {
	CTL_AUDIT = 1,		/* child -> master */
	CTL_AUTH_STATUS = 2,	/* master -> gate */
	CTL_RETIRE = 3,		/* master -> child: stop taking new work */
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

void	 ctl_hdr_init(struct ctl_hdr *, enum ctl_type, size_t size);
/* Type of a valid message of n bytes, or -1. */
int	 ctl_msg_validate(const void *msg, size_t n);
/* Send an audit record to the master; failures are logged, not fatal. */
void	 ctl_send_audit(int ctl_fd, const struct audit_record *);

#endif
