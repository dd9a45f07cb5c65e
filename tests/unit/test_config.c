/*
 * config_load(): the shipped example, defaults, path resolution, and the
 * errors about the file as a whole (syntax, unknown or missing settings,
 * unreadable files), each checking that the message names the file, the
 * line and the setting. Errors in the value of one setting are tested in
 * test_config_errors.c. Run from the top of the repository.
 */
#include <openssl/tls1.h>

#include "config_fixture.h"

#define EXAMPLE		"etc/tunnelgated.conf"

static void
path_in(char *buf, const char *dir, const char *name)
{
	int	 n = snprintf(buf, PATH_MAX, "%s/%s", dir, name);

	assert_true(n > 0 && n < PATH_MAX);
}

/* The values etc/tunnelgated.conf documents, apart from its paths. */
static void
check_documented_values(const struct config *c)
{
	assert_int_equal(c->n_listeners, 1);
	assert_string_equal(c->listeners[0].address, "127.0.0.1");
	assert_int_equal(c->listeners[0].port, 8443);
	assert_int_equal(c->listeners[0].backlog, 511);
	assert_int_equal(c->listeners[0].proxy_protocol, 0);
	assert_int_equal(c->listeners[0].n_proxy_trusted, 0);
	assert_int_equal(c->listeners[0].client_auth, CLIENT_AUTH_NONE);
	assert_string_equal(c->listeners[0].client_ca_file, "");
	assert_string_equal(c->listeners[0].client_crl_file, "");
	assert_int_equal(c->listeners[0].client_verify_depth, 2);
	assert_int_equal(c->tls_min_version, TLS1_2_VERSION);
	assert_string_equal(c->tls13_ciphersuites, "TLS_AES_128_GCM_SHA256:"
	    "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256");
	assert_string_equal(c->tls12_ciphers, "ECDHE-ECDSA-AES128-GCM-SHA256:"
	    "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
	    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:"
	    "ECDHE-RSA-CHACHA20-POLY1305");
	assert_int_equal(c->tls_ticket_key_lifetime_ms, 3600 * 1000);
	assert_int_equal(c->restart_delay_ms, 1000);
	assert_int_equal(c->gate_workers, 2);
	assert_int_equal(c->auth_workers, 4);
	assert_string_equal(c->gate_user.name, "tunnelgate-gate");
	assert_string_equal(c->relay_user.name, "tunnelgate-relay");
	assert_string_equal(c->key_user.name, "tunnelgate-key");
	assert_string_equal(c->chroot_dir, "/var/empty");
	assert_int_equal(c->auth_backend, AUTH_BACKEND_PAM);
	assert_string_equal(c->auth_realm, "tunnelgate");
	assert_int_equal(c->auth_failure_delay_ms, 2000);
	assert_int_equal(c->auth_identity, AUTH_IDENTITY_PASSWORD);
	assert_int_equal(c->auth_cert_name, CERT_NAME_SUBJECT_CN);
	assert_string_equal(c->auth_cert_uri_prefix, "");
	assert_int_equal(c->auth_recheck_interval_ms, 300 * 1000);
	assert_int_equal(c->limit_header_bytes, 8192);
	assert_int_equal(c->limit_total_connections, 32768);
	assert_int_equal(c->limit_source_connections, 512);
	assert_int_equal(c->limit_source_rate, 3000);
	assert_int_equal(c->limit_ipv6_prefix, 64);
	assert_int_equal(c->limit_user_rate, 600);
	assert_int_equal(c->throttle_source_failures, 20);
	assert_int_equal(c->throttle_user_failures, 5);
	assert_int_equal(c->throttle_window_ms, 600000);
	assert_int_equal(c->throttle_lockout_ms, 60000);
	assert_int_equal(c->throttle_lockout_max_ms, 900000);
	assert_int_equal(c->pam_min_uid, 1000);
	assert_int_equal(c->ldap.n_uris, 0);
	assert_true(c->ldap.starttls);
	assert_true(c->ldap.tls_verify);
	assert_int_equal(c->ldap.bind_mode, CONFIG_LDAP_BIND_SEARCH);
	assert_int_equal(c->ldap.user_scope, CONFIG_LDAP_SCOPE_SUB);
	assert_string_equal(c->ldap.user_filter, "(uid=%u)");
	assert_string_equal(c->ldap.name_attribute, "uid");
	assert_string_equal(c->ldap.account_filter, "");
	assert_int_equal(c->ldap.group_mode, CONFIG_LDAP_GROUPS_MEMBEROF);
	assert_string_equal(c->ldap.memberof_attribute, "memberOf");
	assert_string_equal(c->ldap.group_filter,
	    "(|(&(objectClass=groupOfNames)(member=%d))"
	    "(&(objectClass=groupOfUniqueNames)(uniqueMember=%d))"
	    "(&(objectClass=posixGroup)(memberUid=%u)))");
	assert_string_equal(c->ldap.group_name_attribute, "cn");
	assert_int_equal(c->ldap.timeout_connect_ms, 3000);
	assert_int_equal(c->ldap.timeout_operation_ms, 5000);
	assert_int_equal(c->ldap.backoff_ms, 10000);
	assert_string_equal(c->pam_service, "tunnelgate");
	assert_int_equal(c->cache_positive_ttl_ms, 300000);
	assert_int_equal(c->cache_negative_ttl_ms, 30000);
	assert_int_equal(c->cache_max_entries, 10000);
	assert_int_equal(c->timeout_handshake_ms, 10000);
	assert_int_equal(c->timeout_request_ms, 10000);
	assert_int_equal(c->timeout_auth_ms, 15000);
	assert_int_equal(c->timeout_dns_ms, 5000);
	assert_int_equal(c->timeout_connect_ms, 10000);
	assert_int_equal(c->timeout_idle_ms, 3600000);
	assert_int_equal(c->timeout_drain_ms, 30000);
	assert_int_equal(c->timeout_hang_ms, 30000);
	assert_int_equal(c->limit_connections, 8192);
	assert_int_equal(c->limit_header_bytes, 8192);
	assert_int_equal(c->limit_buffer_bytes, 65536);
	assert_int_equal(c->limit_pending_auth, 256);
	assert_false(c->audit_syslog);
	assert_false(c->log_syslog);
	assert_int_equal(c->log_level, LOG_LVL_INFO);
}

