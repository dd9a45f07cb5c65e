/*
 * Test helpers shared by test_tls_record.c and test_tls_export.c (each is
 * its own program, so the helpers are static inline here): a libssl client
 * and server joined by memory BIOs, the handoff a gate worker performs
 * (tls_export), and the relay's side of the connection afterwards
 * (tls_record), plus a registry for tests run once per cipher suite.
 * Include after <cmocka.h>.
 */
#ifndef TG_TEST_TLS_PAIR_H
#define TG_TEST_TLS_PAIR_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "tls_export.h"
#include "tls_record.h"

#define RAW_CAP		(4 * TLS_RECORD_MAX)
#define SEAL_CAP	(TLS_RECORD_MAX_PLAIN + TLS_RECORD_SEAL_OVERHEAD)

static const uint16_t suite_ids[] = {
	0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8
};
#define NSUITES (sizeof(suite_ids) / sizeof(suite_ids[0]))

static EVP_PKEY	*ec_key, *rsa_key;
static X509	*ec_cert, *rsa_cert;

/* A libssl client and server over memory BIOs; after handoff, the relay. */
struct peer {
	const struct tls_suite	*suite;
	SSL_CTX			*sctx, *cctx;
	SSL			*s, *c;
	BIO			*c2s, *s2c;
	struct tls_state	 st;
	struct tls_record_dir	 rd, wr;
	uint8_t			 raw[RAW_CAP];	/* client bytes not yet opened */
	size_t			 rawlen;
	uint8_t			 plain[TLS_RECORD_MAX];
};

static inline size_t
unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t		 n = 0;
	unsigned	 v;
	int		 used;

	while (sscanf(hex, " %2x%n", &v, &used) == 1) {
		assert_true(n < cap);
		out[n++] = (uint8_t)v;
		hex += used;
	}
	return n;
}

static inline void
fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 31 + (i >> 8));
}

static inline X509 *
self_signed(EVP_PKEY *key)
{
	X509	*x = X509_new();

	assert_non_null(x);
	assert_int_equal(X509_set_version(x, 2), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 1), 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), -60));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
	assert_int_equal(X509_set_pubkey(x, key), 1);
	assert_int_equal(X509_NAME_add_entry_by_txt(X509_get_subject_name(x),
	    "CN", MBSTRING_ASC, (const unsigned char *)"tls-record-test", -1,
	    -1, 0), 1);
	assert_int_equal(X509_set_issuer_name(x, X509_get_subject_name(x)), 1);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	return x;
}

static inline int
group_setup(void **state)
{
	(void)state;
	if ((ec_key = EVP_EC_gen("P-256")) == NULL ||
	    (rsa_key = EVP_RSA_gen(2048)) == NULL)
		return -1;
	ec_cert = self_signed(ec_key);
	rsa_cert = self_signed(rsa_key);
	return tls_record_global_init();
}

static inline int
group_teardown(void **state)
{
	(void)state;
	X509_free(ec_cert);
	X509_free(rsa_cert);
	EVP_PKEY_free(ec_key);
	EVP_PKEY_free(rsa_key);
	return 0;
}

