/*
 * Fixture shared by test_policy.c and test_policy_load.c (each is its own
 * program, so the helpers are static here and both files use every one):
 * policy_load_string() with its stderr captured into logbuf, and verdicts
 * as "allow:RULE" or "deny:RULE" strings for one-line assertions.
 */
#ifndef TG_TEST_POLICY_FIXTURE_H
#define TG_TEST_POLICY_FIXTURE_H

#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "policy.h"

#define HEAD	"version = 1;\nrules = (\n"

static char	 logbuf[65536];
/* The gateway's own addresses verdict_g() passes; NULL: none. */
static const struct policy_own	*fixture_own;

/* Load TEXT with stderr (where log_warnx writes) captured into logbuf. */
static struct policy *
load_captured(const char *text)
{
	struct policy	*p;
	FILE		*tmp;
	size_t		 n;
	int		 saved;

	assert_non_null(tmp = tmpfile());
	fflush(stderr);
	assert_true((saved = dup(STDERR_FILENO)) != -1);
	assert_true(dup2(fileno(tmp), STDERR_FILENO) != -1);
	p = policy_load_string(text, "test");
	fflush(stderr);
	assert_true(dup2(saved, STDERR_FILENO) != -1);
	close(saved);
	rewind(tmp);
	n = fread(logbuf, 1, sizeof(logbuf) - 1, tmp);
	logbuf[n] = '\0';
	fclose(tmp);
	return p;
}

static struct policy *
load_ok(const char *text)
{
	struct policy	*p = load_captured(text);

	if (p == NULL)
		fail_msg("policy refused:\n%s", logbuf);
	assert_string_equal(logbuf, "");
	return p;
}

static void
set_addr(struct sockaddr_storage *ss, const char *addr)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (strchr(addr, ':') != NULL) {
		sin6->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, addr, &sin6->sin6_addr),
		    1);
	} else {
		sin->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, addr, &sin->sin_addr), 1);
	}
}

/* "allow:RULE" or "deny:RULE", for one-line assertions. */
static const char *
verdict_g(const struct policy *p, const char *user, const char *const *groups,
    size_t n_groups, const char *host, const char *addr, uint16_t port)
{
	static char		 out[128];
	struct sockaddr_storage	 ss;
	struct policy_subject	 subj = { user, groups, n_groups };
	struct policy_target	 t = { host, NULL, port, fixture_own, 0 };
	struct policy_verdict	 v = { POLICY_ALLOW, NULL, false };

	if (addr != NULL) {
		set_addr(&ss, addr);
		t.addr = (struct sockaddr *)&ss;
	}
	policy_check(p, &subj, &t, &v);
	assert_non_null(v.rule);
	snprintf(out, sizeof(out), "%s:%s",
	    v.action == POLICY_ALLOW ? "allow" : "deny", v.rule);
	return out;
}

static const char *
verdict(const struct policy *p, const char *user, const char *host,
    const char *addr, uint16_t port)
{
	return verdict_g(p, user, NULL, 0, host, addr, port);
}

#endif /* TG_TEST_POLICY_FIXTURE_H */
