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
#include "../../src/common/ctl.c"
#include "../../src/metrics/metrics_text.c"

#include <stdlib.h>

int	 LLVMFuzzerInitialize(int *, char ***);
int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FUZZ_TIME_MS	1700000000123LL
#define FUZZ_TIME	"2023-11-14T22:13:20.123Z"
/* docs/audit-log.md: a line is at most AUDIT_LINE_MAX bytes, whatever it holds. */
#define FUZZ_LINE_MAX	AUDIT_LINE_MAX

enum fkey {
	K_V, K_TIME, K_EVENT, K_ROLE, K_PID, K_GEN, K_TUNNEL,
	K_CLIENT, K_CLIENT_ADDR, K_CLIENT_PORT,
	K_PROXY, K_PROXY_ADDR, K_PROXY_PORT,
	K_USER, K_TARGET, K_TARGET_HOST, K_TARGET_PORT,
	K_RESOLVED, K_RESOLVED_ADDR, K_RESOLVED_PORT, K_RULE, K_TLS_VERSION, K_TLS_CIPHER, K_REASON,
	K_CERT_SUBJECT, K_CERT_SHA256, K_GROUPS, K_POLICY, K_BY, K_RULES,
	K_ENTRIES, K_BYTES_UP, K_BYTES_DOWN, K_DURATION, K_CLOSED_BY, K_MAX
};

/* The schema, in the order lines carry it; string fields name their slot. */
static const struct {
	const char	*name;
	size_t		 off, size;
	int		 split;		/* 1: host part, 2: port of off's field */
} fkeys[K_MAX] = {
#define S(k, f)	[k] = { #f, offsetof(struct audit_record, f), \
		    sizeof(((struct audit_record *)0)->f) }
/* A "host:port" field is also given split, as f_h and f_port. */
#define SPLIT(k, f, H, h) \
	[k##_##H] = { #f "_" #h, offsetof(struct audit_record, f), 0, 1 }, \
	[k##_PORT] = { #f "_port", offsetof(struct audit_record, f), 0, 2 }
	[K_V] = { "v", 0, 0 }, [K_TIME] = { "time", 0, 0 },
	[K_EVENT] = { "event", 0, 0 }, [K_ROLE] = { "role", 0, 0 },
	[K_PID] = { "pid", 0, 0 }, [K_GEN] = { "gen", 0, 0 },
	[K_TUNNEL] = { "tunnel", 0, 0 },
	S(K_CLIENT, client), SPLIT(K_CLIENT, client, ADDR, addr),
	S(K_PROXY, proxy), SPLIT(K_PROXY, proxy, ADDR, addr),
	S(K_USER, user),
	S(K_TARGET, target), SPLIT(K_TARGET, target, HOST, host),
	S(K_RESOLVED, resolved), SPLIT(K_RESOLVED, resolved, ADDR, addr),
	S(K_RULE, rule),
	S(K_TLS_VERSION, tls_version), S(K_TLS_CIPHER, tls_cipher),
	S(K_REASON, reason),
	S(K_CERT_SUBJECT, cert_subject), S(K_CERT_SHA256, cert_sha256),
	S(K_GROUPS, groups), S(K_POLICY, policy), S(K_BY, by),
	[K_RULES] = { "rules", 0, 0 }, [K_ENTRIES] = { "entries", 0, 0 },
	[K_BYTES_UP] = { "bytes_up", 0, 0 },
	[K_BYTES_DOWN] = { "bytes_down", 0, 0 },
	[K_DURATION] = { "duration_ms", 0, 0 },
	[K_CLOSED_BY] = { "closed_by", 0, 0 },
#undef S
#undef SPLIT
};

static const char *const fevents[] = {
	"", "auth_fail", "deny", "allow", "error", "open", "close", "violation",
	"lockout", "release", "chain", "progress", "reload", "cache_flush"
};

/* Who the master says sent each record: one role, and the child's facts. */
static const struct audit_sender fsender = { "gate", 4242, 3 };

static const unsigned froles[] = { MSG_MASTER, MSG_AUTH, MSG_GATE, MSG_RELAY,
    MSG_KEY, MSG_METRICS };
#define NROLES	(sizeof(froles) / sizeof(froles[0]))
static const char *const fclosers[] = {
	"", "client", "backend", "idle", "shutdown", "error", "admin", "policy"
};

static void
check(int cond)
{
	if (!cond)
		abort();
}

/* Length of the strict UTF-8 sequence at p (end excluded), 0 if invalid. */
static size_t
fz_utf8(const uint8_t *p, const uint8_t *end)
{
	uint32_t	 cp, min;
	size_t		 n, i;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
		min = 0x80;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		min = 0x800;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		min = 0x10000;
	} else
		return 0;
	if ((size_t)(end - p) < n)
		return 0;
	cp = p[0] & (0x7fu >> n);
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3fu);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

static int
fz_utf8_valid(const uint8_t *p, size_t len)
{
	const uint8_t	*end = p + len;
	size_t		 n;

	for (; p < end; p += n)
		if ((n = fz_utf8(p, end)) == 0)
			return 0;
	return 1;
}

