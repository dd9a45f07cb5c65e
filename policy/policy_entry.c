/*
 * One entry of a rule's users, groups, hosts or ports list: checked, then
 * stored parsed (lowercased, masked) in the policy's flat arrays, so that
 * policy_check() only compares. A bad entry is logged and not stored.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <libconfig.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netaddr.h"
#include "policy.h"
#include "policy_priv.h"

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

/*
 * Every stored string comes from its own quoted literal in the text, and
 * is never longer than it, so a pool of the text's size never overflows.
 */
uint32_t
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
		n4[p->n_net4].mask = prefix == 0 ? 0 :
		    UINT32_MAX << (32 - prefix);
		n4[p->n_net4].within = policy_within4(n4[p->n_net4].net,
		    n4[p->n_net4].mask);
		p->n_net4++;
		return;
	}
	if ((n6 = policy_grow(p->net6, &l->net6_cap, p->n_net6 + 1,
	    sizeof(*n6))) == NULL) {
		policy_nomem(l);
		return;
	}
	p->net6 = n6;
	memcpy(n6[p->n_net6].net, b, sizeof(n6[p->n_net6].net));
	n6[p->n_net6].prefix = (uint8_t)prefix;
	n6[p->n_net6++].within = policy_within6(b, prefix);
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

/*
 * Entries an allow rule can never match, refused so that nobody believes
 * they open something. Returns true if m/prefix is one.
 */
static bool
policy_net_dead(struct policy_load *l, unsigned line, const char *where,
    const char *q, int af, const uint8_t *m, unsigned prefix)
{
	uint8_t		 within;

	if (af == AF_INET)
		within = policy_within4((uint32_t)m[0] << 24 |
		    (uint32_t)m[1] << 16 | (uint32_t)m[2] << 8 | m[3],
		    prefix == 0 ? 0 : UINT32_MAX << (32 - prefix));
	else
		within = policy_within6(m, prefix);
	if (within == POLICY_SP_UNSPECIFIED) {
		policy_err(l, line, where, "%s: unspecified addresses (0.0.0.0/8 "
		    "and ::) are never connected to; remove it", q);
		return true;
	}
	if (af == AF_INET6 && policy_net6_embeds4(m, prefix)) {
		policy_err(l, line, where, "%s: these IPv6 addresses carry an "
		    "IPv4 address (NAT64, 6to4, Teredo, ::a.b.c.d) and are "
		    "judged as it; allow that IPv4 address or network instead",
		    q);
		return true;
	}
	return false;
}

/*
 * "127.0.0.1:19701", "db.example.com:22": one ':' (so not IPv6) before a
 * port number, the way a URL or the CONNECT line writes a destination.
 */
static bool
policy_host_port(const char *s, size_t len, unsigned *port)
{
	const char	*colon = memchr(s, ':', len);
	size_t		 i;

	if (colon == NULL || colon == s || memchr(colon + 1, ':',
	    len - (size_t)(colon - s) - 1) != NULL)
		return false;
	*port = 0;
	for (i = (size_t)(colon - s) + 1; i < len; i++) {
		if (!policy_isdigit(s[i]) || *port > 65535)
			return false;
		*port = *port * 10 + (unsigned)(s[i] - '0');
	}
	return i > (size_t)(colon - s) + 1 && *port >= 1 && *port <= 65535;
}

/* An address, or a network in CIDR notation; s has len bytes. */
static void
policy_net(struct policy_load *l, unsigned line, const char *where,
    const char *s, size_t len, const struct policy_rule *r)
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
	unsigned	 port;

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
	netaddr_mask(m, nb, prefix);
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
	if (r->action == POLICY_ALLOW &&
	    policy_net_dead(l, line, where, q, af, m, prefix))
		return;
	policy_add_net(l, af, m, prefix);
	return;
bad:
	if (policy_host_port(s, len, &port))
		policy_err(l, line, where, "%s: hosts take no port; write the "
		    "host alone and put %u in ports", q, port);
	else if (s[0] == '[')
		policy_err(l, line, where, "%s: write an IPv6 address without "
		    "[ ] (and any port in ports), e.g. 2001:db8::1", q);
	else if (af == AF_INET6)
		policy_err(l, line, where, "%s: not an IPv6 address or "
		    "network; write e.g. 2001:db8::1 or 2001:db8::/32", q);
	else
		policy_err(l, line, where, "%s: not an IPv4 address, network "
		    "or host name; write e.g. 192.0.2.7, 10.0.0.0/8 or "
		    "db.example.com", q);
}

const char *
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
		policy_net(l, line, where, s, len, r);
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
		policy_net(l, line, where, s, len, r);
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

static void
policy_special(struct policy_load *l, const config_setting_t *e,
    const char *where, struct policy_rule *r)
{
	static const struct {
		const char	*name;
		uint8_t		 sp;
	} names[] = {
		{ "loopback", POLICY_SP_LOOPBACK },
		{ "link-local", POLICY_SP_LINK_LOCAL },
		{ "multicast", POLICY_SP_MULTICAST },
		{ "own", POLICY_SP_OWN },
	};
	const char	*s;
	char		 q[POLICY_QBUF];
	size_t		 i;

	if ((s = policy_elem_string(l, e, where, "\"loopback\"")) == NULL)
		return;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i].name) == 0) {
			r->special |= names[i].sp;
			return;
		}
	policy_err(l, policy_line(e), where, "%s: not a range a rule can open "
	    "to names and networks; write \"loopback\", \"link-local\", "
	    "\"multicast\" or \"own\" (unspecified addresses are never "
	    "connected to; for broadcast name 255.255.255.255 in hosts)",
	    policy_quote(q, sizeof(q), s));
}

const struct policy_list_def policy_lists[] = {
	{ "users", policy_user,
	    "users = [ \"alice\" ] or users = [ \"*\" ]" },
	{ "groups", policy_group,
	    "groups = [ \"ops\" ]" },
	{ "hosts", policy_host,
	    "hosts = [ \"db.example.com\", \"10.0.0.0/8\" ]" },
	{ "ports", policy_port,
	    "ports = [ 22, 443 ] or ports = ( 22, \"8000-8100\" )" },
	{ "special", policy_special,
	    "special = [ \"loopback\" ]" },
};
