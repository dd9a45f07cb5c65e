/*
 * The master <-> child table. The audit row carries the rule that keeps a
 * compromised child from speaking for another role: each role may send only
 * the events it produces (docs/audit-log.md, "Events").
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>

#include "ctl.h"
#include "ipc.h"
#include "log.h"

#define CTL_SEND_WAIT_MS	1000

/* The events each sending role produces. */
static unsigned
audit_events_of(unsigned role)
{
	switch (role) {
	case MSG_AUTH:
		return 1u << AUDIT_AUTH_FAIL | 1u << AUDIT_DENY |
		    1u << AUDIT_ALLOW | 1u << AUDIT_ERROR | 1u << AUDIT_LOCKOUT;
	case MSG_GATE:
		return 1u << AUDIT_AUTH_FAIL | 1u << AUDIT_ERROR |
		    1u << AUDIT_OPEN | 1u << AUDIT_CLOSE;
	case MSG_RELAY:
		return 1u << AUDIT_CLOSE;
	}
	return 0;
}

static int
audit_check(const void *msg, size_t n, size_t nfds, unsigned from,
    const char **why)
{
	struct audit_record	 r;

	(void)n;
	(void)nfds;
	memcpy(&r, (const uint8_t *)msg + offsetof(struct ctl_audit, rec),
	    sizeof(r));
	if (auditlog_record_validate(&r) != 0) {
		*why = "audit: record out of range or unterminated";
		return -1;
	}
	if (!(audit_events_of(from) & 1u << r.event)) {
		*why = "audit: an event this role does not produce";
		return -1;
	}
	/* A gate worker decides only one login failure: no credentials. */
	if (from == MSG_GATE && r.event == AUDIT_AUTH_FAIL &&
	    (strcmp(r.reason, AUDIT_REASON_NO_CREDENTIALS) != 0 ||
	    r.user[0] != '\0')) {
		*why = "audit: a gate worker's auth_fail other than no credentials";
		return -1;
	}
	return 0;
}

static int
relay_init_check(const void *msg, size_t n, size_t nfds, unsigned from,
    const char **why)
{
	(void)n;
	(void)nfds;
	(void)from;
	if (!MSG_FIELD_OK(msg, struct ctl_relay_init, user) ||
	    !MSG_FIELD_OK(msg, struct ctl_relay_init, chroot_dir)) {
		*why = "relay init: unterminated string field";
		return -1;
	}
	return 0;
}

static int
relay_loads_check(const void *msg, size_t n, size_t nfds, unsigned from,
    const char **why)
{
	uint32_t	 count;

	(void)n;
	(void)nfds;
	(void)from;
	memcpy(&count, (const uint8_t *)msg + offsetof(struct ctl_relay_loads,
	    n), sizeof(count));
	if (count > TG_MAX_RELAY_WORKERS) {
		*why = "relay loads: more relay workers than TG_MAX_RELAY_WORKERS";
		return -1;
	}
	return 0;
}

static int
gate_broke_check(const void *msg, size_t n, size_t nfds, unsigned from,
    const char **why)
{
	(void)n;
	(void)nfds;
	(void)from;
	if (!MSG_FIELD_OK(msg, struct ctl_gate_broke, why)) {
		*why = "gate broke: unterminated reason";
		return -1;
	}
	return 0;
}

static int
tunnel_stats_check(const void *msg, size_t n, size_t nfds, unsigned from,
    const char **why)
{
	uint32_t	 count;

	(void)n;
	(void)nfds;
	(void)from;
	memcpy(&count, (const uint8_t *)msg + offsetof(struct ctl_tunnel_stats,
	    n), sizeof(count));
	if (count > CTL_STATS_PER_MSG) {
		*why = "tunnel stats: more than CTL_STATS_PER_MSG tunnels";
		return -1;
	}
	return 0;
}

