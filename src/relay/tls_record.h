/*
 * The relay worker's TLS record layer: continues a connection handed over
 * from a gate worker (struct tls_state) with libcrypto EVP AEAD calls only.
 * One struct tls_record_dir per direction, each holding one EVP_CIPHER_CTX
 * that is reused for every record.
 *
 * Per-record calls report problems through struct tls_record_error: a
 * static reason for the audit close reason and the alert to send the peer
 * (seal it with tls_record_seal_alert on the write direction, then close).
 */
#ifndef TG_TLS_RECORD_H
#define TG_TLS_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/types.h>

#include "tls_state.h"

/* Content types (RFC 8446 §5.1). */
#define TLS_CT_CHANGE_CIPHER_SPEC	20
#define TLS_CT_ALERT			21
#define TLS_CT_HANDSHAKE		22
#define TLS_CT_APPLICATION_DATA		23

/* Alert descriptions (RFC 8446 §6, RFC 5246 §7.2). */
#define TLS_ALERT_NONE			-1	/* send nothing */
#define TLS_ALERT_CLOSE_NOTIFY		0
#define TLS_ALERT_UNEXPECTED_MESSAGE	10
#define TLS_ALERT_BAD_RECORD_MAC	20
#define TLS_ALERT_RECORD_OVERFLOW	22
#define TLS_ALERT_HANDSHAKE_FAILURE	40
#define TLS_ALERT_ILLEGAL_PARAMETER	47
#define TLS_ALERT_DECODE_ERROR		50
#define TLS_ALERT_PROTOCOL_VERSION	70
#define TLS_ALERT_INTERNAL_ERROR	80
#define TLS_ALERT_USER_CANCELED		90
#define TLS_ALERT_NO_RENEGOTIATION	100

#define TLS_RECORD_HEADER_LEN	5
#define TLS_RECORD_MAX_PLAIN	16384
#define TLS_RECORD_MAX_CIPHER	(16384 + 256)
/* A read buffer of this size always holds one whole acceptable record. */
#define TLS_RECORD_MAX		(TLS_RECORD_HEADER_LEN + TLS_RECORD_MAX_CIPHER)
/* The most bytes tls_record_seal adds to a plaintext (TLS 1.2 AES-GCM). */
#define TLS_RECORD_SEAL_OVERHEAD	(TLS_RECORD_HEADER_LEN + 8 + 16)

/*
 * Own-key update thresholds: below RFC 8446 §5.5's 2^24.5 records for
 * AES-GCM; ChaCha20-Poly1305 has no practical limit, so only well ahead of
 * sequence-number wrap.
 */
#define TLS_RECORD_REKEY_GCM	(UINT64_C(1) << 24)
#define TLS_RECORD_REKEY_OTHER	(UINT64_C(1) << 62)

/* tls_record_open results besides a consumed byte count. */
#define TLS_RECORD_NEED_MORE	0
#define TLS_RECORD_ERROR	-1

/* tls_record_recv_handshake results. */
#define TLS_HS_KEY_UPDATE		1	/* read key rolled */
#define TLS_HS_KEY_UPDATE_REQUESTED	2	/* same; send own KeyUpdate next */
#define TLS_HS_RENEGOTIATION		3	/* TLS 1.2: refuse, drop record */

enum tls_record_side { TLS_RECORD_READ, TLS_RECORD_WRITE };

struct tls_suite {
	uint16_t	 id;		/* IANA */
	uint16_t	 version;	/* TLS_STATE_V12 / _V13 */
	uint8_t		 key_len;
	uint8_t		 iv_len;	/* fixed IV carried in tls_state */
	uint8_t		 hash_len;	/* HKDF (1.3) or PRF (1.2) hash */
	uint8_t		 cipher;	/* index into the fetched AEADs */
	const char	*md;		/* "SHA256" / "SHA384" */
	const char	*name;		/* OpenSSL's name of the suite */
};

struct tls_record_dir {
	EVP_CIPHER_CTX		*ctx;	/* keyed once, new nonce per record */
	const struct tls_suite	*suite;
	uint64_t		 seq;
	uint8_t			 iv[TLS_STATE_IV_MAX];	/* 1.2 GCM: salt */
	uint8_t			 secret[TLS_STATE_SECRET_MAX];	/* 1.3 */
	bool			 write;
};

