#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "tls_record.h"

#define TAG_LEN		16
#define EXPLICIT_LEN	8	/* TLS 1.2 AES-GCM explicit nonce */
#define NONCE_LEN	12
#define WIRE_VERSION	0x0303	/* record header version, both versions */
#define ALERT_WARNING	1
#define ALERT_FATAL	2
#define HS_KEY_UPDATE	24

enum { AEAD_AES128_GCM, AEAD_AES256_GCM, AEAD_CHACHA20, AEAD_COUNT };

static const char *const aead_names[AEAD_COUNT] = {
	"AES-128-GCM", "AES-256-GCM", "ChaCha20-Poly1305"
};
static EVP_CIPHER	*aeads[AEAD_COUNT];
static EVP_KDF		*hkdf;
/*
 * An HKDF-Expand context per suite hash, its digest fetched once per
 * process: given the digest's name on each derivation, libcrypto fetches it
 * again, four times per handed-off tunnel. OpenSSL 3.0 cannot duplicate an
 * HKDF context, so each derivation reuses one (a new key and info replace
 * the last) and then overwrites the secret it was given.
 */
static const char *const hkdf_mds[] = { "SHA256", "SHA384" };
#define HKDF_MD_COUNT	(sizeof(hkdf_mds) / sizeof(hkdf_mds[0]))
static EVP_KDF_CTX	*hkdf_ready[HKDF_MD_COUNT];

static const struct tls_suite suites[] = {
	{ 0x1301, TLS_STATE_V13, 16, 12, 32, AEAD_AES128_GCM, "SHA256",
	    "TLS_AES_128_GCM_SHA256" },
	{ 0x1302, TLS_STATE_V13, 32, 12, 48, AEAD_AES256_GCM, "SHA384",
	    "TLS_AES_256_GCM_SHA384" },
	{ 0x1303, TLS_STATE_V13, 32, 12, 32, AEAD_CHACHA20, "SHA256",
	    "TLS_CHACHA20_POLY1305_SHA256" },
	{ 0xC02B, TLS_STATE_V12, 16, 4, 32, AEAD_AES128_GCM, "SHA256",
	    "ECDHE-ECDSA-AES128-GCM-SHA256" },
	{ 0xC02F, TLS_STATE_V12, 16, 4, 32, AEAD_AES128_GCM, "SHA256",
	    "ECDHE-RSA-AES128-GCM-SHA256" },
	{ 0xC02C, TLS_STATE_V12, 32, 4, 48, AEAD_AES256_GCM, "SHA384",
	    "ECDHE-ECDSA-AES256-GCM-SHA384" },
	{ 0xC030, TLS_STATE_V12, 32, 4, 48, AEAD_AES256_GCM, "SHA384",
	    "ECDHE-RSA-AES256-GCM-SHA384" },
	{ 0xCCA9, TLS_STATE_V12, 32, 12, 32, AEAD_CHACHA20, "SHA256",
	    "ECDHE-ECDSA-CHACHA20-POLY1305" },
	{ 0xCCA8, TLS_STATE_V12, 32, 12, 32, AEAD_CHACHA20, "SHA256",
	    "ECDHE-RSA-CHACHA20-POLY1305" },
};

static const struct {
	int		 desc;
	const char	*name;
} alert_names[] = {
	{ TLS_ALERT_CLOSE_NOTIFY, "close_notify" },
	{ TLS_ALERT_UNEXPECTED_MESSAGE, "unexpected_message" },
	{ TLS_ALERT_BAD_RECORD_MAC, "bad_record_mac" },
	{ TLS_ALERT_RECORD_OVERFLOW, "record_overflow" },
	{ TLS_ALERT_HANDSHAKE_FAILURE, "handshake_failure" },
	{ TLS_ALERT_ILLEGAL_PARAMETER, "illegal_parameter" },
	{ TLS_ALERT_DECODE_ERROR, "decode_error" },
	{ 51, "decrypt_error" },
	{ TLS_ALERT_PROTOCOL_VERSION, "protocol_version" },
	{ TLS_ALERT_INTERNAL_ERROR, "internal_error" },
	{ TLS_ALERT_USER_CANCELED, "user_canceled" },
	{ TLS_ALERT_NO_RENEGOTIATION, "no_renegotiation" },
};

