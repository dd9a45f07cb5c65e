/*
 * Policy lint: each rule against the rules before it (shadowed wholly or
 * in part, allow/deny overlaps) and against itself (duplicate entries,
 * allow networks wider than the admin's limit). First match wins, so only
 * an earlier rule can take a request away from a later one.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_lint.h"
#include "policy_lint_priv.h"

/* Past these, a rule's findings are summed up, not listed. */
#define LINT_PER_RULE	5
/* Cells (subject entry x host entry) checked for a whole shadow. */
#define LINT_MAX_CELLS	4096
#define LINT_PORT_WORDS	(65536 / 64)

struct lint {
	const struct policy	*p;
	policy_lint_report	 report;
	void			*arg;
	size_t			 found;
};

/* An earlier rule that decides some of a later rule's requests first. */
struct lint_shadow {
	size_t		 i;
	uint8_t		*subj;	/* covered subject entries of the later rule */
	uint8_t		*host;	/* covered host entries */
};

static void __attribute__((format(printf, 3, 4)))
lint_say(struct lint *l, const struct policy_rule *r, const char *fmt, ...)
{
	char	 msg[1024];
	int	 n;
	va_list	 ap;

	n = snprintf(msg, sizeof(msg), "rules[%zu] (%s): ",
	    (size_t)(r - l->p->rules), l->p->pool + r->name);
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(msg))
		vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	l->report(l->arg, r->line, msg);
	l->found++;
}

static const char *
lint_action(const struct policy_rule *r)
{
	return r->action == POLICY_ALLOW ? "allow" : "deny";
}

static void
lint_ports_set(uint64_t *w, unsigned lo, unsigned hi, bool on)
{
	unsigned	 b;

	for (b = lo; b <= hi; b++) {
		if (b % 64 == 0 && b + 63 <= hi) {
			w[b / 64] = on ? UINT64_MAX : 0;
			b += 63;
		} else if (on)
			w[b / 64] |= (uint64_t)1 << (b % 64);
		else
			w[b / 64] &= ~((uint64_t)1 << (b % 64));
	}
}

static void
lint_ports_mark(const struct policy *p, const struct policy_rule *r,
    uint64_t *w, bool on)
{
	const struct policy_range	*pr;
	uint32_t			 x;

	for (x = 0; x < r->ports.n; x++) {
		pr = &p->ports[r->ports.first + x];
		lint_ports_set(w, pr->lo, pr->hi, on);
	}
}

/* Every (subject, host, port) of rule j is taken by the shadows. */
static bool
lint_whole(const struct policy *p, const struct policy_rule *j,
    const struct lint_shadow *sh, size_t n)
{
	uint64_t	 w[LINT_PORT_WORDS];
	size_t		 ns = lint_n_subj(j), nh = lint_n_host(j), s, h, c, x;

	if (ns * nh > LINT_MAX_CELLS)
		return false;
	for (s = 0; s < ns; s++)
		for (h = 0; h < nh; h++) {
			memset(w, 0, sizeof(w));
			lint_ports_mark(p, j, w, true);
			for (c = 0; c < n; c++)
				if (sh[c].subj[s] && sh[c].host[h])
					lint_ports_mark(p, &p->rules[sh[c].i],
					    w, false);
			for (x = 0; x < LINT_PORT_WORDS; x++)
				if (w[x] != 0)
					return false;
		}
	return true;
}

/* Fills cov with the entries of j that i covers; true if any. */
static bool
lint_cover(const struct policy *p, const struct policy_rule *j,
    const struct policy_rule *i, uint8_t *subj, uint8_t *host)
{
	size_t	 k, ns = lint_n_subj(j), nh = lint_n_host(j);
	bool	 s_any = false, h_any = false;

	for (k = 0; k < ns; k++)
		s_any |= (subj[k] = lint_subj_covered(p, j, k, i)) != 0;
	if (!s_any)
		return false;
	for (k = 0; k < nh; k++)
		h_any |= (host[k] = lint_host_covered(p, j, k, i)) != 0;
	return h_any;
}

static void
lint_partial(struct lint *l, const struct policy_rule *j,
    const struct lint_shadow *sh)
{
	const struct policy	*p = l->p;
	const struct policy_rule *i = &p->rules[sh->i];
	struct lint_text	 st = { 0 }, ht = { 0 }, pt = { 0 };
	char			 e[LINT_ENTRY];
	size_t			 k;

	for (k = 0; k < lint_n_subj(j); k++)
		if (sh->subj[k]) {
			lint_subj_text(p, j, k, e, sizeof(e));
			lint_text_add(&st, e);
		}
	for (k = 0; k < lint_n_host(j); k++)
		if (sh->host[k]) {
			lint_host_text(p, j, k, e, sizeof(e));
			lint_text_add(&ht, e);
		}
	lint_ports_common(p, j, i, &pt);
	lint_say(l, j, "partly shadowed: rules[%zu] (%s, %s, line %u) decides "
	    "first for %s; hosts %s; ports %s", sh->i, p->pool + i->name,
	    lint_action(i), i->line, lint_text_str(&st), lint_text_str(&ht),
	    lint_text_str(&pt));
}