static void
test_shipped_example_loads_with_documented_values(void **state)
{
	struct fx	*fx = *state;
	char		 etc[PATH_MAX], want[PATH_MAX], real[PATH_MAX];

	if (realpath(EXAMPLE, real) == NULL || realpath("etc", etc) == NULL)
		fail_msg("%s not found: run the tests from the top of the "
		    "repository", EXAMPLE);
	expect_ok(fx, load_file(fx, EXAMPLE));
	check_documented_values(fx->cfg);
	assert_string_equal(fx->cfg->path, real);
	path_in(want, etc, "tls/cert.pem");
	assert_string_equal(fx->cfg->tls_certificate, want);
	path_in(want, etc, "tls/key.pem");
	assert_string_equal(fx->cfg->tls_key, want);
	path_in(want, etc, "pam.d");
	assert_string_equal(fx->cfg->pam_confdir, want);
	path_in(want, etc, "audit.log");
	assert_string_equal(fx->cfg->audit_file, want);
	path_in(want, etc, "policy.conf");
	assert_string_equal(fx->cfg->policy_file, want);
}

static void
test_minimal_config_gets_defaults(void **state)
{
	struct fx	*fx = *state;
	char		 want[PATH_MAX];

	expect_ok(fx, load(fx, MINIMAL));
	check_documented_values(fx->cfg);
	assert_string_equal(fx->cfg->path, fx->conf);
	assert_string_equal(fx->cfg->pam_confdir, "");
	path_in(want, fx->dir, "cert.pem");
	assert_string_equal(fx->cfg->tls_certificate, want);
	path_in(want, fx->dir, "audit.log");
	assert_string_equal(fx->cfg->audit_file, want);
	path_in(want, fx->dir, "policy.conf");
	assert_string_equal(fx->cfg->policy_file, want);
}

