#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/ssl.h>

#include "tls_export.h"
#include "tls_record.h"

#define DIR_READ	0	/* client -> server */
#define DIR_WRITE	1	/* server -> client */
#define RANDOM_LEN	32
#define MASTER_LEN	48

/* What the callbacks have seen of one connection. */
struct tls_export_conn {
	/* Records since the last key change: the next sequence number. */
	uint64_t	 seq[2];
	uint8_t		 secret[2][TLS_STATE_SECRET_MAX];	/* TLS 1.3 */
	size_t		 secret_len[2];
	bool		 ccs[2];	/* TLS 1.2 ChangeCipherSpec seen */
	bool		 bad_keylog;
};

static int	 export_idx = -1;

static void
export_conn_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
    long argl, void *argp)
{
	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	if (ptr != NULL) {
		OPENSSL_cleanse(ptr, sizeof(struct tls_export_conn));
		free(ptr);
	}
}

static struct tls_export_conn *
conn_get(const SSL *ssl)
{
	if (export_idx < 0)
		return NULL;
	return SSL_get_ex_data(ssl, export_idx);
}

/* The secret is the last field of "LABEL <client random> <secret>". */
static int
keylog_secret(const char *line, uint8_t *out, size_t *outlen)
{
	const char	*hex = strrchr(line, ' ');

	if (hex == NULL || hex[1] == '\0')
		return -1;
	/* Odd length, a non-hex digit or more than the buffer: refused. */
	if (OPENSSL_hexstr2buf_ex(out, TLS_STATE_SECRET_MAX, outlen, hex + 1,
	    '\0') != 1) {
		ERR_clear_error();
		return -1;
	}
	return 0;
}

/*
 * TLS 1.3 application traffic secrets: the record that carried the key
 * change (Finished, KeyUpdate) was counted under the old key, so the new
 * key starts at sequence 0.
 */
static void
export_keylog_cb(const SSL *ssl, const char *line)
{
	struct tls_export_conn	*c;
	int			 d;

	if ((c = conn_get(ssl)) == NULL)
		return;
	if (strncmp(line, "CLIENT_TRAFFIC_SECRET_", 22) == 0)
		d = DIR_READ;
	else if (strncmp(line, "SERVER_TRAFFIC_SECRET_", 22) == 0)
		d = DIR_WRITE;
	else
		return;
	if (keylog_secret(line, c->secret[d], &c->secret_len[d]) == -1) {
		OPENSSL_cleanse(c->secret[d], sizeof(c->secret[d]));
		c->secret_len[d] = 0;
		c->bad_keylog = true;
		return;
	}
	c->seq[d] = 0;
}

static void
export_msg_cb(int write_p, int version, int content_type, const void *buf,
    size_t len, SSL *ssl, void *arg)
{
	struct tls_export_conn	*c;
	const uint8_t		*p = buf;
	int			 d = write_p ? DIR_WRITE : DIR_READ;

	(void)version;
	(void)arg;
	if ((c = conn_get(ssl)) == NULL || len == 0)
		return;
	if (content_type != SSL3_RT_HEADER || len < SSL3_RT_HEADER_LENGTH)
		return;
	if (p[0] == SSL3_RT_CHANGE_CIPHER_SPEC) {
		/*
		 * TLS 1.2 keys change here and the Finished that follows is
		 * sequence 0. TLS 1.3's compatibility CCS is unprotected and
		 * takes no sequence number.
		 */
		if (SSL_version(ssl) != TLS1_3_VERSION) {
			c->seq[d] = 0;
			c->ccs[d] = true;
		}
		return;
	}
	c->seq[d]++;
}

int
tls_export_ctx_init(SSL_CTX *ctx)
{
	if (export_idx < 0 && (export_idx = SSL_get_ex_new_index(0, NULL, NULL,
	    NULL, export_conn_free)) < 0)
		return -1;
	SSL_CTX_set_keylog_callback(ctx, export_keylog_cb);
	SSL_CTX_set_msg_callback(ctx, export_msg_cb);
	/*
	 * Read-ahead would pull later records' ciphertext into libssl: gate
	 * workers turn it on for the handshake (conn_handshake()) and for a
	 * tunnel that will not be handed off (conn_relay_here()) only.
	 */
	SSL_CTX_set_read_ahead(ctx, 0);
	return 0;
}

