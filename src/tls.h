/*
 * The gate side of TLS: the server context built by the master from the
 * config (inherited by gate workers at fork, so the private key is read by
 * root before any privilege is dropped) and the facts the audit log quotes.
 */
#ifndef TG_TLS_H
#define TG_TLS_H

#include <stddef.h>
#include <openssl/ssl.h>

#include "config.h"

/* Returns a ready context, or NULL after logging what is wrong and where. */
SSL_CTX	*tls_ctx_new(const struct config *);
void	 tls_facts(const SSL *, char *version, size_t vlen, char *cipher,
	    size_t clen);
/* The first error on OpenSSL's queue as text (clears the queue). */
const char *tls_error_string(void);

/* Relay endpoint ops over an SSL object (io = SSL *). */
struct relay_ops;
extern const struct relay_ops tls_relay_ops;

#endif
