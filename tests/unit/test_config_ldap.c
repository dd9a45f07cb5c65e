/*
 * config_load() of auth.ldap (src/master/config_ldap.c): values stored, defaults,
 * and one check per class of error, each message naming the file, the line
 * and the setting. Run from the top of the repository; the positive tests
 * of bind.password_file need root (the file must be root's).
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

#include "config.h"

#define EXAMPLE		"etc/tunnelgated.conf"
#define MINIMAL		"listen = ( { port = 8443; } );\n" \
			"tls = { certificate = \"c\"; key = \"k\"; };\n"
/* One line (line 3): an LDAP auth group holding x. */
#define LDAP(x)		MINIMAL "auth = { backend = \"ldap\"; ldap = { " x \
			" }; };\n"
#define URIS		"uris = [ \"ldaps://127.0.0.1\" ]; "
#define TEMPLATE	"bind = { mode = \"template\"; " \
			"dn_template = \"uid=%u,dc=t\"; }; "

struct fx {
	char		 dir[PATH_MAX];
	char		 conf[PATH_MAX];
	struct config	*cfg;
	char		*log;
};

struct bad_case {
	const char	*text;
	unsigned	 line;
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
	char		 tmpl[] = "/tmp/tg-config-ldap-XXXXXX";

	if ((fx = calloc(1, sizeof(*fx))) == NULL ||
	    (fx->cfg = calloc(1, sizeof(*fx->cfg))) == NULL ||
	    mkdtemp(tmpl) == NULL || realpath(tmpl, fx->dir) == NULL ||
	    snprintf(fx->conf, sizeof(fx->conf), "%s/tunnelgated.conf",
	    fx->dir) >= (int)sizeof(fx->conf))
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
path_in(char *buf, const struct fx *fx, const char *name)
{
	int	 n = snprintf(buf, PATH_MAX, "%s/%s", fx->dir, name);

	assert_true(n > 0 && n < PATH_MAX);
}

static void
write_file(const struct fx *fx, const char *name, const char *text,
    mode_t mode)
{
	char	 path[PATH_MAX];
	FILE	*fp;

	path_in(path, fx, name);
	assert_non_null(fp = fopen(path, "w"));
	assert_true(fputs(text, fp) >= 0);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(chmod(path, mode), 0);
}

/* config_load() of text, with stderr captured into fx->log. */
static int
load(struct fx *fx, const char *text)
{
	char	 logpath[PATH_MAX];
	FILE	*fp;
	long	 len;
	int	 fd, saved, rc;

	write_file(fx, "tunnelgated.conf", text, 0644);
	path_in(logpath, fx, "stderr.log");
	fflush(stderr);
	assert_true((saved = dup(STDERR_FILENO)) != -1);
	assert_true((fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600))
	    != -1);
	assert_true(dup2(fd, STDERR_FILENO) != -1);
	close(fd);
	rc = config_load(fx->conf, fx->cfg);
	fflush(stderr);
	assert_true(dup2(saved, STDERR_FILENO) != -1);
	close(saved);
	assert_non_null(fp = fopen(logpath, "r"));
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	assert_true((len = ftell(fp)) >= 0);
	rewind(fp);
	free(fx->log);
	assert_non_null(fx->log = calloc(1, (size_t)len + 1));
	assert_int_equal(fread(fx->log, 1, (size_t)len, fp), (size_t)len);
	fclose(fp);
	unlink(logpath);
	return rc;
}

static void
expect_ok(struct fx *fx, int rc)
{
	if (rc != 0 || fx->log[0] != '\0')
		fail_msg("load failed (%d):\n%s", rc, fx->log);
}

static void
expect_msg(const struct fx *fx, unsigned line, const char *msg)
{
	char	 want[2 * PATH_MAX];

	snprintf(want, sizeof(want), "%s:%u: %s", fx->conf, line, msg);
	if (strstr(fx->log, want) == NULL)
		fail_msg("no \"%s\" in the log:\n%s", want, fx->log);
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
run_bad_cases(struct fx *fx, const struct bad_case *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (load(fx, c[i].text) != -1)
			fail_msg("accepted:\n%s", c[i].text);
		expect_msg(fx, c[i].line, c[i].msg);
	}
}

