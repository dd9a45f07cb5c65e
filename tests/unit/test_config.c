/*
 * config_load(): the shipped example, defaults, path resolution, and one
 * test per class of error, each checking that the message names the file,
 * the line and the setting. Run from the top of the repository.
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/tls1.h>

#include "config.h"

#define EXAMPLE		"etc/tunnelgated.conf"
#define LISTEN		"listen = ( { address = \"127.0.0.1\"; port = 8443; } );\n"
#define TLS_WITH(x)	"tls = { certificate = \"cert.pem\"; key = \"key.pem\"; " \
			x " };\n"
#define TLS		TLS_WITH("")
#define MINIMAL		LISTEN TLS

struct fx {
	char		 dir[PATH_MAX];		/* real path of a fresh tmpdir */
	char		 conf[PATH_MAX];	/* dir/tunnelgated.conf */
	struct config	*cfg;
	char		*log;			/* stderr of the last load */
};

struct bad_case {
	const char	*text;
	unsigned	 line;		/* 0: the message has no line */
	const char	*msg;		/* after "FILE:LINE: " */
};

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
setup(void **state)
{
	struct fx	*fx;
	char		 tmpl[PATH_MAX];
	const char	*tmp = getenv("TMPDIR");
	int		 n;

	if ((fx = calloc(1, sizeof(*fx))) == NULL ||
	    (fx->cfg = calloc(1, sizeof(*fx->cfg))) == NULL)
		return -1;
	n = snprintf(tmpl, sizeof(tmpl), "%s/tg-config-XXXXXX",
	    tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
	if (n < 0 || (size_t)n >= sizeof(tmpl) || mkdtemp(tmpl) == NULL || realpath(tmpl, fx->dir) == NULL)
		return -1;
	n = snprintf(fx->conf, sizeof(fx->conf), "%s/tunnelgated.conf",
	    fx->dir);
	if (n < 0 || (size_t)n >= sizeof(fx->conf))
		return -1;
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx	*fx = *state;
	int		 rc;

	rc = nftw(fx->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(fx->log);
	free(fx->cfg);
	free(fx);
	return rc;
}

static void
write_file(const char *path, const char *text)
{
	FILE	*fp;

	assert_non_null(fp = fopen(path, "w"));
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

static char *
read_all(const char *path)
{
	FILE	*fp;
	char	*buf;
	long	 len;

	assert_non_null(fp = fopen(path, "r"));
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	assert_true((len = ftell(fp)) >= 0);
	rewind(fp);
	assert_non_null(buf = calloc(1, (size_t)len + 1));
	assert_int_equal(fread(buf, 1, (size_t)len, fp), (size_t)len);
	fclose(fp);
	return buf;
}

/* config_load(file) with stderr captured into fx->log. */
static int
load_file(struct fx *fx, const char *file)
{
	char	 logpath[PATH_MAX];
	int	 fd, saved, rc, n;

	n = snprintf(logpath, sizeof(logpath), "%s/stderr.log", fx->dir);
	assert_true(n > 0 && (size_t)n < sizeof(logpath));
	fflush(stderr);
	assert_true((saved = dup(STDERR_FILENO)) != -1);
	assert_true((fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600))
	    != -1);
	assert_true(dup2(fd, STDERR_FILENO) != -1);
	close(fd);
	rc = config_load(file, fx->cfg);
	fflush(stderr);
	assert_true(dup2(saved, STDERR_FILENO) != -1);
	close(saved);
	free(fx->log);
	fx->log = read_all(logpath);
	unlink(logpath);
	return rc;
}

static int
load(struct fx *fx, const char *text)
{
	write_file(fx->conf, text);
	return load_file(fx, fx->conf);
}

static int
loadf(struct fx *fx, const char *fmt, ...)
{
	va_list	 ap;
	char	*text;
	int	 n, rc;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	assert_true(n >= 0);
	assert_non_null(text = malloc((size_t)n + 1));
	va_start(ap, fmt);
	vsnprintf(text, (size_t)n + 1, fmt, ap);
	va_end(ap);
	rc = load(fx, text);
	free(text);
	return rc;
}

static bool
has_msg(const struct fx *fx, const char *file, unsigned line, const char *msg)
{
	char	 want[2 * PATH_MAX];

	int	 n;

	if (line > 0)
		n = snprintf(want, sizeof(want), "%s:%u: %s", file, line, msg);
	else
		n = snprintf(want, sizeof(want), "%s: %s", file, msg);
	assert_true(n > 0 && (size_t)n < sizeof(want));
	return strstr(fx->log, want) != NULL;
}

static void
expect_msg(const struct fx *fx, unsigned line, const char *msg)
{
	if (!has_msg(fx, fx->conf, line, msg))
		fail_msg("no \"%s:%u: %s\" in the log:\n%s", fx->conf, line,
		    msg, fx->log);
}

static unsigned
count_lines(const char *s)
{
	unsigned	 n = 0;

	for (; *s != '\0'; s++)
		n += *s == '\n';
	return n;
}

static void
expect_ok(struct fx *fx, int rc)
{
	if (rc != 0 || fx->log[0] != '\0')
		fail_msg("load failed (%d):\n%s", rc, fx->log);
}

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
	assert_int_equal(c->tls_min_version, TLS1_2_VERSION);
	assert_string_equal(c->tls13_ciphersuites, "TLS_AES_128_GCM_SHA256:"
	    "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256");
	assert_string_equal(c->tls12_ciphers, "ECDHE-ECDSA-AES128-GCM-SHA256:"
	    "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
	    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:"
	    "ECDHE-RSA-CHACHA20-POLY1305");
	assert_int_equal(c->gate_workers, 2);
	assert_int_equal(c->auth_workers, 4);
	assert_string_equal(c->user, "nobody");
	assert_string_equal(c->chroot_dir, "/var/empty");
	assert_int_equal(c->auth_backend, AUTH_BACKEND_PAM);
	assert_string_equal(c->auth_realm, "tunnelgate");
	assert_int_equal(c->ldap.n_uris, 0);
	assert_true(c->ldap.starttls);
	assert_true(c->ldap.tls_verify);
	assert_int_equal(c->ldap.bind_mode, CONFIG_LDAP_BIND_SEARCH);
	assert_int_equal(c->ldap.user_scope, CONFIG_LDAP_SCOPE_SUB);
	assert_string_equal(c->ldap.user_filter, "(uid=%u)");
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
	assert_int_equal(c->limit_connections, 10000);
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
	    "audit, log, policy");
	assert_int_equal(count_lines(fx->log), 1);
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
	expect_msg(fx, 7, "policy: expected a string in double quotes, found "
	    "an array");
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
		{ MINIMAL "timeouts = { idle = 1e999; };", 3,
		    "timeouts.idle: inf seconds is out of range" },
		{ MINIMAL "cache = { positive_ttl = -1; };", 3,
		    "cache.positive_ttl: -1 seconds is out of range; use a "
		    "duration from 0 to 86400 seconds" },
		{ MINIMAL "cache = { negative_ttl = 86400.5; };", 3,
		    "cache.negative_ttl: 86400.5 seconds" },
	};

	run_bad_cases(*state, cases, sizeof(cases) / sizeof(cases[0]));
}

