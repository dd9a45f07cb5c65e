/*
 * CONNECT request parser and Basic credential decoding.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "http_request.h"

#define MAXHDR	8192

/* An exactly sized heap copy, so ASan sees any read past len. */
static uint8_t *
copy_n(const void *s, size_t n)
{
	uint8_t	*p;

	p = malloc(n == 0 ? 1 : n);
	assert_non_null(p);
	memcpy(p, s, n);
	return p;
}

/*
 * The same bytes arriving one at a time, as a client that sends one byte
 * per TLS record makes them: http_request_resume() on each longer prefix
 * must end as one parse of them all does.
 */
static void
resume_agrees(const void *s, size_t n, size_t max, int r,
    const struct http_request *whole)
{
	struct http_parse	 st;
	struct http_request	 req;
	uint8_t			*p;
	size_t			 k;
	int			 got = HTTP_PARSE_INCOMPLETE;

	memset(&st, 0, sizeof(st));
	for (k = 1; k <= n && got == HTTP_PARSE_INCOMPLETE; k++) {
		p = copy_n(s, k);
		got = http_request_resume(p, k, max, &st, &req);
		free(p);
	}
	if (n == 0)
		got = http_request_resume(s, 0, max, &st, &req);
	if (got != r) {
		print_error("request \"%.*s\" in pieces: got %d, whole %d\n",
		    (int)n, (const char *)s, got, r);
		fail();
	}
	assert_memory_equal(&req, whole, sizeof(req));
}

static int
parse_n(const void *s, size_t n, size_t max, struct http_request *req)
{
	uint8_t	*p = copy_n(s, n);
	int	 r;

	r = http_request_parse(p, n, max, req);
	free(p);
	resume_agrees(s, n, max, r, req);
	return r;
}

static int
parse(const char *s, struct http_request *req)
{
	return parse_n(s, strlen(s), MAXHDR, req);
}

static void
expect_status_n(const char *raw, size_t n, int want)
{
	struct http_request	 req;
	int			 r;

	if ((r = parse_n(raw, n, MAXHDR, &req)) != want) {
		print_error("request \"%.*s\": got %d, want %d\n", (int)n, raw,
		    r, want);
		fail();
	}
}

/* For literals with an embedded NUL. */
#define EXPECT_STATUS_LIT(lit, want) \
	expect_status_n((lit), sizeof(lit) - 1, (want))

static void
expect_status(const char *raw, int want)
{
	expect_status_n(raw, strlen(raw), want);
}

/* CONNECT <authority> HTTP/1.1, parsed with the given expected status. */
static void
expect_authority(const char *authority, int want)
{
	char	 raw[1024];
	int	 n;

	n = snprintf(raw, sizeof(raw), "CONNECT %s HTTP/1.1\r\n\r\n",
	    authority);
	assert_true(n > 0 && (size_t)n < sizeof(raw));
	expect_status(raw, want);
}

static void
expect_host_port(const char *authority, const char *host, uint16_t port)
{
	struct http_request	 req;
	char			 raw[1024];
	int			 n, r;

	n = snprintf(raw, sizeof(raw), "CONNECT %s HTTP/1.1\r\n\r\n",
	    authority);
	assert_true(n > 0 && (size_t)n < sizeof(raw));
	if ((r = parse(raw, &req)) != HTTP_PARSE_OK) {
		print_error("authority \"%s\": got %d\n", authority, r);
		fail();
	}
	assert_string_equal(req.host, host);
	assert_int_equal(req.port, port);
}

