/*
 * The certificate chain of an auth request: bytes from a gate worker, so
 * parsed strictly (tests/fuzz/fuzz_cert_chain.c).
 */
#include <stdbool.h>
#include <string.h>

#include "auth_cert.h"

/*
 * d2i_X509() also takes some BER forms; only DER is accepted, so that what
 * is verified and fingerprinted is exactly the bytes the gate worker sent.
 */
static bool
cert_is_der(X509 *x, const unsigned char *der, size_t len)
{
	unsigned char	*enc = NULL;
	int		 n = i2d_X509(x, &enc);
	bool		 same = n > 0 && (size_t)n == len && memcmp(enc, der, len) == 0;

	OPENSSL_free(enc);
	return same;
}

int
auth_cert_chain_parse(const uint8_t *der, size_t len, X509 **leaf,
    STACK_OF(X509) **rest)
{
	const unsigned char	*p = der, *end = der + len;
	X509			*x;
	size_t			 n = 0;

	*leaf = NULL;
	*rest = NULL;
	while (p < end) {
		const unsigned char *start = p;

		if (n == AUTH_CHAIN_MAX_CERTS ||
		    (x = d2i_X509(NULL, &p, end - p)) == NULL)
			goto fail;
		if (!cert_is_der(x, start, (size_t)(p - start))) {
			X509_free(x);
			goto fail;
		}
		if (n++ == 0)
			*leaf = x;
		else if ((*rest == NULL &&
		    (*rest = sk_X509_new_null()) == NULL) ||
		    !sk_X509_push(*rest, x)) {
			X509_free(x);
			goto fail;
		}
	}
	if (*leaf != NULL)
		return 0;
fail:
	X509_free(*leaf);
	sk_X509_pop_free(*rest, X509_free);
	*leaf = NULL;
	*rest = NULL;
	return -1;
}
