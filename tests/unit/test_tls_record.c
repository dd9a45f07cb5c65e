/*
 * The relay's TLS record layer (tls_record), continuing connections that
 * tls_export took out of libssl. Checked against the RFC 8448 §3 trace
 * (keys from secrets, its records opened and re-sealed byte for byte) and
 * against real libssl clients for every supported suite: data both ways,
 * KeyUpdate, close_notify, refused renegotiation, and damaged records
 * ending with the right alert. The export side is test_tls_export.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "tls_pair.h"

/*
 * RFC 8448 §3, Simple 1-RTT Handshake (TLS_AES_128_GCM_SHA256): the
 * application traffic secrets, the keys and IVs derived from them, and the
 * records protected with them, in the RFC's notation.
 */
static const char rfc_c_secret[] =
    "9e 40 64 6c e7 9a 7f 9d c0 5a f8 88 9b ce 65 52 "
    "87 5a fa 0b 06 df 00 87 f7 92 eb b7 c1 75 04 a5";
static const char rfc_s_secret[] =
    "a1 1a f9 f0 55 31 f8 56 ad 47 11 6b 45 a9 50 32 "
    "82 04 b4 f4 4b fb 6b 3a 4b 4f 1f 3f cb 63 16 43";
static const char rfc_c_key[] =
    "17 42 2d da 59 6e d5 d9 ac d8 90 e3 c6 3f 50 51";
static const char rfc_c_iv[] =
    "5b 78 92 3d ee 08 57 90 33 e5 23 d9";
static const char rfc_s_key[] =
    "9f 02 28 3b 6c 9c 07 ef c2 6b b9 f2 ac 92 e3 56";
static const char rfc_s_iv[] =
    "cf 78 2b 88 dd 83 54 9a ad f1 e9 84";
/* {server} NewSessionTicket, application data, close_notify: seq 0, 1, 2. */
static const char rfc_s_nst[] =
    "17 03 03 00 de 3a 6b 8f 90 41 4a 97 d6 95 9c 34 "
    "87 68 0d e5 13 4a 2b 24 0e 6c ff ac 11 6e 95 d4 "
    "1d 6a f8 f6 b5 80 dc f3 d1 1d 63 c7 58 db 28 9a "
    "01 59 40 25 2f 55 71 3e 06 1d c1 3e 07 88 91 a3 "
    "8e fb cf 57 53 ad 8e f1 70 ad 3c 73 53 d1 6d 9d "
    "a7 73 b9 ca 7f 2b 9f a1 b6 c0 d4 a3 d0 3f 75 e0 "
    "9c 30 ba 1e 62 97 2a c4 6f 75 f7 b9 81 be 63 43 "
    "9b 29 99 ce 13 06 46 15 13 98 91 d5 e4 c5 b4 06 "
    "f1 6e 3f c1 81 a7 7c a4 75 84 00 25 db 2f 0a 77 "
    "f8 1b 5a b0 5b 94 c0 13 46 75 5f 69 23 2c 86 51 "
    "9d 86 cb ee ac 87 aa c3 47 d1 43 f9 60 5d 64 f6 "
    "50 db 4d 02 3e 70 e9 52 ca 49 fe 51 37 12 1c 74 "
    "bc 26 97 68 7e 24 87 46 d6 df 35 30 05 f3 bc e1 "
    "86 96 12 9c 81 53 55 6b 3b 6c 67 79 b3 7b f1 59 "
    "85 68 4f";
static const char rfc_s_app[] =
    "17 03 03 00 43 2e 93 7e 11 ef 4a c7 40 e5 38 ad "
    "36 00 5f c4 a4 69 32 fc 32 25 d0 5f 82 aa 1b 36 "
    "e3 0e fa f9 7d 90 e6 df fc 60 2d cb 50 1a 59 a8 "
    "fc c4 9c 4b f2 e5 f0 a2 1c 00 47 c2 ab f3 32 54 "
    "0d d0 32 e1 67 c2 95 5d";
static const char rfc_s_alert[] =
    "17 03 03 00 13 b5 8f d6 71 66 eb f5 99 d2 47 20 "
    "cf be 7e fa 7a 88 64 a9";
