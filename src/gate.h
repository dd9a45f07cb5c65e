/*
 * Gate worker: unprivileged, chrooted, prefork. Accepts, completes the TLS
 * handshake, reads and parses the CONNECT request, asks the authenticator
 * pool for a verdict and a connected backend socket, answers, and relays
 * until the handoff to relay workers takes tunnels elsewhere.
 */
#ifndef TG_GATE_H
#define TG_GATE_H

#include <stddef.h>
#include <openssl/ssl.h>

#include "config.h"

struct gate_env {
	const struct config	*cfg;
	SSL_CTX			*ctx;
	const int		*listeners;
	size_t			 n_listeners;
	int			 auth_fd;	/* this worker's authenticator socket */
	int			 ctl_fd;	/* to the master */
	unsigned		 auth_alive;	/* authenticators running at fork */
	const int		*relay_fds;	/* gate: handoff sockets */
	size_t			 n_relays;
	int			 handoff_fd;	/* relay worker: where tunnels arrive */
	void			 (*enter_sandbox)(void);	/* after set-up */
};

__attribute__((noreturn)) void gate_main(void *env);

#endif