static void
test_relative_paths_resolve_against_real_config_dir(void **state)
{
	struct fx	*fx = *state;
	char		 sub[PATH_MAX], real[PATH_MAX], link[PATH_MAX];
	char		 want[PATH_MAX];
	int		 cwd, rc;

	path_in(sub, fx->dir, "sub");
	path_in(real, sub, "gw.conf");
	path_in(link, fx->dir, "link.conf");
	assert_int_equal(mkdir(sub, 0700), 0);
	write_file(real, LISTEN
	    "tls = { certificate = \"tls/c.pem\"; key = \"/etc/ssl/k.pem\"; };\n"
	    "auth = { pam = { confdir = \"pam.d\"; }; };\n"
	    "audit = { file = \"../log/audit.log\"; };\n"
	    "privsep = { chroot = \"jail\"; };\n"
	    "policy = \"p.conf\";\n");
	assert_int_equal(symlink("sub/gw.conf", link), 0);
	/* A relative file name, through a symlink in another directory. */
	assert_true((cwd = open(".", O_RDONLY | O_DIRECTORY)) != -1);
	assert_int_equal(chdir(fx->dir), 0);
	rc = load_file(fx, "link.conf");
	assert_int_equal(fchdir(cwd), 0);
	close(cwd);
	expect_ok(fx, rc);
	assert_string_equal(fx->cfg->path, real);
	path_in(want, sub, "tls/c.pem");
	assert_string_equal(fx->cfg->tls_certificate, want);
	assert_string_equal(fx->cfg->tls_key, "/etc/ssl/k.pem");
	path_in(want, sub, "pam.d");
	assert_string_equal(fx->cfg->pam_confdir, want);
	path_in(want, sub, "../log/audit.log");
	assert_string_equal(fx->cfg->audit_file, want);
	path_in(want, sub, "jail");
	assert_string_equal(fx->cfg->chroot_dir, want);
	path_in(want, sub, "p.conf");
	assert_string_equal(fx->cfg->policy_file, want);
}

static void
test_include_is_relative_to_config_dir(void **state)
{
	struct fx	*fx = *state;
	char		 inc[PATH_MAX], file[PATH_MAX];

	path_in(inc, fx->dir, "inc");
	path_in(file, inc, "workers.conf");
	assert_int_equal(mkdir(inc, 0700), 0);
	write_file(file, "workers = { gate = 7; };\n");
	expect_ok(fx, load(fx, MINIMAL "@include \"inc/workers.conf\"\n"));
	assert_int_equal(fx->cfg->gate_workers, 7);

	write_file(file, "\nworkers = { gate = 0; };\n");
	assert_int_equal(load(fx, MINIMAL "@include \"inc/workers.conf\"\n"),
	    -1);
	if (!has_msg(fx, file, 2, "workers.gate: 0 is out of range"))
		fail_msg("error in the included file not located:\n%s",
		    fx->log);
}

static void
test_syntax_error_names_file_and_line(void **state)
{
	struct fx	*fx = *state;

	assert_int_equal(load(fx, MINIMAL "workers = {\n\tgate = ;\n};\n"), -1);
	expect_msg(fx, 4, "syntax error; fix the file there");
	assert_int_equal(count_lines(fx->log), 1);
}

static void
test_unknown_top_level_setting_is_an_error(void **state)
{
	struct fx	*fx = *state;

	assert_int_equal(load(fx, MINIMAL "\nlisten_port = 8443;\n"), -1);
	expect_msg(fx, 4, "listen_port: unknown setting; remove it or use one "
	    "of: listen, tls, workers, privsep, auth, cache, timeouts, limits, "
	    "throttle, audit, control, metrics, log, policy");
	assert_int_equal(count_lines(fx->log), 1);
}

static void
test_control_socket_default_relative_and_too_long(void **state)
{
	struct fx	*fx = *state;
	char		 want[PATH_MAX + 16], text[512], lng[120];

	assert_int_equal(load(fx, MINIMAL), 0);
	assert_string_equal(fx->cfg->control_socket, "/run/tunnelgated.sock");
	assert_int_equal(load(fx, MINIMAL "control = { socket = \"c.sock\"; };\n"),
	    0);
	snprintf(want, sizeof(want), "%s/c.sock", fx->dir);
	assert_string_equal(fx->cfg->control_socket, want);
	memset(lng, 'x', 108);
	lng[0] = '/';
	lng[108] = '\0';
	snprintf(text, sizeof(text), MINIMAL "control = { socket = \"%s\"; };\n",
	    lng);
	assert_int_equal(load(fx, text), -1);
	expect_msg(fx, 3, "control.socket: resolves to a path longer than 107 "
	    "bytes; use a shorter path");
}

