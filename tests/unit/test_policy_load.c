/*
 * Policy loader: its limits, and that every kind of bad policy is refused
 * with a message naming file:line and the setting.
 */
#include <sys/stat.h>

#include "policy_fixture.h"

static void
test_limits_are_inclusive(void **state)
{
	struct policy	*p;
	char		*text, *t;
	size_t		 i, cap = 10001 * 128;

	(void)state;
	assert_non_null(text = malloc(cap));
	t = text + sprintf(text, HEAD);
	for (i = 0; i < 10000; i++)
		t += sprintf(t, "{ name = \"r%zu\"; action = \"allow\"; "
		    "users = [ \"u%zu\" ]; hosts = [ \"h.example\" ]; "
		    "ports = [ 1 ]; },\n", i, i);
	strcpy(t - 2, "\n);");
	assert_non_null(p = load_ok(text));
	assert_int_equal(policy_rule_count(p), 10000);
	assert_string_equal(verdict(p, "u9999", "h.example", NULL, 1),
	    "allow:r9999");
	policy_free(p);

	sprintf(t - 2, ",\n{ name = \"x\"; action = \"allow\"; "
	    "users = [ \"*\" ]; hosts = [ \"h.example\" ]; ports = [ 1 ]; }"
	    "\n);");
	assert_null(load_captured(text));
	assert_non_null(strstr(logbuf, "test:2: rules: 10001 rules, at most "
	    "10000"));

	t = text + sprintf(text, HEAD "{ name = \"r\"; action = \"allow\"; "
	    "users = [ \"*\" ]; hosts = [ \"h.example\" ]; ports = [ 1");
	for (i = 1; i < 1000; i++)
		t += sprintf(t, ", %zu", i + 1);
	strcpy(t, " ]; }\n);");
	assert_non_null(p = load_ok(text));
	assert_string_equal(verdict(p, "u", "h.example", NULL, 1000),
	    "allow:r");
	policy_free(p);
	strcpy(t, ", 1001 ]; }\n);");
	assert_null(load_captured(text));
	assert_non_null(strstr(logbuf, "test:3: rules[0].ports: 1001 entries"));
	free(text);
}

struct bad_policy {
	const char	*text;
	const char	*where;		/* "test:LINE: SETTING" */
	const char	*what;
};

/* A rule over lines 3-5: name, action and users; hosts; ports. */
#define RULE(n, a, u, h, p) \
	"{ name = " n "; action = " a "; users = " u ";\n" \
	"  hosts = " h ";\n  ports = " p "; }\n"
#define OK_RULE		RULE("\"ok\"", "\"allow\"", "[ \"*\" ]", \
			    "[ \"a.example\" ]", "[ 22 ]")
#define R_NAME(n)	HEAD RULE(n, "\"allow\"", "[ \"*\" ]", \
			    "[ \"a.example\" ]", "[ 22 ]") ");"
#define R_ACTION(a)	HEAD RULE("\"r\"", a, "[ \"*\" ]", \
			    "[ \"a.example\" ]", "[ 22 ]") ");"
#define R_USERS(u)	HEAD RULE("\"r\"", "\"allow\"", u, \
			    "[ \"a.example\" ]", "[ 22 ]") ");"
#define R_HOSTS(h)	HEAD RULE("\"r\"", "\"allow\"", "[ \"*\" ]", h, \
			    "[ 22 ]") ");"
#define R_PORTS(p)	HEAD RULE("\"r\"", "\"allow\"", "[ \"*\" ]", \
			    "[ \"a.example\" ]", p) ");"
#define LABEL64		"a234567890123456789012345678901" \
			"234567890123456789012345678901234"

