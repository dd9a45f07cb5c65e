/*
 * The certificate chain of an auth request (auth_cert_chain_parse()), as an
 * authenticator receives it from a possibly compromised gate worker.
 * Besides memory errors, abort when a chain is accepted that is not
 * exactly its certificates back to back: re-encoding them must give the
 * input, and there are at most AUTH_CHAIN_MAX_CERTS.
 */
#include <stdlib.h>
#include <string.h>

#include "auth_cert.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(int cond)
{
	if (!cond)
		abort();
}

/* Append x's encoding at out + *off; its length must fit in cap. */
static void
put(X509 *x, uint8_t *out, size_t cap, size_t *off)
{
	unsigned char	*p = out + *off;
	int		 n = i2d_X509(x, NULL);

	check(n > 0 && (size_t)n <= cap - *off);
	check(i2d_X509(x, &p) == n);
	*off += (size_t)n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t	 again[TG_MAX_CLIENT_CHAIN_BYTES * 2];
	STACK_OF(X509)	*rest;
	X509		*leaf;
	size_t		 off = 0;

	if (size > TG_MAX_CLIENT_CHAIN_BYTES)
		return 0;
	if (auth_cert_chain_parse(data, size, &leaf, &rest) == -1) {
		check(leaf == NULL && rest == NULL);
		return 0;
	}
	check(leaf != NULL);
	check(1 + (rest != NULL ? (size_t)sk_X509_num(rest) : 0) <=
	    AUTH_CHAIN_MAX_CERTS);
	put(leaf, again, sizeof(again), &off);
	for (int i = 0; rest != NULL && i < sk_X509_num(rest); i++)
		put(sk_X509_value(rest, i), again, sizeof(again), &off);
	check(off == size && memcmp(again, data, size) == 0);
	X509_free(leaf);
	sk_X509_pop_free(rest, X509_free);
	return 0;
}
