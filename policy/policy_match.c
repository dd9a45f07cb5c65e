/*
 * policy_check() runs in the authenticator before every backend connect.
 * The loader left nothing to parse: names are lowercase, networks masked,
 * ports are ranges. The request is prepared once, then each rule is only
 * compared, cheapest test first; no allocation, no locale.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "policy.h"
#include "policy_priv.h"

struct policy_probe {
	const char	*user;		/* NULL: nobody authenticated */
	size_t		 user_len;
	const char	*host;		/* NULL: no name can match */
	size_t		 host_len;	/* without the trailing dot */
	int		 family;	/* AF_INET, AF_INET6, 0: no address */
	uint32_t	 v4;		/* host byte order */
	uint8_t		 v6[16];
};

static void
policy_probe_addr(struct policy_probe *pr, const struct sockaddr *sa)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;
	const uint8_t			*b;

	if (sa->sa_family == AF_INET) {
		sin = (const struct sockaddr_in *)(const void *)sa;
		pr->v4 = ntohl(sin->sin_addr.s_addr);
		pr->family = AF_INET;
	} else if (sa->sa_family == AF_INET6) {
		sin6 = (const struct sockaddr_in6 *)(const void *)sa;
		b = sin6->sin6_addr.s6_addr;
		/*
		 * A mapped address is an IPv4 connection: it must meet the
		 * IPv4 rules, or "deny 10.0.0.0/8" could be walked around.
		 */
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			pr->v4 = (uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 |
			    (uint32_t)b[14] << 8 | b[15];
			pr->family = AF_INET;
		} else {
			memcpy(pr->v6, b, sizeof(pr->v6));
			pr->family = AF_INET6;
		}
	}
}

static void
policy_probe_init(struct policy_probe *pr, const struct policy_subject *subj,
    const struct policy_target *t)
{
	size_t	 len;

	memset(pr, 0, sizeof(*pr));
	if (subj->user != NULL) {
		pr->user = subj->user;
		pr->user_len = strnlen(subj->user, POLICY_MAX_PRINCIPAL + 1);
	}
	if (t->host != NULL) {
		len = strnlen(t->host, POLICY_MAX_HOST + 2);
		if (len > 0 && t->host[len - 1] == '.')
			len--;
		if (len > 0 && len <= POLICY_MAX_HOST) {
			pr->host = t->host;
			pr->host_len = len;
		}
	}
	if (t->addr != NULL)
		policy_probe_addr(pr, t->addr);
}

static inline unsigned char
policy_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

/* b is stored lowercase. */
static bool
policy_ieq(const char *a, const char *b, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (policy_lower((unsigned char)a[i]) != (unsigned char)b[i])
			return false;
	return true;
}

static bool
policy_port_match(const struct policy *p, const struct policy_rule *r,
    uint16_t port)
{
	const struct policy_range	*pr;
	uint32_t			 i;

	for (i = 0; i < r->ports.n; i++) {
		pr = &p->ports[r->ports.first + i];
		if (port >= pr->lo && port <= pr->hi)
			return true;
	}
	return false;
}

/* s is the stored entry; name is untrusted and NUL-terminated. */
static bool
policy_str_eq(const struct policy *p, const struct policy_str *s,
    const char *name)
{
	return strnlen(name, (size_t)s->len + 1) == s->len &&
	    memcmp(p->pool + s->off, name, s->len) == 0;
}

static bool
policy_subject_match(const struct policy *p, const struct policy_rule *r,
    const struct policy_subject *subj, const struct policy_probe *pr)
{
	const struct policy_str	*s;
	uint32_t		 i;
	size_t			 g;

	if (pr->user == NULL)
		return false;
	if (r->any_user)
		return true;
	for (i = 0; i < r->users.n; i++) {
		s = &p->strs[r->users.first + i];
		if (s->len == pr->user_len &&
		    memcmp(p->pool + s->off, pr->user, s->len) == 0)
			return true;
	}
	if (r->groups.n == 0 || subj->groups == NULL)
		return false;
	for (g = 0; g < subj->n_groups; g++) {
		if (subj->groups[g] == NULL)
			continue;
		for (i = 0; i < r->groups.n; i++)
			if (policy_str_eq(p, &p->strs[r->groups.first + i],
			    subj->groups[g]))
				return true;
	}
	return false;
}

static bool
policy_name_match(const struct policy *p, const struct policy_rule *r,
    const struct policy_probe *pr)
{
	const struct policy_str	*s;
	uint32_t		 i;

	if (pr->host == NULL)
		return false;
	for (i = 0; i < r->hosts.n; i++) {
		s = &p->strs[r->hosts.first + i];
		/* A suffix is stored with its dot: a label must precede it. */
		if (s->suffix) {
			if (pr->host_len > s->len &&
			    policy_ieq(pr->host + pr->host_len - s->len,
			    p->pool + s->off, s->len))
				return true;
		} else if (pr->host_len == s->len &&
		    policy_ieq(pr->host, p->pool + s->off, s->len))
			return true;
	}
	return false;
}

static bool
policy_net6_match(const struct policy_net6 *n, const uint8_t *a)
{
	unsigned	 full = n->prefix / 8, bits = n->prefix % 8;
	uint8_t		 mask;

	if (memcmp(n->net, a, full) != 0)
		return false;
	if (bits == 0)
		return true;
	mask = (uint8_t)(0xff << (8 - bits));
	return (a[full] & mask) == n->net[full];
}

static bool
policy_host_match(const struct policy *p, const struct policy_rule *r,
    const struct policy_probe *pr)
{
	const struct policy_net4	*n4;
	uint32_t			 i;

	if (policy_name_match(p, r, pr))
		return true;
	if (pr->family == AF_INET) {
		for (i = 0; i < r->net4.n; i++) {
			n4 = &p->net4[r->net4.first + i];
			if ((pr->v4 & n4->mask) == n4->net)
				return true;
		}
	} else if (pr->family == AF_INET6) {
		for (i = 0; i < r->net6.n; i++)
			if (policy_net6_match(&p->net6[r->net6.first + i],
			    pr->v6))
				return true;
	}
	return false;
}

void
policy_check(const struct policy *p, const struct policy_subject *subj,
    const struct policy_target *t, struct policy_verdict *v)
{
	const struct policy_rule	*r;
	struct policy_probe		 pr;
	size_t				 i;

	v->action = POLICY_DENY;
	v->rule = POLICY_DEFAULT_RULE;
	if (p == NULL || subj == NULL || t == NULL)
		return;
	policy_probe_init(&pr, subj, t);
	for (i = 0; i < p->n_rules; i++) {
		r = &p->rules[i];
		if (!policy_port_match(p, r, t->port) ||
		    !policy_subject_match(p, r, subj, &pr) ||
		    !policy_host_match(p, r, &pr))
			continue;
		v->action = r->action;
		v->rule = p->pool + r->name;
		return;
	}
}
