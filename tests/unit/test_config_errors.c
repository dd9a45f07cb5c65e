/*
 * config_load(): one test per kind of bad value of a setting (type, range,
 * duration, listener, TLS, auth, privsep, log), each checking that the
 * message names the file, the line and the setting and says what to use,
 * and that the limits themselves are accepted.
 */
#include <sys/socket.h>

#include <openssl/tls1.h>

#include "config_fixture.h"
#include "proxy_proto.h"

struct bad_case {
	const char	*text;
	unsigned	 line;		/* 0: the message has no line */
	const char	*msg;		/* after "FILE:LINE: " */
};

static void
run_bad_cases(struct fx *fx, const struct bad_case *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (load(fx, c[i].text) != -1)
			fail_msg("accepted:\n%s", c[i].text);
		expect_msg(fx, c[i].line, c[i].msg);
	}
}

static void
test_wrong_types_name_the_expected_type(void **state)
{
	struct fx	*fx = *state;

	assert_int_equal(load(fx, MINIMAL
	    "workers = { gate = \"2\"; };\n"
	    "log = { syslog = 1; };\n"
	    "timeouts = { idle = \"1h\"; };\n"
	    "cache = 5;\n"
	    "policy = [ \"a\" ];\n"
	    "limits = { header_bytes = 8192.0; };\n"), -1);
	expect_msg(fx, 3, "workers.gate: expected an integer (no quotes, no "
	    "decimal point), found a string; fix the value");
	expect_msg(fx, 4, "log.syslog: expected a boolean (true or false, no "
	    "quotes), found an integer");
	expect_msg(fx, 5, "timeouts.idle: expected a number of seconds");
	expect_msg(fx, 6, "cache: expected a group { ... }, found an integer");
	expect_msg(fx, 7, "policy: expected a string in double quotes or a "
	    "group { ... }, found an array");
	expect_msg(fx, 8, "limits.header_bytes: expected an integer");
	assert_int_equal(count_lines(fx->log), 6);

	/* The missing-listener error would only repeat the type error. */
	assert_int_equal(load(fx, TLS "listen = { port = 1; };\n"), -1);
	expect_msg(fx, 2, "listen: expected a list ( { ... }, ... ), found a "
	    "group");
	assert_int_equal(count_lines(fx->log), 1);
	assert_int_equal(load(fx, TLS "listen = ( 8443 );\n"), -1);
	expect_msg(fx, 2, "listen[0]: expected a group");
}

static void
test_integer_ranges_are_enforced(void **state)
{
	static const struct bad_case cases[] = {
		{ TLS "listen = ( { port = 0; } );", 2,
		    "listen[0].port: 0 is out of range; use a value from 1 to "
		    "65535" },
		{ TLS "listen = ( { port = 65536; } );", 2,
		    "listen[0].port: 65536 is out of range" },
		{ TLS "listen = ( { port = 4294967297L; } );", 2,
		    "listen[0].port: 4294967297 is out of range" },
		{ TLS "listen = ( { backlog = 0; } );", 2,
		    "listen[0].backlog: 0 is out of range; use a value from 1 "
		    "to 65535" },
		{ TLS "listen = ( { backlog = 65536; } );", 2,
		    "listen[0].backlog: 65536 is out of range" },
		{ MINIMAL "workers = { gate = 0; };", 3,
		    "workers.gate: 0 is out of range; use a value from 1 to 64" },
		{ MINIMAL "workers = { gate = 65; };", 3, "workers.gate: 65" },
		{ MINIMAL "workers = { authenticator = 0; };", 3,
		    "workers.authenticator: 0 is out of range; use a value "
		    "from 1 to 256" },
		{ MINIMAL "workers = { authenticator = 257; };", 3,
		    "workers.authenticator: 257 is out of range" },
		{ MINIMAL "limits = { connections = 0; };", 3,
		    "limits.connections: 0 is out of range; use a value from 1 "
		    "to 1000000" },
		{ MINIMAL "limits = { connections = 1000001; };", 3,
		    "limits.connections: 1000001" },
		{ MINIMAL "limits = { connections = 9999999999L; };", 3,
		    "limits.connections: 9999999999 is out of range" },
		{ MINIMAL "limits = { header_bytes = 1023; };", 3,
		    "limits.header_bytes: 1023 is out of range; use a value "
		    "from 1024 to 65536" },
		{ MINIMAL "limits = { header_bytes = 65537; };", 3,
		    "limits.header_bytes: 65537" },
		{ MINIMAL "limits = { buffer_bytes = 16383; };", 3,
		    "limits.buffer_bytes: 16383 is out of range; use a value "
		    "from 16384 to 16777216" },
		{ MINIMAL "limits = { buffer_bytes = 16777217; };", 3,
		    "limits.buffer_bytes: 16777217" },
		{ MINIMAL "limits = { pending_auth = 0; };", 3,
		    "limits.pending_auth: 0 is out of range; use a value from 1 "
		    "to 100000" },
		{ MINIMAL "limits = { pending_auth = 100001; };", 3,
		    "limits.pending_auth: 100001" },
		{ MINIMAL "cache = { max_entries = -1; };", 3,
		    "cache.max_entries: -1 is out of range; use a value from 0 "
		    "to 1048576" },
		{ MINIMAL "cache = { max_entries = 1048577; };", 3,
		    "cache.max_entries: 1048577" },
	};

	run_bad_cases(*state, cases, sizeof(cases) / sizeof(cases[0]));
}