static const struct bad_policy bad_policies[] = {
	/* libconfig syntax, and what it would get wrong silently */
	{ HEAD "{ name = \"r\"; action = allow; }\n);",
	    "test:3: syntax", "syntax error" },
	{ R_PORTS("[ 22, \"8000-8100\" ]"),
	    "test:5: syntax", "use ( ) to mix numbers and strings" },
	{ R_PORTS("[ 4294967318 ]"),
	    "test:5: number", "4294967318: out of range" },
	{ R_PORTS("[ 0x100000016 ]"), "test:5: number", "out of range" },
	{ R_USERS("[ \"al\\x00ice\" ]"), "test:3: \\x00", "NUL" },
	{ HEAD OK_RULE ");\n  @include \"/dev/zero\"\n",
	    "test:7: @include", "not supported" },
	/* the file */
	{ "rules = ();\n", "test: version", "missing" },
	{ "version = 2;\nrules = ();\n", "test:1: version",
	    "2 is not supported" },
	{ "version = \"1\";\nrules = ();\n", "test:1: version",
	    "the number 1" },
	{ "version = 1;\n", "test: rules", "missing" },
	{ "version = 1;\nrules = [ 1 ];\n", "test:2: rules", "list of rules" },
	{ "version = 1;\nrules = ();\ndefaults = 1;\n", "test:3: defaults",
	    "unknown setting" },
	{ HEAD OK_RULE ", 7\n);", "test:6: rules[1]", "must be a rule in { }" },
	/* names and actions */
	{ HEAD "{ action = \"allow\"; users = [ \"*\" ];\n"
	    "  hosts = [ \"a.example\" ]; ports = [ 22 ]; }\n);",
	    "test:3: rules[0].name", "missing" },
	{ R_NAME("\"ops ssh\""), "test:3: rules[0].name",
	    "\"ops ssh\": must be" },
	{ R_NAME("\"" LABEL64 "\""), "test:3: rules[0].name", "must be 1-63" },
	{ R_NAME("\"default-deny\""), "test:3: rules[0].name", "reserved" },
	{ R_NAME("\"special-address\""), "test:3: rules[0].name",
	    "reserved" },
	{ HEAD OK_RULE ",\n" OK_RULE ");", "test:7: rules[1].name",
	    "ok: already the name of rules[0] at line 3" },
	{ R_ACTION("\"permit\""), "test:3: rules[0].action",
	    "permit: must be \"allow\" or \"deny\"" },
	{ HEAD "{ name = \"r\"; users = [ \"*\" ];\n"
	    "  hosts = [ \"a.example\" ]; ports = [ 22 ]; }\n);",
	    "test:3: rules[0].action", "missing" },
	{ HEAD "{ name = \"r\"; action = \"allow\"; users = [ \"*\" ];\n"
	    "  hosts = [ \"a.example\" ]; ports = [ 22 ];\n  limit = 5; }\n);",
	    "test:5: rules[0].limit", "unknown setting" },
	/* users and groups */
	{ HEAD "{ name = \"r\"; action = \"allow\";\n"
	    "  hosts = [ \"a.example\" ]; ports = [ 22 ]; }\n);",
	    "test:3: rules[0]", "no users or groups" },
	{ R_USERS("[ ]"), "test:3: rules[0].users", "empty list" },
	{ R_USERS("\"alice\""), "test:3: rules[0].users", "must be a list" },
	{ R_USERS("[ 5 ]"), "test:3: rules[0].users[0]", "must be a string" },
	{ R_USERS("[ \"alice\", \" bob\" ]"), "test:3: rules[0].users[1]",
	    "leading or trailing space" },
	{ R_USERS("[ \"bob \" ]"), "test:3: rules[0].users[0]",
	    "\"bob \": leading or trailing space" },
	{ R_USERS("[ \"al*\" ]"), "test:3: rules[0].users[0]",
	    "not a pattern" },
	{ HEAD "{ name = \"r\"; action = \"allow\"; groups = [ \"*\" ];\n"
	    "  hosts = [ \"a.example\" ]; ports = [ 22 ]; }\n);",
	    "test:3: rules[0].groups[0]", "\"*\" is not a group" },
	/* hosts */
	{ HEAD "{ name = \"r\"; action = \"allow\"; users = [ \"*\" ];\n"
	    "  ports = [ 22 ]; }\n);", "test:3: rules[0]", "no hosts" },
	{ R_HOSTS("[ ]"), "test:4: rules[0].hosts", "empty list" },
	{ R_HOSTS("[ \"a.example\", \"10.0.0.1/8\" ]"),
	    "test:4: rules[0].hosts[1]",
	    "10.0.0.1/8: host bits set, did you mean 10.0.0.0/8?" },
	{ R_HOSTS("[ \"2001:db8::1/32\" ]"), "test:4: rules[0].hosts[0]",
	    "host bits set, did you mean 2001:db8::/32?" },
	{ R_HOSTS("[ \"10.0.0.0/33\" ]"), "test:4: rules[0].hosts[0]",
	    "must be 0-32" },
	{ R_HOSTS("[ \"2001:db8::/129\" ]"), "test:4: rules[0].hosts[0]",
	    "must be 0-128" },
	{ R_HOSTS("[ \"10.0.0.0/\" ]"), "test:4: rules[0].hosts[0]",
	    "prefix length" },
	{ R_HOSTS("[ \"10.0.0.0/-8\" ]"), "test:4: rules[0].hosts[0]",
	    "prefix length" },
	{ R_HOSTS("[ \"256.0.0.1\" ]"), "test:4: rules[0].hosts[0]",
	    "not an IPv4 address" },
	{ R_HOSTS("[ \"10.1\" ]"), "test:4: rules[0].hosts[0]",
	    "not an IPv4 address" },
	{ R_HOSTS("[ \"fe80::1%eth0\" ]"), "test:4: rules[0].hosts[0]",
	    "not an IPv6 address" },
	{ R_HOSTS("[ \"::ffff:10.0.0.0/104\" ]"), "test:4: rules[0].hosts[0]",
	    "IPv4-mapped address; write it as 10.0.0.0/8" },
	{ R_HOSTS("[ \"a..example\" ]"), "test:4: rules[0].hosts[0]",
	    "empty label" },
	{ R_HOSTS("[ \"a_b.example\" ]"), "test:4: rules[0].hosts[0]",
	    "invalid character" },
	{ R_HOSTS("[ \"" LABEL64 ".example\" ]"), "test:4: rules[0].hosts[0]",
	    "longer than 63" },
	{ R_HOSTS("[ \"*\" ]"), "test:4: rules[0].hosts[0]",
	    "a wildcard is \"*.domain\"" },
	{ R_HOSTS("[ \"*example.com\" ]"), "test:4: rules[0].hosts[0]",
	    "a wildcard is" },
	{ R_HOSTS("[ \"a.*.example\" ]"), "test:4: rules[0].hosts[0]",
	    "invalid character" },
	{ R_HOSTS("[ \"*.10\" ]"), "test:4: rules[0].hosts[0]", "all digits" },
	{ R_HOSTS("[ \"\" ]"), "test:4: rules[0].hosts[0]", "empty" },
	/* allow entries that could never match */
	{ R_HOSTS("[ \"0.0.0.0\" ]"), "test:4: rules[0].hosts[0]",
	    "0.0.0.0: unspecified addresses (0.0.0.0/8 and ::) are never "
	    "connected to" },
	{ R_HOSTS("[ \"a.example\", \"0.1.0.0/16\" ]"),
	    "test:4: rules[0].hosts[1]", "never connected to" },
	{ R_HOSTS("[ \"::\" ]"), "test:4: rules[0].hosts[0]",
	    "never connected to" },
	{ R_HOSTS("[ \"64:ff9b::/96\" ]"), "test:4: rules[0].hosts[0]",
	    "64:ff9b::/96: these IPv6 addresses carry an IPv4 address" },
	{ R_HOSTS("[ \"2002::/16\" ]"), "test:4: rules[0].hosts[0]",
	    "carry an IPv4 address" },
	{ R_HOSTS("[ \"2001::/32\" ]"), "test:4: rules[0].hosts[0]",
	    "carry an IPv4 address" },
	{ R_HOSTS("[ \"::10.0.0.0/104\" ]"), "test:4: rules[0].hosts[0]",
	    "carry an IPv4 address" },
	{ R_HOSTS("[ \"64:ff9b::a00:1\" ]"), "test:4: rules[0].hosts[0]",
	    "carry an IPv4 address" },
	/* special */
	{ R_PORTS("[ 22 ];\n  special = [ \"loopback\", \"broadcast\" ]"),
	    "test:6: rules[0].special[1]", "broadcast: not a range a rule can "
	    "open" },
	{ R_PORTS("[ 22 ]; special = [ \"unspecified\" ]"),
	    "test:5: rules[0].special[0]", "never connected to" },
	{ R_PORTS("[ 22 ]; special = [ \"Loopback\" ]"),
	    "test:5: rules[0].special[0]", "not a range" },
	{ R_PORTS("[ 22 ]; special = [ ]"), "test:5: rules[0].special",
	    "empty list" },
	{ R_PORTS("[ 22 ]; special = \"loopback\""),
	    "test:5: rules[0].special", "must be a list" },
	{ R_PORTS("[ 22 ]; special = [ 1 ]"), "test:5: rules[0].special[0]",
	    "must be a string" },
	{ HEAD RULE("\"r\"", "\"deny\"", "[ \"*\" ]", "[ \"a.example\" ]",
	    "[ 22 ]; special = [ \"loopback\" ]") ");",
	    "test:5: rules[0].special", "only allow rules take special" },
	/* ports */
	{ HEAD "{ name = \"r\"; action = \"allow\"; users = [ \"*\" ];\n"
	    "  hosts = [ \"a.example\" ]; }\n);", "test:3: rules[0]",
	    "no ports" },
	{ R_PORTS("[ ]"), "test:5: rules[0].ports", "empty list" },
	{ R_PORTS("[ 0 ]"), "test:5: rules[0].ports[0]",
	    "port 0 is out of range" },
	{ R_PORTS("[ 65536 ]"), "test:5: rules[0].ports[0]", "out of range" },
	{ R_PORTS("[ -22 ]"), "test:5: rules[0].ports[0]", "out of range" },
	{ R_PORTS("[ \"8100-8000\" ]"), "test:5: rules[0].ports[0]",
	    "reversed; write \"8000-8100\"" },
	{ R_PORTS("[ \"0-10\" ]"), "test:5: rules[0].ports[0]", "1-65535" },
	{ R_PORTS("[ \"1-65536\" ]"), "test:5: rules[0].ports[0]", "1-65535" },
	{ R_PORTS("[ \"5-0\" ]"), "test:5: rules[0].ports[0]",
	    "5-0: ports are 1-65535" },
	{ R_PORTS("[ \"ssh\" ]"), "test:5: rules[0].ports[0]", "not a port" },
	{ R_PORTS("[ \"22 \" ]"), "test:5: rules[0].ports[0]", "not a port" },
	{ R_PORTS("[ 22.0 ]"), "test:5: rules[0].ports[0]", "must be a port" },
};

