/*
 * Master <-> child control messages on each child's SOCK_SEQPACKET socket,
 * described by one table (ctl_proto, see msg.h) that says which role may
 * send each type: children send audit records (each role only the events it
 * produces), gate workers report handoffs, authenticators and key processes
 * report a gate worker that broke their protocol; the master sends gate
 * workers the pool's state and the relay loads, authenticators and key
 * processes replacement sockets and relay workers their settings; the
 * master asks authenticators to re-check the accounts of live tunnels
 * (auth.recheck_interval) and they answer. The master kills a child that sends
 * anything the table refuses, or more than CTL_RATE_PER_SEC messages a
 * second beyond a burst.
 */
#ifndef TG_CTL_H
#define TG_CTL_H

#include <stddef.h>
#include <stdint.h>

#include "audit.h"
#include "msg.h"
#include "tg_limits.h"

#define CTL_PROTO_VERSION	3

enum ctl_type {
	CTL_AUDIT = 1,		/* authenticator, gate, relay -> master */
	CTL_AUTH_STATUS = 2,	/* master -> gate */
	CTL_RETIRE = 3,		/* master -> gate, auth: stop taking new work */
	CTL_RELAY_INIT = 4,	/* master -> relay worker, once, after exec */
	/* 5 was a relay worker's self-reported load; the master counts now. */
	CTL_RELAY_LOADS = 6,	/* master -> gate: every relay worker's count */
	CTL_HANDOFF = 7,	/* gate -> master: tunnel goes to relay worker */
	CTL_HANDOFF_FAILED = 8,	/* gate -> master: ... but it stayed here */
	CTL_GATE_BROKE = 9,	/* authenticator, key -> master: kill that gate */
	CTL_AUTH_SOCKET = 10,	/* master -> authenticator: a fresh gate socket */
	CTL_TUNNEL_STATS = 11,	/* gate, relay -> master: its live tunnels */
	CTL_TICKET_KEYS = 12,	/* master -> gate: session ticket keys */
	CTL_TUNNEL_KILL = 13,	/* master -> gate, relay: end that tunnel */
	CTL_KEY_SOCKET = 14,	/* master -> key process: a fresh gate socket */
	CTL_METRICS_ASK = 15,	/* metrics child -> master: a scrape came */
	CTL_METRICS = 16,	/* master -> metrics child: the counters now */
	CTL_RECHECK = 17,	/* master -> authenticator: is user still ok? */
	CTL_RECHECK_REPLY = 18,	/* authenticator -> master: its answer */
	CTL_PING = 19,		/* master -> every child: still serving? */
	CTL_PONG = 20,		/* every child -> master: that ping's serial */
};

/*
 * Messages a child may send per second, and the burst above that. A gate
 * worker sends at most about three per connection (open, handoff, close)
 * and TLS handshakes bound its connection rate far below this; every
 * tunnel a worker holds may end at once, so the master adds the
 * connection limit to the burst.
 */
#define CTL_RATE_PER_SEC	20000
#define CTL_RATE_BURST		20000

struct ctl_audit {
	struct msg_hdr		 hdr;
	struct audit_record	 rec;
};

struct ctl_auth_status {
	struct msg_hdr		 hdr;
	uint32_t		 alive;		/* authenticators running */
	uint32_t		 dead_pid;	/* one that just died, or 0 */
};

struct ctl_retire {
	struct msg_hdr		 hdr;
};

/* What a freshly exec'd relay worker needs; it reads no config file. */
struct ctl_relay_init {
	struct msg_hdr		 hdr;
	uint32_t		 slot;
	uint32_t		 timeout_idle_ms;
	uint32_t		 timeout_drain_ms;
	uint32_t		 limit_buffer_bytes;
	uint32_t		 limit_tunnels;
	uint32_t		 log_level;
	uint32_t		 log_syslog;
	uint32_t		 pad;
	char			 user[TG_USER_NAME_SIZE];	/* privsep.relay_user */
	char			 chroot_dir[4096];
};