static void
test_integer_range_limits_are_inclusive(void **state)
{
	struct fx	*fx = *state;
	struct config	*c = fx->cfg;

	expect_ok(fx, load(fx, TLS
	    "listen = ( { address = \"::\"; port = 65535; backlog = 65535; },\n"
	    "\t{ address = \"0.0.0.0\"; port = 1; backlog = 1; } );\n"
	    "workers = { gate = 64; authenticator = 256; };\n"
	    "limits = { connections = 1000000; header_bytes = 65536;\n"
	    "\tbuffer_bytes = 16777216; pending_auth = 100000; };\n"
	    "cache = { max_entries = 1048576; };\n"));
	assert_int_equal(c->n_listeners, 2);
	assert_string_equal(c->listeners[0].address, "::");
	assert_int_equal(c->listeners[0].port, 65535);
	assert_int_equal(c->listeners[0].backlog, 65535);
	assert_string_equal(c->listeners[1].address, "0.0.0.0");
	assert_int_equal(c->listeners[1].port, 1);
	assert_int_equal(c->listeners[1].backlog, 1);
	assert_int_equal(c->gate_workers, 64);
	assert_int_equal(c->auth_workers, 256);
	assert_int_equal(c->limit_connections, 1000000);
	assert_int_equal(c->limit_header_bytes, 65536);
	assert_int_equal(c->limit_buffer_bytes, 16777216);
	assert_int_equal(c->limit_pending_auth, 100000);
	assert_int_equal(c->cache_max_entries, 1048576);

	expect_ok(fx, load(fx, MINIMAL
	    "workers = { gate = 1; authenticator = 1; };\n"
	    "limits = { connections = 1; header_bytes = 1024;\n"
	    "\tbuffer_bytes = 16384; pending_auth = 1; };\n"
	    "cache = { max_entries = 0; };\n"));
	assert_int_equal(c->gate_workers, 1);
	assert_int_equal(c->auth_workers, 1);
	assert_int_equal(c->limit_connections, 1);
	assert_int_equal(c->limit_header_bytes, 1024);
	assert_int_equal(c->limit_buffer_bytes, 16384);
	assert_int_equal(c->limit_pending_auth, 1);
	assert_int_equal(c->cache_max_entries, 0);
}

static void
test_durations_are_stored_in_ms(void **state)
{
	struct fx	*fx = *state;
	struct config	*c = fx->cfg;

	expect_ok(fx, load(fx, MINIMAL
	    "timeouts = { handshake = 2.5; request = 7; auth = 0.0001;\n"
	    "\tdns = 1.0006; connect = 3600; idle = 604800; drain = 86400.0; };\n"
	    "cache = { positive_ttl = 0; negative_ttl = 86400; };\n"));
	assert_int_equal(c->timeout_handshake_ms, 2500);
	assert_int_equal(c->timeout_request_ms, 7000);
	assert_int_equal(c->timeout_auth_ms, 1);
	assert_int_equal(c->timeout_dns_ms, 1001);
	assert_int_equal(c->timeout_connect_ms, 3600000);
	assert_int_equal(c->timeout_idle_ms, 604800000);
	assert_int_equal(c->timeout_drain_ms, 86400000);
	assert_int_equal(c->cache_positive_ttl_ms, 0);
	assert_int_equal(c->cache_negative_ttl_ms, 86400000);
}

