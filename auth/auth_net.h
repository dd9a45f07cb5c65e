/*
 * The authenticator's view of the network before a backend connect: name
 * lookups (auth_dns.c) and the gateway's own addresses (auth_own.c).
 */
#ifndef TG_AUTH_NET_H
#define TG_AUTH_NET_H

#include <netdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "policy.h"

/*
 * The name the gateway looks up for host as requested: "name." and "name"
 * are one name (a literal with the dot is no address to the request
 * parser). false if host is longer than a name can be.
 */
bool	 auth_dns_name(const char *host, char name[HTTP_HOST_MAX + 1]);

/* host is an address literal: *res gets it (freeaddrinfo()), no lookup. */
bool	 auth_dns_numeric(const char *host, uint16_t port,
	    struct addrinfo **res);

/*
 * Resolve name (without a trailing dot) as a fully qualified name through
 * NSS (/etc/hosts, DNS), never with the resolv.conf search list, until
 * end_ms (CLOCK_MONOTONIC). Returns AUTH_ALLOW with *res (freeaddrinfo()),
 * or AUTH_BACKEND_REFUSED / AUTH_BACKEND_TIMEOUT with reason set.
 */
enum auth_verdict auth_dns_resolve(const char *name, uint16_t port,
	    int64_t end_ms, struct addrinfo **res, char *reason,
	    size_t reasonlen);

/*
 * The addresses of this network namespace's interfaces, listed at most
 * AUTH_OWN_REFRESH_MS ago. Returns 0 with *own valid until the next call,
 * or -1 if they cannot be listed now.
 */
int	 auth_own_addrs(const struct policy_own **own);

#endif
