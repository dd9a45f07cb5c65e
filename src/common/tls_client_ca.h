/*
 * Client certificate verification of each listener: the trust store built
 * by the master from listen[].client_ca_file and client_crl_file (after
 * fs_check.c checked them), inherited at fork by the gate workers, which
 * ask for and verify certificates in the handshake, and by the
 * authenticators, which verify the chain a gate worker forwards once more
 * before they take a name from it. A reload builds a new set, so new CA and
 * CRL files apply to the new generation's connections.
 */
#ifndef TG_TLS_CLIENT_CA_H
#define TG_TLS_CLIENT_CA_H

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "config.h"

struct tls_client_ca {
	enum client_auth	 mode;
	int			 depth;
	X509_STORE		*store;		/* CAs, CRLs, purpose, depth */
	STACK_OF(X509_NAME)	*names;		/* sent in CertificateRequest */
};

struct tls_client_ca_set {
	unsigned		 n;
	struct tls_client_ca	 l[TG_MAX_LISTENERS];	/* as cfg->listeners */
};

/* NULL after logging which file of which listener is wrong and why. */
struct tls_client_ca_set *tls_client_ca_load(const struct config *);
void	 tls_client_ca_free(struct tls_client_ca_set *);

#endif
