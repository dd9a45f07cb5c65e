/*
 * A client certificate as the authenticator sees it: verified again, then
 * the audit's subject and fingerprint and the user name taken from it.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "auth.h"
#include "auth_cert.h"

static int
cert_verify(const struct tls_client_ca *ca, X509 *leaf, STACK_OF(X509) *rest,
    char *reason, size_t reasonlen)
{
	X509_STORE_CTX	*ctx;
	int		 ok = -1;

	if ((ctx = X509_STORE_CTX_new()) == NULL ||
	    X509_STORE_CTX_init(ctx, ca->store, leaf, rest) != 1) {
		snprintf(reason, reasonlen, "client certificate: out of memory");
		goto out;
	}
	/* The store carries the purpose, depth and CRL flags. */
	if (X509_verify_cert(ctx) == 1)
		ok = 0;
	else
		snprintf(reason, reasonlen, "client certificate: %s",
		    X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
out:
	X509_STORE_CTX_free(ctx);
	return ok;
}

static void
cert_facts(X509 *leaf, struct auth_cert *out)
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0;
	BIO		*bio;
	int		 n;

	if (X509_digest(leaf, EVP_sha256(), md, &mdlen) == 1 && mdlen == 32)
		for (unsigned i = 0; i < mdlen; i++)
			snprintf(out->sha256 + 2 * i, 3, "%02x", md[i]);
	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		return;
	if (X509_NAME_print_ex(bio, X509_get_subject_name(leaf), 0,
	    XN_FLAG_RFC2253) >= 0 &&
	    (n = BIO_read(bio, out->subject, sizeof(out->subject) - 1)) > 0)
		out->subject[n] = '\0';
	BIO_free(bio);
}

/* An ASN.1 string as a C string of at most size - 1 bytes, no NUL inside. */
static int
cert_string(const ASN1_STRING *s, char *dst, size_t size)
{
	unsigned char	*utf8 = NULL;
	int		 n = ASN1_STRING_to_UTF8(&utf8, s);
	int		 ok = n > 0 && (size_t)n < size &&
			    memchr(utf8, '\0', (size_t)n) == NULL;

	if (ok) {
		memcpy(dst, utf8, (size_t)n);
		dst[n] = '\0';
	}
	OPENSSL_free(utf8);
	return ok ? 0 : -1;
}

static const char *
cert_cn(X509 *leaf, char *name, size_t size)
{
	const X509_NAME	*subj = X509_get_subject_name(leaf);
	int		 i = X509_NAME_get_index_by_NID(subj, NID_commonName, -1);

	if (i < 0)
		return "no subject CN";
	if (X509_NAME_get_index_by_NID(subj, NID_commonName, i) >= 0)
		return "more than one subject CN";
	if (cert_string(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i)),
	    name, size) == -1)
		return "subject CN is not a name";
	return NULL;
}

/* The one SAN of type gen (GEN_EMAIL or GEN_URI). */
static const char *
cert_san(X509 *leaf, int gen, char *name, size_t size)
{
	GENERAL_NAMES	*sans;
	GENERAL_NAME	*g;
	const char	*why = "no such subjectAltName";
	int		 found = 0;

	sans = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; sans != NULL && i < sk_GENERAL_NAME_num(sans); i++) {
		g = sk_GENERAL_NAME_value(sans, i);
		if (g->type != gen)
			continue;
		if (found++ > 0) {
			why = "more than one such subjectAltName";
			break;
		}
		why = cert_string(g->d.ia5, name, size) == 0 ? NULL :
		    "subjectAltName is not a name";
	}
	GENERAL_NAMES_free(sans);
	return why;
}

static const char *
cert_name(const struct config *cfg, X509 *leaf, char *name, size_t size)
{
	char		 uri[AUTH_USER_MAX + TG_CERT_URI_PREFIX_SIZE];
	size_t		 plen = strlen(cfg->auth_cert_uri_prefix);
	const char	*why;

	switch (cfg->auth_cert_name) {
	case CERT_NAME_SUBJECT_CN:
		why = cert_cn(leaf, name, size);
		break;
	case CERT_NAME_SAN_EMAIL:
		why = cert_san(leaf, GEN_EMAIL, name, size);
		break;
	default:
		if ((why = cert_san(leaf, GEN_URI, uri, sizeof(uri))) != NULL)
			break;
		if (strncmp(uri, cfg->auth_cert_uri_prefix, plen) != 0)
			return "URI outside auth.certificate_uri_prefix";
		if (strlen(uri + plen) >= size)
			return "URI names a user too long";
		memcpy(name, uri + plen, strlen(uri + plen) + 1);
	}
	if (why == NULL)
		why = auth_user_refusal(name);
	return why;
}

enum auth_verdict
auth_cert_check(const struct config *cfg, const struct tls_client_ca_set *cas,
    const struct auth_request *req, struct auth_cert *out, char *reason,
    size_t reasonlen)
{
	const struct tls_client_ca	*ca;
	STACK_OF(X509)			*rest = NULL;
	X509				*leaf = NULL;
	enum auth_verdict		 v = AUTH_BAD_CREDENTIALS;
	const char			*why;

	memset(out, 0, sizeof(*out));
	if (req->chain_len == 0)
		return AUTH_ALLOW;
	/* The gate worker names the listener; one without CAs has no chain. */
	if (req->listener >= cas->n ||
	    (ca = &cas->l[req->listener])->mode == CLIENT_AUTH_NONE) {
		snprintf(reason, reasonlen, "client certificate on a listener "
		    "that asks for none");
		return AUTH_BAD_CREDENTIALS;
	}
	if (auth_cert_chain_parse(req->chain, req->chain_len, &leaf,
	    &rest) == -1) {
		snprintf(reason, reasonlen, "client certificate: not DER");
		return AUTH_BAD_CREDENTIALS;
	}
	/* Audited even when refused: what the gate worker sent. */
	cert_facts(leaf, out);
	if (cert_verify(ca, leaf, rest, reason, reasonlen) == -1)
		goto out;
	out->present = true;
	if (cfg->auth_identity != AUTH_IDENTITY_PASSWORD &&
	    (why = cert_name(cfg, leaf, out->name, sizeof(out->name))) != NULL) {
		snprintf(reason, reasonlen, "client certificate: %s", why);
		out->name[0] = '\0';
		goto out;
	}
	v = AUTH_ALLOW;
out:
	X509_free(leaf);
	sk_X509_pop_free(rest, X509_free);
	return v;
}
