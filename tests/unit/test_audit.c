/*
 * The audit log line: field order and omission, the sender the master
 * stamps on it, JSON string escaping of whatever a client managed to put in
 * a field, the close counters, the timestamp, the size bound; the record
 * checks the master applies before formatting; and the append/reopen cycle
 * logrotate relies on.
 */
#include <sys/stat.h>

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "audit.h"
#include "audit_chain.h"

#define T0		1700000000123LL	/* 2023-11-14T22:13:20.123Z */
#define HEAD(ev)	"{\"v\":2,\"time\":\"2023-11-14T22:13:20.123Z\"," \
			"\"event\":\"" ev "\"" SENDER_JSON
#define SENDER_JSON	",\"role\":\"gate\",\"pid\":4242,\"gen\":3"

static const struct audit_sender sender = { "gate", 4242, 3 };
#define TIME_LEN	(sizeof("2023-11-14T22:13:20.123Z") - 1)

/* The formatted line as a C string; fails the test if it does not fit. */
static const char *
fmt(const struct audit_record *r, int64_t time_ms)
{
	static char	 line[AUDIT_LINE_MAX];
	size_t		 n;

	n = auditlog_format(r, &sender, time_ms, line, sizeof(line) - 1);
	assert_true(n > 0);
	line[n] = '\0';
	assert_int_equal(strlen(line), n);
	return line;
}

static void
rec_init(struct audit_record *r, enum audit_event ev)
{
	memset(r, 0, sizeof(*r));
	r->event = ev;
}

/* The value of "user" as it appears in the line, quotes excluded. */
static const char *
user_json(const char *user)
{
	static char		 val[4096];
	struct audit_record	 r;
	const char		*line, *p, *end;

	rec_init(&r, AUDIT_AUTH_FAIL);
	AUDIT_SET(r.user, user);
	line = fmt(&r, T0);
	p = strstr(line, ",\"user\":\"");
	assert_non_null(p);
	p += strlen(",\"user\":\"");
	end = line + strlen(line) - strlen("\"}\n");
	assert_string_equal(end, "\"}\n");
	assert_true(end >= p && (size_t)(end - p) < sizeof(val));
	memcpy(val, p, (size_t)(end - p));
	val[end - p] = '\0';
	return val;
}

static void
test_all_fields_in_schema_order(void **state)
{
	struct audit_record	 r;

	(void)state;
	rec_init(&r, AUDIT_ALLOW);
	r.tunnel_id = 0x1234abcdULL;
	AUDIT_SET(r.client, "192.0.2.1:50000");
	AUDIT_SET(r.proxy, "10.0.0.2:41000");
	AUDIT_SET(r.user, "alice");
	AUDIT_SET(r.target, "db.example.org:5432");
	AUDIT_SET(r.resolved, "10.0.0.5:5432");
	AUDIT_SET(r.rule, "dba-postgres");
	AUDIT_SET(r.tls_version, "TLSv1.3");
	AUDIT_SET(r.tls_cipher, "TLS_AES_128_GCM_SHA256");
	AUDIT_SET(r.reason, "policy allows");
	assert_string_equal(fmt(&r, T0), HEAD("allow")
	    ",\"tunnel\":\"000000001234abcd\",\"client\":\"192.0.2.1:50000\","
	    "\"client_addr\":\"192.0.2.1\",\"client_port\":50000,"
	    "\"proxy\":\"10.0.0.2:41000\",\"proxy_addr\":\"10.0.0.2\","
	    "\"proxy_port\":41000,\"user\":\"alice\",\"target\":\"db.example.org:5432\","
	    "\"target_host\":\"db.example.org\",\"target_port\":5432,"
	    "\"resolved\":\"10.0.0.5:5432\",\"resolved_addr\":\"10.0.0.5\","
	    "\"resolved_port\":5432,\"rule\":\"dba-postgres\","
	    "\"tls_version\":\"TLSv1.3\","
	    "\"tls_cipher\":\"TLS_AES_128_GCM_SHA256\","
	    "\"reason\":\"policy allows\"}\n");
}