struct jp {
	const uint8_t	*p, *end;
};

static int
fz_hex(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	abort();
}

static void
fz_put(uint8_t *val, size_t cap, size_t *len, const uint8_t *s, size_t n)
{
	check(*len + n <= cap);
	memcpy(val + *len, s, n);
	*len += n;
}

/* A \u escape: the formatter only writes BMP code points, never halves. */
static void
fz_unicode(struct jp *j, uint8_t *val, size_t cap, size_t *len)
{
	uint8_t		 u[3];
	uint32_t	 cp = 0;

	check(j->end - j->p >= 4);
	for (int i = 0; i < 4; i++)
		cp = cp << 4 | (uint32_t)fz_hex(*j->p++);
	check(cp < 0xd800 || cp > 0xdfff);
	if (cp < 0x80) {
		u[0] = (uint8_t)cp;
		fz_put(val, cap, len, u, 1);
	} else if (cp < 0x800) {
		u[0] = (uint8_t)(0xc0 | cp >> 6);
		u[1] = (uint8_t)(0x80 | (cp & 0x3f));
		fz_put(val, cap, len, u, 2);
	} else {
		u[0] = (uint8_t)(0xe0 | cp >> 12);
		u[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
		u[2] = (uint8_t)(0x80 | (cp & 0x3f));
		fz_put(val, cap, len, u, 3);
	}
}

/* A JSON string, decoded into val; every '"' inside must be escaped. */
static void
fz_string(struct jp *j, uint8_t *val, size_t cap, size_t *len)
{
	static const char	 from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char		*e;
	uint8_t			 c;

	*len = 0;
	check(j->p < j->end && *j->p++ == '"');
	for (;;) {
		check(j->p < j->end);
		c = *j->p++;
		if (c == '"')
			return;
		check(c >= 0x20 && c != 0x7f);
		if (c != '\\') {
			fz_put(val, cap, len, &c, 1);
			continue;
		}
		check(j->p < j->end);
		c = *j->p++;
		if (c == 'u') {
			fz_unicode(j, val, cap, len);
			continue;
		}
		check(c != '\0' && (e = strchr(from, c)) != NULL);
		fz_put(val, cap, len, (const uint8_t *)&to[e - from], 1);
	}
}

/* An unsigned integer without leading zeros. */
static uint64_t
fz_number(struct jp *j)
{
	uint64_t	 v = 0;
	const uint8_t	*start = j->p;

	while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
		check(v <= (UINT64_MAX - (uint64_t)(*j->p - '0')) / 10);
		v = v * 10 + (uint64_t)(*j->p++ - '0');
	}
	check(j->p > start && (j->p - start == 1 || *start != '0'));
	return v;
}

static void
fz_expect_str(struct jp *j, const char *want)
{
	uint8_t	 val[64];
	size_t	 len;

	fz_string(j, val, sizeof(val), &len);
	check(len == strlen(want) && memcmp(val, want, len) == 0);
}

/* A record string field: what a reader gets back is what the child sent. */
static void
fz_expect_field(struct jp *j, const char *field)
{
	uint8_t	 val[FUZZ_LINE_MAX];
	size_t	 len, flen = strlen(field);

	fz_string(j, val, sizeof(val), &len);
	check(flen > 0 && len > 0);
	if (fz_utf8_valid((const uint8_t *)field, flen))
		check(len == flen && memcmp(val, field, len) == 0);
	else
		check(memmem(val, len, "\xef\xbf\xbd", 3) != NULL);
}

/*
 * The host and port of a "host:port" or "[host]:port" field, as a reader
 * is promised them (docs/audit-log.md); false for anything else.
 */
static bool
fz_split(const char *val, char *host, size_t cap, uint64_t *port)
{
	const char	*colon = strrchr(val, ':'), *h = val;
	size_t		 hlen;

	if (colon == NULL || colon[1] == '\0')
		return false;
	*port = 0;
	for (const char *p = colon + 1; *p != '\0'; p++) {
		if (*p < '0' || *p > '9' || *port > 65535)
			return false;
		*port = *port * 10 + (uint64_t)(*p - '0');
	}
	hlen = (size_t)(colon - val);
	if (val[0] == '[') {
		if (hlen < 2 || val[hlen - 1] != ']')
			return false;
		h++;
		hlen -= 2;
	} else if (memchr(val, ':', hlen) != NULL)
		return false;
	if (*port == 0 || *port > 65535 || hlen == 0 || hlen >= cap)
		return false;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	return true;
}

static enum fkey
fz_key(struct jp *j)
{
	uint8_t	 key[32];
	size_t	 len;
	int	 k;

	fz_string(j, key, sizeof(key), &len);
	for (k = 0; k < K_MAX; k++)
		if (strlen(fkeys[k].name) == len &&
		    memcmp(fkeys[k].name, key, len) == 0)
			return (enum fkey)k;
	abort();
}