/* {client} application data, close_notify: seq 0, 1. */
static const char rfc_c_app[] =
    "17 03 03 00 43 a2 3f 70 54 b6 2c 94 d0 af fa fe "
    "82 28 ba 55 cb ef ac ea 42 f9 14 aa 66 bc ab 3f "
    "2b 98 19 a8 a5 b4 6b 39 5b d5 4a 9a 20 44 1e 2b "
    "62 97 4e 1f 5a 62 92 a2 97 70 14 bd 1e 3d ea e6 "
    "3a ee bb 21 69 49 15 e4";
static const char rfc_c_alert[] =
    "17 03 03 00 13 c9 87 27 60 65 56 66 b7 4d 7f f1 "
    "15 3e fd 6d b6 d0 b0 e3";

/* A state built from RFC 8448's secrets, as tls_export would send it. */
static void
rfc_state(struct tls_state *st, const char *read_secret,
    const char *write_secret)
{
	const struct tls_suite	*s = tls_suite_lookup(0x1301);
	struct tls_state_dir	*d[2] = { &st->read, &st->write };
	const char		*hex[2] = { read_secret, write_secret };

	memset(st, 0, sizeof(*st));
	st->version = TLS_STATE_V13;
	st->suite = 0x1301;
	for (int i = 0; i < 2; i++) {
		d[i]->secret_len = (uint8_t)unhex(hex[i], d[i]->secret,
		    sizeof(d[i]->secret));
		d[i]->key_len = s->key_len;
		d[i]->iv_len = s->iv_len;
		assert_int_equal(tls_record_derive_keys(s, d[i]->secret,
		    d[i]->key, d[i]->iv), 0);
	}
}

static void
test_rfc8448_traffic_keys(void **state)
{
	struct tls_state	 st;
	uint8_t			 want[32];

	(void)state;
	rfc_state(&st, rfc_c_secret, rfc_s_secret);
	assert_int_equal(st.read.secret_len, 32);
	assert_memory_equal(st.read.key, want, unhex(rfc_c_key, want, 32));
	assert_memory_equal(st.read.iv, want, unhex(rfc_c_iv, want, 32));
	assert_memory_equal(st.write.key, want, unhex(rfc_s_key, want, 32));
	assert_memory_equal(st.write.iv, want, unhex(rfc_s_iv, want, 32));
	assert_int_equal(tls_state_validate(&st, (char [8]){0}, 8), 0);
}

/* Open rec with d, expecting this inner type and plaintext length. */
static uint8_t *
rfc_open(struct tls_record_dir *d, const char *rec, uint8_t *buf,
    uint8_t type, size_t plen)
{
	struct tls_record_plain	 pl;
	struct tls_record_error	 err;
	size_t			 n = unhex(rec, buf, 512);

	assert_int_equal(tls_record_open(d, buf, n, &pl, &err), (ssize_t)n);
	assert_int_equal(pl.type, type);
	assert_int_equal(pl.len, plen);
	return pl.data;
}

