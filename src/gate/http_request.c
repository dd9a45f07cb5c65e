/*
 * CONNECT request parser (RFC 9110 §9.3.6, RFC 9112, draft-luotonen §3.1).
 *
 * A client may send its request one byte per TLS record, and the caller
 * parses after each record: http_request_resume() goes on where the last
 * call stopped, so each byte of the header block is looked at a bounded
 * number of times over all the calls, not once per call. Nothing here
 * allocates or reads past len.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "http_request.h"

#define HTTP_BAD_REQUEST	400
#define HTTP_BAD_METHOD		405
#define HTTP_HEADERS_TOO_LARGE	431

/* A DNS label (RFC 1035 §2.3.4); longer ones can never resolve. */
#define HTTP_LABEL_MAX		63

/* "user:password" at its longest. */
#define HTTP_BASIC_MAX		(2 * HTTP_CRED_MAX + 1)

static int
is_alnum(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

static int
is_hex(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F');
}

/* RFC 9110 §5.6.2 tchar. */
static int
is_tchar(uint8_t c)
{
	switch (c) {
	case '!': case '#': case '$': case '%': case '&': case '\'':
	case '*': case '+': case '-': case '.': case '^': case '_':
	case '`': case '|': case '~':
		return 1;
	default:
		return is_alnum(c);
	}
}

static int
is_token(const uint8_t *s, size_t n)
{
	size_t	 i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		if (!is_tchar(s[i]))
			return 0;
	return 1;
}

static int
is_vchars(const uint8_t *s, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] >= 0x7f)
			return 0;
	return 1;
}

/* Compare with a lowercase ASCII literal, independent of the locale. */
static int
ascii_caseeq(const uint8_t *s, const char *lower, size_t n)
{
	size_t	 i;
	uint8_t	 c;

	for (i = 0; i < n; i++) {
		c = s[i];
		if (c >= 'A' && c <= 'Z')
			c = (uint8_t)(c - 'A' + 'a');
		if (c != (uint8_t)lower[i])
			return 0;
	}
	return 1;
}

/*
 * The next complete line in p[st->next..lim), without its LF and an
 * optional CR before it. Returns 0 while its LF has not arrived; what was
 * searched is remembered, so bytes that arrive one at a time are each
 * searched once.
 */
static int
next_line(const uint8_t *p, size_t lim, struct http_parse *st, size_t *off,
    size_t *n)
{
	const uint8_t	*lf;
	size_t		 from = st->scanned > st->next ? st->scanned : st->next;

	if (from >= lim ||
	    (lf = memchr(p + from, '\n', lim - from)) == NULL) {
		st->scanned = lim;
		return 0;
	}
	*off = st->next;
	*n = (size_t)(lf - p) - *off;
	if (*n > 0 && p[*off + *n - 1] == '\r')
		(*n)--;
	st->next = (size_t)(lf - p) + 1;
	st->scanned = st->next;
	return 1;
}

/*
 * The last label decides whether a name is an IPv4 address to the resolver
 * (WHATWG URL "ends in a number"): all digits, or 0x and hex digits.
 */
static int
ends_in_number(const char *h, size_t n)
{
	const char	*dot;
	size_t		 i, start;

	if (n > 0 && h[n - 1] == '.')
		n--;
	dot = memrchr(h, '.', n);
	start = dot == NULL ? 0 : (size_t)(dot - h) + 1;
	if (n - start >= 2 && h[start] == '0' &&
	    (h[start + 1] == 'x' || h[start + 1] == 'X')) {
		for (i = start + 2; i < n; i++)
			if (!is_hex((uint8_t)h[i]))
				return 0;
		return 1;
	}
	for (i = start; i < n; i++)
		if (h[i] < '0' || h[i] > '9')
			return 0;
	return 1;
}

/*
 * h is NUL-terminated, n its length. getaddrinfo() would accept inet_aton
 * forms such as "127.1", "2130706433" or "0x7f.0.0.1" and reach an address
 * that an exact-host policy rule does not name, so anything that looks like
 * a number must be a plain dotted quad.
 */
static int
host_valid(const char *h, size_t n)
{
	struct in_addr	 in4;
	size_t		 i, label = 0;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++) {
		if (h[i] == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!is_alnum((uint8_t)h[i]) && h[i] != '-' && h[i] != '_')
			return 0;
		if (++label > HTTP_LABEL_MAX)
			return 0;
	}
	if (ends_in_number(h, n))
		return inet_pton(AF_INET, h, &in4) == 1;
	return 1;
}

/* Decimal, 1-5 digits, 1-65535; leading zeros are still decimal. */
static int
port_parse(const uint8_t *s, size_t n, uint16_t *port)
{
	uint32_t	 v = 0;
	size_t		 i;

	if (n == 0 || n > 5)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint32_t)(s[i] - '0');
	}
	if (v == 0 || v > UINT16_MAX)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

