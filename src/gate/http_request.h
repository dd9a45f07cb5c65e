/*
 * The CONNECT request a client sends over TLS, and the Basic credentials in
 * it. Pure functions over bytes: no I/O, no allocation.
 */
#ifndef TG_HTTP_REQUEST_H
#define TG_HTTP_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#define HTTP_HOST_MAX		255
#define HTTP_CRED_MAX		255

/* Parser results: positive values are the HTTP status to answer with. */
#define HTTP_PARSE_OK		0
#define HTTP_PARSE_INCOMPLETE	-1

struct http_request {
	char		 host[HTTP_HOST_MAX + 1];	/* no [] for IPv6 */
	uint16_t	 port;
	int		 minor_version;		/* HTTP/1.x */
	int		 has_credentials;	/* a Basic Proxy-Authorization header */
	char		 user[HTTP_CRED_MAX + 1];
	char		 password[HTTP_CRED_MAX + 1];
	size_t		 header_len;		/* bytes up to and including the empty line */
};

/*
 * Where parsing a request stopped: zeroed before its first byte arrives,
 * then passed to each http_request_resume() call with the same bytes
 * before st->next. Offsets into the request, none of them a secret.
 */
struct http_parse {
	size_t		 next;		/* the first line not parsed yet */
	size_t		 scanned;	/* no LF in [next, scanned) */
	size_t		 line_off;	/* the request line; line_len 0: not yet */
	size_t		 line_len;
	size_t		 auth_off;	/* Proxy-Authorization's value; 0: none */
	size_t		 auth_len;
};

/*
 * Parse the request at the start of p[0..len). Returns HTTP_PARSE_OK with
 * req filled (bytes after header_len are tunnel data the client pipelined),
 * HTTP_PARSE_INCOMPLETE when the empty line has not arrived yet and len <
 * max_header, or an HTTP status: 400 malformed, 405 not CONNECT,
 * 431 header block reaches max_header without its end.
 */
int	 http_request_parse(const uint8_t *p, size_t len, size_t max_header,
	    struct http_request *req);
/*
 * The same, for a request that arrives in pieces: each call parses only
 * the lines completed since the last one (st), so a request sent one byte
 * at a time costs the same as one sent whole. Once it returns anything but
 * HTTP_PARSE_INCOMPLETE, st is spent.
 */
int	 http_request_resume(const uint8_t *p, size_t len, size_t max_header,
	    struct http_parse *st, struct http_request *req);

/*
 * Decode the value of a Proxy-Authorization header ("Basic <b64>") into
 * user and password. Returns 0, or -1 if not Basic, not valid base64, no
 * colon, a NUL or control byte, or a part over HTTP_CRED_MAX.
 */
int	 http_basic_decode(const char *value, size_t len,
	    char user[HTTP_CRED_MAX + 1], char password[HTTP_CRED_MAX + 1]);

/* Wipe the credentials in req with a store the compiler keeps. */
void	 http_request_wipe(struct http_request *req);

#endif