static void
test_empty_fields_are_omitted(void **state)
{
	struct audit_record	 r;

	(void)state;
	rec_init(&r, AUDIT_AUTH_FAIL);
	AUDIT_SET(r.client, "[2001:db8::7]:40000");
	AUDIT_SET(r.user, "mallory");
	AUDIT_SET(r.reason, "authentication failed");
	assert_string_equal(fmt(&r, T0), HEAD("auth_fail")
	    ",\"client\":\"[2001:db8::7]:40000\",\"client_addr\":\"2001:db8::7\","
	    "\"client_port\":40000,\"user\":\"mallory\","
	    "\"reason\":\"authentication failed\"}\n");

	rec_init(&r, AUDIT_ERROR);
	assert_string_equal(fmt(&r, T0), HEAD("error") "}\n");
}

static void
test_event_names(void **state)
{
	static const struct {
		enum audit_event	 ev;
		const char		*line;
	} cases[] = {
		{ AUDIT_AUTH_FAIL, HEAD("auth_fail") },
		{ AUDIT_DENY, HEAD("deny") },
		{ AUDIT_ALLOW, HEAD("allow") },
		{ AUDIT_ERROR, HEAD("error") },
		{ AUDIT_OPEN, HEAD("open") },
	};
	struct audit_record	 r;
	char			 want[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rec_init(&r, cases[i].ev);
		snprintf(want, sizeof(want), "%s}\n", cases[i].line);
		assert_string_equal(fmt(&r, T0), want);
	}
}

static void
test_sender_is_stamped_after_the_event(void **state)
{
	struct audit_record	 r;
	char			 line[256];
	size_t			 n;

	(void)state;
	rec_init(&r, AUDIT_VIOLATION);
	AUDIT_SET(r.reason, "gate worker 7 killed: wrong size");
	n = auditlog_format(&r, &(struct audit_sender){ "master", 1, 0 }, T0,
	    line, sizeof(line) - 1);
	line[n] = '\0';
	/* No generation: the master and relay workers belong to none. */
	assert_string_equal(line, "{\"v\":2,\"time\":"
	    "\"2023-11-14T22:13:20.123Z\",\"event\":\"violation\","
	    "\"role\":\"master\",\"pid\":1,"
	    "\"reason\":\"gate worker 7 killed: wrong size\"}\n");
}

static void
test_close_carries_counters(void **state)
{
	struct audit_record	 r;

	(void)state;
	rec_init(&r, AUDIT_CLOSE);
	r.tunnel_id = 1;
	AUDIT_SET(r.user, "alice");
	AUDIT_SET(r.reason, "backend closed");
	r.bytes_up = 1234;
	r.bytes_down = 567890;
	r.duration_ms = 42;
	r.closed_by = AUDIT_BY_BACKEND;
	assert_string_equal(fmt(&r, T0), HEAD("close")
	    ",\"tunnel\":\"0000000000000001\",\"user\":\"alice\","
	    "\"reason\":\"backend closed\",\"bytes_up\":1234,"
	    "\"bytes_down\":567890,\"duration_ms\":42,"
	    "\"closed_by\":\"backend\"}\n");
}

static void
test_close_counters_zero_and_large(void **state)
{
	struct audit_record	 r;

	(void)state;
	rec_init(&r, AUDIT_CLOSE);
	r.closed_by = AUDIT_BY_IDLE;
	/* Zero counters are facts, not missing fields. */
	assert_string_equal(fmt(&r, T0), HEAD("close")
	    ",\"bytes_up\":0,\"bytes_down\":0,\"duration_ms\":0,"
	    "\"closed_by\":\"idle\"}\n");

	r.tunnel_id = UINT64_MAX;
	r.bytes_up = 1000000000000000ULL;
	r.bytes_down = 999999999999999ULL;
	r.duration_ms = 604800000ULL;
	r.closed_by = AUDIT_BY_CLIENT;
	assert_string_equal(fmt(&r, T0), HEAD("close")
	    ",\"tunnel\":\"ffffffffffffffff\","
	    "\"bytes_up\":1000000000000000,"
	    "\"bytes_down\":999999999999999,"
	    "\"duration_ms\":604800000,"
	    "\"closed_by\":\"client\"}\n");
}

