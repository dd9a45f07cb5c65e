/*
 * The auth protocol's table on arbitrary bytes, as an authenticator receives
 * them from a possibly compromised gate worker (and a gate worker from an
 * authenticator), with none, one or two descriptors attached. Besides memory
 * errors, abort when an accepted message breaks what its receiver then
 * relies on: the direction of its type, exact size, terminated strings, a
 * target, a verdict in range, a descriptor only with an allow.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(int cond)
{
	if (!cond)
		abort();
}

static void
check_str(const char *s, size_t size)
{
	check(strnlen(s, size) < size);
}

static void
check_request(const uint8_t *data, size_t size)
{
	static struct auth_request	 r;

	check(size >= AUTH_REQUEST_MIN && size <= sizeof(r));
	memset(&r, 0, sizeof(r));
	memcpy(&r, data, size);
	check(r.chain_len <= TG_MAX_CLIENT_CHAIN_BYTES &&
	    size == AUTH_REQUEST_SIZE(&r));
	check(r.listener < TG_MAX_LISTENERS);
	check_str(r.user, sizeof(r.user));
	check_str(r.password, sizeof(r.password));
	check_str(r.host, sizeof(r.host));
	check_str(r.client, sizeof(r.client));
	check_str(r.tls_version, sizeof(r.tls_version));
	check_str(r.tls_cipher, sizeof(r.tls_cipher));
	check(r.port != 0 && r.host[0] != '\0');
}

static void
check_reply(const uint8_t *data)
{
	struct auth_reply	 r;

	memcpy(&r, data, sizeof(r));
	check(r.verdict >= AUTH_ALLOW && r.verdict <= AUTH_VERDICT_MAX);
	check_str(r.rule, sizeof(r.rule));
	check_str(r.resolved, sizeof(r.resolved));
	check_str(r.reason, sizeof(r.reason));
	check_str(r.user, sizeof(r.user));
	check(auth_verdict_status(r.verdict) != 503 ||
	    r.verdict == AUTH_UNAVAILABLE);
}

static void
check_one(const uint8_t *data, size_t size, size_t nfds, unsigned from,
    unsigned to)
{
	const struct msg_type	*t;
	struct auth_msg_hdr	 hdr;
	const char		*why = NULL;
	uint32_t		 verdict;

	t = msg_validate(&auth_proto, data, size, nfds, from, to, &why);
	if (t == NULL) {
		check(why != NULL);
		return;
	}
	check(size >= sizeof(hdr) && size < AUTH_MSG_BUF);
	memcpy(&hdr, data, sizeof(hdr));
	check(hdr.h.version == AUTH_PROTO_VERSION && hdr.h.size == size &&
	    hdr.h.type == t->type);
	switch (t->type) {
	case AUTH_MSG_REQUEST:
		check(from == MSG_GATE && to == MSG_AUTH && nfds == 0);
		check_request(data, size);
		break;
	case AUTH_MSG_TAKEN:
		check(from == MSG_AUTH && to == MSG_GATE && nfds == 0);
		check(size == sizeof(struct auth_taken));
		break;
	case AUTH_MSG_REPLY:
		check(from == MSG_AUTH && to == MSG_GATE && nfds <= 1);
		check(size == sizeof(struct auth_reply));
		check_reply(data);
		memcpy(&verdict, data + offsetof(struct auth_reply, verdict),
		    sizeof(verdict));
		check(nfds == 0 || verdict == AUTH_ALLOW);
		break;
	default:
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned	 roles[] = {
		MSG_MASTER, MSG_AUTH, MSG_GATE, MSG_RELAY
	};

	for (size_t f = 0; f < 4; f++)
		for (size_t t = 0; t < 4; t++)
			for (size_t nfds = 0; nfds <= 2; nfds++)
				check_one(data, size, nfds, roles[f], roles[t]);
	return 0;
}