int
tls_export_attach(SSL *ssl)
{
	struct tls_export_conn	*c;

	if (export_idx < 0)
		return -1;
	if (SSL_get_ex_data(ssl, export_idx) != NULL)
		return 0;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return -1;
	if (SSL_set_ex_data(ssl, export_idx, c) != 1) {
		free(c);
		return -1;
	}
	return 0;
}

void
tls_export_detach(SSL *ssl)
{
	struct tls_export_conn	*c;

	if ((c = conn_get(ssl)) == NULL)
		return;
	/* Cannot fail for a slot that holds a value; if it did, SSL_free wipes. */
	if (SSL_set_ex_data(ssl, export_idx, NULL) != 1)
		return;
	OPENSSL_cleanse(c, sizeof(*c));
	free(c);
	SSL_set_msg_callback(ssl, NULL);
}

static int
export13(const struct tls_export_conn *c, const struct tls_suite *s,
    struct tls_state *st, char *err, size_t errlen)
{
	struct tls_state_dir	*sd;

	for (int d = DIR_READ; d <= DIR_WRITE; d++) {
		sd = d == DIR_READ ? &st->read : &st->write;
		if (c->secret_len[d] != s->hash_len) {
			snprintf(err, errlen, "no %s traffic secret captured "
			    "(keylog callback not on this SSL_CTX?)",
			    d == DIR_READ ? "client" : "server");
			return -1;
		}
		memcpy(sd->secret, c->secret[d], s->hash_len);
		sd->secret_len = s->hash_len;
		sd->key_len = s->key_len;
		sd->iv_len = s->iv_len;
		if (tls_record_derive_keys(s, sd->secret, sd->key, sd->iv) == -1) {
			snprintf(err, errlen, "HKDF failed: %s",
			    ERR_reason_error_string(ERR_peek_last_error()));
			return -1;
		}
	}
	return 0;
}

/* TLS 1.2 key block (RFC 5246 §6.3), split for an AEAD suite. */
static int
export12(SSL *ssl, const struct tls_export_conn *c, const struct tls_suite *s,
    struct tls_state *st, char *err, size_t errlen)
{
	static const char	 label[] = "key expansion";
	uint8_t			 master[MASTER_LEN], block[2 * (32 + 12)];
	uint8_t			 seed[sizeof(label) - 1 + 2 * RANDOM_LEN];
	size_t			 llen = sizeof(label) - 1;
	size_t			 klen = s->key_len, ivlen = s->iv_len;
	SSL_SESSION		*sess;
	static EVP_KDF		*kdf;
	EVP_KDF_CTX		*kctx = NULL;
	OSSL_PARAM		 params[4];
	int			 rv = -1;

	if (!c->ccs[DIR_READ] || !c->ccs[DIR_WRITE]) {
		snprintf(err, errlen, "no ChangeCipherSpec counted "
		    "(message callback not on this SSL_CTX?)");
		return -1;
	}
	memcpy(seed, label, llen);
	if ((sess = SSL_get_session(ssl)) == NULL ||
	    SSL_SESSION_get_master_key(sess, master, sizeof(master)) !=
	    MASTER_LEN ||
	    SSL_get_server_random(ssl, seed + llen, RANDOM_LEN) != RANDOM_LEN ||
	    SSL_get_client_random(ssl, seed + llen + RANDOM_LEN, RANDOM_LEN) !=
	    RANDOM_LEN) {
		snprintf(err, errlen, "no master secret or randoms in session");
		goto out;
	}
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
	    (char *)s->md, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET,
	    master, sizeof(master));
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED,
	    seed, sizeof(seed));
	params[3] = OSSL_PARAM_construct_end();
	/* Fetched once per worker: a fetch walks the provider tables. */
	if ((kdf == NULL &&
	    (kdf = EVP_KDF_fetch(NULL, "TLS1-PRF", NULL)) == NULL) ||
	    (kctx = EVP_KDF_CTX_new(kdf)) == NULL ||
	    EVP_KDF_derive(kctx, block, 2 * (klen + ivlen), params) != 1) {
		snprintf(err, errlen, "TLS1-PRF failed: %s",
		    ERR_reason_error_string(ERR_peek_last_error()));
		goto out;
	}
	/* client key | server key | client IV | server IV */
	memcpy(st->read.key, block, klen);
	memcpy(st->write.key, block + klen, klen);
	memcpy(st->read.iv, block + 2 * klen, ivlen);
	memcpy(st->write.iv, block + 2 * klen + ivlen, ivlen);
	st->read.key_len = st->write.key_len = s->key_len;
	st->read.iv_len = st->write.iv_len = s->iv_len;
	rv = 0;