static void
test_each_bad_policy_is_refused(void **state)
{
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(bad_policies) / sizeof(bad_policies[0]); i++) {
		if (load_captured(bad_policies[i].text) != NULL)
			fail_msg("case %zu loaded:\n%s", i,
			    bad_policies[i].text);
		if (strstr(logbuf, bad_policies[i].where) == NULL ||
		    strstr(logbuf, bad_policies[i].what) == NULL)
			fail_msg("case %zu: want \"%s\" and \"%s\", "
			    "got:\n%s", i, bad_policies[i].where,
			    bad_policies[i].what, logbuf);
	}
}

/* The same entries are fine where they can match: in deny rules. */
static void
test_deny_rules_take_any_network(void **state)
{
	struct policy	*p;

	(void)state;
	p = load_ok(HEAD
	    "{ name = \"d\"; action = \"deny\"; users = [ \"*\" ];"
	    "  hosts = [ \"0.0.0.0/8\", \"::\", \"64:ff9b::/96\", \"2002::/16\","
	    "    \"2001::/32\" ]; ports = [ \"*\" ]; },\n"
	    "{ name = \"a\"; action = \"allow\"; users = [ \"*\" ];"
	    "  hosts = [ \"::/0\", \"2000::/3\", \"::/96\", \"2001:db8::/32\" ];"
	    "  ports = [ \"*\" ]; special = [ \"loopback\", \"link-local\","
	    "  \"multicast\", \"own\", \"loopback\" ]; }\n);");
	assert_int_equal(policy_rule_count(p), 2);
	policy_free(p);

	/* A bad action is one error, not also one about special. */
	assert_null(load_captured(HEAD RULE("\"r\"", "\"maybe\"", "[ \"*\" ]",
	    "[ \"a.example\" ]", "[ 22 ]; special = [ \"loopback\" ]") ");"));
	assert_non_null(strstr(logbuf, "test:3: rules[0].action: maybe"));
	assert_null(strstr(logbuf, "only allow rules take special"));
}