static void
test_rfc8448_records(void **state)
{
	struct tls_state	 st;
	struct tls_record_dir	 srv_rd, cli_rd, srv_wr;
	struct tls_record_error	 err;
	uint8_t			 buf[512], want[512], payload[50], *pt;
	char			 msg[128];
	int			 desc;
	ssize_t			 n;

	(void)state;
	for (int i = 0; i < 50; i++)
		payload[i] = (uint8_t)i;
	/* The server reads the client's records. */
	rfc_state(&st, rfc_c_secret, rfc_s_secret);
	assert_int_equal(tls_record_init(&srv_rd, &st, TLS_RECORD_READ, msg,
	    sizeof(msg)), 0);
	pt = rfc_open(&srv_rd, rfc_c_app, buf, TLS_CT_APPLICATION_DATA, 50);
	assert_memory_equal(pt, payload, 50);
	pt = rfc_open(&srv_rd, rfc_c_alert, buf, TLS_CT_ALERT, 2);
	assert_int_equal(tls_record_parse_alert(pt, 2, &desc, &err), 0);
	/* The client reads the server's: a ticket is no client message. */
	rfc_state(&st, rfc_s_secret, rfc_c_secret);
	assert_int_equal(tls_record_init(&cli_rd, &st, TLS_RECORD_READ, msg,
	    sizeof(msg)), 0);
	pt = rfc_open(&cli_rd, rfc_s_nst, buf, TLS_CT_HANDSHAKE, 205);
	assert_int_equal(pt[0], 4);
	assert_int_equal(tls_record_recv_handshake(&cli_rd, pt, 205, &err),
	    TLS_RECORD_ERROR);
	assert_int_equal(err.alert, TLS_ALERT_UNEXPECTED_MESSAGE);
	pt = rfc_open(&cli_rd, rfc_s_app, buf, TLS_CT_APPLICATION_DATA, 50);
	assert_memory_equal(pt, payload, 50);
	pt = rfc_open(&cli_rd, rfc_s_alert, buf, TLS_CT_ALERT, 2);
	assert_int_equal(tls_record_parse_alert(pt, 2, &desc, &err), 0);
	/* Sealing the same plaintext at the same sequence gives the RFC's bytes. */
	rfc_state(&st, rfc_c_secret, rfc_s_secret);
	st.write.seq = 1;
	assert_int_equal(tls_record_init(&srv_wr, &st, TLS_RECORD_WRITE, msg,
	    sizeof(msg)), 0);
	n = tls_record_seal(&srv_wr, TLS_CT_APPLICATION_DATA, payload, 50, buf,
	    sizeof(buf), &err);
	assert_int_equal(n, (ssize_t)unhex(rfc_s_app, want, sizeof(want)));
	assert_memory_equal(buf, want, (size_t)n);
	n = tls_record_seal_alert(&srv_wr, TLS_ALERT_CLOSE_NOTIFY, buf,
	    sizeof(buf), &err);
	assert_int_equal(n, (ssize_t)unhex(rfc_s_alert, want, sizeof(want)));
	assert_memory_equal(buf, want, (size_t)n);
	tls_record_free(&srv_rd);
	tls_record_free(&cli_rd);
	tls_record_free(&srv_wr);
}

static void
test_roundtrip(void **state)
{
	struct peer	*p = peer_new(*state, NULL, 0, 1);
	static uint8_t	 up[40000], down[50000];
	static const size_t sizes[] = { 1, 1000, TLS_RECORD_MAX_PLAIN, 40000 };
	uint8_t		 out[SEAL_CAP];
	struct tls_record_error err;
	size_t		 pre;
	ssize_t		 n;

	peer_handoff(p);
	relay_expect_data(p, (const uint8_t *)"pipelined", 9);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		fill(up, sizes[i], (unsigned)i);
		client_write(p, up, sizes[i]);
		relay_expect_data(p, up, sizes[i]);
	}
	relay_send(p, TLS_CT_APPLICATION_DATA, NULL, 0);
	fill(down, sizeof(down), 7);
	relay_send_data(p, down, sizeof(down));
	client_read_expect(p, down, sizeof(down));
	/* Sealing in place, plaintext already behind the record prefix. */
	pre = tls_record_prefix_len(&p->wr);
	memcpy(out + pre, "in place", 8);
	n = tls_record_seal(&p->wr, TLS_CT_APPLICATION_DATA, out + pre, 8, out,
	    sizeof(out), &err);
	to_client(p, out, n);
	client_read_expect(p, (const uint8_t *)"in place", 8);
	/* The client closes first; what the relay still sends arrives. */
	assert_true(SSL_shutdown(p->c) >= 0);
	relay_expect_close_notify(p);
	relay_send_data(p, (const uint8_t *)"late", 4);
	relay_send_alert(p, TLS_ALERT_CLOSE_NOTIFY);
	client_read_expect(p, (const uint8_t *)"late", 4);
	client_expect_eof(p);
	peer_free(p);
}

