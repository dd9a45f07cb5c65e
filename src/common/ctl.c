/*
 * The master <-> child table. The audit row carries the rule that keeps a
 * compromised child from speaking for another role: each role may send only
 * the events it produces (docs/audit-log.md, "Events").
 */
#include <errno.h>
#include <poll.h>
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
		    1u << AUDIT_ALLOW | 1u << AUDIT_ERROR;
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

#define CHILDREN	(MSG_AUTH | MSG_GATE | MSG_RELAY)

static const struct msg_type ctl_types[] = {
	MSG_FIXED(CTL_AUDIT, "audit", struct ctl_audit,
	    CHILDREN, MSG_MASTER, 0, 0, audit_check),
	MSG_FIXED(CTL_AUTH_STATUS, "auth status", struct ctl_auth_status,
	    MSG_MASTER, MSG_GATE, 0, 0, NULL),
	MSG_FIXED(CTL_RETIRE, "retire", struct ctl_retire,
	    MSG_MASTER, MSG_GATE | MSG_AUTH, 0, 0, NULL),
	MSG_FIXED(CTL_RELAY_INIT, "relay init", struct ctl_relay_init,
	    MSG_MASTER, MSG_RELAY, 0, 0, relay_init_check),
	MSG_FIXED(CTL_RELAY_LOADS, "relay loads", struct ctl_relay_loads,
	    MSG_MASTER, MSG_GATE, 0, 0, relay_loads_check),
	MSG_FIXED(CTL_HANDOFF, "handoff", struct ctl_handoff,
	    MSG_GATE, MSG_MASTER, 0, 0, NULL),
	MSG_FIXED(CTL_HANDOFF_FAILED, "handoff failed", struct ctl_handoff,
	    MSG_GATE, MSG_MASTER, 0, 0, NULL),
	MSG_FIXED(CTL_GATE_BROKE, "gate broke", struct ctl_gate_broke,
	    MSG_AUTH, MSG_MASTER, 0, 0, gate_broke_check),
	MSG_FIXED(CTL_AUTH_SOCKET, "auth socket", struct ctl_auth_socket,
	    MSG_MASTER, MSG_AUTH, 1, 1, NULL),
};

const struct msg_proto ctl_proto = {
	"control", CTL_PROTO_VERSION, ctl_types,
	sizeof(ctl_types) / sizeof(ctl_types[0])
};

_Static_assert(sizeof(struct ctl_relay_init) >= sizeof(struct ctl_audit) &&
    sizeof(struct ctl_relay_init) >= sizeof(struct ctl_relay_loads),
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

void
ctl_send_audit(int ctl_fd, const struct audit_record *rec)
{
	struct ctl_audit	 m;

	memset(&m, 0, sizeof(m));
	ctl_hdr_init(&m.hdr, CTL_AUDIT);
	m.rec = *rec;
	if (ctl_send(ctl_fd, &m, sizeof(m), NULL, 0) == -1)
		log_warn("%s: audit record for event %u lost", __func__,
		    rec->event);
}
