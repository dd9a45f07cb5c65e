/* The PROXY protocol header parser: the spec's forms and its refusals. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "netaddr.h"
#include "proxy_proto.h"

#define TLS_HELLO	"\x16\x03\x01\x02\x00\x01"
#define V2_SIG		"\r\n\r\n\0\r\nQUIT\n"

static int
parse_str(const char *s, unsigned versions, struct proxy_header *h,
    const char **why)
{
	return proxy_parse((const uint8_t *)s, strlen(s), versions, h, why);
}

static void
assert_addr(const struct sockaddr_storage *ss, const char *want)
{
	char	 got[NETADDR_STR_MAX];

	netaddr_format((const struct sockaddr *)ss, got, sizeof(got));
	assert_string_equal(got, want);
}

static void
test_v1_tcp4_names_the_client_and_stops_at_crlf(void **state)
{
	const char		*line = "PROXY TCP4 192.168.0.1 192.168.0.11 "
	    "56324 443\r\n";
	char			 buf[128];
	struct proxy_header	 h;
	const char		*why;

	(void)state;
	memcpy(buf, line, strlen(line));
	memcpy(buf + strlen(line), TLS_HELLO, 6);
	assert_int_equal(proxy_parse((uint8_t *)buf, strlen(line) + 6, PROXY_V1,
	    &h, &why), PROXY_PARSE_OK);
	assert_int_equal(h.version, 1);
	assert_false(h.local);
	assert_int_equal(h.len, strlen(line));
	assert_addr(&h.src, "192.168.0.1:56324");
	assert_addr(&h.dst, "192.168.0.11:443");
}

static void
test_v1_tcp6_longest_line_parses(void **state)
{
	const char		*line = "PROXY TCP6 "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe 65535 65535\r\n";
	struct proxy_header	 h;
	const char		*why;

	(void)state;
	assert_int_equal(strlen(line), 104);
	assert_int_equal(parse_str(line, PROXY_ANY, &h, &why), PROXY_PARSE_OK);
	assert_addr(&h.src, "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
	assert_addr(&h.dst, "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe]:65535");
	assert_int_equal(parse_str("PROXY TCP6 2001:db8::1 ::1 0 8443\r\n",
	    PROXY_ANY, &h, &why), PROXY_PARSE_OK);
	assert_addr(&h.src, "[2001:db8::1]:0");
}

static void
test_v1_unknown_is_the_balancers_own_connection(void **state)
{
	struct proxy_header	 h;
	const char		*why;

	(void)state;
	assert_int_equal(parse_str("PROXY UNKNOWN\r\n", PROXY_V1, &h, &why),
	    PROXY_PARSE_OK);
	assert_true(h.local);
	assert_int_equal(h.len, 15);
	assert_int_equal(parse_str("PROXY UNKNOWN ffff:f::f ffff:f::f 65535 "
	    "65535\r\n", PROXY_V1, &h, &why), PROXY_PARSE_OK);
	assert_true(h.local);
	assert_int_equal(h.src.ss_family, 0);
}

static void
test_v1_every_prefix_is_incomplete(void **state)
{
	const char		*line = "PROXY TCP4 10.1.2.3 10.0.0.1 4000 443\r\n";
	struct proxy_header	 h;
	const char		*why;

	(void)state;
	for (size_t n = 0; n < strlen(line); n++)
		assert_int_equal(proxy_parse((const uint8_t *)line, n,
		    PROXY_ANY, &h, &why), PROXY_PARSE_INCOMPLETE);
}

static void
test_v1_refuses_what_the_spec_does_not_allow(void **state)
{
	static const char *const bad[] = {
		"PROXY TCP4 10.1.2.3 10.0.0.1 4000 443\n",	/* bare LF */
		"PROXY TCP4 10.1.2.3 10.0.0.1 4000 443\r\r\n",
		"PROXY TCP4 10.1.2.3  10.0.0.1 4000 443\r\n",	/* two spaces */
		"PROXY tcp4 10.1.2.3 10.0.0.1 4000 443\r\n",
		"PROXY TCP5 10.1.2.3 10.0.0.1 4000 443\r\n",
		"PROXY TCP4 010.1.2.3 10.0.0.1 4000 443\r\n",	/* leading 0 */
		"PROXY TCP4 10.1.2.3 10.0.0.1 04000 443\r\n",
		"PROXY TCP4 10.1.2.3 10.0.0.1 65536 443\r\n",
		"PROXY TCP4 10.1.2.3 10.0.0.1 -1 443\r\n",
		"PROXY TCP4 10.1.2 10.0.0.1 4000 443\r\n",
		"PROXY TCP4 ::1 10.0.0.1 4000 443\r\n",		/* wrong family */
		"PROXY TCP6 10.1.2.3 ::1 4000 443\r\n",
		"PROXY TCP6 ::ffff:10.1.2.3 ::1 4000 443\r\n",	/* dotted in v6 */
		"PROXY TCP4 10.1.2.3 10.0.0.1 4000\r\n",
		"PROXY TCP4 10.1.2.3 10.0.0.1 4000 443 7\r\n",
		"PROXY TCP4 10.1.2.3 10.0.0.1 4000 443 \r\n",
		"PROXY UNKNOWNX\r\n",
		"PROXY \r\n",
		"PROXYTCP4 10.1.2.3 10.0.0.1 4000 443\r\n",
	};
	struct proxy_header	 h;
	const char		*why;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse_str(bad[i], PROXY_ANY, &h, &why) != PROXY_PARSE_BAD)
			fail_msg("accepted: %s", bad[i]);
		assert_true(why[0] != '\0');
	}
}

