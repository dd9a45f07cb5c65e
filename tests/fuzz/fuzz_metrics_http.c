/*
 * The metrics child's request reader (src/metrics/metrics_http.c), fed
 * what a local user's connection may send. Besides memory errors, abort
 * unless: the answer never depends on bytes past those given; a request
 * is incomplete only while it is shorter than TG_METRICS_REQUEST_MAX and
 * has no blank line; GET /metrics is recognised only with its exact
 * request line; and every result has a status line.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "metrics_http.h"
#include "tg_limits.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(int cond)
{
	if (!cond)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char			*copy;
	enum metrics_req	 r, again;
	const char		*status;

	/* An exact-size copy, so ASan sees any read past the end. */
	if ((copy = malloc(size + 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	r = metrics_http_parse(copy, size);
	status = metrics_http_status(r);
	check(status != NULL && strlen(status) > 4 && status[3] == ' ');
	if (r == METRICS_REQ_INCOMPLETE)
		check(size < TG_METRICS_REQUEST_MAX);
	if (r == METRICS_REQ_METRICS)
		check(size >= 23 && memcmp(copy, "GET /metrics HTTP/1.", 20) == 0);
	/* Bytes after the end of the headers change nothing. */
	if (r != METRICS_REQ_INCOMPLETE && r != METRICS_REQ_TOO_LARGE &&
	    r != METRICS_REQ_BAD) {
		copy[size] = 'x';
		again = metrics_http_parse(copy, size + 1);
		check(again == r || again == METRICS_REQ_TOO_LARGE);
	}
	free(copy);
	return 0;
}
