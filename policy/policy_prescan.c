/*
 * Checks on the raw policy text, for what libconfig 1.5 hides once parsed:
 * it wraps integers past 32 bits silently (4294967318 reads as 22), ends a
 * string early at "\x00", and opens any file an @include line names.
 */
#include <stdbool.h>
#include <stddef.h>

#include "policy_priv.h"

static bool
policy_prescan_includes(struct policy_load *l, const char *t, size_t len)
{
	size_t		 i;
	unsigned	 line = 1;
	bool		 bol = true, ok = true;

	/* Over-approximates libconfig's ^[ \t]*@include on purpose. */
	for (i = 0; i < len; i++) {
		if (t[i] == '\n') {
			line++;
			bol = true;
		} else if (bol && t[i] == '@') {
			policy_err(l, line, "@include", "not supported in a "
			    "policy file; keep all rules in this one file");
			ok = false;
			bol = false;
		} else if (t[i] != ' ' && t[i] != '\t' && t[i] != '\r')
			bol = false;
	}
	return ok;
}

static bool
policy_isxdigit(char c)
{
	return policy_isdigit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

/*
 * At the first digit of a number token. Ports and the version are all the
 * numbers a policy has, so a token of 10 or more characters, whatever its
 * base, suffix or exponent, is out of range; smaller ones never wrap.
 */
static size_t
policy_prescan_number(struct policy_load *l, const char *t, size_t len,
    size_t i, unsigned line)
{
	size_t	 start = i;

	while (i < len && (policy_isalpha(t[i]) || policy_isdigit(t[i]) ||
	    t[i] == '_'))
		i++;
	if (i - start > 9)
		policy_err(l, line, "number", "%.*s%s: out of range; ports are "
		    "1-65535 and the version is 1",
		    (int)(i - start > 20 ? 20 : i - start), t + start,
		    i - start > 20 ? "..." : "");
	return i;
}

/* Just after the opening quote; returns the index after the closing one. */
static size_t
policy_prescan_string(struct policy_load *l, const char *t, size_t len,
    size_t i, unsigned *line)
{
	while (i < len && t[i] != '"') {
		if (t[i] == '\n')
			(*line)++;
		if (t[i] != '\\' || i + 1 >= len)
			i++;
		else if ((t[i + 1] | 0x20) == 'x' && i + 3 < len &&
		    policy_isxdigit(t[i + 2]) && policy_isxdigit(t[i + 3])) {
			if (t[i + 2] == '0' && t[i + 3] == '0')
				policy_err(l, *line, "\\x00", "a string cannot "
				    "hold a NUL character; remove it");
			i += 4;
		} else if (t[i + 1] == '"' || t[i + 1] == '\\')
			i += 2;
		else
			i++;
	}
	return i < len ? i + 1 : len;
}

/* Returns false if the text must not be handed to libconfig at all. */
bool
policy_prescan(struct policy_load *l, const char *t, size_t len)
{
	size_t		 i = 0;
	unsigned	 line = 1;
	bool		 ok;

	ok = policy_prescan_includes(l, t, len);
	while (i < len) {
		if (t[i] == '\n') {
			line++;
			i++;
		} else if (t[i] == '#' ||
		    (t[i] == '/' && i + 1 < len && t[i + 1] == '/')) {
			while (i < len && t[i] != '\n')
				i++;
		} else if (t[i] == '/' && i + 1 < len && t[i + 1] == '*') {
			for (i += 2; i < len && !(t[i] == '*' && i + 1 < len &&
			    t[i + 1] == '/'); i++)
				if (t[i] == '\n')
					line++;
			i = i < len ? i + 2 : len;
		} else if (t[i] == '"')
			i = policy_prescan_string(l, t, len, i + 1, &line);
		else if (policy_isalpha(t[i]) || t[i] == '*') {
			/* A name, whose digits are not numbers. */
			for (i++; i < len && (policy_isalpha(t[i]) ||
			    policy_isdigit(t[i]) || t[i] == '-' ||
			    t[i] == '_' || t[i] == '*'); i++)
				;
		} else if (policy_isdigit(t[i]))
			i = policy_prescan_number(l, t, len, i, line);
		else
			i++;
	}
	return ok;
}