static void
test_close_relay_first(void **state)
{
	struct peer	*p = peer_new(*state, NULL, 0, 1);

	peer_handoff(p);
	relay_send_alert(p, TLS_ALERT_CLOSE_NOTIFY);
	client_expect_eof(p);
	client_write(p, "still talking", 13);
	relay_expect_data(p, (const uint8_t *)"pipelined", 9);
	relay_expect_data(p, (const uint8_t *)"still talking", 13);
	assert_true(SSL_shutdown(p->c) >= 0);
	relay_expect_close_notify(p);
	peer_free(p);
}

static void
test_key_update(void **state)
{
	struct peer		*p = peer_new(*state, NULL, 0, 1);
	struct tls_record_plain	 pl;
	struct tls_record_error	 err;
	uint8_t			 out[64], first[TLS_STATE_SECRET_MAX];
	ssize_t			 n;

	peer_handoff(p);
	memcpy(first, p->rd.secret, sizeof(first));
	relay_expect_data(p, (const uint8_t *)"pipelined", 9);
	/* update_requested: answer under the old key, then roll ours. */
	assert_int_equal(SSL_key_update(p->c, SSL_KEY_UPDATE_REQUESTED), 1);
	client_write(p, "after", 5);
	relay_expect_type(p, TLS_CT_HANDSHAKE, &pl);
	assert_int_equal(tls_record_recv_handshake(&p->rd, pl.data, pl.len,
	    &err), TLS_HS_KEY_UPDATE_REQUESTED);
	assert_int_equal(p->rd.seq, 0);
	assert_memory_not_equal(first, p->rd.secret, p->suite->hash_len);
	relay_expect_data(p, (const uint8_t *)"after", 5);
	n = tls_record_seal_key_update(&p->wr, false, out, sizeof(out), &err);
	to_client(p, out, n);
	assert_int_equal(p->wr.seq, 0);
	relay_send_data(p, (const uint8_t *)"reply", 5);
	client_read_expect(p, (const uint8_t *)"reply", 5);
	/* update_not_requested: nothing owed. */
	assert_int_equal(SSL_key_update(p->c, SSL_KEY_UPDATE_NOT_REQUESTED), 1);
	assert_int_equal(SSL_do_handshake(p->c), 1);
	client_write(p, "again", 5);
	relay_expect_type(p, TLS_CT_HANDSHAKE, &pl);
	assert_int_equal(tls_record_recv_handshake(&p->rd, pl.data, pl.len,
	    &err), TLS_HS_KEY_UPDATE);
	relay_expect_data(p, (const uint8_t *)"again", 5);
	/* The relay asks; libssl answers before its next data. */
	n = tls_record_seal_key_update(&p->wr, true, out, sizeof(out), &err);
	to_client(p, out, n);
	relay_send_data(p, (const uint8_t *)"asked", 5);
	client_read_expect(p, (const uint8_t *)"asked", 5);
	client_write(p, "answered", 8);
	relay_expect_type(p, TLS_CT_HANDSHAKE, &pl);
	assert_int_equal(tls_record_recv_handshake(&p->rd, pl.data, pl.len,
	    &err), TLS_HS_KEY_UPDATE);
	relay_expect_data(p, (const uint8_t *)"answered", 8);
	peer_free(p);
}

/* Encrypt an arbitrary TLS 1.3 inner plaintext as the client would. */
static size_t
client_seal13_raw(struct peer *p, const uint8_t *inner, size_t len,
    uint8_t *out)
{
	static const char *const names[] = { "AES-128-GCM", "AES-256-GCM",
	    "ChaCha20-Poly1305" };
	EVP_CIPHER_CTX	*ctx = EVP_CIPHER_CTX_new();
	EVP_CIPHER	*cipher = EVP_CIPHER_fetch(NULL,
			    names[p->suite->id - 0x1301], NULL);
	uint8_t		 nonce[12];
	size_t		 clen = len + 16;
	int		 outl;

	memcpy(nonce, p->st.read.iv, 12);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] ^= (uint8_t)(p->rd.seq >> (56 - 8 * i));
	out[0] = TLS_CT_APPLICATION_DATA;
	out[1] = out[2] = 3;
	out[3] = (uint8_t)(clen >> 8);
	out[4] = (uint8_t)clen;
	assert_non_null(ctx);
	assert_non_null(cipher);
	assert_int_equal(EVP_EncryptInit_ex(ctx, cipher, NULL, p->st.read.key,
	    nonce), 1);
	assert_int_equal(EVP_EncryptUpdate(ctx, NULL, &outl, out, 5), 1);
	assert_int_equal(EVP_EncryptUpdate(ctx, out + 5, &outl, inner,
	    (int)len), 1);
	assert_int_equal(EVP_EncryptFinal_ex(ctx, out + 5 + len, &outl), 1);
	assert_int_equal(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16,
	    out + 5 + len), 1);
	EVP_CIPHER_CTX_free(ctx);
	EVP_CIPHER_free(cipher);
	return 5 + clen;
}

