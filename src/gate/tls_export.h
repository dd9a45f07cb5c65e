/*
 * Gate side of the handoff: take a finished server connection's record
 * state out of libssl with public APIs only, as a struct tls_state for a
 * relay worker.
 *
 * libssl does not expose traffic secrets or sequence numbers, so they are
 * observed while the connection runs: the keylog callback reports each
 * TLS 1.3 application traffic secret (_0, and _N after a KeyUpdate) and the
 * message callback counts record headers per direction. TLS 1.2 keys come
 * from the master secret and the randoms through the TLS PRF.
 *
 * Use:
 *   tls_export_ctx_init(ctx)	once per SSL_CTX, before any SSL_new on it,
 *				on every context a connection can end up on
 *				(the keylog callback is looked up on the
 *				SSL's current context). It takes over the
 *				context's keylog and message callbacks.
 *   tls_export_attach(ssl)	after SSL_new, before the handshake. Only
 *				attached connections are tracked, so a
 *				failure is reported here rather than lost
 *				in a callback.
 *   tls_export(ssl, ...)	after the handshake, the request and the 200;
 *				see its comment for the rules before it.
 *   tls_export_detach(ssl)	when the connection will not be exported
 *				after all: its copy of the secrets goes at
 *				once and its records are no longer counted.
 * The per-connection state is wiped and freed with the SSL (SSL_free).
 */
#ifndef TG_TLS_EXPORT_H
#define TG_TLS_EXPORT_H

#include <stddef.h>
#include <stdbool.h>

#include <openssl/ssl.h>

#include "tls_state.h"

/* 0, or -1 if libssl has no ex_data index left. */
int	 tls_export_ctx_init(SSL_CTX *);
/* 0, or -1 on allocation failure or without tls_export_ctx_init. */
int	 tls_export_attach(SSL *);

/*
 * Whether libssl has read a record's header and waits for its body: it
 * keeps those bytes where neither SSL_pending nor SSL_has_pending looks,
 * and has counted the record. A handoff waits until the record is whole.
 */
bool	 tls_export_mid_record(const SSL *);
void	 tls_export_detach(SSL *);

/*
 * Fill *out with the connection's state, then wipe what was captured.
 * Preconditions, each checked: handshake finished, read-ahead off (the
 * default; tls_export_ctx_init turns it off), no plaintext or record bytes
 * left inside libssl (SSL_pending and SSL_has_pending both 0, no record
 * header without its body: stop calling
 * SSL_read once the request is complete, except to drain SSL_pending into
 * the pipelined bytes), the last SSL_write complete, no KeyUpdate owed, no
 * shutdown begun, and a supported version and suite. Session tickets
 * written after the handshake are records like any other: counted in the
 * write sequence number.
 * Returns 0, or -1 with the reason in err and *out zeroed. Once the state
 * has been sent to a relay worker the SSL must not send or receive again:
 * SSL_set_quiet_shutdown(ssl, 1) and SSL_free without SSL_shutdown, so no
 * close_notify reaches the client. Until then it may go on relaying.
 */
int	 tls_export(SSL *, struct tls_state *out, char *err, size_t errlen);

#endif
