/*
 * policy_check() runs in the authenticator before every backend connect.
 * The loader left nothing to parse: names are lowercase, networks masked
 * and classified, ports are ranges. The request is prepared once, then each rule is only
 * compared, cheapest test first; no allocation, no locale.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "policy.h"
#include "policy_priv.h"

struct policy_probe {
	const char	*user;		/* NULL: nobody authenticated */
	size_t		 user_len;
	const char	*host;		/* NULL: no name can match */
	size_t		 host_len;	/* without the trailing dot */
	int		 family;	/* AF_INET, AF_INET6, 0: no address */
	uint32_t	 v4;		/* host byte order */
	uint8_t		 v6[16];	/* also the carrier of a tunnelled v4 */
	bool		 tunnel;	/* v4 is reached through v6 */
	uint8_t		 special;	/* POLICY_SP_* range of the address */
};

static void
policy_probe_addr(struct policy_probe *pr, const struct sockaddr *sa)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;

	if (sa->sa_family == AF_INET) {
		sin = (const struct sockaddr_in *)(const void *)sa;
		pr->v4 = ntohl(sin->sin_addr.s_addr);
		pr->family = AF_INET;
	} else if (sa->sa_family == AF_INET6) {
		sin6 = (const struct sockaddr_in6 *)(const void *)sa;
		memcpy(pr->v6, sin6->sin6_addr.s6_addr, sizeof(pr->v6));
		/*
		 * A mapped address is an IPv4 connection, the others reach an
		 * IPv4 host: they must meet the IPv4 rules, or "deny
		 * 10.0.0.0/8" could be walked around.
		 */
		switch (policy_embedded4(pr->v6, &pr->v4)) {
		case POLICY_EMBED_NONE:
			pr->family = AF_INET6;
			break;
		case POLICY_EMBED_TUNNEL:
			pr->tunnel = true;
			/* FALLTHROUGH */
		case POLICY_EMBED_MAPPED:
			pr->family = AF_INET;
			break;
		}
	}
	if (pr->family == AF_INET)
		pr->special = policy_within4(pr->v4, UINT32_MAX);
	else if (pr->family == AF_INET6)
		pr->special = policy_within6(pr->v6, 128);
}