static void
test_closed_by_names(void **state)
{
	static const char *const names[] = {
		[AUDIT_BY_CLIENT] = "client", [AUDIT_BY_BACKEND] = "backend",
		[AUDIT_BY_IDLE] = "idle", [AUDIT_BY_SHUTDOWN] = "shutdown",
		[AUDIT_BY_ERROR] = "error", [AUDIT_BY_ADMIN] = "admin",
		[AUDIT_BY_POLICY] = "policy",
	};
	struct audit_record	 r;
	char			 want[256];

	(void)state;
	for (unsigned by = AUDIT_BY_CLIENT; by <= AUDIT_BY_MAX; by++) {
		rec_init(&r, AUDIT_CLOSE);
		r.closed_by = by;
		snprintf(want, sizeof(want), "%s,\"bytes_up\":0,\"bytes_down\":0,"
		    "\"duration_ms\":0,\"closed_by\":\"%s\"}\n",
		    HEAD("close"), names[by]);
		assert_string_equal(fmt(&r, T0), want);
	}
}

static void
test_counters_only_on_close(void **state)
{
	struct audit_record	 r;

	(void)state;
	rec_init(&r, AUDIT_OPEN);
	r.bytes_up = 10;
	r.bytes_down = 20;
	r.duration_ms = 30;
	r.closed_by = AUDIT_BY_CLIENT;
	assert_string_equal(fmt(&r, T0), HEAD("open") "}\n");
}

static void
test_escapes_quote_and_backslash(void **state)
{
	(void)state;
	assert_string_equal(user_json("a\"b\\c"), "a\\\"b\\\\c");
	assert_string_equal(user_json("\"\\\""), "\\\"\\\\\\\"");
	/* '/' needs no escape and must not get one. */
	assert_string_equal(user_json("CN=a/O=b"), "CN=a/O=b");
}

/*
 * Also C1, bidi overrides and separators: a user name the client chose
 * must not drive a terminal that shows the raw log (jq -r, grep).
 */
static void
test_escapes_control_bytes(void **state)
{
	(void)state;
	assert_string_equal(user_json("\x01\t\n\r\x1b[0m\x1f\x7f~"),
	    "\\u0001\\u0009\\u000a\\u000d\\u001b[0m\\u001f\\u007f~");
	assert_string_equal(user_json(" !}{"), " !}{");
	assert_string_equal(user_json("\xc2\x80" "a\xc2\x9b[31m"),
	    "\\u0080a\\u009b[31m");
	assert_string_equal(user_json("a\xe2\x80\xae" "b\xe2\x80\xa8"
	    "\xe2\x81\xa6"),
	    "a\\u202eb\\u2028\\u2066");
}

