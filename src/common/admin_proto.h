/*
 * The control socket's protocol: tunnelgatectl (root, on the master's Unix
 * SOCK_SEQPACKET socket, control.socket) sends one request and reads
 * replies until ADMIN_DONE. Described by one table (admin_proto, msg.h):
 * every message is fixed-size, versioned by its header, and a string field
 * must hold its NUL. The master reads a request as untrusted bytes like
 * any child message, and answers a malformed one with ADMIN_DONE
 * (ADMIN_REFUSED and the table's reason) before it closes the connection.
 */
#ifndef TG_ADMIN_PROTO_H
#define TG_ADMIN_PROTO_H

#include <stdint.h>

#include "audit.h"
#include "msg.h"

#define ADMIN_PROTO_VERSION	1

enum admin_type {
	ADMIN_REQUEST = 1,	/* admin -> master */
	ADMIN_TUNNEL = 2,	/* master -> admin: one row of status */
	ADMIN_DONE = 3,		/* master -> admin: the last reply */
};

enum admin_cmd {
	ADMIN_STATUS = 1,
	ADMIN_KILL = 2,
	ADMIN_RELOAD = 3,
	ADMIN_CACHE_FLUSH = 4,	/* arg: a user name (HTTP_CRED_MAX), "": all */
	ADMIN_CMD_MAX = ADMIN_CACHE_FLUSH
};

/* Which tunnels ADMIN_KILL ends. */
enum admin_select {
	ADMIN_BY_ID = 1,	/* tunnel_id */
	ADMIN_BY_USER = 2,	/* arg: the account name, exactly */
	ADMIN_BY_TARGET = 3,	/* arg: fnmatch(3) pattern on host:port */
	ADMIN_BY_CLIENT = 4,	/* arg: address or network, "10.0.0.0/8" */
	ADMIN_BY_MAX = ADMIN_BY_CLIENT
};

#define ADMIN_ARG_SIZE		(HTTP_HOST_MAX + 10)
#define ADMIN_TEXT_SIZE		512

struct admin_request {
	struct msg_hdr		 hdr;
	uint32_t		 cmd;		/* enum admin_cmd */
	uint32_t		 by;		/* ADMIN_KILL: enum admin_select */
	uint64_t		 tunnel_id;
	char			 arg[ADMIN_ARG_SIZE];
};

/* One live tunnel, as the master's table has it. */
struct admin_tunnel {
	struct msg_hdr		 hdr;
	uint64_t		 tunnel_id;
	uint64_t		 bytes_up, bytes_down;
	int64_t			 started_ms;	/* wall clock, ms since the epoch */
	uint32_t		 age_ms, idle_ms;
	uint32_t		 holder_pid;	/* 0: between processes */
	uint32_t		 gen;
	char			 holder[8];	/* "gate" or "relay" */
	struct audit_record	 facts;		/* user, client, target, ... */
};

enum admin_result {
	ADMIN_OK = 0,
	ADMIN_REFUSED = 1,	/* text says why */
};

struct admin_done {
	struct msg_hdr		 hdr;
	uint32_t		 result;	/* enum admin_result */
	uint32_t		 count;		/* rows sent, tunnels asked to end */
	char			 text[ADMIN_TEXT_SIZE];
};

extern const struct msg_proto admin_proto;

/* Large enough for any admin message plus one byte. */
#define ADMIN_MSG_BUF	(sizeof(struct admin_tunnel) + 1)

void	 admin_hdr_init(struct msg_hdr *, enum admin_type);

#endif
