/*
 * The gateway's own addresses, for the policy's "own" range: an allow rule
 * for a wide network must not reach the services the gateway host itself
 * listens on (its management interface, a local database) through one of
 * its public or internal addresses.
 */
#include <sys/socket.h>

#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "auth_net.h"
#include "log.h"

/* An address added at run time is protected within this time. */
#define AUTH_OWN_REFRESH_MS	1000

static struct policy_own	 own;
static uint32_t			*own_v4;
static struct in6_addr		*own_v6;
static int64_t			 own_listed_ms;
static bool			 own_listed;

static void
own_count(const struct ifaddrs *ifa, size_t *n4, size_t *n6)
{
	*n4 = *n6 = 0;
	for (; ifa != NULL; ifa = ifa->ifa_next) {
		if (ifa->ifa_addr == NULL)
			continue;
		if (ifa->ifa_addr->sa_family == AF_INET)
			(*n4)++;
		else if (ifa->ifa_addr->sa_family == AF_INET6)
			(*n6)++;
	}
}

static void
own_fill(const struct ifaddrs *ifa)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;

	own.n_v4 = own.n_v6 = 0;
	for (; ifa != NULL; ifa = ifa->ifa_next) {
		if (ifa->ifa_addr == NULL)
			continue;
		if (ifa->ifa_addr->sa_family == AF_INET) {
			sin = (const struct sockaddr_in *)(const void *)
			    ifa->ifa_addr;
			own_v4[own.n_v4++] = ntohl(sin->sin_addr.s_addr);
		} else if (ifa->ifa_addr->sa_family == AF_INET6) {
			sin6 = (const struct sockaddr_in6 *)(const void *)
			    ifa->ifa_addr;
			own_v6[own.n_v6++] = sin6->sin6_addr;
		}
	}
	own.v4 = own_v4;
	own.v6 = own_v6;
}

/* Lists the interfaces again; an incomplete list is never used. */
static int
own_list(void)
{
	struct ifaddrs	*ifa;
	uint32_t	*v4;
	struct in6_addr	*v6;
	size_t		 n4, n6;

	if (getifaddrs(&ifa) == -1) {
		log_warn("own addresses: getifaddrs");
		return -1;
	}
	own_count(ifa, &n4, &n6);
	/* One more than needed: reallocarray(p, 0, ...) may return NULL. */
	if ((v4 = reallocarray(own_v4, n4 + 1, sizeof(*v4))) != NULL)
		own_v4 = v4;
	if ((v6 = reallocarray(own_v6, n6 + 1, sizeof(*v6))) != NULL)
		own_v6 = v6;
	if (v4 == NULL || v6 == NULL) {
		log_warn("own addresses: reallocarray");
		freeifaddrs(ifa);
		return -1;
	}
	own_fill(ifa);
	freeifaddrs(ifa);
	return 0;
}

int
auth_own_addrs(const struct policy_own **out)
{
	int64_t	 now = auth_now_ms();

	if (!own_listed || now - own_listed_ms >= AUTH_OWN_REFRESH_MS) {
		own_listed = false;
		if (own_list() == -1)
			return -1;
		own_listed = true;
		own_listed_ms = now;
	}
	*out = &own;
	return 0;
}
