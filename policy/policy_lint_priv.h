/*
 * Shared by policy_lint.c (rules against each other) and
 * policy_lint_entry.c (one entry against a rule). A rule's subject entries
 * are numbered users, then "*" if present, then groups; its host entries
 * names, then IPv4 networks, then IPv6 networks.
 */
#ifndef TG_POLICY_LINT_PRIV_H
#define TG_POLICY_LINT_PRIV_H

#include <stdbool.h>
#include <stddef.h>

#include "policy_priv.h"

/* Text of a list of entries, bounded: past the room, only a count. */
#define LINT_TEXT	320
#define LINT_ENTRY	(POLICY_MAX_PRINCIPAL + 16)

struct lint_text {
	char		 buf[LINT_TEXT];
	size_t		 len;
	unsigned	 more;
};

void		 lint_text_add(struct lint_text *, const char *);
const char	*lint_text_str(struct lint_text *);

size_t		 lint_n_subj(const struct policy_rule *);
size_t		 lint_n_host(const struct policy_rule *);
void		 lint_subj_text(const struct policy *,
		    const struct policy_rule *, size_t, char *, size_t);
void		 lint_host_text(const struct policy *,
		    const struct policy_rule *, size_t, char *, size_t);

/* Entry k of rule j: is all of it matched by rule i, or some of it? */
bool		 lint_subj_covered(const struct policy *,
		    const struct policy_rule *j, size_t k,
		    const struct policy_rule *i);
bool		 lint_subj_meets(const struct policy *,
		    const struct policy_rule *j, size_t k,
		    const struct policy_rule *i);
bool		 lint_host_covered(const struct policy *,
		    const struct policy_rule *j, size_t k,
		    const struct policy_rule *i);
bool		 lint_host_meets(const struct policy *,
		    const struct policy_rule *j, size_t k,
		    const struct policy_rule *i);
/* The ports both rules match, added to t if not NULL; false if none. */
bool		 lint_ports_common(const struct policy *,
		    const struct policy_rule *, const struct policy_rule *,
		    struct lint_text *);

#endif