static void
b64_encode(const uint8_t *in, size_t n, char *out)
{
	static const char	 a[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint32_t		 v;
	size_t			 i;

	for (i = 0; i < n; i += 3) {
		v = (uint32_t)in[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		*out++ = a[v >> 18 & 63];
		*out++ = a[v >> 12 & 63];
		*out++ = i + 1 < n ? a[v >> 6 & 63] : '=';
		*out++ = i + 2 < n ? a[v & 63] : '=';
	}
	*out = '\0';
}

static int
all_zero(const void *p, size_t n)
{
	const uint8_t	*b = p;
	size_t		 i;

	for (i = 0; i < n; i++)
		if (b[i] != 0)
			return 0;
	return 1;
}

/* Decode value; on failure both outputs must be entirely wiped. */
static int
decode(const char *value, char *user, char *pass)
{
	int	 r;

	memset(user, 'X', HTTP_CRED_MAX + 1);
	memset(pass, 'X', HTTP_CRED_MAX + 1);
	r = http_basic_decode(value, strlen(value), user, pass);
	if (r != 0) {
		assert_int_equal(r, -1);
		assert_true(all_zero(user, HTTP_CRED_MAX + 1));
		assert_true(all_zero(pass, HTTP_CRED_MAX + 1));
	}
	return r;
}

static void
test_minimal_request_parses(void **state)
{
	const char		*raw =
	    "CONNECT example.com:443 HTTP/1.1\r\n\r\n";
	struct http_request	 req;

	(void)state;
	assert_int_equal(parse(raw, &req), HTTP_PARSE_OK);
	assert_string_equal(req.host, "example.com");
	assert_int_equal(req.port, 443);
	assert_int_equal(req.minor_version, 1);
	assert_int_equal(req.has_credentials, 0);
	assert_int_equal(req.header_len, strlen(raw));
}

static void
test_http10_with_ignored_headers(void **state)
{
	const char		*raw = "CONNECT db.internal:5432 HTTP/1.0\r\n"
	    "Host: db.internal:5432\r\nUser-Agent: curl/7.88.1\r\n"
	    "Proxy-Connection: Keep-Alive\r\nX-Empty:\r\nX-Tab:\ta\tb\r\n\r\n";
	struct http_request	 req;

	(void)state;
	assert_int_equal(parse(raw, &req), HTTP_PARSE_OK);
	assert_string_equal(req.host, "db.internal");
	assert_int_equal(req.port, 5432);
	assert_int_equal(req.minor_version, 0);
	assert_int_equal(req.header_len, strlen(raw));
}

static void
test_bare_lf_and_mixed_endings(void **state)
{
	const char		*lf = "CONNECT h:22 HTTP/1.1\nHost: h:22\n\n";
	const char		*mixed =
	    "CONNECT h:22 HTTP/1.1\r\nHost: h\n\r\n";
	struct http_request	 req;

	(void)state;
	assert_int_equal(parse(lf, &req), HTTP_PARSE_OK);
	assert_int_equal(req.header_len, strlen(lf));
	assert_string_equal(req.host, "h");
	assert_int_equal(parse(mixed, &req), HTTP_PARSE_OK);
	assert_int_equal(req.header_len, strlen(mixed));
}

static void
test_ipv6_and_ipv4_authority(void **state)
{
	(void)state;
	expect_host_port("[::1]:22", "::1", 22);
	expect_host_port("[2001:db8::1]:443", "2001:db8::1", 443);
	expect_host_port("[::ffff:192.0.2.1]:8443", "::ffff:192.0.2.1", 8443);
	expect_host_port("192.0.2.1:3389", "192.0.2.1", 3389);
}

static void
test_dns_names(void **state)
{
	char	 label63[64], host[300];

	(void)state;
	expect_host_port("Example.COM.:80", "Example.COM.", 80);
	expect_host_port("_srv.my-host.example:1", "_srv.my-host.example", 1);
	expect_host_port("1e100.net:443", "1e100.net", 443);

	memset(label63, 'a', 63);
	label63[63] = '\0';
	snprintf(host, sizeof(host), "%s.%s.%s.%s:22", label63, label63,
	    label63, label63);
	/* 4 * 63 + 3 dots = 255, the longest allowed. */
	expect_authority(host, HTTP_PARSE_OK);
	snprintf(host, sizeof(host), "%s.%s.%s.%s.:22", label63, label63,
	    label63, label63);
	expect_authority(host, 400);
	snprintf(host, sizeof(host), "%sb.example:22", label63);
	expect_authority(host, 400);
}

static void
test_ports(void **state)
{
	(void)state;
	expect_host_port("h:1", "h", 1);
	expect_host_port("h:65535", "h", 65535);
	/* Leading zeros are decimal, never octal. */
	expect_host_port("h:022", "h", 22);
	expect_host_port("h:00443", "h", 443);
	expect_authority("h:0", 400);
	expect_authority("h:00000", 400);
	expect_authority("h:65536", 400);
	expect_authority("h:99999", 400);
	expect_authority("h:123456", 400);
	expect_authority("h:000022", 400);
	expect_authority("h:+22", 400);
	expect_authority("h:-1", 400);
	expect_authority("h:022x", 400);
	expect_authority("h:0x16", 400);
	expect_authority("h:22:22", 400);
	expect_authority("[::1]:+22", 400);
	expect_authority("[::1]:65536", 400);
}

static void
test_malformed_authority_400(void **state)
{
	static const char	*bad[] = {
		"example.com", "example.com:", ":443", "[::1]", "[::1]:",
		"[]:22", "[::1]22", "[::1]]:22", "[zz::1]:22", "[::1%eth0]:22",
		"[192.0.2.1]:22", "[::1:22", "::1:22", "2001:db8::1:443",
		"user@example.com:443", "user:pw@example.com:443",
		"https://example.com:443", "example.com:443/", "/path",
		"example.com:443?q", "exa%6dple.com:443", "ex..ample.com:22",
		".example.com:22", "..:22", ".:22", "exa*mple:22",
		/* Numeric forms that inet_aton would turn into an address. */
		"127.1:22", "2130706433:22", "0x7f.0.0.1:22", "0x7f000001:22",
		"0x:22", "127.0.0.1.:22", "1.2.3.4.5:22", "256.1.1.1:22",
		"01.2.3.4:22", "example.123:22",
	};
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_authority(bad[i], 400);
}

static void
test_request_line_spacing_400(void **state)
{
	(void)state;
	expect_status("CONNECT  h:22 HTTP/1.1\r\n\r\n", 400);
	expect_status("CONNECT h:22  HTTP/1.1\r\n\r\n", 400);
	expect_status("CONNECT h:22 HTTP/1.1 \r\n\r\n", 400);
	expect_status(" CONNECT h:22 HTTP/1.1\r\n\r\n", 400);
	expect_status("CONNECT\th:22 HTTP/1.1\r\n\r\n", 400);
	expect_status("CONNECT h:22\tHTTP/1.1\r\n\r\n", 400);
	expect_status("CONNECT h :22 HTTP/1.1\r\n\r\n", 400);
	expect_status("CONNECT h:22 HTTP/1.1 x\r\n\r\n", 400);
	expect_status("CONNECT h:22\r\n\r\n", 400);
	expect_status("CONNECT\r\n\r\n", 400);
	expect_status("\r\n\r\n", 400);
	expect_status("CONNECT h:2\x01" "2 HTTP/1.1\r\n\r\n", 400);
	expect_status("CONNECT h:22 HTTP/1.1\r\r\n\r\n", 400);
	EXPECT_STATUS_LIT("CONNECT h:22\0 HTTP/1.1\r\n\r\n", 400);
}

static void
test_bad_version_400(void **state)
{
	static const char	*bad[] = {
		"HTTP/1.2", "HTTP/2.0", "HTTP/0.9", "HTTP/1.10", "HTTP/1.1x",
		"HTTP/1", "HTTP/1.", "http/1.1", "HTTP/11", "HTTPS/1.1", "",
	};
	char			 raw[128];
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(raw, sizeof(raw), "CONNECT h:22 %s\r\n\r\n", bad[i]);
		expect_status(raw, 400);
	}
}

static void
test_other_methods_405(void **state)
{
	struct http_request	 req;

	(void)state;
	expect_status("GET / HTTP/1.1\r\nHost: h\r\n\r\n", 405);
	expect_status("POST /login HTTP/1.0\r\n\r\n", 405);
	expect_status("GET http://example.com/ HTTP/1.1\r\n\r\n", 405);
	expect_status("connect example.com:443 HTTP/1.1\r\n\r\n", 405);
	expect_status("Connect example.com:443 HTTP/1.1\r\n\r\n", 405);
	expect_status("CONNECTX example.com:443 HTTP/1.1\r\n\r\n", 405);
	/* 405 needs a well-formed request line first. */
	expect_status("GET / HTTP/2.0\r\n\r\n", 400);
	expect_status("G(T / HTTP/1.1\r\n\r\n", 400);
	/* Decided on the request line alone, before the headers arrive. */
	memset(&req, 'X', sizeof(req));
	assert_int_equal(parse("GET / HTTP/1.1\r\n", &req), 405);
	assert_true(all_zero(&req, sizeof(req)));
}

static void
test_header_syntax_400(void **state)
{
	(void)state;
	expect_status("CONNECT h:22 HTTP/1.1\r\nHost: h\r\n  folded\r\n\r\n",
	    400);
	expect_status("CONNECT h:22 HTTP/1.1\r\nX-A: a\r\n\tfolded\r\n\r\n",
	    400);
	expect_status("CONNECT h:22 HTTP/1.1\r\n Host: h\r\n\r\n", 400);
	expect_status("CONNECT h:22 HTTP/1.1\r\nNoColonHere\r\n\r\n", 400);
	expect_status("CONNECT h:22 HTTP/1.1\r\nHost : h\r\n\r\n", 400);
	expect_status("CONNECT h:22 HTTP/1.1\r\n: value\r\n\r\n", 400);
	expect_status("CONNECT h:22 HTTP/1.1\r\nX(A): v\r\n\r\n", 400);
	expect_status("CONNECT h:22 HTTP/1.1\nX-A: v\r\r\n\r\n", 400);
	expect_status("CONNECT h:22 HTTP/1.1\r\nX-A: a\rb\r\n\r\n", 400);
	expect_status("CONNECT h:22 HTTP/1.1\r\nX-A: a\x01" "b\r\n\r\n", 400);
	expect_status("CONNECT h:22 HTTP/1.1\r\nX-A: a\x7f" "b\r\n\r\n", 400);
	expect_status("CONNECT h:22 HTTP/1.1\r\nX\x7f: v\r\n\r\n", 400);
	expect_status("CONNECT h:22 HTTP/1.1\r\n\r\r\n\r\n", 400);
	EXPECT_STATUS_LIT("CONNECT h:22 HTTP/1.1\r\nX-A: a\0b\r\n\r\n", 400);
	EXPECT_STATUS_LIT("CONNECT h:22 HTTP/1.1\r\nX\0A: ab\r\n\r\n", 400);
	/* Bytes >= 0x80 are obs-text and allowed in values. */
	expect_status("CONNECT h:22 HTTP/1.1\r\nX-A: caf\xc3\xa9\r\n\r\n",
	    HTTP_PARSE_OK);
}

static void
test_duplicate_proxy_authorization_400(void **state)
{
	(void)state;
	expect_status("CONNECT h:22 HTTP/1.1\r\n"
	    "Proxy-Authorization: Basic dXNlcjpwYXNz\r\n"
	    "Proxy-Authorization: Basic dXNlcjpwYXNz\r\n\r\n", 400);
	expect_status("CONNECT h:22 HTTP/1.1\r\n"
	    "Proxy-Authorization: Basic dXNlcjpwYXNz\r\nHost: h\r\n"
	    "PROXY-AUTHORIZATION: Bearer x\r\n\r\n", 400);
	expect_status("CONNECT h:22 HTTP/1.1\r\n"
	    "proxy-authorization:\r\nProxy-Authorization:\r\n\r\n", 400);
}

static void
test_pipelined_bytes_not_interpreted(void **state)
{
	const char		 hdr[] = "CONNECT ssh.example:22 HTTP/1.1\r\n"
	    "Proxy-Authorization: Basic dXNlcjpwYXNz\r\n\r\n";
	const char		 tail[] =
	    "Proxy-Authorization: Basic YTpi\r\n"
	    "GET / HTTP/1.1\r\n\0\x01\xff\r\n\r\n";
	uint8_t			 raw[sizeof(hdr) + sizeof(tail) + 16000];
	struct http_request	 req;
	size_t			 hlen = sizeof(hdr) - 1, n;

	(void)state;
	memcpy(raw, hdr, hlen);
	memcpy(raw + hlen, tail, sizeof(tail));
	n = hlen + sizeof(tail);
	assert_int_equal(parse_n(raw, n, MAXHDR, &req), HTTP_PARSE_OK);
	assert_int_equal(req.header_len, hlen);
	assert_int_equal(req.has_credentials, 1);
	assert_string_equal(req.user, "user");
	assert_string_equal(req.password, "pass");

	/* Tunnel data beyond max_header does not make the header too large. */
	memset(raw + hlen, 'A', sizeof(raw) - hlen);
	assert_int_equal(parse_n(raw, sizeof(raw), MAXHDR, &req),
	    HTTP_PARSE_OK);
	assert_int_equal(req.header_len, hlen);
}

static void
test_incomplete_at_every_prefix(void **state)
{
	static const char	*reqs[] = {
		("CONNECT ssh.example:22 HTTP/1.1\r\nHost: ssh.example:22\r\n"
		    "Proxy-Authorization: Basic dXNlcjpwYXNz\r\n\r\n"),
		"CONNECT [::1]:22 HTTP/1.0\nUser-Agent: x\n\n",
		"\r\nCONNECT h:1 HTTP/1.1\r\n\r\n",
		"\nCONNECT h:1 HTTP/1.1\r\n\n",
	};
	struct http_request	 req;
	size_t			 i, k, n;
	int			 r;

	(void)state;
	for (i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		n = strlen(reqs[i]);
		for (k = 0; k < n; k++) {
			r = parse_n(reqs[i], k, MAXHDR, &req);
			if (r != HTTP_PARSE_INCOMPLETE) {
				print_error("request %zu prefix %zu: got %d\n",
				    i, k, r);
				fail();
			}
		}
		assert_int_equal(parse_n(reqs[i], n, MAXHDR, &req),
		    HTTP_PARSE_OK);
		assert_int_equal(req.header_len, n);
	}
}

static void
test_header_block_limit_431(void **state)
{
	const char		*raw = "CONNECT h:22 HTTP/1.1\r\n"
	    "X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
	char			 longline[200];
	struct http_request	 req;
	size_t			 n = strlen(raw);

	(void)state;
	/* The empty line ends exactly at max_header: still fine. */
	assert_int_equal(parse_n(raw, n, n, &req), HTTP_PARSE_OK);
	assert_int_equal(req.header_len, n);
	/* Its final LF one byte past max_header: too large. */
	assert_int_equal(parse_n(raw, n, n - 1, &req), 431);
	/* No end yet: incomplete below the limit, 431 once len reaches it. */
	assert_int_equal(parse_n(raw, n - 3, n - 2, &req),
	    HTTP_PARSE_INCOMPLETE);
	assert_int_equal(parse_n(raw, n - 2, n - 2, &req), 431);
	assert_int_equal(parse_n(raw, n - 1, n - 2, &req), 431);

	/* A request line longer than max_header. */
	memset(longline, 'a', sizeof(longline));
	memcpy(longline, "CONNECT ", 8);
	assert_int_equal(parse_n(longline, 63, 64, &req),
	    HTTP_PARSE_INCOMPLETE);
	assert_int_equal(parse_n(longline, 64, 64, &req), 431);
	assert_int_equal(parse_n(longline, sizeof(longline), 64, &req), 431);
	assert_int_equal(parse_n("", 0, 0, &req), 431);
}

static void
test_leading_empty_line(void **state)
{
	struct http_request	 req;

	(void)state;
	assert_int_equal(parse("\r\nCONNECT h:22 HTTP/1.1\r\n\r\n", &req),
	    HTTP_PARSE_OK);
	assert_int_equal(req.header_len, 27);
	expect_status("\nCONNECT h:22 HTTP/1.1\n\n", HTTP_PARSE_OK);
	expect_status("\r\n\r\nCONNECT h:22 HTTP/1.1\r\n\r\n", 400);
	expect_status("\n\nCONNECT h:22 HTTP/1.1\n\n", 400);
}

static void
test_proxy_authorization_in_request(void **state)
{
	struct http_request	 req;

	(void)state;
	/* The example of draft-luotonen §3.1, lowercase scheme and all. */
	assert_int_equal(parse("CONNECT home.netscape.com:443 HTTP/1.0\r\n"
	    "User-agent: Mozilla/4.0\r\n"
	    "Proxy-authorization: basic dGVzdDp0ZXN0\r\n\r\n", &req),
	    HTTP_PARSE_OK);
	assert_int_equal(req.has_credentials, 1);
	assert_string_equal(req.user, "test");
	assert_string_equal(req.password, "test");

	assert_int_equal(parse("CONNECT h:22 HTTP/1.1\r\n"
	    "PROXY-AUTHORIZATION:\t Basic   YWxpY2U6czNjcmV0 \t\r\n\r\n", &req),
	    HTTP_PARSE_OK);
	assert_int_equal(req.has_credentials, 1);
	assert_string_equal(req.user, "alice");
	assert_string_equal(req.password, "s3cret");
}

static void
test_unusable_credentials_are_none(void **state)
{
	static const char	*values[] = {
		"Bearer dXNlcjpwYXNz", "Digest username=\"user\", realm=\"r\"",
		"Basic", "Basic ", "", "Basic dXNlcjpwYXN",
		"Basic dXNlcnBhc3M=",
		"Basic\tdXNlcjpwYXNz", "Negotiate YIIB",
	};
	struct http_request	 req;
	char			 raw[256];
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		snprintf(raw, sizeof(raw), "CONNECT h:22 HTTP/1.1\r\n"
		    "Proxy-Authorization: %s\r\n\r\n", values[i]);
		memset(&req, 'X', sizeof(req));
		assert_int_equal(parse(raw, &req), HTTP_PARSE_OK);
		assert_int_equal(req.has_credentials, 0);
		assert_true(all_zero(req.user, sizeof(req.user)));
		assert_true(all_zero(req.password, sizeof(req.password)));
	}
}

