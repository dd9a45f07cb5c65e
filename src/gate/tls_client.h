/*
 * Client certificates in a gate worker: ask for one in the handshake as the
 * connection's listener says, say why one was refused, and copy the chain
 * the client sent for the authenticator, which verifies it again.
 */
#ifndef TG_TLS_CLIENT_H
#define TG_TLS_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/ssl.h>

#include "tls_client_ca.h"

/* Before the handshake. 0, or -1 out of memory. */
int	 tls_client_verify_setup(SSL *, const struct tls_client_ca *);
/*
 * After a failed handshake: why the client's certificate was refused
 * (static text), or NULL if the failure was not about it.
 */
const char *tls_client_refusal(const SSL *, unsigned long first_error);
/*
 * After the handshake: the client's leaf, then the certificates it sent
 * with it, as DER one after another into out. 0 with *len = 0 when it sent
 * none, -1 when the chain does not fit in cap.
 */
int	 tls_client_chain(const SSL *, uint8_t *out, size_t cap, uint32_t *len);

#endif
