/*
 * What the master does with a control message from a child it can no longer
 * trust: the control table (msg_validate() on ctl_proto, as each role would
 * send it, with and without a descriptor), then auditlog_format() for an
 * audit record. Each input is tried three ways: as a whole message; as the
 * record of a well-formed header, so the range, termination and role checks
 * see most inputs; and spread over the fields of a record that is valid by
 * construction, so the formatter sees arbitrary strings in every field.
 * Besides memory errors, abort unless the table keeps every type to the
 * roles and descriptors of its row, each role's audit records to the events
 * it produces, and every accepted record becomes exactly one line of JSON
 * that says what the record said: the schema's keys in order, each present
 * exactly when the record has it, valid UTF-8, every string escaped, and
 * every valid-UTF-8 field readable back byte for byte. A metrics snapshot
 * the table accepts (whole, or the input laid over its body) must format
 * within TG_METRICS_RESPONSE_MAX as one sample per line. An account
 * re-check answer the table accepts holds exactly its count of non-empty
 * group names, and one built from the input's names is accepted.
 *
 * The Makefile's fuzz rule links only the parsers' sources (the message
 * table code among them), so the other units under test are compiled into
 * this file.
 */
#include "../../src/master/audit.c"
#include "../../src/master/fs_check.c"
#include "../../src/master/fs_check_pam.c"
#include "../../src/master/fs_check_scan.c"
#include "../../src/common/ctl.c"
#include "../../src/metrics/metrics_text.c"

#include <stdlib.h>

int	 LLVMFuzzerInitialize(int *, char ***);
int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#include "fuzz_audit_line.h"

static const unsigned froles[] = { MSG_MASTER, MSG_AUTH, MSG_GATE, MSG_RELAY,
    MSG_KEY, MSG_METRICS };
#define NROLES	(sizeof(froles) / sizeof(froles[0]))

/* The events a role's records may carry (docs/audit-log.md, "Events"). */
static int
fz_event_ok(unsigned from, const struct audit_record *r)
{
	switch (from) {
	case MSG_AUTH:
		return (r->event >= AUDIT_AUTH_FAIL && r->event <= AUDIT_ERROR) ||
		    r->event == AUDIT_LOCKOUT;
	case MSG_GATE:
		return r->event == AUDIT_OPEN || r->event == AUDIT_CLOSE ||
		    r->event == AUDIT_ERROR || (r->event == AUDIT_AUTH_FAIL &&
		    r->user[0] == '\0' &&
		    strcmp(r->reason, AUDIT_REASON_NO_CREDENTIALS) == 0);
	case MSG_RELAY:
		return r->event == AUDIT_CLOSE;
	}
	return 0;
}

/*
 * An accepted snapshot formats completely; every line is a comment or a
 * sample whose label values hold no raw quote or newline.
 */
static void
check_metrics(const void *msg)
{
	struct ctl_metrics	 m;
	struct buf		 out;
	const char		*p, *end, *nl;

	memcpy(&m, msg, sizeof(m));
	check(m.n_rules <= TG_METRICS_RULES);
	buf_init(&out, TG_METRICS_RESPONSE_MAX);
	check(metrics_text(&m, &out) == 0);
	p = (const char *)buf_rptr(&out);
	end = p + buf_len(&out);
	check(buf_len(&out) > 0 && end[-1] == '\n');
	for (; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		check(nl != NULL && nl > p);
		check(p[0] == '#' || (p[0] >= 'a' && p[0] <= 'z'));
		check(memchr(p, '\0', (size_t)(nl - p)) == NULL);
	}
	buf_free(&out);
}

/*
 * An accepted re-check answer: the master walks n_groups names from the
 * start of groups (src/master/recheck.c); each must be there, non-empty
 * and inside the field, and nothing may follow the last.
 */
