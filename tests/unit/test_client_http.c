/*
 * libtunnelgate's HTTP side: address syntax, credentials, the CONNECT
 * request and the parser of the gateway's answer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "libtg_priv.h"

static int
split(const char *spec, char *host, char *port, const char *def)
{
	return tg_split_hostport(spec, host, TG_HOST_MAX + 1, port, 8, def);
}

static void
test_hostport_forms(void **state)
{
	char	 host[TG_HOST_MAX + 1], port[8];

	(void)state;
	assert_int_equal(split("gw.example.com", host, port, "443"), 0);
	assert_string_equal(host, "gw.example.com");
	assert_string_equal(port, "443");
	assert_int_equal(split("gw_1-a.test:8443", host, port, "443"), 0);
	assert_string_equal(host, "gw_1-a.test");
	assert_string_equal(port, "8443");
	assert_int_equal(split("[::1]:65535", host, port, "443"), 0);
	assert_string_equal(host, "::1");
	assert_string_equal(port, "65535");
	assert_int_equal(split("[fe80::1]", host, port, "443"), 0);
	assert_string_equal(host, "fe80::1");
	assert_string_equal(port, "443");
	assert_int_equal(split("::1", host, port, "443"), 0);
	assert_string_equal(host, "::1");
	assert_int_equal(split("10.0.0.1:1", host, port, NULL), 0);
	assert_string_equal(port, "1");
}

static void
test_hostport_rejects(void **state)
{
	static const char *const bad[] = {
		"", ":443", "gw:", "gw:0", "gw:65536", "gw:12a", "gw:+1",
		"gw:-1", "[::1", "[::1]x", "[::1]:", "[]:1", "[g::1]:1",
		"gw:443:1", "a b:1", "host\r\nX: y:1", "gw/x:1", "user@gw:1",
		"gw:000001",
	};
	char	 host[TG_HOST_MAX + 1], port[8], big[400];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (split(bad[i], host, port, "443") != -1)
			fail_msg("accepted \"%s\"", bad[i]);
	assert_int_equal(split("gw", host, port, NULL), -1);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(split(big, host, port, "443"), -1);
	memcpy(big + TG_HOST_MAX + 1, ":1", 3);
	assert_int_equal(split(big, host, port, "443"), -1);
	memcpy(big + TG_HOST_MAX, ":1", 3);
	assert_int_equal(split(big, host, port, "443"), 0);
	assert_int_equal(tg_split_hostport("gw:1", host, 2, port, 8, NULL), -1);
}

static void
test_targets_and_users(void **state)
{
	char	 user[TG_USER_MAX + 2];

	(void)state;
	assert_true(tg_valid_target("backend.test:22"));
	assert_true(tg_valid_target("[2001:db8::1]:3389"));
	assert_false(tg_valid_target("backend.test"));
	assert_false(tg_valid_target(NULL));
	assert_int_equal(tg_target_check("db:5432"), TG_OK);
	assert_int_equal(tg_target_check("db"), TG_ERR_INVALID);
	assert_true(tg_valid_user("alice"));
	assert_true(tg_valid_user("j\xc3\xbcrgen"));
	assert_false(tg_valid_user(""));
	assert_false(tg_valid_user("a:b"));
	assert_false(tg_valid_user("a\tb"));
	assert_false(tg_valid_user("a\x7f"));
	memset(user, 'u', sizeof(user) - 1);
	user[sizeof(user) - 1] = '\0';
	assert_false(tg_valid_user(user));
	user[TG_USER_MAX] = '\0';
	assert_true(tg_valid_user(user));
}

static void
test_auth_header(void **state)
{
	char	 out[TG_AUTH_MAX], pw[TG_PASSWORD_MAX + 2];
	size_t	 len;

	(void)state;
	assert_int_equal(tg_auth_header("alice", "Alice", out, sizeof(out),
	    &len), 0);
	assert_string_equal(out,
	    "Proxy-Authorization: Basic YWxpY2U6QWxpY2U=\r\n");
	assert_int_equal(len, strlen(out));
	assert_int_equal(tg_auth_header("a", "", out, sizeof(out), &len), 0);
	assert_string_equal(out, "Proxy-Authorization: Basic YTo=\r\n");
	assert_int_equal(tg_auth_header("alice", "Alice", out, 40, &len), -1);
	assert_int_equal(tg_auth_header("a:b", "x", out, sizeof(out), &len),
	    -1);
	memset(pw, 'p', sizeof(pw) - 1);
	pw[sizeof(pw) - 1] = '\0';
	assert_int_equal(tg_auth_header("alice", pw, out, sizeof(out), &len),
	    -1);
	pw[TG_PASSWORD_MAX] = '\0';
	assert_int_equal(tg_auth_header("alice", pw, out, sizeof(out), &len),
	    0);
}

static void
test_request(void **state)
{
	static const char auth[] = "Proxy-Authorization: Basic YTo=\r\n";
	char	 out[TG_REQUEST_MAX];
	size_t	 len;

	(void)state;
	assert_int_equal(tg_build_request("db:5432", auth, sizeof(auth) - 1,
	    out, sizeof(out), &len), 0);
	assert_string_equal(out, "CONNECT db:5432 HTTP/1.1\r\nHost: db:5432\r\n"
	    "Proxy-Authorization: Basic YTo=\r\nUser-Agent: tunnelgate/"
	    TG_VERSION "\r\n\r\n");
	assert_int_equal(len, strlen(out));
	assert_int_equal(tg_build_request("db:5432", NULL, 0, out, sizeof(out),
	    &len), 0);
	assert_null(strstr(out, "Proxy-Authorization"));
	assert_int_equal(tg_build_request("db:5432\r\nX: 1", NULL, 0, out,
	    sizeof(out), &len), -1);
	assert_int_equal(tg_build_request("db:5432", auth, sizeof(auth) - 1,
	    out, 40, &len), -1);
}

static int
parse(const char *s, size_t *headlen, int *status, char *reason, size_t rlen)
{
	return tg_parse_head(s, strlen(s), headlen, status, reason, rlen);
}

static void
test_head_complete(void **state)
{
	static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
	char	 buf[128], reason[TG_REASON_MAX];
	size_t	 headlen;
	int	 status;

	(void)state;
	snprintf(buf, sizeof(buf), "%sSSH-2.0-x", ok);
	assert_int_equal(parse(buf, &headlen, &status, reason, sizeof(reason)),
	    1);
	assert_int_equal(status, 200);
	assert_int_equal(headlen, sizeof(ok) - 1);
	assert_string_equal(reason, "Connection established");
	assert_int_equal(parse("HTTP/1.0 403\nConnection: close\n\n", &headlen,
	    &status, reason, sizeof(reason)), 1);
	assert_int_equal(status, 403);
	assert_string_equal(reason, "");
	assert_int_equal(parse("HTTP/1.1 407 Auth \x01\x1b[31mX\r\n"
	    "Proxy-Authenticate: Basic\r\n\r\n", &headlen, &status, reason,
	    sizeof(reason)), 1);
	assert_string_equal(reason, "Auth [31mX");
	assert_int_equal(parse("HTTP/1.1 504 Gateway Timeout\r\n\r\n", &headlen,
	    &status, reason, 5), 1);
	assert_string_equal(reason, "Gate");
}

static void
test_head_incomplete_and_bad(void **state)
{
	static const char ok[] = "HTTP/1.1 200 OK\r\n\r\n";
	static const char *const bad[] = {
		"SSH-2.0-OpenSSH\r\n\r\n", "S", "http/1.1 200 OK\r\n\r\n",
		"HTTP/2 200\r\n\r\n", "HTTP/1.2 200 OK\r\n\r\n",
		"HTTP/1.1 2000 x\r\n\r\n", "HTTP/1.1 20 x\r\n\r\n",
		"HTTP/1.1 099 x\r\n\r\n", "HTTP/1.1 600 x\r\n\r\n",
		"HTTP/1.1  200 x\r\n\r\n", "HTTP/1.1 2a0 x\r\n\r\n",
		"HTTP/1.1 200x\r\n\r\n", "HTTP/1.1\r\n\r\n",
	};
	char	 reason[TG_REASON_MAX];
	size_t	 headlen;
	int	 status;

	(void)state;
	/* Every proper prefix of a good head asks for more. */
	for (size_t n = 0; n < sizeof(ok) - 1; n++)
		assert_int_equal(tg_parse_head(ok, n, &headlen, &status, reason,
		    sizeof(reason)), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parse(bad[i], &headlen, &status, reason,
		    sizeof(reason)) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nX: y\r\n", &headlen,
	    &status, reason, sizeof(reason)), 0);
}

