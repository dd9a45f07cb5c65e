#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "proxy_proto.h"

#define V1_SIG		"PROXY "
#define V1_SIG_LEN	6
#define V2_SIG		"\r\n\r\n\0\r\nQUIT\n"
#define V2_SIG_LEN	12
#define V2_HDR_LEN	16
#define V2_CMD_LOCAL	0x0
#define V2_CMD_PROXY	0x1
#define V2_TCP4		0x11
#define V2_TCP6		0x21
#define V2_TCP4_LEN	12	/* two addresses, two ports */
#define V2_TCP6_LEN	36
#define V2_TLV_HDR	3	/* type, length (big endian) */
#define V2_TLV_CRC32C	0x03
#define V2_CRC32C_LEN	4
#define CRC32C_POLY	0x82f63b78u	/* Castagnoli, reflected */

_Static_assert(TG_PROXY_V1_MAX_BYTES <= TG_PROXY_MAX_BYTES &&
    TG_PROXY_V2_MAX_BYTES <= TG_PROXY_MAX_BYTES, "PROXY header bounds");

static int
proxy_bad(const char **why, const char *what)
{
	*why = what;
	return PROXY_PARSE_BAD;
}

/* p[0..n) is a prefix of sig[0..siglen), or sig a prefix of p. */
static bool
proxy_sig_matches(const uint8_t *p, size_t n, const char *sig, size_t siglen)
{
	return memcmp(p, sig, n < siglen ? n : siglen) == 0;
}

static void
proxy_set_addr(struct sockaddr_storage *ss, int family, const void *addr,
    uint16_t port_be)
{
	struct sockaddr_in	*s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, addr, 4);
		s4->sin_port = port_be;
	} else {
		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, addr, 16);
		s6->sin6_port = port_be;
	}
}

/* One v1 address token of len bytes: only the characters of its family. */
static int
proxy_v1_addr(const char *tok, size_t len, int family, uint8_t out[16])
{
	const char	*allowed = family == AF_INET ? "0123456789." :
	    "0123456789abcdefABCDEF:";
	char		 s[INET6_ADDRSTRLEN];

	if (len == 0 || len >= sizeof(s) || (family == AF_INET && len > 15))
		return -1;
	for (size_t i = 0; i < len; i++)
		if (tok[i] == '\0' || strchr(allowed, tok[i]) == NULL)
			return -1;
	memcpy(s, tok, len);
	s[len] = '\0';
	/* glibc refuses IPv4 numbers with leading zeros, as the spec does. */
	return inet_pton(family, s, out) == 1 ? 0 : -1;
}