/* A bind password file as the daemon wants it; needs root. */
static void
root_secret(struct fx *fx, const char *name)
{
	char	 path[PATH_MAX];

	if (geteuid() != 0)
		skip();
	write_file(fx, name, "s3cret\n", 0600);
	path_in(path, fx, name);
	assert_int_equal(chown(path, 0, 0), 0);
}

/*
 * The shipped example with its commented auth.ldap block turned on: what
 * it documents must load, and hold the defaults config_ldap.c sets.
 */
static void
test_shipped_example_ldap_block_loads(void **state)
{
	struct fx	*fx = *state;
	FILE		*fp;
	char		 line[1024], *text = NULL;
	const char	*p;
	size_t		 len = 0;
	bool		 in_block = false;
	int		 blocks = 0;

	root_secret(fx, "ldap-bind.secret");
	if ((fp = fopen(EXAMPLE, "r")) == NULL)
		fail_msg("%s not found: run the tests from the top of the "
		    "repository", EXAMPLE);
	assert_non_null(text = calloc(1, 65536));
	while (fgets(line, sizeof(line), fp) != NULL) {
		p = line;
		if (strcmp(line, "\t# ldap = {\n") == 0) {
			in_block = true;
			blocks++;
		}
		if (in_block) {
			/* "\t#\turis = ..." becomes "\t\turis = ...". */
			assert_memory_equal(line, "\t#", 2);
			if (strcmp(line, "\t# };\n") == 0)
				in_block = false;
			line[1] = '\t';
			p = line + 1;
		} else if (strstr(line, "backend = \"pam\";") != NULL)
			p = "\tbackend = \"ldap\";\n";
		assert_true(len + strlen(p) < 65536);
		memcpy(text + len, p, strlen(p));
		len += strlen(p);
	}
	fclose(fp);
	assert_int_equal(blocks, 1);
	expect_ok(fx, load(fx, text));
	free(text);
	assert_int_equal(fx->cfg->auth_backend, AUTH_BACKEND_LDAP);
	assert_int_equal(fx->cfg->ldap.n_uris, 2);
	assert_true(fx->cfg->ldap.starttls && fx->cfg->ldap.tls_verify);
	assert_string_equal(fx->cfg->ldap.tls_ca_file, "");
	assert_int_equal(fx->cfg->ldap.bind_mode, CONFIG_LDAP_BIND_SEARCH);
	assert_string_equal(fx->cfg->ldap.user_filter, "(uid=%u)");
	assert_int_equal(fx->cfg->ldap.group_mode, CONFIG_LDAP_GROUPS_MEMBEROF);
	assert_int_equal(fx->cfg->ldap.timeout_connect_ms, 3000);
	assert_int_equal(fx->cfg->ldap.timeout_operation_ms, 5000);
	assert_int_equal(fx->cfg->ldap.backoff_ms, 10000);
}

