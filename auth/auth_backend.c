/*
 * Backend connect for an authorized user: resolve with a deadline, check the
 * policy on every resolved address, connect only where it allows.
 *
 * Name lookups go through glibc's getaddrinfo_a, which runs the lookup in a
 * helper thread of this process; that is what lets a stuck resolver be
 * abandoned at the deadline instead of holding the authenticator.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
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
#include "log.h"

/* A name with more addresses than this is tried on its first ones only. */
#define BACKEND_MAX_ADDRS	32
/*
 * A lookup that glibc cannot cancel must stay allocated until its thread
 * finishes; at most this many may be pending before new lookups are refused.
 */
#define DNS_MAX_ABANDONED	16

struct dns_lookup {
	struct gaicb	 cb;
	struct addrinfo	 hints;
	char		 name[HTTP_HOST_MAX + 1];
	char		 service[8];
};

static struct dns_lookup	*dns_abandoned[DNS_MAX_ABANDONED];

static void
dns_lookup_free(struct dns_lookup *l)
{
	if (l->cb.ar_result != NULL)
		freeaddrinfo(l->cb.ar_result);
	free(l);
}

/* Frees abandoned lookups that have finished; returns a free slot or -1. */
static int
dns_reap(void)
{
	int	 i, slot = -1;

	for (i = 0; i < DNS_MAX_ABANDONED; i++) {
		if (dns_abandoned[i] != NULL &&
		    gai_error(&dns_abandoned[i]->cb) != EAI_INPROGRESS) {
			dns_lookup_free(dns_abandoned[i]);
			dns_abandoned[i] = NULL;
		}
		if (dns_abandoned[i] == NULL)
			slot = i;
	}
	return slot;
}

static void
dns_abandon(struct dns_lookup *l, int slot)
{
	if (gai_cancel(&l->cb) == EAI_NOTCANCELED)
		dns_abandoned[slot] = l;
	else
		dns_lookup_free(l);
}

static enum auth_verdict
dns_error(int e, char *reason, size_t reasonlen)
{
	if (e == EAI_NONAME || e == EAI_NODATA)
		snprintf(reason, reasonlen, "no such host");
	else if (e == EAI_AGAIN) {
		/* The resolver gave up waiting for its servers: a DNS timeout. */
		snprintf(reason, reasonlen, "dns timeout (resolver gave up)");
		return AUTH_BACKEND_TIMEOUT;
	} else
		snprintf(reason, reasonlen, "dns: %s", gai_strerror(e));
	return AUTH_BACKEND_REFUSED;
}

/* Waits for l until end_ms. Returns 0 when done, -1 on timeout or error. */
static int
dns_wait(struct dns_lookup *l, int64_t end_ms)
{
	const struct gaicb	*list[1] = { &l->cb };
	struct timespec		 ts;
	int64_t			 left;
	int			 r;

	while (gai_error(&l->cb) == EAI_INPROGRESS) {
		if ((left = end_ms - auth_now_ms()) <= 0)
			return -1;
		ts.tv_sec = left / 1000;
		ts.tv_nsec = (left % 1000) * 1000000;
		r = gai_suspend(list, 1, &ts);
		/* EAI_ALLDONE: it finished between gai_error and gai_suspend. */
		if (r != 0 && r != EAI_AGAIN && r != EAI_INTR &&
		    r != EAI_ALLDONE) {
			log_warnx("%s: gai_suspend: %s", __func__,
			    gai_strerror(r));
			return -1;
		}
	}
	return 0;
}

static enum auth_verdict
dns_resolve(const char *host, uint16_t port, int64_t end_ms,
    struct addrinfo **res, char *reason, size_t reasonlen)
{
	struct gaicb		*list[1];
	struct addrinfo		 hints;
	struct dns_lookup	*l;
	char			 service[8];
	int			 e, slot;

	/* Address literals need no resolver, so no thread and no wait. */
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	snprintf(service, sizeof(service), "%u", (unsigned)port);
	if ((e = getaddrinfo(host, service, &hints, res)) == 0)
		return AUTH_ALLOW;
	if (e != EAI_NONAME)
		return dns_error(e, reason, reasonlen);

