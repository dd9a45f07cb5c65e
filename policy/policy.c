/*
 * Policy loading: libconfig text to struct policy. The whole file is
 * validated and every problem is logged as "FILE:LINE: SETTING: problem;
 * what to do"; one error rejects the whole policy, so a typo never leaves
 * a half-loaded rule set in force.
 */
#include <sys/stat.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <libconfig.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "policy.h"
#include "policy_priv.h"

#define POLICY_MAX_ERRORS	100	/* then stop: the first ones matter */
#define POLICY_QUOTE_MAX	64	/* characters of a bad value echoed */
#define POLICY_QBUF		(POLICY_QUOTE_MAX * 4 + 8)
#define POLICY_RWHERE		32	/* "rules[9999]" */
#define POLICY_WHERE		64	/* "rules[9999].groups[999]" */
#define POLICY_NO_NAME		UINT32_MAX

struct policy_load {
	const char	*file;
	struct policy	*p;
	size_t		 pool_cap;
	size_t		 strs_cap;
	size_t		 net4_cap;
	size_t		 net6_cap;
	size_t		 ports_cap;
	unsigned	 errors;
};

typedef void	(*policy_elem_fn)(struct policy_load *,
		    const config_setting_t *, const char *,
		    struct policy_rule *);

static void	 policy_err(struct policy_load *, unsigned, const char *,
		    const char *, ...) __attribute__((format(printf, 4, 5)));

static void
policy_err(struct policy_load *l, unsigned line, const char *setting,
    const char *fmt, ...)
{
	char	 msg[768];
	va_list	 ap;

	if (l->errors++ >= POLICY_MAX_ERRORS) {
		if (l->errors == POLICY_MAX_ERRORS + 1)
			log_warnx("%s: more than %u errors, not reporting the "
			    "rest; fix the ones above first", l->file,
			    POLICY_MAX_ERRORS);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line == 0)
		log_warnx("%s: %s: %s", l->file, setting, msg);
	else
		log_warnx("%s:%u: %s: %s", l->file, line, setting, msg);
}

static unsigned
policy_line(const config_setting_t *s)
{
	return config_setting_source_line(s);
}

/*
 * Bad values are echoed so the admin sees what was read: as they are when
 * that is unambiguous, else quoted with escapes, so that no byte of a
 * policy file can forge or split a log line.
 */
static const char *
policy_quote(char *dst, size_t dstlen, const char *s)
{
	const unsigned char	*u = (const unsigned char *)s;
	size_t			 i, o = 0;
	bool			 plain = u[0] != '\0';

	for (i = 0; u[i] != '\0' && i < POLICY_QUOTE_MAX; i++)
		if (u[i] <= ' ' || u[i] >= 0x7f || u[i] == '"' || u[i] == '\\')
			plain = false;
	if (plain && u[i] == '\0') {
		snprintf(dst, dstlen, "%s", s);
		return dst;
	}
	dst[o++] = '"';
	for (i = 0; u[i] != '\0' && i < POLICY_QUOTE_MAX; i++) {
		if (u[i] < ' ' || u[i] >= 0x7f || u[i] == '"' || u[i] == '\\')
			o += (size_t)snprintf(dst + o, dstlen - o, "\\x%02x",
			    u[i]);
		else
			dst[o++] = (char)u[i];
	}
	snprintf(dst + o, dstlen - o, "%s\"", u[i] != '\0' ? "..." : "");
	return dst;
}

static void *
policy_grow(void *arr, size_t *cap, size_t need, size_t size)
{
	size_t	 ncap;
	void	*n;

	if (need <= *cap)
		return arr;
	/* need is bounded by the text size, so doubling cannot overflow. */
	for (ncap = *cap ? *cap : 64; ncap < need; ncap *= 2)
		;
	if ((n = reallocarray(arr, ncap, size)) == NULL)
		return NULL;
	*cap = ncap;
	return n;
}

static void
policy_nomem(struct policy_load *l)
{
	log_warn("%s: %s", __func__, l->file);
	l->errors++;
}

/*
 * Every stored string comes from its own quoted literal in the text, and
 * is never longer than it, so a pool of the text's size never overflows.
 */
