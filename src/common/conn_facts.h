/*
 * What every audit record of one tunnel repeats, kept small because an idle
 * tunnel's memory is mostly its bookkeeping: the strings that may be long
 * only in theory (user, target, resolved address, rule) live in one
 * allocation of their real length; the short ones are inline.
 */
#ifndef TG_CONN_FACTS_H
#define TG_CONN_FACTS_H

#include <stdint.h>

#include "audit.h"

struct conn_facts {
	uint64_t	 tunnel_id;
	char		*names;		/* "user\0target\0resolved\0rule\0" */
	char		 client[56];	/* "[v6 address]:port" fits */
	char		 tls_version[16];
	char		 tls_cipher[32];
};

enum conn_fact { FACT_USER, FACT_TARGET, FACT_RESOLVED, FACT_RULE, FACT_N };

/* "" when unset. */
const char	*conn_fact(const struct conn_facts *, enum conn_fact);
/* Replace one named fact; 0, or -1 when out of memory (the fact stays). */
int		 conn_fact_set(struct conn_facts *, enum conn_fact, const char *);
void		 conn_facts_to_record(const struct conn_facts *,
		    struct audit_record *);
int		 conn_facts_from_record(struct conn_facts *,
		    const struct audit_record *);
void		 conn_facts_free(struct conn_facts *);

#endif
