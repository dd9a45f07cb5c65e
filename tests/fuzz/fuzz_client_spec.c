/*
 * The client's -L [ADDR:]PORT:TARGET:PORT parser and its number options.
 * The Makefile links only daemon sources into fuzz targets, so the client
 * sources are compiled into this file.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* cli_spec.c calls the library's target check; both files have a static
 * valid_port, so the library's is renamed here. */
#define valid_port	libtg_valid_port
#include "../../src/client/libtg_http.c"
#undef valid_port
#include "../../src/client/cli_spec.c"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		 text[1024], err[256];
	struct forward	 f;
	unsigned int	 ms;
	unsigned long	 n;

	if (size >= sizeof(text))
		size = sizeof(text) - 1;
	memcpy(text, data, size);
	text[size] = '\0';
	memset(&f, 0, sizeof(f));
	if (cli_parse_forward(text, &f, err, sizeof(err)) == 0 &&
	    (memchr(f.target, '\0', sizeof(f.target)) == NULL ||
	    memchr(f.bind_port, '\0', sizeof(f.bind_port)) == NULL))
		abort();
	cli_parse_seconds(text, &ms);
	cli_parse_count(text, 1, 1000, &n);
	return 0;
}
