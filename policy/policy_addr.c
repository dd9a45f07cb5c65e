/*
 * What a destination address is, for the loader and the matcher: the
 * special-purpose range it lies in, and the IPv4 address an IPv6 address
 * stands for. Pure functions over bytes; no allocation, no system call.
 */
#include <sys/socket.h>

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "policy_priv.h"

struct policy_sp4 {
	uint32_t	 net;
	uint32_t	 mask;
	uint8_t		 sp;
};

static const struct policy_sp4 policy_sp4[] = {
	{ 0x00000000, 0xff000000, POLICY_SP_UNSPECIFIED },	/* 0/8 */
	{ 0x7f000000, 0xff000000, POLICY_SP_LOOPBACK },		/* 127/8 */
	{ 0xa9fe0000, 0xffff0000, POLICY_SP_LINK_LOCAL },	/* 169.254/16 */
	{ 0xe0000000, 0xf0000000, POLICY_SP_MULTICAST },	/* 224/4 */
	{ 0xffffffff, 0xffffffff, POLICY_SP_BROADCAST },
};

struct policy_sp6 {
	uint8_t		 net[16];
	uint8_t		 prefix;
	uint8_t		 sp;
};

static const struct policy_sp6 policy_sp6[] = {
	{ { 0 }, 128, POLICY_SP_UNSPECIFIED },			/* :: */
	{ { [15] = 1 }, 128, POLICY_SP_LOOPBACK },		/* ::1 */
	{ { 0xfe, 0x80 }, 10, POLICY_SP_LINK_LOCAL },		/* fe80::/10 */
	{ { 0xff }, 8, POLICY_SP_MULTICAST },			/* ff00::/8 */
};

/* Prefixes whose addresses carry an IPv4 address (policy_embedded4()). */
static const struct policy_sp6 policy_tunnel6[] = {
	{ { 0 }, 96, 0 },					/* ::a.b.c.d */
	{ { 0, 0x64, 0xff, 0x9b }, 96, 0 },			/* NAT64 */
	{ { 0x20, 0x02 }, 16, 0 },				/* 6to4 */
	{ { 0x20, 0x01, 0, 0 }, 32, 0 },			/* Teredo */
};

#define POLICY_NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* The first prefix bits of a and b are equal. */
bool
policy_prefix6_eq(const uint8_t *a, const uint8_t *b, unsigned prefix)
{
	unsigned	 full = prefix / 8, bits = prefix % 8;
	uint8_t		 mask;

	if (memcmp(a, b, full) != 0)
		return false;
	if (bits == 0)
		return true;
	mask = (uint8_t)(0xff << (8 - bits));
	return (a[full] & mask) == (b[full] & mask);
}

/* The special range that holds all of net/mask (an address: all ones). */
uint8_t
policy_within4(uint32_t net, uint32_t mask)
{
	const struct policy_sp4	*e;
	size_t			 i;

	for (i = 0; i < POLICY_NELEM(policy_sp4); i++) {
		e = &policy_sp4[i];
		if ((mask & e->mask) == e->mask && (net & e->mask) == e->net)
			return e->sp;
	}
	return 0;
}

uint8_t
policy_within6(const uint8_t *net, unsigned prefix)
{
	const struct policy_sp6	*e;
	size_t			 i;

	for (i = 0; i < POLICY_NELEM(policy_sp6); i++) {
		e = &policy_sp6[i];
		if (prefix >= e->prefix &&
		    policy_prefix6_eq(e->net, net, e->prefix))
			return e->sp;
	}
	return 0;
}

static uint32_t
policy_be32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	    (uint32_t)b[2] << 8 | b[3];
}

/*
 * A connection to any of these ends at an IPv4 host: the kernel turns a
 * mapped address into an IPv4 socket, a NAT64 gateway translates, 6to4 and
 * Teredo relays (and the kernel's sit device for ::a.b.c.d) tunnel. Each is
 * therefore judged as the IPv4 address it names, or "deny 127.0.0.0/8"
 * would be walked around with 64:ff9b::7f00:1.
 */
