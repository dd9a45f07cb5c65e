/*
 * What every audit record of one tunnel repeats, kept small because an idle
 * tunnel's memory is mostly its bookkeeping: the strings that may be long
 * only in theory (user, target, resolved address, rule) live in one
 * allocation of their real length; the short ones are inline.
 */
#ifndef TG_CONN_FACTS_H
#define TG_CONN_FACTS_H

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>

#include "audit.h"

struct conn_facts {
	uint64_t	 tunnel_id;
	char		*names;	/* "user\0target\0resolved\0rule\0proxy\0" */
	char		 client[56];	/* "[v6 address]:port" fits */
	char		 tls_version[16];
	char		 tls_cipher[32];
};

/* FACT_PROXY: the load balancer that named client in a PROXY header. */
enum conn_fact { FACT_USER, FACT_TARGET, FACT_RESOLVED, FACT_RULE, FACT_PROXY,
	FACT_N };

/* "" when unset. */
const char	*conn_fact(const struct conn_facts *, enum conn_fact);
/* Replace one named fact; 0, or -1 when out of memory (the fact stays). */
int		 conn_fact_set(struct conn_facts *, enum conn_fact, const char *);
void		 conn_facts_to_record(const struct conn_facts *,
		    struct audit_record *);
int		 conn_facts_from_record(struct conn_facts *,
		    const struct audit_record *);
void		 conn_facts_free(struct conn_facts *);

/*
 * The source a client counts as, for connection limits and login
 * throttling: its IPv4 address, or its IPv6 address cut to a prefix (one
 * host usually has a whole /64). A v4-mapped address is its IPv4 address.
 */
struct source_key {
	uint8_t		 addr[16];	/* masked; IPv4 in the first 4 */
	bool		 v4;
	char		 label[INET6_ADDRSTRLEN + 5];	/* "a.b.c.d", "x::/64" */
};

/*
 * From "a.b.c.d:port" or "[v6]:port", the form of conn_facts.client. 0, or
 * -1 when it is neither.
 */
int		 source_key_parse(const char *client, unsigned v6_prefix,
		    struct source_key *);
/*
 * The one place that says which address a connection counts as: the one
 * in its facts, which is what the audit log and the authenticators see.
 */
int		 conn_facts_source(const struct conn_facts *, unsigned v6_prefix,
		    struct source_key *);

#endif