static void
test_status_codes(void **state)
{
	(void)state;
	assert_int_equal(tg_status_code(200), TG_OK);
	assert_int_equal(tg_status_code(204), TG_OK);
	assert_int_equal(tg_status_code(403), TG_ERR_FORBIDDEN);
	assert_int_equal(tg_status_code(407), TG_ERR_AUTH);
	assert_int_equal(tg_status_code(502), TG_ERR_BAD_GATEWAY);
	assert_int_equal(tg_status_code(503), TG_ERR_UNAVAILABLE);
	assert_int_equal(tg_status_code(504), TG_ERR_GATEWAY_TIMEOUT);
	assert_int_equal(tg_status_code(400), TG_ERR_REFUSED);
	assert_int_equal(tg_status_code(101), TG_ERR_REFUSED);
	assert_int_equal(tg_status_code(500), TG_ERR_REFUSED);
	assert_non_null(strstr(tg_status_hint(403), "policy"));
	assert_non_null(strstr(tg_status_hint(599), "refused"));
	for (int code = TG_OK; code >= TG_ERR_STATE; code--)
		assert_string_not_equal(tg_strerror(code), "unknown error");
	assert_string_equal(tg_strerror(1), "unknown error");
	assert_string_equal(tg_strerror(TG_ERR_STATE - 1), "unknown error");
}

static void
test_sanitize(void **state)
{
	char	 s[] = "a\r\nb\x1b[0m\x7f";

	(void)state;
	tg_sanitize(s);
	assert_string_equal(s, "a??b?[0m?");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hostport_forms),
		cmocka_unit_test(test_hostport_rejects),
		cmocka_unit_test(test_targets_and_users),
		cmocka_unit_test(test_auth_header),
		cmocka_unit_test(test_request),
		cmocka_unit_test(test_head_complete),
		cmocka_unit_test(test_head_incomplete_and_bad),
		cmocka_unit_test(test_status_codes),
		cmocka_unit_test(test_sanitize),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