/*
 * Each damaged input fails on a copy. Only an authentic record moves the
 * sequence on, so the intact stream still opens after the others.
 */
static void
expect_open_error(struct peer *p, const uint8_t *rec, size_t len, int alert,
    bool authentic)
{
	static uint8_t		 copy[TLS_RECORD_MAX];
	struct tls_record_plain	 pl;
	struct tls_record_error	 err = { NULL, 0 };
	uint64_t		 seq = p->rd.seq;

	memcpy(copy, rec, len);
	assert_int_equal(tls_record_open(&p->rd, copy, len, &pl, &err),
	    TLS_RECORD_ERROR);
	assert_int_equal(err.alert, alert);
	assert_int_equal(p->rd.seq, seq + authentic);
}

static void
test_bad_records(void **state)
{
	struct peer		*p = peer_new(*state, NULL, 0, 1);
	static uint8_t		 rec[TLS_RECORD_MAX], inner[TLS_RECORD_MAX];
	bool			 v13 = p->suite->version == TLS_STATE_V13;
	size_t			 len, over;
	struct tls_record_plain	 pl;
	struct tls_record_error	 err;
	uint8_t			 hdr[5] = { 23, 3, 3, 0, 0 };

	peer_handoff(p);
	relay_expect_data(p, (const uint8_t *)"pipelined", 9);
	client_write(p, "intact record", 13);
	len = (size_t)BIO_read(p->c2s, rec, sizeof(rec));
	assert_true(len > 0 && len < sizeof(rec));
	for (size_t i = 0; i < len; i++)
		assert_int_equal(tls_record_open(&p->rd, rec, i, &pl, &err),
		    TLS_RECORD_NEED_MORE);
	rec[len - 1] ^= 1;
	expect_open_error(p, rec, len, TLS_ALERT_BAD_RECORD_MAC, false);
	rec[len - 1] ^= 1;
	rec[len / 2] ^= 0x80;
	expect_open_error(p, rec, len, TLS_ALERT_BAD_RECORD_MAC, false);
	rec[len / 2] ^= 0x80;
	assert_int_equal(tls_record_open(&p->rd, rec, len, &pl, &err),
	    (ssize_t)len);
	assert_memory_equal(pl.data, "intact record", 13);
	/* Header faults fail from the five header bytes alone. */
	over = v13 ? TLS_RECORD_MAX_CIPHER + 1 : TLS_RECORD_MAX_PLAIN + 1 +
	    tls_record_prefix_len(&p->rd) - 5 + 16;
	hdr[3] = (uint8_t)(over >> 8);
	hdr[4] = (uint8_t)over;
	expect_open_error(p, hdr, 5, TLS_ALERT_RECORD_OVERFLOW, false);
	hdr[3] = 0;
	hdr[4] = 15;
	expect_open_error(p, hdr, 5, TLS_ALERT_BAD_RECORD_MAC, false);
	hdr[2] = 1;
	expect_open_error(p, hdr, 5, v13 ? TLS_ALERT_DECODE_ERROR :
	    TLS_ALERT_PROTOCOL_VERSION, false);
	hdr[2] = 3;
	hdr[0] = TLS_CT_CHANGE_CIPHER_SPEC;
	expect_open_error(p, hdr, 5, TLS_ALERT_UNEXPECTED_MESSAGE, false);
	hdr[0] = v13 ? TLS_CT_HANDSHAKE : 99;
	expect_open_error(p, hdr, 5, TLS_ALERT_UNEXPECTED_MESSAGE, false);
	client_write(p, "still fine", 10);
	relay_expect_data(p, (const uint8_t *)"still fine", 10);
	if (!v13) {
		peer_free(p);
		return;
	}
	/* Authentic, but the inner plaintext breaks the rules. */
	memset(inner, 'x', TLS_RECORD_MAX_PLAIN + 2);
	expect_open_error(p, rec, client_seal13_raw(p, inner,
	    TLS_RECORD_MAX_PLAIN + 2, rec), TLS_ALERT_RECORD_OVERFLOW, true);
	memset(inner, 0, 10);
	expect_open_error(p, rec, client_seal13_raw(p, inner, 10, rec),
	    TLS_ALERT_UNEXPECTED_MESSAGE, true);
	memcpy(inner, "x\x14", 2);
	expect_open_error(p, rec, client_seal13_raw(p, inner, 2, rec),
	    TLS_ALERT_UNEXPECTED_MESSAGE, true);
	memcpy(inner, "padded\x17\0\0\0", 10);
	len = client_seal13_raw(p, inner, 10, rec);
	assert_int_equal(tls_record_open(&p->rd, rec, len, &pl, &err),
	    (ssize_t)len);
	assert_int_equal(pl.type, TLS_CT_APPLICATION_DATA);
	assert_int_equal(pl.len, 6);
	assert_memory_equal(pl.data, "padded", 6);
	peer_free(p);
}