static bool
lint_overlap(struct lint *l, const struct policy_rule *j,
    const struct policy_rule *i)
{
	const struct policy	*p = l->p;
	struct lint_text	 st = { 0 }, ht = { 0 }, pt = { 0 };
	char			 e[LINT_ENTRY];
	size_t			 k;

	for (k = 0; k < lint_n_subj(j); k++)
		if (lint_subj_meets(p, j, k, i)) {
			lint_subj_text(p, j, k, e, sizeof(e));
			lint_text_add(&st, e);
		}
	if (st.len == 0)
		return false;
	for (k = 0; k < lint_n_host(j); k++)
		if (lint_host_meets(p, j, k, i)) {
			lint_host_text(p, j, k, e, sizeof(e));
			lint_text_add(&ht, e);
		}
	if (ht.len == 0)
		return false;
	lint_ports_common(p, j, i, &pt);
	lint_say(l, j, "%s overlaps %s rule rules[%zu] (%s, line %u) for %s; "
	    "hosts %s; ports %s; where both match, the earlier one decides",
	    lint_action(j), lint_action(i), (size_t)(i - p->rules),
	    p->pool + i->name, i->line, lint_text_str(&st),
	    lint_text_str(&ht), lint_text_str(&pt));
	return true;
}

static void
lint_whole_say(struct lint *l, const struct policy_rule *j,
    const struct lint_shadow *sh, size_t n)
{
	const struct policy	*p = l->p;
	struct lint_text	 t = { 0 };
	char			 e[LINT_ENTRY];
	size_t			 c;

	for (c = 0; c < n; c++) {
		snprintf(e, sizeof(e), "rules[%zu] (%s, line %u)", sh[c].i,
		    p->pool + p->rules[sh[c].i].name,
		    p->rules[sh[c].i].line);
		lint_text_add(&t, e);
	}
	lint_say(l, j, "fully shadowed, it never decides: %s match every "
	    "request it matches first; remove it or move it up",
	    lint_text_str(&t));
}

static void
lint_against_earlier(struct lint *l, size_t jx)
{
	const struct policy	*p = l->p;
	const struct policy_rule *j = &p->rules[jx], *i;
	struct lint_shadow	*sh;
	uint8_t			*cov;
	size_t			 ns = lint_n_subj(j), nh = lint_n_host(j);
	size_t			 n = 0, ix, said = 0, c;
	bool			 whole;

	if ((sh = calloc(jx, sizeof(*sh))) == NULL ||
	    (cov = malloc(jx * (ns + nh))) == NULL) {
		free(sh);
		lint_say(l, j, "out of memory; not compared with the rules "
		    "before it");
		return;
	}
	for (ix = 0; ix < jx; ix++) {
		i = &p->rules[ix];
		if (!lint_ports_common(p, j, i, NULL))
			continue;
		sh[n].i = ix;
		sh[n].subj = cov + n * (ns + nh);
		sh[n].host = sh[n].subj + ns;
		if (lint_cover(p, j, i, sh[n].subj, sh[n].host))
			n++;
		else if (i->action != j->action && said < LINT_PER_RULE &&
		    lint_overlap(l, j, i))
			said++;
	}
	whole = n > 0 && lint_whole(p, j, sh, n);
	if (whole)
		lint_whole_say(l, j, sh, n);
	else
		for (c = 0; c < n && c < LINT_PER_RULE; c++)
			lint_partial(l, j, &sh[c]);
	if (n > LINT_PER_RULE && !whole)
		lint_say(l, j, "and %zu more earlier rules decide parts of it "
		    "first", n - LINT_PER_RULE);
	free(cov);
	free(sh);
}

/* Entry k of r is listed before (or inside an entry listed before). */
static void
lint_dup_subj(struct lint *l, const struct policy_rule *r)
{
	const struct policy	*p = l->p;
	const struct policy_str	*a, *b;
	uint32_t		 x, y;
	int			 pass;

	for (pass = 0; pass < 2; pass++) {
		struct policy_span span = pass == 0 ? r->users : r->groups;

		for (y = 1; y < span.n; y++) {
			b = &p->strs[span.first + y];
			for (x = 0; x < y; x++) {
				a = &p->strs[span.first + x];
				if (a->len != b->len || memcmp(p->pool + a->off,
				    p->pool + b->off, a->len) != 0)
					continue;
				lint_say(l, r, "%s: %s is listed twice; remove "
				    "one", pass == 0 ? "users" : "groups",
				    p->pool + b->off);
				break;
			}
		}
	}
	if (r->any_user && r->users.n > 0)
		lint_say(l, r, "users: \"*\" already matches every user; "
		    "the %u names beside it add nothing", r->users.n);
}

