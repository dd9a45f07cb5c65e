/*
 * Backend connect for an authorized user: resolve a name only if the policy
 * could allow some address of it, check the policy on every resolved
 * address, connect only where it allows.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "auth_net.h"
#include "log.h"
#include "tg_limits.h"

static void
addr_format(const struct sockaddr *sa, char out[AUTH_ADDR_MAX])
{
	char	 a[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		if (inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a)) == NULL)
			snprintf(a, sizeof(a), "?");
		snprintf(out, AUTH_ADDR_MAX, "[%s]:%u", a,
		    (unsigned)ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		if (inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a)) == NULL)
			snprintf(a, sizeof(a), "?");
		snprintf(out, AUTH_ADDR_MAX, "%s:%u", a,
		    (unsigned)ntohs(s4->sin_port));
	}
}

/* Waits for a non-blocking connect on s; returns 0 or an errno. */
static int
connect_wait(int s, int64_t end_ms)
{
	struct pollfd	 pfd;
	socklen_t	 len;
	int64_t		 left;
	int		 r, err;

	/* A loopback connect is complete already: no wait to announce. */
	for (bool first = true;; first = false) {
		if ((left = end_ms - auth_now_ms()) <= 0)
			return ETIMEDOUT;
		pfd.fd = s;
		pfd.events = POLLOUT;
		pfd.revents = 0;
		r = poll(&pfd, 1, first ? 0 : left > INT_MAX ? INT_MAX :
		    (int)left);
		if (r == -1 && errno != EINTR)
			return errno;
		if (r == 1)
			break;
		if (first)
			auth_before_wait();
	}
	len = sizeof(err);
	if (getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		return errno;
	return err;
}

/* Connects to ai until end_ms; returns 0 with *fd set, or an errno. */
static int
backend_try(const struct addrinfo *ai, int64_t end_ms, int *fd)
{
	int	 s, err, one = 1;

	if (end_ms <= auth_now_ms())
		return ETIMEDOUT;
	s = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s == -1)
		return errno;
	if (connect(s, ai->ai_addr, ai->ai_addrlen) == -1) {
		err = errno == EINPROGRESS ? connect_wait(s, end_ms) : errno;
		if (err != 0)
			goto fail;
	}
	/*
	 * The relay passes small interactive writes on as they come. The
	 * socket stays non-blocking: the gate worker and the relay worker
	 * that get it run event loops, and O_NONBLOCK belongs to the open
	 * file they share with this copy, so nobody needs to set it again.
	 */
	if (setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == -1) {
		err = errno;
		goto fail;
	}
	*fd = s;
	return 0;
 fail:
	close(s);
	return err;
}

static enum auth_verdict
connect_error(int err, char *reason, size_t reasonlen)
{
	if (err == ETIMEDOUT) {
		snprintf(reason, reasonlen, "connect timeout");
		return AUTH_BACKEND_TIMEOUT;
	}
	if (err == ECONNREFUSED)
		snprintf(reason, reasonlen, "connection refused");
	else
		snprintf(reason, reasonlen, "connect: %s", strerror(err));
	return AUTH_BACKEND_REFUSED;
}

static int64_t
min_deadline(int64_t deadline_ms, unsigned timeout_ms)
{
	int64_t	 end = auth_now_ms() + timeout_ms;

	return end < deadline_ms ? end : deadline_ms;
}

/*
 * *res gets the addresses to check: the literal, or the name's. "name." and
 * "name" are one name, looked up fully qualified; a name no allow rule
 * could reach is not looked up at all (the resolver would otherwise leak
 * it, and 403 against 502/504 would tell which internal names exist).
 */