const struct tls_suite *
tls_suite_lookup(uint16_t id)
{
	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++)
		if (suites[i].id == id)
			return &suites[i];
	return NULL;
}

const char *
tls_alert_name(int desc)
{
	for (size_t i = 0; i < sizeof(alert_names) / sizeof(alert_names[0]); i++)
		if (alert_names[i].desc == desc)
			return alert_names[i].name;
	return "unknown alert";
}

static int
hkdf_prepare(size_t i)
{
	int		 mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
	OSSL_PARAM	 params[3];

	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
	    (char *)hkdf_mds[i], 0);
	params[1] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
	params[2] = OSSL_PARAM_construct_end();
	if ((hkdf_ready[i] = EVP_KDF_CTX_new(hkdf)) == NULL)
		return -1;
	if (EVP_KDF_CTX_set_params(hkdf_ready[i], params) != 1) {
		EVP_KDF_CTX_free(hkdf_ready[i]);
		hkdf_ready[i] = NULL;
		return -1;
	}
	return 0;
}

static EVP_KDF_CTX *
hkdf_ctx_for(const struct tls_suite *s)
{
	for (size_t i = 0; i < HKDF_MD_COUNT; i++)
		if (strcmp(s->md, hkdf_mds[i]) == 0)
			return hkdf_ready[i];
	return NULL;
}

/* Leaves no traffic secret in a context kept for the next derivation. */
static int
hkdf_forget(EVP_KDF_CTX *kctx)
{
	static const uint8_t	 none[1];
	OSSL_PARAM		 params[2];

	params[0] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
	    (void *)none, sizeof(none));
	params[1] = OSSL_PARAM_construct_end();
	return EVP_KDF_CTX_set_params(kctx, params) == 1 ? 0 : -1;
}

int
tls_record_global_init(void)
{
	for (int i = 0; i < AEAD_COUNT; i++)
		if (aeads[i] == NULL &&
		    (aeads[i] = EVP_CIPHER_fetch(NULL, aead_names[i], NULL)) == NULL)
			return -1;
	if (hkdf == NULL && (hkdf = EVP_KDF_fetch(NULL, "HKDF", NULL)) == NULL)
		return -1;
	for (size_t i = 0; i < HKDF_MD_COUNT; i++)
		if (hkdf_ready[i] == NULL && hkdf_prepare(i) == -1)
			return -1;
	return 0;
}

static int
rec_fail(struct tls_record_error *err, const char *reason, int alert)
{
	err->reason = reason;
	err->alert = alert;
	/* Failed AEAD calls may leave entries that nobody else reads. */
	ERR_clear_error();
	return TLS_RECORD_ERROR;
}