static uint32_t
policy_pool_add(struct policy_load *l, const char *prefix, const char *s,
    size_t len, bool lower)
{
	struct policy	*p = l->p;
	size_t		 plen = strlen(prefix), i, off = p->pool_len;
	char		 c;

	if (off + plen + len + 1 > l->pool_cap) {
		policy_err(l, 0, "pool", "internal error: string pool full");
		return 0;
	}
	memcpy(p->pool + off, prefix, plen);
	for (i = 0; i < len; i++) {
		c = s[i];
		if (lower && c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		p->pool[off + plen + i] = c;
	}
	p->pool[off + plen + len] = '\0';
	p->pool_len += plen + len + 1;
	return (uint32_t)off;
}

static void
policy_add_str(struct policy_load *l, const char *prefix, const char *s,
    size_t len, bool lower)
{
	struct policy		*p = l->p;
	struct policy_str	*tmp;

	if ((tmp = policy_grow(p->strs, &l->strs_cap, p->n_strs + 1,
	    sizeof(*tmp))) == NULL) {
		policy_nomem(l);
		return;
	}
	p->strs = tmp;
	tmp[p->n_strs].off = policy_pool_add(l, prefix, s, len, lower);
	tmp[p->n_strs].len = (uint16_t)(strlen(prefix) + len);
	tmp[p->n_strs].suffix = prefix[0] != '\0';
	p->n_strs++;
}

/*
 * Checks on the raw text, for what libconfig 1.5 hides once parsed: it
 * wraps integers past 32 bits silently (4294967318 reads as 22), ends a
 * string early at "\x00", and opens any file an @include line names.
 * Returns false if the text must not be handed to libconfig at all.
 */
static bool
policy_prescan_includes(struct policy_load *l, const char *t, size_t len)
{
	size_t		 i;
	unsigned	 line = 1;
	bool		 bol = true, ok = true;

	/* Over-approximates libconfig's ^[ \t]*@include on purpose. */
	for (i = 0; i < len; i++) {
		if (t[i] == '\n') {
			line++;
			bol = true;
		} else if (bol && t[i] == '@') {
			policy_err(l, line, "@include", "not supported in a "
			    "policy file; keep all rules in this one file");
			ok = false;
			bol = false;
		} else if (t[i] != ' ' && t[i] != '\t' && t[i] != '\r')
			bol = false;
	}
	return ok;
}

static bool
policy_isdigit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
policy_isalpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
policy_isxdigit(char c)
{
	return policy_isdigit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

/*
 * At the first digit of a number token. Ports and the version are all the
 * numbers a policy has, so a token of 10 or more characters, whatever its
 * base, suffix or exponent, is out of range; smaller ones never wrap.
 */
static size_t
policy_prescan_number(struct policy_load *l, const char *t, size_t len,
    size_t i, unsigned line)
{
	size_t	 start = i;

	while (i < len && (policy_isalpha(t[i]) || policy_isdigit(t[i]) ||
	    t[i] == '_'))
		i++;
	if (i - start > 9)
		policy_err(l, line, "number", "%.*s%s: out of range; ports are "
		    "1-65535 and the version is 1",
		    (int)(i - start > 20 ? 20 : i - start), t + start,
		    i - start > 20 ? "..." : "");
	return i;
}

/* Just after the opening quote; returns the index after the closing one. */
static size_t
policy_prescan_string(struct policy_load *l, const char *t, size_t len,
    size_t i, unsigned *line)
{
	while (i < len && t[i] != '"') {
		if (t[i] == '\n')
			(*line)++;
		if (t[i] != '\\' || i + 1 >= len)
			i++;
		else if ((t[i + 1] | 0x20) == 'x' && i + 3 < len &&
		    policy_isxdigit(t[i + 2]) && policy_isxdigit(t[i + 3])) {
			if (t[i + 2] == '0' && t[i + 3] == '0')
				policy_err(l, *line, "\\x00", "a string cannot "
				    "hold a NUL character; remove it");
			i += 4;
		} else if (t[i + 1] == '"' || t[i + 1] == '\\')
			i += 2;
		else
			i++;
	}
	return i < len ? i + 1 : len;
}

static bool
policy_prescan(struct policy_load *l, const char *t, size_t len)
{
	size_t		 i = 0;
	unsigned	 line = 1;
	bool		 ok;

	ok = policy_prescan_includes(l, t, len);
	while (i < len) {
		if (t[i] == '\n') {
			line++;
			i++;
		} else if (t[i] == '#' ||
		    (t[i] == '/' && i + 1 < len && t[i + 1] == '/')) {
			while (i < len && t[i] != '\n')
				i++;
		} else if (t[i] == '/' && i + 1 < len && t[i + 1] == '*') {
			for (i += 2; i < len && !(t[i] == '*' && i + 1 < len &&
			    t[i + 1] == '/'); i++)
				if (t[i] == '\n')
					line++;
			i = i < len ? i + 2 : len;
		} else if (t[i] == '"')
			i = policy_prescan_string(l, t, len, i + 1, &line);
		else if (policy_isalpha(t[i]) || t[i] == '*') {
			/* A name, whose digits are not numbers. */
			for (i++; i < len && (policy_isalpha(t[i]) ||
			    policy_isdigit(t[i]) || t[i] == '-' ||
			    t[i] == '_' || t[i] == '*'); i++)
				;
		} else if (policy_isdigit(t[i]))
			i = policy_prescan_number(l, t, len, i, line);
		else
			i++;
	}
	return ok;
}

/* Users and groups: whatever PAM, NSS or LDAP call them, but printable. */
static const char *
policy_principal_check(const char *s, size_t len)
{
	size_t	 i;

	if (len == 0)
		return "empty; remove it";
	if (len > POLICY_MAX_PRINCIPAL)
		return "longer than 255 bytes";
	if (s[0] == ' ' || s[len - 1] == ' ')
		return "leading or trailing space; remove it";
	for (i = 0; i < len; i++) {
		if ((unsigned char)s[i] < ' ' || s[i] == 0x7f)
			return "control character; names must be printable";
		if (s[i] == '*')
			return "'*' is not a pattern here; only users = "
			    "[ \"*\" ] means any user";
	}
	return NULL;
}

/* A DNS name of up to max characters, after dropping one trailing dot. */
static const char *
policy_name_check(const char *s, size_t len, size_t max)
{
	size_t	 i, label = 0;
	bool	 digits = true;

	if (len > 0 && s[len - 1] == '.')
		len--;
	if (len == 0)
		return "empty name";
	if (len > max)
		return "too long for a DNS name (253 characters)";
	for (i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (label == 0)
				break;
			label = 0;
			digits = true;
			continue;
		}
		if (!policy_isalpha(s[i]) && !policy_isdigit(s[i]) &&
		    s[i] != '-')
			return "invalid character; a name has letters, digits, "
			    "'-' and '.', a wildcard is \"*.domain\"";
		digits = digits && policy_isdigit(s[i]);
		if (++label > 63)
			return "label longer than 63 characters";
	}
	if (label == 0)
		return "empty label (two dots in a row, or a leading dot)";
	if (digits)
		return "the last label is all digits; write an IPv4 address as "
		    "a.b.c.d";
	return NULL;
}

static size_t
policy_strip_dot(const char *s, size_t len)
{
	return len > 0 && s[len - 1] == '.' ? len - 1 : len;
}

/* Would be an IPv4 address: the last label is all digits. */
static bool
policy_numeric(const char *s, size_t len)
{
	size_t	 i;

	len = policy_strip_dot(s, len);
	for (i = len; i > 0 && s[i - 1] != '.'; i--)
		if (!policy_isdigit(s[i - 1]))
			return false;
	return i < len;
}

static void
policy_mask(uint8_t *b, size_t nbytes, unsigned prefix)
{
	size_t	 i;

	for (i = 0; i < nbytes; i++) {
		if (prefix >= 8 * (i + 1))
			continue;
		if (prefix <= 8 * i)
			b[i] = 0;
		else
			b[i] &= (uint8_t)(0xff << (8 - (prefix - 8 * i)));
	}
}

static void
policy_add_net(struct policy_load *l, int af, const uint8_t *b,
    unsigned prefix)
{
	struct policy		*p = l->p;
	struct policy_net4	*n4;
	struct policy_net6	*n6;

	if (af == AF_INET) {
		if ((n4 = policy_grow(p->net4, &l->net4_cap, p->n_net4 + 1,
		    sizeof(*n4))) == NULL) {
			policy_nomem(l);
			return;
		}
		p->net4 = n4;
		n4[p->n_net4].net = (uint32_t)b[0] << 24 |
		    (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
		n4[p->n_net4++].mask = prefix == 0 ? 0 :
		    UINT32_MAX << (32 - prefix);
		return;
	}
	if ((n6 = policy_grow(p->net6, &l->net6_cap, p->n_net6 + 1,
	    sizeof(*n6))) == NULL) {
		policy_nomem(l);
		return;
	}
	p->net6 = n6;
	memcpy(n6[p->n_net6].net, b, sizeof(n6[p->n_net6].net));
	n6[p->n_net6++].prefix = (uint8_t)prefix;
}

static int
policy_prefix(const char *s, unsigned max, unsigned *prefix)
{
	size_t	 i;

	*prefix = 0;
	for (i = 0; policy_isdigit(s[i]) && i < 3; i++)
		*prefix = *prefix * 10 + (unsigned)(s[i] - '0');
	return i == 0 || s[i] != '\0' || *prefix > max ? -1 : 0;
}

/* An address, or a network in CIDR notation; s has len bytes. */
static void
policy_net(struct policy_load *l, unsigned line, const char *where,
    const char *s, size_t len)
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
				    0xff, 0xff };
	char		 addr[INET6_ADDRSTRLEN], fix[INET6_ADDRSTRLEN];
	char		 q[POLICY_QBUF];
	const char	*slash = memchr(s, '/', len);
	size_t		 alen = slash != NULL ? (size_t)(slash - s) : len;
	int		 af = memchr(s, ':', alen) != NULL ? AF_INET6 : AF_INET;
	size_t		 nb = af == AF_INET6 ? 16 : 4;
	unsigned	 max = af == AF_INET6 ? 128 : 32, prefix = max;
	uint8_t		 b[16], m[16];

	policy_quote(q, sizeof(q), s);
	if (alen == 0 || alen >= sizeof(addr))
		goto bad;
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	if (inet_pton(af, addr, b) != 1)
		goto bad;
	if (slash != NULL && policy_prefix(slash + 1, max, &prefix) == -1) {
		policy_err(l, line, where, "%s: the prefix length after '/' "
		    "must be 0-%u", q, max);
		return;
	}
	memcpy(m, b, nb);
	policy_mask(m, nb, prefix);
	if (memcmp(b, m, nb) != 0 && inet_ntop(af, m, fix, sizeof(fix))) {
		policy_err(l, line, where, "%s: host bits set, did you mean "
		    "%s/%u?", q, fix, prefix);
		return;
	}
	/* Only the IPv4 form can match, as a mapped target counts as IPv4. */
	if (af == AF_INET6 && memcmp(m, v4mapped, sizeof(v4mapped)) == 0 &&
	    inet_ntop(AF_INET, m + 12, fix, sizeof(fix))) {
		policy_err(l, line, where, "%s: IPv4-mapped address; write it "
		    "as %s/%u", q, fix, prefix >= 96 ? prefix - 96 : 0);
		return;
	}
	policy_add_net(l, af, m, prefix);
	return;
bad:
	if (af == AF_INET6)
		policy_err(l, line, where, "%s: not an IPv6 address or "
		    "network; write e.g. 2001:db8::1 or 2001:db8::/32", q);
	else
		policy_err(l, line, where, "%s: not an IPv4 address, network "
		    "or host name; write e.g. 192.0.2.7, 10.0.0.0/8 or "
		    "db.example.com", q);
}

