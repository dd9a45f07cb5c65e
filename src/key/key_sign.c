/*
 * Signing for TLS handshakes with a key no other process holds. A request
 * is signed only when it is what a TLS 1.2 or 1.3 server signature needs
 * for this key: ECDSA over a SHA-2 digest, RSA PKCS#1 v1.5 over a SHA-2
 * digest (TLS 1.2), or RSA-PSS. libcrypto pads PSS in the gate worker (the
 * key method hooks see only the padded block), so the block is checked to
 * be a well-formed EMSA-PSS encoding for SHA-256, -384 or -512 with a
 * digest-sized salt (RFC 8017 9.1.2, what TLS uses) before the raw RSA
 * operation: the process is never an oracle for arbitrary RSA decryption.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "key_sign.h"
#include "log.h"
#include "tls.h"

/* A key file without a passphrase: say so instead of prompting. */
static int
key_no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

static int
key_supported(EVP_PKEY *pk, const char *path)
{
	char	 group[64];
	size_t	 glen;
	int	 bits = EVP_PKEY_get_bits(pk);

	if (EVP_PKEY_is_a(pk, "RSA")) {
		if (bits < TG_KEY_MIN_RSA_BITS || bits > 8 * TG_KEY_MAX_BYTES) {
			log_warnx("%s: an RSA key of %d bits; tunnelgate signs "
			    "with %d to %d bits", path, bits,
			    TG_KEY_MIN_RSA_BITS, 8 * TG_KEY_MAX_BYTES);
			return -1;
		}
		return 0;
	}
	if (EVP_PKEY_is_a(pk, "EC") && EVP_PKEY_get_utf8_string_param(pk,
	    "group", group, sizeof(group), &glen) == 1 &&
	    (strcmp(group, "prime256v1") == 0 ||
	    strcmp(group, "secp384r1") == 0 ||
	    strcmp(group, "secp521r1") == 0))
		return 0;
	log_warnx("%s: not an ECDSA P-256, P-384, P-521 or RSA key (%s); "
	    "make one with `openssl genpkey -algorithm EC -pkeyopt "
	    "ec_paramgen_curve:P-256`", path, EVP_PKEY_get0_type_name(pk));
	return -1;
}

EVP_PKEY *
key_load(const char *path)
{
	EVP_PKEY	*pk = NULL;
	BIO		*bio;

	if ((bio = BIO_new_file(path, "r")) == NULL) {
		log_warnx("%s: cannot open the key: %s", path,
		    tls_error_string());
		return NULL;
	}
	if ((pk = PEM_read_bio_PrivateKey(bio, NULL, key_no_passphrase,
	    NULL)) == NULL)
		log_warnx("%s: not a PEM private key without a passphrase: %s",
		    path, tls_error_string());
	BIO_free(bio);
	if (pk != NULL && key_supported(pk, path) != 0) {
		EVP_PKEY_free(pk);
		return NULL;
	}
	return pk;
}

/* MGF1 (RFC 8017 B.2.1); libcrypto's own PKCS1_MGF1 is deprecated. */
static int
key_mgf1(uint8_t *mask, size_t len, const uint8_t *seed, size_t slen,
    const EVP_MD *md)
{
	uint8_t		 in[EVP_MAX_MD_SIZE + 4], out[EVP_MAX_MD_SIZE];
	unsigned	 olen;
	size_t		 done = 0;

	if (slen > EVP_MAX_MD_SIZE)
		return -1;
	memcpy(in, seed, slen);
	for (uint32_t c = 0; done < len; c++) {
		in[slen] = (uint8_t)(c >> 24);
		in[slen + 1] = (uint8_t)(c >> 16);
		in[slen + 2] = (uint8_t)(c >> 8);
		in[slen + 3] = (uint8_t)c;
		if (EVP_Digest(in, slen + 4, out, &olen, md, NULL) != 1)
			return -1;
		memcpy(mask + done, out, len - done < olen ? len - done : olen);
		done += olen;
	}
	return 0;
}

/*
 * EMSA-PSS structure (RFC 8017 9.1.2 steps 4-10) without the message
 * digest, which the gate worker alone knows: leading bits clear, 0xbc
 * trailer, DB = zero padding || 0x01 || salt of the digest's size.
 */
static int
key_pss_shaped(const uint8_t *em, size_t k, int mod_bits, const EVP_MD *md)
{
	size_t	 hlen = (size_t)EVP_MD_get_size(md), embits, emlen, dblen;
	uint8_t	 db[TG_KEY_MAX_BYTES], top;
	int	 ok = 0;

	embits = (size_t)mod_bits - 1;
	emlen = (embits + 7) / 8;
	if (emlen < k) {
		if (em[0] != 0)
			return 0;
		em++;
	}
	if (emlen < 2 * hlen + 2 || em[emlen - 1] != 0xbc)
		return 0;
	top = (uint8_t)(0xff >> (8 * emlen - embits));
	if ((em[0] & ~top) != 0)
		return 0;
	dblen = emlen - hlen - 1;
	if (key_mgf1(db, dblen, em + dblen, hlen, md) != 0)
		return 0;
	for (size_t i = 0; i < dblen; i++)
		db[i] ^= em[i];
	db[0] &= top;
	ok = db[dblen - hlen - 1] == 0x01;
	for (size_t i = 0; i < dblen - hlen - 1; i++)
		ok &= db[i] == 0;
	OPENSSL_cleanse(db, sizeof(db));
	return ok;
}

