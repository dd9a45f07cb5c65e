#ifndef TG_AUTH_PROBE_H
#define TG_AUTH_PROBE_H

#include <stdbool.h>

struct config;

/* One server or service: whether it works, and what was seen. */
typedef void	(*auth_probe_report)(void *arg, bool ok, const char *msg);

/*
 * Try what cfg's authentication backend depends on; each server (LDAP) or
 * the service (PAM) is reported once. Returns how many work.
 */
int	 auth_probe(const struct config *, auth_probe_report, void *arg);

#endif
