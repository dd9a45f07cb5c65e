/*
 * OpenSSL 3.0 still signs through the EC_KEY and RSA method hooks for keys
 * with a method of their own (its "foreign" keys, as engines made them);
 * those APIs are deprecated in favour of providers, which need far more
 * code for the same two calls.
 */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <errno.h>
#include <poll.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/rsa.h>

#include "ipc.h"
#include "key_client.h"
#include "key_proto.h"
#include "log.h"
#include "proc.h"

static int		 key_fd = -1;
static uint64_t		 key_req_id;
static EC_KEY_METHOD	*key_ec_method;
static RSA_METHOD	*key_rsa_method;

void
key_client_use(int fd)
{
	key_fd = fd;
}

/* Wait for the answer to req_id; older ones are from timed-out requests. */
static int
key_client_wait(uint64_t req_id, struct key_signature *ans)
{
	union {
		struct key_signature	 sig;
		uint8_t			 raw[KEY_MSG_BUF];
	} m;
	struct pollfd	 pfd = { .fd = key_fd, .events = POLLIN };
	struct msg_in	 in;
	int64_t		 until = proc_now_ms() + TG_KEY_REPLY_TIMEOUT_MS, now;

	while ((now = proc_now_ms()) < until) {
		if (poll(&pfd, 1, (int)(until - now)) == -1 && errno != EINTR)
			return -1;
		switch (msg_recv(&key_proto, key_fd, MSG_KEY, MSG_GATE, &m,
		    sizeof(m), &in)) {
		case MSG_AGAIN:
			continue;
		case MSG_EOF:
			log_warnx("key: the key process is gone");
			return -1;
		case MSG_BAD:
			/* The more privileged side broke the protocol. */
			fatalx("key: bad message from the key process: %s",
			    in.why);
		case MSG_OK:
			break;
		}
		if (m.sig.req_id == req_id) {
			*ans = m.sig;
			return 0;
		}
	}
	log_warnx("key: no signature from the key process in %d ms",
	    TG_KEY_REPLY_TIMEOUT_MS);
	return -1;
}

/* Have the key process sign; the signature's length, or -1. */
static int
key_client_sign(uint32_t scheme, uint32_t digest, const uint8_t *data,
    size_t len, uint8_t *sig, size_t sigmax)
{
	struct key_sign		 req;
	struct key_signature	 ans;

	if (key_fd == -1 || len > sizeof(req.data))
		return -1;
	/* The key process would take it as this worker's fault. */
	if (scheme != KEY_SCHEME_RSA_PSS && digest == 0) {
		log_warnx("key: a signature over a %zu-byte digest, which is "
		    "none of SHA-256/384/512", len);
		return -1;
	}
	memset(&req, 0, sizeof(req));
	msg_hdr_init(&key_proto, &req.hdr, KEY_MSG_SIGN);
	req.req_id = ++key_req_id;
	req.scheme = scheme;
	req.digest = digest;
	req.len = (uint32_t)len;
	memcpy(req.data, data, len);
	if (ipc_send(key_fd, &req, sizeof(req), NULL, 0) == -1) {
		log_warn("key: to the key process");
		return -1;
	}
	if (key_client_wait(req.req_id, &ans) == -1)
		return -1;
	if (ans.len == 0 || ans.len > sigmax) {
		log_warnx("key: the key process refused or sent a %u-byte "
		    "signature", ans.len);
		return -1;
	}
	memcpy(sig, ans.sig, ans.len);
	return (int)ans.len;
}

static uint32_t
key_digest_of_size(int dlen)
{
	for (uint32_t d = KEY_DIGEST_SHA256; d <= KEY_DIGEST_SHA512; d++)
		if (key_digest_size(d) == (size_t)dlen)
			return d;
	return 0;
}

static uint32_t
key_digest_of_nid(int nid)
{
	switch (nid) {
	case NID_sha256:
		return KEY_DIGEST_SHA256;
	case NID_sha384:
		return KEY_DIGEST_SHA384;
	case NID_sha512:
		return KEY_DIGEST_SHA512;
	}
	return 0;
}

static int
key_ec_sign(int type, const unsigned char *dgst, int dlen, unsigned char *sig,
    unsigned int *siglen, const BIGNUM *kinv, const BIGNUM *r, EC_KEY *ec)
{
	int	 n;

	(void)type;
	(void)kinv;
	(void)r;
	if ((n = key_client_sign(KEY_SCHEME_ECDSA, key_digest_of_size(dlen),
	    dgst, (size_t)dlen, sig, (size_t)ECDSA_size(ec))) < 0)
		return 0;
	*siglen = (unsigned)n;
	return 1;
}