/* A state for the client's side of p: read and write swapped. */
static void
client_sealer(struct peer *p, struct tls_record_dir *cw)
{
	struct tls_state	 st = p->st;
	char			 err[128];

	st.write = p->st.read;
	st.write.seq = p->rd.seq;
	assert_int_equal(tls_record_init(cw, &st, TLS_RECORD_WRITE, err,
	    sizeof(err)), 0);
	OPENSSL_cleanse(&st, sizeof(st));
}

static void
expect_handshake_refused(struct peer *p, struct tls_record_dir *cw,
    const char *msg, size_t len, int alert)
{
	struct tls_record_plain	 pl;
	struct tls_record_error	 err = { NULL, 0 };
	uint8_t			 out[64];
	ssize_t			 n;

	n = tls_record_seal(cw, TLS_CT_HANDSHAKE, (const uint8_t *)msg, len,
	    out, sizeof(out), &err);
	assert_true(n > 0);
	assert_int_equal(tls_record_open(&p->rd, out, (size_t)n, &pl, &err), n);
	assert_int_equal(pl.type, TLS_CT_HANDSHAKE);
	assert_int_equal(tls_record_recv_handshake(&p->rd, pl.data, pl.len,
	    &err), TLS_RECORD_ERROR);
	assert_int_equal(err.alert, alert);
}

