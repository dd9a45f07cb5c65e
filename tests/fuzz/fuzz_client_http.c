/*
 * The client's parsers of the gateway's answer head (tg_parse_head) and of
 * host:port, target and user text. The Makefile links only daemon sources
 * into fuzz targets, so the client source is compiled into this file.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/client/libtg_http.c"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	 text[4096], host[512], port[16], reason[256];
	size_t	 headlen = 0;
	int	 status = 0;

	if (size >= sizeof(text))
		size = sizeof(text) - 1;
	memcpy(text, data, size);
	text[size] = '\0';
	if (tg_parse_head(text, size, &headlen, &status, reason,
	    sizeof(reason)) > 0 && (headlen > size || status < 100 ||
	    status > 599 || strlen(reason) >= sizeof(reason)))
		abort();
	tg_split_hostport(text, host, sizeof(host), port, sizeof(port), "443");
	tg_valid_target(text);
	tg_valid_user(text);
	tg_sanitize(text);
	return 0;
}
