/*
 * The TLS connection state a gate worker hands to a relay worker with an
 * authorized tunnel: everything needed to continue the record layer in
 * another process. A fixed-size plain struct without pointers, so it travels
 * as bytes in the handoff message; the receiver runs tls_state_validate()
 * on it because the sender is less trusted than the receiver.
 *
 * Directions are named from the server's (our) side: read is client to
 * server, write is server to client. seq is the sequence number of the next
 * record in that direction.
 *
 * Each direction maps field for field onto Linux kernel TLS, so a later
 * kTLS path is setsockopt(fd, SOL_TLS, TLS_RX (read) / TLS_TX (write)):
 *   info.version       = version (TLS_1_2_VERSION, TLS_1_3_VERSION)
 *   info.cipher_type   = TLS_CIPHER_AES_GCM_128 for 0x1301 0xC02B 0xC02F,
 *                        TLS_CIPHER_AES_GCM_256 for 0x1302 0xC02C 0xC030,
 *                        TLS_CIPHER_CHACHA20_POLY1305 for 0x1303 0xCCA9 0xCCA8
 *   struct tls12_crypto_info_aes_gcm_128 / _256:
 *     key[16 / 32]     = key[0 .. key_len)
 *     salt[4]          = iv[0 .. 4)
 *     iv[8]            = TLS 1.3: iv[4 .. 12);
 *                        TLS 1.2: the next explicit nonce, which this
 *                        project's record layer sets to the sequence
 *                        number, so rec_seq (TX only; RX reads it from
 *                        each record)
 *     rec_seq[8]       = seq, big-endian
 *   struct tls12_crypto_info_chacha20_poly1305:
 *     key[32] = key, iv[12] = iv, rec_seq[8] = seq big-endian (no salt).
 * For TLS 1.3 the key and IV are HKDF-Expand-Label(secret, "key" / "iv")
 * and are carried ready to use; the secret travels as well because the
 * kernel does not follow KeyUpdate: whoever receives one derives the next
 * secret from it and installs new keys.
 */
#ifndef TG_TLS_STATE_H
#define TG_TLS_STATE_H

#include <stddef.h>
#include <stdint.h>

#define TLS_STATE_V12		0x0303
#define TLS_STATE_V13		0x0304

#define TLS_STATE_SECRET_MAX	48	/* SHA-384 */
#define TLS_STATE_KEY_MAX	32
#define TLS_STATE_IV_MAX	12

struct tls_state_dir {
	uint64_t	 seq;
	uint8_t		 secret[TLS_STATE_SECRET_MAX];	/* TLS 1.3 only */
	uint8_t		 key[TLS_STATE_KEY_MAX];
	uint8_t		 iv[TLS_STATE_IV_MAX];
	uint8_t		 secret_len;	/* hash length (1.3), 0 (1.2) */
	uint8_t		 key_len;	/* 16 or 32 */
	uint8_t		 iv_len;	/* 12; TLS 1.2 AES-GCM: 4, the salt */
	uint8_t		 reserved;	/* zero */
};

struct tls_state {
	uint16_t		 version;	/* TLS_STATE_V12 / _V13 */
	uint16_t		 suite;		/* IANA cipher suite id */
	uint32_t		 reserved;	/* zero */
	struct tls_state_dir	 read;		/* client -> server */
	struct tls_state_dir	 write;		/* server -> client */
};

/* The layout is part of the handoff protocol: no implicit padding. */
_Static_assert(sizeof(struct tls_state_dir) == 104, "tls_state_dir layout");
_Static_assert(sizeof(struct tls_state) == 216, "tls_state layout");

/*
 * 0 if the version and suite are supported and every length fits the suite,
 * with bytes past the lengths and reserved fields zero; else -1 with the
 * reason in err. Defined in tls_record.c, next to the suite table.
 */
int	 tls_state_validate(const struct tls_state *, char *err, size_t errlen);

#endif