static bool
all_zero(const uint8_t *p, size_t n)
{
	uint8_t	 acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

static int
state_dir_validate(const struct tls_state_dir *sd, const struct tls_suite *s,
    const char *name, char *err, size_t errlen)
{
	size_t	 secret_len = s->version == TLS_STATE_V13 ? s->hash_len : 0;

	if (sd->key_len != s->key_len || sd->iv_len != s->iv_len ||
	    sd->secret_len != secret_len) {
		snprintf(err, errlen, "%s: secret/key/IV lengths %u/%u/%u, "
		    "suite %s needs %zu/%u/%u", name, sd->secret_len,
		    sd->key_len, sd->iv_len, s->name, secret_len, s->key_len,
		    s->iv_len);
		return -1;
	}
	if (!all_zero(sd->secret + sd->secret_len,
	    sizeof(sd->secret) - sd->secret_len) ||
	    !all_zero(sd->key + sd->key_len, sizeof(sd->key) - sd->key_len) ||
	    !all_zero(sd->iv + sd->iv_len, sizeof(sd->iv) - sd->iv_len) ||
	    sd->reserved != 0) {
		snprintf(err, errlen, "%s: bytes past the lengths are not zero",
		    name);
		return -1;
	}
	if (sd->seq == UINT64_MAX) {
		snprintf(err, errlen, "%s: sequence number exhausted", name);
		return -1;
	}
	return 0;
}

int
tls_state_validate(const struct tls_state *st, char *err, size_t errlen)
{
	const struct tls_suite	*s;

	if (st->version != TLS_STATE_V12 && st->version != TLS_STATE_V13) {
		snprintf(err, errlen, "unsupported protocol version 0x%04x",
		    st->version);
		return -1;
	}
	if ((s = tls_suite_lookup(st->suite)) == NULL ||
	    s->version != st->version) {
		snprintf(err, errlen, "cipher suite 0x%04x is not supported "
		    "with protocol version 0x%04x", st->suite, st->version);
		return -1;
	}
	if (st->reserved != 0) {
		snprintf(err, errlen, "reserved field is not zero");
		return -1;
	}
	if (state_dir_validate(&st->read, s, "read", err, errlen) == -1 ||
	    state_dir_validate(&st->write, s, "write", err, errlen) == -1)
		return -1;
	return 0;
}

/* HKDF-Expand-Label(secret, label, "", outlen), RFC 8446 §7.1. */
static int
hkdf_expand_label(const struct tls_suite *s, const uint8_t *secret,
    const char *label, uint8_t *out, size_t outlen)
{
	static const char	 prefix[] = "tls13 ";
	uint8_t			 info[2 + 1 + sizeof(prefix) + 16 + 1];
	size_t			 plen = sizeof(prefix) - 1, llen = strlen(label);
	size_t			 n = 0;
	int			 rv = -1;
	EVP_KDF_CTX		*kctx;
	OSSL_PARAM		 params[3];

	if (llen > 16 || outlen > 255 || tls_record_global_init() == -1)
		return -1;
	info[n++] = 0;
	info[n++] = (uint8_t)outlen;
	info[n++] = (uint8_t)(plen + llen);
	memcpy(info + n, prefix, plen);
	n += plen;
	memcpy(info + n, label, llen);
	n += llen;
	info[n++] = 0;		/* empty context */
	params[0] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
	    (void *)secret, s->hash_len);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
	    info, n);
	params[2] = OSSL_PARAM_construct_end();
	if ((kctx = hkdf_ctx_for(s)) == NULL)
		return -1;
	if (EVP_KDF_derive(kctx, out, outlen, params) == 1)
		rv = 0;
	if (hkdf_forget(kctx) == -1)
		rv = -1;
	return rv;
}

int
tls_record_derive_keys(const struct tls_suite *s, const uint8_t *secret,
    uint8_t *key, uint8_t *iv)
{
	if (s->version != TLS_STATE_V13 ||
	    hkdf_expand_label(s, secret, "key", key, s->key_len) == -1 ||
	    hkdf_expand_label(s, secret, "iv", iv, s->iv_len) == -1)
		return -1;
	return 0;
}

int
tls_record_init(struct tls_record_dir *d, const struct tls_state *st,
    enum tls_record_side side, char *err, size_t errlen)
{
	const struct tls_state_dir	*sd;
	uint8_t				 key[TLS_STATE_KEY_MAX];
	uint8_t				 iv[TLS_STATE_IV_MAX];
	int				 rv = -1;

	memset(d, 0, sizeof(*d));
	sd = side == TLS_RECORD_WRITE ? &st->write : &st->read;
	if (tls_state_validate(st, err, errlen) == -1)
		return -1;
	if (tls_record_global_init() == -1) {
		snprintf(err, errlen, "libcrypto lacks AES-GCM, "
		    "ChaCha20-Poly1305 or HKDF");
		return -1;
	}
	d->suite = tls_suite_lookup(st->suite);
	d->write = side == TLS_RECORD_WRITE;
	if (d->suite->version == TLS_STATE_V13) {
		/* Catch a sender whose key and secret disagree at handoff. */
		if (tls_record_derive_keys(d->suite, sd->secret, key, iv) == -1) {
			snprintf(err, errlen, "HKDF failed");
			goto out;
		}
		if (CRYPTO_memcmp(key, sd->key, sd->key_len) != 0 ||
		    CRYPTO_memcmp(iv, sd->iv, sd->iv_len) != 0) {
			snprintf(err, errlen, "%s key or IV does not match its "
			    "traffic secret", d->write ? "write" : "read");
			goto out;
		}
		memcpy(d->secret, sd->secret, sd->secret_len);
	}
	memcpy(d->iv, sd->iv, sd->iv_len);
	d->seq = sd->seq;
	if ((d->ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_CipherInit_ex(d->ctx, aeads[d->suite->cipher], NULL, sd->key,
	    NULL, d->write) != 1) {
		snprintf(err, errlen, "cannot set up %s", d->suite->name);
		goto out;
	}
	rv = 0;
out:
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(iv, sizeof(iv));
	if (rv == -1) {
		ERR_clear_error();
		tls_record_free(d);
	}
	return rv;
}

void
tls_record_free(struct tls_record_dir *d)
{
	EVP_CIPHER_CTX_free(d->ctx);
	OPENSSL_cleanse(d, sizeof(*d));
}

static bool
explicit_nonce(const struct tls_record_dir *d)
{
	return d->suite->version == TLS_STATE_V12 && d->suite->iv_len == 4;
}

size_t
tls_record_prefix_len(const struct tls_record_dir *d)
{
	return TLS_RECORD_HEADER_LEN + (explicit_nonce(d) ? EXPLICIT_LEN : 0);
}

static void
put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}

