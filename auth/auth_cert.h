/*
 * Client certificates in the authenticator. A gate worker verified the
 * client's certificate in the handshake, but a compromised gate worker
 * could claim anything, so the authenticator parses the DER chain the
 * request carries, verifies it again against the listener's CAs and CRLs
 * (the master's store, inherited at fork), and takes the subject, the
 * fingerprint and the user name from what it verified itself.
 */
#ifndef TG_AUTH_CERT_H
#define TG_AUTH_CERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/x509.h>

#include "auth_proto.h"
#include "config.h"
#include "tls_client_ca.h"

/* Certificates in a chain a request may carry: leaf, intermediates, root. */
#define AUTH_CHAIN_MAX_CERTS	(TG_MAX_CLIENT_VERIFY_DEPTH + 2)
#define AUTH_CERT_SHA256_HEX	(2 * 32 + 1)

struct auth_cert {
	bool	 present;
	char	 subject[TG_CERT_SUBJECT_SIZE];		/* RFC 2253 */
	char	 sha256[AUTH_CERT_SHA256_HEX];		/* of the leaf's DER */
	char	 name[AUTH_USER_MAX + 1];	/* auth.certificate_name's field */
};

/*
 * DER certificates back to back, nothing else: the first into *leaf, the
 * rest into *rest (NULL if none). 0, or -1 for anything that is not
 * between 1 and AUTH_CHAIN_MAX_CERTS whole certificates.
 */
int	 auth_cert_chain_parse(const uint8_t *der, size_t len, X509 **leaf,
	    STACK_OF(X509) **rest);

/*
 * The request's chain, if any, verified against the store of the listener
 * the request names. AUTH_ALLOW with *out filled (present false when the
 * request carries none), else AUTH_BAD_CREDENTIALS with reason set (no
 * secrets): unparsable, not verified, or no usable name in the field
 * cfg->auth_cert_name when the name is needed.
 */
enum auth_verdict auth_cert_check(const struct config *cfg,
	    const struct tls_client_ca_set *cas, const struct auth_request *req,
	    struct auth_cert *out, char *reason, size_t reasonlen);

#endif
