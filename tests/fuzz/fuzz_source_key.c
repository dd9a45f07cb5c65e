/*
 * The client address an authenticator reads from a gate worker's request
 * (and a gate worker from its own facts) as the source that limits and
 * throttling count: source_key_parse(). The first byte is the IPv6 prefix.
 * Besides memory errors, abort unless every accepted address has a
 * terminated label that names it again: an IPv4 address as itself, an
 * IPv6 prefix as that prefix with no host bits left.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/master/audit.c"
#include "../../src/master/fs_check.c"
#include "../../src/master/fs_check_pam.c"
#include "../../src/master/fs_check_scan.c"
#include "../../src/common/conn_facts.c"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(int ok)
{
	if (!ok)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char			 text[256], again[sizeof(text) + 8], *slash;
	struct source_key	 k, k2;
	unsigned		 prefix;

	if (size < 1)
		return 0;
	prefix = data[0] % 140;
	size--;
	if (size >= sizeof(text))
		size = sizeof(text) - 1;
	memcpy(text, data + 1, size);
	text[size] = '\0';
	if (source_key_parse(text, prefix, &k) != 0)
		return 0;
	check(memchr(k.label, '\0', sizeof(k.label)) != NULL);
	if (k.v4) {
		snprintf(again, sizeof(again), "%s:1", k.label);
		check(source_key_parse(again, prefix, &k2) == 0 && k2.v4);
		check(memcmp(k.addr, k2.addr, sizeof(k.addr)) == 0);
		return 0;
	}
	check((slash = strchr(k.label, '/')) != NULL);
	*slash = '\0';
	snprintf(again, sizeof(again), "[%s]:1", k.label);
	check(source_key_parse(again, prefix, &k2) == 0 && !k2.v4);
	check(memcmp(k.addr, k2.addr, sizeof(k.addr)) == 0);
	return 0;
}
