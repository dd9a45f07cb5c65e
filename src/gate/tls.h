/*
 * TLS for gate workers: the server context (built by the master in
 * src/master/tls_ctx.c, inherited at fork), the facts the audit log quotes
 * and the pump endpoint over libssl.
 */
#ifndef TG_TLS_H
#define TG_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <openssl/ssl.h>

#include "config.h"

/*
 * Returns a ready context, or NULL after logging what is wrong and where.
 * Its key is the key processes' stand-in: check tls.key first.
 */
SSL_CTX	*tls_ctx_new(const struct config *);
/* key_check_files() in an exec'd `tunnelgated -K`: 0, or -1 after logging. */
int	 tls_key_check_exec(const struct config *);
void	 tls_facts(const SSL *, char *version, size_t vlen, char *cipher,
	    size_t clen);
/* The first error on OpenSSL's queue as text (clears the queue). */
const char *tls_error_string(void);

/*
 * For a tunnel that stays in this worker: libssl reads ahead, several
 * records per read(). Never for one that may still be handed off.
 */
void	 tls_read_ahead(SSL *);
/*
 * For such a tunnel too: the records of one write leave together
 * (tls_batch.c). Without memory for it, a write per record, logged.
 */
void	 tls_batch_writes(SSL *);
/* Bytes sealed for the client and not yet written; 0 when not batched. */
size_t	 tls_batch_pending(SSL *);
/*
 * The caller's bytes whose records wait in the batch: told to the caller
 * as written only once they are (tls.c, tls_write()). 0 when not batched.
 */
size_t	 tls_batch_queued(SSL *);
void	 tls_batch_set_queued(SSL *, size_t);
/* Note our close_notify handed to the batch; false when not batched. */
bool	 tls_batch_mark_closed(SSL *);
bool	 tls_batch_closed(SSL *);

/* Relay endpoint ops over an SSL object (io = SSL *). */
struct pump_ops;
extern const struct pump_ops ssl_pump_ops;

#endif