/* authority-form (RFC 9112 §3.2.3): host:port or [IPv6]:port, nothing else. */
static int
authority_parse(const uint8_t *a, size_t n, struct http_request *req)
{
	struct in6_addr	 in6;
	const uint8_t	*end, *rest;
	size_t		 hlen;

	if (n > 0 && a[0] == '[') {
		if ((end = memchr(a, ']', n)) == NULL)
			return -1;
		hlen = (size_t)(end - a) - 1;
		if (hlen == 0 || hlen >= INET6_ADDRSTRLEN)
			return -1;
		memcpy(req->host, a + 1, hlen);
		req->host[hlen] = '\0';
		if (inet_pton(AF_INET6, req->host, &in6) != 1)
			return -1;
		rest = end + 1;
	} else {
		if ((end = memchr(a, ':', n)) == NULL)
			return -1;
		hlen = (size_t)(end - a);
		if (hlen > HTTP_HOST_MAX)
			return -1;
		memcpy(req->host, a, hlen);
		req->host[hlen] = '\0';
		if (!host_valid(req->host, hlen))
			return -1;
		rest = end;
	}
	if (rest == a + n || *rest != ':')
		return -1;
	rest++;
	return port_parse(rest, (size_t)(a + n - rest), &req->port);
}

/*
 * Exactly "method SP target SP HTTP/1.x". Other versions are answered 400
 * rather than 505: the header documents 400/405/431 as the only answers, and
 * a client that speaks anything but HTTP/1.x on this port is not one we serve.
 */
static int
request_line_parse(const uint8_t *l, size_t n, struct http_request *req)
{
	const uint8_t	*sp1, *sp2, *target, *version;
	size_t		 mlen, tlen, vlen;

	if ((sp1 = memchr(l, ' ', n)) == NULL)
		return HTTP_BAD_REQUEST;
	mlen = (size_t)(sp1 - l);
	target = sp1 + 1;
	if ((sp2 = memchr(target, ' ', n - mlen - 1)) == NULL)
		return HTTP_BAD_REQUEST;
	tlen = (size_t)(sp2 - target);
	version = sp2 + 1;
	vlen = n - mlen - tlen - 2;

	if (!is_token(l, mlen) || tlen == 0 || !is_vchars(target, tlen))
		return HTTP_BAD_REQUEST;
	if (vlen != 8 || memcmp(version, "HTTP/1.", 7) != 0 ||
	    (version[7] != '0' && version[7] != '1'))
		return HTTP_BAD_REQUEST;
	req->minor_version = version[7] - '0';
	if (mlen != 7 || memcmp(l, "CONNECT", 7) != 0)
		return HTTP_BAD_METHOD;
	if (authority_parse(target, tlen, req) == -1)
		return HTTP_BAD_REQUEST;
	return HTTP_PARSE_OK;
}

/*
 * One header line at p[off..off+n). Only Proxy-Authorization is kept (the
 * place of its trimmed value, in st); the rest is checked for syntax and
 * ignored.
 */
static int
header_parse(const uint8_t *p, size_t off, size_t n, struct http_parse *st)
{
	const uint8_t	*l = p + off, *colon, *v, *end = l + n;
	size_t		 i, nlen;

	if ((colon = memchr(l, ':', n)) == NULL)
		return HTTP_BAD_REQUEST;
	nlen = (size_t)(colon - l);
	/*
	 * The token rule also rejects obs-fold (a line that starts with
	 * whitespace, RFC 9112 §5.2) and whitespace before the colon (§5.1),
	 * both of which let two parsers disagree on where a field ends.
	 */
	if (!is_token(l, nlen))
		return HTTP_BAD_REQUEST;
	for (i = nlen + 1; i < n; i++)
		if ((l[i] < ' ' && l[i] != '\t') || l[i] == 0x7f)
			return HTTP_BAD_REQUEST;

	if (nlen != sizeof("proxy-authorization") - 1 ||
	    !ascii_caseeq(l, "proxy-authorization", nlen))
		return HTTP_PARSE_OK;
	/* Two of them: which one a later hop would use is anyone's guess. */
	if (st->auth_off != 0)
		return HTTP_BAD_REQUEST;
	for (v = colon + 1; v < end && (*v == ' ' || *v == '\t'); v++)
		;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	st->auth_off = (size_t)(v - p);
	st->auth_len = (size_t)(end - v);
	return HTTP_PARSE_OK;
}

/* The lines that arrived since the last call, up to the empty one. */
static int
request_lines(const uint8_t *p, size_t lim, struct http_parse *st,
    struct http_request *req)
{
	size_t	 off, n;
	int	 r;

	while (next_line(p, lim, st, &off, &n)) {
		if (st->line_len != 0) {
			if (n == 0)
				return HTTP_PARSE_OK;
			if ((r = header_parse(p, off, n, st)) != HTTP_PARSE_OK)
				return r;
			continue;
		}
		/* RFC 9112 §2.2: ignore one empty line before the request. */
		if (n == 0 && off == 0)
			continue;
		if ((r = request_line_parse(p + off, n, req)) != HTTP_PARSE_OK)
			return r;
		st->line_off = off;
		st->line_len = n;
	}
	return HTTP_PARSE_INCOMPLETE;
}

