/*
 * One entry of a rule against another rule, for the policy lint: covered
 * (every request the entry matches, the other rule's entries match too) or
 * met (some request matches both). Names are compared with names and
 * networks with networks, as the matcher does; the reach the special-
 * address floor leaves an allow rule is part of what an entry matches.
 */
#include <sys/socket.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <string.h>

#include "policy_lint_priv.h"

/* Ranges whose reach the lint can judge; own addresses are not known. */
#define LINT_SP	(POLICY_SP_LOOPBACK | POLICY_SP_LINK_LOCAL | \
		    POLICY_SP_MULTICAST | POLICY_SP_BROADCAST)

void
lint_text_add(struct lint_text *t, const char *s)
{
	size_t	 need = strlen(s) + (t->len > 0 ? 2 : 0);

	if (t->more > 0 || t->len + need + 1 > sizeof(t->buf) - 16) {
		t->more++;
		return;
	}
	snprintf(t->buf + t->len, sizeof(t->buf) - t->len, "%s%s",
	    t->len > 0 ? ", " : "", s);
	t->len += need;
}

const char *
lint_text_str(struct lint_text *t)
{
	if (t->more > 0)
		snprintf(t->buf + t->len, sizeof(t->buf) - t->len,
		    " and %u more", t->more);
	return t->buf;
}

size_t
lint_n_subj(const struct policy_rule *r)
{
	return r->users.n + (r->any_user ? 1u : 0u) + r->groups.n;
}

size_t
lint_n_host(const struct policy_rule *r)
{
	return (size_t)r->hosts.n + r->net4.n + r->net6.n;
}

enum lint_kind { LINT_USER, LINT_ANY, LINT_GROUP };

static enum lint_kind
lint_subj_kind(const struct policy_rule *r, size_t k, size_t *idx)
{
	if (k < r->users.n) {
		*idx = r->users.first + k;
		return LINT_USER;
	}
	if (r->any_user && k == r->users.n)
		return LINT_ANY;
	*idx = r->groups.first + k - r->users.n - (r->any_user ? 1 : 0);
	return LINT_GROUP;
}

void
lint_subj_text(const struct policy *p, const struct policy_rule *r, size_t k,
    char *buf, size_t len)
{
	size_t	 idx = 0;

	switch (lint_subj_kind(r, k, &idx)) {
	case LINT_USER:
		snprintf(buf, len, "user %s", p->pool + p->strs[idx].off);
		break;
	case LINT_ANY:
		snprintf(buf, len, "users *");
		break;
	case LINT_GROUP:
		snprintf(buf, len, "group %s", p->pool + p->strs[idx].off);
		break;
	}
}

static unsigned
lint_prefix4(uint32_t mask)
{
	return (unsigned)__builtin_popcount(mask);
}

void
lint_host_text(const struct policy *p, const struct policy_rule *r, size_t k,
    char *buf, size_t len)
{
	const struct policy_str		*s;
	const struct policy_net4	*n4;
	const struct policy_net6	*n6;
	char				 a[INET6_ADDRSTRLEN];
	uint8_t				 b[4];

	if (k < r->hosts.n) {
		s = &p->strs[r->hosts.first + k];
		snprintf(buf, len, "%s%s", s->suffix ? "*" : "",
		    p->pool + s->off);
	} else if (k < (size_t)r->hosts.n + r->net4.n) {
		n4 = &p->net4[r->net4.first + k - r->hosts.n];
		b[0] = (uint8_t)(n4->net >> 24);
		b[1] = (uint8_t)(n4->net >> 16);
		b[2] = (uint8_t)(n4->net >> 8);
		b[3] = (uint8_t)n4->net;
		inet_ntop(AF_INET, b, a, sizeof(a));
		snprintf(buf, len, "%s/%u", a, lint_prefix4(n4->mask));
	} else {
		n6 = &p->net6[r->net6.first + k - r->hosts.n - r->net4.n];
		inet_ntop(AF_INET6, n6->net, a, sizeof(a));
		snprintf(buf, len, "%s/%u", a, n6->prefix);
	}
}

static bool
lint_str_in(const struct policy *p, const struct policy_str *s,
    struct policy_span span)
{
	const struct policy_str	*o;
	uint32_t		 i;

	for (i = 0; i < span.n; i++) {
		o = &p->strs[span.first + i];
		if (o->len == s->len &&
		    memcmp(p->pool + o->off, p->pool + s->off, s->len) == 0)
			return true;
	}
	return false;
}

bool
lint_subj_covered(const struct policy *p, const struct policy_rule *j,
    size_t k, const struct policy_rule *i)
{
	size_t	 idx = 0;

	if (i->any_user)
		return true;
	switch (lint_subj_kind(j, k, &idx)) {
	case LINT_USER:
		return lint_str_in(p, &p->strs[idx], i->users);
	case LINT_GROUP:
		return lint_str_in(p, &p->strs[idx], i->groups);
	case LINT_ANY:
		break;
	}
	return false;
}

/* Who is in which group is not in the file: users and groups never meet. */
bool
lint_subj_meets(const struct policy *p, const struct policy_rule *j,
    size_t k, const struct policy_rule *i)
{
	size_t	 idx = 0;

	return lint_subj_kind(j, k, &idx) == LINT_ANY ||
	    lint_subj_covered(p, j, k, i);
}

