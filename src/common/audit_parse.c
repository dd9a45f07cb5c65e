/*
 * One audit line's JSON: a flat object of strings, unsigned integers and
 * literals, as docs/audit-log.md describes. Strict where ambiguity would
 * let a line mean two things: a repeated known key, a nested value, a NUL
 * or a lone surrogate are refused rather than read one way or another.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "audit_read.h"
#include "utf8.h"

enum akind { A_STR, A_NUM };

static const struct akey {
	const char	*name;
	enum akind	 kind;
	size_t		 off;
	unsigned	 bit;		/* A_NUM: its AUDIT_HAS_* */
} akeys[] = {
#define S(f)		{ #f, A_STR, offsetof(struct audit_entry, f), 0 }
#define N(f, b)		{ #f, A_NUM, offsetof(struct audit_entry, f), b }
	N(v, AUDIT_HAS_V), S(time), S(event), S(role), S(tunnel), S(client),
	S(proxy), S(user), S(target), S(resolved), S(rule), S(reason),
	S(closed_by), S(prev), N(seq, AUDIT_HAS_SEQ),
	N(bytes_up, AUDIT_HAS_BYTES_UP), N(bytes_down, AUDIT_HAS_BYTES_DOWN),
	N(duration_ms, AUDIT_HAS_DURATION),
#undef S
#undef N
};
#define NAKEYS	(sizeof(akeys) / sizeof(akeys[0]))

struct jp {
	const char	*p, *end;
	char		*out;		/* scratch, written forward */
	const char	*why;
};

static int
jp_fail(struct jp *j, const char *why)
{
	j->why = why;
	return -1;
}

static void
jp_ws(struct jp *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\r'))
		j->p++;
}

static int
jp_hex4(struct jp *j, uint32_t *v)
{
	*v = 0;
	if (j->end - j->p < 4)
		return jp_fail(j, "truncated \\u escape");
	for (int i = 0; i < 4; i++) {
		char	 c = *j->p++;

		*v <<= 4;
		if (c >= '0' && c <= '9')
			*v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			*v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			*v |= (uint32_t)(c - 'A' + 10);
		else
			return jp_fail(j, "bad \\u escape");
	}
	return 0;
}

static void
jp_put_utf8(struct jp *j, uint32_t cp)
{
	if (cp < 0x80) {
		*j->out++ = (char)cp;
	} else if (cp < 0x800) {
		*j->out++ = (char)(0xc0 | cp >> 6);
		*j->out++ = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*j->out++ = (char)(0xe0 | cp >> 12);
		*j->out++ = (char)(0x80 | (cp >> 6 & 0x3f));
		*j->out++ = (char)(0x80 | (cp & 0x3f));
	} else {
		*j->out++ = (char)(0xf0 | cp >> 18);
		*j->out++ = (char)(0x80 | (cp >> 12 & 0x3f));
		*j->out++ = (char)(0x80 | (cp >> 6 & 0x3f));
		*j->out++ = (char)(0x80 | (cp & 0x3f));
	}
}

/* \uXXXX (and its low half): never longer out than in (6 or 12 bytes). */
static int
jp_unicode(struct jp *j)
{
	uint32_t	 cp, lo;

	if (jp_hex4(j, &cp) == -1)
		return -1;
	if (cp == 0)
		return jp_fail(j, "NUL in a string");
	if (cp >= 0xdc00 && cp <= 0xdfff)
		return jp_fail(j, "lone surrogate");
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (j->end - j->p < 2 || j->p[0] != '\\' || j->p[1] != 'u')
			return jp_fail(j, "lone surrogate");
		j->p += 2;
		if (jp_hex4(j, &lo) == -1)
			return -1;
		if (lo < 0xdc00 || lo > 0xdfff)
			return jp_fail(j, "lone surrogate");
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	}
	jp_put_utf8(j, cp);
	return 0;
}

/*
 * The rest of the UTF-8 sequence whose first byte was just read: tunnelgated
 * writes invalid UTF-8 as U+FFFD, so a line holding any is not its own.
 */
static int
jp_utf8(struct jp *j)
{
	const unsigned char	*u = (const unsigned char *)j->p - 1;
	uint32_t		 cp;
	size_t			 n = utf8_decode(u, (size_t)(j->end - j->p) + 1, &cp);

	if (n == 0)
		return jp_fail(j, "not UTF-8");
	memcpy(j->out, u, n);
	j->out += n;
	j->p += n - 1;
	return 0;
}