static void
test_v1_without_crlf_in_107_bytes_is_refused(void **state)
{
	char			 buf[200];
	struct proxy_header	 h;
	const char		*why;

	(void)state;
	memset(buf, 'f', sizeof(buf));
	memcpy(buf, "PROXY UNKNOWN ", 14);
	assert_int_equal(proxy_parse((uint8_t *)buf, 106, PROXY_V1, &h, &why),
	    PROXY_PARSE_INCOMPLETE);
	assert_int_equal(proxy_parse((uint8_t *)buf, 107, PROXY_V1, &h, &why),
	    PROXY_PARSE_BAD);
	/* The worst case of the spec is exactly 107 with its CRLF. */
	memcpy(buf + 105, "\r\n", 2);
	assert_int_equal(proxy_parse((uint8_t *)buf, sizeof(buf), PROXY_V1, &h,
	    &why), PROXY_PARSE_OK);
	assert_int_equal(h.len, 107);
}

/* A v2 header: 16 bytes, then the block; returns the total length. */
static size_t
v2(uint8_t *out, uint8_t ver_cmd, uint8_t fam, const void *block,
    size_t blen)
{
	memcpy(out, V2_SIG, 12);
	out[12] = ver_cmd;
	out[13] = fam;
	out[14] = (uint8_t)(blen >> 8);
	out[15] = (uint8_t)blen;
	memcpy(out + 16, block, blen);
	return 16 + blen;
}

static const uint8_t tcp4_block[] = {
	203, 0, 113, 7,  192, 0, 2, 1,  0xd4, 0x31,  0x20, 0xfb,
	/* TLVs: NOOP of 3 bytes, UNIQUE_ID of 0 */
	0x04, 0, 3, 0, 0, 0,  0x05, 0, 0,
};

/* tcp4_block's addresses, then a NOOP TLV announcing vlen bytes. */
static void
tcp4_with_noop(uint8_t *block, size_t size, size_t vlen)
{
	memset(block, 0, size);
	memcpy(block, tcp4_block, 12);
	block[12] = 0x04;
	block[13] = (uint8_t)(vlen >> 8);
	block[14] = (uint8_t)vlen;
}

static void
test_v2_proxy_tcp4_skips_tlvs(void **state)
{
	uint8_t			 buf[128];
	size_t			 n;
	struct proxy_header	 h;
	const char		*why;

	(void)state;
	n = v2(buf, 0x21, 0x11, tcp4_block, sizeof(tcp4_block));
	memcpy(buf + n, TLS_HELLO, 6);
	assert_int_equal(proxy_parse(buf, n + 6, PROXY_V2, &h, &why),
	    PROXY_PARSE_OK);
	assert_int_equal(h.version, 2);
	assert_false(h.local);
	assert_int_equal(h.len, n);
	assert_addr(&h.src, "203.0.113.7:54321");
	assert_addr(&h.dst, "192.0.2.1:8443");
	for (size_t k = 0; k < n; k++)
		assert_int_equal(proxy_parse(buf, k, PROXY_V2, &h, &why),
		    PROXY_PARSE_INCOMPLETE);
}