out:
	EVP_KDF_CTX_free(kctx);
	OPENSSL_cleanse(master, sizeof(master));
	OPENSSL_cleanse(block, sizeof(block));
	return rv;
}

bool
tls_export_mid_record(const SSL *ssl)
{
	/*
	 * Without read-ahead libssl 3.0 reads the 5-byte header, then the
	 * body; between the two its read state is "RB", the header is out of
	 * the read buffer SSL_has_pending() checks, and the message callback
	 * has counted the record (export_msg_cb).
	 */
	return strcmp(SSL_rstate_string(ssl), "RB") == 0;
}

/* Why the connection cannot be handed over now, or NULL. */
static const char *
export_blocker(const SSL *ssl, const struct tls_export_conn *c)
{
	if (!SSL_is_init_finished(ssl))
		return "handshake not finished";
	if (SSL_get_read_ahead(ssl))
		return "read-ahead is on: libssl may hold later records";
	if (SSL_pending(ssl) > 0)
		return "decrypted bytes still inside libssl (drain SSL_pending)";
	if (SSL_has_pending(ssl))
		return "record bytes still inside libssl (SSL_read called "
		    "after the request was complete?)";
	if (tls_export_mid_record(ssl))
		return "a record's header is inside libssl, its body not yet";
	if (SSL_want_write(ssl))
		return "the last SSL_write has not completed";
	if (SSL_get_key_update_type(ssl) != SSL_KEY_UPDATE_NONE)
		return "a KeyUpdate is still owed to the client";
	if (SSL_get_shutdown(ssl) != 0)
		return "shutdown has begun";
	if (c->bad_keylog)
		return "a keylog line could not be parsed";
	return NULL;
}

int
tls_export(SSL *ssl, struct tls_state *st, char *err, size_t errlen)
{
	struct tls_export_conn	*c;
	const SSL_CIPHER	*cipher;
	const struct tls_suite	*s;
	const char		*why;
	int			 rv = -1;

	memset(st, 0, sizeof(*st));
	if ((c = conn_get(ssl)) == NULL) {
		snprintf(err, errlen, "tls_export_attach was not called");
		return -1;
	}
	if ((why = export_blocker(ssl, c)) != NULL) {
		snprintf(err, errlen, "%s", why);
		return -1;
	}
	if ((cipher = SSL_get_current_cipher(ssl)) == NULL) {
		snprintf(err, errlen, "no cipher negotiated");
		return -1;
	}
	st->version = (uint16_t)SSL_version(ssl);
	st->suite = SSL_CIPHER_get_protocol_id(cipher);
	if ((s = tls_suite_lookup(st->suite)) == NULL ||
	    s->version != st->version) {
		snprintf(err, errlen, "%s with %s cannot be handed over",
		    SSL_CIPHER_get_name(cipher), SSL_get_version(ssl));
		goto out;
	}
	if ((s->version == TLS_STATE_V13 ? export13(c, s, st, err, errlen) :
	    export12(ssl, c, s, st, err, errlen)) == -1)
		goto out;
	st->read.seq = c->seq[DIR_READ];
	st->write.seq = c->seq[DIR_WRITE];
	if (tls_state_validate(st, err, errlen) == -1)
		goto out;
	rv = 0;
	OPENSSL_cleanse(c->secret, sizeof(c->secret));
	c->secret_len[DIR_READ] = c->secret_len[DIR_WRITE] = 0;
out:
	if (rv == -1)
		OPENSSL_cleanse(st, sizeof(*st));
	return rv;
}
