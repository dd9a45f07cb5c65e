/*
 * Each listener's client CA store, built by the master as root from files
 * fs_check.c has checked: the CA file's certificates, the CRL file's CRLs,
 * the TLS client purpose and the verify depth. With a CRL file every
 * certificate of a chain must have its issuer's CRL there (CRL_CHECK_ALL):
 * a chain whose revocation cannot be checked is refused, not trusted.
 */
#include <stdbool.h>
#include <stdlib.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "log.h"
#include "tls.h"
#include "tls_client_ca.h"

static STACK_OF(X509_INFO) *
client_ca_read(const struct config *cfg, unsigned i, const char *setting,
    const char *path)
{
	STACK_OF(X509_INFO)	*infos = NULL;
	BIO			*bio;

	if ((bio = BIO_new_file(path, "r")) != NULL)
		infos = PEM_X509_INFO_read_bio(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (infos == NULL)
		log_warnx("%s: listen[%u].%s: cannot read %s: %s; it must be "
		    "PEM", cfg->path, i, setting, path, tls_error_string());
	return infos;
}

/* Certificates (want_crls false) or CRLs of path into ca; how many. */
static int
client_ca_add(const struct config *cfg, unsigned i, struct tls_client_ca *ca,
    const char *setting, const char *path, bool want_crls)
{
	STACK_OF(X509_INFO)	*infos;
	X509_INFO		*xi;
	X509_NAME		*name;
	int			 n = 0;

	if ((infos = client_ca_read(cfg, i, setting, path)) == NULL)
		return -1;
	for (int k = 0; k < sk_X509_INFO_num(infos); k++) {
		xi = sk_X509_INFO_value(infos, k);
		if (want_crls && xi->crl != NULL) {
			if (X509_STORE_add_crl(ca->store, xi->crl) != 1)
				goto fail;
			n++;
		} else if (!want_crls && xi->x509 != NULL) {
			if (X509_STORE_add_cert(ca->store, xi->x509) != 1)
				goto fail;
			name = X509_NAME_dup(X509_get_subject_name(xi->x509));
			if (name == NULL || !sk_X509_NAME_push(ca->names, name)) {
				X509_NAME_free(name);
				goto fail;
			}
			n++;
		}
	}
	sk_X509_INFO_pop_free(infos, X509_INFO_free);
	if (n == 0)
		log_warnx("%s: listen[%u].%s: %s holds no %s; give a PEM file "
		    "of them", cfg->path, i, setting, path,
		    want_crls ? "CRL" : "certificate");
	return n > 0 ? n : -1;
fail:
	log_warnx("%s: listen[%u].%s: %s: %s", cfg->path, i, setting, path,
	    tls_error_string());
	sk_X509_INFO_pop_free(infos, X509_INFO_free);
	return -1;
}

static int
client_ca_build(const struct config *cfg, unsigned i, struct tls_client_ca *ca)
{
	const struct config_listener	*l = &cfg->listeners[i];
	unsigned long			 flags = 0;

	ca->mode = l->client_auth;
	ca->depth = (int)l->client_verify_depth;
	if (ca->mode == CLIENT_AUTH_NONE)
		return 0;
	if ((ca->store = X509_STORE_new()) == NULL ||
	    (ca->names = sk_X509_NAME_new_null()) == NULL) {
		log_warnx("client CAs: out of memory");
		return -1;
	}
	if (client_ca_add(cfg, i, ca, "client_ca_file", l->client_ca_file,
	    false) == -1)
		return -1;
	if (l->client_crl_file[0] != '\0') {
		if (client_ca_add(cfg, i, ca, "client_crl_file",
		    l->client_crl_file, true) == -1)
			return -1;
		flags = X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL;
	}
	if ((flags != 0 && X509_STORE_set_flags(ca->store, flags) != 1) ||
	    X509_STORE_set_purpose(ca->store, X509_PURPOSE_SSL_CLIENT) != 1 ||
	    X509_STORE_set_depth(ca->store, ca->depth) != 1) {
		log_warnx("%s: listen[%u]: %s", cfg->path, i,
		    tls_error_string());
		return -1;
	}
	return 0;
}

struct tls_client_ca_set *
tls_client_ca_load(const struct config *cfg)
{
	struct tls_client_ca_set	*set;

	if ((set = calloc(1, sizeof(*set))) == NULL) {
		log_warn("client CAs: calloc");
		return NULL;
	}
	for (set->n = 0; set->n < cfg->n_listeners; set->n++)
		if (client_ca_build(cfg, set->n, &set->l[set->n]) == -1) {
			set->n++;
			tls_client_ca_free(set);
			return NULL;
		}
	return set;
}

void
tls_client_ca_free(struct tls_client_ca_set *set)
{
	if (set == NULL)
		return;
	for (unsigned i = 0; i < set->n; i++) {
		X509_STORE_free(set->l[i].store);
		sk_X509_NAME_pop_free(set->l[i].names, X509_NAME_free);
	}
	free(set);
}
