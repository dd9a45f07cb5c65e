/*
 * Named limits: the largest value each setting may take, and every size
 * derived from one. The config schema validates against these names and
 * every array or check that depends on a limit is sized by the same name,
 * so the largest value the config accepts is the one the code is built for.
 * Documented in docs/tunnelgated.conf.5. (Not "limits.h": with -Isrc/common
 * that name would hide the C library's.)
 */
#ifndef TG_LIMITS_H
#define TG_LIMITS_H

/* workers.gate: gate worker slots of one generation. */
#define TG_MAX_GATE_WORKERS	64
/* workers.authenticator */
#define TG_MAX_AUTH_WORKERS	256
/* workers.relay; also the size of the relay load table gates receive. */
#define TG_MAX_RELAY_WORKERS	64
/* listen: listening sockets, all held by every gate worker. */
#define TG_MAX_LISTENERS	16
/* limits.connections: per gate worker, and tunnels per relay worker. */
#define TG_MAX_CONNECTIONS	1000000
/* limits.buffer_bytes: at least one whole TLS record, or a relay stalls. */
#define TG_MIN_BUFFER_BYTES	16384
#define TG_MAX_BUFFER_BYTES	(16 * 1024 * 1024)
/*
 * auth.failure_delay: how long after a request with credentials its 407
 * goes out, whatever was wrong. A minute holds a connection long enough;
 * the default is what pam_unix would have slept.
 */
#define TG_MAX_FAILURE_DELAY_SECS	60
#define TG_DEFAULT_FAILURE_DELAY_MS	2000
/* privsep.gate_user, privsep.relay_user: a user name and its NUL. */
#define TG_USER_NAME_SIZE	64

/*
 * Descriptors a forked child keeps besides 0-2. A gate worker: every
 * listener, the sending end of every relay worker's handoff socket, its
 * authenticator socket and its control socket. An authenticator: the gate
 * socket of every gate slot of its generation and its control socket.
 */
#define TG_GATE_KEEP_FDS	(TG_MAX_LISTENERS + TG_MAX_RELAY_WORKERS + 2)
#define TG_AUTH_KEEP_FDS	(TG_MAX_GATE_WORKERS + 1)
#define TG_MAX_KEEP_FDS		(TG_GATE_KEEP_FDS > TG_AUTH_KEEP_FDS ? \
				 TG_GATE_KEEP_FDS : TG_AUTH_KEEP_FDS)
/* An exec'd relay worker starts with two: its control and handoff sockets. */
#define TG_RELAY_EXEC_FDS	2

/*
 * What RLIMIT_NOFILE must hold, per process; the gate worker needs the most.
 * Each connection holds its client and, once allowed, its backend socket
 * (in a gate worker, then in the relay worker it is handed to). Beside them
 * a worker has what it keeps (above), stdio, its epoll and signal
 * descriptors, a syslog socket and what libc and OpenSSL open on the way.
 */
#define TG_FDS_PER_CONNECTION	2
#define TG_WORKER_OWN_FDS	16
/*
 * The default limits.connections: with the default workers that needs
 * 16,405 descriptors per process, within the hard RLIMIT_NOFILE of a
 * systemd service (524,288), a Debian login (1,048,576) and a container
 * capped at 20,000.
 */
#define TG_DEFAULT_CONNECTIONS	8192

#endif