/*
 * The per-record nonce: TLS 1.2 AES-GCM is salt || explicit nonce from the
 * record; TLS 1.3 and ChaCha20 XOR the sequence number into the IV.
 */
static void
make_nonce(const struct tls_record_dir *d, const uint8_t *explicit,
    uint8_t *nonce)
{
	if (explicit != NULL) {
		memcpy(nonce, d->iv, 4);
		memcpy(nonce + 4, explicit, EXPLICIT_LEN);
		return;
	}
	memcpy(nonce, d->iv, NONCE_LEN);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] ^= (uint8_t)(d->seq >> (56 - 8 * i));
}

/* TLS 1.2 AAD: seq || type || version || plaintext length. */
static void
make_aad12(const struct tls_record_dir *d, uint8_t type, size_t len,
    uint8_t *aad)
{
	put_u64(aad, d->seq);
	aad[8] = type;
	aad[9] = WIRE_VERSION >> 8;
	aad[10] = WIRE_VERSION & 0xff;
	aad[11] = (uint8_t)(len >> 8);
	aad[12] = (uint8_t)len;
}

/* Header checks that need no more than the 5 header bytes. */
static int
check_header(const struct tls_record_dir *d, uint8_t type, unsigned version,
    size_t clen, struct tls_record_error *err)
{
	bool	 v13 = d->suite->version == TLS_STATE_V13;
	size_t	 overhead = TAG_LEN + (explicit_nonce(d) ? EXPLICIT_LEN : 0);

	if (v13 ? type != TLS_CT_APPLICATION_DATA :
	    type != TLS_CT_APPLICATION_DATA && type != TLS_CT_ALERT &&
	    type != TLS_CT_HANDSHAKE)
		return rec_fail(err, "unexpected record type after handshake",
		    TLS_ALERT_UNEXPECTED_MESSAGE);
	if (version != WIRE_VERSION)
		return rec_fail(err, "wrong record version", v13 ?
		    TLS_ALERT_DECODE_ERROR : TLS_ALERT_PROTOCOL_VERSION);
	if (v13 ? clen > TLS_RECORD_MAX_CIPHER :
	    clen > TLS_RECORD_MAX_PLAIN + overhead)
		return rec_fail(err, "record too long",
		    TLS_ALERT_RECORD_OVERFLOW);
	if (clen < overhead)
		return rec_fail(err, "record too short to be authentic",
		    TLS_ALERT_BAD_RECORD_MAC);
	return 0;
}

static int
aead_open(struct tls_record_dir *d, const uint8_t *nonce, const uint8_t *aad,
    size_t aadlen, uint8_t *p, size_t n)
{
	int	 outl;

	if (EVP_CipherInit_ex(d->ctx, NULL, NULL, NULL, nonce, 0) != 1 ||
	    EVP_CIPHER_CTX_ctrl(d->ctx, EVP_CTRL_AEAD_SET_TAG, TAG_LEN,
	    p + n) != 1 ||
	    EVP_CipherUpdate(d->ctx, NULL, &outl, aad, (int)aadlen) != 1 ||
	    (n > 0 && EVP_CipherUpdate(d->ctx, p, &outl, p, (int)n) != 1) ||
	    EVP_CipherFinal_ex(d->ctx, p + n, &outl) != 1)
		return -1;
	return 0;
}

