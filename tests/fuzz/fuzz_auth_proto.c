/*
 * auth_msg_validate on arbitrary bytes, as the authenticator receives them
 * from a possibly compromised gate worker. Besides memory errors, abort when
 * an accepted message breaks what the authenticator then relies on: exact
 * size, terminated strings, a target, a verdict in range.
 */
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
check_request(const uint8_t *data)
{
	struct auth_request	 r;

	memcpy(&r, data, sizeof(r));
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
	check(auth_verdict_status(r.verdict) != 503 ||
	    r.verdict == AUTH_UNAVAILABLE);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct auth_msg_hdr	 hdr;
	const char		*why = NULL;
	int			 type;

	type = auth_msg_validate(data, size, &why);
	if (type == -1) {
		check(why != NULL);
		return 0;
	}
	check(size >= sizeof(hdr));
	memcpy(&hdr, data, sizeof(hdr));
	check(hdr.version == AUTH_PROTO_VERSION && hdr.size == size &&
	    hdr.type == type);
	switch (type) {
	case AUTH_MSG_REQUEST:
		check(size == sizeof(struct auth_request));
		check_request(data);
		break;
	case AUTH_MSG_TAKEN:
		check(size == sizeof(struct auth_taken));
		break;
	case AUTH_MSG_REPLY:
		check(size == sizeof(struct auth_reply));
		check_reply(data);
		break;
	default:
		abort();
	}
	return 0;
}
