/*
 * The gate worker -> relay worker table: one variable-size type whose check
 * holds what the relay worker then relies on (the pipelined bytes fill the
 * message exactly, the facts are an open record, the TLS state fits its
 * suite). Apart from the worker so the fuzz target can link it alone.
 */
#include <stddef.h>
#include <string.h>

#include "handoff.h"

static int
handoff_check(const void *msg, size_t n, size_t nfds, unsigned from,
    const char **why)
{
	static char	 err[128];
	struct audit_record facts;
	struct tls_state st;
	uint32_t	 data_len;
	int		 r;

	(void)nfds;
	(void)from;
	memcpy(&data_len, (const uint8_t *)msg +
	    offsetof(struct handoff_msg, data_len), sizeof(data_len));
	if (data_len > HANDOFF_DATA_MAX ||
	    n != sizeof(struct handoff_msg) + data_len) {
		*why = "handoff: size differs from the pipelined bytes";
		return -1;
	}
	memcpy(&facts, (const uint8_t *)msg + offsetof(struct handoff_msg,
	    facts), sizeof(facts));
	if (facts.event != AUDIT_OPEN || auditlog_record_validate(&facts) != 0) {
		*why = "handoff: bad tunnel facts";
		return -1;
	}
	/* A copy for alignment; it holds keys, so it does not outlive the check. */
	memcpy(&st, (const uint8_t *)msg + offsetof(struct handoff_msg, tls),
	    sizeof(st));
	r = tls_state_validate(&st, err, sizeof(err));
	explicit_bzero(&st, sizeof(st));
	if (r != 0)
		*why = err;
	return r;
}

static const struct msg_type handoff_types[] = {
	{ HANDOFF_TUNNEL, "tunnel", sizeof(struct handoff_msg), HANDOFF_MSG_MAX,
	  MSG_GATE, MSG_RELAY, 2, 2, handoff_check },
};

const struct msg_proto handoff_proto = {
	"handoff", HANDOFF_PROTO_VERSION, handoff_types,
	sizeof(handoff_types) / sizeof(handoff_types[0])
};