static void
test_search_mode_settings_are_stored(void **state)
{
	struct fx	*fx = *state;
	char		 want[PATH_MAX];

	root_secret(fx, "bind.secret");
	write_file(fx, "ca.pem", "-", 0644);
	expect_ok(fx, load(fx, MINIMAL
	    "auth = {\n"
	    "  backend = \"ldap\";\n"
	    "  ldap = {\n"
	    "    uris = [ \"ldap://127.0.0.1:3890/\", \"ldaps://[::1]:6360\" ];\n"
	    "    starttls = true;\n"
	    "    tls = { ca_file = \"ca.pem\"; verify = true; };\n"
	    "    bind = { mode = \"search\"; dn = \"cn=tg,ou=svc,dc=t\";\n"
	    "      password_file = \"bind.secret\"; base = \"ou=people,dc=t\";\n"
	    "      scope = \"one\"; filter = \"(&(objectClass=person)(uid=%u))\";"
	    "      name_attribute = \"sAMAccountName\"; };\n"
	    "    account_filter = \"(!(pwdAccountLockedTime=*))\";\n"
	    "    groups = { mode = \"search\"; base = \"ou=groups,dc=t\";\n"
	    "      scope = \"base\"; filter = \"(member=%d)\";\n"
	    "      name_attribute = \"gid-name\"; attribute = \"isMemberOf\"; };\n"
	    "    timeouts = { connect = 1.5; operation = 2; };\n"
	    "    backoff = 0.25;\n"
	    "  };\n"
	    "};\n"));
	assert_int_equal(fx->cfg->auth_backend, AUTH_BACKEND_LDAP);
	assert_int_equal(fx->cfg->ldap.n_uris, 2);
	assert_string_equal(fx->cfg->ldap.uris[0], "ldap://127.0.0.1:3890/");
	assert_string_equal(fx->cfg->ldap.uris[1], "ldaps://[::1]:6360");
	path_in(want, fx, "ca.pem");
	assert_string_equal(fx->cfg->ldap.tls_ca_file, want);
	path_in(want, fx, "bind.secret");
	assert_string_equal(fx->cfg->ldap.bind_password_file, want);
	assert_int_equal(fx->cfg->ldap.bind_mode, CONFIG_LDAP_BIND_SEARCH);
	assert_string_equal(fx->cfg->ldap.bind_dn, "cn=tg,ou=svc,dc=t");
	assert_string_equal(fx->cfg->ldap.user_base, "ou=people,dc=t");
	assert_int_equal(fx->cfg->ldap.user_scope, CONFIG_LDAP_SCOPE_ONE);
	assert_string_equal(fx->cfg->ldap.user_filter,
	    "(&(objectClass=person)(uid=%u))");
	assert_string_equal(fx->cfg->ldap.name_attribute, "sAMAccountName");
	assert_string_equal(fx->cfg->ldap.account_filter,
	    "(!(pwdAccountLockedTime=*))");
	assert_int_equal(fx->cfg->ldap.group_mode, CONFIG_LDAP_GROUPS_SEARCH);
	assert_string_equal(fx->cfg->ldap.group_base, "ou=groups,dc=t");
	assert_int_equal(fx->cfg->ldap.group_scope, CONFIG_LDAP_SCOPE_BASE);
	assert_string_equal(fx->cfg->ldap.group_filter, "(member=%d)");
	assert_string_equal(fx->cfg->ldap.group_name_attribute, "gid-name");
	assert_string_equal(fx->cfg->ldap.memberof_attribute, "isMemberOf");
	assert_int_equal(fx->cfg->ldap.timeout_connect_ms, 1500);
	assert_int_equal(fx->cfg->ldap.timeout_operation_ms, 2000);
	assert_int_equal(fx->cfg->ldap.backoff_ms, 250);
}

static void
test_template_mode_needs_no_service_account(void **state)
{
	struct fx	*fx = *state;

	expect_ok(fx, load(fx, LDAP(URIS TEMPLATE "starttls = false; "
	    "tls = { verify = false; };")));
	assert_int_equal(fx->cfg->ldap.bind_mode, CONFIG_LDAP_BIND_TEMPLATE);
	assert_string_equal(fx->cfg->ldap.dn_template, "uid=%u,dc=t");
	assert_string_equal(fx->cfg->ldap.bind_dn, "");
	assert_false(fx->cfg->ldap.starttls);
	assert_false(fx->cfg->ldap.tls_verify);
	assert_int_equal(fx->cfg->ldap.group_mode, CONFIG_LDAP_GROUPS_MEMBEROF);
}

