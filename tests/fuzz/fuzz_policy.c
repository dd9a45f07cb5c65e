/*
 * The policy loader on arbitrary text, and the matcher on whatever it
 * accepts. Besides memory errors, abort on any verdict that breaks the
 * contract: a verdict always names a rule, "default-deny" always denies,
 * and the same question always gets the same answer.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "policy.h"

int		 LLVMFuzzerInitialize(int *, char ***);
int		 LLVMFuzzerTestOneInput(const uint8_t *, size_t);
const char	*__lsan_default_suppressions(void);

/*
 * libconfig 1.5 drops a string token its scanner has read when a syntax
 * error follows it (e.g. `a = (0"x");` or `a = ("" ]`), a leak of its own
 * that no caller can free. Only the scanner's token allocations are
 * excused: a missing config_destroy() or policy_free() is still reported
 * through the parser's and our own frames.
 */
const char *
__lsan_default_suppressions(void)
{
	return "leak:strbuf_append\nleak:libconfig_yylex\n";
}

static void
check(int cond)
{
	if (!cond)
		abort();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* Messages are still formatted, just not written: keeps runs fast. */
	log_init("fuzz_policy", false, LOG_LVL_ERROR);
	return 0;
}

static void
probe(const struct policy *p, const char *user, const char *host,
    const struct sockaddr *sa, uint16_t port)
{
	static const char *const	 groups[] = { "ops", NULL, "staff" };
	struct policy_subject		 subj = { user, groups, 3 };
	struct policy_target		 t = { host, sa, port, NULL };
	struct policy_verdict		 v, again;

	policy_check(p, &subj, &t, &v);
	check(v.rule != NULL && v.rule[0] != '\0');
	check(v.action == POLICY_ALLOW || v.action == POLICY_DENY);
	if (strcmp(v.rule, POLICY_DEFAULT_RULE) == 0)
		check(v.action == POLICY_DENY);
	policy_check(p, &subj, &t, &again);
	check(again.action == v.action && again.rule == v.rule);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_in	 sin;
	struct sockaddr_in6	 sin6, mapped;
	struct policy		*p;
	char			*text;

	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	p = policy_load_string(text, "fuzz");
	free(text);
	if (p == NULL)
		return 0;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(0x0a000001);
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8::1", &sin6.sin6_addr);
	mapped = sin6;
	inet_pton(AF_INET6, "::ffff:10.0.0.1", &mapped.sin6_addr);

	probe(p, "alice", "db.example.com", (struct sockaddr *)&sin, 22);
	probe(p, "bob", "A.Internal.Example.", (struct sockaddr *)&sin6, 443);
	probe(p, "alice", "10.0.0.1", (struct sockaddr *)&mapped, 8080);
	probe(p, "carol", NULL, NULL, 65535);
	probe(p, NULL, "x", (struct sockaddr *)&sin, 1);
	policy_free(p);
	return 0;
}
