/*
 * RFC 4515 filter and RFC 4514 DN escaping of user names, and template
 * expansion: injection attempts come out as literal values, every output
 * decodes back to its input (libldap's own DN parser is the judge for DNs),
 * and nothing is written past the buffer.
 */
#include <ldap.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth_ldap.h"

static void
filter_is(const char *in, const char *want)
{
	char	 out[256];

	assert_int_equal(auth_ldap_escape(AUTH_LDAP_FILTER, in, out,
	    sizeof(out)), 0);
	assert_string_equal(out, want);
}

static void
dn_is(const char *in, const char *want)
{
	char	 out[256];

	assert_int_equal(auth_ldap_escape(AUTH_LDAP_DN, in, out, sizeof(out)),
	    0);
	assert_string_equal(out, want);
}

static void
test_filter_injection_is_literal(void **state)
{
	(void)state;
	filter_is("alice", "alice");
	filter_is("*", "\\2a");
	filter_is("*)(uid=*", "\\2a\\29\\28uid=\\2a");
	filter_is("admin)(|(uid=*", "admin\\29\\28|\\28uid=\\2a");
	filter_is("al*", "al\\2a");
	filter_is("back\\slash", "back\\5cslash");
	filter_is("\\2a", "\\5c2a");
}

static void
test_filter_controls_escaped_utf8_kept(void **state)
{
	(void)state;
	filter_is("a\x01" "b\x7f", "a\\01b\\7f");
	filter_is("tab\there", "tab\\09here");
	filter_is("m\xc3\xbcller", "m\xc3\xbcller");
	/* Not special in a filter value. */
	filter_is("a,b=c+d;e<f>\"g#", "a,b=c+d;e<f>\"g#");
}

static void
test_dn_specials_escaped(void **state)
{
	(void)state;
	dn_is("alice", "alice");
	dn_is("o,brien", "o\\,brien");
	dn_is("admin,ou=admins", "admin\\,ou\\=admins");
	dn_is("a+b;c<d>e\"f\\g", "a\\+b\\;c\\<d\\>e\\\"f\\\\g");
	dn_is(" lead", "\\ lead");
	dn_is("trail ", "trail\\ ");
	dn_is(" ", "\\ ");
	dn_is("#hash", "\\#hash");
	dn_is("mid#dle mid", "mid#dle mid");
	dn_is("line\nfeed", "line\\0afeed");
	/* Not special in a DN. */
	dn_is("*)(uid=*", "*)(uid\\=*");
	dn_is("m\xc3\xbcller", "m\xc3\xbcller");
}

static void
test_escape_never_overruns(void **state)
{
	char	 out[16];
	size_t	 size;

	(void)state;
	/* "\2a\2a" is 6 bytes: it needs 7 with the NUL. */
	for (size = 0; size <= 7; size++) {
		memset(out, 'Z', sizeof(out));
		assert_int_equal(auth_ldap_escape(AUTH_LDAP_FILTER, "**", out,
		    size), size == 7 ? 0 : -1);
		assert_int_equal(out[size], 'Z');
	}
	assert_string_equal(out, "\\2a\\2a");
	memset(out, 'Z', sizeof(out));
	assert_int_equal(auth_ldap_escape(AUTH_LDAP_DN, ",", out, 2), -1);
	assert_int_equal(out[2], 'Z');
	assert_int_equal(auth_ldap_escape(AUTH_LDAP_DN, "", out, 1), 0);
	assert_string_equal(out, "");
	assert_int_equal(auth_ldap_escape(AUTH_LDAP_DN, "", out, 0), -1);
}

static int
unhex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* RFC 4515 decoding; fails on any special character left unescaped. */
static void
filter_decodes_to(const char *esc, const char *want)
{
	char	 dec[1024];
	size_t	 o = 0;

	for (; *esc != '\0'; esc++) {
		assert_null(strchr("*()", *esc));
		if (*esc == '\\') {
			assert_true(unhex(esc[1]) >= 0 && unhex(esc[2]) >= 0);
			dec[o++] = (char)(unhex(esc[1]) * 16 + unhex(esc[2]));
			esc += 2;
		} else
			dec[o++] = *esc;
	}
	dec[o] = '\0';
	assert_string_equal(dec, want);
}

