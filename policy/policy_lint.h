/*
 * Policy lint, for tunnelgatectl check: what a loaded, valid policy says
 * that its author probably did not mean. Every finding names the rule's
 * line; none makes the policy invalid (the daemon loads it as it is).
 *
 * The analysis is exact for what the file alone decides: a user entry is
 * compared with users, a group with groups ("*" covers both), a name with
 * names and suffixes, a network with networks, each in the reach the
 * special-address floor leaves it. What needs the outside world (which
 * groups a user is in, what a name resolves to, the gateway's own
 * addresses) is left to policy_lint_resolve() or not judged at all.
 */
#ifndef TG_POLICY_LINT_H
#define TG_POLICY_LINT_H

#include <stddef.h>

#include "policy.h"

struct policy_lint_opts {
	unsigned	 wide4;	/* warn on allow networks shorter: /8 */
	unsigned	 wide6;	/* the same for IPv6: /32 */
};

#define POLICY_LINT_WIDE4	8
#define POLICY_LINT_WIDE6	32

/* One finding: the line of the rule it is about and the text. */
typedef void	(*policy_lint_report)(void *arg, unsigned line,
		    const char *msg);

/* Returns the number of findings reported. */
size_t		 policy_lint(const struct policy *,
		    const struct policy_lint_opts *, policy_lint_report,
		    void *arg);

/*
 * Whether an account or group exists, as the authentication backend sees
 * it: 1 yes, 0 no, -1 could not tell (the finding then says so).
 */
struct policy_lint_names {
	int	 (*user)(void *arg, const char *name);
	int	 (*group)(void *arg, const char *name);
	void	*arg;
};

/*
 * With the outside world: users and groups the backend does not know, and
 * names in allow rules that resolve (getaddrinfo) into a network an
 * earlier deny rule for some of the same subjects and ports names.
 * names NULL: users and groups are not checked.
 */
size_t		 policy_lint_resolve(const struct policy *,
		    const struct policy_lint_names *, policy_lint_report,
		    void *arg);

#endif
