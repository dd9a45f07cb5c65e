/*
 * The PROXY protocol header parser on arbitrary bytes. Besides memory
 * errors, abort on any result that breaks the documented contract.
 */
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy_proto.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(int cond)
{
	if (!cond)
		abort();
}

static void
fuzz_parse(const uint8_t *data, size_t size, unsigned versions)
{
	struct proxy_header	 h, again;
	const char		*why;
	int			 r;

	r = proxy_parse(data, size, versions, &h, &why);
	check(why != NULL);
	if (r == PROXY_PARSE_INCOMPLETE) {
		check(size < TG_PROXY_MAX_BYTES);
		return;
	}
	if (r == PROXY_PARSE_BAD) {
		check(why[0] != '\0');
		return;
	}
	check(r == PROXY_PARSE_OK);
	check(h.len > 0 && h.len <= size);
	check(h.version == 1 ? (versions & PROXY_V1) && h.len <=
	    TG_PROXY_V1_MAX_BYTES : h.version == 2 && (versions & PROXY_V2) &&
	    h.len <= TG_PROXY_V2_MAX_BYTES);
	if (h.local)
		check(h.src.ss_family == 0 && h.dst.ss_family == 0);
	else
		check((h.src.ss_family == AF_INET ||
		    h.src.ss_family == AF_INET6) &&
		    h.dst.ss_family == h.src.ss_family);
	/* Bytes after the header must not change the result. */
	check(proxy_parse(data, h.len, versions, &again, &why) ==
	    PROXY_PARSE_OK);
	check(memcmp(&h, &again, sizeof(h)) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_parse(data, size, PROXY_ANY);
	fuzz_parse(data, size, PROXY_V1);
	fuzz_parse(data, size, PROXY_V2);
	return 0;
}
