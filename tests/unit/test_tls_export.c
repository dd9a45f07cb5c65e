/*
 * The gate side of the handoff (tls_export): the TLS state taken out of a
 * libssl server with public APIs only, for every supported suite, including
 * a KeyUpdate libssl handled before the handoff, and every precondition it
 * refuses to export without (unattached, mid-handshake, plaintext or record
 * bytes left inside libssl, read-ahead, unsupported suites), and session
 * tickets sent after the handshake counted in the write sequence, and a
 * connection that drops its tracked state (tls_export_detach). The relay's
 * record layer is test_tls_record.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/ssl.h>

#include "tls_pair.h"

/* A KeyUpdate handled by libssl before the handoff arrives as secret _N. */
static void
test_export_after_key_update(void **state)
{
	struct peer	*p = peer_new(*state, NULL, 0, 1);
	char		 err[128];

	peer_handshake(p);
	assert_int_equal(SSL_key_update(p->c, SSL_KEY_UPDATE_REQUESTED), 1);
	client_write(p, "request", 7);
	server_read_expect(p, "request");
	assert_int_equal(tls_export(p->s, &p->st, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "KeyUpdate"));
	assert_int_equal(SSL_write(p->s, "200", 3), 3);
	client_read_expect(p, (const uint8_t *)"200", 3);
	assert_int_equal(tls_export(p->s, &p->st, err, sizeof(err)), 0);
	assert_int_equal(p->st.read.seq, 1);
	assert_int_equal(p->st.write.seq, 1);
	assert_int_equal(tls_record_init(&p->rd, &p->st, TLS_RECORD_READ, err,
	    sizeof(err)), 0);
	assert_int_equal(tls_record_init(&p->wr, &p->st, TLS_RECORD_WRITE, err,
	    sizeof(err)), 0);
	client_write(p, "up", 2);
	relay_expect_data(p, (const uint8_t *)"up", 2);
	relay_send_data(p, (const uint8_t *)"down", 4);
	client_read_expect(p, (const uint8_t *)"down", 4);
	/* The captured secrets were wiped by the first export. */
	assert_int_equal(tls_export(p->s, &p->st, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "traffic secret"));
	peer_free(p);
}

/*
 * Tickets go out at the end of the handshake, before the request is read:
 * each is a record under the server's write key, so the relay continues
 * after them or the client rejects its first record.
 */
static void
test_export_after_tickets(void **state)
{
	const struct tls_suite	*s = *state;
	struct peer		*p = peer_new(s, NULL, 2, 1);
	char			 err[128];

	peer_handshake(p);
	client_write(p, "request", 7);
	server_read_expect(p, "request");
	assert_int_equal(SSL_write(p->s, "200", 3), 3);
	client_read_expect(p, (const uint8_t *)"200", 3);
	assert_int_equal(tls_export(p->s, &p->st, err, sizeof(err)), 0);
	/* TLS 1.3: two tickets and the 200; TLS 1.2: Finished and the 200. */
	assert_int_equal(p->st.write.seq, s->version == TLS_STATE_V13 ? 3 : 2);
	assert_int_equal(tls_record_init(&p->rd, &p->st, TLS_RECORD_READ, err,
	    sizeof(err)), 0);
	assert_int_equal(tls_record_init(&p->wr, &p->st, TLS_RECORD_WRITE, err,
	    sizeof(err)), 0);
	client_write(p, "up", 2);
	relay_expect_data(p, (const uint8_t *)"up", 2);
	relay_send_data(p, (const uint8_t *)"down", 4);
	client_read_expect(p, (const uint8_t *)"down", 4);
	peer_free(p);
}

static void
expect_export_error(struct peer *p, const char *why)
{
	struct tls_state	 st;
	char			 err[160];

	memset(&st, 0xa5, sizeof(st));
	assert_int_equal(tls_export(p->s, &st, err, sizeof(err)), -1);
	if (strstr(err, why) == NULL)
		fail_msg("tls_export: \"%s\", expected \"%s\"", err, why);
	for (size_t i = 0; i < sizeof(st); i++)
		assert_int_equal(((uint8_t *)&st)[i], 0);
}

