/*
 * Policy diff: both policies asked the same questions, one for every
 * class of request the two files tell apart. Address space and ports are
 * cut at every boundary either file (or the special-address floor) draws,
 * so one address and one port stand for each piece; names stand for
 * themselves, a wildcard for a name under it no entry lists.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_diff.h"
#include "policy_lint_priv.h"

typedef unsigned __int128 u128;

#define DIFF_ANY_LABEL	"tg-diff-unlisted"

struct diff_cuts {
	u128		*v;
	size_t		 n, cap;
	int		 err;
};

struct diff_set {
	const char	**v;
	size_t		  n;
	int		  err;
};

struct diff {
	const struct policy	*old, *new;
	policy_diff_report	 report;
	void			*arg;
	struct diff_cuts	 v4, v6, ports;
	struct diff_set		 names;		/* hosts; suffixes start '.' */
	struct diff_set		 users;
	struct diff_set		 groups;
	uint8_t			*gain, *lose, *pgain, *plose;
	long			 found;
};

static void
cuts_add(struct diff_cuts *c, u128 x)
{
	u128	*v;

	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		if ((v = realloc(c->v, c->cap * sizeof(*v))) == NULL) {
			c->err = 1;
			c->cap = c->n;
			return;
		}
		c->v = v;
	}
	c->v[c->n++] = x;
}

static int
u128_cmp(const void *a, const void *b)
{
	u128	 x = *(const u128 *)a, y = *(const u128 *)b;

	return x < y ? -1 : x > y;
}

static void
cuts_sort(struct diff_cuts *c)
{
	size_t	 i, o = 0;

	qsort(c->v, c->n, sizeof(*c->v), u128_cmp);
	for (i = 0; i < c->n; i++)
		if (o == 0 || c->v[o - 1] != c->v[i])
			c->v[o++] = c->v[i];
	c->n = o;
}

static u128
bytes_u128(const uint8_t *b, size_t n)
{
	u128	 x = 0;
	size_t	 i;

	for (i = 0; i < n; i++)
		x = x << 8 | b[i];
	return x;
}

/* A network's first address and the one after its last. */
static void
cut_net(void *arg, int af, const uint8_t *b, unsigned prefix)
{
	struct diff	*d = arg;
	unsigned	 bits = af == AF_INET ? 32 : 128;
	u128		 lo = bytes_u128(b, bits / 8), size;

	if (prefix == 0) {
		cuts_add(af == AF_INET ? &d->v4 : &d->v6, 0);
		return;
	}
	size = (u128)1 << (bits - prefix);
	cuts_add(af == AF_INET ? &d->v4 : &d->v6, lo);
	if (af == AF_INET6 && lo + size == 0)
		return;		/* up to the last address */
	cuts_add(af == AF_INET ? &d->v4 : &d->v6, lo + size);
}

static void
set_add(struct diff_set *s, const char *name)
{
	const char	**v;
	size_t		  i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->v[i], name) == 0)
			return;
	if ((v = realloc(s->v, (s->n + 1) * sizeof(*v))) == NULL) {
		s->err = 1;
		return;
	}
	s->v = v;
	s->v[s->n++] = name;
}

static void
set_span(struct diff_set *s, const struct policy *p, struct policy_span span)
{
	uint32_t	 x;

	for (x = 0; x < span.n; x++)
		set_add(s, p->pool + p->strs[span.first + x].off);
}

static void
diff_collect(struct diff *d, const struct policy *p)
{
	const struct policy_net4	*n4;
	uint8_t				 b[4];
	size_t				 i;

	for (i = 0; i < p->n_net4; i++) {
		n4 = &p->net4[i];
		b[0] = (uint8_t)(n4->net >> 24);
		b[1] = (uint8_t)(n4->net >> 16);
		b[2] = (uint8_t)(n4->net >> 8);
		b[3] = (uint8_t)n4->net;
		cut_net(d, AF_INET, b, (unsigned)__builtin_popcount(n4->mask));
	}
	for (i = 0; i < p->n_net6; i++)
		cut_net(d, AF_INET6, p->net6[i].net, p->net6[i].prefix);
	for (i = 0; i < p->n_ports; i++) {
		cuts_add(&d->ports, p->ports[i].lo);
		cuts_add(&d->ports, (u128)p->ports[i].hi + 1);
	}
	for (i = 0; i < p->n_rules; i++) {
		set_span(&d->names, p, p->rules[i].hosts);
		set_span(&d->users, p, p->rules[i].users);
		set_span(&d->groups, p, p->rules[i].groups);
	}
}

static bool
diff_allowed(const struct policy *p, const struct policy_subject *subj,
    const char *host, const struct sockaddr *sa, uint16_t port)
{
	struct policy_target	 t = { host, sa, port, NULL, 0 };
	struct policy_verdict	 v;

	/* What a rule allows, at any time of its window. */
	policy_check(p, subj, &t, &v);
	return v.action == POLICY_ALLOW || v.outside_window;
}