static void
check_recheck_reply(const void *msg)
{
	struct ctl_recheck_reply	 r;
	size_t				 off = 0, len;

	memcpy(&r, msg, sizeof(r));
	check(r.status >= CTL_RECHECK_OK && r.status <= CTL_RECHECK_UNAVAILABLE);
	check(r.serial != 0 && r.user[0] != '\0');
	check(memchr(r.user, '\0', sizeof(r.user)) != NULL);
	check(memchr(r.reason, '\0', sizeof(r.reason)) != NULL);
	check(r.n_groups == 0 || r.status == CTL_RECHECK_OK);
	for (uint32_t i = 0; i < r.n_groups; i++) {
		check(off < sizeof(r.groups));
		len = strnlen(r.groups + off, sizeof(r.groups) - off);
		check(len > 0 && len < sizeof(r.groups) - off);
		off += len + 1;
	}
	for (; off < sizeof(r.groups); off++)
		check(r.groups[off] == '\0');
}

static int	 check_one(const void *, size_t, size_t, unsigned, unsigned);
static uint64_t	 take_u64(const uint8_t **, const uint8_t *);

/* The input laid over a snapshot's body, as the master would send it. */
static void
check_metrics_body(const uint8_t *data, size_t size)
{
	struct ctl_metrics	 m;
	size_t			 body = sizeof(m) - sizeof(m.hdr);

	memset(&m, 0, sizeof(m));
	memcpy((uint8_t *)&m + sizeof(m.hdr), data, size < body ? size : body);
	ctl_hdr_init(&m.hdr, CTL_METRICS);
	check_one(&m, sizeof(m), 0, MSG_MASTER, MSG_METRICS);
}

/*
 * A snapshot valid by construction: the first byte picks the rule count,
 * the next 64 bytes the counters' values, the rest the rule names (cut at
 * NULs), so every name the formatter escapes comes from the input.
 */
static void
check_metrics_built(const uint8_t *data, size_t size)
{
	struct ctl_metrics	 m;
	const uint8_t		*p = data, *end = data + size;
	uint64_t		 v;

	if (size < 1)
		return;
	memset(&m, 0, sizeof(m));
	m.n_rules = *p++ % (TG_METRICS_RULES + 1);
	for (size_t i = 0; i < 8; i++) {
		v = take_u64(&p, end);
		m.logins[i % CTL_LOGIN_RESULTS] = v;
		m.closed[i % (AUDIT_BY_MAX + 1)] = v;
		m.restarts[i % CTL_PROCS] = v;
		m.auth_sum_ms = v;
	}
	m.auth_count = UINT64_MAX;
	for (size_t i = 0; i < TG_METRICS_BUCKETS; i++)
		m.auth_buckets[i] = i;
	for (uint32_t i = 0; i < m.n_rules; i++) {
		size_t	 n = 0;

		while (p < end && *p != '\0' && n < sizeof(m.rules[i].name) - 1)
			m.rules[i].name[n++] = (char)*p++;
		if (p < end)
			p++;
		if (n == 0)
			m.rules[i].name[0] = 'r';
		m.rules[i].open = UINT64_MAX - i;
	}
	ctl_hdr_init(&m.hdr, CTL_METRICS);
	check(check_one(&m, sizeof(m), 0, MSG_MASTER, MSG_METRICS) ==
	    CTL_METRICS);
}