enum policy_embed
policy_embedded4(const uint8_t *a, uint32_t *v4)
{
	static const uint8_t	 zero[12];
	static const uint8_t	 nat64[12] = { 0, 0x64, 0xff, 0x9b };

	if (memcmp(a, zero, 10) == 0 && a[10] == 0xff && a[11] == 0xff) {
		*v4 = policy_be32(a + 12);
		return POLICY_EMBED_MAPPED;
	}
	/* :: and ::1 are IPv6's own unspecified and loopback addresses. */
	if (memcmp(a, zero, 12) == 0 && policy_be32(a + 12) > 1) {
		*v4 = policy_be32(a + 12);
		return POLICY_EMBED_TUNNEL;
	}
	if (memcmp(a, nat64, 12) == 0) {
		*v4 = policy_be32(a + 12);
		return POLICY_EMBED_TUNNEL;
	}
	if (a[0] == 0x20 && a[1] == 0x02) {
		*v4 = policy_be32(a + 2);
		return POLICY_EMBED_TUNNEL;
	}
	/* Teredo stores the client's address inverted (RFC 4380). */
	if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0 && a[3] == 0) {
		*v4 = ~policy_be32(a + 12);
		return POLICY_EMBED_TUNNEL;
	}
	return POLICY_EMBED_NONE;
}

/* Every address of net/prefix carries an IPv4 address. */
bool
policy_net6_embeds4(const uint8_t *net, unsigned prefix)
{
	const struct policy_sp6	*e;
	uint32_t		 low = policy_be32(net + 12);
	size_t			 i;

	for (i = 0; i < POLICY_NELEM(policy_tunnel6); i++) {
		e = &policy_tunnel6[i];
		if (prefix < e->prefix ||
		    !policy_prefix6_eq(e->net, net, e->prefix))
			continue;
		/* ::/96 also holds :: and ::1, which carry nothing. */
		return i > 0 || (prefix == 128 ? low > 1 : low != 0);
	}
	return false;
}

/* The special ranges (POLICY_SP_*) that share an address with net/mask. */
uint8_t
policy_overlap4(uint32_t net, uint32_t mask)
{
	uint8_t		 sp = 0;
	size_t		 i;

	for (i = 0; i < POLICY_NELEM(policy_sp4); i++)
		if (((net ^ policy_sp4[i].net) & mask & policy_sp4[i].mask) ==
		    0)
			sp |= policy_sp4[i].sp;
	return sp;
}

uint8_t
policy_overlap6(const uint8_t *net, unsigned prefix)
{
	uint8_t		 sp = 0;
	size_t		 i;

	for (i = 0; i < POLICY_NELEM(policy_sp6); i++)
		if (policy_prefix6_eq(policy_sp6[i].net, net,
		    prefix < policy_sp6[i].prefix ? prefix :
		    policy_sp6[i].prefix))
			sp |= policy_sp6[i].sp;
	return sp;
}

/* net/prefix shares an address with a prefix that carries IPv4 ones. */
bool
policy_overlap_tunnel6(const uint8_t *net, unsigned prefix)
{
	size_t	 i;

	for (i = 0; i < POLICY_NELEM(policy_tunnel6); i++)
		if (policy_prefix6_eq(policy_tunnel6[i].net, net,
		    prefix < policy_tunnel6[i].prefix ? prefix :
		    policy_tunnel6[i].prefix))
			return true;
	return false;
}

/* Every special range and carrier prefix, for tools that split the space. */
void
policy_special_nets(void (*fn)(void *, int, const uint8_t *, unsigned),
    void *arg)
{
	uint8_t		 b[4];
	size_t		 i;

	for (i = 0; i < POLICY_NELEM(policy_sp4); i++) {
		b[0] = (uint8_t)(policy_sp4[i].net >> 24);
		b[1] = (uint8_t)(policy_sp4[i].net >> 16);
		b[2] = (uint8_t)(policy_sp4[i].net >> 8);
		b[3] = (uint8_t)policy_sp4[i].net;
		fn(arg, AF_INET, b, (unsigned)__builtin_popcount(
		    policy_sp4[i].mask));
	}
	for (i = 0; i < POLICY_NELEM(policy_sp6); i++)
		fn(arg, AF_INET6, policy_sp6[i].net, policy_sp6[i].prefix);
	for (i = 0; i < POLICY_NELEM(policy_tunnel6); i++)
		fn(arg, AF_INET6, policy_tunnel6[i].net,
		    policy_tunnel6[i].prefix);
}
