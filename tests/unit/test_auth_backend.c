/*
 * Backend connect against real sockets on 127.0.0.1: the policy decides on
 * the resolved address, and nothing is connected that it did not allow.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth.h"

#define TIMEOUT_MS	300

static const char *const groups[] = { "staff", "ops" };
static const struct policy_subject alice = { "alice", groups, 2 };

struct backend_result {
	enum auth_verdict	 v;
	int			 fd;
	int64_t			 elapsed_ms;
	char			 rule[TG_RULE_NAME_SIZE];
	char			 resolved[AUTH_ADDR_MAX];
	char			 reason[128];
};

/* A loopback listener; returns its fd and sets *port. */
static int
listener(int backlog, uint16_t *port)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	int			 s;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true((s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) != -1);
	assert_int_equal(bind(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(s, backlog), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return s;
}

/* extra: more settings for the rule, e.g. special = [ "loopback" ]; */
static struct policy *
policy_with(const char *action, const char *host, uint16_t port,
    const char *extra)
{
	char		 text[512];
	struct policy	*p;

	snprintf(text, sizeof(text),
	    "version = 1;\n"
	    "rules = ( { name = \"test-rule\"; action = \"%s\";\n"
	    "    users = [ \"alice\" ]; hosts = [ \"%s\" ];\n"
	    "    ports = [ %u ]; %s } );\n", action, host, (unsigned)port,
	    extra);
	assert_non_null(p = policy_load_string(text, "test-policy"));
	return p;
}

static struct policy *
policy_for(const char *action, const char *host, uint16_t port)
{
	return policy_with(action, host, port, "");
}

#define LOOPBACK_BY_NAME	"special = [ \"loopback\" ];"

static void
backend(const struct policy *pol, const char *host, uint16_t port,
    unsigned timeout_ms, int64_t deadline_in_ms, struct backend_result *r)
{
	struct config	 cfg;
	int64_t		 start;

	memset(&cfg, 0, sizeof(cfg));
	cfg.timeout_dns_ms = 5000;
	cfg.timeout_connect_ms = timeout_ms;
	memset(r, 'X', sizeof(*r));
	start = auth_now_ms();
	r->v = auth_backend_connect(&cfg, pol, &alice, host, port,
	    start + deadline_in_ms, &r->fd, r->rule, r->resolved, r->reason,
	    sizeof(r->reason));
	r->elapsed_ms = auth_now_ms() - start;
}

static int
accept_pending(int ls)
{
	int	 c;

	if ((c = accept(ls, NULL, NULL)) == -1)
		assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
	return c;
}

static void
test_allowed_listener_connects(void **state)
{
	struct backend_result	 r;
	struct sockaddr_in	 local, peer;
	socklen_t		 len;
	struct policy		*pol;
	struct pollfd		 pfd;
	char			 want[AUTH_ADDR_MAX], b = 0;
	uint16_t		 port;
	int			 ls, c;

	(void)state;
	ls = listener(8, &port);
	pol = policy_for("allow", "127.0.0.1", port);
	backend(pol, "127.0.0.1", port, TIMEOUT_MS, 5000, &r);
	assert_int_equal(r.v, AUTH_ALLOW);
	assert_true(r.fd >= 0);
	assert_string_equal(r.rule, "test-rule");
	snprintf(want, sizeof(want), "127.0.0.1:%u", (unsigned)port);
	assert_string_equal(r.resolved, want);
	/* Non-blocking, for the event loops of the gate and relay workers. */
	assert_int_equal(fcntl(r.fd, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
	assert_int_equal(fcntl(r.fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);

	/* The fd is the very connection the listener got. */
	pfd.fd = ls;
	pfd.events = POLLIN;
	assert_int_equal(poll(&pfd, 1, 2000), 1);
	assert_true((c = accept(ls, NULL, NULL)) != -1);
	len = sizeof(local);
	assert_int_equal(getsockname(r.fd, (struct sockaddr *)&local, &len), 0);
	len = sizeof(peer);
	assert_int_equal(getpeername(c, (struct sockaddr *)&peer, &len), 0);
	assert_int_equal(local.sin_port, peer.sin_port);
	assert_int_equal(write(r.fd, "x", 1), 1);
	assert_int_equal(read(c, &b, 1), 1);
	assert_int_equal(b, 'x');
	close(c);
	close(r.fd);
	close(ls);
	policy_free(pol);
}

static void
test_closed_port_refused(void **state)
{
	struct backend_result	 r;
	struct policy		*pol;
	char			 want[AUTH_ADDR_MAX];
	uint16_t		 port;

	(void)state;
	/* Take a free port, then close it so nothing listens there. */
	close(listener(1, &port));
	pol = policy_for("allow", "127.0.0.1", port);
	backend(pol, "127.0.0.1", port, TIMEOUT_MS, 5000, &r);
	assert_int_equal(r.v, AUTH_BACKEND_REFUSED);
	assert_int_equal(r.fd, -1);
	assert_string_equal(r.reason, "connection refused");
	assert_string_equal(r.rule, "test-rule");
	snprintf(want, sizeof(want), "127.0.0.1:%u", (unsigned)port);
	assert_string_equal(r.resolved, want);
	policy_free(pol);
}

static void
test_denied_address_never_connected(void **state)
{
	struct backend_result	 r;
	struct policy		*pol;
	uint16_t		 port;
	int			 ls;

	(void)state;
	ls = listener(8, &port);
	pol = policy_for("deny", "127.0.0.0/8", port);
	backend(pol, "127.0.0.1", port, TIMEOUT_MS, 5000, &r);
	assert_int_equal(r.v, AUTH_POLICY_DENY);
	assert_int_equal(r.fd, -1);
	assert_string_equal(r.rule, "test-rule");
	assert_int_equal(accept_pending(ls), -1);
	policy_free(pol);

	/* An allow for another port falls through to the default. */
	pol = policy_for("allow", "127.0.0.1", (uint16_t)(port ^ 1));
	backend(pol, "127.0.0.1", port, TIMEOUT_MS, 5000, &r);
	assert_int_equal(r.v, AUTH_POLICY_DENY);
	assert_int_equal(r.fd, -1);
	assert_string_equal(r.rule, POLICY_DEFAULT_RULE);
	assert_int_equal(accept_pending(ls), -1);
	policy_free(pol);
	close(ls);
}

static void
test_localhost_resolves(void **state)
{
	struct backend_result	 r;
	struct policy		*pol;
	char			 want[AUTH_ADDR_MAX];
	uint16_t		 port;
	int			 ls, c;

	(void)state;
	ls = listener(8, &port);
	pol = policy_with("allow", "localhost", port, LOOPBACK_BY_NAME);
	backend(pol, "localhost", port, TIMEOUT_MS, 5000, &r);
	assert_int_equal(r.v, AUTH_ALLOW);
	assert_true(r.fd >= 0);
	/* ::1 may come first and be refused: only the v4 listener exists. */
	snprintf(want, sizeof(want), "127.0.0.1:%u", (unsigned)port);
	assert_string_equal(r.resolved, want);
	close(r.fd);
	/* The trailing dot names the same host, found the same way. */
	backend(pol, "localhost.", port, TIMEOUT_MS, 5000, &r);
	assert_int_equal(r.v, AUTH_ALLOW);
	assert_string_equal(r.resolved, want);
	close(r.fd);
	policy_free(pol);

	/* Without the opt-in a name that resolves to loopback is refused. */
	pol = policy_for("allow", "localhost", port);
	backend(pol, "localhost", port, TIMEOUT_MS, 5000, &r);
	assert_int_equal(r.v, AUTH_POLICY_DENY);
	assert_string_equal(r.rule, POLICY_SPECIAL_RULE);
	assert_int_equal(r.fd, -1);
	policy_free(pol);

	/* A network rule judges the resolved address, not the name. */
	pol = policy_for("allow", "127.0.0.1", port);
	backend(pol, "localhost", port, TIMEOUT_MS, 5000, &r);
	assert_int_equal(r.v, AUTH_ALLOW);
	assert_string_equal(r.resolved, want);
	close(r.fd);
	policy_free(pol);

	pol = policy_for("deny", "127.0.0.1", port);
	backend(pol, "localhost", port, TIMEOUT_MS, 5000, &r);
	assert_int_equal(r.v, AUTH_POLICY_DENY);
	assert_int_equal(r.fd, -1);
	policy_free(pol);
	while ((c = accept_pending(ls)) != -1)
		close(c);
	close(ls);
}

static void
test_unknown_host_fails(void **state)
{
	struct backend_result	 r;
	struct policy		*pol;

	(void)state;
	pol = policy_for("allow", "*.invalid", 22);
	backend(pol, "no-such-host.invalid", 22, TIMEOUT_MS, 5000, &r);
	assert_int_equal(r.fd, -1);
	/* Without a reachable name server the lookup may time out instead. */
	if (r.v == AUTH_BACKEND_REFUSED)
		assert_true(strcmp(r.reason, "no such host") == 0 ||
		    strncmp(r.reason, "dns: ", 5) == 0);
	else {
		assert_int_equal(r.v, AUTH_BACKEND_TIMEOUT);
		assert_string_equal(r.reason, "dns timeout");
	}
	policy_free(pol);
}

static void
test_past_deadline_times_out_in_dns(void **state)
{
	struct backend_result	 r;
	struct policy		*pol;
	uint16_t		 port;
	int			 ls;

	(void)state;
	ls = listener(8, &port);
	pol = policy_with("allow", "localhost", port, LOOPBACK_BY_NAME);
	backend(pol, "localhost", port, TIMEOUT_MS, -1, &r);
	assert_int_equal(r.v, AUTH_BACKEND_TIMEOUT);
	assert_string_equal(r.reason, "dns timeout");
	assert_int_equal(r.fd, -1);
	assert_int_equal(accept_pending(ls), -1);
	/* The abandoned lookup does not hold up the next one. */
	backend(pol, "localhost", port, TIMEOUT_MS, 5000, &r);
	assert_int_equal(r.v, AUTH_ALLOW);
	close(r.fd);
	policy_free(pol);
	close(ls);
}

/*
 * Every spelling of a loopback or unspecified address that a client or a
 * compromised gate worker can send is judged on the address it parses to.
 */
static void
test_numeric_forms_judged_as_their_address(void **state)
{
	static const char *const loopback[] = { "127.0.0.1", "127.0.0.1.",
	    "2130706433", "0177.0.0.1", "127.1", "0x7f.0.0.1", "0x7f000001",
	    "::1", "::ffff:7f00:1", "0:0:0:0:0:ffff:127.0.0.1",
	    "::ffff:127.0.0.1", "::127.0.0.1", "64:ff9b::7f00:1",
	    "2002:7f00:1::", "2001:0:4136:e378:8000:63bf:80ff:fffe",
	    "localhost" };
	static const char *const unspecified[] = { "0", "0.0.0.0", "0x0",
	    "0.1.2.3", "::", "0:0:0:0:0:0:0:0", "::ffff:0.0.0.0",
	    "64:ff9b::", "::0.0.0.2" };
	struct backend_result	 r;
	struct policy		*pol;
	uint16_t		 port;
	size_t			 i;
	int			 ls;

	(void)state;
	ls = listener(8, &port);
	assert_non_null(pol = policy_load_string("version = 1; rules = (\n"
	    "{ name = \"no-loopback\"; action = \"deny\"; users = [ \"*\" ];"
	    "  hosts = [ \"127.0.0.0/8\", \"::1\" ]; ports = [ \"*\" ]; },\n"
	    "{ name = \"anywhere\"; action = \"allow\"; users = [ \"*\" ];"
	    "  hosts = [ \"0.0.0.0/0\", \"::/0\" ]; ports = [ \"*\" ]; }\n"
	    ");", "test-policy"));
	for (i = 0; i < sizeof(loopback) / sizeof(loopback[0]); i++) {
		backend(pol, loopback[i], port, TIMEOUT_MS, 5000, &r);
		if (r.v != AUTH_POLICY_DENY || strcmp(r.rule, "no-loopback"))
			fail_msg("%s: verdict %d rule %s (%s)", loopback[i],
			    r.v, r.rule, r.reason);
		assert_int_equal(r.fd, -1);
	}
	for (i = 0; i < sizeof(unspecified) / sizeof(unspecified[0]); i++) {
		backend(pol, unspecified[i], port, TIMEOUT_MS, 5000, &r);
		if (r.v != AUTH_POLICY_DENY ||
		    strcmp(r.rule, POLICY_SPECIAL_RULE))
			fail_msg("%s: verdict %d rule %s (%s)", unspecified[i],
			    r.v, r.rule, r.reason);
		assert_int_equal(r.fd, -1);
	}
	assert_int_equal(accept_pending(ls), -1);
	policy_free(pol);
	close(ls);
}

/* The reason tells a name that was never looked up from one that was. */
static void
test_name_no_rule_could_allow_is_not_resolved(void **state)
{
	struct backend_result	 r;
	struct policy		*pol;

	(void)state;
	/* A name rule for another name, or for another port. */
	pol = policy_for("allow", "db.invalid", 22);
	backend(pol, "no-such-host.invalid", 22, TIMEOUT_MS, 5000, &r);
	assert_int_equal(r.v, AUTH_POLICY_DENY);
	assert_string_equal(r.rule, POLICY_DEFAULT_RULE);
	assert_string_equal(r.reason, "denied by policy (not resolved)");
	assert_string_equal(r.resolved, "");
	backend(pol, "db.invalid", 23, TIMEOUT_MS, 5000, &r);
	assert_string_equal(r.reason, "denied by policy (not resolved)");
	policy_free(pol);

	/* A network might hold the name's address: it must be looked up. */
	pol = policy_for("allow", "10.0.0.0/8", 22);
	backend(pol, "no-such-host.invalid", 22, TIMEOUT_MS, 5000, &r);
	assert_int_not_equal(r.v, AUTH_POLICY_DENY);
	assert_int_equal(r.fd, -1);
	policy_free(pol);

	/* A deny rule naming the host decides before any network can. */
	assert_non_null(pol = policy_load_string("version = 1; rules = (\n"
	    "{ name = \"no-secret\"; action = \"deny\"; users = [ \"*\" ];"
	    "  hosts = [ \"secret.invalid\" ]; ports = [ \"*\" ]; },\n"
	    "{ name = \"anywhere\"; action = \"allow\"; users = [ \"*\" ];"
	    "  hosts = [ \"0.0.0.0/0\", \"::/0\" ]; ports = [ \"*\" ]; }\n"
	    ");", "test-policy"));
	backend(pol, "SECRET.invalid.", 22, TIMEOUT_MS, 5000, &r);
	assert_int_equal(r.v, AUTH_POLICY_DENY);
	assert_string_equal(r.rule, "no-secret");
	assert_string_equal(r.reason, "denied by policy (not resolved)");
	policy_free(pol);
}

/*
 * A listener with backlog 0 whose queue is full drops further SYNs, so a
 * connect to it hangs in SYN retransmits. Returns the number of sockets
 * used to fill it, or 0 if this kernel completed every connect.
 */
static int
fill_backlog(uint16_t port, int fill[8])
{
	struct sockaddr_in	 sin;
	struct pollfd		 pfd;
	int			 i;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(port);
	for (i = 0; i < 8; i++) {
		fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		assert_true(fill[i] != -1);
		if (connect(fill[i], (struct sockaddr *)&sin, sizeof(sin)) == 0)
			continue;
		assert_int_equal(errno, EINPROGRESS);
		pfd.fd = fill[i];
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, 200) == 0)
			return i + 1;
	}
	for (i = 0; i < 8; i++)
		close(fill[i]);
	return 0;
}

static void
test_connect_timeout(void **state)
{
	struct backend_result	 r;
	struct policy		*pol;
	uint16_t		 port;
	int			 ls, fill[8], n, i;

	(void)state;
	ls = listener(0, &port);
	if ((n = fill_backlog(port, fill)) == 0) {
		close(ls);
		skip();
	}
	pol = policy_for("allow", "127.0.0.1", port);
	backend(pol, "127.0.0.1", port, TIMEOUT_MS, 5000, &r);
	assert_int_equal(r.v, AUTH_BACKEND_TIMEOUT);
	assert_string_equal(r.reason, "connect timeout");
	assert_int_equal(r.fd, -1);
	assert_true(r.elapsed_ms >= TIMEOUT_MS - 5 && r.elapsed_ms < 2000);

	/* The request deadline cuts a longer connect timeout short. */
	backend(pol, "127.0.0.1", port, 10000, 200, &r);
	assert_int_equal(r.v, AUTH_BACKEND_TIMEOUT);
	assert_true(r.elapsed_ms >= 195 && r.elapsed_ms < 2000);
	for (i = 0; i < n; i++)
		close(fill[i]);
	policy_free(pol);
	close(ls);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allowed_listener_connects),
		cmocka_unit_test(test_closed_port_refused),
		cmocka_unit_test(test_denied_address_never_connected),
		cmocka_unit_test(test_localhost_resolves),
		cmocka_unit_test(test_unknown_host_fails),
		cmocka_unit_test(test_past_deadline_times_out_in_dns),
		cmocka_unit_test(test_numeric_forms_judged_as_their_address),
		cmocka_unit_test(test_name_no_rule_could_allow_is_not_resolved),
		cmocka_unit_test(test_connect_timeout),
	};

	return cmocka_run_group_tests_name("auth_backend", tests, NULL, NULL);
}