static void
test_valid_utf8_is_kept(void **state)
{
	static const char *const ok[] = {
		"\xc3\xa9t\xc3\xa9",		/* U+00E9 */
		"\xc2\xa0",			/* U+00A0, past the C1 controls */
		"\xdf\xbf",			/* U+07FF */
		"\xe0\xa0\x80",			/* U+0800, smallest 3-byte */
		"\xe2\x82\xac",			/* U+20AC */
		"\xed\x9f\xbf",			/* U+D7FF, below surrogates */
		"\xee\x80\x80",			/* U+E000, above surrogates */
		"\xef\xbf\xbf",			/* U+FFFF */
		"\xf0\x90\x80\x80",		/* U+10000, smallest 4-byte */
		"\xf0\x9d\x84\x9e",		/* U+1D11E */
		"\xf4\x8f\xbf\xbf",		/* U+10FFFF, the last */
		"\xd0\xb8\xd0\xb2\xd0\xb0\xd0\xbd",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		assert_string_equal(user_json(ok[i]), ok[i]);
}

/*
 * "a" BAD "b" must come out as "a", one U+FFFD escape per byte of BAD, "b":
 * no raw byte of BAD survives and nothing valid around it is eaten.
 */
static void
check_replaced(const char *bad)
{
	char		 in[64];
	const char	*out, *p;
	size_t		 k = 0;

	snprintf(in, sizeof(in), "a%sb", bad);
	out = user_json(in);
	assert_true(out[0] == 'a');
	for (p = out + 1; strncmp(p, "\\ufffd", 6) == 0; p += 6)
		k++;
	if (k != strlen(bad))
		fail_msg("%zu replacements for %zu bad bytes: %s", k,
		    strlen(bad), out);
	assert_string_equal(p, "b");
}

static void
test_invalid_utf8_is_replaced(void **state)
{
	static const char *const bad[] = {
		"\x80",			/* lone continuation */
		"\xbf\x80",
		"\xff",			/* never valid */
		"\xfe",
		"\xc3",			/* lead without continuation */
		"\xe2\x82",		/* truncated 3-byte */
		"\xf0\x9d\x84",		/* truncated 4-byte */
		"\xf8\x88\x80\x80\x80",	/* 5-byte form */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		check_replaced(bad[i]);
	/* A bad lead byte must not swallow the ASCII after it. */
	assert_string_equal(user_json("\xc3(x"), "\\ufffd(x");
	assert_string_equal(user_json("\xe2\x82("), "\\ufffd\\ufffd(");
	assert_string_equal(user_json("\xe2\x82"), "\\ufffd\\ufffd");
}

static void
test_overlong_and_surrogates_are_replaced(void **state)
{
	static const char *const bad[] = {
		"\xc0\x80",		/* overlong NUL */
		"\xc1\xbf",		/* overlong U+007F */
		"\xc0\xaf",		/* overlong '/' */
		"\xe0\x80\xaf",
		"\xe0\x9f\xbf",		/* overlong U+07FF */
		"\xf0\x80\x80\xaf",
		"\xf0\x8f\xbf\xbf",	/* overlong U+FFFF */
		"\xed\xa0\x80",		/* U+D800 */
		"\xed\xbf\xbf",		/* U+DFFF */
		"\xed\xa0\xbd\xed\xb8\x80",	/* CESU-8 pair */
		"\xf4\x90\x80\x80",	/* U+110000 */
		"\xf7\xbf\xbf\xbf",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		check_replaced(bad[i]);
	assert_string_equal(user_json("\xc0\xaf"), "\\ufffd\\ufffd");
}

static void
test_every_string_field_is_escaped(void **state)
{
	struct audit_record	 r;
	const char		*line;

	(void)state;
	rec_init(&r, AUDIT_DENY);
	AUDIT_SET(r.client, "\"c");
	AUDIT_SET(r.user, "\"u");
	AUDIT_SET(r.target, "\"t");
	AUDIT_SET(r.resolved, "\"r");
	AUDIT_SET(r.rule, "\"n");
	AUDIT_SET(r.tls_version, "\"v");
	AUDIT_SET(r.tls_cipher, "\"x");
	AUDIT_SET(r.reason, "\n\xff");
	line = fmt(&r, T0);
	assert_string_equal(line, HEAD("deny")
	    ",\"client\":\"\\\"c\",\"user\":\"\\\"u\",\"target\":\"\\\"t\","
	    "\"resolved\":\"\\\"r\",\"rule\":\"\\\"n\","
	    "\"tls_version\":\"\\\"v\",\"tls_cipher\":\"\\\"x\","
	    "\"reason\":\"\\u000a\\ufffd\"}\n");
}

static void
test_time_is_rfc3339_utc_with_ms(void **state)
{
	static const struct {
		int64_t		 ms;
		const char	*time;
	} cases[] = {
		{ 0, "1970-01-01T00:00:00.000Z" },
		{ 999, "1970-01-01T00:00:00.999Z" },
		{ 1000, "1970-01-01T00:00:01.000Z" },
		{ 951782400007LL, "2000-02-29T00:00:00.007Z" },
		{ 1709251199050LL, "2024-02-29T23:59:59.050Z" },
		{ T0, "2023-11-14T22:13:20.123Z" },
		{ 4102444799999LL, "2099-12-31T23:59:59.999Z" },
	};
	struct audit_record	 r;
	char			 want[256];
	const char		*old = getenv("TZ");
	char			 saved[64] = "";

	(void)state;
	if (old != NULL)
		snprintf(saved, sizeof(saved), "%s", old);
	/* A zone far from UTC, given inline so no tzdata is needed. */
	assert_int_equal(setenv("TZ", "TGT-5:30", 1), 0);
	tzset();
	rec_init(&r, AUDIT_OPEN);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(want, sizeof(want), "{\"v\":2,\"time\":\"%s\","
		    "\"event\":\"open\"" SENDER_JSON "}\n", cases[i].time);
		assert_string_equal(fmt(&r, cases[i].ms), want);
	}
	if (old != NULL)
		setenv("TZ", saved, 1);
	else
		unsetenv("TZ");
	tzset();
}

static void
test_too_long_for_buffer_is_zero(void **state)
{
	struct audit_record	 r;
	char			 out[512];
	size_t			 len;

	(void)state;
	rec_init(&r, AUDIT_CLOSE);
	AUDIT_SET(r.user, "alice");
	AUDIT_SET(r.reason, "idle timeout");
	r.closed_by = AUDIT_BY_IDLE;
	len = strlen(fmt(&r, T0));

	/* Exactly the line's length fits (no NUL is written)... */
	memset(out, 'X', sizeof(out));
	assert_int_equal(auditlog_format(&r, &sender, T0, out, len), len);
	assert_memory_equal(out, fmt(&r, T0), len);
	assert_int_equal(out[len], 'X');

	/* ...one byte less does not, and nothing is written past the end. */
	for (size_t cap = 0; cap < len; cap++) {
		memset(out, 'X', sizeof(out));
		assert_int_equal(auditlog_format(&r, &sender, T0, out, cap), 0);
		for (size_t i = cap; i < sizeof(out); i++)
			assert_int_equal(out[i], 'X');
	}
}

static void
test_escaping_counts_against_the_limit(void **state)
{
	struct audit_record	 r;
	char			 user[101], out[4096];
	size_t			 plain, bad;

	(void)state;
	memset(user, 'a', 100);
	user[100] = '\0';
	rec_init(&r, AUDIT_AUTH_FAIL);
	AUDIT_SET(r.user, user);
	plain = auditlog_format(&r, &sender, T0, out, sizeof(out));
	memset(user, '\x01', 100);
	AUDIT_SET(r.user, user);
	bad = auditlog_format(&r, &sender, T0, out, sizeof(out));
	assert_int_equal(bad, plain + 100 * 5);
	assert_int_equal(auditlog_format(&r, &sender, T0, out, bad - 1), 0);
	assert_int_equal(auditlog_format(&r, &sender, T0, out, bad), bad);
}

/* Every string field full, and every byte of it escaped to six. */
static void
worst_record(struct audit_record *r)
{
	rec_init(r, AUDIT_CLOSE);
	r->closed_by = AUDIT_BY_SHUTDOWN;
	r->tunnel_id = UINT64_MAX;
	r->bytes_up = r->bytes_down = r->duration_ms = 999999999999999ULL;
	memset(r->client, '\x01', sizeof(r->client) - 1);
	memset(r->user, '\xff', sizeof(r->user) - 1);
	memset(r->target, '\x1f', sizeof(r->target) - 1);
	memset(r->resolved, '\x80', sizeof(r->resolved) - 1);
	memset(r->rule, '\x7f', sizeof(r->rule) - 1);
	memset(r->tls_version, '\xc0', sizeof(r->tls_version) - 1);
	memset(r->tls_cipher, '\n', sizeof(r->tls_cipher) - 1);
	memset(r->reason, '\xfe', sizeof(r->reason) - 1);
	memset(r->cert_subject, '\xfe', sizeof(r->cert_subject) - 1);
	memset(r->cert_sha256, '\xfe', sizeof(r->cert_sha256) - 1);
	memset(r->groups, '\x02', sizeof(r->groups) - 1);
	memset(r->policy, '\xfe', sizeof(r->policy) - 1);
}

static void
test_worst_case_record_fits_a_line(void **state)
{
	struct audit_record	 r;
	char			 out[AUDIT_LINE_MAX];
	size_t			 len;

	(void)state;
	worst_record(&r);
	assert_int_equal(auditlog_record_validate(&r), 0);
	/* docs/audit-log.md: a line is at most 12288 bytes, whatever it holds. */
	len = auditlog_format(&r, &(struct audit_sender){ "authenticator",
	    INT_MAX, UINT_MAX }, T0, out, sizeof(out));
	assert_true(len > 6 * (sizeof(r.user) - 1));
	assert_memory_equal(out + len - 2, "}\n", 2);
	/* A reload's line has `by` and `rules` instead of the close fields. */
	r.event = AUDIT_RELOAD;
	r.closed_by = AUDIT_BY_NONE;
	r.count = UINT64_MAX;
	memset(r.by, '\xff', sizeof(r.by) - 1);
	assert_int_equal(auditlog_record_validate(&r), 0);
	assert_true(auditlog_format(&r, &(struct audit_sender){ "master",
	    INT_MAX, UINT_MAX }, T0, out, sizeof(out)) > 0);
}

static void
test_groups_field_is_bounded_and_says_what_is_left_out(void **state)
{
	static const char	*few[] = { "ops", "dev" };
	const char		*many[64];
	char			 name[64][16], out[TG_AUDIT_GROUPS_SIZE];
	char			 huge[TG_AUDIT_GROUPS_SIZE + 8];
	size_t			 len;

	(void)state;
	auditlog_groups(out, few, 2);
	assert_string_equal(out, "ops,dev");
	auditlog_groups(out, few, 0);
	assert_string_equal(out, "");
	for (int i = 0; i < 64; i++) {
		snprintf(name[i], sizeof(name[i]), "group-number-%02d", i);
		many[i] = name[i];
	}
	auditlog_groups(out, many, 64);
	len = strlen(out);
	assert_true(len < sizeof(out));
	assert_string_equal(out + len - 4, ",...");
	assert_memory_equal(out, "group-number-00,group-number-01,", 32);
	/* A first name too long for the field: only the mark. */
	memset(huge, 'h', sizeof(huge) - 1);
	huge[sizeof(huge) - 1] = '\0';
	many[0] = huge;
	auditlog_groups(out, many, 1);
	assert_string_equal(out, "...");
}

static void
test_validate_accepts_well_formed(void **state)
{
	struct audit_record	 r;

	(void)state;
	rec_init(&r, AUDIT_AUTH_FAIL);
	assert_int_equal(auditlog_record_validate(&r), 0);
	rec_init(&r, AUDIT_EVENT_MAX);
	assert_int_equal(auditlog_record_validate(&r), 0);
	rec_init(&r, AUDIT_CLOSE);
	r.closed_by = AUDIT_BY_MAX;
	memset(r.reason, 'r', sizeof(r.reason) - 1);
	memset(r.user, 'u', sizeof(r.user) - 1);
	assert_int_equal(auditlog_record_validate(&r), 0);
}

static void
test_validate_rejects_out_of_range(void **state)
{
	static const uint32_t	 bad_events[] = {
		0, AUDIT_EVENT_MAX + 1, 0x100, UINT32_MAX
	};
	static const uint32_t	 bad_by[] = { AUDIT_BY_MAX + 1, 0x80000000u,
		UINT32_MAX };
	struct audit_record	 r;

	(void)state;
	for (size_t i = 0; i < sizeof(bad_events) / sizeof(bad_events[0]);
	    i++) {
		rec_init(&r, AUDIT_OPEN);
		r.event = bad_events[i];
		assert_int_equal(auditlog_record_validate(&r), -1);
	}
	for (size_t i = 0; i < sizeof(bad_by) / sizeof(bad_by[0]); i++) {
		rec_init(&r, AUDIT_CLOSE);
		r.closed_by = bad_by[i];
		assert_int_equal(auditlog_record_validate(&r), -1);
	}
}

static void
test_validate_rejects_unterminated_fields(void **state)
{
#define FIELD(f)	{ #f, offsetof(struct audit_record, f), \
			  sizeof(((struct audit_record *)0)->f) }
	static const struct {
		const char	*name;
		size_t		 off, size;
	} fields[] = {
		FIELD(client), FIELD(proxy), FIELD(user), FIELD(target),
		FIELD(resolved),
		FIELD(rule), FIELD(tls_version), FIELD(tls_cipher),
		FIELD(reason),
	};
#undef FIELD
	struct audit_record	 r;
	char			*f;

	(void)state;
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		rec_init(&r, AUDIT_DENY);
		f = (char *)&r + fields[i].off;
		memset(f, 'A', fields[i].size);
		if (auditlog_record_validate(&r) != -1)
			fail_msg("unterminated %s accepted", fields[i].name);
		/* Terminated in its very last byte is fine. */
		f[fields[i].size - 1] = '\0';
		if (auditlog_record_validate(&r) != 0)
			fail_msg("full-length %s refused", fields[i].name);
	}
}