static void
test_duration_bounds_are_enforced(void **state)
{
	static const struct bad_case cases[] = {
		{ MINIMAL "timeouts = { handshake = 0; };", 3,
		    "timeouts.handshake: 0 seconds is out of range; use a "
		    "duration more than 0 and at most 3600 seconds" },
		{ MINIMAL "timeouts = { request = 3600.5; };", 3,
		    "timeouts.request: 3600.5 seconds is out of range" },
		{ MINIMAL "timeouts = { auth = -1.0; };", 3,
		    "timeouts.auth: -1 seconds is out of range" },
		{ MINIMAL "timeouts = { dns = 0.0; };", 3,
		    "timeouts.dns: 0 seconds is out of range" },
		{ MINIMAL "timeouts = { connect = 3601; };", 3,
		    "timeouts.connect: 3601 seconds" },
		{ MINIMAL "timeouts = { idle = 604801; };", 3,
		    "timeouts.idle: 604801 seconds is out of range; use a "
		    "duration more than 0 and at most 604800 seconds" },
		{ MINIMAL "timeouts = { drain = 86401; };", 3,
		    "timeouts.drain: 86401 seconds is out of range; use a "
		    "duration more than 0 and at most 86400 seconds" },
		{ MINIMAL "auth = { recheck_interval = 86401; };", 3,
		    "auth.recheck_interval: 86401 seconds is out of range; use "
		    "a duration from 0 to 86400 seconds" },
		{ MINIMAL "auth = { recheck_interval = 0.5; };", 3,
		    "auth.recheck_interval: is under 1000 ms; use 0 (off) or at "
		    "least 1 second" },
		{ MINIMAL "timeouts = { idle = 1e999; };", 3,
		    "timeouts.idle: inf seconds is out of range" },
		{ MINIMAL "cache = { positive_ttl = -1; };", 3,
		    "cache.positive_ttl: -1 seconds is out of range; use a "
		    "duration from 0 to 86400 seconds" },
		{ MINIMAL "cache = { negative_ttl = 86400.5; };", 3,
		    "cache.negative_ttl: 86400.5 seconds" },
		{ MINIMAL "workers = { restart_delay = 0.05; };", 3,
		    "workers.restart_delay: 0.05 seconds is out of range; use a "
		    "duration from 0.1 to 30 seconds" },
		{ MINIMAL "workers = { restart_delay = 31; };", 3,
		    "workers.restart_delay: 31 seconds is out of range; use a "
		    "duration from 0.1 to 30 seconds" },
		{ MINIMAL "workers = { restart_delay = 0; };", 3,
		    "workers.restart_delay: 0 seconds is out of range; use a "
		    "duration from 0.1 to 30 seconds" },
		{ MINIMAL "auth = { failure_delay = 60.5; };", 3,
		    "auth.failure_delay: 60.5 seconds is out of range; use a "
		    "duration from 0 to 60 seconds" },
		{ MINIMAL "throttle = { lockout_max = 86401; };", 3,
		    "throttle.lockout_max: 86401 seconds is out of range" },
		{ MINIMAL "throttle = { lockout = 600; lockout_max = 60; };", 3,
		    "throttle.lockout_max: is shorter than throttle.lockout" },
		{ MINIMAL "limits = { ipv6_prefix = 8; };", 3,
		    "limits.ipv6_prefix: 8 is out of range" },
	};

	run_bad_cases(*state, cases, sizeof(cases) / sizeof(cases[0]));
}