static void
test_post_handshake_refused(void **state)
{
	struct peer		*p = peer_new(*state, NULL, 0, 1);
	struct tls_record_dir	 cw;
	struct tls_record_plain	 pl;
	struct tls_record_error	 err;
	uint8_t			 out[64];
	int			 desc;
	ssize_t			 n;

	peer_handoff(p);
	relay_expect_data(p, (const uint8_t *)"pipelined", 9);
	if (p->suite->version == TLS_STATE_V13) {
		assert_int_equal(tls_record_alert_for_renegotiation(&p->wr, out,
		    sizeof(out), &err), TLS_RECORD_ERROR);
		client_sealer(p, &cw);
		expect_handshake_refused(p, &cw, "\x04\0\0\1\0", 5,
		    TLS_ALERT_UNEXPECTED_MESSAGE);
		expect_handshake_refused(p, &cw, "\x18\0\0\1\2", 5,
		    TLS_ALERT_ILLEGAL_PARAMETER);
		expect_handshake_refused(p, &cw, "\x18\0\0\2\0\0", 6,
		    TLS_ALERT_DECODE_ERROR);
		expect_handshake_refused(p, &cw, "\x18\0\0\1\0\x18", 6,
		    TLS_ALERT_UNEXPECTED_MESSAGE);
		expect_handshake_refused(p, &cw, "\x18\0", 2,
		    TLS_ALERT_UNEXPECTED_MESSAGE);
		tls_record_free(&cw);
		peer_free(p);
		return;
	}
	/* TLS 1.2: the client's ClientHello gets a warning no_renegotiation. */
	assert_int_equal(SSL_renegotiate(p->c), 1);
	assert_int_equal(SSL_do_handshake(p->c), -1);
	relay_expect_type(p, TLS_CT_HANDSHAKE, &pl);
	assert_int_equal(pl.data[0], 1);
	assert_int_equal(tls_record_recv_handshake(&p->rd, pl.data, pl.len,
	    &err), TLS_HS_RENEGOTIATION);
	n = tls_record_alert_for_renegotiation(&p->wr, out, sizeof(out), &err);
	to_client(p, out, n);
	assert_int_equal(SSL_do_handshake(p->c), -1);
	assert_int_equal(ERR_GET_REASON(ERR_peek_error()),
	    SSL_R_NO_RENEGOTIATION);
	/* libssl gives up with a fatal alert, which ends the tunnel. */
	relay_expect_type(p, TLS_CT_ALERT, &pl);
	assert_int_equal(tls_record_parse_alert(pl.data, pl.len, &desc, &err),
	    TLS_RECORD_ERROR);
	assert_int_equal(desc, TLS_ALERT_HANDSHAKE_FAILURE);
	assert_int_equal(err.alert, TLS_ALERT_NONE);
	peer_free(p);
}

static void
expect_invalid(const struct tls_state *st, const char *why)
{
	char	 err[160];

	assert_int_equal(tls_state_validate(st, err, sizeof(err)), -1);
	if (strstr(err, why) == NULL)
		fail_msg("validate: \"%s\", expected \"%s\"", err, why);
}

static void
test_state_validate(void **state)
{
	struct tls_state	 good, st;
	struct tls_record_dir	 d;
	char			 err[160];

	(void)state;
	rfc_state(&good, rfc_c_secret, rfc_s_secret);
	assert_int_equal(tls_state_validate(&good, err, sizeof(err)), 0);
	st = good;
	st.version = 0x0302;
	expect_invalid(&st, "protocol version");
	st = good;
	st.suite = 0xC02B;
	expect_invalid(&st, "not supported");
	st = good;
	st.suite = 0x1304;
	expect_invalid(&st, "not supported");
	st = good;
	st.write.key_len = 32;
	expect_invalid(&st, "write: secret/key/IV lengths");
	st = good;
	st.read.secret_len = 48;
	expect_invalid(&st, "read: secret/key/IV lengths");
	st = good;
	st.read.key[20] = 1;
	expect_invalid(&st, "not zero");
	st = good;
	st.write.reserved = 1;
	expect_invalid(&st, "not zero");
	st = good;
	st.reserved = 1;
	expect_invalid(&st, "reserved");
	st = good;
	st.read.seq = UINT64_MAX;
	expect_invalid(&st, "exhausted");
	/* Valid in shape, but the key does not come from the secret. */
	st = good;
	st.write.key[0] ^= 1;
	assert_int_equal(tls_record_init(&d, &st, TLS_RECORD_WRITE, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "does not match"));
}