static void
test_failure_leaves_no_credentials(void **state)
{
	struct http_request	 req;

	(void)state;
	assert_int_equal(parse("CONNECT h:22 HTTP/1.1\r\n"
	    "Proxy-Authorization: Basic dXNlcjpwYXNz\r\n\r\n", &req),
	    HTTP_PARSE_OK);
	assert_int_equal(req.has_credentials, 1);
	/* A later call on bad or partial input must not keep the old ones. */
	assert_int_equal(parse("CONNECT h:22 HTTP/1.1\r\n"
	    "Proxy-Authorization: Basic dXNlcjpwYXNz\r\nbad\r\n\r\n", &req),
	    400);
	assert_true(all_zero(&req, sizeof(req)));
	memset(&req, 'X', sizeof(req));
	assert_int_equal(parse("CONNECT h:22 HTTP/1.1\r\n"
	    "Proxy-Authorization: Basic dXNlcjpwYXNz\r\n", &req),
	    HTTP_PARSE_INCOMPLETE);
	assert_true(all_zero(&req, sizeof(req)));
}

static void
test_basic_valid(void **state)
{
	char	 user[HTTP_CRED_MAX + 1], pass[HTTP_CRED_MAX + 1];

	(void)state;
	assert_int_equal(decode("Basic dXNlcjpwYXNz", user, pass), 0);
	assert_string_equal(user, "user");
	assert_string_equal(pass, "pass");
	assert_int_equal(decode("BASIC    YTpi   ", user, pass), 0);
	assert_string_equal(user, "a");
	assert_string_equal(pass, "b");
	assert_int_equal(decode("bAsIc w6lsw6h2ZTpww6Rzcw==", user, pass), 0);
	assert_string_equal(user, "\xc3\xa9l\xc3\xa8ve");
	assert_string_equal(pass, "p\xc3\xa4ss");
	/* Empty password: the authenticator refuses it, not the parser. */
	assert_int_equal(decode("Basic dXNlcjo=", user, pass), 0);
	assert_string_equal(user, "user");
	assert_string_equal(pass, "");
	/* Split at the first colon; the rest belongs to the password. */
	assert_int_equal(decode("Basic dXNlcjpwYTpzczo=", user, pass), 0);
	assert_string_equal(user, "user");
	assert_string_equal(pass, "pa:ss:");
}

