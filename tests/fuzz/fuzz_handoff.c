/*
 * The handoff table on arbitrary bytes, as a relay worker receives them from
 * a possibly compromised gate worker, with 0 to 3 descriptors and as every
 * sender and receiver pair. Each input is tried twice: as a whole message,
 * and as the material of a message that is well-formed by construction (a
 * suite picked by the first byte, keys, facts and pipelined bytes from the
 * rest), which is then broken in each way the table must notice. Besides
 * memory errors, abort when an accepted message breaks what the relay worker
 * relies on: it comes from a gate worker with exactly the two sockets, its
 * pipelined bytes fill it exactly, its facts are a valid open record, and
 * its TLS state sets up the record layer (TLS 1.3 keys are checked against
 * their secrets there, so only TLS 1.2 must always succeed).
 *
 * The Makefile links only the parsers' sources into fuzz targets; the table
 * and what it calls are compiled in here.
 */
#include <stdlib.h>
#include <string.h>

#include "../../src/master/audit.c"
#include "../../src/master/fs_check.c"
#include "../../src/master/fs_check_pam.c"
#include "../../src/master/fs_check_scan.c"
#include "../../src/relay/tls_record.c"
#include "../../src/worker/handoff_proto.c"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define NSUITES	(sizeof(suites) / sizeof(suites[0]))

static const unsigned	 roles[] = { MSG_MASTER, MSG_AUTH, MSG_GATE, MSG_RELAY };

static void
check(int cond)
{
	if (!cond)
		abort();
}

static void
check_state(const struct tls_state *st)
{
	struct tls_record_dir	 d;
	char			 err[128];
	int			 r;

	for (int side = 0; side < 2; side++) {
		r = tls_record_init(&d, st, side ? TLS_RECORD_WRITE :
		    TLS_RECORD_READ, err, sizeof(err));
		check(r == 0 || st->version == TLS_STATE_V13);
		if (r == 0)
			tls_record_free(&d);
	}
}

static int
check_one(const uint8_t *msg, size_t n, size_t nfds, unsigned from,
    unsigned to)
{
	const struct msg_type	*t;
	const char		*why = NULL;
	struct handoff_msg	 h;
	struct tls_state	 st;

	if ((t = msg_validate(&handoff_proto, msg, n, nfds, from, to, &why)) ==
	    NULL) {
		check(why != NULL);
		return -1;
	}
	check(t->type == HANDOFF_TUNNEL && from == MSG_GATE && to == MSG_RELAY);
	check(nfds == 2 && n >= sizeof(h) && n <= HANDOFF_MSG_MAX);
	memcpy(&h, msg, sizeof(h));
	check(h.hdr.version == HANDOFF_PROTO_VERSION && h.hdr.size == n);
	check(h.data_len <= HANDOFF_DATA_MAX && n == sizeof(h) + h.data_len);
	check(h.facts.event == AUDIT_OPEN &&
	    auditlog_record_validate(&h.facts) == 0);
	memcpy(&st, msg + offsetof(struct handoff_msg, tls), sizeof(st));
	check_state(&st);
	return 0;
}

static void
check_all(const uint8_t *msg, size_t n)
{
	for (size_t f = 0; f < 4; f++)
		for (size_t t = 0; t < 4; t++)
			for (size_t nfds = 0; nfds <= 3; nfds++)
				check_one(msg, n, nfds, roles[f], roles[t]);
}

static size_t
take(const uint8_t **p, const uint8_t *end, void *out, size_t n)
{
	size_t	 k = (size_t)(end - *p) < n ? (size_t)(end - *p) : n;

	memcpy(out, *p, k);
	*p += k;
	return k;
}

static void
make_dir(const struct tls_suite *s, struct tls_state_dir *d,
    const uint8_t **p, const uint8_t *end)
{
	memset(d, 0, sizeof(*d));
	d->key_len = s->key_len;
	d->iv_len = s->iv_len;
	take(p, end, &d->seq, sizeof(d->seq));
	if (d->seq == UINT64_MAX)
		d->seq = 0;
	if (s->version == TLS_STATE_V13) {
		d->secret_len = s->hash_len;
		take(p, end, d->secret, s->hash_len);
		check(tls_record_derive_keys(s, d->secret, d->key, d->iv) == 0);
		return;
	}
	take(p, end, d->key, s->key_len);
	take(p, end, d->iv, s->iv_len);
}

/* A message the table must accept, made of the input's bytes. */
static size_t
make_msg(const uint8_t *data, size_t size, struct handoff_msg *h)
{
	const uint8_t		*p = data + 1, *end = data + size;
	const struct tls_suite	*s = &suites[data[0] % NSUITES];
	char			 user[64] = "";

	memset(h, 0, sizeof(*h));
	h->tls.version = s->version;
	h->tls.suite = s->id;
	make_dir(s, &h->tls.read, &p, end);
	make_dir(s, &h->tls.write, &p, end);
	h->facts.event = AUDIT_OPEN;
	take(&p, end, user, sizeof(user) - 1);
	AUDIT_SET(h->facts.user, user);
	take(&p, end, &h->facts.tunnel_id, sizeof(h->facts.tunnel_id));
	h->data_len = (uint32_t)take(&p, end, h->data, HANDOFF_DATA_MAX);
	msg_hdr_init(&handoff_proto, &h->hdr, HANDOFF_TUNNEL);
	h->hdr.size = (uint32_t)(sizeof(*h) + h->data_len);
	return h->hdr.size;
}

static void
check_made(const uint8_t *data, size_t size)
{
	static struct handoff_msg	*h;
	size_t				 n;

	if (h == NULL && (h = malloc(HANDOFF_MSG_MAX + 1)) == NULL)
		abort();
	n = make_msg(data, size, h);
	check(check_one((uint8_t *)h, n, 2, MSG_GATE, MSG_RELAY) == 0);
	check(check_one((uint8_t *)h, n, 1, MSG_GATE, MSG_RELAY) == -1);
	check(check_one((uint8_t *)h, n, 2, MSG_AUTH, MSG_RELAY) == -1);
	/* Pipelined bytes that do not fill the message exactly. */
	h->data_len++;
	check(check_one((uint8_t *)h, n, 2, MSG_GATE, MSG_RELAY) == -1);
	h->data_len--;
	h->hdr.size++;
	check(check_one((uint8_t *)h, n + 1, 2, MSG_GATE, MSG_RELAY) == -1);
	h->hdr.size--;
	h->facts.event = AUDIT_CLOSE;
	check(check_one((uint8_t *)h, n, 2, MSG_GATE, MSG_RELAY) == -1);
	h->facts.event = AUDIT_OPEN;
	h->tls.read.key_len++;
	check(check_one((uint8_t *)h, n, 2, MSG_GATE, MSG_RELAY) == -1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_all(data, size);
	if (size >= 1)
		check_made(data, size);
	return 0;
}