/* Decimal 0-65535 without leading zeros. */
static int
proxy_v1_port(const char *tok, size_t len, uint16_t *port)
{
	unsigned	 v = 0;

	if (len == 0 || len > 5 || (len > 1 && tok[0] == '0'))
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (tok[i] < '0' || tok[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(tok[i] - '0');
	}
	if (v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

/* The line between "PROXY " and CR, split at single spaces. */
static int
proxy_v1_fields(const char *line, size_t len, struct proxy_header *h,
    const char **why)
{
	const char	*tok[5];
	size_t		 tlen[5], nt = 0, start = 0;
	uint8_t		 src[16], dst[16];
	uint16_t	 sport, dport;
	int		 family;

	if (len >= 7 && memcmp(line, "UNKNOWN", 7) == 0 &&
	    (len == 7 || line[7] == ' ')) {
		/* The spec has the receiver ignore the rest of this line. */
		h->local = true;
		return PROXY_PARSE_OK;
	}
	for (size_t i = 0; i <= len; i++) {
		if (i < len && line[i] != ' ')
			continue;
		if (nt == 5)
			return proxy_bad(why, "v1: more than 5 fields");
		tok[nt] = line + start;
		tlen[nt++] = i - start;
		start = i + 1;
	}
	if (nt != 5)
		return proxy_bad(why, "v1: fewer than 5 fields");
	if (tlen[0] == 4 && memcmp(tok[0], "TCP4", 4) == 0)
		family = AF_INET;
	else if (tlen[0] == 4 && memcmp(tok[0], "TCP6", 4) == 0)
		family = AF_INET6;
	else
		return proxy_bad(why, "v1: protocol is not TCP4, TCP6 or UNKNOWN");
	if (proxy_v1_addr(tok[1], tlen[1], family, src) == -1 ||
	    proxy_v1_addr(tok[2], tlen[2], family, dst) == -1)
		return proxy_bad(why, "v1: bad address");
	if (proxy_v1_port(tok[3], tlen[3], &sport) == -1 ||
	    proxy_v1_port(tok[4], tlen[4], &dport) == -1)
		return proxy_bad(why, "v1: bad port");
	proxy_set_addr(&h->src, family, src, htons(sport));
	proxy_set_addr(&h->dst, family, dst, htons(dport));
	return PROXY_PARSE_OK;
}

static int
proxy_v1(const uint8_t *p, size_t n, struct proxy_header *h, const char **why)
{
	size_t		 limit = n < TG_PROXY_V1_MAX_BYTES ? n :
	    TG_PROXY_V1_MAX_BYTES;
	const uint8_t	*lf;

	if ((lf = memchr(p, '\n', limit)) == NULL)
		return n >= TG_PROXY_V1_MAX_BYTES ? proxy_bad(why,
		    "v1: no CRLF in the first 107 bytes") :
		    PROXY_PARSE_INCOMPLETE;
	h->len = (size_t)(lf - p) + 1;
	if (h->len < V1_SIG_LEN + 2 || lf[-1] != '\r')
		return proxy_bad(why, "v1: line does not end in CRLF");
	if (memchr(p, '\r', h->len - 2) != NULL)
		return proxy_bad(why, "v1: CR inside the line");
	h->version = 1;
	return proxy_v1_fields((const char *)p + V1_SIG_LEN,
	    h->len - 2 - V1_SIG_LEN, h, why);
}

/*
 * CRC-32C of the whole header with the checksum field's 4 bytes counted as
 * zero, as the spec defines PP2_TYPE_CRC32C. Bit by bit: a header is at
 * most TG_PROXY_V2_MAX_BYTES, read once per connection.
 */
static uint32_t
proxy_crc32c(const uint8_t *hdr, size_t n, size_t crc_at)
{
	uint32_t	 crc = 0xffffffffu;

	for (size_t i = 0; i < n; i++) {
		crc ^= i >= crc_at && i < crc_at + V2_CRC32C_LEN ? 0 : hdr[i];
		for (int bit = 0; bit < 8; bit++)
			crc = crc >> 1 ^ (CRC32C_POLY & (0u - (crc & 1)));
	}
	return ~crc;
}

static int
proxy_v2_crc(const uint8_t *hdr, size_t n, const uint8_t *value)
{
	uint32_t	 sent = (uint32_t)value[0] << 24 | (uint32_t)value[1] << 16 |
	    (uint32_t)value[2] << 8 | value[3];

	return proxy_crc32c(hdr, n, (size_t)(value - hdr)) == sent ? 0 : -1;
}

/*
 * TLVs are skipped, but each must lie wholly inside the header; a CRC32C
 * TLV (at most one) must match, since a balancer that sends one vouches
 * for the header with it.
 */
static int
proxy_v2_tlvs(const uint8_t *hdr, size_t hdr_len, size_t off,
    const char **why)
{
	size_t		 vlen;
	bool		 crc_seen = false;
	const uint8_t	*v;

	while (off < hdr_len) {
		if (hdr_len - off < V2_TLV_HDR)
			return proxy_bad(why, "v2: truncated TLV");
		vlen = (size_t)hdr[off + 1] << 8 | hdr[off + 2];
		if (vlen > hdr_len - off - V2_TLV_HDR)
			return proxy_bad(why, "v2: TLV runs past the header");
		v = hdr + off + V2_TLV_HDR;
		if (hdr[off] == V2_TLV_CRC32C) {
			if (vlen != V2_CRC32C_LEN || crc_seen)
				return proxy_bad(why, "v2: CRC32C TLV not one "
				    "of 4 bytes");
			if (proxy_v2_crc(hdr, hdr_len, v) != 0)
				return proxy_bad(why, "v2: CRC32C does not "
				    "match the header");
			crc_seen = true;
		}
		off += V2_TLV_HDR + vlen;
	}
	return PROXY_PARSE_OK;
}

static int
proxy_v2(const uint8_t *p, size_t n, struct proxy_header *h, const char **why)
{
	const uint8_t	*a = p + V2_HDR_LEN;
	size_t		 len, alen, addrlen;
	uint16_t	 sport, dport;
	uint8_t		 cmd;
	int		 family;

	if (n < V2_HDR_LEN)
		return PROXY_PARSE_INCOMPLETE;
	if ((p[12] >> 4) != 2)
		return proxy_bad(why, "v2: version is not 2");
	cmd = p[12] & 0x0f;
	if (cmd != V2_CMD_LOCAL && cmd != V2_CMD_PROXY)
		return proxy_bad(why, "v2: command is neither LOCAL nor PROXY");
	len = (size_t)p[14] << 8 | p[15];
	if (len > TG_PROXY_V2_MAX_BYTES - V2_HDR_LEN)
		return proxy_bad(why, "v2: header longer than 536 bytes");
	if (n < V2_HDR_LEN + len)
		return PROXY_PARSE_INCOMPLETE;
	h->version = 2;
	h->len = V2_HDR_LEN + len;
	if (cmd == V2_CMD_LOCAL) {
		/* The spec: use the real endpoints, ignore the whole block. */
		h->local = true;
		return PROXY_PARSE_OK;
	}
	if (p[13] == V2_TCP4)
		alen = V2_TCP4_LEN;
	else if (p[13] == V2_TCP6)
		alen = V2_TCP6_LEN;
	else
		return proxy_bad(why, "v2: PROXY for a protocol other than TCP "
		    "over IPv4 or IPv6");
	if (len < alen)
		return proxy_bad(why, "v2: address block shorter than its family");
	family = alen == V2_TCP4_LEN ? AF_INET : AF_INET6;
	addrlen = family == AF_INET ? 4 : 16;
	/* Ports stay in network byte order, as sin_port holds them. */
	memcpy(&sport, a + 2 * addrlen, sizeof(sport));
	memcpy(&dport, a + 2 * addrlen + 2, sizeof(dport));
	proxy_set_addr(&h->src, family, a, sport);
	proxy_set_addr(&h->dst, family, a + addrlen, dport);
	return proxy_v2_tlvs(p, V2_HDR_LEN + len, V2_HDR_LEN + alen, why);
}

int
proxy_parse(const uint8_t *p, size_t n, unsigned versions,
    struct proxy_header *h, const char **why)
{
	int	 r;

	memset(h, 0, sizeof(*h));
	*why = "";
	if (n == 0)
		return PROXY_PARSE_INCOMPLETE;
	if (n > TG_PROXY_MAX_BYTES)
		n = TG_PROXY_MAX_BYTES;
	if (proxy_sig_matches(p, n, V1_SIG, V1_SIG_LEN)) {
		if (!(versions & PROXY_V1))
			return proxy_bad(why, "v1 header where only v2 is "
			    "accepted");
		r = n < V1_SIG_LEN ? PROXY_PARSE_INCOMPLETE : proxy_v1(p, n, h, why);
	} else if (proxy_sig_matches(p, n, V2_SIG, V2_SIG_LEN)) {
		if (!(versions & PROXY_V2))
			return proxy_bad(why, "v2 header where only v1 is "
			    "accepted");
		r = proxy_v2(p, n, h, why);
	} else
		return proxy_bad(why, "no PROXY protocol header");
	if (r != PROXY_PARSE_OK) {
		memset(h, 0, sizeof(*h));
		if (r == PROXY_PARSE_BAD && **why == '\0')
			*why = "malformed";
	}
	return r;
}