struct tls_record_plain {
	uint8_t		*data;	/* inside the buffer given to open */
	size_t		 len;
	uint8_t		 type;	/* TLS_CT_*; TLS 1.3: the inner type */
};

struct tls_record_error {
	const char	*reason;	/* static text */
	int		 alert;		/* TLS_ALERT_* to send, or _NONE */
};

/*
 * Fetch the AEADs and HKDF from libcrypto. Call before entering the
 * sandbox: a first fetch may read OpenSSL's configuration file. Later calls
 * (and tls_record_init, which calls it) are no-ops once it succeeded.
 */
int	 tls_record_global_init(void);

const struct tls_suite *tls_suite_lookup(uint16_t id);
const char *tls_alert_name(int);

/* TLS 1.3: key and IV for a traffic secret (RFC 8446 §7.3). */
int	 tls_record_derive_keys(const struct tls_suite *, const uint8_t *secret,
	    uint8_t *key, uint8_t *iv);

/*
 * Set up one direction from a handed-over state (validated here). The
 * caller wipes its copy of the state afterwards. 0, or -1 with err set.
 */
int	 tls_record_init(struct tls_record_dir *, const struct tls_state *,
	    enum tls_record_side, char *err, size_t errlen);
/* Free the cipher context and wipe the secrets; safe on a zeroed struct. */
void	 tls_record_free(struct tls_record_dir *);

/*
 * Decrypt in place the record at the head of buf. Returns the bytes it
 * took (> 0) with *plain pointing into buf, TLS_RECORD_NEED_MORE while
 * the record is incomplete (a bad header fails as soon as it is there), or
 * TLS_RECORD_ERROR. Zero-length application data is legal.
 */
ssize_t	 tls_record_open(struct tls_record_dir *, uint8_t *buf, size_t len,
	    struct tls_record_plain *, struct tls_record_error *);

/*
 * Encrypt one record of the given content type (at most
 * TLS_RECORD_MAX_PLAIN bytes) into out, which needs len +
 * TLS_RECORD_SEAL_OVERHEAD bytes. in and out must not overlap, except
 * in == out + tls_record_prefix_len() to seal in place. Returns the record
 * length or TLS_RECORD_ERROR.
 */
ssize_t	 tls_record_seal(struct tls_record_dir *, uint8_t type,
	    const uint8_t *in, size_t len, uint8_t *out, size_t outlen,
	    struct tls_record_error *);
/* Bytes in front of the ciphertext: the header, plus 8 (1.2 AES-GCM). */
size_t	 tls_record_prefix_len(const struct tls_record_dir *);

/* TLS 1.3: roll this direction to the next traffic secret, seq 0. */
int	 tls_record_key_update(struct tls_record_dir *);
/* True when the write direction should send a KeyUpdate (TLS 1.3). */
bool	 tls_record_should_update(const struct tls_record_dir *);
/* TLS 1.3: seal a KeyUpdate under the current key, then roll the key. */
ssize_t	 tls_record_seal_key_update(struct tls_record_dir *, bool request,
	    uint8_t *out, size_t outlen, struct tls_record_error *);

/*
 * A decrypted handshake record from the client. TLS 1.3: a KeyUpdate rolls
 * the read direction r and returns TLS_HS_KEY_UPDATE[_REQUESTED]; anything
 * else fails. TLS 1.2: always TLS_HS_RENEGOTIATION.
 */
int	 tls_record_recv_handshake(struct tls_record_dir *r, const uint8_t *,
	    size_t, struct tls_record_error *);

/*
 * A decrypted alert record: 0 for close_notify (end of stream), else
 * TLS_RECORD_ERROR (*desc set when the alert was well-formed).
 */
int	 tls_record_parse_alert(const uint8_t *, size_t, int *desc,
	    struct tls_record_error *);
/* Seal an alert; warning level for closure and no_renegotiation. */
ssize_t	 tls_record_seal_alert(struct tls_record_dir *, uint8_t desc,
	    uint8_t *out, size_t outlen, struct tls_record_error *);
/* TLS 1.2: the warning no_renegotiation alert answering a handshake. */
ssize_t	 tls_record_alert_for_renegotiation(struct tls_record_dir *,
	    uint8_t *out, size_t outlen, struct tls_record_error *);

#endif
