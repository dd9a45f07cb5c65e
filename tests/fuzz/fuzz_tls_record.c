/*
 * The relay worker's record layer on arbitrary client bytes, one suite per
 * input (picked by the first byte) with fixed keys: open records one after
 * another and hand what decrypts to the KeyUpdate and alert parsers, as the
 * relay does. Besides memory errors, abort when a result breaks what the
 * relay relies on: consumption within the input, plaintext inside its
 * record and within the limit, a reason on every error, and application
 * data that, sealed back, opens again to the same bytes.
 *
 * The Makefile links only the parsers' sources into fuzz targets, and the
 * record layer is not one of them: it is compiled in here.
 */
#include <stdlib.h>
#include <string.h>

#include "tls_record.c"

#define NSUITES	(sizeof(suites) / sizeof(suites[0]))

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(int cond)
{
	if (!cond)
		abort();
}

static void
fixed_dir(const struct tls_suite *s, struct tls_state_dir *d, uint8_t seed)
{
	memset(d, 0, sizeof(*d));
	d->key_len = s->key_len;
	d->iv_len = s->iv_len;
	d->seq = seed;
	if (s->version == TLS_STATE_V13) {
		d->secret_len = s->hash_len;
		for (size_t i = 0; i < s->hash_len; i++)
			d->secret[i] = (uint8_t)(seed + i);
		check(tls_record_derive_keys(s, d->secret, d->key, d->iv) == 0);
		return;
	}
	for (size_t i = 0; i < s->key_len; i++)
		d->key[i] = (uint8_t)(seed + i);
	for (size_t i = 0; i < s->iv_len; i++)
		d->iv[i] = (uint8_t)(seed ^ i);
}

/* The server's state for suite s; the client's has read and write swapped. */
static void
fixed_state(const struct tls_suite *s, struct tls_state *st, bool client)
{
	memset(st, 0, sizeof(*st));
	st->version = s->version;
	st->suite = s->id;
	fixed_dir(s, client ? &st->write : &st->read, 1);
	fixed_dir(s, client ? &st->read : &st->write, 2);
}

/* Seal application data back, as the relay would, and open it again. */
static void
echo(struct tls_record_dir *wr, struct tls_record_dir *peer,
    const struct tls_record_plain *pl)
{
	static uint8_t		 out[TLS_RECORD_MAX_PLAIN +
				    TLS_RECORD_SEAL_OVERHEAD];
	struct tls_record_plain	 back;
	struct tls_record_error	 err;
	ssize_t			 n;

	n = tls_record_seal(wr, TLS_CT_APPLICATION_DATA, pl->data, pl->len,
	    out, sizeof(out), &err);
	check(n > 0 && (size_t)n <= pl->len + TLS_RECORD_SEAL_OVERHEAD);
	check(tls_record_open(peer, out, (size_t)n, &back, &err) == n);
	check(back.type == TLS_CT_APPLICATION_DATA && back.len == pl->len &&
	    memcmp(back.data, pl->data, pl->len) == 0);
}

/* The client opens what the relay sealed besides data: the same type back. */
static void
peer_open(struct tls_record_dir *peer, uint8_t *rec, ssize_t n, uint8_t type,
    struct tls_record_plain *back)
{
	struct tls_record_error	 err;

	check(n > 0);
	check(tls_record_open(peer, rec, (size_t)n, back, &err) == n);
	check(back->type == type);
}

/* One decrypted record; false when the relay would stop reading. */
static bool
handle(struct tls_record_dir *rd, struct tls_record_dir *wr,
    struct tls_record_dir *peer, const struct tls_record_plain *pl)
{
	static uint8_t		 out[64];
	struct tls_record_plain	 back;
	struct tls_record_error	 err = { NULL, 0 };
	int			 r, desc;

	switch (pl->type) {
	case TLS_CT_APPLICATION_DATA:
		echo(wr, peer, pl);
		return true;
	case TLS_CT_HANDSHAKE:
		r = tls_record_recv_handshake(rd, pl->data, pl->len, &err);
		if (r == TLS_HS_KEY_UPDATE_REQUESTED) {
			peer_open(peer, out, tls_record_seal_key_update(wr,
			    false, out, sizeof(out), &err), TLS_CT_HANDSHAKE,
			    &back);
			check(tls_record_recv_handshake(peer, back.data,
			    back.len, &err) == TLS_HS_KEY_UPDATE);
		} else if (r == TLS_HS_RENEGOTIATION) {
			peer_open(peer, out, tls_record_alert_for_renegotiation(
			    wr, out, sizeof(out), &err), TLS_CT_ALERT, &back);
			check(back.len == 2 && back.data[0] == 1 &&
			    back.data[1] == TLS_ALERT_NO_RENEGOTIATION);
		}
		check(r != TLS_RECORD_ERROR || err.reason != NULL);
		return r != TLS_RECORD_ERROR;
	case TLS_CT_ALERT:
		r = tls_record_parse_alert(pl->data, pl->len, &desc, &err);
		check(r == 0 || err.reason != NULL);
		return false;
	default:
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct tls_suite	*s;
	struct tls_state	 st;
	struct tls_record_dir	 rd, wr, peer;
	struct tls_record_plain	 pl;
	struct tls_record_error	 err;
	uint8_t			*buf;
	size_t			 off = 0, len;
	ssize_t			 n;
	char			 msg[128];

	if (size < 1)
		return 0;
	s = &suites[data[0] % NSUITES];
	len = size - 1;
	/* A copy of exactly the input, so reads past it are caught. */
	check((buf = malloc(len ? len : 1)) != NULL);
	memcpy(buf, data + 1, len);
	fixed_state(s, &st, false);
	check(tls_record_init(&rd, &st, TLS_RECORD_READ, msg, sizeof(msg)) == 0);
	check(tls_record_init(&wr, &st, TLS_RECORD_WRITE, msg, sizeof(msg)) == 0);
	fixed_state(s, &st, true);
	check(tls_record_init(&peer, &st, TLS_RECORD_READ, msg,
	    sizeof(msg)) == 0);
	while ((n = tls_record_open(&rd, buf + off, len - off, &pl, &err)) > 0) {
		check((size_t)n <= len - off);
		check(pl.data >= buf + off && pl.len <= TLS_RECORD_MAX_PLAIN &&
		    pl.data + pl.len <= buf + off + (size_t)n);
		off += (size_t)n;
		if (!handle(&rd, &wr, &peer, &pl))
			break;
	}
	check(n >= TLS_RECORD_ERROR);
	check(n != TLS_RECORD_ERROR || err.reason != NULL);
	tls_record_free(&rd);
	tls_record_free(&wr);
	tls_record_free(&peer);
	free(buf);
	return 0;
}