static void
test_set_truncates_and_terminates(void **state)
{
	struct audit_record	 r;
	char			 long_reason[300];

	(void)state;
	memset(&r, 0x55, sizeof(r));
	memset(long_reason, 'z', sizeof(long_reason) - 1);
	long_reason[sizeof(long_reason) - 1] = '\0';
	AUDIT_SET(r.reason, long_reason);
	assert_int_equal(strlen(r.reason), sizeof(r.reason) - 1);
	AUDIT_SET(r.tls_version, "TLSv1.3");
	assert_string_equal(r.tls_version, "TLSv1.3");
	AUDIT_SET(r.rule, "");
	assert_string_equal(r.rule, "");
}

/* Where the chain is as the test reads it: the last line's seq and hash. */
struct chain_seen {
	uint64_t	 seq;
	char		 last[AUDIT_HASH_HEX + 1];
};

/* The next line; its chain fields follow the line before. */
static void
read_chained(FILE *f, struct chain_seen *c, char *got, size_t size)
{
	char		 prev[AUDIT_HASH_HEX + 1];
	uint64_t	 seq;

	assert_non_null(fgets(got, (int)size, f));
	assert_int_equal(audit_chain_parse(got, strlen(got), &seq, prev), 0);
	assert_int_equal(seq, c->seq + 1);
	assert_string_equal(prev, c->seq == 0 ? AUDIT_CHAIN_PREV_NONE : c->last);
	assert_int_equal(audit_chain_hash(got, strlen(got), c->last), 0);
	c->seq = seq;
	/* The record as auditlog_format() made it: drop seq and prev. */
	strcpy(strstr(got, ",\"seq\":"), "}\n");
}