static void
test_listener_address_must_be_numeric(void **state)
{
	static const struct bad_case cases[] = {
		{ TLS "listen = ( { address = \"localhost\"; } );", 2,
		    "listen[0].address: \"localhost\" is not a numeric IPv4 or "
		    "IPv6 address; use one such as 127.0.0.1" },
		{ TLS "listen = ( { address = \"1.2.3.4.5\"; } );", 2,
		    "listen[0].address: \"1.2.3.4.5\" is not a numeric" },
		{ TLS "listen = ( { address = \"fe80::1%eth0\"; } );", 2,
		    "listen[0].address: \"fe80::1%eth0\" is not a numeric" },
		{ TLS "listen = ( { address = \"\"; } );", 2,
		    "listen[0].address: \"\" is not a numeric" },
	};
	struct fx	*fx = *state;
	char		 addr[65];

	run_bad_cases(fx, cases, sizeof(cases) / sizeof(cases[0]));
	memset(addr, '1', sizeof(addr) - 1);
	addr[sizeof(addr) - 1] = '\0';
	assert_int_equal(loadf(fx, TLS "listen = ( { address = \"%s\"; } );\n",
	    addr), -1);
	expect_msg(fx, 2, "listen[0].address: is 64 bytes long; the limit is "
	    "63 bytes, shorten it");
	addr[63] = '\0';
	assert_int_equal(loadf(fx, TLS "listen = ( { address = \"%s\"; } );\n",
	    addr), -1);
	expect_msg(fx, 2, "listen[0].address: \"1111");
}

static void
test_proxy_protocol_listener_is_stored(void **state)
{
	struct fx		*fx = *state;
	const struct config_listener *l;

	expect_ok(fx, load(fx, TLS
	    "listen = (\n"
	    "  { address = \"127.0.0.1\"; port = 8443; },\n"
	    "  { address = \"0.0.0.0\"; port = 8444; proxy_protocol = \"v2\";\n"
	    "    proxy_trusted = [\"10.1.2.3\", \"192.168.7.9/24\", "
	    "\"2001:db8::/32\"]; },\n"
	    "  { port = 8445; proxy_protocol = \"any\"; "
	    "proxy_trusted = [\"::1\"]; }\n"
	    ");\n"));
	assert_int_equal(fx->cfg->listeners[0].proxy_protocol, 0);
	assert_int_equal(fx->cfg->listeners[0].n_proxy_trusted, 0);
	l = &fx->cfg->listeners[1];
	assert_int_equal(l->proxy_protocol, PROXY_V2);
	assert_int_equal(l->n_proxy_trusted, 3);
	assert_int_equal(l->proxy_trusted[0].family, AF_INET);
	assert_int_equal(l->proxy_trusted[0].prefix, 32);
	/* Host bits are cleared, so matching compares networks. */
	assert_memory_equal(l->proxy_trusted[1].addr, "\xc0\xa8\x07\x00", 4);
	assert_int_equal(l->proxy_trusted[1].prefix, 24);
	assert_int_equal(l->proxy_trusted[2].family, AF_INET6);
	assert_int_equal(l->proxy_trusted[2].prefix, 32);
	assert_int_equal(fx->cfg->listeners[2].proxy_protocol, PROXY_ANY);
	assert_int_equal(fx->cfg->listeners[2].proxy_trusted[0].prefix, 128);
}

static void
test_proxy_protocol_errors(void **state)
{
	static const struct bad_case cases[] = {
		{ TLS "listen = ( { proxy_protocol = \"v3\"; "
		    "proxy_trusted = [\"10.0.0.1\"]; } );", 2,
		    "listen[0].proxy_protocol: \"v3\" is not a mode; use "
		    "\"none\", \"v1\", \"v2\" or \"any\"" },
		{ TLS "listen = ( { proxy_protocol = \"v2\"; } );", 2,
		    "listen[0]: proxy_protocol is set but proxy_trusted lists "
		    "no network" },
		{ TLS "listen = ( { proxy_protocol = \"v1\"; "
		    "proxy_trusted = []; } );", 2,
		    "listen[0]: proxy_protocol is set but proxy_trusted" },
		{ TLS "listen = ( { proxy_trusted = [\"10.0.0.1\"]; } );", 2,
		    "listen[0]: proxy_trusted is set but proxy_protocol is "
		    "\"none\"" },
		{ TLS "listen = ( { proxy_protocol = \"v2\"; "
		    "proxy_trusted = [\"10.0.0.0/33\"]; } );", 2,
		    "listen[0].proxy_trusted[0]: is not a numeric address or "
		    "network" },
		{ TLS "listen = ( { proxy_protocol = \"v2\"; "
		    "proxy_trusted = [\"::1\", \"lb.example\"]; } );", 2,
		    "listen[0].proxy_trusted[1]: is not a numeric address" },
		{ TLS "listen = ( { proxy_protocol = \"v2\"; "
		    "proxy_trusted = [\"10.0.0.1/\"]; } );", 2,
		    "listen[0].proxy_trusted[0]: is not a numeric address" },
		{ TLS "listen = ( { proxy_protocol = \"v2\"; "
		    "proxy_trusted = [\"10.0.0.1/ 8\"]; } );", 2,
		    "listen[0].proxy_trusted[0]: is not a numeric address" },
	};
	struct fx	*fx = *state;
	char		 list[TG_MAX_PROXY_TRUSTED * 16 + 32];
	size_t		 n = 0;

	run_bad_cases(fx, cases, sizeof(cases) / sizeof(cases[0]));
	for (int i = 0; i <= TG_MAX_PROXY_TRUSTED; i++)
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s\"10.0.%d.1\"",
		    i > 0 ? ", " : "", i);
	assert_int_equal(loadf(fx, TLS "listen = ( { proxy_protocol = \"v2\"; "
	    "proxy_trusted = [%s]; } );\n", list), -1);
	expect_msg(fx, 2, "listen[0].proxy_trusted[32]: too many networks; at "
	    "most 32 are supported");
}

