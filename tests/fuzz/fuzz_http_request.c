/*
 * The CONNECT parser and the Basic decoder on arbitrary bytes. Besides
 * memory errors, abort on any result that breaks the documented contract.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_request.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(int cond)
{
	if (!cond)
		abort();
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

static void
check_cred(const char *s, size_t max, int may_be_empty)
{
	size_t	 i, n;

	n = strnlen(s, max + 1);
	check(n <= max && (may_be_empty || n > 0));
	for (i = 0; i < n; i++)
		check((uint8_t)s[i] >= ' ' && (uint8_t)s[i] != 0x7f);
}

/*
 * The bytes arriving in two pieces, split where the input's last byte
 * says: http_request_resume() must end as one parse of them all does.
 */
static void
fuzz_resume(const uint8_t *data, size_t size, size_t max, int r,
    const struct http_request *whole)
{
	struct http_parse	 st;
	struct http_request	 req;
	size_t			 split = size == 0 ? 0 : data[size - 1] % size;
	int			 got;

	memset(&st, 0, sizeof(st));
	got = http_request_resume(data, split, max, &st, &req);
	if (got == HTTP_PARSE_INCOMPLETE)
		got = http_request_resume(data, size, max, &st, &req);
	check(got == r && memcmp(&req, whole, sizeof(req)) == 0);
	http_request_wipe(&req);
}

static void
fuzz_parse(const uint8_t *data, size_t size, size_t max)
{
	struct http_request	 req, again;
	int			 r;

	r = http_request_parse(data, size, max, &req);
	fuzz_resume(data, size, max, r, &req);
	if (r != HTTP_PARSE_OK) {
		check(r == 400 || r == 405 || r == 431 ||
		    (r == HTTP_PARSE_INCOMPLETE && size < max));
		check(all_zero(&req, sizeof(req)));
		return;
	}
	check(req.header_len > 0 && req.header_len <= size &&
	    req.header_len <= max);
	check(req.port != 0);
	check(req.minor_version == 0 || req.minor_version == 1);
	check(req.host[0] != '\0' &&
	    strnlen(req.host, sizeof(req.host)) <= HTTP_HOST_MAX);
	if (req.has_credentials) {
		check_cred(req.user, HTTP_CRED_MAX, 0);
		check_cred(req.password, HTTP_CRED_MAX, 1);
	} else
		check(req.user[0] == '\0' && req.password[0] == '\0');

	/* Bytes after the header block must not change the result. */
	check(http_request_parse(data, req.header_len, max, &again) ==
	    HTTP_PARSE_OK);
	check(again.header_len == req.header_len && again.port == req.port &&
	    again.minor_version == req.minor_version &&
	    again.has_credentials == req.has_credentials &&
	    strcmp(again.host, req.host) == 0 &&
	    strcmp(again.user, req.user) == 0 &&
	    strcmp(again.password, req.password) == 0);
	http_request_wipe(&req);
	check(!req.has_credentials && all_zero(req.user, sizeof(req.user)) &&
	    all_zero(req.password, sizeof(req.password)));
}

static size_t
b64_encode(const uint8_t *in, size_t n, char *out)
{
	static const char	 a[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint32_t		 v;
	size_t			 i, o = 0;

	for (i = 0; i < n; i += 3) {
		v = (uint32_t)in[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = a[v >> 18 & 63];
		out[o++] = a[v >> 12 & 63];
		out[o++] = i + 1 < n ? a[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? a[v & 63] : '=';
	}
	return o;
}

/*
 * The decoder is strict, so whatever it accepts must be the one encoding of
 * "user:password": re-encoding gives back the token it was handed.
 */
static void
fuzz_basic(const uint8_t *data, size_t size)
{
	char	 user[HTTP_CRED_MAX + 1], pass[HTTP_CRED_MAX + 1];
	uint8_t	 plain[2 * HTTP_CRED_MAX + 1];
	char	 enc[sizeof(plain) / 3 * 4 + 4];
	size_t	 ulen, plen, start, end, n;

	if (http_basic_decode((const char *)data, size, user, pass) == -1) {
		check(all_zero(user, sizeof(user)) &&
		    all_zero(pass, sizeof(pass)));
		return;
	}
	check_cred(user, HTTP_CRED_MAX, 0);
	check_cred(pass, HTTP_CRED_MAX, 1);
	check(memchr(user, ':', strlen(user)) == NULL);

	ulen = strlen(user);
	plen = strlen(pass);
	memcpy(plain, user, ulen);
	plain[ulen] = ':';
	memcpy(plain + ulen + 1, pass, plen);
	n = b64_encode(plain, ulen + plen + 1, enc);

	for (start = 6; start < size && data[start] == ' '; start++)
		;
	for (end = size; end > start &&
	    (data[end - 1] == ' ' || data[end - 1] == '\t'); end--)
		;
	check(end - start == n && memcmp(data + start, enc, n) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_parse(data, size, 8192);
	/* A small limit reaches the 431 paths with short inputs too. */
	fuzz_parse(data, size, 64);
	fuzz_basic(data, size);
	return 0;
}
