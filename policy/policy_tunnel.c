/*
 * The verdict for a tunnel that is already open, from the facts the
 * master's table keeps ("host:port" as requested, "addr:port" connected
 * to): the same policy_check() a new tunnel gets, so that revocation on
 * reload and `tunnelgatectl diff --live` cut exactly what a new request of
 * the same kind would be refused.
 */
#include <netinet/in.h>

#include <netdb.h>
#include <string.h>

#include "netaddr.h"
#include "policy.h"

/* host from "host:port" or "[v6]:port", as the CONNECT request had it. */
static void
tunnel_host(const char *target, char *host, size_t size)
{
	const char	*end = strrchr(target, ':');
	size_t		 len = end != NULL ? (size_t)(end - target) :
			    strlen(target);

	if (len >= 2 && target[0] == '[' && target[len - 1] == ']') {
		target++;
		len -= 2;
	}
	if (len >= size)
		len = size - 1;
	memcpy(host, target, len);
	host[len] = '\0';
}

int
policy_check_tunnel(const struct policy *policy,
    const struct policy_subject *subject, const char *target,
    const char *resolved, const struct policy_own *own,
    struct policy_verdict *v)
{
	struct sockaddr_storage	 ss;
	struct policy_target	 t = { .own = own };
	char			 host[NI_MAXHOST];

	if (netaddr_parse(resolved, &ss) != 0)
		return -1;
	t.port = ss.ss_family == AF_INET ?
	    ntohs(((struct sockaddr_in *)&ss)->sin_port) :
	    ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	tunnel_host(target, host, sizeof(host));
	t.host = host;
	t.addr = (struct sockaddr *)&ss;
	policy_check(policy, subject, &t, v);
	return 0;
}
