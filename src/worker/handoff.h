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
#include "tls_state.h"

#define HANDOFF_PROTO_VERSION	1
#define HANDOFF_DATA_MAX	(64 * 1024)	/* pipelined bytes carried */

struct handoff_msg {
	uint16_t		 version;
	uint16_t		 pad;
	uint32_t		 size;		/* header + data_len */
	uint64_t		 bytes_up, bytes_down;
	int64_t			 opened_ms;	/* CLOCK_MONOTONIC, shared */
	uint32_t		 data_len;	/* plaintext for the backend */
	uint32_t		 status_bytes;	/* the 200, counted in bytes_down */
	struct tls_state	 tls;
	struct audit_record	 facts;
	uint8_t			 data[];
};

#define HANDOFF_MSG_MAX	(sizeof(struct handoff_msg) + HANDOFF_DATA_MAX)

/* 0 if a received message of n bytes is well-formed, else -1 and why. */
int	 handoff_validate(const struct handoff_msg *, size_t n, char *why,
	    size_t whylen);

#endif
