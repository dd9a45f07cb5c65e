/*
 * The gate <-> key process table. Only the shape is judged here: a known
 * scheme and digest, and a length that fits them. Whether the request fits
 * the key the process holds is the key process's check (key_sign.c).
 */
#include <string.h>

#include "key_proto.h"

size_t
key_digest_size(uint32_t digest)
{
	switch (digest) {
	case KEY_DIGEST_SHA256:
		return 32;
	case KEY_DIGEST_SHA384:
		return 48;
	case KEY_DIGEST_SHA512:
		return 64;
	}
	return 0;
}

static int
sign_check(const void *msg, size_t n, size_t nfds, unsigned from,
    const char **why)
{
	struct key_sign	 m;
	size_t		 dlen;

	(void)n;
	(void)nfds;
	(void)from;
	memcpy(&m, msg, sizeof(m));
	dlen = key_digest_size(m.digest);
	switch (m.scheme) {
	case KEY_SCHEME_ECDSA:
	case KEY_SCHEME_RSA_PKCS1:
		if (dlen == 0) {
			*why = "sign: unknown digest";
			return -1;
		}
		if (m.len != dlen) {
			*why = "sign: data is not a digest of the named size";
			return -1;
		}
		return 0;
	case KEY_SCHEME_RSA_PSS:
		if (m.digest != 0) {
			*why = "sign: a PSS request names a digest";
			return -1;
		}
		if (m.len < TG_KEY_MIN_RSA_BITS / 8 || m.len > sizeof(m.data)) {
			*why = "sign: PSS block of no allowed key size";
			return -1;
		}
		return 0;
	}
	*why = "sign: unknown signature scheme";
	return -1;
}

static int
signature_check(const void *msg, size_t n, size_t nfds, unsigned from,
    const char **why)
{
	struct key_signature	 m;

	(void)n;
	(void)nfds;
	(void)from;
	memcpy(&m, msg, sizeof(m));
	if (m.len > sizeof(m.sig)) {
		*why = "signature: longer than its field";
		return -1;
	}
	return 0;
}

static const struct msg_type key_types[] = {
	MSG_FIXED(KEY_MSG_SIGN, "sign", struct key_sign,
	    MSG_GATE, MSG_KEY, 0, 0, sign_check),
	MSG_FIXED(KEY_MSG_SIGNATURE, "signature", struct key_signature,
	    MSG_KEY, MSG_GATE, 0, 0, signature_check),
};

const struct msg_proto key_proto = {
	"key", KEY_PROTO_VERSION, key_types,
	sizeof(key_types) / sizeof(key_types[0])
};

_Static_assert(sizeof(struct key_sign) >= sizeof(struct key_signature),
    "KEY_MSG_BUF holds every key message");
