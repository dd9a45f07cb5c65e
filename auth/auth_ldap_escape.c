/*
 * A user name goes into LDAP filters and DNs only through these functions,
 * so that "*", "*)(uid=*" or "admin,ou=x" are matched literally and never
 * change the structure of a filter or a DN.
 *
 * Filters (RFC 4515 section 3): '*', '(', ')', '\' and NUL must be written
 * as \XX; control bytes are too, so that nothing odd reaches a server's
 * log. Other bytes, UTF-8 included, stand for themselves.
 *
 * DN attribute values (RFC 4514 section 2.4): '"', '+', ',', ';', '<',
 * '>' and '\' anywhere, '#' or ' ' at the start and ' ' at the end are
 * written as \c; '=' is too (allowed, and some parsers need it); control
 * bytes as \XX.
 */
#include <stdint.h>
#include <string.h>

#include "auth_ldap.h"

enum esc { ESC_NONE, ESC_CHAR, ESC_HEX };

static enum esc
esc_filter(unsigned char c)
{
	if (c < 0x20 || c == 0x7f || c == '*' || c == '(' || c == ')' ||
	    c == '\\')
		return ESC_HEX;
	return ESC_NONE;
}

static enum esc
esc_dn(unsigned char c, int first, int last)
{
	if (c < 0x20 || c == 0x7f)
		return ESC_HEX;
	if (strchr("\"+,;<>\\=", c) != NULL || (first && c == '#') ||
	    ((first || last) && c == ' '))
		return ESC_CHAR;
	return ESC_NONE;
}

int
auth_ldap_escape(enum auth_ldap_syntax syntax, const char *in, char *out,
    size_t outlen)
{
	static const char	 hex[] = "0123456789abcdef";
	size_t			 len = strlen(in), i, o = 0;
	unsigned char		 c;
	enum esc		 e;

	for (i = 0; i < len; i++) {
		c = (unsigned char)in[i];
		e = syntax == AUTH_LDAP_FILTER ? esc_filter(c) :
		    esc_dn(c, i == 0, i + 1 == len);
		if (o + (e == ESC_HEX ? 3 : e == ESC_CHAR ? 2 : 1) >= outlen)
			return -1;
		if (e != ESC_NONE)
			out[o++] = '\\';
		if (e == ESC_HEX) {
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 0x0f];
		} else
			out[o++] = (char)c;
	}
	if (o >= outlen)
		return -1;
	out[o] = '\0';
	return 0;
}

int
auth_ldap_expand(enum auth_ldap_syntax syntax, const char *tmpl,
    const char *user, const char *dn, char *out, size_t outlen)
{
	const char	*p, *value;
	size_t		 o = 0;

	for (p = tmpl; *p != '\0'; p++) {
		if (o + 1 >= outlen)
			return -1;
		if (*p != '%') {
			out[o++] = *p;
			continue;
		}
		switch (*++p) {
		case '%':
			out[o++] = '%';
			continue;
		case 'u':
			value = user;
			break;
		case 'd':
			value = dn;
			break;
		default:
			return -1;
		}
		if (value == NULL ||
		    auth_ldap_escape(syntax, value, out + o, outlen - o) == -1)
			return -1;
		o += strlen(out + o);
	}
	if (o >= outlen)
		return -1;
	out[o] = '\0';
	return 0;
}