	if (strlen(host) > HTTP_HOST_MAX)
		return dns_error(EAI_NONAME, reason, reasonlen);
	if (end_ms <= auth_now_ms())
		goto timeout;
	if ((slot = dns_reap()) == -1) {
		log_warnx("%s: %d lookups still stuck in the resolver; check "
		    "the name servers", __func__, DNS_MAX_ABANDONED);
		goto timeout;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return dns_error(EAI_MEMORY, reason, reasonlen);
	memcpy(l->name, host, strlen(host) + 1);
	memcpy(l->service, service, sizeof(service));
	l->hints.ai_socktype = SOCK_STREAM;
	l->hints.ai_flags = AI_NUMERICSERV;
	l->cb.ar_name = l->name;
	l->cb.ar_service = l->service;
	l->cb.ar_request = &l->hints;
	list[0] = &l->cb;
	if ((e = getaddrinfo_a(GAI_NOWAIT, list, 1, NULL)) != 0) {
		free(l);
		return dns_error(e, reason, reasonlen);
	}
	if (dns_wait(l, end_ms) == -1) {
		dns_abandon(l, slot);
		goto timeout;
	}
	if ((e = gai_error(&l->cb)) != 0) {
		dns_lookup_free(l);
		return dns_error(e, reason, reasonlen);
	}
	*res = l->cb.ar_result;
	l->cb.ar_result = NULL;
	dns_lookup_free(l);
	return AUTH_ALLOW;
 timeout:
	snprintf(reason, reasonlen, "dns timeout");
	return AUTH_BACKEND_TIMEOUT;
}

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

	for (;;) {
		if ((left = end_ms - auth_now_ms()) <= 0)
			return ETIMEDOUT;
		pfd.fd = s;
		pfd.events = POLLOUT;
		pfd.revents = 0;
		r = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (r == -1 && errno != EINTR)
			return errno;
		if (r == 1)
			break;
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
	int	 s, err, flags, one = 1;

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
	/* The relay passes small interactive writes on as they come. */
	if (setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == -1 ||
	    (flags = fcntl(s, F_GETFL)) == -1 ||
	    fcntl(s, F_SETFL, flags & ~O_NONBLOCK) == -1) {
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

enum auth_verdict
auth_backend_connect(const struct config *cfg, const struct policy *pol,
    const struct policy_subject *subject, const char *host, uint16_t port,
    int64_t deadline_ms, int *fd, char rule[AUTH_NAME_MAX],
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
	v = dns_resolve(host, port, min_deadline(deadline_ms,
	    cfg->timeout_dns_ms), &res, reason, reasonlen);
	if (v != AUTH_ALLOW)
		return v;

	for (ai = res; ai != NULL && n < BACKEND_MAX_ADDRS; ai = ai->ai_next) {
		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		n++;
		target.addr = ai->ai_addr;
		policy_check(pol, subject, &target, &pv);
		if (pv.action != POLICY_ALLOW) {
			/* Only a deny with nothing allowed is the answer. */
			if (!denied && !allowed) {
				snprintf(rule, AUTH_NAME_MAX, "%s", pv.rule);
				addr_format(ai->ai_addr, resolved);
				denied = 1;
			}
			continue;
		}
		allowed = 1;
		snprintf(rule, AUTH_NAME_MAX, "%s", pv.rule);
		addr_format(ai->ai_addr, resolved);
		err = backend_try(ai, min_deadline(deadline_ms,
		    cfg->timeout_connect_ms), fd);
		if (err == 0) {
			v = AUTH_ALLOW;
			goto out;
		}
		log_debug("%s: %s (%s): %s", __func__, resolved, host,
		    strerror(err));
		if (auth_now_ms() >= deadline_ms)
			break;
	}
	if (allowed)
		v = connect_error(err, reason, reasonlen);
	else if (denied) {
		snprintf(reason, reasonlen, "denied by policy");
		v = AUTH_POLICY_DENY;
	} else {
		snprintf(reason, reasonlen, "no usable address");
		v = AUTH_BACKEND_REFUSED;
	}
 out:
	freeaddrinfo(res);
	return v;
}
