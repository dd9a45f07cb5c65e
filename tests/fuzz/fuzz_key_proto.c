/*
 * The key protocol on arbitrary bytes, as a key process receives them from
 * a possibly compromised gate worker (and a gate worker from its key
 * process), then, for a request the table accepts, the key process's own
 * check and signature with a P-256 and an RSA-2048 key. Besides memory
 * errors, abort when an accepted message breaks what its receiver relies
 * on: direction, exact size, a known scheme and digest, a digest of the
 * size its name says, a PSS block of an allowed key size; and when a
 * signature comes out empty or longer than its field, for a scheme of the
 * other key type, or over a PSS block not the key's size.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "key_proto.h"
#include "key_sign.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct key_signer	*ec_key, *rsa_key;

static void
check(int cond)
{
	if (!cond)
		abort();
}

static void
check_sign(const struct key_sign *r)
{
	size_t	 dlen = key_digest_size(r->digest);

	switch (r->scheme) {
	case KEY_SCHEME_ECDSA:
	case KEY_SCHEME_RSA_PKCS1:
		check(dlen != 0 && r->len == dlen);
		break;
	case KEY_SCHEME_RSA_PSS:
		check(r->digest == 0 && r->len >= TG_KEY_MIN_RSA_BITS / 8 &&
		    r->len <= TG_KEY_MAX_BYTES);
		break;
	default:
		abort();
	}
}

static void
sign_with(struct key_signer *s, bool is_ec, size_t size,
    const struct key_sign *r)
{
	uint8_t		 sig[TG_KEY_MAX_BYTES];
	size_t		 len = 0;
	const char	*why;

	if (key_sign(s, r, sig, &len, &why) != 0)
		return;
	check(len > 0 && len <= sizeof(sig));
	check(is_ec == (r->scheme == KEY_SCHEME_ECDSA));
	if (r->scheme == KEY_SCHEME_RSA_PSS)
		check(r->len == size);
}

static void
check_one(const uint8_t *data, size_t size, unsigned from, unsigned to)
{
	const struct msg_type	*t;
	struct key_sign		 req;
	struct key_signature	 ans;
	const char		*why = NULL;

	t = msg_validate(&key_proto, data, size, 0, from, to, &why);
	if (t == NULL) {
		check(why != NULL);
		return;
	}
	check(size < KEY_MSG_BUF);
	switch (t->type) {
	case KEY_MSG_SIGN:
		check(from == MSG_GATE && to == MSG_KEY);
		check(size == sizeof(req));
		memcpy(&req, data, sizeof(req));
		check_sign(&req);
		sign_with(ec_key, true, 64, &req);
		sign_with(rsa_key, false, 256, &req);
		break;
	case KEY_MSG_SIGNATURE:
		check(from == MSG_KEY && to == MSG_GATE);
		check(size == sizeof(ans));
		memcpy(&ans, data, sizeof(ans));
		check(ans.len <= sizeof(ans.sig));
		break;
	default:
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned	 roles[] = {
		MSG_MASTER, MSG_AUTH, MSG_GATE, MSG_RELAY, MSG_KEY
	};

	if (ec_key == NULL) {
		ec_key = key_signer_new(EVP_PKEY_Q_keygen(NULL, NULL, "EC",
		    "P-256"));
		rsa_key = key_signer_new(EVP_PKEY_Q_keygen(NULL, NULL, "RSA",
		    (size_t)2048));
		check(ec_key != NULL && rsa_key != NULL);
	}
	for (size_t f = 0; f < 5; f++)
		for (size_t t = 0; t < 5; t++)
			check_one(data, size, roles[f], roles[t]);
	return 0;
}
