/*
 * The gate <-> authenticator table. A message that fails here is treated as
 * hostile, so only structure is checked: a well-formed request with bad
 * credentials is the authenticator's business, not an attack.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "log.h"

static int
request_check(const void *p, size_t n, size_t nfds, unsigned from,
    const char **why)
{
	const uint8_t	*b = p;
	uint16_t	 port, listener;
	uint32_t	 chain_len;

	(void)nfds;
	(void)from;
	if (!MSG_FIELD_OK(p, struct auth_request, user) ||
	    !MSG_FIELD_OK(p, struct auth_request, password) ||
	    !MSG_FIELD_OK(p, struct auth_request, host) ||
	    !MSG_FIELD_OK(p, struct auth_request, client) ||
	    !MSG_FIELD_OK(p, struct auth_request, proxy) ||
	    !MSG_FIELD_OK(p, struct auth_request, tls_version) ||
	    !MSG_FIELD_OK(p, struct auth_request, tls_cipher)) {
		*why = "request: unterminated string field";
		return -1;
	}
	memcpy(&chain_len, b + offsetof(struct auth_request, chain_len),
	    sizeof(chain_len));
	if (chain_len > TG_MAX_CLIENT_CHAIN_BYTES ||
	    n != AUTH_REQUEST_MIN + chain_len) {
		*why = "request: size is not that of its certificate chain";
		return -1;
	}
	memcpy(&listener, b + offsetof(struct auth_request, listener),
	    sizeof(listener));
	if (listener >= TG_MAX_LISTENERS) {
		*why = "request: listener out of range";
		return -1;
	}
	memcpy(&port, b + offsetof(struct auth_request, port), sizeof(port));
	if (port == 0) {
		*why = "request: port 0";
		return -1;
	}
	if (b[offsetof(struct auth_request, host)] == '\0') {
		*why = "request: empty host";
		return -1;
	}
	return 0;
}

/* Only an allow carries the backend socket; the gate fails it without. */
static int
reply_check(const void *p, size_t n, size_t nfds, unsigned from,
    const char **why)
{
	uint32_t	 verdict;

	(void)n;
	(void)from;
	memcpy(&verdict, (const uint8_t *)p + offsetof(struct auth_reply,
	    verdict), sizeof(verdict));
	if (verdict < AUTH_ALLOW || verdict > AUTH_VERDICT_MAX) {
		*why = "reply: verdict out of range";
		return -1;
	}
	if (nfds > 0 && verdict != AUTH_ALLOW) {
		*why = "reply: a backend socket with a refusal";
		return -1;
	}
	if (!MSG_FIELD_OK(p, struct auth_reply, rule) ||
	    !MSG_FIELD_OK(p, struct auth_reply, resolved) ||
	    !MSG_FIELD_OK(p, struct auth_reply, reason) ||
	    !MSG_FIELD_OK(p, struct auth_reply, user)) {
		*why = "reply: unterminated string field";
		return -1;
	}
	return 0;
}

static const struct msg_type auth_types[] = {
	{ AUTH_MSG_REQUEST, "request", AUTH_REQUEST_MIN,
	  sizeof(struct auth_request), MSG_GATE, MSG_AUTH, 0, 0,
	  request_check },
	MSG_FIXED(AUTH_MSG_TAKEN, "taken", struct auth_taken,
	    MSG_AUTH, MSG_GATE, 0, 0, NULL),
	MSG_FIXED(AUTH_MSG_REPLY, "reply", struct auth_reply,
	    MSG_AUTH, MSG_GATE, 0, 1, reply_check),
};

const struct msg_proto auth_proto = {
	"auth", AUTH_PROTO_VERSION, auth_types,
	sizeof(auth_types) / sizeof(auth_types[0])
};

_Static_assert(sizeof(struct auth_reply) < AUTH_MSG_BUF &&
    sizeof(struct auth_taken) < AUTH_MSG_BUF, "AUTH_MSG_BUF holds them all");

void
auth_msg_init(struct auth_msg_hdr *hdr, enum auth_msg_type type,
    uint64_t req_id)
{
	memset(hdr, 0, sizeof(*hdr));
	msg_hdr_init(&auth_proto, &hdr->h, (uint16_t)type);
	hdr->req_id = req_id;
}

int
auth_verdict_status(enum auth_verdict v)
{
	switch (v) {
	case AUTH_ALLOW:
		return 200;
	case AUTH_BAD_CREDENTIALS:
	case AUTH_ACCOUNT_UNUSABLE:
		return 407;
	case AUTH_POLICY_DENY:
		return 403;
	case AUTH_BACKEND_REFUSED:
		return 502;
	case AUTH_BACKEND_TIMEOUT:
		return 504;
	case AUTH_THROTTLED:
		return 429;
	case AUTH_UNAVAILABLE:
		break;
	}
	/* Anything unknown fails closed, like an unavailable authenticator. */
	return 503;
}

const char *
auth_verdict_name(enum auth_verdict v)
{
	switch (v) {
	case AUTH_ALLOW:
		return "allow";
	case AUTH_BAD_CREDENTIALS:
		return "bad_credentials";
	case AUTH_ACCOUNT_UNUSABLE:
		return "account_unusable";
	case AUTH_POLICY_DENY:
		return "policy_deny";
	case AUTH_BACKEND_REFUSED:
		return "backend_refused";
	case AUTH_BACKEND_TIMEOUT:
		return "backend_timeout";
	case AUTH_UNAVAILABLE:
		return "unavailable";
	case AUTH_THROTTLED:
		return "throttled";
	}
	return "unknown";
}

int64_t
auth_now_ms(void)
{
	struct timespec	 ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		fatal("auth proto: clock_gettime");
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