/* TLS 1.3: strip the zero padding and take the inner content type. */
static int
open_inner(struct tls_record_plain *plain, struct tls_record_error *err)
{
	if (plain->len > TLS_RECORD_MAX_PLAIN + 1)
		return rec_fail(err, "record plaintext too long",
		    TLS_ALERT_RECORD_OVERFLOW);
	while (plain->len > 0 && plain->data[plain->len - 1] == 0)
		plain->len--;
	if (plain->len == 0)
		return rec_fail(err, "record without content type",
		    TLS_ALERT_UNEXPECTED_MESSAGE);
	plain->type = plain->data[--plain->len];
	if (plain->type != TLS_CT_APPLICATION_DATA &&
	    plain->type != TLS_CT_ALERT && plain->type != TLS_CT_HANDSHAKE)
		return rec_fail(err, "unexpected inner content type",
		    TLS_ALERT_UNEXPECTED_MESSAGE);
	return 0;
}

ssize_t
tls_record_open(struct tls_record_dir *d, uint8_t *buf, size_t len,
    struct tls_record_plain *plain, struct tls_record_error *err)
{
	uint8_t		 nonce[NONCE_LEN], aad[13];
	size_t		 clen, pre, ctlen, aadlen;
	bool		 v13 = d->suite->version == TLS_STATE_V13;

	if (d->write)
		return rec_fail(err, "open on a write direction",
		    TLS_ALERT_INTERNAL_ERROR);
	if (len < TLS_RECORD_HEADER_LEN)
		return TLS_RECORD_NEED_MORE;
	clen = (size_t)buf[3] << 8 | buf[4];
	if (check_header(d, buf[0], (unsigned)buf[1] << 8 | buf[2], clen,
	    err) != 0)
		return TLS_RECORD_ERROR;
	if (len - TLS_RECORD_HEADER_LEN < clen)
		return TLS_RECORD_NEED_MORE;
	if (d->seq == UINT64_MAX)
		return rec_fail(err, "read sequence number exhausted",
		    TLS_ALERT_INTERNAL_ERROR);
	pre = tls_record_prefix_len(d);
	ctlen = TLS_RECORD_HEADER_LEN + clen - pre - TAG_LEN;
	make_nonce(d, explicit_nonce(d) ? buf + TLS_RECORD_HEADER_LEN : NULL,
	    nonce);
	if (v13) {
		memcpy(aad, buf, TLS_RECORD_HEADER_LEN);
		aadlen = TLS_RECORD_HEADER_LEN;
	} else {
		make_aad12(d, buf[0], ctlen, aad);
		aadlen = 13;
	}
	if (aead_open(d, nonce, aad, aadlen, buf + pre, ctlen) == -1)
		return rec_fail(err, "record authentication failed",
		    TLS_ALERT_BAD_RECORD_MAC);
	d->seq++;
	plain->data = buf + pre;
	plain->len = ctlen;
	plain->type = buf[0];
	if (v13 && open_inner(plain, err) != 0)
		return TLS_RECORD_ERROR;
	return (ssize_t)(TLS_RECORD_HEADER_LEN + clen);
}

static int
aead_seal(struct tls_record_dir *d, const uint8_t *nonce, const uint8_t *aad,
    size_t aadlen, const uint8_t *in, size_t len, const uint8_t *type13,
    uint8_t *out)
{
	int	 outl;
	size_t	 n = len + (type13 != NULL);

	if (EVP_CipherInit_ex(d->ctx, NULL, NULL, NULL, nonce, 1) != 1 ||
	    EVP_CipherUpdate(d->ctx, NULL, &outl, aad, (int)aadlen) != 1)
		return -1;
	if (len > 0 && (EVP_CipherUpdate(d->ctx, out, &outl, in,
	    (int)len) != 1 || outl != (int)len))
		return -1;
	if (type13 != NULL && (EVP_CipherUpdate(d->ctx, out + len, &outl,
	    type13, 1) != 1 || outl != 1))
		return -1;
	if (EVP_CipherFinal_ex(d->ctx, out + n, &outl) != 1 || outl != 0 ||
	    EVP_CIPHER_CTX_ctrl(d->ctx, EVP_CTRL_AEAD_GET_TAG, TAG_LEN,
	    out + n) != 1)
		return -1;
	return 0;
}