/* libldap parses "uid=<escaped>,dc=t" back to one RDN holding name. */
static void
dn_parses_to(const char *esc, const char *name)
{
	char	 dn[1024];
	LDAPDN	 parsed = NULL;
	LDAPAVA	*ava;

	snprintf(dn, sizeof(dn), "uid=%s,dc=t", esc);
	assert_int_equal(ldap_str2dn(dn, &parsed, LDAP_DN_FORMAT_LDAPV3),
	    LDAP_SUCCESS);
	assert_non_null(parsed[0]);
	assert_non_null(parsed[1]);
	assert_null(parsed[2]);
	assert_null(parsed[0][1]);
	ava = parsed[0][0];
	assert_int_equal(ava->la_value.bv_len, strlen(name));
	assert_memory_equal(ava->la_value.bv_val, name, strlen(name));
	ldap_dnfree(parsed);
}

static void
test_random_names_round_trip(void **state)
{
	char	 name[64], fesc[256], desc[256];
	size_t	 len, i;
	int	 round;

	(void)state;
	srand(4515);
	for (round = 0; round < 5000; round++) {
		len = 1 + (size_t)rand() % (sizeof(name) - 1);
		for (i = 0; i < len; i++)
			/* Printable ASCII, where the specials are. */
			name[i] = (char)(0x20 + rand() % 0x5f);
		name[len] = '\0';
		assert_int_equal(auth_ldap_escape(AUTH_LDAP_FILTER, name, fesc,
		    sizeof(fesc)), 0);
		filter_decodes_to(fesc, name);
		assert_int_equal(auth_ldap_escape(AUTH_LDAP_DN, name, desc,
		    sizeof(desc)), 0);
		dn_parses_to(desc, name);
	}
}

static void
test_expand_templates(void **state)
{
	char	 out[512];

	(void)state;
	assert_int_equal(auth_ldap_expand(AUTH_LDAP_FILTER,
	    "(&(objectClass=person)(uid=%u))", "*)(uid=*", NULL, out,
	    sizeof(out)), 0);
	assert_string_equal(out,
	    "(&(objectClass=person)(uid=\\2a\\29\\28uid=\\2a))");
	/* A DN in a filter is a filter value: its backslashes are escaped. */
	assert_int_equal(auth_ldap_expand(AUTH_LDAP_FILTER,
	    "(|(member=%d)(memberUid=%u))", "o,b", "uid=o\\2Cb,dc=t", out,
	    sizeof(out)), 0);
	assert_string_equal(out,
	    "(|(member=uid=o\\5c2Cb,dc=t)(memberUid=o,b))");
	assert_int_equal(auth_ldap_expand(AUTH_LDAP_DN,
	    "uid=%u,ou=people,dc=example,dc=org", "admin,ou=admins", NULL,
	    out, sizeof(out)), 0);
	assert_string_equal(out,
	    "uid=admin\\,ou\\=admins,ou=people,dc=example,dc=org");
	assert_int_equal(auth_ldap_expand(AUTH_LDAP_FILTER, "(cn=100%%%u)",
	    "*", NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "(cn=100%\\2a)");
	assert_int_equal(auth_ldap_expand(AUTH_LDAP_FILTER, "(uid=%%u)",
	    "x", NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "(uid=%u)");
}

static void
test_expand_refuses_bad_templates(void **state)
{
	char	 out[64];

	(void)state;
	assert_int_equal(auth_ldap_expand(AUTH_LDAP_FILTER, "(uid=%x)", "a",
	    NULL, out, sizeof(out)), -1);
	assert_int_equal(auth_ldap_expand(AUTH_LDAP_FILTER, "(uid=a)%", "a",
	    NULL, out, sizeof(out)), -1);
	assert_int_equal(auth_ldap_expand(AUTH_LDAP_FILTER, "(member=%d)", "a",
	    NULL, out, sizeof(out)), -1);
}

static void
test_expand_never_overruns(void **state)
{
	char	 out[32];
	size_t	 size;

	(void)state;
	/* "(uid=\2a)" is 9 bytes: it needs 10. */
	for (size = 0; size <= 10; size++) {
		memset(out, 'Z', sizeof(out));
		assert_int_equal(auth_ldap_expand(AUTH_LDAP_FILTER, "(uid=%u)",
		    "*", NULL, out, size), size == 10 ? 0 : -1);
		assert_int_equal(out[size], 'Z');
	}
	assert_string_equal(out, "(uid=\\2a)");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_filter_injection_is_literal),
		cmocka_unit_test(test_filter_controls_escaped_utf8_kept),
		cmocka_unit_test(test_dn_specials_escaped),
		cmocka_unit_test(test_escape_never_overruns),
		cmocka_unit_test(test_random_names_round_trip),
		cmocka_unit_test(test_expand_templates),
		cmocka_unit_test(test_expand_refuses_bad_templates),
		cmocka_unit_test(test_expand_never_overruns),
	};

	return cmocka_run_group_tests_name("ldap_escape", tests, NULL, NULL);
}