/* A record the server has read the first cut bytes of is not exported. */
static void
expect_refused_mid_record(struct peer *p, int cut, const char *why)
{
	uint8_t	 raw[512], buf[8];
	int	 n;

	client_write(p, "split", 5);
	n = BIO_read(p->c2s, raw, sizeof(raw));
	assert_true(n > cut);
	assert_int_equal(BIO_write(p->c2s, raw, cut), cut);
	assert_int_equal(SSL_read(p->s, buf, sizeof(buf)), -1);
	expect_export_error(p, why);
	assert_int_equal(BIO_write(p->c2s, raw + cut, n - cut), n - cut);
	assert_int_equal(SSL_read(p->s, buf, sizeof(buf)), 5);
}

static void
test_export_refusals(void **state)
{
	const struct tls_suite	*s = *state;
	struct peer		*p;
	uint8_t			 buf[8];

	p = peer_new(s, NULL, 0, 0);
	peer_handshake(p);
	expect_export_error(p, "tls_export_attach");
	peer_free(p);
	p = peer_new(s, NULL, 0, 1);
	expect_export_error(p, "handshake not finished");
	peer_handshake(p);
	client_write(p, "0123456789abcdef", 16);
	assert_int_equal(SSL_read(p->s, buf, sizeof(buf)), 8);
	expect_export_error(p, "SSL_pending");
	assert_int_equal(SSL_read(p->s, buf, sizeof(buf)), 8);
	/* Half a record read from the socket stays inside libssl. */
	expect_refused_mid_record(p, 10, "record bytes still inside libssl");
	/*
	 * Only a header: libssl keeps it where SSL_has_pending() does not
	 * look, and the message callback has counted the record already.
	 */
	expect_refused_mid_record(p, 5, "record's header");
	SSL_set_read_ahead(p->s, 1);
	expect_export_error(p, "read-ahead");
	SSL_set_read_ahead(p->s, 0);
	assert_int_equal(tls_export(p->s, &p->st, (char [128]){0}, 128), 0);
	peer_free(p);
	if (s->version != TLS_STATE_V13)
		return;
	p = peer_new(s, "TLS_AES_128_CCM_SHA256", 0, 1);
	peer_handshake(p);
	expect_export_error(p, "cannot be handed over");
	peer_free(p);
}

/*
 * A tunnel that stays in the gate worker drops its copy of the secrets: no
 * export afterwards, the connection itself unharmed, nothing freed twice.
 */
static void
test_detach(void **state)
{
	const struct tls_suite	*s = *state;
	struct peer		*p;
	uint8_t			 buf[8];

	p = peer_new(s, NULL, 0, 1);
	peer_handshake(p);
	tls_export_detach(p->s);
	expect_export_error(p, "tls_export_attach");
	tls_export_detach(p->s);
	client_write(p, "still ok", 8);
	assert_int_equal(SSL_read(p->s, buf, sizeof(buf)), 8);
	assert_memory_equal(buf, "still ok", 8);
	peer_free(p);
}

int
main(void)
{
	const struct tls_suite	*s;

	for (size_t i = 0; i < NSUITES; i++) {
		s = tls_suite_lookup(suite_ids[i]);
		if (s->version == TLS_STATE_V13)
			add("test_export_after_key_update",
			    test_export_after_key_update, s);
	}
	add("test_export_after_tickets", test_export_after_tickets,
	    tls_suite_lookup(0x1301));
	add("test_export_after_tickets", test_export_after_tickets,
	    tls_suite_lookup(0xC02B));
	add("test_export_refusals", test_export_refusals,
	    tls_suite_lookup(0x1301));
	add("test_export_refusals", test_export_refusals,
	    tls_suite_lookup(0xC02F));
	add("test_detach", test_detach, tls_suite_lookup(0x1301));
	add("test_detach", test_detach, tls_suite_lookup(0xC02F));
	return _cmocka_run_group_tests("tls_export", reg_tests, reg_n,
	    group_setup, group_teardown);
}
