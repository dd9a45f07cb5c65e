/*
 * Gate worker: unprivileged, chrooted, prefork. Accepts, completes the TLS
 * handshake, reads and parses the CONNECT request, asks the authenticator
 * pool for a verdict and a connected backend socket, answers, and relays
 * until the handoff to relay workers takes tunnels elsewhere.
 */
#ifndef TG_WORKER_H
#define TG_WORKER_H

#include <stddef.h>
#include <openssl/ssl.h>

#include "config.h"
#include "tls_client_ca.h"

/*
 * Which of the two unprivileged roles runs the loop: a gate worker accepts,
 * handshakes and asks the authenticators; a relay worker (exec'd) only adopts
 * tunnels handed over to it. The key process (src/key/) runs a loop of its
 * own but enters its sandbox the same way.
 */
enum worker_role {
	WORKER_GATE = 1,
	WORKER_RELAY = 2,
	WORKER_KEY = 3,
	WORKER_METRICS = 4,	/* tg-metrics: sandbox_enter only */
};

struct worker_env {
	enum worker_role	 role;
	const struct config	*cfg;
	SSL_CTX			*ctx;
	const int		*listeners;
	const struct config_listener *listener_conf;	/* of each listener */
	const struct tls_client_ca_set *client_ca;	/* of each listener */
	size_t			 n_listeners;
	int			 auth_fd;	/* this worker's authenticator socket */
	int			 key_fd;	/* gate: its slot's key process */
	int			 ctl_fd;	/* to the master */
	unsigned		 auth_alive;	/* authenticators running at fork */
	const int		*relay_fds;	/* gate: handoff sockets */
	size_t			 n_relays;
	int			 handoff_fd;	/* relay worker: where tunnels arrive */
	int			 limits_row;	/* gate: its row of conn_limits */
};

__attribute__((noreturn)) void worker_main(void *env);

#endif
