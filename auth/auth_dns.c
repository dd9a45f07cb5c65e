/*
 * Name lookups for backend connects. Each runs in a thread of its own, so
 * that a stuck resolver is abandoned at the deadline instead of holding the
 * authenticator, and so that the lookup can use resolver settings of its
 * own: glibc keeps them per thread, which getaddrinfo_a's shared helper
 * threads would not allow.
 */
#include <sys/socket.h>

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <resolv.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth_net.h"
#include "log.h"

/*
 * A lookup whose request gave up keeps running until the resolver returns;
 * at most this many may, then new lookups are refused until some finish.
 */
#define DNS_MAX_ABANDONED	16

struct dns_lookup {
	pthread_cond_t	 done_cv;	/* the rest is under dns_lock */
	bool		 done;
	bool		 abandoned;
	int		 error;
	struct addrinfo	*result;
	char		 name[HTTP_HOST_MAX + 1];
	char		 service[8];
};

static pthread_mutex_t	 dns_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned		 dns_abandoned;

static void
dns_lookup_free(struct dns_lookup *l)
{
	if (l->result != NULL)
		freeaddrinfo(l->result);
	pthread_cond_destroy(&l->done_cv);
	free(l);
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

/*
 * With the search list (or the domain of the host name) "intranet" and
 * "db.example" may become "intranet.corp.example" or
 * "db.example.corp.example": names nobody checked against the policy, and
 * a way to ask the resolver about names no rule allows. HOSTALIASES
 * could rename them as well.
 */
static int
dns_getaddrinfo(const struct dns_lookup *l, struct addrinfo **res)
{
	struct addrinfo	 hints;

	if (res_init() == -1)
		return EAI_SYSTEM;
	_res.options &= ~(unsigned long)(RES_DNSRCH | RES_DEFNAMES);
	_res.options |= RES_NOALIASES;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	return getaddrinfo(l->name, l->service, &hints, res);
}

static void *
dns_thread(void *arg)
{
	struct dns_lookup	*l = arg;
	struct addrinfo		*res = NULL;
	bool			 orphan;
	int			 e;

	e = dns_getaddrinfo(l, &res);
	pthread_mutex_lock(&dns_lock);
	l->error = e;
	l->result = e == 0 ? res : NULL;
	l->done = true;
	if ((orphan = l->abandoned))
		dns_abandoned--;
	else
		pthread_cond_signal(&l->done_cv);
	pthread_mutex_unlock(&dns_lock);
	if (orphan)
		dns_lookup_free(l);
	return NULL;
}

static struct dns_lookup *
dns_lookup_new(const char *name, uint16_t port)
{
	struct dns_lookup	*l;
	pthread_condattr_t	 ca;
	int			 e;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	memcpy(l->name, name, strlen(name) + 1);
	snprintf(l->service, sizeof(l->service), "%u", (unsigned)port);
	/* Deadlines are on CLOCK_MONOTONIC (auth_now_ms()). */
	if ((e = pthread_condattr_init(&ca)) == 0) {
		if ((e = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC)) == 0)
			e = pthread_cond_init(&l->done_cv, &ca);
		pthread_condattr_destroy(&ca);
	}
	if (e != 0) {
		free(l);
		errno = e;
		return NULL;
	}
	return l;
}

/* Returns 0 or an error number; l belongs to the thread once it runs. */
static int
dns_start(struct dns_lookup *l)
{
	pthread_attr_t	 attr;
	pthread_t	 t;
	sigset_t	 all, old;
	int		 e;

	if ((e = pthread_attr_init(&attr)) != 0)
		return e;
	/* Signals (the LDAP watchdog's SIGALRM) belong to the main thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if ((e = pthread_attr_setdetachstate(&attr,
	    PTHREAD_CREATE_DETACHED)) == 0)
		e = pthread_create(&t, &attr, dns_thread, l);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	return e;
}

/* Returns 0 when l is done, -1 when end_ms passed first (l abandoned). */
static int
dns_wait(struct dns_lookup *l, int64_t end_ms)
{
	struct timespec	 ts = { .tv_sec = end_ms / 1000,
			    .tv_nsec = (end_ms % 1000) * 1000000 };
	int		 r = 0;

	pthread_mutex_lock(&dns_lock);
	while (!l->done && r != ETIMEDOUT)
		r = pthread_cond_timedwait(&l->done_cv, &dns_lock, &ts);
	if (!l->done) {
		l->abandoned = true;
		dns_abandoned++;
	}
	pthread_mutex_unlock(&dns_lock);
	return l->done ? 0 : -1;
}

bool
auth_dns_name(const char *host, char name[HTTP_HOST_MAX + 1])
{
	size_t	 len = strnlen(host, HTTP_HOST_MAX + 1);

	if (len > HTTP_HOST_MAX)
		return false;
	if (len > 0 && host[len - 1] == '.')
		len--;
	memcpy(name, host, len);
	name[len] = '\0';
	return true;
}

bool
auth_dns_numeric(const char *host, uint16_t port, struct addrinfo **res)
{
	struct addrinfo	 hints;
	char		 service[8];

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	snprintf(service, sizeof(service), "%u", (unsigned)port);
	*res = NULL;
	return getaddrinfo(host, service, &hints, res) == 0;
}

enum auth_verdict
auth_dns_resolve(const char *name, uint16_t port, int64_t end_ms,
    struct addrinfo **res, char *reason, size_t reasonlen)
{
	struct dns_lookup	*l;
	unsigned		 stuck;
	int			 e;

	*res = NULL;
	if (strlen(name) > HTTP_HOST_MAX)
		return dns_error(EAI_NONAME, reason, reasonlen);
	if (end_ms <= auth_now_ms())
		goto timeout;
	pthread_mutex_lock(&dns_lock);
	stuck = dns_abandoned;
	pthread_mutex_unlock(&dns_lock);
	if (stuck >= DNS_MAX_ABANDONED) {
		log_warnx("dns: %u lookups still stuck in the resolver; check "
		    "the name servers", stuck);
		goto timeout;
	}
	if ((l = dns_lookup_new(name, port)) == NULL)
		return dns_error(EAI_MEMORY, reason, reasonlen);
	if ((e = dns_start(l)) != 0) {
		log_warnx("dns: pthread_create: %s", strerror(e));
		dns_lookup_free(l);
		return dns_error(EAI_SYSTEM, reason, reasonlen);
	}
	if (dns_wait(l, end_ms) == -1)
		goto timeout;
	if ((e = l->error) != 0) {
		dns_lookup_free(l);
		return dns_error(e, reason, reasonlen);
	}
	*res = l->result;
	l->result = NULL;
	dns_lookup_free(l);
	return AUTH_ALLOW;
 timeout:
	snprintf(reason, reasonlen, "dns timeout");
	return AUTH_BACKEND_TIMEOUT;
}
