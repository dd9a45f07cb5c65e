/*
 * The HTTP side of a tunnel: address syntax, the CONNECT request and the
 * gateway's answer. No I/O here, so every function is unit-tested.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "libtg_priv.h"

static int
host_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

static int
v6_char(int c)
{
	return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
	    (c >= '0' && c <= '9') || c == ':' || c == '.';
}

static int
copy_checked(const char *s, size_t n, int (*ok)(int), char *out, size_t outlen)
{
	if (n == 0 || n >= outlen)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!ok((unsigned char)s[i]))
			return -1;
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

static int
valid_port(const char *s)
{
	size_t	 n = strlen(s);
	long	 v;

	if (n == 0 || n > 5 || strspn(s, "0123456789") != n)
		return 0;
	v = strtol(s, NULL, 10);
	return v >= 1 && v <= 65535;
}

/*
 * "host", "host:port", "[v6]" or "[v6]:port"; a bare v6 literal ("::1")
 * is a host without port. Without default_port the port is required.
 */
int
tg_split_hostport(const char *spec, char *host, size_t hostlen, char *port,
    size_t portlen, const char *default_port)
{
	const char	*p, *colon;
	size_t		 n;

	if (spec == NULL || strnlen(spec, TG_TARGET_MAX + 1) > TG_TARGET_MAX)
		return -1;
	if (spec[0] == '[') {
		if ((p = strchr(spec, ']')) == NULL ||
		    copy_checked(spec + 1, (size_t)(p - spec - 1), v6_char,
		    host, hostlen) == -1)
			return -1;
		if (p[1] == '\0')
			colon = NULL;
		else if (p[1] == ':')
			colon = p + 1;
		else
			return -1;
	} else {
		colon = strchr(spec, ':');
		if (colon != NULL && strchr(colon + 1, ':') != NULL) {
			if (copy_checked(spec, strlen(spec), v6_char, host,
			    hostlen) == -1)
				return -1;
			colon = NULL;
		} else {
			n = colon ? (size_t)(colon - spec) : strlen(spec);
			if (copy_checked(spec, n, host_char, host, hostlen) == -1)
				return -1;
		}
	}
	p = colon ? colon + 1 : default_port;
	if (p == NULL || !valid_port(p) || strlen(p) >= portlen)
		return -1;
	memcpy(port, p, strlen(p) + 1);
	return 0;
}

int
tg_valid_target(const char *target)
{
	char	 host[TG_HOST_MAX + 1], port[8];

	return tg_split_hostport(target, host, sizeof(host), port,
	    sizeof(port), NULL) == 0;
}

/* Messages quote untrusted text: no control characters reach a terminal. */
void
tg_sanitize(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

int
tg_target_check(const char *target)
{
	return tg_valid_target(target) ? TG_OK : TG_ERR_INVALID;
}

int
tg_valid_user(const char *user)
{
	size_t	 n;

	if (user == NULL || (n = strnlen(user, TG_USER_MAX + 1)) == 0 ||
	    n > TG_USER_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)user[i];
		if (c < 0x20 || c == 0x7f || c == ':')
			return 0;
	}
	return 1;
}

int
tg_auth_header(const char *user, const char *password, char *out,
    size_t outlen, size_t *lenp)
{
	static const char prefix[] = "Proxy-Authorization: Basic ";
	char		 plain[TG_USER_MAX + 1 + TG_PASSWORD_MAX + 1];
	size_t		 ulen, plen, enclen;
	int		 r = -1;

	if (!tg_valid_user(user) || password == NULL ||
	    (plen = strnlen(password, TG_PASSWORD_MAX + 1)) > TG_PASSWORD_MAX)
		return -1;
	ulen = strlen(user);
	memcpy(plain, user, ulen);
	plain[ulen] = ':';
	memcpy(plain + ulen + 1, password, plen);
	enclen = 4 * ((ulen + 1 + plen + 2) / 3);
	if (sizeof(prefix) - 1 + enclen + 3 > outlen)
		goto out;
	memcpy(out, prefix, sizeof(prefix) - 1);
	if ((size_t)EVP_EncodeBlock((unsigned char *)out + sizeof(prefix) - 1,
	    (unsigned char *)plain, (int)(ulen + 1 + plen)) != enclen)
		goto out;
	memcpy(out + sizeof(prefix) - 1 + enclen, "\r\n", 3);
	*lenp = sizeof(prefix) - 1 + enclen + 2;
	r = 0;
 out:
	OPENSSL_cleanse(plain, sizeof(plain));
	return r;
}