static void
test_required_settings_are_reported_missing(void **state)
{
	struct fx	*fx = *state;

	assert_int_equal(load(fx, "# nothing\n"), -1);
	expect_msg(fx, 0, "tls.certificate: required setting is missing; set "
	    "it to the PEM certificate chain file");
	expect_msg(fx, 0, "tls.key: required setting is missing");
	expect_msg(fx, 0, "listen: at least one listener is required; add "
	    "listen = (");
	assert_int_equal(count_lines(fx->log), 3);

	assert_int_equal(load(fx, "listen = ();\ntls = { key = \"k\"; };\n"),
	    -1);
	expect_msg(fx, 1, "listen: at least one listener is required");
	expect_msg(fx, 2, "tls.certificate: required setting is missing");
	assert_int_equal(count_lines(fx->log), 2);
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
	for (i = 0; i < CONFIG_MAX_LISTENERS; i++)
		off += (size_t)snprintf(text + off, sizeof(text) - off,
		    "\t{ port = %d; },\n", 1000 + i);
	snprintf(text + off, sizeof(text) - off, "\t{ port = 2000; }\n);\n");
	assert_int_equal(load(fx, text), -1);
	expect_msg(fx, 3 + CONFIG_MAX_LISTENERS, "listen[16]: too many "
	    "listeners; at most 16 are supported");
	assert_int_equal(count_lines(fx->log), 1);

	snprintf(text + off - 2, sizeof(text) - off + 2, "\n);\n");
	expect_ok(fx, load(fx, text));
	assert_int_equal(fx->cfg->n_listeners, CONFIG_MAX_LISTENERS);
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

static void
test_privsep_user_must_exist_and_not_be_root(void **state)
{
	static const struct bad_case cases[] = {
		{ MINIMAL "privsep = { user = \"tg-no-such-user-zz\"; };", 3,
		    "privsep.user: user \"tg-no-such-user-zz\" cannot be used "
		    "(no such user); create it or name an existing unprivileged "
		    "user" },
		{ MINIMAL "privsep = { user = \"root\"; };", 3,
		    "privsep.user: user \"root\" is root, which would defeat "
		    "privilege separation" },
		{ MINIMAL "privsep = { user = \"\"; };", 3,
		    "privsep.user: is empty" },
		{ MINIMAL "privsep = { user = \"u234567890123456789012345678901"
		    "234567890123456789012345678901234\"; };", 3,
		    "privsep.user: is 64 bytes long; the limit is 63 bytes" },
		{ MINIMAL "privsep = { chroot = \"\"; };", 3,
		    "privsep.chroot: is empty" },
	};
	struct fx	*fx = *state;

	run_bad_cases(fx, cases, sizeof(cases) / sizeof(cases[0]));
	expect_ok(fx, load(fx, MINIMAL "privsep = { user = \"nobody\"; "
	    "chroot = \"/srv/jail\"; };\n"));
	assert_string_equal(fx->cfg->user, "nobody");
	assert_string_equal(fx->cfg->chroot_dir, "/srv/jail");
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

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

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
		T(test_unknown_nested_settings_are_errors),
		T(test_wrong_types_name_the_expected_type),
		T(test_integer_ranges_are_enforced),
		T(test_integer_range_limits_are_inclusive),
		T(test_durations_are_stored_in_ms),
		T(test_duration_bounds_are_enforced),
		T(test_required_settings_are_reported_missing),
		T(test_listener_address_must_be_numeric),
		T(test_duplicate_listener_is_an_error),
		T(test_listener_count_is_bounded),
		T(test_tls_min_version),
		T(test_non_aead_ciphers_are_rejected),
		T(test_cipher_list_must_fit),
		T(test_auth_backend_is_pam_or_ldap),
		T(test_realm_and_pam_service_syntax),
		T(test_privsep_user_must_exist_and_not_be_root),
		T(test_paths_must_fit_path_max),
		T(test_log_settings),
		T(test_every_error_is_reported_and_cfg_cleared),
		T(test_missing_or_odd_file_is_an_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
