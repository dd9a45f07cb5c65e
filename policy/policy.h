/*
 * Backend access policy: ordered, named rules, first match wins, default deny.
 * Loaded by the master (to validate, for -t) and used by the authenticator,
 * which checks it against each resolved address before connecting.
 */
#ifndef TG_POLICY_H
#define TG_POLICY_H

#include <sys/socket.h>
#include <netinet/in.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct policy;

enum policy_action { POLICY_DENY = 0, POLICY_ALLOW = 1 };

struct policy_subject {
	const char		 *user;
	const char *const	 *groups;
	size_t			  n_groups;
};

/*
 * The gateway's own addresses (its interfaces'), which an allow rule reaches
 * only when it names them. The caller keeps the list current.
 */
struct policy_own {
	const uint32_t		 *v4;	/* host byte order */
	size_t			  n_v4;
	const struct in6_addr	 *v6;
	size_t			  n_v6;
};

struct policy_target {
	const char		 *host;	/* as requested, without [] for IPv6 */
	const struct sockaddr	 *addr;	/* resolved address about to be connected */
	uint16_t		  port;
	const struct policy_own	 *own;	/* NULL: no address is the gateway's */
};

struct policy_verdict {
	enum policy_action	 action;
	const char		*rule;	/* name of the deciding rule, or "default-deny" */
};

#define POLICY_DEFAULT_RULE	"default-deny"
/* Unspecified, or special-purpose and no allow rule names it. */
#define POLICY_SPECIAL_RULE	"special-address"

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
/*
 * Before host is resolved: true if some address it could resolve to might
 * be allowed (an allow rule for this subject and port names host, or has
 * networks, before any deny rule naming host). Otherwise false, and v is
 * the verdict every address would get.
 */
bool		 policy_lookup_needed(const struct policy *,
		    const struct policy_subject *, const char *host,
		    uint16_t port, struct policy_verdict *v);

#endif