static void
test_seal_limits_and_rekey_threshold(void **state)
{
	static uint8_t		 in[TLS_RECORD_MAX_PLAIN + 1], out[SEAL_CAP + 1];
	struct tls_state	 st;
	struct tls_record_dir	 w;
	struct tls_record_error	 err;
	char			 msg[128];

	(void)state;
	rfc_state(&st, rfc_c_secret, rfc_s_secret);
	st.write.seq = TLS_RECORD_REKEY_GCM - 1;
	assert_int_equal(tls_record_init(&w, &st, TLS_RECORD_WRITE, msg,
	    sizeof(msg)), 0);
	assert_int_equal(tls_record_seal(&w, TLS_CT_APPLICATION_DATA, in,
	    sizeof(in), out, sizeof(out), &err), TLS_RECORD_ERROR);
	assert_int_equal(tls_record_seal(&w, TLS_CT_APPLICATION_DATA, in, 100,
	    out, 100 + 21, &err), TLS_RECORD_ERROR);
	assert_int_equal(tls_record_seal(&w, TLS_CT_APPLICATION_DATA, out + 1,
	    100, out, sizeof(out), &err), TLS_RECORD_ERROR);
	assert_false(tls_record_should_update(&w));
	assert_int_equal(tls_record_seal(&w, TLS_CT_APPLICATION_DATA, in, 100,
	    out, 100 + 22, &err), 100 + 22);
	assert_true(tls_record_should_update(&w));
	assert_true(tls_record_seal_key_update(&w, false, out, sizeof(out),
	    &err) > 0);
	assert_false(tls_record_should_update(&w));
	assert_int_equal(w.seq, 0);
	tls_record_free(&w);
	/* A read direction neither seals nor updates on its own behalf. */
	assert_int_equal(tls_record_init(&w, &st, TLS_RECORD_READ, msg,
	    sizeof(msg)), 0);
	assert_int_equal(tls_record_seal(&w, TLS_CT_APPLICATION_DATA, in, 1,
	    out, sizeof(out), &err), TLS_RECORD_ERROR);
	tls_record_free(&w);
	/* The per-direction state stays small (idle tunnel budget 4 KiB). */
	assert_true(sizeof(struct tls_record_dir) <= 96);
}

static void
test_alert_parse(void **state)
{
	struct tls_record_error	 err;
	int			 desc;

	(void)state;
	assert_int_equal(tls_record_parse_alert((const uint8_t *)"\1\0", 2,
	    &desc, &err), 0);
	assert_int_equal(tls_record_parse_alert((const uint8_t *)"\2\0", 2,
	    &desc, &err), 0);
	assert_int_equal(tls_record_parse_alert((const uint8_t *)"\2\x28", 2,
	    &desc, &err), TLS_RECORD_ERROR);
	assert_int_equal(desc, TLS_ALERT_HANDSHAKE_FAILURE);
	assert_int_equal(err.alert, TLS_ALERT_NONE);
	assert_string_equal(tls_alert_name(desc), "handshake_failure");
	assert_int_equal(tls_record_parse_alert((const uint8_t *)"\1\x5a", 2,
	    &desc, &err), TLS_RECORD_ERROR);
	assert_int_equal(tls_record_parse_alert((const uint8_t *)"\3\0", 2,
	    &desc, &err), TLS_RECORD_ERROR);
	assert_int_equal(err.alert, TLS_ALERT_ILLEGAL_PARAMETER);
	assert_int_equal(tls_record_parse_alert((const uint8_t *)"\1\0\1\0", 4,
	    &desc, &err), TLS_RECORD_ERROR);
	assert_int_equal(err.alert, TLS_ALERT_DECODE_ERROR);
	assert_int_equal(tls_record_parse_alert((const uint8_t *)"", 0,
	    &desc, &err), TLS_RECORD_ERROR);
	assert_int_equal(desc, TLS_ALERT_NONE);
}

int
main(void)
{
	const struct tls_suite	*s;

	add("test_rfc8448_traffic_keys", test_rfc8448_traffic_keys, NULL);
	add("test_rfc8448_records", test_rfc8448_records, NULL);
	add("test_state_validate", test_state_validate, NULL);
	add("test_seal_limits_and_rekey_threshold",
	    test_seal_limits_and_rekey_threshold, NULL);
	add("test_alert_parse", test_alert_parse, NULL);
	for (size_t i = 0; i < NSUITES; i++) {
		s = tls_suite_lookup(suite_ids[i]);
		add("test_roundtrip", test_roundtrip, s);
		add("test_close_relay_first", test_close_relay_first, s);
		add("test_bad_records", test_bad_records, s);
		add("test_post_handshake_refused", test_post_handshake_refused,
		    s);
		if (s->version == TLS_STATE_V13)
			add("test_key_update", test_key_update, s);
	}
	return _cmocka_run_group_tests("tls_record", reg_tests, reg_n,
	    group_setup, group_teardown);
}