/* One message as one sender would put it to one receiver. */
static int
check_one(const void *msg, size_t n, size_t nfds, unsigned from, unsigned to)
{
	const struct msg_type	*t;
	const char		*why = NULL;
	struct ctl_audit	 m;
	struct msg_hdr		 h;

	if ((t = msg_validate(&ctl_proto, msg, n, nfds, from, to, &why)) ==
	    NULL) {
		check(why != NULL);
		return -1;
	}
	memcpy(&h, msg, sizeof(h));
	check(h.version == CTL_PROTO_VERSION && h.size == n && h.type == t->type);
	check(n >= t->size && n <= t->size_max && n < CTL_MSG_BUF);
	check((t->from & from) && (t->to & to));
	check(nfds >= t->fds_min && nfds <= t->fds_max);
	/*
	 * Only the master sends descriptors, and only to authenticators and
	 * key processes.
	 */
	check(nfds == 0 || (from == MSG_MASTER && (to == MSG_AUTH ||
	    to == MSG_KEY)));
	/* Children talk to the master only, never to each other. */
	check((from == MSG_MASTER) != (to == MSG_MASTER));
	switch (t->type) {
	case CTL_AUDIT:
		memcpy(&m, msg, sizeof(m));
		check(auditlog_record_validate(&m.rec) == 0);
		check(fz_event_ok(from, &m.rec));
		check_format(&m.rec);
		break;
	case CTL_RELAY_INIT: {
		const struct ctl_relay_init *ri = msg;

		check(to == MSG_RELAY);
		check(memchr(ri->user, '\0', sizeof(ri->user)) != NULL);
		check(memchr(ri->chroot_dir, '\0', sizeof(ri->chroot_dir)) != NULL);
		break;
	}
	case CTL_RELAY_LOADS:
		check(((const struct ctl_relay_loads *)msg)->n <= TG_MAX_RELAY_WORKERS);
		break;
	case CTL_HANDOFF:
	case CTL_HANDOFF_FAILED:
		check(from == MSG_GATE);
		break;
	case CTL_GATE_BROKE:
		check(from == MSG_AUTH || from == MSG_KEY);
		check(memchr(((const struct ctl_gate_broke *)msg)->why, '\0',
		    sizeof(((const struct ctl_gate_broke *)msg)->why)) != NULL);
		break;
	case CTL_TUNNEL_STATS:
		check(from == MSG_GATE || from == MSG_RELAY);
		check(((const struct ctl_tunnel_stats *)msg)->n <=
		    CTL_STATS_PER_MSG);
		break;
	case CTL_TUNNEL_KILL:
		check(from == MSG_MASTER && to != MSG_AUTH);
		check(memchr(((const struct ctl_tunnel_kill *)msg)->reason, '\0',
		    sizeof(((const struct ctl_tunnel_kill *)msg)->reason)) != NULL);
		break;
	case CTL_AUTH_STATUS:
	case CTL_RETIRE:
	case CTL_AUTH_SOCKET:
		check(from == MSG_MASTER);
		break;
	case CTL_TICKET_KEYS: {
		const struct ctl_ticket_keys *k = msg;

		check(from == MSG_MASTER && to == MSG_GATE);
		check(k->n >= 1 && k->n <= TG_TICKET_KEYS);
		for (uint32_t i = 0; i < k->n; i++)
			for (uint32_t j = 0; j < i; j++)
				check(memcmp(k->key[i].name, k->key[j].name,
				    CTL_TICKET_NAME_LEN) != 0);
		break;
	}
	case CTL_KEY_SOCKET:
		check(from == MSG_MASTER && to == MSG_KEY && nfds == 1);
		break;
	case CTL_METRICS_ASK:
		check(from == MSG_METRICS);
		break;
	case CTL_METRICS:
		check(from == MSG_MASTER && to == MSG_METRICS);
		check_metrics(msg);
		break;
	case CTL_RECHECK: {
		struct ctl_recheck	 q;

		memcpy(&q, msg, sizeof(q));
		check(from == MSG_MASTER && to == MSG_AUTH && q.serial != 0);
		check(q.user[0] != '\0' && memchr(q.user, '\0', sizeof(q.user)));
		break;
	}
	case CTL_RECHECK_REPLY:
		check(from == MSG_AUTH && to == MSG_MASTER);
		check_recheck_reply(msg);
		break;
	default:
		abort();
	}
	return t->type;
}

/* Every sender and receiver pair, with none, one and two descriptors. */
static void
check_msg(const void *msg, size_t n)
{
	for (size_t f = 0; f < NROLES; f++)
		for (size_t t = 0; t < NROLES; t++)
			for (size_t nfds = 0; nfds <= 2; nfds++)
				check_one(msg, n, nfds, froles[f], froles[t]);
}

/* An audit record reaches the log exactly when its sender produces it. */
static void
check_audit_roles(const struct ctl_audit *m)
{
	int	 valid = auditlog_record_validate(&m->rec) == 0;

	for (size_t f = 1; f < NROLES; f++)
		check((check_one(m, sizeof(*m), 0, froles[f], MSG_MASTER) ==
		    CTL_AUDIT) == (valid && fz_event_ok(froles[f], &m->rec)));
}

static uint64_t
take_u64(const uint8_t **p, const uint8_t *end)
{
	uint64_t	 v = 0;

	for (int i = 0; i < 8 && *p < end; i++)
		v = v << 8 | *(*p)++;
	return v;
}