struct ctl_relay_loads {
	struct msg_hdr		 hdr;
	uint32_t		 n;		/* relay workers */
	uint32_t		 capacity;	/* tunnels each may hold */
	/* The most pipelined bytes each takes: its own limits.buffer_bytes. */
	uint32_t		 buffer_bytes;
	uint32_t		 tunnels[TG_MAX_RELAY_WORKERS];	/* UINT32_MAX: down */
};

/*
 * Sent by a gate worker before the handoff message, so the master counts
 * the tunnel for that relay worker before the relay worker can close it;
 * CTL_HANDOFF_FAILED follows when no relay worker took it after all.
 */
struct ctl_handoff {
	struct msg_hdr		 hdr;
	uint32_t		 relay;		/* relay worker slot */
	uint32_t		 pad;
	uint64_t		 tunnel_id;
};

/* The gate socket of slot, pair serial, sent what why says. */
#define CTL_WHY_MAX	128

struct ctl_gate_broke {
	struct msg_hdr		 hdr;
	uint32_t		 slot;
	uint32_t		 serial;
	char			 why[CTL_WHY_MAX];
};

/*
 * The authenticator's (key process's) end of slot's new socket pair travels
 * as SCM_RIGHTS; CTL_KEY_SOCKET has the same shape.
 */
struct ctl_auth_socket {
	struct msg_hdr		 hdr;
	uint32_t		 slot;
	uint32_t		 serial;
};

/*
 * A worker's live tunnels, CTL_STATS_PER_MSG at a time, every
 * CTL_STATS_EVERY_MS and at once after a relay worker adopts one (the
 * master then knows the tunnel died with that relay worker rather than
 * waiting in its queue for a successor). Counts are the worker's word:
 * they only ever describe tunnels the master already knows that worker
 * holds, and serve status and the close record of a worker that died.
 */
#define CTL_STATS_PER_MSG	64
#define CTL_STATS_EVERY_MS	1000

struct ctl_tunnel_stat {
	uint64_t		 tunnel_id;
	uint64_t		 bytes_up, bytes_down;
	uint32_t		 idle_ms;	/* since bytes last moved */
	uint32_t		 pad;
};

struct ctl_tunnel_stats {
	struct msg_hdr		 hdr;
	uint32_t		 n;
	uint32_t		 pad;
	struct ctl_tunnel_stat	 t[CTL_STATS_PER_MSG];
};

/*
 * Session ticket keys (RFC 5077 layout, as OpenSSL's ticket callback uses
 * them): the name goes in clear at the start of each ticket, AES-256-CBC
 * encrypts it and HMAC-SHA256 authenticates it.
 */
#define CTL_TICKET_NAME_LEN	16
#define CTL_TICKET_KEY_LEN	32

struct ctl_ticket_key {
	uint8_t			 name[CTL_TICKET_NAME_LEN];
	uint8_t			 aes_key[CTL_TICKET_KEY_LEN];
	uint8_t			 hmac_key[CTL_TICKET_KEY_LEN];
};

/*
 * key[0] makes new tickets; the others (older) still open tickets they
 * made. Slots past n are zero.
 */
struct ctl_ticket_keys {
	struct msg_hdr		 hdr;
	uint32_t		 n;
	uint32_t		 pad;
	struct ctl_ticket_key	 key[TG_TICKET_KEYS];
};

/*
 * End one tunnel now: close_notify to the client, FIN to the backend, and
 * the close record with this closed_by (admin or policy; error for one the
 * master closed already or never heard of) and reason.
 */
struct ctl_tunnel_kill {
	struct msg_hdr		 hdr;
	uint64_t		 tunnel_id;
	uint32_t		 closed_by;
	uint32_t		 pad;
	char			 reason[128];
};

/*
 * The counters the master keeps (docs/metrics.md); the metrics child only
 * formats them. Indexes of the arrays below.
 */
enum ctl_login { CTL_LOGIN_SUCCESS, CTL_LOGIN_FAILURE, CTL_LOGIN_THROTTLED,
	CTL_LOGIN_ERROR, CTL_LOGIN_RESULTS };
