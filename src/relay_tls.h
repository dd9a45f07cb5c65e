/*
 * The client endpoint of a tunnel in a relay worker: the TLS record layer
 * continued from a handed-over state (tls_record.h) behind the relay's
 * endpoint ops. Raw and sealed bytes sit in buffers that exist only while
 * data flows.
 */
#ifndef TG_RELAY_TLS_H
#define TG_RELAY_TLS_H

#include "relay.h"
#include "tls_state.h"

extern const struct relay_ops relay_tls_ops;

/*
 * Set up e (fd already set) from a validated state; the caller wipes its
 * copy. 0, or -1 with the reason in err.
 */
int	 relay_tls_init(struct relay_end *e, const struct tls_state *,
	    char *err, size_t errlen);

#endif