static uint16_t
diff_port(const struct diff *d, size_t k)
{
	return (uint16_t)d->ports.v[k];
}

/* gain[k], lose[k] for every port piece k; true if any is set. */
static bool
diff_ports(struct diff *d, const struct policy_subject *subj,
    const char *host, const struct sockaddr *sa)
{
	size_t	 k;
	bool	 any = false, o, n;

	for (k = 0; k < d->ports.n; k++) {
		o = diff_allowed(d->old, subj, host, sa, diff_port(d, k));
		n = diff_allowed(d->new, subj, host, sa, diff_port(d, k));
		d->gain[k] = !o && n;
		d->lose[k] = o && !n;
		any |= o != n;
	}
	return any;
}

static const char *
diff_ports_text(const struct diff *d, const uint8_t *set,
    struct lint_text *t)
{
	char	 s[16];
	size_t	 k, e;
	unsigned lo, hi;

	for (k = 0; k < d->ports.n; k = e) {
		for (e = k + 1; e < d->ports.n && set[e] == set[k]; e++)
			;
		if (!set[k])
			continue;
		lo = diff_port(d, k);
		hi = e < d->ports.n ? diff_port(d, e) - 1u : 65535u;
		if (lo == hi)
			snprintf(s, sizeof(s), "%u", lo);
		else
			snprintf(s, sizeof(s), "%u-%u", lo, hi);
		lint_text_add(t, s);
	}
	return lint_text_str(t);
}

static void
diff_say(struct diff *d, const char *subject, const char *dest,
    const uint8_t *gain, const uint8_t *lose)
{
	struct lint_text	 t;

	if (memchr(gain, 1, d->ports.n) != NULL) {
		memset(&t, 0, sizeof(t));
		d->report(d->arg, subject, true, dest,
		    diff_ports_text(d, gain, &t));
		d->found++;
	}
	if (memchr(lose, 1, d->ports.n) != NULL) {
		memset(&t, 0, sizeof(t));
		d->report(d->arg, subject, false, dest,
		    diff_ports_text(d, lose, &t));
		d->found++;
	}
}

static void
diff_names(struct diff *d, const char *label, const struct policy_subject *subj)
{
	char		 host[POLICY_MAX_HOST + sizeof(DIFF_ANY_LABEL) + 1];
	char		 dest[POLICY_MAX_HOST + 2];
	const char	*name;
	size_t		 i;

	for (i = 0; i < d->names.n; i++) {
		name = d->names.v[i];
		snprintf(host, sizeof(host), "%s%s", name[0] == '.' ?
		    DIFF_ANY_LABEL : "", name);
		snprintf(dest, sizeof(dest), "%s%s", name[0] == '.' ? "*" : "",
		    name);
		if (diff_ports(d, subj, host, NULL))
			diff_say(d, label, dest, d->gain, d->lose);
	}
}

static void
diff_sockaddr(struct sockaddr_storage *ss, int af, u128 a)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;
	int			 i;

	memset(ss, 0, sizeof(*ss));
	if (af == AF_INET) {
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl((uint32_t)a);
		return;
	}
	sin6->sin6_family = AF_INET6;
	for (i = 15; i >= 0; i--, a >>= 8)
		sin6->sin6_addr.s6_addr[i] = (uint8_t)a;
}

static void
diff_range_text(int af, u128 lo, u128 hi, char *buf, size_t len)
{
	struct sockaddr_storage	 ss;
	char			 a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
	const void		*pa;
	unsigned		 bits = af == AF_INET ? 32 : 128, prefix;
	u128			 size = hi - lo;

	diff_sockaddr(&ss, af, lo);
	pa = af == AF_INET ? (const void *)&((struct sockaddr_in *)&ss)->sin_addr :
	    (const void *)&((struct sockaddr_in6 *)&ss)->sin6_addr;
	inet_ntop(af, pa, a, sizeof(a));
	/* One network: a power of two long, aligned on it. */
	for (prefix = 0; prefix <= bits; prefix++) {
		u128 span = prefix == 0 ? (af == AF_INET ? ((u128)1 << 32) - 1 :
		    ~(u128)0) : (((u128)1 << (bits - prefix)) - 1);
		if (span == size && (lo & span) == 0) {
			snprintf(buf, len, "%s/%u", a, prefix);
			return;
		}
	}
	diff_sockaddr(&ss, af, hi);
	inet_ntop(af, pa, b, sizeof(b));
	snprintf(buf, len, "%s-%s", a, b);
}