ssize_t
tls_record_seal(struct tls_record_dir *d, uint8_t type, const uint8_t *in,
    size_t len, uint8_t *out, size_t outlen, struct tls_record_error *err)
{
	uint8_t		 nonce[NONCE_LEN], aad[13];
	size_t		 pre, clen, total;
	bool		 v13 = d->suite->version == TLS_STATE_V13;

	if (!d->write)
		return rec_fail(err, "seal on a read direction",
		    TLS_ALERT_INTERNAL_ERROR);
	if (len > TLS_RECORD_MAX_PLAIN)
		return rec_fail(err, "plaintext over the record limit",
		    TLS_ALERT_INTERNAL_ERROR);
	pre = tls_record_prefix_len(d);
	clen = pre - TLS_RECORD_HEADER_LEN + len + v13 + TAG_LEN;
	total = TLS_RECORD_HEADER_LEN + clen;
	if (outlen < total)
		return rec_fail(err, "seal output buffer too small",
		    TLS_ALERT_INTERNAL_ERROR);
	if (len > 0 && in != out + pre && in < out + total && out < in + len)
		return rec_fail(err, "seal input overlaps output",
		    TLS_ALERT_INTERNAL_ERROR);
	if (d->seq == UINT64_MAX)
		return rec_fail(err, "write sequence number exhausted",
		    TLS_ALERT_INTERNAL_ERROR);
	out[0] = v13 ? TLS_CT_APPLICATION_DATA : type;
	out[1] = WIRE_VERSION >> 8;
	out[2] = WIRE_VERSION & 0xff;
	out[3] = (uint8_t)(clen >> 8);
	out[4] = (uint8_t)clen;
	if (explicit_nonce(d)) {
		/*
		 * The sequence number is a unique explicit nonce per key.
		 * libssl started its own at a random value, so a collision
		 * with the records it sent before the handoff is as likely
		 * as guessing 64 random bits.
		 */
		put_u64(out + TLS_RECORD_HEADER_LEN, d->seq);
		make_nonce(d, out + TLS_RECORD_HEADER_LEN, nonce);
	} else
		make_nonce(d, NULL, nonce);
	if (v13)
		memcpy(aad, out, TLS_RECORD_HEADER_LEN);
	else
		make_aad12(d, type, len, aad);
	if (aead_seal(d, nonce, aad, v13 ? TLS_RECORD_HEADER_LEN : 13, in, len,
	    v13 ? &type : NULL, out + pre) == -1)
		return rec_fail(err, "record encryption failed",
		    TLS_ALERT_INTERNAL_ERROR);
	d->seq++;
	return (ssize_t)total;
}

int
tls_record_key_update(struct tls_record_dir *d)
{
	const struct tls_suite	*s = d->suite;
	uint8_t			 next[TLS_STATE_SECRET_MAX];
	uint8_t			 key[TLS_STATE_KEY_MAX], iv[TLS_STATE_IV_MAX];
	int			 rv = -1;

	if (s->version != TLS_STATE_V13)
		return -1;
	if (hkdf_expand_label(s, d->secret, "traffic upd", next,
	    s->hash_len) == -1 ||
	    tls_record_derive_keys(s, next, key, iv) == -1 ||
	    EVP_CipherInit_ex(d->ctx, NULL, NULL, key, NULL, d->write) != 1)
		goto out;
	memcpy(d->secret, next, s->hash_len);
	memcpy(d->iv, iv, s->iv_len);
	d->seq = 0;
	rv = 0;
out:
	OPENSSL_cleanse(next, sizeof(next));
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(iv, sizeof(iv));
	return rv;
}

bool
tls_record_should_update(const struct tls_record_dir *d)
{
	if (d->suite->version != TLS_STATE_V13)
		return false;
	if (d->suite->cipher == AEAD_CHACHA20)
		return d->seq >= TLS_RECORD_REKEY_OTHER;
	return d->seq >= TLS_RECORD_REKEY_GCM;
}