static void
test_metrics_listen_is_loopback_or_a_path(void **state)
{
	struct fx	*fx = *state;
	char		 want[PATH_MAX + 16];
	static const char *const ok[] = { "127.0.0.1:9190", "127.9.8.7:1",
	    "[::1]:9190", "/run/m.sock" };

	assert_int_equal(load(fx, MINIMAL), 0);
	assert_string_equal(fx->cfg->metrics_listen, "");
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(want, sizeof(want), MINIMAL "metrics = { listen = "
		    "\"%s\"; };\n", ok[i]);
		assert_int_equal(load(fx, want), 0);
		assert_string_equal(fx->cfg->metrics_listen, ok[i]);
	}
	assert_int_equal(load(fx, MINIMAL "metrics = { listen = \"m.sock\"; };\n"),
	    0);
	snprintf(want, sizeof(want), "%s/m.sock", fx->dir);
	assert_string_equal(fx->cfg->metrics_listen, want);
	assert_int_equal(load(fx, MINIMAL "metrics = { listen = "
	    "\"0.0.0.0:9190\"; };\n"), -1);
	expect_msg(fx, 3, "metrics.listen: \"0.0.0.0:9190\" is not a loopback "
	    "address");
	assert_int_equal(load(fx, MINIMAL "metrics = { listen = "
	    "\"[::ffff:127.0.0.1]:1\"; };\n"), -1);
	assert_int_equal(load(fx, MINIMAL "metrics = { listen = "
	    "\"127.0.0.1:0\"; };\n"), -1);
	expect_msg(fx, 3, "metrics.listen: \"127.0.0.1:0\" is neither "
	    "ADDRESS:PORT");
	assert_int_equal(load(fx, MINIMAL "metrics = { listen = "
	    "\"localhost:9190\"; };\n"), -1);
}

static void
test_policy_is_a_file_or_a_group(void **state)
{
	struct fx	*fx = *state;
	char		 want[PATH_MAX + 16];

	snprintf(want, sizeof(want), "%s/p.conf", fx->dir);
	assert_int_equal(load(fx, MINIMAL "policy = \"p.conf\";\n"), 0);
	assert_string_equal(fx->cfg->policy_file, want);
	assert_true(fx->cfg->policy_recheck_live);
	assert_int_equal(load(fx, MINIMAL "policy = { file = \"p.conf\"; "
	    "recheck_live = false; };\n"), 0);
	assert_string_equal(fx->cfg->policy_file, want);
	assert_false(fx->cfg->policy_recheck_live);
	assert_int_equal(load(fx, MINIMAL "policy = 3;\n"), -1);
	expect_msg(fx, 3, "policy: ");
}

static void
test_unknown_nested_settings_are_errors(void **state)
{
	struct fx	*fx = *state;

	assert_int_equal(load(fx,
	    "listen = (\n"
	    "\t{ address = \"127.0.0.1\"; port = 8443; },\n"
	    "\t{ address = \"::1\"; prot = 8443; }\n"
	    ");\n"
	    "tls = {\n"
	    "\tcertificate = \"c\"; key = \"k\";\n"
	    "\tciphers = \"ECDHE-RSA-AES128-GCM-SHA256\";\n"
	    "};\n"
	    "auth = { pam = { sevrice = \"x\"; }; };\n"), -1);
	expect_msg(fx, 3, "listen[1].prot: unknown setting; remove it or use "
	    "one of: address, port, backlog");
	expect_msg(fx, 7, "tls.ciphers: unknown setting");
	expect_msg(fx, 9, "auth.pam.sevrice: unknown setting; remove it or use "
	    "one of: service, confdir");
	assert_int_equal(count_lines(fx->log), 3);
}

static void
test_required_settings_are_reported_missing(void **state)
{
	struct fx	*fx = *state;

	assert_int_equal(load(fx, "# nothing\n"), -1);
	expect_msg(fx, 0, "tls.certificate: required, and missing; add tls = { "
	    "certificate = ...; }: set it to the PEM certificate chain file");
	expect_msg(fx, 0, "tls.key: required, and missing; add tls = { key");
	expect_msg(fx, 0, "listen: at least one listener is required; add "
	    "listen = (");
	assert_int_equal(count_lines(fx->log), 3);

	assert_int_equal(load(fx, "listen = ();\ntls = { key = \"k\"; };\n"),
	    -1);
	expect_msg(fx, 1, "listen: at least one listener is required");
	expect_msg(fx, 2, "tls.certificate: required, and missing from the tls "
	    "group that starts on this line; add certificate = ...; inside it");
	assert_int_equal(count_lines(fx->log), 2);
}

