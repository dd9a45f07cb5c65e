/*
 * Numeric socket addresses: the one text form the audit log and the
 * authenticators see ("1.2.3.4:5", "[v6]:5"), and address networks
 * ("10.0.0.0/8") as configured for trusted senders.
 */
#ifndef TG_NETADDR_H
#define TG_NETADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* "[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]:65535" and its NUL. */
#define NETADDR_STR_MAX	56

struct netaddr_net {
	int		 family;	/* AF_INET or AF_INET6 */
	uint8_t		 addr[16];	/* host bits clear */
	uint8_t		 prefix;
};

/* "addr:port" or "[addr]:port"; "" for a family other than IPv4 or IPv6. */
void	 netaddr_format(const struct sockaddr *, char *out, size_t outlen);
/* The reverse of netaddr_format(); 0, or -1 if text is not of that form. */
int	 netaddr_parse(const char *text, struct sockaddr_storage *);
/* Clear the bits of the nbytes-long address b after its first prefix. */
void	 netaddr_mask(uint8_t *b, size_t nbytes, unsigned prefix);
/* "a.b.c.d", "a.b.c.d/n", "v6", "v6/n"; 0, or -1 if it is none of them. */
int	 netaddr_net_parse(const char *, struct netaddr_net *);
/* An IPv4-mapped IPv6 address matches as the IPv4 address it carries. */
bool	 netaddr_net_contains(const struct netaddr_net *, const struct sockaddr *);

#endif