int
http_request_resume(const uint8_t *p, size_t len, size_t max_header,
    struct http_parse *st, struct http_request *req)
{
	size_t	 lim = len < max_header ? len : max_header;
	int	 r;

	explicit_bzero(req, sizeof(*req));
	if ((r = request_lines(p, lim, st, req)) == HTTP_PARSE_INCOMPLETE)
		r = len >= max_header ? HTTP_HEADERS_TOO_LARGE : r;
	/* Checked when it arrived, maybe in an earlier call: parsed again. */
	if (r == HTTP_PARSE_OK)
		r = request_line_parse(p + st->line_off, st->line_len, req);
	if (r != HTTP_PARSE_OK) {
		explicit_bzero(req, sizeof(*req));
		return r;
	}
	req->header_len = st->next;
	/* Bad or non-Basic credentials count as none: the caller sends 407. */
	if (st->auth_off != 0 && http_basic_decode((const char *)p +
	    st->auth_off, st->auth_len, req->user, req->password) == 0)
		req->has_credentials = 1;
	return HTTP_PARSE_OK;
}

int
http_request_parse(const uint8_t *p, size_t len, size_t max_header,
    struct http_request *req)
{
	struct http_parse	 st;

	memset(&st, 0, sizeof(st));
	return http_request_resume(p, len, max_header, &st, req);
}

static int
b64_value(uint8_t c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Strict RFC 4648 §4: padded to a multiple of 4, '=' only at the end, and
 * the unused bits of the last group zero (§3.5), so every credential has
 * exactly one encoding.
 */
static int
b64_decode(const uint8_t *s, size_t n, uint8_t *out, size_t outmax,
    size_t *outlen)
{
	uint32_t	 acc;
	size_t		 i, j, o = 0, pad = 0;
	int		 v;

	if (n == 0 || n % 4 != 0)
		return -1;
	if (s[n - 1] == '=')
		pad = s[n - 2] == '=' ? 2 : 1;
	if (n / 4 * 3 - pad > outmax)
		return -1;
	for (i = 0; i < n; i += 4) {
		acc = 0;
		for (j = i; j < i + 4; j++) {
			v = j < n - pad ? b64_value(s[j]) : 0;
			if (v == -1)
				return -1;
			acc = acc << 6 | (uint32_t)v;
		}
		if (i + 4 == n && (acc & ((1U << (8 * pad)) - 1)) != 0)
			return -1;
		out[o++] = (uint8_t)(acc >> 16);
		if (i + 4 < n || pad < 2)
			out[o++] = (uint8_t)(acc >> 8);
		if (i + 4 < n || pad < 1)
			out[o++] = (uint8_t)acc;
	}
	*outlen = o;
	return 0;
}

int
http_basic_decode(const char *value, size_t len,
    char user[HTTP_CRED_MAX + 1], char password[HTTP_CRED_MAX + 1])
{
	uint8_t		 tmp[HTTP_BASIC_MAX];
	const uint8_t	*v = (const uint8_t *)value, *colon;
	size_t		 i, end, dlen = 0, ulen, plen;
	int		 rv = -1;

	/* Auth scheme is case-insensitive, then 1*SP (RFC 9110 §11.4). */
	if (len < 6 || !ascii_caseeq(v, "basic", 5) || v[5] != ' ')
		goto out;
	for (i = 6; i < len && v[i] == ' '; i++)
		;
	for (end = len; end > i && (v[end - 1] == ' ' || v[end - 1] == '\t');
	    end--)
		;
	if (b64_decode(v + i, end - i, tmp, sizeof(tmp), &dlen) == -1)
		goto out;
	for (i = 0; i < dlen; i++)
		if (tmp[i] < ' ' || tmp[i] == 0x7f)
			goto out;
	/* RFC 7617 §2: a user-id cannot contain a colon, a password can. */
	if ((colon = memchr(tmp, ':', dlen)) == NULL)
		goto out;
	ulen = (size_t)(colon - tmp);
	plen = dlen - ulen - 1;
	if (ulen == 0 || ulen > HTTP_CRED_MAX || plen > HTTP_CRED_MAX)
		goto out;
	memcpy(user, tmp, ulen);
	user[ulen] = '\0';
	memcpy(password, colon + 1, plen);
	password[plen] = '\0';
	rv = 0;
 out:
	explicit_bzero(tmp, sizeof(tmp));
	if (rv == -1) {
		explicit_bzero(user, HTTP_CRED_MAX + 1);
		explicit_bzero(password, HTTP_CRED_MAX + 1);
	}
	return rv;
}

void
http_request_wipe(struct http_request *req)
{
	explicit_bzero(req->user, sizeof(req->user));
	explicit_bzero(req->password, sizeof(req->password));
	req->has_credentials = 0;
}
