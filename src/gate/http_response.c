#include <stdio.h>

#include "http_response.h"

static const struct {
	int		 status;
	const char	*reason;
} http_statuses[] = {
	{ 200, "Connection established" },
	{ 400, "Bad Request" },
	{ 403, "Forbidden" },
	{ 405, "Method Not Allowed" },
	{ 407, "Proxy Authentication Required" },
	{ 408, "Request Timeout" },
	{ 429, "Too Many Requests" },
	{ 431, "Request Header Fields Too Large" },
	{ 502, "Bad Gateway" },
	{ 503, "Service Unavailable" },
	{ 504, "Gateway Timeout" },
};

const char http_response_plaintext_400[] =
    "HTTP/1.1 400 Bad Request\r\n"
    "Content-Type: text/plain\r\n"
    "Connection: close\r\n"
    "Content-Length: 61\r\n"
    "\r\n"
    "This port speaks TLS: use an https:// proxy URL to connect.\r\n";

size_t
http_response_format(int status, const char *realm, char *out, size_t outlen)
{
	const char	*reason = NULL;
	int		 n;

	for (size_t i = 0; i < sizeof(http_statuses) / sizeof(http_statuses[0]); i++)
		if (http_statuses[i].status == status)
			reason = http_statuses[i].reason;
	if (reason == NULL)
		return 0;
	if (status == 200)
		n = snprintf(out, outlen, "HTTP/1.1 200 %s\r\n\r\n", reason);
	else
		n = snprintf(out, outlen, "HTTP/1.1 %d %s\r\n%s%s%s%s"
		    "Connection: close\r\nContent-Length: 0\r\n\r\n",
		    status, reason,
		    status == 405 ? "Allow: CONNECT\r\n" : "",
		    status == 407 ? "Proxy-Authenticate: Basic realm=\"" : "",
		    status == 407 ? realm : "",
		    status == 407 ? "\"\r\n" : "");
	if (n < 0 || (size_t)n >= outlen)
		return 0;
	return (size_t)n;
}