static bool
all_zero(const uint8_t *p, size_t n)
{
	uint8_t	 acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

static bool
ticket_key_whole(const struct ctl_ticket_key *k)
{
	return !all_zero(k->name, sizeof(k->name)) &&
	    !all_zero(k->aes_key, sizeof(k->aes_key)) &&
	    !all_zero(k->hmac_key, sizeof(k->hmac_key));
}

/* A key the gate would use must be whole and its name unique. */
static int
ticket_keys_check(const void *msg, size_t n, size_t nfds, unsigned from,
    const char **why)
{
	struct ctl_ticket_keys	 k;
	int			 rv = 0;

	(void)n;
	(void)nfds;
	(void)from;
	memcpy(&k, msg, sizeof(k));
	if (k.n == 0 || k.n > TG_TICKET_KEYS || k.pad != 0) {
		*why = "ticket keys: count not in 1..TG_TICKET_KEYS";
		rv = -1;
	}
	for (uint32_t i = 0; rv == 0 && i < TG_TICKET_KEYS; i++) {
		if (i < k.n ? !ticket_key_whole(&k.key[i]) :
		    !all_zero((const uint8_t *)&k.key[i], sizeof(k.key[i]))) {
			*why = "ticket keys: a used slot with a zero field, or "
			    "an unused one that is not zero";
			rv = -1;
		}
		for (uint32_t j = 0; rv == 0 && i < k.n && j < i; j++)
			if (memcmp(k.key[i].name, k.key[j].name,
			    sizeof(k.key[i].name)) == 0) {
				*why = "ticket keys: two keys with one name";
				rv = -1;
			}
	}
	explicit_bzero(&k, sizeof(k));
	return rv;
}

static int
tunnel_kill_check(const void *msg, size_t n, size_t nfds, unsigned from,
    const char **why)
{
	uint32_t	 by;

	(void)n;
	(void)nfds;
	(void)from;
	memcpy(&by, (const uint8_t *)msg + offsetof(struct ctl_tunnel_kill,
	    closed_by), sizeof(by));
	/* error: a tunnel the master closed already or never heard of. */
	if ((by != AUDIT_BY_ADMIN && by != AUDIT_BY_POLICY &&
	    by != AUDIT_BY_ERROR) ||
	    !MSG_FIELD_OK(msg, struct ctl_tunnel_kill, reason)) {
		*why = "tunnel kill: closed_by not admin, policy or error, or "
		    "unterminated reason";
		return -1;
	}
	return 0;
}

/*
 * The metrics child formats what this holds: named rules it can quote, and
 * a histogram whose buckets only grow up to the count.
 */
static int
metrics_check(const void *msg, size_t n, size_t nfds, unsigned from,
    const char **why)
{
	struct ctl_metrics	 m;
	uint64_t		 prev = 0;

	(void)n;
	(void)nfds;
	(void)from;
	memcpy(&m, msg, sizeof(m));
	if (m.n_rules > TG_METRICS_RULES || m.pad != 0) {
		*why = "metrics: more rules than TG_METRICS_RULES";
		return -1;
	}
	for (uint32_t i = 0; i < TG_METRICS_RULES; i++)
		if (i < m.n_rules ? m.rules[i].name[0] == '\0' ||
		    memchr(m.rules[i].name, '\0', sizeof(m.rules[i].name)) ==
		    NULL : !all_zero((const uint8_t *)&m.rules[i],
		    sizeof(m.rules[i]))) {
			*why = "metrics: a rule name empty or unterminated, or "
			    "an unused rule slot that is not zero";
			return -1;
		}
	for (size_t i = 0; i < TG_METRICS_BUCKETS; i++) {
		if (m.auth_buckets[i] < prev || m.auth_buckets[i] >
		    m.auth_count) {
			*why = "metrics: histogram buckets not cumulative";
			return -1;
		}
		prev = m.auth_buckets[i];
	}
	return 0;
}

static int
recheck_check(const void *msg, size_t n, size_t nfds, unsigned from,
    const char **why)
{
	struct ctl_recheck	 r;

	(void)n;
	(void)nfds;
	(void)from;
	memcpy(&r, msg, sizeof(r));
	if (r.serial == 0 || r.user[0] == '\0' ||
	    memchr(r.user, '\0', sizeof(r.user)) == NULL) {
		*why = "recheck: serial 0, or empty or unterminated user";
		return -1;
	}
	return 0;
}

/*
 * Exactly n_groups non-empty names, then zeros: the master reads the names
 * by walking them, so nothing past the count may hide there.
 */
static int
recheck_groups_check(const struct ctl_recheck_reply *r)
{
	size_t	 off = 0, len;

	if (r->n_groups > TG_RECHECK_GROUPS_SIZE / 2 ||
	    (r->n_groups > 0 && r->status != CTL_RECHECK_OK))
		return -1;
	for (uint32_t i = 0; i < r->n_groups; i++) {
		len = strnlen(r->groups + off, sizeof(r->groups) - off);
		if (len == 0 || len == sizeof(r->groups) - off)
			return -1;
		off += len + 1;
	}
	return all_zero((const uint8_t *)r->groups + off,
	    sizeof(r->groups) - off) ? 0 : -1;
}

/* An answer the master acts on: its account, why, and the groups now. */
static int
recheck_reply_check(const void *msg, size_t n, size_t nfds, unsigned from,
    const char **why)
{
	struct ctl_recheck_reply	 r;

	(void)n;
	(void)nfds;
	(void)from;
	memcpy(&r, msg, sizeof(r));
	if (r.status < CTL_RECHECK_OK || r.status > CTL_RECHECK_UNAVAILABLE ||
	    r.serial == 0 || r.user[0] == '\0' ||
	    memchr(r.user, '\0', sizeof(r.user)) == NULL ||
	    memchr(r.reason, '\0', sizeof(r.reason)) == NULL) {
		*why = "recheck reply: unknown status, serial 0, or empty or "
		    "unterminated user or reason";
		return -1;
	}
	if (recheck_groups_check(&r) != 0) {
		*why = "recheck reply: groups not n_groups names then zeros, or "
		    "groups with an answer other than ok";
		return -1;
	}
	return 0;
}

/* Serial 0 would answer a ping never sent. */
static int
ping_check(const void *msg, size_t n, size_t nfds, unsigned from,
    const char **why)
{
	uint64_t	 serial;

	(void)n;
	(void)nfds;
	(void)from;
	memcpy(&serial, (const uint8_t *)msg + offsetof(struct ctl_ping,
	    serial), sizeof(serial));
	if (serial == 0) {
		*why = "ping or pong: serial 0";
		return -1;
	}
	return 0;
}

#define CHILDREN	(MSG_AUTH | MSG_GATE | MSG_RELAY)
#define EVERY_CHILD	(CHILDREN | MSG_KEY | MSG_METRICS)

static const struct msg_type ctl_types[] = {
	MSG_FIXED(CTL_AUDIT, "audit", struct ctl_audit,
	    CHILDREN, MSG_MASTER, 0, 0, audit_check),
	MSG_FIXED(CTL_AUTH_STATUS, "auth status", struct ctl_auth_status,
	    MSG_MASTER, MSG_GATE, 0, 0, NULL),
	MSG_FIXED(CTL_RETIRE, "retire", struct ctl_retire,
	    MSG_MASTER, MSG_GATE | MSG_AUTH | MSG_KEY, 0, 0, NULL),
	MSG_FIXED(CTL_RELAY_INIT, "relay init", struct ctl_relay_init,
	    MSG_MASTER, MSG_RELAY, 0, 0, relay_init_check),
	MSG_FIXED(CTL_RELAY_LOADS, "relay loads", struct ctl_relay_loads,
	    MSG_MASTER, MSG_GATE, 0, 0, relay_loads_check),
	MSG_FIXED(CTL_HANDOFF, "handoff", struct ctl_handoff,
	    MSG_GATE, MSG_MASTER, 0, 0, NULL),
	MSG_FIXED(CTL_HANDOFF_FAILED, "handoff failed", struct ctl_handoff,
	    MSG_GATE, MSG_MASTER, 0, 0, NULL),
	MSG_FIXED(CTL_GATE_BROKE, "gate broke", struct ctl_gate_broke,
	    MSG_AUTH | MSG_KEY, MSG_MASTER, 0, 0, gate_broke_check),
	MSG_FIXED(CTL_AUTH_SOCKET, "auth socket", struct ctl_auth_socket,
	    MSG_MASTER, MSG_AUTH, 1, 1, NULL),
	MSG_FIXED(CTL_TUNNEL_STATS, "tunnel stats", struct ctl_tunnel_stats,
	    MSG_GATE | MSG_RELAY, MSG_MASTER, 0, 0, tunnel_stats_check),
	MSG_FIXED(CTL_TICKET_KEYS, "ticket keys", struct ctl_ticket_keys,
	    MSG_MASTER, MSG_GATE, 0, 0, ticket_keys_check),
	MSG_FIXED(CTL_TUNNEL_KILL, "tunnel kill", struct ctl_tunnel_kill,
	    MSG_MASTER, MSG_GATE | MSG_RELAY, 0, 0, tunnel_kill_check),
	MSG_FIXED(CTL_KEY_SOCKET, "key socket", struct ctl_auth_socket,
	    MSG_MASTER, MSG_KEY, 1, 1, NULL),
	MSG_FIXED(CTL_METRICS_ASK, "metrics ask", struct ctl_metrics_ask,
	    MSG_METRICS, MSG_MASTER, 0, 0, NULL),
	MSG_FIXED(CTL_METRICS, "metrics", struct ctl_metrics,
	    MSG_MASTER, MSG_METRICS, 0, 0, metrics_check),
	MSG_FIXED(CTL_RECHECK, "recheck", struct ctl_recheck,
	    MSG_MASTER, MSG_AUTH, 0, 0, recheck_check),
	MSG_FIXED(CTL_RECHECK_REPLY, "recheck reply", struct ctl_recheck_reply,
	    MSG_AUTH, MSG_MASTER, 0, 0, recheck_reply_check),
	MSG_FIXED(CTL_PING, "ping", struct ctl_ping,
	    MSG_MASTER, EVERY_CHILD, 0, 0, ping_check),
	MSG_FIXED(CTL_PONG, "pong", struct ctl_ping,
	    EVERY_CHILD, MSG_MASTER, 0, 0, ping_check),
};

const struct msg_proto ctl_proto = {
	"control", CTL_PROTO_VERSION, ctl_types,
	sizeof(ctl_types) / sizeof(ctl_types[0])
};

_Static_assert(sizeof(struct ctl_relay_init) >= sizeof(struct ctl_audit) &&
    sizeof(struct ctl_relay_init) >= sizeof(struct ctl_relay_loads) &&
    sizeof(struct ctl_relay_init) >= sizeof(struct ctl_tunnel_stats) &&
    sizeof(struct ctl_relay_init) >= sizeof(struct ctl_ticket_keys) &&
    sizeof(struct ctl_relay_init) >= sizeof(struct ctl_metrics) &&
    sizeof(struct ctl_relay_init) >= sizeof(struct ctl_recheck) &&
    sizeof(struct ctl_relay_init) >= sizeof(struct ctl_recheck_reply),
    "CTL_MSG_BUF holds every control message");

void
ctl_hdr_init(struct msg_hdr *h, enum ctl_type type)
{
	msg_hdr_init(&ctl_proto, h, (uint16_t)type);
}

int
ctl_send(int ctl_fd, const void *msg, size_t len, const int *fds, size_t nfds)
{
	struct pollfd	 pfd = { .fd = ctl_fd, .events = POLLOUT };

	while (ipc_send(ctl_fd, msg, len, fds, nfds) == -1)
		if (errno != EAGAIN || poll(&pfd, 1, CTL_SEND_WAIT_MS) != 1)
			return -1;
	return 0;
}

int
ctl_pong(int ctl_fd, const struct ctl_ping *ping)
{
	struct ctl_ping	 m;

	memset(&m, 0, sizeof(m));
	ctl_hdr_init(&m.hdr, CTL_PONG);
	m.serial = ping->serial;
	if (ctl_send(ctl_fd, &m, sizeof(m), NULL, 0) == -1) {
		log_warn("control: answering the master's heartbeat");
		return -1;
	}
	return 0;
}

int
ctl_send_audit(int ctl_fd, const struct audit_record *rec)
{
	struct ctl_audit	 m;

	memset(&m, 0, sizeof(m));
	ctl_hdr_init(&m.hdr, CTL_AUDIT);
	m.rec = *rec;
	if (ctl_send(ctl_fd, &m, sizeof(m), NULL, 0) == -1) {
		log_warn("control: audit record for event %u lost",
		    rec->event);
		return -1;
	}
	return 0;
}
