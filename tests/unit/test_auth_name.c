/*
 * The user name check the authenticator applies to a typed name before
 * PAM or the directory is asked, and to the account's own name after.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "auth.h"

static void
test_plain_names_pass(void **state)
{
	static const char *const ok[] = { "bob", "BOB", "alice.smith",
	    "j_doe-2", "_svc", "0day", "bob@EXAMPLE.ORG", "a" };
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		assert_null(auth_user_refusal(ok[i]));
}

static void
test_spaces_and_control_characters_are_refused(void **state)
{
	static const char *const bad[] = { " bob", "bob ", "b ob", "bob\t",
	    "\tbob", "bob\x7f", "bob\x01", "bob\r", "bob\n" };
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_non_null(auth_user_refusal(bad[i]));
}

static void
test_filter_and_glob_characters_are_refused(void **state)
{
	static const char *const bad[] = { "*", "b*", "bob)(uid=*", "bob\\2a",
	    "bob,ou=x", "bob=1", "bob+x", "b/ob", "bob:x", "bob;", "\"bob\"",
	    "bob'", "b%s", "b#o" };
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_non_null(auth_user_refusal(bad[i]));
}

static void
test_non_ascii_is_refused(void **state)
{
	(void)state;
	/* U+0130 (I with a dot), folded to "i" by some directories. */
	assert_non_null(auth_user_refusal("b\xc4\xb0ll"));
	assert_non_null(auth_user_refusal("b\xffob"));
	/* A full-width 'b'. */
	assert_non_null(auth_user_refusal("\xef\xbd\x82ob"));
}

static void
test_leading_punctuation_is_refused(void **state)
{
	(void)state;
	assert_non_null(auth_user_refusal("-bob"));
	assert_non_null(auth_user_refusal(".bob"));
	assert_non_null(auth_user_refusal(".."));
	assert_non_null(auth_user_refusal("@example.org"));
	assert_null(auth_user_refusal("bob-"));
}

static void
test_length_is_bounded(void **state)
{
	char	 name[AUTH_USER_MAX + 2];

	(void)state;
	assert_string_equal(auth_user_refusal(""), "empty user");
	memset(name, 'a', AUTH_USER_MAX);
	name[AUTH_USER_MAX] = '\0';
	assert_null(auth_user_refusal(name));
	name[AUTH_USER_MAX] = 'a';
	name[AUTH_USER_MAX + 1] = '\0';
	assert_string_equal(auth_user_refusal(name), "user name too long");
}

static void
test_the_reason_names_the_character_set(void **state)
{
	(void)state;
	assert_string_equal(auth_user_refusal("bob "), "user name has a "
	    "character outside [A-Za-z0-9._@-]");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_names_pass),
		cmocka_unit_test(test_spaces_and_control_characters_are_refused),
		cmocka_unit_test(test_filter_and_glob_characters_are_refused),
		cmocka_unit_test(test_non_ascii_is_refused),
		cmocka_unit_test(test_leading_punctuation_is_refused),
		cmocka_unit_test(test_length_is_bounded),
		cmocka_unit_test(test_the_reason_names_the_character_set),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