static int
key_rsa_sign(int type, const unsigned char *m, unsigned int mlen,
    unsigned char *sig, unsigned int *siglen, const RSA *rsa)
{
	int	 n;

	if ((n = key_client_sign(KEY_SCHEME_RSA_PKCS1, key_digest_of_nid(type),
	    m, mlen, sig, (size_t)RSA_size(rsa))) < 0)
		return 0;
	*siglen = (unsigned)n;
	return 1;
}

/* libcrypto has padded the PSS block itself: only the raw operation is left. */
static int
key_rsa_priv_enc(int flen, const unsigned char *from, unsigned char *to,
    RSA *rsa, int padding)
{
	if (padding != RSA_NO_PADDING || flen != RSA_size(rsa))
		return -1;
	return key_client_sign(KEY_SCHEME_RSA_PSS, 0, from, (size_t)flen, to,
	    (size_t)RSA_size(rsa));
}

static int
key_rsa_priv_dec(int flen, const unsigned char *from, unsigned char *to,
    RSA *rsa, int padding)
{
	(void)flen;
	(void)from;
	(void)to;
	(void)rsa;
	(void)padding;
	return -1;
}

static int
key_methods_init(void)
{
	int	(*sign_setup)(EC_KEY *, BN_CTX *, BIGNUM **, BIGNUM **);
	ECDSA_SIG *(*sign_sig)(const unsigned char *, int, const BIGNUM *,
		    const BIGNUM *, EC_KEY *);

	if (key_ec_method != NULL)
		return 0;
	if ((key_ec_method = EC_KEY_METHOD_new(EC_KEY_get_default_method()))
	    == NULL || (key_rsa_method = RSA_meth_dup(RSA_get_default_method()))
	    == NULL)
		return -1;
	EC_KEY_METHOD_get_sign(key_ec_method, NULL, &sign_setup, &sign_sig);
	EC_KEY_METHOD_set_sign(key_ec_method, key_ec_sign, sign_setup,
	    sign_sig);
	if (RSA_meth_set1_name(key_rsa_method, "tunnelgate key process") != 1 ||
	    RSA_meth_set_sign(key_rsa_method, key_rsa_sign) != 1 ||
	    RSA_meth_set_priv_enc(key_rsa_method, key_rsa_priv_enc) != 1 ||
	    RSA_meth_set_priv_dec(key_rsa_method, key_rsa_priv_dec) != 1)
		return -1;
	return 0;
}

static EVP_PKEY *
key_client_ec(const EC_KEY *pub)
{
	EVP_PKEY	*pk;
	EC_KEY		*ec;

	if ((ec = EC_KEY_new()) == NULL)
		return NULL;
	if (EC_KEY_set_method(ec, key_ec_method) != 1 ||
	    EC_KEY_set_group(ec, EC_KEY_get0_group(pub)) != 1 ||
	    EC_KEY_set_public_key(ec, EC_KEY_get0_public_key(pub)) != 1 ||
	    (pk = EVP_PKEY_new()) == NULL) {
		EC_KEY_free(ec);
		return NULL;
	}
	if (EVP_PKEY_assign_EC_KEY(pk, ec) != 1) {
		EC_KEY_free(ec);
		EVP_PKEY_free(pk);
		return NULL;
	}
	return pk;
}

static EVP_PKEY *
key_client_rsa(const RSA *pub)
{
	const BIGNUM	*n, *e;
	BIGNUM		*n2 = NULL, *e2 = NULL;
	EVP_PKEY	*pk = NULL;
	RSA		*rsa;

	if ((rsa = RSA_new()) == NULL)
		return NULL;
	RSA_get0_key(pub, &n, &e, NULL);
	if (RSA_set_method(rsa, key_rsa_method) != 1 ||
	    (n2 = BN_dup(n)) == NULL || (e2 = BN_dup(e)) == NULL ||
	    RSA_set0_key(rsa, n2, e2, NULL) != 1) {
		BN_free(n2);
		BN_free(e2);
		RSA_free(rsa);
		return NULL;
	}
	if ((pk = EVP_PKEY_new()) == NULL || EVP_PKEY_assign_RSA(pk, rsa) != 1) {
		EVP_PKEY_free(pk);
		RSA_free(rsa);
		return NULL;
	}
	return pk;
}

EVP_PKEY *
key_client_pkey(X509 *cert)
{
	EVP_PKEY	*pub = X509_get0_pubkey(cert), *pk = NULL;

	if (pub == NULL || key_methods_init() != 0)
		return NULL;
	if (EVP_PKEY_is_a(pub, "EC"))
		pk = key_client_ec(EVP_PKEY_get0_EC_KEY(pub));
	else if (EVP_PKEY_is_a(pub, "RSA"))
		pk = key_client_rsa(EVP_PKEY_get0_RSA(pub));
	else
		log_warnx("key: a %s certificate key; tunnelgate signs with "
		    "ECDSA or RSA keys", EVP_PKEY_get0_type_name(pub));
	return pk;
}