static void
test_paths_must_fit_path_max(void **state)
{
	struct fx	*fx = *state;
	char		*name;
	size_t		 len;

	/* Fits alone, but not once joined to the directory. */
	len = PATH_MAX - 2;
	assert_non_null(name = malloc(len + 1));
	memset(name, 'k', len);
	name[len] = '\0';
	assert_int_equal(loadf(fx, LISTEN "tls = { certificate = \"c\";\n"
	    "\tkey = \"%s\"; };\n", name), -1);
	expect_msg(fx, 3, "tls.key: resolves to a path longer than 4095 bytes; "
	    "use a shorter path");
	name[0] = '/';
	name[len - 1] = '\0';
	expect_ok(fx, loadf(fx, LISTEN "tls = { certificate = \"c\";\n"
	    "\tkey = \"%s\"; };\n", name));
	assert_string_equal(fx->cfg->tls_key, name);
	free(name);

	assert_int_equal(load(fx, LISTEN "tls = { certificate = \"\";\n"
	    "\tkey = \"k\"; };\n"), -1);
	expect_msg(fx, 2, "tls.certificate: is empty; set a file or directory "
	    "name");
	expect_ok(fx, load(fx, MINIMAL "auth = { pam = { confdir = \"\"; }; };\n"
	    "audit = { file = \"/var/log/tg/audit.log\"; };\n"));
	assert_string_equal(fx->cfg->pam_confdir, "");
	assert_string_equal(fx->cfg->audit_file, "/var/log/tg/audit.log");
}

static void
test_every_error_is_reported_and_cfg_cleared(void **state)
{
	struct fx	*fx = *state;
	struct config	*zero;

	assert_int_equal(load(fx,
	    "listen = ( { address = \"::1\"; port = 0; } );\n"
	    "tls = { certificate = \"c\"; key = \"k\"; min_version = \"1.0\"; };\n"
	    "workers = { gate = 0; };\n"
	    "bogus = true;\n"
	    "log = { level = \"loud\"; };\n"), -1);
	expect_msg(fx, 1, "listen[0].port: 0 is out of range");
	expect_msg(fx, 2, "tls.min_version: \"1.0\" is not supported");
	expect_msg(fx, 3, "workers.gate: 0 is out of range");
	expect_msg(fx, 4, "bogus: unknown setting");
	expect_msg(fx, 5, "log.level: \"loud\" is not a level");
	assert_int_equal(count_lines(fx->log), 5);
	/* Nothing half-validated can be used by mistake. */
	assert_non_null(zero = calloc(1, sizeof(*zero)));
	assert_memory_equal(fx->cfg, zero, sizeof(*zero));
	free(zero);
}

static void
test_missing_or_odd_file_is_an_error(void **state)
{
	struct fx	*fx = *state;
	char		 missing[PATH_MAX];

	path_in(missing, fx->dir, "missing.conf");
	assert_int_equal(load_file(fx, missing), -1);
	if (!has_msg(fx, missing, 0, "cannot resolve the configuration file "
	    "path: No such file or directory"))
		fail_msg("%s", fx->log);
	assert_int_equal(load_file(fx, fx->dir), -1);
	if (!has_msg(fx, fx->dir, 0, "is not a regular file"))
		fail_msg("%s", fx->log);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_shipped_example_loads_with_documented_values),
		T(test_minimal_config_gets_defaults),
		T(test_relative_paths_resolve_against_real_config_dir),
		T(test_include_is_relative_to_config_dir),
		T(test_syntax_error_names_file_and_line),
		T(test_unknown_top_level_setting_is_an_error),
		T(test_control_socket_default_relative_and_too_long),
		T(test_metrics_listen_is_loopback_or_a_path),
		T(test_policy_is_a_file_or_a_group),
		T(test_unknown_nested_settings_are_errors),
		T(test_required_settings_are_reported_missing),
		T(test_paths_must_fit_path_max),
		T(test_every_error_is_reported_and_cfg_cleared),
		T(test_missing_or_odd_file_is_an_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