static void
test_v2_proxy_tcp6(void **state)
{
	uint8_t			 block[36] = { 0x20, 0x01, 0x0d, 0xb8 };
	uint8_t			 buf[64];
	struct proxy_header	 h;
	const char		*why;

	(void)state;
	block[15] = 9;
	block[31] = 1;
	block[32] = 0x01;
	block[33] = 0x02;
	block[34] = 0x01;
	block[35] = 0xbb;
	assert_int_equal(proxy_parse(buf, v2(buf, 0x21, 0x21, block,
	    sizeof(block)), PROXY_ANY, &h, &why), PROXY_PARSE_OK);
	assert_addr(&h.src, "[2001:db8::9]:258");
	assert_addr(&h.dst, "[::1]:443");
}

static void
test_v2_local_is_accepted_whatever_its_block(void **state)
{
	uint8_t			 buf[64];
	struct proxy_header	 h;
	const char		*why;

	(void)state;
	assert_int_equal(proxy_parse(buf, v2(buf, 0x20, 0x00, "", 0),
	    PROXY_V2, &h, &why), PROXY_PARSE_OK);
	assert_true(h.local);
	assert_int_equal(h.len, 16);
	assert_int_equal(proxy_parse(buf, v2(buf, 0x20, 0x11, tcp4_block, 12),
	    PROXY_V2, &h, &why), PROXY_PARSE_OK);
	assert_true(h.local);
	assert_int_equal(h.len, 28);
	assert_int_equal(h.src.ss_family, 0);
}

static void
test_v2_refuses_what_the_spec_does_not_allow(void **state)
{
	static const struct {
		uint8_t		 ver_cmd, fam;
		size_t		 blen;
		const char	*what;
	} bad[] = {
		{ 0x11, 0x11, 12, "version 1 in a v2 header" },
		{ 0x22, 0x11, 12, "command 2" },
		{ 0x2f, 0x11, 12, "command 15" },
		{ 0x21, 0x12, 12, "UDP" },
		{ 0x21, 0x31, 12, "UNIX" },
		{ 0x21, 0x00, 12, "PROXY with AF_UNSPEC" },
		{ 0x21, 0x11, 11, "address block too short" },
		{ 0x21, 0x21, 12, "IPv6 in 12 bytes" },
		{ 0x21, 0x11, 13, "a TLV of 1 byte" },
		{ 0x21, 0x11, 14, "a TLV of 2 bytes" },
		{ 0x21, 0x11, 20, "a TLV whose length runs past the end" },
	};
	uint8_t			 block[64], buf[128];
	struct proxy_header	 h;
	const char		*why;

	(void)state;
	/* 7 bytes of value, 5 present at blen 20 */
	tcp4_with_noop(block, sizeof(block), 7);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (proxy_parse(buf, v2(buf, bad[i].ver_cmd, bad[i].fam, block,
		    bad[i].blen), PROXY_ANY, &h, &why) != PROXY_PARSE_BAD)
			fail_msg("accepted: %s", bad[i].what);
}

/*
 * tcp4_block's addresses and a CRC32C TLV. The checksum was computed apart
 * from the parser (Python, bit by bit, checked against CRC-32C("123456789")
 * = 0xe3069283); HAProxy's own is checked in test_proxy_protocol.py.
 */
static const uint8_t tcp4_crc_block[] = {
	203, 0, 113, 7,  192, 0, 2, 1,  0xd4, 0x31,  0x20, 0xfb,
	0x03, 0, 4,  0x0b, 0x16, 0xdd, 0x9b,
};

