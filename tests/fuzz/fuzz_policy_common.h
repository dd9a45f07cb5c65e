/*
 * What the policy fuzz targets (fuzz_policy.c, fuzz_policy_lint.c) share
 * besides fuzz_libconfig.h: the probe addresses, parsed once at start.
 */
#ifndef TG_FUZZ_POLICY_COMMON_H
#define TG_FUZZ_POLICY_COMMON_H

#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_libconfig.h"
#include "log.h"

static void
set_addr(struct sockaddr_storage *ss, const char *a)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (strchr(a, ':') != NULL) {
		sin6->sin6_family = AF_INET6;
		check(inet_pton(AF_INET6, a, &sin6->sin6_addr) == 1);
	} else {
		sin->sin_family = AF_INET;
		check(inet_pton(AF_INET, a, &sin->sin_addr) == 1);
	}
}

/* Messages are still formatted, just not written: keeps runs fast. */
static void
fuzz_policy_init(const char *name, const char *const *addrs,
    struct sockaddr_storage *sas, size_t n)
{
	size_t	 i;

	log_init(name, false, LOG_LVL_ERROR);
	for (i = 0; i < n; i++)
		set_addr(&sas[i], addrs[i]);
}

#endif