/* Client certificates: listen[].client_* and auth.identity. */
static void
test_client_certificate_errors(void **state)
{
	static const struct bad_case cases[] = {
		{ TLS "listen = ( { client_auth = \"require\"; } );", 2,
		    "listen[0]: client_auth is \"require\" but client_ca_file "
		    "is not set" },
		{ TLS "listen = ( { client_auth = \"maybe\"; } );", 2,
		    "listen[0].client_auth: \"maybe\" is not allowed; use one of "
		    "\"none\", \"optional\", \"require\"" },
		{ TLS "listen = ( { client_crl_file = \"crl.pem\"; } );", 2,
		    "listen[0]: client_ca_file or client_crl_file is set but "
		    "client_auth is \"none\"" },
		{ TLS "listen = ( { client_auth = \"optional\"; "
		    "client_ca_file = \"ca.pem\"; client_verify_depth = 9; } );",
		    2, "listen[0].client_verify_depth: 9 is out of range" },
		{ LISTEN TLS "auth = { identity = \"certificate\"; };", 3,
		    "auth.identity: is \"certificate\" but listen[0] (port 8443) "
		    "asks for no certificate" },
		{ LISTEN TLS "auth = { identity = \"cert\"; };", 3,
		    "auth.identity: \"cert\" is not allowed; use one of "
		    "\"password\", \"certificate\", \"certificate+password\"" },
		{ TLS "listen = ( { client_auth = \"require\"; "
		    "client_ca_file = \"ca.pem\"; } );\n"
		    "auth = { identity = \"certificate\"; "
		    "certificate_name = \"san_uri\"; };", 3,
		    "auth.certificate_uri_prefix: is empty but "
		    "auth.certificate_name is \"san_uri\"" },
	};

	run_bad_cases(*state, cases, sizeof(cases) / sizeof(cases[0]));
}

static void
test_duplicate_listener_is_an_error(void **state)
{
	struct fx	*fx = *state;

	assert_int_equal(load(fx, TLS
	    "listen = (\n"
	    "\t{ address = \"127.0.0.1\"; port = 8443; },\n"
	    "\t{ address = \"::1\"; port = 8443; },\n"
	    "\t{ address = \"127.0.0.1\"; port = 8444; },\n"
	    "\t{ address = \"0:0::1\"; port = 8443; },\n"
	    "\t{ }\n"
	    ");\n"), -1);
	expect_msg(fx, 6, "listen[3]: 0:0::1 port 8443 is already used by "
	    "listen[1]; remove one of them");
	expect_msg(fx, 7, "listen[4]: 127.0.0.1 port 8443 is already used by "
	    "listen[0]");
	assert_int_equal(count_lines(fx->log), 2);
	/* A rejected port is not compared with the default it kept. */
	assert_int_equal(load(fx, TLS "listen = ( { port = 8443; },\n"
	    "\t{ port = 0; } );\n"), -1);
	expect_msg(fx, 3, "listen[1].port: 0 is out of range");
	assert_int_equal(count_lines(fx->log), 1);
}