static const char *
policy_elem_string(struct policy_load *l, const config_setting_t *e,
    const char *where, const char *example)
{
	if (config_setting_type(e) != CONFIG_TYPE_STRING) {
		policy_err(l, policy_line(e), where, "must be a string in "
		    "double quotes, e.g. %s", example);
		return NULL;
	}
	return config_setting_get_string(e);
}

static void
policy_principal(struct policy_load *l, const config_setting_t *e,
    const char *where, struct policy_rule *r, bool user)
{
	const char	*s, *why;
	char		 q[POLICY_QBUF];
	size_t		 len;

	if ((s = policy_elem_string(l, e, where,
	    user ? "\"alice\"" : "\"ops\"")) == NULL)
		return;
	if (strcmp(s, "*") == 0) {
		if (user)
			r->any_user = true;
		else
			policy_err(l, policy_line(e), where, "\"*\" is not a "
			    "group; use users = [ \"*\" ] for any user");
		return;
	}
	len = strnlen(s, POLICY_MAX_PRINCIPAL + 1);
	if ((why = policy_principal_check(s, len)) != NULL) {
		policy_err(l, policy_line(e), where, "%s: %s",
		    policy_quote(q, sizeof(q), s), why);
		return;
	}
	policy_add_str(l, "", s, len, false);
}