/* Both contexts limited to the suite; the server set up as tls.c does. */
static inline void
peer_ctx(struct peer *p, const char *tls13_suites, int tickets)
{
	const struct tls_suite	*s = p->suite;
	int			 v = s->version == TLS_STATE_V13 ?
				    TLS1_3_VERSION : TLS1_2_VERSION;

	p->sctx = SSL_CTX_new(TLS_server_method());
	p->cctx = SSL_CTX_new(TLS_client_method());
	assert_non_null(p->sctx);
	assert_non_null(p->cctx);
	for (SSL_CTX **ctx = &p->sctx; ctx <= &p->cctx; ctx++) {
		assert_int_equal(SSL_CTX_set_min_proto_version(*ctx, v), 1);
		assert_int_equal(SSL_CTX_set_max_proto_version(*ctx, v), 1);
		if (v == TLS1_3_VERSION)
			assert_int_equal(SSL_CTX_set_ciphersuites(*ctx,
			    tls13_suites ? tls13_suites : s->name), 1);
		else
			assert_int_equal(SSL_CTX_set_cipher_list(*ctx,
			    s->name), 1);
	}
	assert_int_equal(SSL_CTX_use_certificate(p->sctx, ec_cert), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(p->sctx, ec_key), 1);
	assert_int_equal(SSL_CTX_use_certificate(p->sctx, rsa_cert), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(p->sctx, rsa_key), 1);
	SSL_CTX_set_num_tickets(p->sctx, (size_t)tickets);
	SSL_CTX_set_session_cache_mode(p->sctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(p->sctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE |
	    (tickets ? 0 : SSL_OP_NO_TICKET) | SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(p->sctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	assert_int_equal(tls_export_ctx_init(p->sctx), 0);
}

static inline struct peer *
peer_new(const struct tls_suite *s, const char *tls13_suites, int tickets,
    int attach)
{
	struct peer	*p = calloc(1, sizeof(*p));

	assert_non_null(p);
	p->suite = s;
	peer_ctx(p, tls13_suites, tickets);
	p->s = SSL_new(p->sctx);
	p->c = SSL_new(p->cctx);
	p->c2s = BIO_new(BIO_s_mem());
	p->s2c = BIO_new(BIO_s_mem());
	assert_true(p->s && p->c && p->c2s && p->s2c);
	BIO_set_mem_eof_return(p->c2s, -1);
	BIO_set_mem_eof_return(p->s2c, -1);
	assert_int_equal(BIO_up_ref(p->c2s), 1);
	assert_int_equal(BIO_up_ref(p->s2c), 1);
	SSL_set_bio(p->s, p->c2s, p->s2c);
	SSL_set_bio(p->c, p->s2c, p->c2s);
	SSL_set_accept_state(p->s);
	SSL_set_connect_state(p->c);
	if (attach)
		assert_int_equal(tls_export_attach(p->s), 0);
	return p;
}

static inline void
peer_handshake(struct peer *p)
{
	for (int i = 0; i < 10 && !(SSL_is_init_finished(p->s) &&
	    SSL_is_init_finished(p->c)); i++) {
		SSL_do_handshake(p->c);
		SSL_do_handshake(p->s);
	}
	assert_true(SSL_is_init_finished(p->s) && SSL_is_init_finished(p->c));
}

static inline void
peer_free(struct peer *p)
{
	tls_record_free(&p->rd);
	tls_record_free(&p->wr);
	SSL_free(p->s);
	SSL_free(p->c);
	SSL_CTX_free(p->sctx);
	SSL_CTX_free(p->cctx);
	OPENSSL_cleanse(&p->st, sizeof(p->st));
	free(p);
	ERR_clear_error();
}

static inline void
client_write(struct peer *p, const void *data, size_t len)
{
	assert_int_equal(SSL_write(p->c, data, (int)len), (int)len);
}

static inline void
client_read_expect(struct peer *p, const uint8_t *want, size_t len)
{
	uint8_t	 buf[4096];
	size_t	 got = 0;
	int	 n;

	while (got < len) {
		n = SSL_read(p->c, buf, sizeof(buf));
		assert_true(n > 0);
		assert_true((size_t)n <= len - got);
		assert_memory_equal(buf, want + got, (size_t)n);
		got += (size_t)n;
	}
}

static inline void
server_read_expect(struct peer *p, const char *want)
{
	char	 buf[256];
	int	 n = SSL_read(p->s, buf, sizeof(buf));

	assert_int_equal(n, (int)strlen(want));
	assert_memory_equal(buf, want, strlen(want));
}

/*
 * What a gate worker does before the handoff: the client sends its request
 * and pipelines another record at once; the server reads only the request,
 * answers, and exports. The pipelined record stays in the "socket".
 */
static inline void
peer_handoff(struct peer *p)
{
	static const char	 req[] = "CONNECT backend:22 HTTP/1.1\r\n\r\n";
	static const char	 ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
	char			 err[128];
	uint64_t		 base = p->suite->version == TLS_STATE_V13 ? 0 : 1;

	peer_handshake(p);
	client_write(p, req, strlen(req));
	client_write(p, "pipelined", 9);
	server_read_expect(p, req);
	assert_int_equal(SSL_write(p->s, ok, (int)strlen(ok)), (int)strlen(ok));
	client_read_expect(p, (const uint8_t *)ok, strlen(ok));
	assert_int_equal(tls_export(p->s, &p->st, err, sizeof(err)), 0);
	assert_int_equal(p->st.suite, p->suite->id);
	/* TLS 1.2's Finished took sequence 0 under the new keys. */
	assert_int_equal(p->st.read.seq, base + 1);
	assert_int_equal(p->st.write.seq, base + 1);
	assert_int_equal(tls_record_init(&p->rd, &p->st, TLS_RECORD_READ, err,
	    sizeof(err)), 0);
	assert_int_equal(tls_record_init(&p->wr, &p->st, TLS_RECORD_WRITE, err,
	    sizeof(err)), 0);
}

/* The relay opens the next client record; the plaintext lands in p->plain. */
static inline ssize_t
relay_open(struct peer *p, struct tls_record_plain *pl,
    struct tls_record_error *err)
{
	ssize_t	 n;
	int	 k;

	while (p->rawlen < sizeof(p->raw) && (k = BIO_read(p->c2s,
	    p->raw + p->rawlen, (int)(sizeof(p->raw) - p->rawlen))) > 0)
		p->rawlen += (size_t)k;
	if ((n = tls_record_open(&p->rd, p->raw, p->rawlen, pl, err)) <= 0)
		return n;
	memcpy(p->plain, pl->data, pl->len);
	pl->data = p->plain;
	p->rawlen -= (size_t)n;
	memmove(p->raw, p->raw + n, p->rawlen);
	return n;
}

static inline void
relay_expect_type(struct peer *p, uint8_t type, struct tls_record_plain *pl)
{
	struct tls_record_error	 err = { NULL, 0 };

	assert_true(relay_open(p, pl, &err) > 0);
	assert_int_equal(pl->type, type);
}

static inline void
relay_expect_data(struct peer *p, const uint8_t *want, size_t len)
{
	struct tls_record_plain	 pl;
	size_t			 got = 0;

	while (got < len) {
		relay_expect_type(p, TLS_CT_APPLICATION_DATA, &pl);
		assert_true(pl.len <= len - got);
		assert_memory_equal(pl.data, want + got, pl.len);
		got += pl.len;
	}
}

/* What the relay sealed goes to the client's socket. */
static inline void
to_client(struct peer *p, const uint8_t *rec, ssize_t n)
{
	assert_true(n > 0);
	assert_int_equal(BIO_write(p->s2c, rec, (int)n), (int)n);
}

static inline void
relay_send(struct peer *p, uint8_t type, const uint8_t *data, size_t len)
{
	uint8_t			 out[SEAL_CAP];
	struct tls_record_error	 err;
	ssize_t			 n;

	n = tls_record_seal(&p->wr, type, data, len, out, sizeof(out), &err);
	to_client(p, out, n);
}

static inline void
relay_send_data(struct peer *p, const uint8_t *data, size_t len)
{
	size_t	 chunk;

	do {
		chunk = len > TLS_RECORD_MAX_PLAIN ? TLS_RECORD_MAX_PLAIN : len;
		relay_send(p, TLS_CT_APPLICATION_DATA, data, chunk);
		data += chunk;
		len -= chunk;
	} while (len > 0);
}

static inline void
relay_send_alert(struct peer *p, uint8_t desc)
{
	uint8_t			 out[64];
	struct tls_record_error	 err;
	ssize_t			 n;

	n = tls_record_seal_alert(&p->wr, desc, out, sizeof(out), &err);
	to_client(p, out, n);
}

static inline void
relay_expect_close_notify(struct peer *p)
{
	struct tls_record_plain	 pl;
	struct tls_record_error	 err;
	int			 desc;

	relay_expect_type(p, TLS_CT_ALERT, &pl);
	assert_int_equal(tls_record_parse_alert(pl.data, pl.len, &desc, &err),
	    0);
	assert_int_equal(desc, TLS_ALERT_CLOSE_NOTIFY);
}

static inline void
client_expect_eof(struct peer *p)
{
	uint8_t	 buf[16];
	int	 n = SSL_read(p->c, buf, sizeof(buf));

	assert_int_equal(n, 0);
	assert_int_equal(SSL_get_error(p->c, n), SSL_ERROR_ZERO_RETURN);
}

#define MAX_TESTS	64
static struct CMUnitTest	 reg_tests[MAX_TESTS];
static char			 reg_names[MAX_TESTS][80];
static size_t			 reg_n;

static inline void
add(const char *name, CMUnitTestFunction fn, const struct tls_suite *s)
{
	assert_true(reg_n < MAX_TESTS);
	snprintf(reg_names[reg_n], sizeof(reg_names[reg_n]), "%s%s%s", name,
	    s ? "/" : "", s ? s->name : "");
	reg_tests[reg_n] = (struct CMUnitTest){ reg_names[reg_n], fn, NULL,
	    NULL, (void *)s };
	reg_n++;
}

#endif