static void
test_basic_invalid(void **state)
{
	static const char	*bad[] = {
		"dXNlcjpwYXNz", "Basic", "Basic ", "Basic    ",
		"BasicdXNlcjpwYXNz", "Basic\tdXNlcjpwYXNz",
		" Basic dXNlcjpwYXNz",
		"Bearer dXNlcjpwYXNz", "Digest dXNlcjpwYXNz",
		"Basic dXNlcjo", "Basic dXNlcjpwYXN", "Basic dXNlcjpwYXNz=",
		"Basic dXNlcjo==", "Basic dXNl cjpwYXNz",
		"Basic dXNlcjpw\tYXNz",
		"Basic dXNlcjpwYXNz!", "Basic dXNl-jpwYXNz",
		"Basic dXNl_jpwYXNz",
		"Basic dXN=cjpwYXNz", "Basic ====", "Basic YTpi====",
		"Basic dXNlcnBhc3M=",		/* no colon */
		"Basic OnBhc3M=",		/* empty user */
		"Basic dXMAZXI6cHc=",		/* NUL in user */
		"Basic dXNlcjpwAHc=",		/* NUL in password */
		"Basic dXMJZXI6cHc=",		/* HTAB in user */
		"Basic dXNlcjpwf3c=",		/* DEL in password */
		"Basic dXNlcjp=",		/* pad bits set */
		"Basic w6lsw6h2ZTpww6Rzcx==",	/* pad bits set */
	};
	char			 user[HTTP_CRED_MAX + 1];
	char			 pass[HTTP_CRED_MAX + 1];
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (decode(bad[i], user, pass) != -1) {
			print_error("value \"%s\" accepted\n", bad[i]);
			fail();
		}
	}
}