/* The line auditlog_write() appended, minus its wall-clock time. */
static void
check_line(FILE *f, struct chain_seen *c, const struct audit_record *r)
{
	char		 got[AUDIT_CHAINED_LINE_MAX];
	const char	*want = fmt(r, T0);
	size_t		 pre = strlen("{\"v\":2,\"time\":\"");

	read_chained(f, c, got, sizeof(got));
	assert_true(strlen(got) == strlen(want));
	assert_memory_equal(got, want, pre);
	assert_true(got[pre + 4] == '-' && got[pre + 10] == 'T' &&
	    got[pre + TIME_LEN - 1] == 'Z');
	assert_string_equal(got + pre + TIME_LEN, want + pre + TIME_LEN);
}

/* The master's line at the top of each file it opens. */
static void
check_chain_line(FILE *f, struct chain_seen *c, const char *why)
{
	char	 got[AUDIT_CHAINED_LINE_MAX], want[256];

	read_chained(f, c, got, sizeof(got));
	snprintf(want, sizeof(want), "\"event\":\"chain\",\"role\":\"master\","
	    "\"pid\":%d,\"reason\":\"%s", (int)getpid(), why);
	assert_non_null(strstr(got, want));
}

static void
test_write_appends_and_reopen_follows_rotation(void **state)
{
	char			 dir[PATH_MAX], path[PATH_MAX + 16];
	char			 rotated[PATH_MAX + 16];
	const char		*tmp = getenv("TMPDIR");
	struct audit_record	 a, b, worst;
	struct chain_seen	 seen = { 0 };
	FILE			*f;
	struct stat		 st;
	mode_t			 old_umask;

	(void)state;
	/* tunnelgated writes only an audit log of root's. */
	if (geteuid() != 0)
		skip();
	snprintf(dir, sizeof(dir), "%s/test_audit.XXXXXX", tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(dir));
	old_umask = umask(022);
	snprintf(path, sizeof(path), "%s/audit.log", dir);
	snprintf(rotated, sizeof(rotated), "%s/audit.log.1", dir);

	rec_init(&a, AUDIT_ALLOW);
	AUDIT_SET(a.user, "alice");
	rec_init(&b, AUDIT_CLOSE);
	b.bytes_up = 5;
	b.closed_by = AUDIT_BY_CLIENT;
	worst_record(&worst);

	assert_int_equal(auditlog_open(path, false), 0);
	assert_int_equal(stat(path, &st), 0);
	umask(old_umask);
	assert_int_equal(st.st_mode & 07777, 0640);
	auditlog_write(&a, &sender);
	assert_int_equal(rename(path, rotated), 0);
	auditlog_write(&b, &sender);
	auditlog_write(&worst, &sender);
	assert_int_equal(auditlog_reopen(), 0);
	auditlog_write(&a, &sender);
	auditlog_close();

	/* One chain from the first file's first line to the second's last. */
	assert_non_null(f = fopen(rotated, "r"));
	check_chain_line(f, &seen, "start: a new chain");
	check_line(f, &seen, &a);
	check_line(f, &seen, &b);
	check_line(f, &seen, &worst);
	assert_int_equal(fgetc(f), EOF);
	fclose(f);
	assert_non_null(f = fopen(path, "r"));
	check_chain_line(f, &seen, "reopen: continues the previous file's");
	check_line(f, &seen, &a);
	assert_int_equal(fgetc(f), EOF);
	fclose(f);

	unlink(path);
	unlink(rotated);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest	 tests[] = {
		cmocka_unit_test(test_all_fields_in_schema_order),
		cmocka_unit_test(test_empty_fields_are_omitted),
		cmocka_unit_test(test_event_names),
		cmocka_unit_test(test_sender_is_stamped_after_the_event),
		cmocka_unit_test(test_close_carries_counters),
		cmocka_unit_test(test_close_counters_zero_and_large),
		cmocka_unit_test(test_closed_by_names),
		cmocka_unit_test(test_counters_only_on_close),
		cmocka_unit_test(test_escapes_quote_and_backslash),
		cmocka_unit_test(test_escapes_control_bytes),
		cmocka_unit_test(test_valid_utf8_is_kept),
		cmocka_unit_test(test_invalid_utf8_is_replaced),
		cmocka_unit_test(test_overlong_and_surrogates_are_replaced),
		cmocka_unit_test(test_every_string_field_is_escaped),
		cmocka_unit_test(test_time_is_rfc3339_utc_with_ms),
		cmocka_unit_test(test_too_long_for_buffer_is_zero),
		cmocka_unit_test(test_escaping_counts_against_the_limit),
		cmocka_unit_test(test_worst_case_record_fits_a_line),
		cmocka_unit_test(test_groups_field_is_bounded_and_says_what_is_left_out),
		cmocka_unit_test(test_validate_accepts_well_formed),
		cmocka_unit_test(test_validate_rejects_out_of_range),
		cmocka_unit_test(test_validate_rejects_unterminated_fields),
		cmocka_unit_test(test_set_truncates_and_terminates),
		cmocka_unit_test(test_write_appends_and_reopen_follows_rotation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
