/*
 * The policy lint with the outside world: the accounts and groups the
 * backend knows, and what allow rules' names resolve to now. Only for
 * tunnelgatectl check --resolve; nothing here runs in the daemon.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "policy_lint.h"
#include "policy_lint_priv.h"

struct lint_world {
	const struct policy		*p;
	const struct policy_lint_names	*names;
	policy_lint_report		 report;
	void				*arg;
	size_t				 found;
};

static void __attribute__((format(printf, 3, 4)))
world_say(struct lint_world *w, const struct policy_rule *r,
    const char *fmt, ...)
{
	char	 msg[1024];
	int	 n;
	va_list	 ap;

	n = snprintf(msg, sizeof(msg), "rules[%zu] (%s): ",
	    (size_t)(r - w->p->rules), w->p->pool + r->name);
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(msg))
		vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	w->report(w->arg, r->line, msg);
	w->found++;
}

static void
world_principals(struct lint_world *w, const struct policy_rule *r, bool user)
{
	struct policy_span	 span = user ? r->users : r->groups;
	const char		*name;
	uint32_t		 x;
	int			 known;

	for (x = 0; x < span.n; x++) {
		name = w->p->pool + w->p->strs[span.first + x].off;
		known = user ? w->names->user(w->names->arg, name) :
		    w->names->group(w->names->arg, name);
		if (known == 0)
			world_say(w, r, "%s: %s is unknown to the "
			    "authentication backend; this entry matches "
			    "nobody (check the spelling)", user ? "users" :
			    "groups", name);
		else if (known < 0)
			world_say(w, r, "%s: %s could not be looked up; "
			    "not checked", user ? "users" : "groups", name);
	}
}

/* Does an IPv4 network or IPv6 network of rule i hold the address? */
static bool
world_denied(const struct policy *p, const struct policy_rule *i,
    const struct sockaddr *sa, char *net, size_t netlen)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;
	uint32_t			 a, x;

	if (sa->sa_family == AF_INET) {
		sin = (const struct sockaddr_in *)(const void *)sa;
		a = ntohl(sin->sin_addr.s_addr);
		for (x = 0; x < i->net4.n; x++)
			if ((a & p->net4[i->net4.first + x].mask) ==
			    p->net4[i->net4.first + x].net) {
				lint_host_text(p, i, i->hosts.n + x, net,
				    netlen);
				return true;
			}
		return false;
	}
	sin6 = (const struct sockaddr_in6 *)(const void *)sa;
	for (x = 0; x < i->net6.n; x++)
		if (policy_prefix6_eq(p->net6[i->net6.first + x].net,
		    sin6->sin6_addr.s6_addr, p->net6[i->net6.first + x].prefix)) {
			lint_host_text(p, i, (size_t)i->hosts.n + i->net4.n + x,
			    net, netlen);
			return true;
		}
	return false;
}

static bool
world_subjects_meet(const struct policy *p, const struct policy_rule *j,
    const struct policy_rule *i)
{
	size_t	 k;

	for (k = 0; k < lint_n_subj(j); k++)
		if (lint_subj_meets(p, j, k, i))
			return true;
	return false;
}

/* Each address name has now, against the deny rules before rule jx. */
static void
world_name(struct lint_world *w, size_t jx, const char *name)
{
	const struct policy		*p = w->p;
	const struct policy_rule	*j = &p->rules[jx], *i;
	struct addrinfo			 hints, *res, *ai;
	char				 addr[INET6_ADDRSTRLEN], net[LINT_ENTRY];
	size_t				 ix;
	int				 rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(name, NULL, &hints, &res)) != 0) {
		world_say(w, j, "hosts: %s does not resolve now (%s)", name,
		    gai_strerror(rc));
		return;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		for (ix = 0; ix < jx; ix++) {
			i = &p->rules[ix];
			if (i->action != POLICY_DENY ||
			    !lint_ports_common(p, j, i, NULL) ||
			    !world_subjects_meet(p, j, i) ||
			    !world_denied(p, i, ai->ai_addr, net, sizeof(net)))
				continue;
			getnameinfo(ai->ai_addr, ai->ai_addrlen, addr,
			    sizeof(addr), NULL, 0, NI_NUMERICHOST);
			world_say(w, j, "hosts: %s resolves to %s, inside %s "
			    "which rules[%zu] (%s, line %u) denies first; this "
			    "rule cannot allow it there", name, addr, net, ix,
			    p->pool + i->name, i->line);
			break;
		}
	}
	freeaddrinfo(res);
}

size_t
policy_lint_resolve(const struct policy *p,
    const struct policy_lint_names *names, policy_lint_report report,
    void *arg)
{
	struct lint_world		 w = { p, names, report, arg, 0 };
	const struct policy_rule	*r;
	const struct policy_str		*s;
	size_t				 j;
	uint32_t			 x;

	if (p == NULL)
		return 0;
	for (j = 0; j < p->n_rules; j++) {
		r = &p->rules[j];
		if (names != NULL) {
			world_principals(&w, r, true);
			world_principals(&w, r, false);
		}
		if (r->action != POLICY_ALLOW)
			continue;
		for (x = 0; x < r->hosts.n; x++) {
			s = &p->strs[r->hosts.first + x];
			if (!s->suffix)
				world_name(&w, j, p->pool + s->off);
		}
	}
	return w.found;
}