/* The one host entry x of r, as a rule of its own. */
static void
lint_one_host(const struct policy_rule *r, size_t x, struct policy_rule *one)
{
	memset(one, 0, sizeof(*one));
	one->action = r->action;
	one->special = r->special;
	if (x < r->hosts.n) {
		one->hosts.first = r->hosts.first + (uint32_t)x;
		one->hosts.n = 1;
	} else if (x < (size_t)r->hosts.n + r->net4.n) {
		one->net4.first = r->net4.first + (uint32_t)(x - r->hosts.n);
		one->net4.n = 1;
	} else {
		one->net6.first = r->net6.first +
		    (uint32_t)(x - r->hosts.n - r->net4.n);
		one->net6.n = 1;
	}
}

/* A host entry another entry of the same rule already covers. */
static void
lint_dup_hosts(struct lint *l, const struct policy_rule *r)
{
	const struct policy	*p = l->p;
	struct policy_rule	 one;
	char			 e[LINT_ENTRY], o[LINT_ENTRY];
	size_t			 k, x, nh = lint_n_host(r);

	for (k = 0; k < nh; k++)
		for (x = 0; x < nh; x++) {
			if (x == k)
				continue;
			lint_one_host(r, x, &one);
			if (!lint_host_covered(p, r, k, &one))
				continue;
			lint_host_text(p, r, k, e, sizeof(e));
			lint_host_text(p, r, x, o, sizeof(o));
			/* Of two equal entries, the second is the extra. */
			if (strcmp(e, o) == 0) {
				if (x > k)
					continue;
				lint_say(l, r, "hosts: %s is listed twice; "
				    "remove one", e);
			} else
				lint_say(l, r, "hosts: %s is inside %s, listed "
				    "in the same rule; remove it", e, o);
			break;
		}
}

static void
lint_dup_ports(struct lint *l, const struct policy_rule *r)
{
	const struct policy_range	*a, *b;
	uint32_t			 x, y;

	for (y = 1; y < r->ports.n; y++) {
		b = &l->p->ports[r->ports.first + y];
		for (x = 0; x < y; x++) {
			a = &l->p->ports[r->ports.first + x];
			if (a->lo > b->hi || b->lo > a->hi)
				continue;
			if (a->lo == b->lo && a->hi == b->hi)
				lint_say(l, r, "ports: %u-%u is listed twice; "
				    "remove one", b->lo, b->hi);
			else
				lint_say(l, r, "ports: %u-%u overlaps %u-%u, "
				    "listed before it; merge them", b->lo,
				    b->hi, a->lo, a->hi);
			break;
		}
	}
}

static void
lint_wide(struct lint *l, const struct policy_rule *r,
    const struct policy_lint_opts *o)
{
	const struct policy	*p = l->p;
	unsigned		 prefix;
	uint32_t		 x;
	char			 e[LINT_ENTRY];

	if (r->action != POLICY_ALLOW)
		return;
	for (x = 0; x < r->net4.n; x++) {
		prefix = (unsigned)__builtin_popcount(
		    p->net4[r->net4.first + x].mask);
		if (prefix >= o->wide4)
			continue;
		lint_host_text(p, r, r->hosts.n + x, e, sizeof(e));
		lint_say(l, r, "hosts: %s allows more than a /%u; name the "
		    "networks meant (or raise --wide4)", e, o->wide4);
	}
	for (x = 0; x < r->net6.n; x++) {
		if (p->net6[r->net6.first + x].prefix >= o->wide6)
			continue;
		lint_host_text(p, r, (size_t)r->hosts.n + r->net4.n + x, e,
		    sizeof(e));
		lint_say(l, r, "hosts: %s allows more than a /%u; name the "
		    "networks meant (or raise --wide6)", e, o->wide6);
	}
}

size_t
policy_lint(const struct policy *p, const struct policy_lint_opts *o,
    policy_lint_report report, void *arg)
{
	struct lint	 l = { p, report, arg, 0 };
	size_t		 j;

	if (p == NULL)
		return 0;
	for (j = 0; j < p->n_rules; j++) {
		lint_dup_subj(&l, &p->rules[j]);
		lint_dup_hosts(&l, &p->rules[j]);
		lint_dup_ports(&l, &p->rules[j]);
		lint_wide(&l, &p->rules[j], o);
		if (j > 0)
			lint_against_earlier(&l, j);
	}
	return l.found;
}