static void
test_every_error_is_reported(void **state)
{
	(void)state;
	assert_null(load_captured("version = 1;\nrules = (\n"
	    RULE("\"r\"", "\"allow\"", "[ \"*\" ]", "[ \"10.0.0.1/8\" ]",
	    "[ 0 ]") ",\n" RULE("\"r\"", "\"maybe\"", "[ \"*\" ]",
	    "[ \"a.example\" ]", "[ 22 ]") ");\nextra = 1;\n"));
	assert_non_null(strstr(logbuf,
	    "test:4: rules[0].hosts[0]: 10.0.0.1/8"));
	assert_non_null(strstr(logbuf, "test:5: rules[0].ports[0]: port 0"));
	assert_non_null(strstr(logbuf, "test:7: rules[1].action: maybe"));
	assert_non_null(strstr(logbuf, "test:7: rules[1].name: r: already"));
	assert_non_null(strstr(logbuf, "test:11: extra: unknown setting"));
}

/* A file of garbage gives a readable screenful, not thousands of lines. */
static void
test_errors_stop_after_a_hundred(void **state)
{
	char		 text[4096], *t;
	const char	*c;
	size_t		 i, lines = 0;

	(void)state;
	t = text + sprintf(text, HEAD "{ name = \"r\"; action = \"allow\"; "
	    "users = [ \"*\" ]; hosts = [ \"a.example\" ]; ports = [ 0");
	for (i = 1; i < 150; i++)
		t += sprintf(t, ", 0");
	strcpy(t, " ]; }\n);");
	assert_null(load_captured(text));
	for (c = logbuf; (c = strchr(c, '\n')) != NULL; c++)
		lines++;
	assert_int_equal(lines, 101);
	assert_non_null(strstr(logbuf, "rules[0].ports[99]: port 0"));
	assert_null(strstr(logbuf, "rules[0].ports[100]"));
	assert_non_null(strstr(logbuf, "test: more than 100 errors"));
}