static void
policy_user(struct policy_load *l, const config_setting_t *e,
    const char *where, struct policy_rule *r)
{
	policy_principal(l, e, where, r, true);
}

static void
policy_group(struct policy_load *l, const config_setting_t *e,
    const char *where, struct policy_rule *r)
{
	policy_principal(l, e, where, r, false);
}

static void
policy_host(struct policy_load *l, const config_setting_t *e,
    const char *where, struct policy_rule *r)
{
	const char	*s, *why;
	char		 q[POLICY_QBUF];
	size_t		 len;
	unsigned	 line = policy_line(e);

	(void)r;
	if ((s = policy_elem_string(l, e, where, "\"db.example.com\"")) ==
	    NULL)
		return;
	len = strnlen(s, POLICY_MAX_HOST + 2);
	policy_quote(q, sizeof(q), s);
	if (len == 0)
		policy_err(l, line, where, "empty; write a host name, "
		    "\"*.domain\", an address or a network");
	else if (len > POLICY_MAX_HOST + 1)
		policy_err(l, line, where, "%s: longer than 253 characters", q);
	else if (memchr(s, ':', len) != NULL || memchr(s, '/', len) != NULL)
		policy_net(l, line, where, s, len);
	else if (s[0] == '*') {
		/* ".domain" plus one label must still fit in a name. */
		if (len < 3 || s[1] != '.')
			policy_err(l, line, where, "%s: a wildcard is "
			    "\"*.domain\" and matches names under domain", q);
		else if ((why = policy_name_check(s + 2, len - 2,
		    POLICY_MAX_HOST - 2)) != NULL)
			policy_err(l, line, where, "%s: %s", q, why);
		else
			policy_add_str(l, ".", s + 2,
			    policy_strip_dot(s + 2, len - 2), true);
	} else if (policy_numeric(s, len))
		policy_net(l, line, where, s, len);
	else if ((why = policy_name_check(s, len, POLICY_MAX_HOST)) != NULL)
		policy_err(l, line, where, "%s: %s", q, why);
	else
		policy_add_str(l, "", s, policy_strip_dot(s, len), true);
}