/* The address pieces of one family, runs with the same change merged. */
static void
diff_addrs(struct diff *d, const char *label, const struct policy_subject *subj,
    int af, const struct diff_cuts *c)
{
	struct sockaddr_storage	 ss;
	char			 dest[2 * INET6_ADDRSTRLEN + 2];
	u128			 max = af == AF_INET ? ((u128)1 << 32) - 1 :
				    ~(u128)0, lo, hi, run_lo = 0, run_hi = 0;
	uint32_t		 v4;
	size_t			 i;
	bool			 open = false, changed;

	for (i = 0; i < c->n && c->v[i] <= max; i++) {
		lo = c->v[i];
		hi = i + 1 < c->n && c->v[i + 1] <= max ? c->v[i + 1] - 1 : max;
		diff_sockaddr(&ss, af, lo);
		/* Carriers of IPv4 addresses are judged as those. */
		if (af == AF_INET6 && policy_embedded4(
		    ((struct sockaddr_in6 *)&ss)->sin6_addr.s6_addr, &v4) !=
		    POLICY_EMBED_NONE)
			changed = false;
		else
			changed = diff_ports(d, subj, NULL,
			    (const struct sockaddr *)&ss);
		if (open && changed &&
		    memcmp(d->gain, d->pgain, d->ports.n) == 0 &&
		    memcmp(d->lose, d->plose, d->ports.n) == 0) {
			run_hi = hi;
			continue;
		}
		if (open) {
			diff_range_text(af, run_lo, run_hi, dest, sizeof(dest));
			diff_say(d, label, dest, d->pgain, d->plose);
		}
		open = changed;
		run_lo = lo;
		run_hi = hi;
		memcpy(d->pgain, d->gain, d->ports.n);
		memcpy(d->plose, d->lose, d->ports.n);
	}
	if (open) {
		diff_range_text(af, run_lo, run_hi, dest, sizeof(dest));
		diff_say(d, label, dest, d->pgain, d->plose);
	}
}

static void
diff_subject(struct diff *d, const char *label,
    const struct policy_subject *subj)
{
	diff_names(d, label, subj);
	diff_addrs(d, label, subj, AF_INET, &d->v4);
	diff_addrs(d, label, subj, AF_INET6, &d->v6);
}

/* Each user named, each group named, and everyone else. */
static void
diff_subjects(struct diff *d)
{
	char			 label[POLICY_MAX_PRINCIPAL + 16];
	struct policy_subject	 subj;
	size_t			 i;

	for (i = 0; i < d->users.n; i++) {
		subj = (struct policy_subject){ d->users.v[i], NULL, 0 };
		snprintf(label, sizeof(label), "user %s", d->users.v[i]);
		diff_subject(d, label, &subj);
	}
	/* "*" is no account name: it stands for a user no rule names. */
	for (i = 0; i < d->groups.n; i++) {
		subj = (struct policy_subject){ "*", &d->groups.v[i], 1 };
		snprintf(label, sizeof(label), "group %s", d->groups.v[i]);
		diff_subject(d, label, &subj);
	}
	subj = (struct policy_subject){ "*", NULL, 0 };
	diff_subject(d, "any other user", &subj);
}

static void
diff_cuts_init(struct diff *d)
{
	static const uint8_t	 mapped[16] = { [10] = 0xff, [11] = 0xff };

	cuts_add(&d->v4, 0);
	cuts_add(&d->v6, 0);
	cuts_add(&d->ports, 1);
	policy_special_nets(cut_net, d);
	cut_net(d, AF_INET6, mapped, 96);
	diff_collect(d, d->old);
	diff_collect(d, d->new);
	cuts_sort(&d->v4);
	cuts_sort(&d->v6);
	cuts_sort(&d->ports);
	/* Port pieces start at 1..65535; 65536 only ends the last. */
	while (d->ports.n > 0 && d->ports.v[d->ports.n - 1] > 65535)
		d->ports.n--;
}

long
policy_diff(const struct policy *old, const struct policy *new,
    policy_diff_report report, void *arg)
{
	struct diff	 d;
	long		 rc = -1;

	memset(&d, 0, sizeof(d));
	d.old = old;
	d.new = new;
	d.report = report;
	d.arg = arg;
	diff_cuts_init(&d);
	if (d.v4.err || d.v6.err || d.ports.err || d.names.err ||
	    d.users.err || d.groups.err ||
	    (d.gain = calloc(4, d.ports.n)) == NULL)
		goto out;
	d.lose = d.gain + d.ports.n;
	d.pgain = d.lose + d.ports.n;
	d.plose = d.pgain + d.ports.n;
	diff_subjects(&d);
	rc = d.found;
 out:
	free(d.gain);
	free(d.v4.v);
	free(d.v6.v);
	free(d.ports.v);
	free(d.names.v);
	free(d.users.v);
	free(d.groups.v);
	return rc;
}