static void
test_basic_embedded_nul_in_value(void **state)
{
	const char	 v[] = "Basic dXNlcjpwYXNz\0AAAA";
	char		*copy, user[HTTP_CRED_MAX + 1];
	char		 pass[HTTP_CRED_MAX + 1];

	(void)state;
	assert_non_null(copy = malloc(sizeof(v) - 1));
	memcpy(copy, v, sizeof(v) - 1);
	assert_int_equal(http_basic_decode(copy, sizeof(v) - 1, user, pass),
	    -1);
	assert_int_equal(http_basic_decode(copy, 18, user, pass), 0);
	assert_string_equal(pass, "pass");
	/* A len that stops mid-token is the end of the value. */
	assert_int_equal(http_basic_decode(copy, 17, user, pass), -1);
	free(copy);
}

/* "Basic " + base64(user:pass) for a user and password of given lengths. */
static void
basic_of_lengths(size_t ulen, size_t plen, char *value)
{
	uint8_t	 plain[1024];

	assert_true(ulen + plen + 1 <= sizeof(plain));
	memset(plain, 'u', ulen);
	plain[ulen] = ':';
	memset(plain + ulen + 1, 'p', plen);
	memcpy(value, "Basic ", 6);
	b64_encode(plain, ulen + plen + 1, value + 6);
}