static void
test_listener_count_is_bounded(void **state)
{
	struct fx	*fx = *state;
	char		 text[4096];
	size_t		 off;
	int		 i;

	off = (size_t)snprintf(text, sizeof(text), "%slisten = (\n", TLS);
	for (i = 0; i < TG_MAX_LISTENERS; i++)
		off += (size_t)snprintf(text + off, sizeof(text) - off,
		    "\t{ port = %d; },\n", 1000 + i);
	snprintf(text + off, sizeof(text) - off, "\t{ port = 2000; }\n);\n");
	assert_int_equal(load(fx, text), -1);
	expect_msg(fx, 3 + TG_MAX_LISTENERS, "listen[16]: too many "
	    "listeners; at most 16 are supported");
	assert_int_equal(count_lines(fx->log), 1);

	snprintf(text + off - 2, sizeof(text) - off + 2, "\n);\n");
	expect_ok(fx, load(fx, text));
	assert_int_equal(fx->cfg->n_listeners, TG_MAX_LISTENERS);
	assert_int_equal(fx->cfg->listeners[15].port, 1015);
}

static void
test_tls_min_version(void **state)
{
	struct fx	*fx = *state;

	expect_ok(fx, load(fx, LISTEN TLS_WITH("min_version = \"1.3\";")));
	assert_int_equal(fx->cfg->tls_min_version, TLS1_3_VERSION);
	assert_int_equal(load(fx, LISTEN TLS_WITH("min_version = \"1.1\";")),
	    -1);
	expect_msg(fx, 2, "tls.min_version: \"1.1\" is not supported; use "
	    "\"1.2\" or \"1.3\"");
}

