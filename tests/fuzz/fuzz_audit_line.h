/*
 * The audit line checker of fuzz_ctl: the line auditlog_format() makes for a
 * record must be one JSON object with the schema's keys in order, each
 * present exactly when the record has it, valid UTF-8, every string escaped
 * and every valid-UTF-8 field readable back byte for byte. Included by
 * fuzz_ctl.c after src/master/audit.c, whose formatter it checks.
 */
#ifndef FUZZ_AUDIT_LINE_H
#define FUZZ_AUDIT_LINE_H

#include <openssl/crypto.h>

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

/* A hex digit the formatter wrote: anything else is a formatter bug. */
static int
fz_hex(uint8_t c)
{
	int	 v = OPENSSL_hexchar2int(c);

	check(v >= 0);
	return v;
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

#endif