static void
fz_value_field(struct jp *j, enum fkey k, const struct audit_record *r)
{
	const char	*field = (const char *)r + fkeys[k].off;
	char		 host[sizeof(r->target)];
	uint64_t	 port;

	if (fkeys[k].split == 0) {
		fz_expect_field(j, field);
		return;
	}
	check(fz_split(field, host, sizeof(host), &port));
	if (fkeys[k].split == 1)
		fz_expect_field(j, host);
	else
		check(fz_number(j) == port);
}

static void
fz_value(struct jp *j, enum fkey k, const struct audit_record *r)
{
	char	 id[20];

	switch (k) {
	case K_V:
		check(fz_number(j) == AUDIT_SCHEMA_VERSION);
		break;
	case K_TIME:
		fz_expect_str(j, FUZZ_TIME);
		break;
	case K_EVENT:
		fz_expect_str(j, fevents[r->event]);
		break;
	case K_ROLE:
		fz_expect_str(j, fsender.role);
		break;
	case K_PID:
		check(fz_number(j) == (uint64_t)fsender.pid);
		break;
	case K_GEN:
		check(fz_number(j) == fsender.gen);
		break;
	case K_TUNNEL:
		snprintf(id, sizeof(id), "%016" PRIx64, r->tunnel_id);
		fz_expect_str(j, id);
		break;
	case K_BYTES_UP:
		check(fz_number(j) == r->bytes_up);
		break;
	case K_BYTES_DOWN:
		check(fz_number(j) == r->bytes_down);
		break;
	case K_DURATION:
		check(fz_number(j) == r->duration_ms);
		break;
	case K_RULES:
	case K_ENTRIES:
		check(fz_number(j) == r->count);
		break;
	case K_CLOSED_BY:
		fz_expect_str(j, fclosers[r->closed_by]);
		break;
	default:
		fz_value_field(j, k, r);
		break;
	}
}

/* Which keys the line must carry for r, as a bit mask. */
#define B(k)	((uint64_t)1 << (k))
static uint64_t
fz_expected(const struct audit_record *r)
{
	uint64_t	 want = B(K_V) | B(K_TIME) | B(K_EVENT) | B(K_ROLE) |
			    B(K_PID) | B(K_GEN), port;
	char		 host[sizeof(r->target)];

	if (r->tunnel_id != 0)
		want |= B(K_TUNNEL);

	for (int k = K_CLIENT; k <= K_BY; k++) {
		const char *field = (const char *)r + fkeys[k].off;

		if (field[0] == '\0')
			continue;
		if (fkeys[k].split == 0 ||
		    fz_split(field, host, sizeof(host), &port))
			want |= B(k);
	}
	if (r->event == AUDIT_RELOAD)
		want |= B(K_RULES);
	else if (r->event == AUDIT_CACHE_FLUSH)
		want |= B(K_ENTRIES);
	if (r->event == AUDIT_CLOSE || r->event == AUDIT_PROGRESS) {
		want |= B(K_BYTES_UP) | B(K_BYTES_DOWN) | B(K_DURATION);
		if (r->closed_by != AUDIT_BY_NONE)
			want |= B(K_CLOSED_BY);
	}
	return want;
}

static void
check_line(const struct audit_record *r, const uint8_t *line, size_t len)
{
	struct jp	 j = { line, line + len - 1 };
	uint64_t	 seen = 0;
	int		 last = -1;
	enum fkey	 k;

	check(len >= 3 && line[0] == '{' && line[len - 2] == '}' &&
	    line[len - 1] == '\n');
	for (size_t i = 0; i < len - 1; i++)
		check(line[i] >= 0x20 && line[i] != 0x7f);
	check(fz_utf8_valid(line, len));

	j.p++;
	for (;;) {
		k = fz_key(&j);
		check((int)k > last);
		last = (int)k;
		seen |= B(k);
		check(j.p < j.end && *j.p++ == ':');
		fz_value(&j, k, r);
		check(j.p < j.end);
		if (*j.p == '}')
			break;
		check(*j.p++ == ',');
	}
	check(j.p + 1 == j.end);
	check(seen == fz_expected(r));
}

static void
check_format(const struct audit_record *r)
{
	static uint8_t	 line[FUZZ_LINE_MAX + 1], again[FUZZ_LINE_MAX];
	size_t		 len;

	line[FUZZ_LINE_MAX] = 0xa5;
	len = auditlog_format(r, &fsender, FUZZ_TIME_MS, (char *)line,
	    FUZZ_LINE_MAX);
	check(len > 0 && len <= FUZZ_LINE_MAX && line[FUZZ_LINE_MAX] == 0xa5);
	check_line(r, line, len);
	/* The limit is exact: one byte less and nothing is claimed. */
	check(auditlog_format(r, &fsender, FUZZ_TIME_MS, (char *)again, len) ==
	    len);
	check(memcmp(line, again, len) == 0);
	check(auditlog_format(r, &fsender, FUZZ_TIME_MS, (char *)again,
	    len - 1) == 0);
}

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
