#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netaddr.h"

void
netaddr_format(const struct sockaddr *sa, char *out, size_t outlen)
{
	const struct sockaddr_in	*s4 = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6	*s6 = (const struct sockaddr_in6 *)sa;
	char				 host[INET6_ADDRSTRLEN];

	if (outlen == 0)
		return;
	out[0] = '\0';
	if (sa->sa_family == AF_INET &&
	    inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host)) != NULL)
		(void)snprintf(out, outlen, "%s:%u", host, ntohs(s4->sin_port));
	else if (sa->sa_family == AF_INET6 &&
	    inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host)) != NULL)
		(void)snprintf(out, outlen, "[%s]:%u", host,
		    ntohs(s6->sin6_port));
}

int
netaddr_parse(const char *text, struct sockaddr_storage *ss)
{
	struct sockaddr_in	*s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)ss;
	char			 host[INET6_ADDRSTRLEN];
	const char		*colon, *start = text;
	size_t			 len;
	char			*end;
	unsigned long		 port;

	memset(ss, 0, sizeof(*ss));
	if (text[0] == '[') {
		start = text + 1;
		if ((colon = strstr(start, "]:")) == NULL)
			return -1;
		len = (size_t)(colon - start);
		colon++;
	} else {
		if ((colon = strrchr(text, ':')) == NULL)
			return -1;
		len = (size_t)(colon - text);
	}
	if (len == 0 || len >= sizeof(host) || colon[1] < '0' || colon[1] > '9')
		return -1;
	memcpy(host, start, len);
	host[len] = '\0';
	port = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || port > 65535)
		return -1;
	if (text[0] != '[' && inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		return 0;
	}
	if (text[0] == '[' && inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		return 0;
	}
	return -1;
}

void
netaddr_mask(uint8_t *b, size_t nbytes, unsigned prefix)
{
	for (size_t i = 0; i < nbytes; i++) {
		if (prefix >= 8 * (i + 1))
			continue;
		if (prefix <= 8 * i)
			b[i] = 0;
		else
			b[i] &= (uint8_t)(0xff << (8 - (prefix - 8 * i)));
	}
}

int
netaddr_net_parse(const char *s, struct netaddr_net *n)
{
	char		 host[INET6_ADDRSTRLEN];
	const char	*slash = strchr(s, '/');
	size_t		 hlen = slash != NULL ? (size_t)(slash - s) : strlen(s);
	unsigned	 max, prefix = 0;
	size_t		 i;

	memset(n, 0, sizeof(*n));
	if (hlen == 0 || hlen >= sizeof(host))
		return -1;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (inet_pton(AF_INET, host, n->addr) == 1) {
		n->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, host, n->addr) == 1) {
		n->family = AF_INET6;
		max = 128;
	} else
		return -1;
	if (slash == NULL)
		prefix = max;
	else {
		/* 1-3 digits, no sign or space: strtoul would take both. */
		for (i = 1; slash[i] >= '0' && slash[i] <= '9' && i <= 3; i++)
			prefix = prefix * 10 + (unsigned)(slash[i] - '0');
		if (i == 1 || slash[i] != '\0' || prefix > max)
			return -1;
	}
	n->prefix = (uint8_t)prefix;
	netaddr_mask(n->addr, max / 8, prefix);
	return 0;
}

bool
netaddr_net_contains(const struct netaddr_net *n, const struct sockaddr *sa)
{
	static const uint8_t	 mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff };
	uint8_t			 a[16];
	size_t			 len;

	if (sa->sa_family == AF_INET) {
		memcpy(a, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		len = 4;
	} else if (sa->sa_family == AF_INET6) {
		memcpy(a, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
		len = 16;
		if (n->family == AF_INET && memcmp(a, mapped, 12) == 0) {
			memmove(a, a + 12, 4);
			len = 4;
		}
	} else
		return false;
	if ((len == 4) != (n->family == AF_INET))
		return false;
	netaddr_mask(a, len, n->prefix);
	return memcmp(a, n->addr, len) == 0;
}
