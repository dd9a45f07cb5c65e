/*
 * The PROXY protocol header (v1 text, v2 binary) a load balancer sends
 * before anything of the client's, naming the client it relays. The parser
 * is strict and bounded: it reads at most TG_PROXY_MAX_BYTES, never past
 * the header, and anything the specification does not allow is refused.
 */
#ifndef TG_PROXY_PROTO_H
#define TG_PROXY_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "tg_limits.h"

/* Versions a listener accepts; a mask. */
#define PROXY_V1	0x1
#define PROXY_V2	0x2
#define PROXY_ANY	(PROXY_V1 | PROXY_V2)

#define PROXY_PARSE_OK		0
#define PROXY_PARSE_INCOMPLETE	1	/* more bytes needed */
#define PROXY_PARSE_BAD		(-1)

struct proxy_header {
	unsigned		 version;	/* 1 or 2 */
	/*
	 * The balancer's own connection (v2 LOCAL, v1 UNKNOWN), such as a
	 * health check: no client is named, src and dst are unset.
	 */
	bool			 local;
	struct sockaddr_storage	 src, dst;	/* AF_INET or AF_INET6 */
	size_t			 len;		/* bytes the header takes */
};

/*
 * Parse the header at the start of p[0..n) for one of the versions (a mask).
 * PROXY_PARSE_OK fills *h; PROXY_PARSE_INCOMPLETE when the bytes so far are
 * a valid beginning (never once n reaches TG_PROXY_MAX_BYTES);
 * PROXY_PARSE_BAD with *why, a fixed string saying what is wrong.
 */
int	 proxy_parse(const uint8_t *p, size_t n, unsigned versions,
	    struct proxy_header *h, const char **why);

#endif