static void
test_required_settings_per_mode(void **state)
{
	struct fx	*fx = *state;

	/* Reported at the line of the closest group that is there. */
	assert_int_equal(load(fx, MINIMAL "auth = {\n\tbackend = \"ldap\";\n"
	    "\tldap = { };\n};\n"), -1);
	expect_msg(fx, 5, "auth.ldap.uris: required, and missing from the "
	    "auth.ldap group that starts on this line; add uris = ...; inside "
	    "it: list the directory servers");
	expect_msg(fx, 5, "auth.ldap.bind.dn: required, and missing from the "
	    "auth.ldap group that starts on this line; add bind = { dn = ...; "
	    "} inside it: bind mode \"search\" needs the service account's DN");
	expect_msg(fx, 5, "auth.ldap.bind.password_file: required, and missing "
	    "from the auth.ldap group");
	expect_msg(fx, 5, "auth.ldap.bind.base: required, and missing from the "
	    "auth.ldap group");
	assert_int_equal(count_lines(fx->log), 4);

	assert_int_equal(load(fx, LDAP(URIS "bind = { mode = \"template\"; };")),
	    -1);
	expect_msg(fx, 3, "auth.ldap.bind.dn_template: required, and missing "
	    "from the auth.ldap.bind group that starts on this line");
	assert_int_equal(count_lines(fx->log), 1);

	assert_int_equal(load(fx, LDAP(URIS TEMPLATE
	    "groups = { mode = \"search\"; };")), -1);
	expect_msg(fx, 3, "auth.ldap.groups.base: required, and missing from "
	    "the auth.ldap.groups group that starts on this line; add base = "
	    "...; inside it: group mode \"search\" needs the DN groups are "
	    "searched under");
	assert_int_equal(count_lines(fx->log), 1);

	/* A service account is optional with a template, but whole. */
	assert_int_equal(load(fx, LDAP(URIS "bind = { mode = \"template\"; "
	    "dn_template = \"uid=%u,dc=t\"; dn = \"cn=tg,dc=t\"; };")), -1);
	expect_msg(fx, 3, "auth.ldap.bind.password_file: required, and missing "
	    "from the auth.ldap.bind group that starts on this line; add "
	    "password_file = ...; inside it: a service account needs its "
	    "password file");
}

static void
test_uris_are_checked(void **state)
{
	static const struct bad_case cases[] = {
		{ LDAP("uris = [ \"http://h\" ]; " TEMPLATE), 3,
		    "auth.ldap.uris[0]: \"http://h\" is not an LDAP URI; write "
		    "ldap://HOST[:PORT] or ldaps://HOST[:PORT]" },
		{ LDAP("uris = [ \"ldapi:///run/ldapi\" ]; " TEMPLATE), 3,
		    "auth.ldap.uris[0]: \"ldapi:///run/ldapi\" has a scheme "
		    "other than ldap:// or ldaps://" },
		{ LDAP("uris = [ \"ldap://h\", \"ldap://\" ]; " TEMPLATE), 3,
		    "auth.ldap.uris[1]: \"ldap://\" names no host" },
		{ LDAP("uris = [ \"ldap://h/dc=t??sub?(uid=*)\" ]; " TEMPLATE), 3,
		    "auth.ldap.uris[0]: \"ldap://h/dc=t??sub?(uid=*)\" has a DN, "
		    "attributes, filter or extensions" },
		{ LDAP("uris = ( \"ldap://h\", 389 ); " TEMPLATE), 3,
		    "auth.ldap.uris[1]: expected a string" },
		{ LDAP("uris = \"ldap://h\"; " TEMPLATE), 3,
		    "auth.ldap.uris: expected an array of strings [ \"...\", "
		    "... ], found a string" },
		{ LDAP("uris = [ ]; " TEMPLATE), 3,
		    "auth.ldap.uris: is empty; list at least one server URI" },
		{ LDAP("uris = [ \"ldaps://a\", \"ldaps://b\", \"ldaps://c\", "
		    "\"ldaps://d\", \"ldaps://e\", \"ldaps://f\", \"ldaps://g\", "
		    "\"ldaps://h\", \"ldaps://i\" ]; " TEMPLATE), 3,
		    "auth.ldap.uris[8]: too many URIs; at most 8" },
	};
	struct fx	*fx = *state;

	run_bad_cases(fx, cases, sizeof(cases) / sizeof(cases[0]));
}

