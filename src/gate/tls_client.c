#include <openssl/err.h>
#include <openssl/x509.h>

#include "tls_client.h"

int
tls_client_verify_setup(SSL *ssl, const struct tls_client_ca *ca)
{
	STACK_OF(X509_NAME)	*names;

	if (ca->mode == CLIENT_AUTH_NONE)
		return 0;
	SSL_set_verify(ssl, SSL_VERIFY_PEER | (ca->mode == CLIENT_AUTH_REQUIRE ?
	    SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0), NULL);
	SSL_set_verify_depth(ssl, ca->depth);
	/* The store is shared by every connection of the listener. */
	if (SSL_set1_verify_cert_store(ssl, ca->store) != 1)
		return -1;
	/* CertificateRequest names the CAs, so a client picks the right one. */
	if ((names = SSL_dup_CA_list(ca->names)) == NULL)
		return -1;
	SSL_set_client_CA_list(ssl, names);
	return 0;
}

const char *
tls_client_refusal(const SSL *ssl, unsigned long first_error)
{
	long	 v = SSL_get_verify_result(ssl);

	if (v != X509_V_OK)
		return X509_verify_cert_error_string(v);
	if (ERR_GET_LIB(first_error) == ERR_LIB_SSL &&
	    ERR_GET_REASON(first_error) ==
	    SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE)
		return "no certificate sent";
	return NULL;
}

/* Append x's DER to out at *len; -1 if it does not fit. */
static int
chain_put(X509 *x, uint8_t *out, size_t cap, uint32_t *len)
{
	unsigned char	*p;
	int		 n;

	if ((n = i2d_X509(x, NULL)) <= 0 || (size_t)n > cap - *len)
		return -1;
	p = out + *len;
	if (i2d_X509(x, &p) != n)
		return -1;
	*len += (uint32_t)n;
	return 0;
}

int
tls_client_chain(const SSL *ssl, uint8_t *out, size_t cap, uint32_t *len)
{
	X509		*leaf = SSL_get0_peer_certificate(ssl);
	STACK_OF(X509)	*sent;

	*len = 0;
	if (leaf == NULL)
		return 0;
	if (chain_put(leaf, out, cap, len) == -1)
		return -1;
	/* On a server this stack holds what came after the leaf. */
	sent = SSL_get_peer_cert_chain(ssl);
	for (int i = 0; sent != NULL && i < sk_X509_num(sent); i++)
		if (chain_put(sk_X509_value(sent, i), out, cap, len) == -1)
			return -1;
	return 0;
}