static void
test_basic_length_limits(void **state)
{
	char	 value[2048];
	char	 user[HTTP_CRED_MAX + 1], pass[HTTP_CRED_MAX + 1];

	(void)state;
	basic_of_lengths(HTTP_CRED_MAX, HTTP_CRED_MAX, value);
	assert_int_equal(decode(value, user, pass), 0);
	assert_int_equal(strlen(user), HTTP_CRED_MAX);
	assert_int_equal(strlen(pass), HTTP_CRED_MAX);
	assert_int_equal(user[0], 'u');
	assert_int_equal(pass[HTTP_CRED_MAX - 1], 'p');

	basic_of_lengths(HTTP_CRED_MAX + 1, 1, value);
	assert_int_equal(decode(value, user, pass), -1);
	basic_of_lengths(1, HTTP_CRED_MAX + 1, value);
	assert_int_equal(decode(value, user, pass), -1);
	basic_of_lengths(600, 0, value);
	assert_int_equal(decode(value, user, pass), -1);
	basic_of_lengths(1, 1000, value);
	assert_int_equal(decode(value, user, pass), -1);
}

static void
test_wipe_clears_credentials(void **state)
{
	struct http_request	 req;

	(void)state;
	assert_int_equal(parse("CONNECT h:22 HTTP/1.1\r\n"
	    "Proxy-Authorization: Basic dXNlcjpwYXNz\r\n\r\n", &req),
	    HTTP_PARSE_OK);
	assert_int_equal(req.has_credentials, 1);
	http_request_wipe(&req);
	assert_int_equal(req.has_credentials, 0);
	assert_true(all_zero(req.user, sizeof(req.user)));
	assert_true(all_zero(req.password, sizeof(req.password)));
	assert_string_equal(req.host, "h");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minimal_request_parses),
		cmocka_unit_test(test_http10_with_ignored_headers),
		cmocka_unit_test(test_bare_lf_and_mixed_endings),
		cmocka_unit_test(test_ipv6_and_ipv4_authority),
		cmocka_unit_test(test_dns_names),
		cmocka_unit_test(test_ports),
		cmocka_unit_test(test_malformed_authority_400),
		cmocka_unit_test(test_request_line_spacing_400),
		cmocka_unit_test(test_bad_version_400),
		cmocka_unit_test(test_other_methods_405),
		cmocka_unit_test(test_header_syntax_400),
		cmocka_unit_test(test_duplicate_proxy_authorization_400),
		cmocka_unit_test(test_pipelined_bytes_not_interpreted),
		cmocka_unit_test(test_incomplete_at_every_prefix),
		cmocka_unit_test(test_header_block_limit_431),
		cmocka_unit_test(test_leading_empty_line),
		cmocka_unit_test(test_proxy_authorization_in_request),
		cmocka_unit_test(test_unusable_credentials_are_none),
		cmocka_unit_test(test_failure_leaves_no_credentials),
		cmocka_unit_test(test_basic_valid),
		cmocka_unit_test(test_basic_invalid),
		cmocka_unit_test(test_basic_embedded_nul_in_value),
		cmocka_unit_test(test_basic_length_limits),
		cmocka_unit_test(test_wipe_clears_credentials),
	};

	return cmocka_run_group_tests_name("http_request", tests, NULL, NULL);
}
