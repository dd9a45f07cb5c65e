/*
 * The client endpoint of a tunnel in a relay worker: the TLS record layer
 * continued from a handed-over state (tls_record.h) behind the relay's
 * endpoint ops. Raw and sealed bytes sit in buffers that exist only while
 * data flows.
 */
#ifndef TG_RECORD_PUMP_H
#define TG_RECORD_PUMP_H

#include "pump.h"
#include "tls_state.h"

extern const struct pump_ops record_pump_ops;

/*
 * Set up e (fd already set) from a validated state; the caller wipes its
 * copy. 0, or -1 with the reason in err.
 */
int	 record_pump_init(struct pump_end *e, const struct tls_state *,
	    char *err, size_t errlen);

#endif