/* Every name b matches, a matches too. */
static bool
lint_name_covers(const struct policy *p, const struct policy_str *a,
    const struct policy_str *b)
{
	if (!a->suffix)
		return !b->suffix && a->len == b->len &&
		    memcmp(p->pool + a->off, p->pool + b->off, a->len) == 0;
	if (b->len < a->len || (b->len == a->len && !b->suffix))
		return false;
	return memcmp(p->pool + b->off + b->len - a->len, p->pool + a->off,
	    a->len) == 0;
}

/* The special ranges a rule's entry reaches (deny rules reach them all). */
static uint8_t
lint_reach(const struct policy_rule *r, uint8_t within)
{
	if (r->action == POLICY_DENY)
		return LINT_SP;
	return (uint8_t)((r->special | within) & LINT_SP);
}

/*
 * Two networks share the narrower one; if that lies in a special range,
 * both rules must reach it for a request to match both.
 */
static bool
lint_both_reach(const struct policy_rule *i, uint8_t iw,
    const struct policy_rule *j, uint8_t jw, uint8_t shared)
{
	shared &= LINT_SP;
	return shared == 0 || ((lint_reach(i, iw) & shared) != 0 &&
	    (lint_reach(j, jw) & shared) != 0);
}

static bool
lint_net4_covered(const struct policy *p, const struct policy_net4 *n,
    const struct policy_rule *j, const struct policy_rule *i, bool cover)
{
	const struct policy_net4	*m;
	uint8_t				 ov;
	uint32_t			 x;

	ov = (uint8_t)(policy_overlap4(n->net, n->mask) & lint_reach(j,
	    n->within));
	for (x = 0; x < i->net4.n; x++) {
		m = &p->net4[i->net4.first + x];
		if (!cover) {
			if (((m->net ^ n->net) & m->mask & n->mask) == 0 &&
			    lint_both_reach(i, m->within, j, n->within,
			    (m->mask & n->mask) == m->mask ? n->within :
			    m->within))
				return true;
			continue;
		}
		if ((m->mask & n->mask) == m->mask &&
		    (n->net & m->mask) == m->net &&
		    (ov & ~lint_reach(i, m->within)) == 0)
			return true;
	}
	return false;
}

static bool
lint_net6_covered(const struct policy *p, const struct policy_net6 *n,
    const struct policy_rule *j, const struct policy_rule *i, bool cover)
{
	const struct policy_net6	*m;
	uint8_t				 ov;
	uint32_t			 x;

	ov = (uint8_t)(policy_overlap6(n->net, n->prefix) & lint_reach(j,
	    n->within));
	/* A deny rule's IPv6 network also matches 6to4 and the like as
	 * written, an allow rule's never. */
	if (cover && j->action == POLICY_DENY && i->action == POLICY_ALLOW &&
	    policy_overlap_tunnel6(n->net, n->prefix))
		return false;
	for (x = 0; x < i->net6.n; x++) {
		m = &p->net6[i->net6.first + x];
		if (!cover) {
			if (policy_prefix6_eq(m->net, n->net,
			    m->prefix < n->prefix ? m->prefix : n->prefix) &&
			    lint_both_reach(i, m->within, j, n->within,
			    m->prefix <= n->prefix ? n->within : m->within))
				return true;
			continue;
		}
		if (m->prefix <= n->prefix &&
		    policy_prefix6_eq(m->net, n->net, m->prefix) &&
		    (ov & ~lint_reach(i, m->within)) == 0)
			return true;
	}
	return false;
}

static bool
lint_host(const struct policy *p, const struct policy_rule *j, size_t k,
    const struct policy_rule *i, bool cover)
{
	const struct policy_str	*s, *o;
	uint32_t		 x;

	if (k >= j->hosts.n) {
		k -= j->hosts.n;
		if (k < j->net4.n)
			return lint_net4_covered(p, &p->net4[j->net4.first + k],
			    j, i, cover);
		return lint_net6_covered(p, &p->net6[j->net6.first + k -
		    j->net4.n], j, i, cover);
	}
	s = &p->strs[j->hosts.first + k];
	/* A name may resolve anywhere: i must reach all j reaches. */
	if (cover && (lint_reach(j, 0) & ~lint_reach(i, 0)) != 0)
		return false;
	for (x = 0; x < i->hosts.n; x++) {
		o = &p->strs[i->hosts.first + x];
		if (lint_name_covers(p, o, s) ||
		    (!cover && lint_name_covers(p, s, o)))
			return true;
	}
	return false;
}

bool
lint_host_covered(const struct policy *p, const struct policy_rule *j,
    size_t k, const struct policy_rule *i)
{
	return lint_host(p, j, k, i, true);
}

bool
lint_host_meets(const struct policy *p, const struct policy_rule *j,
    size_t k, const struct policy_rule *i)
{
	return lint_host(p, j, k, i, false);
}

bool
lint_ports_common(const struct policy *p, const struct policy_rule *a,
    const struct policy_rule *b, struct lint_text *t)
{
	const struct policy_range	*x, *y;
	char				 s[16];
	uint32_t			 m, n;
	unsigned			 lo, hi;
	bool				 any = false;

	for (m = 0; m < a->ports.n; m++) {
		x = &p->ports[a->ports.first + m];
		for (n = 0; n < b->ports.n; n++) {
			y = &p->ports[b->ports.first + n];
			lo = x->lo > y->lo ? x->lo : y->lo;
			hi = x->hi < y->hi ? x->hi : y->hi;
			if (lo > hi)
				continue;
			if (t == NULL)
				return true;
			any = true;
			if (lo == hi)
				snprintf(s, sizeof(s), "%u", lo);
			else
				snprintf(s, sizeof(s), "%u-%u", lo, hi);
			lint_text_add(t, s);
		}
	}
	return any;
}
