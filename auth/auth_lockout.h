/*
 * Login throttling as an authenticator applies it to one request, before
 * PAM or LDAP is asked (auth_throttle.h keeps the shared table).
 */
#ifndef TG_AUTH_LOCKOUT_H
#define TG_AUTH_LOCKOUT_H

#include <stdbool.h>
#include <stddef.h>

#include "auth_proto.h"
#include "authenticator.h"

/*
 * Is the request's source or user name locked out? With reason, also why,
 * as its 429's audit reason.
 */
bool	 auth_lockout_refused(const struct auth_env *,
	    const struct auth_request *, char *reason, size_t reasonlen);
/* Count a failed login; a lockout it begins is written to the audit log. */
void	 auth_lockout_count(const struct auth_env *, const struct auth_request *);

#endif
