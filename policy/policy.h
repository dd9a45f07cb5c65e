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
	int64_t			  now;	/* for rule windows; 0: time(NULL) */
};

struct policy_verdict {
	enum policy_action	 action;
	const char		*rule;	/* name of the deciding rule, or "default-deny" */
	/* Denied only because now is outside the deciding rule's window. */
	bool			 outside_window;
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
/*
 * The policy's version: the SHA-256 of the text it was loaded from (the
 * file's bytes), 64 lower-case hex digits, as `sha256sum` prints it.
 */
#define POLICY_HASH_SIZE	65
const char	*policy_hash(const struct policy *);
/*
 * The index and line of the rule called name; -1 for a name no rule has
 * (the implicit POLICY_DEFAULT_RULE and POLICY_SPECIAL_RULE).
 */
int		 policy_rule_where(const struct policy *, const char *name,
		    size_t *idx, unsigned *line);

/* A rule's time limits (docs/policy.md, "Time limits"). */
struct policy_rule_limits {
	unsigned	 max_duration;	/* seconds; 0: none */
	bool		 has_window;
	char		 window[128];	/* "mon,tue 08:00-18:00 Europe/Berlin" */
};

void		 policy_rule_time(const struct policy *, size_t idx,
		    struct policy_rule_limits *);
/*
 * Whether rule idx's window is open at now (seconds since the epoch); if
 * it is, *ends is when it closes (0: the rule has no window).
 */
bool		 policy_rule_window_open(const struct policy *, size_t idx,
		    int64_t now, int64_t *ends);
/* Whether any rule has a max_duration or a window. */
bool		 policy_has_time_limits(const struct policy *);

void		 policy_check(const struct policy *, const struct policy_subject *,
		    const struct policy_target *, struct policy_verdict *);
/*
 * policy_check() for an open tunnel as the master's table has it: target
 * "host:port" as requested, resolved "addr:port" connected to. 0, or -1
 * (v untouched) if resolved is not an address.
 */
int		 policy_check_tunnel(const struct policy *,
		    const struct policy_subject *, const char *target,
		    const char *resolved, const struct policy_own *,
		    struct policy_verdict *v);
/*
 * Before host is resolved: true if some address it could resolve to might
 * be allowed (an allow rule for this subject and port names host, or has
 * networks and its window open at now, Unix seconds, 0 for the clock's,
 * before any deny rule naming host). Otherwise false, and v is the verdict
 * every address would get.
 */
bool		 policy_lookup_needed(const struct policy *,
		    const struct policy_subject *, const char *host,
		    uint16_t port, int64_t now, struct policy_verdict *v);
/*
 * Whether some rule names group: only such a group can change a verdict
 * (an account re-check reports just these).
 */
bool		 policy_names_group(const struct policy *, const char *group);

#endif
