/*
 * The authenticator process: privileged (root, for pam_unix and the backend
 * connect), never reading the network. It pulls requests from the sockets it
 * shares with the other authenticators of its generation and answers each
 * with a verdict and, on allow, the connected backend socket.
 */
#ifndef TG_AUTHENTICATOR_H
#define TG_AUTHENTICATOR_H

#include <stddef.h>

#include "config.h"
#include "policy.h"

struct auth_env {
	const struct config	*cfg;
	const struct policy	*policy;
	const int		*socks;		/* one per gate worker slot */
	size_t			 n_socks;
	int			 ctl_fd;
};

__attribute__((noreturn)) void authenticator_main(void *env);

#endif