int
tg_build_request(const char *target, const char *auth, size_t authlen,
    char *out, size_t outlen, size_t *lenp)
{
	int	 n;

	if (!tg_valid_target(target))
		return -1;
	n = snprintf(out, outlen, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n"
	    "%.*sUser-Agent: tunnelgate/" TG_VERSION "\r\n\r\n",
	    target, target, (int)authlen, auth ? auth : "");
	if (n < 0 || (size_t)n >= outlen)
		return -1;
	*lenp = (size_t)n;
	return 0;
}

/* End of the head: the first empty line (CRLF or a bare LF accepted). */
static const char *
head_end(const char *buf, size_t len)
{
	const char	*p = buf, *end = buf + len;

	while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		p++;
		if (p < end && *p == '\n')
			return p + 1;
		if (end - p >= 2 && p[0] == '\r' && p[1] == '\n')
			return p + 2;
	}
	return NULL;
}

/*
 * 1: a complete head, its length, status and printable reason; 0: more
 * bytes needed; -1: not an HTTP/1.x answer.
 */
int
tg_parse_head(const char *buf, size_t len, size_t *headlen, int *status,
    char *reason, size_t reasonlen)
{
	static const char proto[] = "HTTP/1.";
	const char	*end, *p;
	size_t		 n = 0;

	if (memcmp(buf, proto, len < 7 ? len : 7) != 0)
		return -1;
	if ((end = head_end(buf, len)) == NULL)
		return 0;
	p = buf + 7;
	if (end - p < 7 || (p[0] != '0' && p[0] != '1') || p[1] != ' ' ||
	    p[2] < '1' || p[2] > '5' || p[3] < '0' || p[3] > '9' ||
	    p[4] < '0' || p[4] > '9')
		return -1;
	*status = (p[2] - '0') * 100 + (p[3] - '0') * 10 + (p[4] - '0');
	p += 5;
	if (*p != ' ' && *p != '\r' && *p != '\n')
		return -1;
	while (*p == ' ')
		p++;
	for (; p < end && *p != '\r' && *p != '\n' && n + 1 < reasonlen; p++)
		if (*p >= 0x20 && *p < 0x7f)
			reason[n++] = *p;
	if (reasonlen > 0)
		reason[n] = '\0';
	*headlen = (size_t)(end - buf);
	return 1;
}

int
tg_status_code(int status)
{
	if (status >= 200 && status <= 299)
		return TG_OK;
	switch (status) {
	case 403:
		return TG_ERR_FORBIDDEN;
	case 407:
		return TG_ERR_AUTH;
	case 502:
		return TG_ERR_BAD_GATEWAY;
	case 503:
		return TG_ERR_UNAVAILABLE;
	case 504:
		return TG_ERR_GATEWAY_TIMEOUT;
	default:
		return TG_ERR_REFUSED;
	}
}

const char *
tg_status_hint(int status)
{
	switch (status) {
	case 400:
		return "the gateway could not parse the request";
	case 403:
		return "the gateway's policy does not allow this user to reach "
		    "this target";
	case 405:
		return "the gateway only accepts CONNECT";
	case 407:
		return "user name or password refused, or the account is "
		    "locked or expired";
	case 408:
		return "the gateway gave up waiting for the request";
	case 431:
		return "the request headers were too large for the gateway";
	case 502:
		return "the gateway could not connect to the target (refused "
		    "or unreachable)";
	case 503:
		return "the gateway is overloaded or cannot check credentials "
		    "now; try again later";
	case 504:
		return "the target or its DNS name did not answer the gateway "
		    "in time";
	default:
		return "the gateway refused the tunnel";
	}
}