/* A string at j->p (its opening quote) into scratch; *s points at it. */
static int
jp_string(struct jp *j, const char **s)
{
	static const char	 esc_in[] = "\"\\/bfnrt", esc_out[] = "\"\\/\b\f\n\r\t";
	const char		*e;

	if (j->p >= j->end || *j->p != '"')
		return jp_fail(j, "expected a string");
	j->p++;
	*s = j->out;
	while (j->p < j->end && *j->p != '"') {
		unsigned char	 c = (unsigned char)*j->p++;

		if (c < 0x20)
			return jp_fail(j, "control character in a string");
		if (c >= 0x80) {
			if (jp_utf8(j) == -1)
				return -1;
			continue;
		}
		if (c != '\\') {
			*j->out++ = (char)c;
			continue;
		}
		if (j->p >= j->end)
			break;
		c = (unsigned char)*j->p++;
		if (c == 'u') {
			if (jp_unicode(j) == -1)
				return -1;
		} else if (c != '\0' && (e = strchr(esc_in, c)) != NULL) {
			*j->out++ = esc_out[e - esc_in];
		} else
			return jp_fail(j, "bad escape");
	}
	if (j->p >= j->end)
		return jp_fail(j, "unterminated string");
	j->p++;
	*j->out++ = '\0';
	return 0;
}

static int
jp_number(struct jp *j, uint64_t *v)
{
	const char	*start = j->p;

	*v = 0;
	while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
		unsigned	 d = (unsigned)(*j->p++ - '0');

		if (*v > (UINT64_MAX - d) / 10)
			return jp_fail(j, "number out of range");
		*v = *v * 10 + d;
	}
	if (j->p == start || (*start == '0' && j->p - start > 1))
		return jp_fail(j, "expected an unsigned integer");
	return 0;
}

/* A value of a key tunnelgatectl does not know: any scalar, skipped. */
static int
jp_skip_scalar(struct jp *j)
{
	const char	*s;
	static const char *const lits[] = { "true", "false", "null" };

	if (j->p < j->end && *j->p == '"')
		return jp_string(j, &s);
	for (size_t i = 0; i < 3; i++) {
		size_t	 n = strlen(lits[i]);

		if ((size_t)(j->end - j->p) >= n && memcmp(j->p, lits[i], n) == 0) {
			j->p += n;
			return 0;
		}
	}
	s = j->p;
	while (j->p < j->end && strchr("-+.eE0123456789", *j->p) != NULL &&
	    *j->p != '\0')
		j->p++;
	return j->p == s ? jp_fail(j, "not a flat object") : 0;
}

static int
jp_member(struct jp *j, struct audit_entry *e, unsigned *seen)
{
	const char	*key;
	size_t		 i;

	if (jp_string(j, &key) == -1)
		return -1;
	jp_ws(j);
	if (j->p >= j->end || *j->p++ != ':')
		return jp_fail(j, "expected ':'");
	jp_ws(j);
	for (i = 0; i < NAKEYS; i++)
		if (strcmp(key, akeys[i].name) == 0)
			break;
	j->out = (char *)key;	/* the key's text is not kept */
	if (i == NAKEYS)
		return jp_skip_scalar(j);
	if (*seen & 1u << i)
		return jp_fail(j, "repeated key");
	*seen |= 1u << i;
	if (akeys[i].kind == A_STR)
		return jp_string(j, (const char **)((char *)e + akeys[i].off));
	e->has |= akeys[i].bit;
	return jp_number(j, (uint64_t *)((char *)e + akeys[i].off));
}

int
audit_entry_parse(const char *line, size_t len, struct audit_entry *e,
    char *scratch, const char **why)
{
	struct jp	 j = { line, line + len, scratch, NULL };
	unsigned	 seen = 0;
	size_t		 i;

	memset(e, 0, sizeof(*e));
	scratch[0] = '\0';
	for (i = 0; i < NAKEYS; i++)
		if (akeys[i].kind == A_STR)
			*(const char **)((char *)e + akeys[i].off) = scratch;
	j.out = scratch + 1;
	jp_ws(&j);
	if (j.p >= j.end || *j.p++ != '{') {
		*why = "not a JSON object";
		return -1;
	}
	jp_ws(&j);
	if (j.p < j.end && *j.p == '}')
		j.p++;
	else
		for (;;) {
			if (jp_member(&j, e, &seen) == -1)
				goto bad;
			jp_ws(&j);
			if (j.p < j.end && *j.p == ',') {
				j.p++;
				jp_ws(&j);
				continue;
			}
			if (j.p < j.end && *j.p == '}') {
				j.p++;
				break;
			}
			jp_fail(&j, "expected ',' or '}'");
			goto bad;
		}
	jp_ws(&j);
	if (j.p != j.end) {
		*why = "text after the object";
		return -1;
	}
	return 0;
bad:
	*why = j.why;
	return -1;
}
