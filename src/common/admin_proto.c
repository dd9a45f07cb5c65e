/*
 * The control socket's table (admin_proto.h). Sizes alone bound every
 * message; the checks refuse what sizes cannot: an unterminated string, a
 * command or selector out of range, a row whose audit record is not one.
 */
#include <string.h>

#include "admin_proto.h"

static int
request_check(const void *msg, size_t n, size_t nfds, unsigned from,
    const char **why)
{
	struct admin_request	 r;

	(void)n;
	(void)nfds;
	(void)from;
	memcpy(&r, msg, sizeof(r));
	if (r.cmd < 1 || r.cmd > ADMIN_CMD_MAX) {
		*why = "request: unknown command";
		return -1;
	}
	if (r.cmd == ADMIN_KILL && (r.by < 1 || r.by > ADMIN_BY_MAX)) {
		*why = "request: kill without a known selector";
		return -1;
	}
	if (r.cmd != ADMIN_KILL && (r.by != 0 || r.tunnel_id != 0)) {
		*why = "request: a selector on a command that takes none";
		return -1;
	}
	if (!MSG_FIELD_OK(msg, struct admin_request, arg)) {
		*why = "request: unterminated argument";
		return -1;
	}
	if (r.cmd == ADMIN_KILL && r.by != ADMIN_BY_ID && r.arg[0] == '\0') {
		*why = "request: empty kill argument";
		return -1;
	}
	if (r.cmd == ADMIN_CACHE_FLUSH && strlen(r.arg) > HTTP_CRED_MAX) {
		*why = "request: cache flush of a user name longer than a "
		    "login's";
		return -1;
	}
	return 0;
}

static int
tunnel_check(const void *msg, size_t n, size_t nfds, unsigned from,
    const char **why)
{
	struct audit_record	 rec;

	(void)n;
	(void)nfds;
	(void)from;
	memcpy(&rec, (const uint8_t *)msg + offsetof(struct admin_tunnel,
	    facts), sizeof(rec));
	if (!MSG_FIELD_OK(msg, struct admin_tunnel, holder) ||
	    auditlog_record_validate(&rec) != 0) {
		*why = "tunnel: a field out of range or unterminated";
		return -1;
	}
	return 0;
}

static int
done_check(const void *msg, size_t n, size_t nfds, unsigned from,
    const char **why)
{
	uint32_t	 result;

	(void)n;
	(void)nfds;
	(void)from;
	memcpy(&result, (const uint8_t *)msg + offsetof(struct admin_done,
	    result), sizeof(result));
	if (result > ADMIN_REFUSED ||
	    !MSG_FIELD_OK(msg, struct admin_done, text)) {
		*why = "done: unknown result or unterminated text";
		return -1;
	}
	return 0;
}

static const struct msg_type admin_types[] = {
	MSG_FIXED(ADMIN_REQUEST, "request", struct admin_request,
	    MSG_ADMIN, MSG_MASTER, 0, 0, request_check),
	MSG_FIXED(ADMIN_TUNNEL, "tunnel", struct admin_tunnel,
	    MSG_MASTER, MSG_ADMIN, 0, 0, tunnel_check),
	MSG_FIXED(ADMIN_DONE, "done", struct admin_done,
	    MSG_MASTER, MSG_ADMIN, 0, 0, done_check),
};

const struct msg_proto admin_proto = {
	"admin", ADMIN_PROTO_VERSION, admin_types,
	sizeof(admin_types) / sizeof(admin_types[0])
};

_Static_assert(sizeof(struct admin_tunnel) >= sizeof(struct admin_request) &&
    sizeof(struct admin_tunnel) >= sizeof(struct admin_done),
    "ADMIN_MSG_BUF holds every admin message");

void
admin_hdr_init(struct msg_hdr *h, enum admin_type type)
{
	msg_hdr_init(&admin_proto, h, (uint16_t)type);
}