/*
 * One context per signature this key makes, each initialised once: a
 * context per signature would fetch the algorithm and set its parameters
 * again on every handshake. The digests a PSS block may have been made
 * with are fetched once too, for the same reason.
 */
struct key_signer {
	EVP_PKEY	*pk;
	bool		 is_ec;
	int		 bits;
	size_t		 size;
	EVP_PKEY_CTX	*ecdsa;
	EVP_PKEY_CTX	*pkcs1[KEY_DIGEST_SHA512 + 1];	/* by enum key_digest */
	EVP_PKEY_CTX	*raw;				/* for PSS blocks */
	EVP_MD		*md[KEY_DIGEST_SHA512 + 1];
};

static const char *const key_md_names[KEY_DIGEST_SHA512 + 1] = {
	[KEY_DIGEST_SHA256] = "SHA2-256",
	[KEY_DIGEST_SHA384] = "SHA2-384",
	[KEY_DIGEST_SHA512] = "SHA2-512",
};

static EVP_PKEY_CTX *
key_ctx(EVP_PKEY *pk, int padding, const EVP_MD *md)
{
	EVP_PKEY_CTX	*ctx;

	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL)) == NULL)
		return NULL;
	if (EVP_PKEY_sign_init(ctx) != 1 || (padding != 0 &&
	    EVP_PKEY_CTX_set_rsa_padding(ctx, padding) != 1) || (md != NULL &&
	    EVP_PKEY_CTX_set_signature_md(ctx, md) != 1)) {
		EVP_PKEY_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

struct key_signer *
key_signer_new(EVP_PKEY *pk)
{
	struct key_signer	*s;
	bool			 ok = true;

	if (pk == NULL)
		return NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		EVP_PKEY_free(pk);
		return NULL;
	}
	s->pk = pk;
	s->is_ec = EVP_PKEY_is_a(pk, "EC");
	s->bits = EVP_PKEY_get_bits(pk);
	s->size = (size_t)EVP_PKEY_get_size(pk);
	if (s->is_ec)
		ok = (s->ecdsa = key_ctx(pk, 0, NULL)) != NULL;
	else {
		for (uint32_t d = KEY_DIGEST_SHA256; d <= KEY_DIGEST_SHA512; d++)
			ok = ok && (s->md[d] = EVP_MD_fetch(NULL,
			    key_md_names[d], NULL)) != NULL &&
			    (s->pkcs1[d] = key_ctx(pk, RSA_PKCS1_PADDING,
			    s->md[d])) != NULL;
		ok = ok && (s->raw = key_ctx(pk, RSA_NO_PADDING, NULL)) != NULL;
	}
	if (!ok || s->size > TG_KEY_MAX_BYTES) {
		key_signer_free(s);
		return NULL;
	}
	return s;
}

void
key_signer_free(struct key_signer *s)
{
	if (s == NULL)
		return;
	EVP_PKEY_CTX_free(s->ecdsa);
	EVP_PKEY_CTX_free(s->raw);
	for (size_t d = 0; d <= KEY_DIGEST_SHA512; d++) {
		EVP_PKEY_CTX_free(s->pkcs1[d]);
		EVP_MD_free(s->md[d]);
	}
	EVP_PKEY_free(s->pk);
	free(s);
}

/* The prepared context for req, or NULL with *why when it does not fit. */
static EVP_PKEY_CTX *
key_fits(const struct key_signer *s, const struct key_sign *req,
    const char **why)
{
	bool	 pss = false;

	if (s->is_ec) {
		if (req->scheme != KEY_SCHEME_ECDSA) {
			*why = "asked an ECDSA key for an RSA signature";
			return NULL;
		}
		return s->ecdsa;
	}
	switch (req->scheme) {
	case KEY_SCHEME_RSA_PKCS1:
		if (req->digest > KEY_DIGEST_SHA512 ||
		    s->pkcs1[req->digest] == NULL) {
			*why = "sign: unknown digest";
			return NULL;
		}
		return s->pkcs1[req->digest];
	case KEY_SCHEME_RSA_PSS:
		for (uint32_t d = KEY_DIGEST_SHA256; d <= KEY_DIGEST_SHA512 &&
		    !pss && req->len == s->size; d++)
			pss = key_pss_shaped(req->data, s->size, s->bits,
			    s->md[d]);
		if (pss)
			return s->raw;
		*why = "an RSA-PSS block that is not a PSS encoding for this key";
		return NULL;
	}
	*why = "asked an RSA key for an ECDSA signature";
	return NULL;
}

int
key_sign(struct key_signer *s, const struct key_sign *req, uint8_t *sig,
    size_t *siglen, const char **why)
{
	EVP_PKEY_CTX	*ctx;

	*why = NULL;
	if ((ctx = key_fits(s, req, why)) == NULL)
		return -1;
	*siglen = TG_KEY_MAX_BYTES;
	return EVP_PKEY_sign(ctx, sig, siglen, req->data, req->len) == 1 ?
	    0 : -1;
}
