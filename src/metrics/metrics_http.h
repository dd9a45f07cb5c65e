/*
 * The metrics child's HTTP request reader: one request per connection,
 * the request line and headers only (a GET has no body), at most
 * TG_METRICS_REQUEST_MAX bytes. Untrusted input: fuzzed by
 * tests/fuzz/fuzz_metrics_http.c.
 */
#ifndef TG_METRICS_HTTP_H
#define TG_METRICS_HTTP_H

#include <stddef.h>

enum metrics_req {
	METRICS_REQ_INCOMPLETE,	/* read more */
	METRICS_REQ_METRICS,	/* GET /metrics */
	METRICS_REQ_NOT_FOUND,	/* GET of another path */
	METRICS_REQ_METHOD,	/* a method other than GET */
	METRICS_REQ_BAD,	/* not an HTTP/1.x request */
	METRICS_REQ_TOO_LARGE,	/* no end of headers within the limit */
};

/* What the n bytes read so far are. */
enum metrics_req metrics_http_parse(const char *buf, size_t n);
/* The status line and reason for a request that is not METRICS_REQ_METRICS. */
const char	*metrics_http_status(enum metrics_req);

#endif