enum ctl_request { CTL_REQ_OPENED, CTL_REQ_DENIED, CTL_REQ_AUTH_FAILED,
	CTL_REQ_ERROR, CTL_REQ_RESULTS };
enum ctl_proc { CTL_PROC_AUTH, CTL_PROC_GATE, CTL_PROC_RELAY, CTL_PROC_KEY,
	CTL_PROC_METRICS, CTL_PROCS };

struct ctl_metrics_ask {
	struct msg_hdr		 hdr;
};

struct ctl_metrics_rule {
	char			 name[TG_RULE_NAME_SIZE];	/* as audit records name it */
	uint64_t		 open;
};

struct ctl_metrics {
	struct msg_hdr		 hdr;
	uint64_t		 logins[CTL_LOGIN_RESULTS];
	uint64_t		 requests[CTL_REQ_RESULTS];
	uint64_t		 closed[AUDIT_BY_MAX + 1];	/* by closed_by */
	uint64_t		 bytes_up, bytes_down;
	uint64_t		 revocations;
	uint64_t		 lockouts_user, lockouts_source;
	uint64_t		 restarts[CTL_PROCS];
	/* Cumulative, as Prometheus has them: [i] counts those <= bound i. */
	uint64_t		 auth_buckets[TG_METRICS_BUCKETS];
	uint64_t		 auth_count, auth_sum_ms;
	uint64_t		 open_other;	/* rules past TG_METRICS_RULES */
	uint32_t		 n_rules;
	uint32_t		 pad;
	struct ctl_metrics_rule	 rules[TG_METRICS_RULES];
};

/*
 * Account re-check (auth.recheck_interval): is the account of live tunnels
 * still usable, and in which groups, asked without its password. serial
 * names the question; the master takes one answer per question, from the
 * authenticator it asked, about the user it asked about.
 */
struct ctl_recheck {
	struct msg_hdr		 hdr;
	uint64_t		 serial;
	char			 user[HTTP_CRED_MAX + 1];	/* the account's own */
};

enum ctl_recheck_status {
	CTL_RECHECK_OK = 1,		/* usable; groups are its groups now */
	CTL_RECHECK_REVOKED = 2,	/* locked, expired or gone: reason says */
	CTL_RECHECK_UNAVAILABLE = 3,	/* cannot tell now (directory down) */
};

/*
 * groups: n_groups names, each ended by its NUL, then zeros; only those
 * the policy names (no other can change a verdict), and only with
 * CTL_RECHECK_OK.
 */
struct ctl_recheck_reply {
	struct msg_hdr		 hdr;
	uint64_t		 serial;
	uint32_t		 status;	/* enum ctl_recheck_status */
	uint32_t		 n_groups;
	char			 user[HTTP_CRED_MAX + 1];
	char			 reason[128];
	char			 groups[TG_RECHECK_GROUPS_SIZE];
};

/*
 * The master's heartbeat (src/master/heartbeat.c): every child answers a
 * ping from its event loop with the same serial, so one that runs but no
 * longer comes back to its loop is found and replaced.
 */
struct ctl_ping {
	struct msg_hdr		 hdr;
	uint64_t		 serial;
};

extern const struct msg_proto ctl_proto;

/* Large enough for any control message plus one byte. */
#define CTL_MSG_BUF	(sizeof(struct ctl_relay_init) + 1)

void	 ctl_hdr_init(struct msg_hdr *, enum ctl_type);
/*
 * A child's control message to the master; if the socket is full wait up to
 * a second, as the master drains promptly. The master itself never waits on
 * a child (src/master/outbox.c). 0, or -1 with errno.
 */
int	 ctl_send(int ctl_fd, const void *msg, size_t len, const int *fds,
	    size_t nfds);
/* A child's answer to CTL_PING; -1 (logged) if it could not be sent. */
int	 ctl_pong(int ctl_fd, const struct ctl_ping *);
/* Send an audit record to the master; -1 (logged) if it was lost. */
int	 ctl_send_audit(int ctl_fd, const struct audit_record *);

#endif