static void
test_templates_and_names_are_checked(void **state)
{
	static const struct bad_case cases[] = {
		{ LDAP(URIS "bind = { mode = \"direct\"; };"), 3,
		    "auth.ldap.bind.mode: \"direct\" is not a bind mode; use "
		    "\"search\", \"template\"" },
		{ LDAP(URIS TEMPLATE "groups = { mode = \"nested\"; };"), 3,
		    "auth.ldap.groups.mode: \"nested\" is not a group mode" },
		{ LDAP(URIS "bind = { mode = \"template\"; scope = \"subtree\"; "
		    "dn_template = \"uid=%u,dc=t\"; };"), 3,
		    "auth.ldap.bind.scope: \"subtree\" is not a search scope; use "
		    "\"base\", \"one\", \"sub\"" },
		{ LDAP(URIS TEMPLATE "account_filter = \"(uid=%u)\";"), 3,
		    "auth.ldap.account_filter: \"%u\" at offset 5 is not a "
		    "placeholder here" },
		{ LDAP(URIS TEMPLATE "account_filter = \"nsAccountLock=TRUE\";"),
		    3, "auth.ldap.account_filter: \"nsAccountLock=TRUE\" is not "
		    "one parenthesized filter" },
		{ LDAP(URIS TEMPLATE "groups = { filter = \"(member=%x)\"; };"),
		    3, "auth.ldap.groups.filter: \"%x\" at offset 8 is not a "
		    "placeholder here; use %u (user name) or %d (user DN)" },
		{ LDAP(URIS TEMPLATE "groups = { filter = \"(cn=admins)\"; };"),
		    3, "auth.ldap.groups.filter: has no placeholder, so it would "
		    "match the same entries for every user" },
		{ LDAP(URIS TEMPLATE "groups = { filter = \"(a=%u))(b=*\"; };"),
		    3, "auth.ldap.groups.filter: \"(a=%u))(b=*\" is not one "
		    "parenthesized filter" },
		{ LDAP(URIS TEMPLATE "groups = { filter = \"(a=%u)(b=*)\"; };"),
		    3, "auth.ldap.groups.filter: \"(a=%u)(b=*)\" is not one "
		    "parenthesized filter" },
		{ LDAP(URIS "bind = { mode = \"template\"; "
		    "dn_template = \"%u\"; };"), 3,
		    "auth.ldap.bind.dn_template: \"%u\" is not a DN with %u for "
		    "the user name" },
		{ LDAP(URIS "bind = { mode = \"template\"; "
		    "dn_template = \"uid=admin,dc=t\"; };"), 3,
		    "auth.ldap.bind.dn_template: \"uid=admin,dc=t\" is not a DN "
		    "with %u" },
		{ LDAP(URIS "bind = { mode = \"template\"; "
		    "dn_template = \"uid=%d,dc=t\"; };"), 3,
		    "auth.ldap.bind.dn_template: \"%d\" at offset 4 is not a "
		    "placeholder here; use %u (user name)" },
		{ LDAP(URIS TEMPLATE "groups = { base = \"groups\"; };"), 3,
		    "auth.ldap.groups.base: \"groups\" is not a DN" },
		{ LDAP(URIS TEMPLATE "groups = { attribute = \"member of\"; };"),
		    3, "auth.ldap.groups.attribute: \"member of\" is not an "
		    "attribute name" },
		{ LDAP(URIS TEMPLATE "groups = { name_attribute = \"1.2.x\"; };"),
		    3, "auth.ldap.groups.name_attribute: \"1.2.x\" is not an "
		    "attribute name" },
		{ LDAP(URIS TEMPLATE "tls = { ca_file = \"no-such.pem\"; };"), 3,
		    "auth.ldap.tls.ca_file: cannot read " },
		{ LDAP(URIS TEMPLATE "timeouts = { connect = 0; };"), 3,
		    "auth.ldap.timeouts.connect: 0 seconds is out of range" },
		{ LDAP(URIS TEMPLATE "uri = \"ldap://h\";"), 3,
		    "auth.ldap.uri: unknown setting; remove it or use one of: "
		    "uris, starttls, tls, bind, account_filter, groups, "
		    "timeouts, backoff" },
	};
	struct fx	*fx = *state;

	run_bad_cases(fx, cases, sizeof(cases) / sizeof(cases[0]));
	expect_ok(fx, load(fx, LDAP(URIS TEMPLATE "groups = { filter = "
	    "\"(&(cn=100%%)(memberUid=%u))\"; attribute = \"2.5.4.31\"; };")));
	assert_string_equal(fx->cfg->ldap.group_filter,
	    "(&(cn=100%%)(memberUid=%u))");
	/* A parenthesis escaped in a filter value does not count. */
	expect_ok(fx, load(fx, LDAP(URIS TEMPLATE "account_filter = "
	    "\"(!(description=\\\\29locked))\";")));
}