static void
test_non_aead_ciphers_are_rejected(void **state)
{
	static const struct bad_case cases[] = {
		{ LISTEN TLS_WITH("tls12_ciphers = \"AES128-SHA\";"), 2,
		    "tls.tls12_ciphers: \"AES128-SHA\" is not allowed (only the "
		    "AEAD suites the relay implements are); use one or more of "
		    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
		    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
		    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305" },
		{ LISTEN TLS_WITH("tls12_ciphers = \"ALL\";"), 2,
		    "tls.tls12_ciphers: \"ALL\" is not allowed" },
		{ LISTEN TLS_WITH("tls12_ciphers = "
		    "\"ECDHE-RSA-AES128-GCM-SHA256:!aNULL\";"), 2,
		    "tls.tls12_ciphers: \"!aNULL\" is not allowed" },
		{ LISTEN TLS_WITH("tls12_ciphers = "
		    "\"ECDHE-RSA-AES128-GCM-SHA256:@SECLEVEL=0\";"), 2,
		    "tls.tls12_ciphers: \"@SECLEVEL=0\" is not allowed" },
		{ LISTEN TLS_WITH("tls12_ciphers = "
		    "\"+ECDHE-RSA-AES128-GCM-SHA256\";"), 2,
		    "tls.tls12_ciphers: \"+ECDHE-RSA-AES128-GCM-SHA256\" is not "
		    "allowed" },
		{ LISTEN TLS_WITH("tls12_ciphers = \"\";"), 2,
		    "tls.tls12_ciphers: is empty; list one or more of ECDHE-" },
		{ LISTEN TLS_WITH("tls12_ciphers = "
		    "\"ECDHE-RSA-AES128-GCM-SHA256:\";"), 2,
		    "tls.tls12_ciphers: has an empty entry" },
		{ LISTEN TLS_WITH("tls13_ciphersuites = "
		    "\"TLS_AES_128_CCM_SHA256\";"), 2,
		    "tls.tls13_ciphersuites: \"TLS_AES_128_CCM_SHA256\" is not "
		    "allowed (only the AEAD suites the relay implements are); "
		    "use one or more of TLS_AES_128_GCM_SHA256:"
		    "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256" },
		{ LISTEN TLS_WITH("tls13_ciphersuites = "
		    "\"TLS_AES_128_GCM_SHA256 \";"), 2,
		    "tls.tls13_ciphersuites: \"TLS_AES_128_GCM_SHA256 \" is not "
		    "allowed" },
		{ LISTEN TLS_WITH("tls13_ciphersuites = \"\";"), 2,
		    "tls.tls13_ciphersuites: is empty" },
	};
	struct fx	*fx = *state;

	run_bad_cases(fx, cases, sizeof(cases) / sizeof(cases[0]));
	expect_ok(fx, load(fx, LISTEN TLS_WITH(
	    "tls13_ciphersuites = \"TLS_CHACHA20_POLY1305_SHA256\";"
	    "tls12_ciphers = \"ECDHE-RSA-AES256-GCM-SHA384:"
	    "ECDHE-RSA-AES128-GCM-SHA256\";")));
	assert_string_equal(fx->cfg->tls13_ciphersuites,
	    "TLS_CHACHA20_POLY1305_SHA256");
	assert_string_equal(fx->cfg->tls12_ciphers,
	    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256");
}

static void
test_cipher_list_must_fit(void **state)
{
	struct fx	*fx = *state;
	char		 list[600];
	size_t		 off = 0;
	int		 i;

	/* 20 allowed entries, each valid: only the length is wrong. */
	for (i = 0; i < 20; i++)
		off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s",
		    i > 0 ? ":" : "", "ECDHE-RSA-AES128-GCM-SHA256");
	assert_int_equal(off, 559);
	assert_int_equal(loadf(fx, LISTEN "tls = { certificate = \"c\"; "
	    "key = \"k\"; tls12_ciphers = \"%s\"; };\n", list), -1);
	expect_msg(fx, 2, "tls.tls12_ciphers: is 559 bytes long; the limit is "
	    "511 bytes, shorten it");
	assert_int_equal(count_lines(fx->log), 1);
}

/* auth.ldap itself is tested in test_config_ldap.c. */
static void
test_auth_backend_is_pam_or_ldap(void **state)
{
	struct fx	*fx = *state;

	assert_int_equal(load(fx, MINIMAL "auth = { backend = \"kerberos\"; "
	    "};\n"), -1);
	expect_msg(fx, 3, "auth.backend: \"kerberos\" is not a backend; use "
	    "\"pam\" or \"ldap\"");
	expect_ok(fx, load(fx, MINIMAL "auth = { backend = \"pam\"; };\n"));
	assert_int_equal(fx->cfg->auth_backend, AUTH_BACKEND_PAM);
	expect_ok(fx, load(fx, MINIMAL "auth = { backend = \"ldap\"; ldap = { "
	    "uris = [ \"ldaps://127.0.0.1\" ]; bind = { mode = \"template\"; "
	    "dn_template = \"uid=%u,dc=t\"; }; }; };\n"));
	assert_int_equal(fx->cfg->auth_backend, AUTH_BACKEND_LDAP);
	/* An LDAP group is checked, not required to be complete, with PAM. */
	expect_ok(fx, load(fx, MINIMAL "auth = { ldap = { backoff = 1; }; };\n"));
	assert_int_equal(fx->cfg->auth_backend, AUTH_BACKEND_PAM);
}

static void
test_realm_and_pam_service_syntax(void **state)
{
	static const struct bad_case cases[] = {
		{ MINIMAL "auth = { realm = \"a\\\"b\"; };", 3,
		    "auth.realm: has a character that is not allowed at offset "
		    "1; use printable ASCII without" },
		{ MINIMAL "auth = { realm = \"back\\\\slash\"; };", 3,
		    "auth.realm: has a character that is not allowed at "
		    "offset 4" },
		{ MINIMAL "auth = { realm = \"tab\\there\"; };", 3,
		    "auth.realm: has a character that is not allowed" },
		{ MINIMAL "auth = { realm = \"\"; };", 3,
		    "auth.realm: is empty" },
		{ MINIMAL "auth = { pam = { service = \"tunnel gate\"; }; };", 3,
		    "auth.pam.service: \"tunnel gate\" is not a service name; "
		    "use letters, digits, '.', '_' and '-' only" },
		{ MINIMAL "auth = { pam = { service = \"../etc\"; }; };", 3,
		    "auth.pam.service: \"../etc\" is not a service name" },
		{ MINIMAL "auth = { pam = { service = \"..\"; }; };", 3,
		    "auth.pam.service: \"..\" is not a service name" },
		{ MINIMAL "auth = { pam = { service = \"\"; }; };", 3,
		    "auth.pam.service: \"\" is not a service name" },
	};
	struct fx	*fx = *state;

	char		 realm[65];

	run_bad_cases(fx, cases, sizeof(cases) / sizeof(cases[0]));
	memset(realm, 'r', sizeof(realm) - 1);
	realm[sizeof(realm) - 1] = '\0';
	assert_int_equal(loadf(fx, MINIMAL "auth = { realm = \"%s\"; };\n",
	    realm), -1);
	expect_msg(fx, 3, "auth.realm: is 64 bytes long; the limit is 63 "
	    "bytes");
	realm[63] = '\0';
	expect_ok(fx, loadf(fx, MINIMAL "auth = { realm = \"%s\"; };\n",
	    realm));
	assert_string_equal(fx->cfg->auth_realm, realm);
	expect_ok(fx, load(fx, MINIMAL "auth = { realm = \"Corp (prod) #1\";\n"
	    "\tpam = { service = \"tunnel-gate_2.prod\"; }; };\n"));
	assert_string_equal(fx->cfg->auth_realm, "Corp (prod) #1");
	assert_string_equal(fx->cfg->pam_service, "tunnel-gate_2.prod");
}

/* Whether the users exist and may be used is privsep_check()'s business. */
static void
test_privsep_users_are_named_and_located(void **state)
{
	static const struct bad_case cases[] = {
		{ MINIMAL "privsep = { user = \"nobody\"; };", 3,
		    "privsep.user: is replaced by privsep.gate_user, "
		    "privsep.relay_user and privsep.key_user, three users of "
		    "their own (default \"tunnelgate-gate\", \"tunnelgate-relay\" "
		    "and \"tunnelgate-key\"); rename the setting" },
		{ MINIMAL "privsep = { gate_user = \"\"; };", 3,
		    "privsep.gate_user: is empty; name the unprivileged user" },
		{ MINIMAL "privsep = { relay_user = \"u23456789012345678901234567"
		    "8901234567890123456789012345678901234\"; };", 3,
		    "privsep.relay_user: is 64 bytes long; the limit is 63 bytes" },
		{ MINIMAL "privsep = { chroot = \"\"; };", 3,
		    "privsep.chroot: is empty" },
	};
	struct fx	*fx = *state;
	char		 where[2 * PATH_MAX];

	run_bad_cases(fx, cases, sizeof(cases) / sizeof(cases[0]));
	expect_ok(fx, load(fx, MINIMAL "privsep = { gate_user = \"tg-g\";\n"
	    "\tchroot = \"/srv/jail\"; };\n"));
	assert_string_equal(fx->cfg->gate_user.name, "tg-g");
	assert_false(fx->cfg->gate_user.is_default);
	snprintf(where, sizeof(where), "%s:3: privsep.gate_user", fx->conf);
	assert_string_equal(fx->cfg->gate_user.where, where);
	assert_string_equal(fx->cfg->relay_user.name, "tunnelgate-relay");
	assert_true(fx->cfg->relay_user.is_default);
	snprintf(where, sizeof(where), "%s: privsep.relay_user", fx->conf);
	assert_string_equal(fx->cfg->relay_user.where, where);
	assert_string_equal(fx->cfg->chroot_dir, "/srv/jail");
}

static void
test_log_settings(void **state)
{
	struct fx	*fx = *state;

	expect_ok(fx, load(fx, MINIMAL "log = { level = \"debug\"; syslog = "
	    "true; };\naudit = { syslog = true; };\n"));
	assert_int_equal(fx->cfg->log_level, LOG_LVL_DEBUG);
	assert_true(fx->cfg->log_syslog);
	assert_true(fx->cfg->audit_syslog);
	assert_int_equal(load(fx, MINIMAL "log = { level = \"verbose\"; };\n"),
	    -1);
	expect_msg(fx, 3, "log.level: \"verbose\" is not a level; use "
	    "\"error\", \"warning\", \"info\" or \"debug\"");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_wrong_types_name_the_expected_type),
		T(test_integer_ranges_are_enforced),
		T(test_integer_range_limits_are_inclusive),
		T(test_durations_are_stored_in_ms),
		T(test_duration_bounds_are_enforced),
		T(test_listener_address_must_be_numeric),
		T(test_proxy_protocol_listener_is_stored),
		T(test_proxy_protocol_errors),
		T(test_client_certificate_errors),
		T(test_duplicate_listener_is_an_error),
		T(test_listener_count_is_bounded),
		T(test_tls_min_version),
		T(test_non_aead_ciphers_are_rejected),
		T(test_cipher_list_must_fit),
		T(test_auth_backend_is_pam_or_ldap),
		T(test_realm_and_pam_service_syntax),
		T(test_privsep_users_are_named_and_located),
		T(test_log_settings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
