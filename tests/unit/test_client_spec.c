/*
 * The tunnelgate command line: -L specifications, durations, counts, and
 * the exit status for every library code.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cli.h"

static void
test_forward_forms(void **state)
{
	struct forward	 f;
	char		 err[256];

	(void)state;
	assert_int_equal(cli_parse_forward("8080:db.internal:5432", &f, err,
	    sizeof(err)), 0);
	assert_string_equal(f.bind_host, "127.0.0.1");
	assert_string_equal(f.bind_port, "8080");
	assert_string_equal(f.target, "db.internal:5432");
	assert_int_equal(cli_parse_forward("*:0:db:1", &f, err, sizeof(err)), 0);
	assert_string_equal(f.bind_host, "");
	assert_string_equal(f.bind_port, "0");
	assert_int_equal(cli_parse_forward(":9:db:1", &f, err, sizeof(err)), 0);
	assert_string_equal(f.bind_host, "");
	assert_int_equal(cli_parse_forward("10.1.2.3:22:h:22", &f, err,
	    sizeof(err)), 0);
	assert_string_equal(f.bind_host, "10.1.2.3");
	assert_int_equal(cli_parse_forward("[::1]:3389:[2001:db8::7]:3389", &f,
	    err, sizeof(err)), 0);
	assert_string_equal(f.bind_host, "::1");
	assert_string_equal(f.bind_port, "3389");
	assert_string_equal(f.target, "[2001:db8::7]:3389");
	assert_int_equal(cli_parse_forward("localhost:65535:h:1", &f, err,
	    sizeof(err)), 0);
	assert_string_equal(f.bind_host, "localhost");
}

static void
test_forward_rejects(void **state)
{
	static const char *const bad[] = {
		"", "8080", "8080:db", "a:1:b:2:3", "70000:db:22", "-1:db:22",
		"8080:db:0", "8080:db:x", "8080:db:", ":db:22", "[::1:8080:db:22",
		"[::1]x:8080:db:22", "8080:d b:22", "8080:db\r\n:22",
		"[]:8080:db:22", "8080:[::1:22",
	};
	struct forward	 f;
	char		 err[256], big[700];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (cli_parse_forward(bad[i], &f, err, sizeof(err)) != -1)
			fail_msg("accepted -L \"%s\"", bad[i]);
		assert_non_null(strstr(err, "-L "));
	}
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "1:", 2);
	memcpy(big + sizeof(big) - 4, ":22", 4);
	assert_int_equal(cli_parse_forward(big, &f, err, sizeof(err)), -1);
}

static void
test_seconds_and_counts(void **state)
{
	static const char *const bad[] = {
		"", "0", "-1", "0.0004", "86400.5", "1e9", "abc", "1s", "inf",
		"nan", " 1",
	};
	unsigned int	 ms;
	unsigned long	 n;

	(void)state;
	assert_int_equal(cli_parse_seconds("1", &ms), 0);
	assert_int_equal(ms, 1000);
	assert_int_equal(cli_parse_seconds("0.25", &ms), 0);
	assert_int_equal(ms, 250);
	assert_int_equal(cli_parse_seconds("0.001", &ms), 0);
	assert_int_equal(ms, 1);
	assert_int_equal(cli_parse_seconds("86400", &ms), 0);
	assert_int_equal(ms, 86400000);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (cli_parse_seconds(bad[i], &ms) != -1)
			fail_msg("accepted %s seconds", bad[i]);
	assert_int_equal(cli_parse_count("50", 1, 100, &n), 0);
	assert_int_equal(n, 50);
	assert_int_equal(cli_parse_count("0", 1, 100, &n), -1);
	assert_int_equal(cli_parse_count("101", 1, 100, &n), -1);
	assert_int_equal(cli_parse_count("-5", 1, 100, &n), -1);
	assert_int_equal(cli_parse_count("5x", 1, 100, &n), -1);
	assert_int_equal(cli_parse_count("99999999999999999999999", 1, 100, &n),
	    -1);
}

static void
test_exit_codes(void **state)
{
	static const struct { int code, status, exit; } map[] = {
		{ TG_OK, 200, 0 }, { TG_ERR_SYSTEM, 0, 1 },
		{ TG_ERR_INVALID, 0, 2 }, { TG_ERR_FILE, 0, 2 },
		{ TG_ERR_RESOLVE, 0, 3 }, { TG_ERR_CONNECT, 0, 4 },
		{ TG_ERR_TLS, 0, 5 }, { TG_ERR_TIMEOUT, 0, 6 },
		{ TG_ERR_PROTOCOL, 0, 7 }, { TG_ERR_CUT, 0, 8 },
		{ TG_ERR_REFUSED, 400, 40 }, { TG_ERR_REFUSED, 431, 40 },
		{ TG_ERR_FORBIDDEN, 403, 43 }, { TG_ERR_AUTH, 407, 47 },
		{ TG_ERR_REFUSED, 500, 50 }, { TG_ERR_BAD_GATEWAY, 502, 52 },
		{ TG_ERR_UNAVAILABLE, 503, 53 },
		{ TG_ERR_GATEWAY_TIMEOUT, 504, 54 }, { TG_ERR_STATE, 0, 1 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (cli_exit_code(map[i].code, map[i].status) != map[i].exit)
			fail_msg("code %d status %d: exit %d, want %d",
			    map[i].code, map[i].status,
			    cli_exit_code(map[i].code, map[i].status),
			    map[i].exit);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forward_forms),
		cmocka_unit_test(test_forward_rejects),
		cmocka_unit_test(test_seconds_and_counts),
		cmocka_unit_test(test_exit_codes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