static bool
policy_own_match(const struct policy_own *own, const struct policy_probe *pr)
{
	size_t	 i;

	if (pr->family == AF_INET)
		for (i = 0; i < own->n_v4; i++)
			if (own->v4[i] == pr->v4)
				return true;
	if (pr->family == AF_INET6 || pr->tunnel)
		for (i = 0; i < own->n_v6; i++)
			if (memcmp(own->v6[i].s6_addr, pr->v6, 16) == 0)
				return true;
	return false;
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
	if (pr->family != 0 && pr->special == 0 && t->own != NULL &&
	    policy_own_match(t->own, pr))
		pr->special = POLICY_SP_OWN;
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

bool
policy_names_group(const struct policy *p, const char *group)
{
	const struct policy_rule	*r;

	for (size_t i = 0; i < p->n_rules; i++) {
		r = &p->rules[i];
		for (uint32_t j = 0; j < r->groups.n; j++)
			if (policy_str_eq(p, &p->strs[r->groups.first + j],
			    group))
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

enum policy_hit { POLICY_MISS, POLICY_HIT, POLICY_GATED };

/*
 * An entry that matched a special address lets an allow rule reach it if
 * the entry lies inside that address's range, or, for the gateway's own
 * addresses, names that one address.
 */
static bool
policy_net_counts(uint8_t within, bool single, uint8_t special)
{
	return within == special || (special == POLICY_SP_OWN && single);
}

static enum policy_hit
policy_net_match(const struct policy *p, const struct policy_rule *r,
    const struct policy_probe *pr, bool gate)
{
	const struct policy_net4	*n4;
	const struct policy_net6	*n6;
	enum policy_hit			 hit = POLICY_MISS;
	uint32_t			 i;

	if (pr->family == AF_INET) {
		for (i = 0; i < r->net4.n; i++) {
			n4 = &p->net4[r->net4.first + i];
			if ((pr->v4 & n4->mask) != n4->net)
				continue;
			if (!gate || policy_net_counts(n4->within,
			    n4->mask == UINT32_MAX, pr->special))
				return POLICY_HIT;
			hit = POLICY_GATED;
		}
		/* "deny 2002::/16" still refuses 6to4 as written. */
		if (pr->tunnel && r->action == POLICY_DENY)
			for (i = 0; i < r->net6.n; i++) {
				n6 = &p->net6[r->net6.first + i];
				if (policy_prefix6_eq(n6->net, pr->v6,
				    n6->prefix))
					return POLICY_HIT;
			}
	} else if (pr->family == AF_INET6) {
		for (i = 0; i < r->net6.n; i++) {
			n6 = &p->net6[r->net6.first + i];
			if (!policy_prefix6_eq(n6->net, pr->v6, n6->prefix))
				continue;
			if (!gate || policy_net_counts(n6->within,
			    n6->prefix == 128, pr->special))
				return POLICY_HIT;
			hit = POLICY_GATED;
		}
	}
	return hit;
}

/*
 * GATED: the rule would allow but for the address being special-purpose
 * (a name resolving there may be DNS rebinding, a wide network is not a
 * decision to reach it).
 */
static enum policy_hit
policy_host_match(const struct policy *p, const struct policy_rule *r,
    const struct policy_probe *pr)
{
	bool		 gate = r->action == POLICY_ALLOW && pr->special != 0 &&
			    (r->special & pr->special) == 0;
	enum policy_hit	 hit = policy_net_match(p, r, pr, gate);

	if (hit == POLICY_HIT)
		return hit;
	if (policy_name_match(p, r, pr))
		return gate ? POLICY_GATED : POLICY_HIT;
	return hit;
}

void
policy_check(const struct policy *p, const struct policy_subject *subj,
    const struct policy_target *t, struct policy_verdict *v)
{
	const struct policy_rule	*r;
	struct policy_probe		 pr;
	enum policy_hit			 hit;
	bool				 gated = false;
	size_t				 i;
	int64_t				 ends;

	v->action = POLICY_DENY;
	v->rule = POLICY_DEFAULT_RULE;
	v->outside_window = false;
	if (p == NULL || subj == NULL || t == NULL)
		return;
	policy_probe_init(&pr, subj, t);
	/* Linux connects 0.0.0.0 and :: to itself, over loopback. */
	if (pr.special & POLICY_SP_UNSPECIFIED) {
		v->rule = POLICY_SPECIAL_RULE;
		return;
	}
	for (i = 0; i < p->n_rules; i++) {
		r = &p->rules[i];
		if (!policy_port_match(p, r, t->port) ||
		    !policy_subject_match(p, r, subj, &pr))
			continue;
		if ((hit = policy_host_match(p, r, &pr)) != POLICY_HIT) {
			gated |= hit == POLICY_GATED;
			continue;
		}
		v->action = r->action;
		v->rule = p->pool + r->name;
		if (r->has_window && !policy_rule_window_open(p, i, t->now != 0 ?
		    t->now : (int64_t)time(NULL), &ends)) {
			v->action = POLICY_DENY;
			v->outside_window = true;
		}
		return;
	}
	if (gated)
		v->rule = POLICY_SPECIAL_RULE;
}

/*
 * Walks the rules as policy_check() would for an address not yet known: a
 * rule that names host decides whatever the address, a rule with networks
 * might match, and deny rules with networks only cannot make an allow; nor
 * can an allow rule outside its window, or its networks would let a user
 * have any name looked up out of hours.
 */
bool
policy_lookup_needed(const struct policy *p, const struct policy_subject *subj,
    const char *host, uint16_t port, int64_t now, struct policy_verdict *v)
{
	const struct policy_target	 t = { .host = host, .port = port };
	const struct policy_rule	*r;
	struct policy_probe		 pr;
	size_t				 i;
	int64_t				 ends;

	v->action = POLICY_DENY;
	v->rule = POLICY_DEFAULT_RULE;
	v->outside_window = false;
	if (p == NULL || subj == NULL)
		return false;
	policy_probe_init(&pr, subj, &t);
	if (now == 0)
		now = (int64_t)time(NULL);
	for (i = 0; i < p->n_rules; i++) {
		r = &p->rules[i];
		if (!policy_port_match(p, r, port) ||
		    !policy_subject_match(p, r, subj, &pr))
			continue;
		if (policy_name_match(p, r, &pr)) {
			if (r->action == POLICY_ALLOW)
				return true;
			v->rule = p->pool + r->name;
			return false;
		}
		if (r->action == POLICY_ALLOW && r->net4.n + r->net6.n > 0 &&
		    (!r->has_window || policy_rule_window_open(p, i, now,
		    &ends)))
			return true;
	}
	return false;
}
