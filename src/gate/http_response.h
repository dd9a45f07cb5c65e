/* The few responses the gateway ever sends: it never proxies HTTP. */
#ifndef TG_HTTP_RESPONSE_H
#define TG_HTTP_RESPONSE_H

#include <stddef.h>

/*
 * Format the response for status into out. 407 carries Proxy-Authenticate
 * with realm, 405 carries Allow: CONNECT, errors close the connection.
 * Returns the length, or 0 for an unknown status or a short buffer.
 */
size_t	 http_response_format(int status, const char *realm, char *out,
	    size_t outlen);

/* Plaintext answer to plaintext HTTP sent to the TLS port. */
extern const char http_response_plaintext_400[];

#endif
