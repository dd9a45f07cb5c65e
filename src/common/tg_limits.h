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
/*
 * Session ticket keys a gate worker holds: the current one and the one it
 * replaced, so a ticket stays good for a whole tls.ticket_key_lifetime
 * after the key that made it retires.
 */
#define TG_TICKET_KEYS		2
/* tls.ticket_key_lifetime, in seconds (0: no session tickets). */
#define TG_MAX_TICKET_KEY_LIFETIME_SECS	86400
/*
 * workers.restart_delay: a child that died quickly is restarted after this,
 * doubled for each further quick death up to the largest value.
 */
#define TG_RESTART_DELAY_MIN_MS		100
#define TG_RESTART_DELAY_DEFAULT_MS	1000
#define TG_MAX_RESTART_DELAY_SECS	30
/* workers.authenticator */
#define TG_MAX_AUTH_WORKERS	256
/* workers.relay; also the size of the relay load table gates receive. */
#define TG_MAX_RELAY_WORKERS	64
/* listen: listening sockets, all held by every gate worker. */
#define TG_MAX_LISTENERS	16
/*
 * A policy rule's name with its NUL: the policy refuses a longer one, and
 * the authenticator's verdict, audit records and per-rule metrics carry it.
 */
#define TG_RULE_NAME_SIZE	64
/*
 * A name with more addresses than this is checked and tried on its first
 * ones only (the authenticator and tunnelgatectl explain alike).
 */
#define TG_MAX_BACKEND_ADDRS	32
/* cache.max_entries: credential cache entries. */
#define TG_MAX_CACHE_ENTRIES	(1U << 20)
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
/*
 * limits.source_connections, limits.source_rate: counted in 16 bits per
 * gate worker and source bucket (conn_limits.c).
 */
#define TG_MAX_SOURCE_CONNECTIONS	65535
#define TG_MAX_SOURCE_RATE		65535
/*
 * limits.max_tunnel_lifetime: 30 days at most, so that it fits unsigned
 * milliseconds; a tunnel that must live longer needs no limit (0).
 */
#define TG_MAX_TUNNEL_LIFETIME_SECS	(30 * 86400)
/* limits.user_rate: new tunnels of one account a minute. */
#define TG_MAX_USER_RATE		1000000
/* limits.user_tunnels: tunnels of one account open at once. */
#define TG_MAX_USER_TUNNELS		1000000
#define TG_DEFAULT_USER_TUNNELS		256
/*
 * How long the master waits for the gate worker's `open` record of a
 * tunnel an authenticator allowed before it gives the account's
 * limits.user_tunnels place back (the gate worker died or never
 * answered the client).
 */
#define TG_GRANT_OPEN_MS		10000
/*
 * Sources the gate workers count apart: a source is hashed (with a key
 * chosen at start) to one of these buckets; two sources in one bucket
 * share its limits, which only makes them stricter.
 */
#define TG_SOURCE_BUCKETS	4096
/*
 * Gate workers whose counts are kept at once: every slot of the current
 * generation and as many retired ones still draining. A gate worker
 * started when all are taken counts only its own connections.
 */
#define TG_CONN_LIMIT_ROWS	(4 * TG_MAX_GATE_WORKERS)
/*
 * Failed-login budgets the authenticators share (sources and user names
 * together). When full, the entry least worth keeping goes: never a
 * lockout in force while an unlocked one can go instead.
 */
#define TG_THROTTLE_ENTRIES	16384
/* A throttled key as the audit log names it: a user name or a source. */
#define TG_THROTTLE_LABEL_SIZE	72
/*
 * PROXY protocol headers a load balancer puts before the TLS handshake
 * (HAProxy's doc/proxy-protocol.txt). A v1 line is at most 107 bytes with
 * its CRLF; a v2 header is 16 bytes and a length, and is read whole only
 * up to one minimal TCP segment (536 bytes), which holds the addresses and
 * the TLVs a balancer in TCP mode sends.
 */
#define TG_PROXY_V1_MAX_BYTES	107
#define TG_PROXY_V2_MAX_BYTES	536
#define TG_PROXY_MAX_BYTES	TG_PROXY_V2_MAX_BYTES
/* listen[].proxy_trusted: networks of one listener's balancers. */
#define TG_MAX_PROXY_TRUSTED	32
/*
 * listen[].client_verify_depth: intermediate CAs allowed between a client
 * certificate and a CA of client_ca_file (OpenSSL's verify depth).
 */
#define TG_MAX_CLIENT_VERIFY_DEPTH	8
#define TG_DEFAULT_CLIENT_VERIFY_DEPTH	2
/*
 * A client's certificate chain (leaf, then the intermediates it sent, DER)
 * as a gate worker passes it to the authenticator to verify again. Bounded
 * like the rest of an auth request; a longer chain is refused.
 */