ssize_t
tls_record_seal_key_update(struct tls_record_dir *d, bool request,
    uint8_t *out, size_t outlen, struct tls_record_error *err)
{
	const uint8_t	 msg[5] = { HS_KEY_UPDATE, 0, 0, 1, request };
	ssize_t		 n;

	if (d->suite->version != TLS_STATE_V13)
		return rec_fail(err, "KeyUpdate needs TLS 1.3",
		    TLS_ALERT_INTERNAL_ERROR);
	if ((n = tls_record_seal(d, TLS_CT_HANDSHAKE, msg, sizeof(msg), out,
	    outlen, err)) < 0)
		return n;
	if (tls_record_key_update(d) == -1)
		return rec_fail(err, "write key update failed",
		    TLS_ALERT_INTERNAL_ERROR);
	return n;
}

int
tls_record_recv_handshake(struct tls_record_dir *d, const uint8_t *p,
    size_t len, struct tls_record_error *err)
{
	if (d->write)
		return rec_fail(err, "handshake on a write direction",
		    TLS_ALERT_INTERNAL_ERROR);
	if (d->suite->version == TLS_STATE_V12)
		return TLS_HS_RENEGOTIATION;
	/*
	 * Post-handshake, a client may only send KeyUpdate (we never ask
	 * for post-handshake authentication). A KeyUpdate ends its record,
	 * since messages must not span a key change; splitting one five-byte
	 * message over records is legal but unseen, and refused here.
	 */
	if (len < 4 || p[0] != HS_KEY_UPDATE)
		return rec_fail(err, "unexpected post-handshake message",
		    TLS_ALERT_UNEXPECTED_MESSAGE);
	if (p[1] != 0 || p[2] != 0 || p[3] != 1)
		return rec_fail(err, "malformed KeyUpdate",
		    TLS_ALERT_DECODE_ERROR);
	if (len != 5)
		return rec_fail(err, "KeyUpdate not alone at the end of its "
		    "record", TLS_ALERT_UNEXPECTED_MESSAGE);
	if (p[4] > 1)
		return rec_fail(err, "KeyUpdate with an unknown request",
		    TLS_ALERT_ILLEGAL_PARAMETER);
	if (tls_record_key_update(d) == -1)
		return rec_fail(err, "read key update failed",
		    TLS_ALERT_INTERNAL_ERROR);
	return p[4] ? TLS_HS_KEY_UPDATE_REQUESTED : TLS_HS_KEY_UPDATE;
}

int
tls_record_parse_alert(const uint8_t *p, size_t len, int *desc,
    struct tls_record_error *err)
{
	*desc = TLS_ALERT_NONE;
	if (len != 2)
		return rec_fail(err, "alert record is not one alert",
		    TLS_ALERT_DECODE_ERROR);
	if (p[0] != ALERT_WARNING && p[0] != ALERT_FATAL)
		return rec_fail(err, "alert with an unknown level",
		    TLS_ALERT_ILLEGAL_PARAMETER);
	*desc = p[1];
	/* TLS 1.3 ignores the level; close_notify is closure either way. */
	if (p[1] == TLS_ALERT_CLOSE_NOTIFY)
		return 0;
	return rec_fail(err, "peer sent an alert", TLS_ALERT_NONE);
}

ssize_t
tls_record_seal_alert(struct tls_record_dir *d, uint8_t desc, uint8_t *out,
    size_t outlen, struct tls_record_error *err)
{
	uint8_t	 msg[2];

	msg[0] = desc == TLS_ALERT_CLOSE_NOTIFY ||
	    desc == TLS_ALERT_USER_CANCELED ||
	    desc == TLS_ALERT_NO_RENEGOTIATION ? ALERT_WARNING : ALERT_FATAL;
	msg[1] = desc;
	return tls_record_seal(d, TLS_CT_ALERT, msg, sizeof(msg), out, outlen,
	    err);
}

ssize_t
tls_record_alert_for_renegotiation(struct tls_record_dir *d, uint8_t *out,
    size_t outlen, struct tls_record_error *err)
{
	if (d->suite->version != TLS_STATE_V12)
		return rec_fail(err, "no renegotiation in TLS 1.3",
		    TLS_ALERT_INTERNAL_ERROR);
	return tls_record_seal_alert(d, TLS_ALERT_NO_RENEGOTIATION, out,
	    outlen, err);
}