static void
test_bad_values_cannot_forge_log_lines(void **state)
{
	const char	*nl;

	(void)state;
	assert_null(load_captured(HEAD RULE("\"r\"", "\"allow\"",
	    "[ \"bad\\nuser: fake line\" ]", "[ \"a.example\" ]", "[ 22 ]")
	    ");"));
	assert_non_null(strstr(logbuf, "\"bad\\x0auser: fake line\""));
	nl = strchr(logbuf, '\n');
	assert_non_null(nl);
	assert_string_equal(nl, "\n");
}

static char *
write_file(const char *content, size_t len, mode_t mode)
{
	static char	 path[] = "/tmp/test_policy.XXXXXX";
	int		 fd;

	strcpy(path, "/tmp/test_policy.XXXXXX");
	assert_true((fd = mkstemp(path)) != -1);
	assert_int_equal(write(fd, content, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

/* Same as load_captured, for policy_load(). */
static struct policy *
load_file_captured(const char *path)
{
	struct policy	*p;
	FILE		*tmp;
	size_t		 n;
	int		 saved;

	assert_non_null(tmp = tmpfile());
	fflush(stderr);
	assert_true((saved = dup(STDERR_FILENO)) != -1);
	assert_true(dup2(fileno(tmp), STDERR_FILENO) != -1);
	p = policy_load(path);
	fflush(stderr);
	assert_true(dup2(saved, STDERR_FILENO) != -1);
	close(saved);
	rewind(tmp);
	n = fread(logbuf, 1, sizeof(logbuf) - 1, tmp);
	logbuf[n] = '\0';
	fclose(tmp);
	return p;
}

static void
test_file_errors_name_the_file(void **state)
{
	static const char	 good[] = HEAD OK_RULE ");\n";
	static const char	 bad[] = HEAD RULE("\"r\"", "\"allow\"",
				    "[ \"*\" ]", "[ \"10.0.0.1/8\" ]",
				    "[ 22 ]") ");\n";
	static const char	 nul[] = "version = 1;\nrules = ();\n\0x";
	struct policy		*p;
	char			*path, want[128];

	(void)state;
	path = write_file(good, sizeof(good) - 1, 0644);
	assert_non_null(p = load_file_captured(path));
	assert_int_equal(policy_rule_count(p), 1);
	policy_free(p);
	unlink(path);

	path = write_file(bad, sizeof(bad) - 1, 0600);
	assert_null(load_file_captured(path));
	snprintf(want, sizeof(want), "%s:4: rules[0].hosts[0]: 10.0.0.1/8",
	    path);
	assert_non_null(strstr(logbuf, want));
	unlink(path);

	/* libconfig would stop at the NUL and take the rest as absent. */
	path = write_file(nul, sizeof(nul) - 1, 0600);
	assert_null(load_file_captured(path));
	snprintf(want, sizeof(want), "%s:3: NUL byte", path);
	assert_non_null(strstr(logbuf, want));
	unlink(path);

	path = write_file(good, sizeof(good) - 1, 0666);
	assert_null(load_file_captured(path));
	assert_non_null(strstr(logbuf, "anyone can write it"));
	unlink(path);

	assert_null(load_file_captured("/nonexistent/policy.conf"));
	assert_non_null(strstr(logbuf,
	    "/nonexistent/policy.conf: cannot open"));
	assert_null(load_file_captured("/tmp"));
	assert_non_null(strstr(logbuf, "/tmp: not a regular file"));
}

static void
test_null_text_is_refused(void **state)
{
	(void)state;
	assert_null(load_captured(NULL));
	assert_non_null(strstr(logbuf, "test: no policy text"));
	policy_free(NULL);
	assert_int_equal(policy_rule_count(NULL), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_limits_are_inclusive),
		cmocka_unit_test(test_each_bad_policy_is_refused),
		cmocka_unit_test(test_deny_rules_take_any_network),
		cmocka_unit_test(test_every_error_is_reported),
		cmocka_unit_test(test_errors_stop_after_a_hundred),
		cmocka_unit_test(test_bad_values_cannot_forge_log_lines),
		cmocka_unit_test(test_file_errors_name_the_file),
		cmocka_unit_test(test_null_text_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
