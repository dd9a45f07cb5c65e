/*
 * Backend access policy: ordered, named rules, first match wins, default deny.
 * Loaded by the master (to validate, for -t) and used by the authenticator,
 * which checks it against each resolved address before connecting.
 */
#ifndef TG_POLICY_H
#define TG_POLICY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct policy;

enum policy_action { POLICY_DENY = 0, POLICY_ALLOW = 1 };

struct policy_subject {
	const char		 *user;
	const char *const	 *groups;
	size_t			  n_groups;
};

struct policy_target {
	const char		 *host;	/* as requested, without [] for IPv6 */
	const struct sockaddr	 *addr;	/* resolved address about to be connected */
	uint16_t		  port;
};

struct policy_verdict {
	enum policy_action	 action;
	const char		*rule;	/* name of the deciding rule, or "default-deny" */
};

#define POLICY_DEFAULT_RULE	"default-deny"

/*
 * Load FILE; every error is logged as "FILE:LINE: SETTING: what is wrong".
 * Returns NULL on any error (the caller keeps its old policy).
 */
struct policy	*policy_load(const char *file);
/* Same, from a string; name is used in messages (fuzzing, unit tests). */
struct policy	*policy_load_string(const char *text, const char *name);
void		 policy_free(struct policy *);
size_t		 policy_rule_count(const struct policy *);

void		 policy_check(const struct policy *, const struct policy_subject *,
		    const struct policy_target *, struct policy_verdict *);

#endif
