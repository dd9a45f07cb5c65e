/*
 * Gate worker <-> key process: one request, one answer. A gate worker that
 * needs a handshake signature sends the digest (or, for RSA-PSS, the block
 * libcrypto has already padded) and waits for the signature; it never holds
 * the private key. Described by one table (key_proto, see msg.h); the key
 * process refuses anything else as the gate worker's fault.
 */
#ifndef TG_KEY_PROTO_H
#define TG_KEY_PROTO_H

#include <stdint.h>

#include "msg.h"
#include "tg_limits.h"

#define KEY_PROTO_VERSION	1

enum key_msg_type {
	KEY_MSG_SIGN = 1,	/* gate -> key */
	KEY_MSG_SIGNATURE = 2,	/* key -> gate */
};

/* The signatures TLS 1.2 and 1.3 ask a server for. */
enum key_scheme {
	KEY_SCHEME_ECDSA = 1,		/* data: the digest */
	KEY_SCHEME_RSA_PKCS1 = 2,	/* data: the digest */
	/*
	 * data: the EMSA-PSS block, key-sized; digest 0, as the key method
	 * hook that sends it is not told which one (key_sign.c finds it).
	 */
	KEY_SCHEME_RSA_PSS = 3,
};

/* The digests of TLS signature algorithms this gateway signs with. */
enum key_digest {
	KEY_DIGEST_SHA256 = 1,
	KEY_DIGEST_SHA384 = 2,
	KEY_DIGEST_SHA512 = 3,
};

struct key_sign {
	struct msg_hdr		 hdr;
	uint64_t		 req_id;	/* echoed in the answer */
	uint32_t		 scheme;	/* enum key_scheme */
	uint32_t		 digest;	/* enum key_digest, or 0 */
	uint32_t		 len;		/* of data */
	uint32_t		 pad;
	uint8_t			 data[TG_KEY_MAX_BYTES];
};

struct key_signature {
	struct msg_hdr		 hdr;
	uint64_t		 req_id;
	uint32_t		 len;		/* of sig; 0: refused */
	uint32_t		 pad;
	uint8_t			 sig[TG_KEY_MAX_BYTES];
};

extern const struct msg_proto key_proto;

/* Large enough for any key message plus one byte. */
#define KEY_MSG_BUF	(sizeof(struct key_sign) + 1)

/* Bytes of a digest, or 0 for a value that names none. */
size_t	 key_digest_size(uint32_t digest);

#endif
