/*
 * Checks on the fixed-size gate <-> authenticator messages. A message that
 * fails here is treated as hostile by the authenticator, so only structure is
 * checked: a well-formed request with bad credentials is the caller's
 * business, not an attack.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "log.h"

/* Every char field must hold its NUL inside its own bounds. */
static int
field_terminated(const uint8_t *msg, size_t off, size_t len)
{
	return memchr(msg + off, '\0', len) != NULL;
}

#define FIELD_OK(msg, type, field)					\
	field_terminated((msg), offsetof(type, field),			\
	    sizeof(((type *)0)->field))

static int
request_validate(const uint8_t *p, const char **why)
{
	uint16_t	 port;

	if (!FIELD_OK(p, struct auth_request, user) ||
	    !FIELD_OK(p, struct auth_request, password) ||
	    !FIELD_OK(p, struct auth_request, host) ||
	    !FIELD_OK(p, struct auth_request, client) ||
	    !FIELD_OK(p, struct auth_request, tls_version) ||
	    !FIELD_OK(p, struct auth_request, tls_cipher)) {
		*why = "request: unterminated string field";
		return -1;
	}
	memcpy(&port, p + offsetof(struct auth_request, port), sizeof(port));
	if (port == 0) {
		*why = "request: port 0";
		return -1;
	}
	if (p[offsetof(struct auth_request, host)] == '\0') {
		*why = "request: empty host";
		return -1;
	}
	return 0;
}

static int
reply_validate(const uint8_t *p, const char **why)
{
	uint32_t	 verdict;

	memcpy(&verdict, p + offsetof(struct auth_reply, verdict),
	    sizeof(verdict));
	if (verdict < AUTH_ALLOW || verdict > AUTH_VERDICT_MAX) {
		*why = "reply: verdict out of range";
		return -1;
	}
	if (!FIELD_OK(p, struct auth_reply, rule) ||
	    !FIELD_OK(p, struct auth_reply, resolved) ||
	    !FIELD_OK(p, struct auth_reply, reason)) {
		*why = "reply: unterminated string field";
		return -1;
	}
	return 0;
}

static size_t
msg_size(uint16_t type)
{
	switch (type) {
	case AUTH_MSG_REQUEST:
		return sizeof(struct auth_request);
	case AUTH_MSG_TAKEN:
		return sizeof(struct auth_taken);
	case AUTH_MSG_REPLY:
		return sizeof(struct auth_reply);
	default:
		return 0;
	}
}

int
auth_msg_validate(const void *msg, size_t n, const char **why)
{
	const uint8_t		*p = msg;
	struct auth_msg_hdr	 hdr;
	size_t			 want;

	if (n < sizeof(hdr)) {
		*why = "shorter than a header";
		return -1;
	}
	/* The buffer may come from a byte array: no aligned struct access. */
	memcpy(&hdr, p, sizeof(hdr));
	if (hdr.version != AUTH_PROTO_VERSION) {
		*why = "unknown protocol version";
		return -1;
	}
	if ((want = msg_size(hdr.type)) == 0) {
		*why = "unknown message type";
		return -1;
	}
	if (hdr.size != n) {
		*why = "header size differs from the received size";
		return -1;
	}
	if (n != want) {
		*why = "wrong size for the message type";
		return -1;
	}
	switch (hdr.type) {
	case AUTH_MSG_REQUEST:
		if (request_validate(p, why) == -1)
			return -1;
		break;
	case AUTH_MSG_REPLY:
		if (reply_validate(p, why) == -1)
			return -1;
		break;
	default:
		break;
	}
	return hdr.type;
}

void
auth_msg_init(struct auth_msg_hdr *hdr, enum auth_msg_type type,
    uint64_t req_id)
{
	memset(hdr, 0, sizeof(*hdr));
	hdr->version = AUTH_PROTO_VERSION;
	hdr->type = (uint16_t)type;
	hdr->size = (uint32_t)msg_size((uint16_t)type);
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
	}
	return "unknown";
}

int64_t
auth_now_ms(void)
{
	struct timespec	 ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		fatal("%s: clock_gettime", __func__);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
