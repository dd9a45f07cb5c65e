/*
 * Which user names tunnelgated asks PAM or the directory about, and
 * accepts as an account's own name afterwards. A name is letters, digits
 * and AUTH_USER_CHARS' punctuation, starting with a letter, digit or '_',
 * 1 to AUTH_USER_MAX bytes. Anything else (spaces, control characters,
 * non-ASCII, quotes, '*', '(' ...) is refused before any backend is
 * asked: directories and NSS modules that fold case, trim spaces or match
 * patterns would otherwise find an account under a spelling the policy
 * does not know.
 */
#include <string.h>

#include "auth.h"

const char *
auth_user_refusal(const char *name)
{
	size_t	 len = strnlen(name, AUTH_USER_MAX + 1);

	if (len == 0)
		return "empty user";
	if (len > AUTH_USER_MAX)
		return "user name too long";
	if (strspn(name, AUTH_USER_CHARS) != len)
		return "user name has a character outside " AUTH_USER_CHARSET;
	/* '-' reads as an option to helpers, '.' as a path, '@' as no user. */
	if (strchr("-.@", name[0]) != NULL)
		return "user name starts with '-', '.' or '@'";
	return NULL;
}