#define TG_MAX_CLIENT_CHAIN_BYTES	16384
/* auth.certificate_uri_prefix with its NUL. */
#define TG_CERT_URI_PREFIX_SIZE		256
/* A certificate subject as the audit log quotes it (RFC 2253), with NUL. */
#define TG_CERT_SUBJECT_SIZE		256
/* control.socket: a Unix socket path with its NUL (sun_path's size). */
#define TG_CONTROL_PATH_SIZE	108
/* Connections to the control socket served at once; more are refused. */
#define TG_CONTROL_CONNS	8
/*
 * The metrics child (metrics.listen, docs/metrics.md): scrapes served at
 * once (a new one past them ends the oldest, so a slow client cannot hold
 * the listener); the longest request it reads; how long a request may take
 * to arrive and its answer to be taken; the longest answer; and the rules
 * whose open tunnels are counted by name (the rest add up as "(other)").
 */
#define TG_METRICS_CONNS	8
#define TG_METRICS_REQUEST_MAX	4096
#define TG_METRICS_TIMEOUT_MS	5000
#define TG_METRICS_RESPONSE_MAX	32768
#define TG_METRICS_RULES	40
/* Auth latency histogram buckets (upper bounds, ms): Prometheus' defaults. */
#define TG_METRICS_BUCKETS_MS	{ 5, 10, 25, 50, 100, 250, 500, 1000, 2500, \
				  5000, 10000 }
#define TG_METRICS_BUCKETS	11
/* privsep.gate_user, relay_user, key_user: a user name and its NUL. */
#define TG_USER_NAME_SIZE	64

/*
 * Descriptors a forked child keeps besides 0-2. A gate worker: every
 * listener, the sending end of every relay worker's handoff socket, its
 * authenticator socket, its key process socket and its control socket. An
 * authenticator: the gate socket of every gate slot of its generation and
 * its control socket.
 */
#define TG_GATE_KEEP_FDS	(TG_MAX_LISTENERS + TG_MAX_RELAY_WORKERS + 3)
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

/*
 * The key process (src/key/): the largest key it signs with is RSA 4096
 * (512-byte signatures and PSS blocks); an ECDSA signature of P-521 is at
 * most 139 bytes of DER.
 */
#define TG_KEY_MAX_BYTES	512
#define TG_KEY_MIN_RSA_BITS	2048
/*
 * Signatures one gate worker gets per second, and the burst above that;
 * beyond them the key process waits before it reads the next request, so
 * a compromised gate worker cannot make it burn a core (ECDSA P-256 signs
 * some 50,000 a second on one). A full handshake costs a gate worker
 * several times one signature, so one worker does not reach this rate.
 */
#define TG_KEY_SIGN_RATE	5000
#define TG_KEY_SIGN_BURST	5000
/* How long a gate worker waits for a signature before failing the handshake. */
#define TG_KEY_REPLY_TIMEOUT_MS	2000

/*
 * The longest line a record can make, every byte of every field escaped
 * as \ufffd (6 bytes) and the keys around them (docs/audit-log.md).
 */
#define AUDIT_LINE_MAX		16384
/* audit.progress_interval: its default and its most, in seconds. */
#define TG_AUDIT_PROGRESS_DEFAULT_SECS	300
#define TG_MAX_AUDIT_PROGRESS_SECS	86400
/* An audit line's groups field: the names joined by ',' and a NUL. */
#define TG_AUDIT_GROUPS_SIZE	256
/*
 * auth.recheck_interval (seconds): how often the accounts of live tunnels
 * are re-checked, its default, and its most; when on, at least a second.
 */
#define TG_RECHECK_DEFAULT_SECS		300
#define TG_MAX_RECHECK_SECS		86400
#define TG_MIN_RECHECK_MS		1000
/*
 * Account re-checks the master has out at once, and those it sends a
 * second: a directory sees at most this much extra load, and an
 * authenticator busy with one still serves logins after it. A re-check
 * not answered within timeouts.auth and TG_RECHECK_GRACE_MS is given up.
 */
#define TG_RECHECK_INFLIGHT		4
#define TG_RECHECK_RATE			50
#define TG_RECHECK_GRACE_MS		1000
/*
 * A re-check answer's groups: the names the policy mentions, each with
 * its NUL: more than a dozen of the longest a rule can name
 * (AUTH_GROUP_NAME_MAX); the reply stays within CTL_MSG_BUF.
 */
#define TG_RECHECK_GROUPS_SIZE		3584
/*
 * The same with the hash chain's seq and prev after the record's fields:
 * the longest line the master writes and readers accept.
 */
#define AUDIT_CHAINED_LINE_MAX	(AUDIT_LINE_MAX + 128)

/*
 * tunnelgatectl audit --summary: distinct keys (users, user/target pairs,
 * sources) each table counts apart; beyond, they are added up as
 * "(others)" and the summary says so, so memory stays bounded.
 */
#define AUDIT_SUMMARY_KEYS	50000

#endif