/* Two selector bytes, four counters, then NUL-separated field strings. */
static void
fields_from_bytes(const uint8_t *data, size_t size, struct ctl_audit *m)
{
	const uint8_t	*p = data, *end = data + size, *nul;
	char		 s[512];
	size_t		 n;
	bool		 admin;

	if (size < 2)
		return;
	m->rec.event = AUDIT_AUTH_FAIL + *p++ % AUDIT_EVENT_MAX;
	/* Valid records: only a close says who closed, and it always does. */
	m->rec.closed_by = m->rec.event == AUDIT_CLOSE ?
	    AUDIT_BY_CLIENT + *p % AUDIT_BY_MAX : AUDIT_BY_NONE;
	p++;
	m->rec.tunnel_id = take_u64(&p, end);
	m->rec.bytes_up = take_u64(&p, end);
	m->rec.bytes_down = take_u64(&p, end);
	m->rec.duration_ms = take_u64(&p, end);
	/* Valid records: only an admin's act says who asked and counts. */
	admin = m->rec.event == AUDIT_RELOAD ||
	    m->rec.event == AUDIT_CACHE_FLUSH;
	if (admin)
		m->rec.count = m->rec.duration_ms;
	for (int k = K_CLIENT; k <= K_BY && p < end; k++) {
		if (fkeys[k].split != 0)
			continue;
		if (k == K_BY && !admin)
			break;
		nul = memchr(p, '\0', (size_t)(end - p));
		n = (size_t)((nul != NULL ? nul : end) - p);
		if (n >= sizeof(s))
			n = sizeof(s) - 1;
		memcpy(s, p, n);
		s[n] = '\0';
		auditlog_strlcpy((char *)&m->rec + fkeys[k].off, s,
		    fkeys[k].size);
		p = nul != NULL ? nul + 1 : end;
	}
}

/*
 * An answer valid by construction: the first byte picks the status, the
 * rest are group names cut at NULs (empty ones skipped) while they fit;
 * the table must accept it, and refuse it with one name fewer counted.
 */
static void
check_recheck_built(const uint8_t *data, size_t size)
{
	struct ctl_recheck_reply	 r;
	const uint8_t			*p = data + 1, *end = data + size, *nul;
	size_t				 off = 0, n;

	if (size < 1)
		return;
	memset(&r, 0, sizeof(r));
	ctl_hdr_init(&r.hdr, CTL_RECHECK_REPLY);
	r.serial = 1;
	r.status = CTL_RECHECK_OK + data[0] % 3;
	AUDIT_SET(r.user, "alice");
	while (r.status == CTL_RECHECK_OK && p < end) {
		nul = memchr(p, '\0', (size_t)(end - p));
		n = (size_t)((nul != NULL ? nul : end) - p);
		if (n > 0 && n + 1 <= sizeof(r.groups) - off) {
			memcpy(r.groups + off, p, n);
			off += n + 1;
			r.n_groups++;
		}
		p = nul != NULL ? nul + 1 : end;
	}
	check(check_one(&r, sizeof(r), 0, MSG_AUTH, MSG_MASTER) ==
	    CTL_RECHECK_REPLY);
	if (r.n_groups > 0) {
		r.n_groups--;
		check(check_one(&r, sizeof(r), 0, MSG_AUTH, MSG_MASTER) == -1);
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init("fuzz_ctl", false, LOG_LVL_ERROR);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctl_audit	 m;

	check_msg(data, size);
	check_metrics_body(data, size);
	check_metrics_built(data, size);
	check_recheck_built(data, size);

	memset(&m, 0, sizeof(m));
	ctl_hdr_init(&m.hdr, CTL_AUDIT);
	memcpy(&m.rec, data, size < sizeof(m.rec) ? size : sizeof(m.rec));
	check_audit_roles(&m);

	memset(&m, 0, sizeof(m));
	ctl_hdr_init(&m.hdr, CTL_AUDIT);
	fields_from_bytes(data, size, &m);
	if (size >= 2) {
		check(auditlog_record_validate(&m.rec) == 0);
		/* The master's own events too (progress, reload): every key. */
		check_format(&m.rec);
	}
	check_audit_roles(&m);
	return 0;
}