static void
test_password_file_must_be_root_only(void **state)
{
	struct fx	*fx = *state;
	const char	*text = LDAP(URIS "bind = { dn = \"cn=tg,dc=t\"; "
	    "base = \"dc=t\"; password_file = \"bind.secret\"; };");

	assert_int_equal(load(fx, text), -1);
	expect_msg(fx, 3, "auth.ldap.bind.password_file: cannot use ");
	write_file(fx, "bind.secret", "s3cret\n", 0644);
	assert_int_equal(load(fx, text), -1);
	expect_msg(fx, 3, "auth.ldap.bind.password_file: ");
	if (strstr(fx->log, "bind.secret must be a regular file owned by root "
	    "and closed to group and others") == NULL ||
	    strstr(fx->log, "chown root and chmod 600 it") == NULL)
		fail_msg("%s", fx->log);
	root_secret(fx, "bind.secret");
	expect_ok(fx, load(fx, text));
	write_file(fx, "bind.secret", "", 0600);
	assert_int_equal(load(fx, text), -1);
	expect_msg(fx, 3, "auth.ldap.bind.password_file: ");
	if (strstr(fx->log, "holds 0 bytes; it must hold the bind password "
	    "alone") == NULL)
		fail_msg("%s", fx->log);
}

static void
test_settings_that_go_together(void **state)
{
	struct fx	*fx = *state;

	write_file(fx, "client.pem", "-", 0644);
	assert_int_equal(load(fx, LDAP(URIS TEMPLATE
	    "tls = { certificate = \"client.pem\"; };")), -1);
	expect_msg(fx, 3, "auth.ldap.tls: a client certificate needs its key "
	    "and a key its certificate; set both or neither");
	/* Passwords in clear only over loopback. */
	assert_int_equal(load(fx, LDAP("uris = [ \"ldap://127.0.0.1\", "
	    "\"ldap://ldap.example.org\" ]; starttls = false; " TEMPLATE)), -1);
	expect_msg(fx, 3, "auth.ldap.starttls: is false, so passwords would "
	    "cross the network to ldap://ldap.example.org in clear");
	assert_int_equal(count_lines(fx->log), 1);
	expect_ok(fx, load(fx, LDAP("uris = [ \"ldap://127.0.0.1\", "
	    "\"ldap://[::1]\", \"ldaps://ldap.example.org\" ]; "
	    "starttls = false; " TEMPLATE)));
	assert_int_equal(load(fx, MINIMAL "timeouts = { auth = 4; };\n"
	    "auth = { backend = \"ldap\"; ldap = { " URIS TEMPLATE
	    "timeouts = { connect = 2; operation = 2.5; }; }; };\n"), -1);
	expect_msg(fx, 4, "auth.ldap.timeouts: connect plus operation (4500 "
	    "ms) is more than timeouts.auth (4000 ms)");
}

/*
 * A re-check asks about accounts without their passwords: only a service
 * account can. Without one the default is off and asking for it is an
 * error; with one the default stays.
 */
static void
test_recheck_interval_needs_a_service_account(void **state)
{
	struct fx	*fx = *state;

	expect_ok(fx, load(fx, LDAP(URIS TEMPLATE)));
	assert_int_equal(fx->cfg->auth_recheck_interval_ms, 0);
	assert_int_equal(load(fx, MINIMAL "auth = { recheck_interval = 60; "
	    "backend = \"ldap\"; ldap = { " URIS TEMPLATE " }; };\n"), -1);
	expect_msg(fx, 3, "auth.recheck_interval: needs auth.ldap.bind.dn");
	root_secret(fx, "bind.secret");
	expect_ok(fx, load(fx, LDAP(URIS "bind = { mode = \"template\"; "
	    "dn_template = \"uid=%u,dc=t\"; dn = \"cn=tg,dc=t\"; "
	    "password_file = \"bind.secret\"; };")));
	assert_int_equal(fx->cfg->auth_recheck_interval_ms, 300 * 1000);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_shipped_example_ldap_block_loads),
		T(test_search_mode_settings_are_stored),
		T(test_template_mode_needs_no_service_account),
		T(test_required_settings_per_mode),
		T(test_uris_are_checked),
		T(test_templates_and_names_are_checked),
		T(test_password_file_must_be_root_only),
		T(test_settings_that_go_together),
		T(test_recheck_interval_needs_a_service_account),
	};

	return cmocka_run_group_tests_name("config_ldap", tests, NULL, NULL);
}