static void
test_v2_crc32c_must_match(void **state)
{
	uint8_t			 block[sizeof(tcp4_crc_block) + 7], buf[64];
	size_t			 n;
	struct proxy_header	 h;
	const char		*why;

	(void)state;
	n = v2(buf, 0x21, 0x11, tcp4_crc_block, sizeof(tcp4_crc_block));
	assert_int_equal(proxy_parse(buf, n, PROXY_V2, &h, &why),
	    PROXY_PARSE_OK);
	assert_int_equal(h.len, n);
	/* Any changed bit of the header: the client port here. */
	buf[16 + 9] ^= 0x01;
	assert_int_equal(proxy_parse(buf, n, PROXY_V2, &h, &why),
	    PROXY_PARSE_BAD);
	assert_string_equal(why, "v2: CRC32C does not match the header");
	/* A second checksum TLV, even a right one, and one of 3 bytes. */
	memcpy(block, tcp4_crc_block, sizeof(tcp4_crc_block));
	memcpy(block + sizeof(tcp4_crc_block), tcp4_crc_block + 12, 7);
	n = v2(buf, 0x21, 0x11, block, sizeof(block));
	assert_int_equal(proxy_parse(buf, n, PROXY_V2, &h, &why),
	    PROXY_PARSE_BAD);
	memcpy(block, tcp4_crc_block, sizeof(tcp4_crc_block));
	block[14] = 3;
	n = v2(buf, 0x21, 0x11, block, sizeof(tcp4_crc_block) - 1);
	assert_int_equal(proxy_parse(buf, n, PROXY_V2, &h, &why),
	    PROXY_PARSE_BAD);
	assert_string_equal(why, "v2: CRC32C TLV not one of 4 bytes");
}

static void
test_v2_length_is_bounded(void **state)
{
	uint8_t			 block[TG_PROXY_V2_MAX_BYTES], buf[1024];
	size_t			 blen = TG_PROXY_V2_MAX_BYTES - 16;
	struct proxy_header	 h;
	const char		*why;

	(void)state;
	/* One NOOP TLV filling the rest: the largest header accepted. */
	tcp4_with_noop(block, sizeof(block), blen - 15);
	assert_int_equal(proxy_parse(buf, v2(buf, 0x21, 0x11, block, blen),
	    PROXY_V2, &h, &why), PROXY_PARSE_OK);
	assert_int_equal(h.len, TG_PROXY_V2_MAX_BYTES);
	/* One more byte is refused as soon as the length is read. */
	v2(buf, 0x21, 0x11, block, blen + 1);
	assert_int_equal(proxy_parse(buf, 16, PROXY_V2, &h, &why),
	    PROXY_PARSE_BAD);
}

static void
test_only_the_listeners_versions_and_nothing_else(void **state)
{
	uint8_t			 buf[64];
	size_t			 n = v2(buf, 0x20, 0x00, "", 0);
	struct proxy_header	 h;
	const char		*why;

	(void)state;
	assert_int_equal(proxy_parse(buf, n, PROXY_V1, &h, &why),
	    PROXY_PARSE_BAD);
	assert_int_equal(parse_str("PROXY UNKNOWN\r\n", PROXY_V2, &h, &why),
	    PROXY_PARSE_BAD);
	/* A client that talks TLS straight away has sent no header. */
	assert_int_equal(parse_str(TLS_HELLO, PROXY_ANY, &h, &why),
	    PROXY_PARSE_BAD);
	assert_string_equal(why, "no PROXY protocol header");
	assert_int_equal(parse_str("CONNECT a:1 HTTP/1.1\r\n", PROXY_ANY, &h,
	    &why), PROXY_PARSE_BAD);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v1_tcp4_names_the_client_and_stops_at_crlf),
		cmocka_unit_test(test_v1_tcp6_longest_line_parses),
		cmocka_unit_test(test_v1_unknown_is_the_balancers_own_connection),
		cmocka_unit_test(test_v1_every_prefix_is_incomplete),
		cmocka_unit_test(test_v1_refuses_what_the_spec_does_not_allow),
		cmocka_unit_test(test_v1_without_crlf_in_107_bytes_is_refused),
		cmocka_unit_test(test_v2_proxy_tcp4_skips_tlvs),
		cmocka_unit_test(test_v2_proxy_tcp6),
		cmocka_unit_test(test_v2_local_is_accepted_whatever_its_block),
		cmocka_unit_test(test_v2_refuses_what_the_spec_does_not_allow),
		cmocka_unit_test(test_v2_crc32c_must_match),
		cmocka_unit_test(test_v2_length_is_bounded),
		cmocka_unit_test(test_only_the_listeners_versions_and_nothing_else),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
