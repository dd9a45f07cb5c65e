/*
 * Gate worker -> relay worker: one authorized tunnel. The client and backend
 * sockets travel as SCM_RIGHTS, this message carries the TLS record state
 * (struct tls_state), what the audit close record needs, the byte counts so
 * far, and the plaintext the client sent that the backend has not received
 * yet. The gate hands off only at a clean point: the 200 and everything the
 * backend sent are written, nothing is left inside libssl.
 */
#ifndef TG_HANDOFF_H
#define TG_HANDOFF_H

#include <stddef.h>
#include <stdint.h>

#include "audit.h"
#include "msg.h"
#include "tls_state.h"

#define HANDOFF_PROTO_VERSION	2
#define HANDOFF_DATA_MAX	(64 * 1024)	/* pipelined bytes carried */

/* The protocol's one type, with the client and backend sockets attached. */
#define HANDOFF_TUNNEL		1

struct handoff_msg {
	struct msg_hdr		 hdr;		/* size: header + data_len */
	uint64_t		 bytes_up, bytes_down;
	int64_t			 opened_ms;	/* CLOCK_MONOTONIC, shared */
	uint32_t		 data_len;	/* plaintext for the backend */
	uint32_t		 status_bytes;	/* the 200, counted in bytes_down */
	struct tls_state	 tls;
	struct audit_record	 facts;
	uint8_t			 data[];
};

#define HANDOFF_MSG_MAX	(sizeof(struct handoff_msg) + HANDOFF_DATA_MAX)

/* The gate -> relay table (handoff_proto.c); a relay drops what it refuses. */
extern const struct msg_proto handoff_proto;

#endif
