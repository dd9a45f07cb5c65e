/*
 * The authenticator process: privileged (root, for pam_unix and the backend
 * connect), never reading the network. It pulls requests from the sockets it
 * shares with the other authenticators of its generation and answers each
 * with a verdict and, on allow, the connected backend socket. A gate worker
 * that sends anything else loses its socket: the authenticator stops reading
 * it and asks the master to kill that gate worker, which comes back with a
 * fresh socket pair (CTL_AUTH_SOCKET).
 */
#ifndef TG_AUTHENTICATOR_H
#define TG_AUTHENTICATOR_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "policy.h"
#include "tls_client_ca.h"

struct auth_env {
	const struct config	*cfg;
	const struct policy	*policy;
	const struct tls_client_ca_set *client_ca;	/* of each listener */
	const int		*socks;		/* one per gate worker slot */
	const uint32_t		*serials;	/* which pair of that slot */
	size_t			 n_socks;
	int			 ctl_fd;
};

__attribute__((noreturn)) void authenticator_main(void *env);

#endif
