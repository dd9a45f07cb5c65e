/*
 * TLS session tickets (TLS 1.3 and 1.2) sealed with the master's keys, so a
 * ticket one gate worker gave resumes in any other, across reloads and
 * worker restarts. 0-RTT stays off: early data could be replayed.
 */
#ifndef TG_TLS_TICKETS_H
#define TG_TLS_TICKETS_H

#include <openssl/ssl.h>

#include "config.h"
#include "ctl.h"

/*
 * On a server context (in the master): tickets on and sealed by the
 * callback, or off when lifetime_ms is 0. context names what a session
 * may be resumed under (a context with other client checks needs another
 * name). 0, or -1 after logging.
 */
int	 tls_tickets_ctx_init(SSL_CTX *, unsigned lifetime_ms,
	    const char *context);
/*
 * Before a connection's handshake: its sessions resume only on a listener
 * with the same address, port and client certificate settings, so a
 * ticket given where no certificate was asked cannot skip the check of a
 * listener that asks for one. 0, or -1 (OpenSSL's error queue says why).
 */
int	 tls_tickets_conn_init(SSL *, const struct config_listener *);
/* In a gate worker: use these keys from now on (the message is validated). */
void	 tls_tickets_take(const struct ctl_ticket_keys *);

#endif