static enum auth_verdict
backend_addrs(const struct config *cfg, const struct policy *pol,
    const struct policy_subject *subject, const char *host, uint16_t port,
    int64_t deadline_ms, struct addrinfo **res, char rule[TG_RULE_NAME_SIZE],
    char *reason, size_t reasonlen)
{
	struct policy_verdict	 pv;
	char			 name[HTTP_HOST_MAX + 1];

	if (!auth_dns_name(host, name)) {
		snprintf(reason, reasonlen, "no such host");
		return AUTH_BACKEND_REFUSED;
	}
	if (auth_dns_numeric(name, port, res))
		return AUTH_ALLOW;
	if (!policy_lookup_needed(pol, subject, host, port, 0, &pv)) {
		snprintf(rule, TG_RULE_NAME_SIZE, "%s", pv.rule);
		snprintf(reason, reasonlen, "denied by policy (not resolved)");
		return AUTH_POLICY_DENY;
	}
	auth_before_wait();
	return auth_dns_resolve(name, port, min_deadline(deadline_ms,
	    cfg->timeout_dns_ms), res, reason, reasonlen);
}

/* Why the policy denied; an allow rule outside its window says which. */
static void
window_reason(const struct policy *pol, const char *rule, bool outside,
    char *reason, size_t reasonlen)
{
	struct policy_rule_limits	 lim;
	size_t				 idx;
	unsigned			 line;

	if (!outside || policy_rule_where(pol, rule, &idx, &line) == -1) {
		snprintf(reason, reasonlen, "denied by policy");
		return;
	}
	policy_rule_time(pol, idx, &lim);
	snprintf(reason, reasonlen, "denied by policy: outside the window "
	    "of rule %s (%s)", rule, lim.window);
}

enum auth_verdict
auth_backend_connect(const struct config *cfg, const struct policy *pol,
    const struct policy_subject *subject, const char *host, uint16_t port,
    int64_t deadline_ms, int *fd, char rule[TG_RULE_NAME_SIZE],
    char resolved[AUTH_ADDR_MAX], char *reason, size_t reasonlen)
{
	struct policy_target	 target = { .host = host, .port = port };
	struct policy_verdict	 pv;
	struct addrinfo		*res = NULL, *ai;
	enum auth_verdict	 v;
	int			 n = 0, allowed = 0, denied = 0, err = 0;

	*fd = -1;
	rule[0] = '\0';
	resolved[0] = '\0';
	reason[0] = '\0';
	if (auth_own_addrs(&target.own) == -1) {
		snprintf(reason, reasonlen, "cannot list the gateway's own "
		    "addresses");
		return AUTH_UNAVAILABLE;
	}
	v = backend_addrs(cfg, pol, subject, host, port, deadline_ms, &res,
	    rule, reason, reasonlen);
	if (v != AUTH_ALLOW)
		return v;

	for (ai = res; ai != NULL && n < TG_MAX_BACKEND_ADDRS;
	    ai = ai->ai_next) {
		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		n++;
		target.addr = ai->ai_addr;
		policy_check(pol, subject, &target, &pv);
		if (pv.action != POLICY_ALLOW) {
			/* Only a deny with nothing allowed is the answer. */
			if (!denied && !allowed) {
				snprintf(rule, TG_RULE_NAME_SIZE, "%s", pv.rule);
				addr_format(ai->ai_addr, resolved);
				denied = pv.outside_window ? 2 : 1;
			}
			continue;
		}
		allowed = 1;
		snprintf(rule, TG_RULE_NAME_SIZE, "%s", pv.rule);
		addr_format(ai->ai_addr, resolved);
		err = backend_try(ai, min_deadline(deadline_ms,
		    cfg->timeout_connect_ms), fd);
		if (err == 0) {
			v = AUTH_ALLOW;
			goto out;
		}
		log_debug("backend: %s (%s): %s", resolved, host,
		    strerror(err));
		if (auth_now_ms() >= deadline_ms)
			break;
	}
	if (allowed)
		v = connect_error(err, reason, reasonlen);
	else if (denied) {
		window_reason(pol, rule, denied == 2, reason, reasonlen);
		v = AUTH_POLICY_DENY;
	} else {
		snprintf(reason, reasonlen, "no usable address");
		v = AUTH_BACKEND_REFUSED;
	}
 out:
	freeaddrinfo(res);
	return v;
}