/* Up to 5 digits; anything longer is out of range anyway. */
static int
policy_port_num(const char **sp, unsigned *v)
{
	const char	*s = *sp;
	size_t		 n;

	*v = 0;
	for (n = 0; n < 6 && policy_isdigit(s[n]); n++)
		*v = *v * 10 + (unsigned)(s[n] - '0');
	if (n == 0 || n > 5)
		return -1;
	*sp = s + n;
	return 0;
}

static void
policy_port_string(struct policy_load *l, const config_setting_t *e,
    const char *where, unsigned *lo, unsigned *hi)
{
	const char	*s = config_setting_get_string(e), *c = s;
	char		 q[POLICY_QBUF];
	bool		 ok;

	policy_quote(q, sizeof(q), s);
	if (strcmp(s, "*") == 0) {
		*lo = 1;
		*hi = 65535;
		return;
	}
	ok = policy_port_num(&c, lo) == 0;
	*hi = *lo;
	if (ok && *c == '-') {
		c++;
		ok = policy_port_num(&c, hi) == 0;
	}
	if (!ok || *c != '\0')
		policy_err(l, policy_line(e), where, "%s: not a port; write a "
		    "number, a range \"lo-hi\" or \"*\"", q);
	else if (*lo == 0 || *hi == 0 || *lo > 65535 || *hi > 65535)
		policy_err(l, policy_line(e), where, "%s: ports are 1-65535",
		    q);
	else if (*lo > *hi)
		policy_err(l, policy_line(e), where, "%s: range is reversed; "
		    "write \"%u-%u\"", q, *hi, *lo);
	else
		return;
	*lo = 0;
}

static void
policy_port(struct policy_load *l, const config_setting_t *e,
    const char *where, struct policy_rule *r)
{
	struct policy		*p = l->p;
	struct policy_range	*pr;
	long long		 v;
	unsigned		 lo = 0, hi = 0;

	(void)r;
	switch (config_setting_type(e)) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		v = config_setting_get_int64(e);
		if (v >= 1 && v <= 65535)
			lo = hi = (unsigned)v;
		else
			policy_err(l, policy_line(e), where, "port %lld is out "
			    "of range; ports are 1-65535", v);
		break;
	case CONFIG_TYPE_STRING:
		policy_port_string(l, e, where, &lo, &hi);
		break;
	default:
		policy_err(l, policy_line(e), where, "must be a port number, "
		    "a range \"lo-hi\" or \"*\"");
		break;
	}
	if (lo == 0)
		return;
	if ((pr = policy_grow(p->ports, &l->ports_cap, p->n_ports + 1,
	    sizeof(*pr))) == NULL) {
		policy_nomem(l);
		return;
	}
	p->ports = pr;
	pr[p->n_ports].lo = (uint16_t)lo;
	pr[p->n_ports++].hi = (uint16_t)hi;
}

static const struct policy_list_def {
	const char	*key;
	policy_elem_fn	 fn;
	const char	*example;
} policy_lists[] = {
	{ "users", policy_user,
	    "users = [ \"alice\" ] or users = [ \"*\" ]" },
	{ "groups", policy_group,
	    "groups = [ \"ops\" ]" },
	{ "hosts", policy_host,
	    "hosts = [ \"db.example.com\", \"10.0.0.0/8\" ]" },
	{ "ports", policy_port,
	    "ports = [ 22, 443 ] or ports = ( 22, \"8000-8100\" )" },
};

enum { POLICY_USERS, POLICY_GROUPS, POLICY_HOSTS, POLICY_PORTS };

/* Returns false if the rule has no such setting. */
static bool
policy_list(struct policy_load *l, const config_setting_t *rs,
    const char *rwhere, int which, struct policy_rule *r)
{
	const struct policy_list_def	*d = &policy_lists[which];
	config_setting_t		*s;
	char				 where[POLICY_WHERE];
	char				 ew[POLICY_WHERE + 16];
	int				 i, n;

	if ((s = config_setting_get_member(rs, d->key)) == NULL)
		return false;
	snprintf(where, sizeof(where), "%s.%s", rwhere, d->key);
	if (!config_setting_is_array(s) && !config_setting_is_list(s)) {
		policy_err(l, policy_line(s), where, "must be a list, e.g. %s",
		    d->example);
		return true;
	}
	n = config_setting_length(s);
	if (n == 0)
		policy_err(l, policy_line(s), where, "empty list; give at "
		    "least one entry, e.g. %s", d->example);
	else if (n > POLICY_MAX_ENTRIES)
		policy_err(l, policy_line(s), where, "%d entries, at most %d; "
		    "split the rule", n, POLICY_MAX_ENTRIES);
	else
		for (i = 0; i < n; i++) {
			snprintf(ew, sizeof(ew), "%s[%d]", where, i);
			d->fn(l, config_setting_get_elem(s, (unsigned)i), ew,
			    r);
		}
	return true;
}

