#include <string.h>

#include "metrics_http.h"
#include "tg_limits.h"

#define METRICS_PATH	"/metrics"

/* The end of the headers: a blank line, with or without CRs. */
static const char *
metrics_http_end(const char *buf, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++) {
		if (buf[i] != '\n')
			continue;
		if (buf[i + 1] == '\n' || (buf[i + 1] == '\r' && i + 2 < n &&
		    buf[i + 2] == '\n'))
			return buf + i;
	}
	return NULL;
}

static int
metrics_http_version(const char *v, size_t len)
{
	return (len == 8 || (len == 9 && v[8] == '\r')) &&
	    memcmp(v, "HTTP/1.", 7) == 0 && (v[7] == '0' || v[7] == '1');
}

enum metrics_req
metrics_http_parse(const char *buf, size_t n)
{
	const char	*line_end, *sp1, *sp2;
	size_t		 line;

	if (memchr(buf, '\0', n) != NULL)
		return METRICS_REQ_BAD;
	if (metrics_http_end(buf, n) == NULL)
		return n >= TG_METRICS_REQUEST_MAX ? METRICS_REQ_TOO_LARGE :
		    METRICS_REQ_INCOMPLETE;
	line_end = memchr(buf, '\n', n);
	line = (size_t)(line_end - buf);
	/* METHOD SP PATH SP VERSION */
	if ((sp1 = memchr(buf, ' ', line)) == NULL || sp1 == buf ||
	    (sp2 = memchr(sp1 + 1, ' ', (size_t)(line_end - sp1 - 1))) ==
	    NULL || sp2 == sp1 + 1 ||
	    !metrics_http_version(sp2 + 1, (size_t)(line_end - sp2 - 1)))
		return METRICS_REQ_BAD;
	if ((size_t)(sp1 - buf) != 3 || memcmp(buf, "GET", 3) != 0)
		return METRICS_REQ_METHOD;
	if ((size_t)(sp2 - sp1 - 1) != strlen(METRICS_PATH) ||
	    memcmp(sp1 + 1, METRICS_PATH, strlen(METRICS_PATH)) != 0)
		return METRICS_REQ_NOT_FOUND;
	return METRICS_REQ_METRICS;
}

const char *
metrics_http_status(enum metrics_req r)
{
	switch (r) {
	case METRICS_REQ_NOT_FOUND:
		return "404 Not Found";
	case METRICS_REQ_METHOD:
		return "405 Method Not Allowed";
	case METRICS_REQ_TOO_LARGE:
		return "431 Request Header Fields Too Large";
	case METRICS_REQ_METRICS:
		return "200 OK";
	case METRICS_REQ_INCOMPLETE:
	case METRICS_REQ_BAD:
		break;
	}
	return "400 Bad Request";
}
