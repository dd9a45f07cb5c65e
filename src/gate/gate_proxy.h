/*
 * The gate's end of the PROXY protocol: on a listener with proxy_protocol
 * set, only its balancers (proxy_trusted) may connect, and each connection
 * starts with their header naming the real client, read before the TLS
 * handshake and within its timeout.
 */
#ifndef TG_GATE_PROXY_H
#define TG_GATE_PROXY_H

#include <stdbool.h>
#include <sys/socket.h>

#include "config.h"

struct conn;

enum gate_proxy_status {
	GATE_PROXY_DONE,	/* header read; the TLS handshake is next */
	GATE_PROXY_WAIT,	/* more bytes needed */
	GATE_PROXY_CLOSE,	/* gone or refused: close without a word */
};

/* Whether peer may connect to l; a refusal is logged, rate-bounded. */
bool	 gate_proxy_allowed(const struct config_listener *l,
	    const struct sockaddr *peer, const char *peer_text);
/*
 * Read c's header off its socket and not one byte more. On DONE the client
 * fact is the header's source and FACT_PROXY the balancer.
 */
enum gate_proxy_status gate_proxy_read(struct conn *c);

#endif