static void
policy_rule_name(struct policy_load *l, const config_setting_t *rs,
    const char *rwhere, struct policy_rule *r)
{
	static const char	 ok[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				    "abcdefghijklmnopqrstuvwxyz0123456789._-";
	config_setting_t	*s = config_setting_get_member(rs, "name");
	char			 where[POLICY_WHERE], q[POLICY_QBUF];
	const char		*v;
	size_t			 len;

	snprintf(where, sizeof(where), "%s.name", rwhere);
	if (s == NULL) {
		policy_err(l, r->line, where, "missing; every rule needs a "
		    "unique name, which the audit log quotes");
		return;
	}
	if ((v = policy_elem_string(l, s, where, "name = \"ops-ssh\";")) ==
	    NULL)
		return;
	len = strnlen(v, POLICY_MAX_RULE_NAME + 1);
	policy_quote(q, sizeof(q), v);
	if (len == 0 || len > POLICY_MAX_RULE_NAME || strspn(v, ok) != len)
		policy_err(l, policy_line(s), where, "%s: must be 1-63 of "
		    "A-Z a-z 0-9 . _ -", q);
	else if (strcmp(v, POLICY_DEFAULT_RULE) == 0)
		policy_err(l, policy_line(s), where, "%s: reserved for the "
		    "implicit last rule; choose another name", q);
	else
		r->name = policy_pool_add(l, "", v, len, false);
}

static void
policy_rule_action(struct policy_load *l, const config_setting_t *rs,
    const char *rwhere, struct policy_rule *r)
{
	config_setting_t	*s = config_setting_get_member(rs, "action");
	char			 where[POLICY_WHERE], q[POLICY_QBUF];
	const char		*v;

	snprintf(where, sizeof(where), "%s.action", rwhere);
	if (s == NULL) {
		policy_err(l, r->line, where, "missing; write action = "
		    "\"allow\"; or action = \"deny\";");
		return;
	}
	if ((v = policy_elem_string(l, s, where, "action = \"allow\";")) ==
	    NULL)
		return;
	if (strcmp(v, "allow") == 0)
		r->action = POLICY_ALLOW;
	else if (strcmp(v, "deny") == 0)
		r->action = POLICY_DENY;
	else
		policy_err(l, policy_line(s), where, "%s: must be \"allow\" or "
		    "\"deny\"", policy_quote(q, sizeof(q), v));
}

static void
policy_unknown(struct policy_load *l, const config_setting_t *g,
    const char *gwhere, const char *const *known, const char *hint)
{
	config_setting_t	*m;
	const char		*name;
	char			 where[POLICY_WHERE];
	size_t			 k;
	int			 i, n = config_setting_length(g);

	for (i = 0; i < n; i++) {
		m = config_setting_get_elem(g, (unsigned)i);
		name = config_setting_name(m);
		for (k = 0; known[k] != NULL && strcmp(known[k], name); k++)
			;
		if (known[k] != NULL)
			continue;
		snprintf(where, sizeof(where), "%s%s%s", gwhere,
		    gwhere[0] != '\0' ? "." : "", name);
		policy_err(l, policy_line(m), where, "unknown setting; %s",
		    hint);
	}
}

static void
policy_rule_parse(struct policy_load *l, const config_setting_t *rs, size_t idx)
{
	static const char *const known[] = { "name", "action", "users",
				    "groups", "hosts", "ports", NULL };
	struct policy		*p = l->p;
	struct policy_rule	*r = &p->rules[p->n_rules++];
	char			 where[POLICY_RWHERE];
	bool			 subject;

	snprintf(where, sizeof(where), "rules[%zu]", idx);
	r->name = POLICY_NO_NAME;
	r->line = policy_line(rs);
	if (!config_setting_is_group(rs)) {
		policy_err(l, r->line, where, "must be a rule in { }, e.g. "
		    "{ name = \"ops-ssh\"; action = \"allow\"; ... }");
		return;
	}
	policy_unknown(l, rs, where, known, "a rule has name, action, users, "
	    "groups, hosts and ports");
	policy_rule_name(l, rs, where, r);
	policy_rule_action(l, rs, where, r);

	r->users.first = (uint32_t)p->n_strs;
	subject = policy_list(l, rs, where, POLICY_USERS, r);
	r->users.n = (uint32_t)(p->n_strs - r->users.first);
	r->groups.first = (uint32_t)p->n_strs;
	subject |= policy_list(l, rs, where, POLICY_GROUPS, r);
	r->groups.n = (uint32_t)(p->n_strs - r->groups.first);
	if (!subject)
		policy_err(l, r->line, where, "no users or groups; add users = "
		    "[ \"*\" ] to match every authenticated user");

	r->hosts.first = (uint32_t)p->n_strs;
	r->net4.first = (uint32_t)p->n_net4;
	r->net6.first = (uint32_t)p->n_net6;
	if (!policy_list(l, rs, where, POLICY_HOSTS, r))
		policy_err(l, r->line, where, "no hosts; add e.g. %s",
		    policy_lists[POLICY_HOSTS].example);
	r->hosts.n = (uint32_t)(p->n_strs - r->hosts.first);
	r->net4.n = (uint32_t)(p->n_net4 - r->net4.first);
	r->net6.n = (uint32_t)(p->n_net6 - r->net6.first);

	r->ports.first = (uint32_t)p->n_ports;
	if (!policy_list(l, rs, where, POLICY_PORTS, r))
		policy_err(l, r->line, where, "no ports; add e.g. %s",
		    policy_lists[POLICY_PORTS].example);
	r->ports.n = (uint32_t)(p->n_ports - r->ports.first);
}

static void
policy_version(struct policy_load *l, const config_setting_t *root)
{
	config_setting_t	*s = config_setting_get_member(root, "version");

	if (s == NULL)
		policy_err(l, 0, "version", "missing; start the file with "
		    "version = 1;");
	else if (config_setting_type(s) != CONFIG_TYPE_INT &&
	    config_setting_type(s) != CONFIG_TYPE_INT64)
		policy_err(l, policy_line(s), "version", "must be the "
		    "number 1");
	else if (config_setting_get_int64(s) != 1)
		policy_err(l, policy_line(s), "version", "%lld is not "
		    "supported; this tunnelgate reads version 1",
		    config_setting_get_int64(s));
}

static void
policy_root(struct policy_load *l, const config_setting_t *root)
{
	static const char *const known[] = { "version", "rules", NULL };
	config_setting_t	*rules;
	int			 i, n;

	policy_unknown(l, root, "", known, "a policy file has version and "
	    "rules only");
	policy_version(l, root);
	if ((rules = config_setting_get_member(root, "rules")) == NULL) {
		policy_err(l, 0, "rules", "missing; add rules = ( { name = "
		    "...; action = ...; ... } );");
		return;
	}
	if (!config_setting_is_list(rules)) {
		policy_err(l, policy_line(rules), "rules", "must be a list of "
		    "rules in ( ), e.g. rules = ( { ... }, { ... } );");
		return;
	}
	n = config_setting_length(rules);
	if (n > POLICY_MAX_RULES) {
		policy_err(l, policy_line(rules), "rules", "%d rules, at most "
		    "%d are supported", n, POLICY_MAX_RULES);
		return;
	}
	if (n > 0 && (l->p->rules = calloc((size_t)n,
	    sizeof(*l->p->rules))) == NULL) {
		policy_nomem(l);
		return;
	}
	for (i = 0; i < n; i++)
		policy_rule_parse(l, config_setting_get_elem(rules,
		    (unsigned)i), (size_t)i);
}

struct policy_name_ref {
	const char	*name;
	size_t		 idx;
};

static int
policy_name_cmp(const void *a, const void *b)
{
	const struct policy_name_ref	*x = a, *y = b;
	int				 c = strcmp(x->name, y->name);

	if (c != 0)
		return c;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Sorted, so that 10000 rules cost n log n, not n^2, comparisons. */
static void
policy_unique_names(struct policy_load *l)
{
	struct policy		*p = l->p;
	struct policy_name_ref	*refs;
	char			 where[POLICY_WHERE], q[POLICY_QBUF];
	size_t			 i, n = 0, first = 0;

	if (p->n_rules < 2)
		return;
	if ((refs = calloc(p->n_rules, sizeof(*refs))) == NULL) {
		policy_nomem(l);
		return;
	}
	for (i = 0; i < p->n_rules; i++)
		if (p->rules[i].name != POLICY_NO_NAME) {
			refs[n].name = p->pool + p->rules[i].name;
			refs[n++].idx = i;
		}
	qsort(refs, n, sizeof(*refs), policy_name_cmp);
	for (i = 1; i < n; i++) {
		if (strcmp(refs[first].name, refs[i].name) != 0) {
			first = i;
			continue;
		}
		snprintf(where, sizeof(where), "rules[%zu].name", refs[i].idx);
		policy_err(l, p->rules[refs[i].idx].line, where, "%s: already "
		    "the name of rules[%zu] at line %u; names must be unique, "
		    "the audit log quotes them", policy_quote(q, sizeof(q),
		    refs[i].name), refs[first].idx,
		    p->rules[refs[first].idx].line);
	}
	free(refs);
}

static void
policy_syntax(struct policy_load *l, const config_t *cfg)
{
	const char	*text = config_error_text(cfg), *hint = "";

	if (text == NULL)
		text = "cannot parse";
	else if (strstr(text, "mismatched element type") != NULL)
		hint = "; [ ] holds values of one type, use ( ) to mix numbers "
		    "and strings, e.g. ports = ( 22, \"8000-8100\" )";
	else if (strstr(text, "duplicate setting") != NULL)
		hint = "; a setting may appear once in a rule or in the file";
	else if (strcmp(text, "syntax error") == 0)
		hint = "; look for a missing ';', ',', quote or bracket on "
		    "this line or the one before";
	policy_err(l, (unsigned)config_error_line(cfg), "syntax", "%s%s", text,
	    hint);
}

static struct policy *
policy_parse(const char *text, size_t len, const char *file)
{
	struct policy_load	 l;
	config_t		 cfg;
	bool			 parsed = false;
	char			*pool;

	memset(&l, 0, sizeof(l));
	l.file = file;
	if ((l.p = calloc(1, sizeof(*l.p))) == NULL ||
	    (l.p->pool = malloc(len + 1)) == NULL) {
		policy_nomem(&l);
		goto out;
	}
	l.pool_cap = len + 1;
	if (!policy_prescan(&l, text, len))
		goto out;
	config_init(&cfg);
	parsed = true;
	if (config_read_string(&cfg, text) != CONFIG_TRUE) {
		policy_syntax(&l, &cfg);
		goto out;
	}
	policy_root(&l, config_root_setting(&cfg));
	policy_unique_names(&l);
 out:
	if (parsed)
		config_destroy(&cfg);
	if (l.errors > 0) {
		policy_free(l.p);
		return NULL;
	}
	if ((pool = realloc(l.p->pool, l.p->pool_len + 1)) != NULL)
		l.p->pool = pool;
	return l.p;
}

static char *
policy_read(const char *file, size_t *lenp)
{
	struct stat	 st;
	char		*buf = NULL, extra;
	size_t		 len = 0;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		log_warn("%s: cannot open the policy file", file);
		return NULL;
	}
	if (fstat(fd, &st) == -1) {
		log_warn("%s: fstat", file);
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		log_warnx("%s: not a regular file; name the policy file itself",
		    file);
		goto fail;
	}
	if (st.st_mode & S_IWOTH) {
		log_warnx("%s: anyone can write it (mode %04o); chmod o-w it",
		    file, (unsigned)(st.st_mode & 07777));
		goto fail;
	}
	if (st.st_size > (off_t)POLICY_MAX_BYTES) {
		log_warnx("%s: %lld bytes, a policy may have at most %u", file,
		    (long long)st.st_size, POLICY_MAX_BYTES);
		goto fail;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		log_warn("%s: %s", __func__, file);
		goto fail;
	}
	while (len < (size_t)st.st_size) {
		if ((n = read(fd, buf + len, (size_t)st.st_size - len)) == -1) {
			if (errno == EINTR)
				continue;
			log_warn("%s: read", file);
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len != (size_t)st.st_size || read(fd, &extra, 1) != 0) {
		log_warnx("%s: changed while being read; try again", file);
		goto fail;
	}
	buf[len] = '\0';
	close(fd);
	*lenp = len;
	return buf;
 fail:
	free(buf);
	close(fd);
	return NULL;
}

struct policy *
policy_load(const char *file)
{
	struct policy	*p;
	const char	*nul;
	char		*text;
	size_t		 len, i;
	unsigned	 line = 1;

	if ((text = policy_read(file, &len)) == NULL)
		return NULL;
	/* libconfig would silently stop at a NUL and ignore the rest. */
	if ((nul = memchr(text, '\0', len)) != NULL) {
		for (i = 0; text + i < nul; i++)
			line += text[i] == '\n';
		log_warnx("%s:%u: NUL byte; a policy file is text, fix or "
		    "rewrite this line", file, line);
		free(text);
		return NULL;
	}
	p = policy_parse(text, len, file);
	free(text);
	return p;
}

struct policy *
policy_load_string(const char *text, const char *name)
{
	size_t	 len;

	if (name == NULL)
		name = "(policy)";
	if (text == NULL) {
		log_warnx("%s: %s: no policy text", __func__, name);
		return NULL;
	}
	if ((len = strnlen(text, POLICY_MAX_BYTES + 1)) > POLICY_MAX_BYTES) {
		log_warnx("%s: more than %u bytes, the most a policy may have",
		    name, POLICY_MAX_BYTES);
		return NULL;
	}
	return policy_parse(text, len, name);
}

void
policy_free(struct policy *p)
{
	if (p == NULL)
		return;
	free(p->rules);
	free(p->pool);
	free(p->strs);
	free(p->net4);
	free(p->net6);
	free(p->ports);
	free(p);
}

size_t
policy_rule_count(const struct policy *p)
{
	return p == NULL ? 0 : p->n_rules;
}
