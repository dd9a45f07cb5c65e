#include <stdlib.h>
#include <string.h>

#include "conn_facts.h"

const char *
conn_fact(const struct conn_facts *f, enum conn_fact which)
{
	const char	*p = f->names;

	if (p == NULL)
		return "";
	for (int i = 0; i < (int)which; i++)
		p += strlen(p) + 1;
	return p;
}

/* Rebuild the names block from v[FACT_N]; v may point into the old one. */
static int
conn_facts_set_all(struct conn_facts *f, const char *const v[FACT_N])
{
	size_t	 len[FACT_N], total = 0;
	char	*names, *w;

	for (int i = 0; i < FACT_N; i++)
		total += (len[i] = strlen(v[i])) + 1;
	if ((names = malloc(total)) == NULL)
		return -1;
	w = names;
	for (int i = 0; i < FACT_N; i++) {
		memcpy(w, v[i], len[i] + 1);
		w += len[i] + 1;
	}
	free(f->names);
	f->names = names;
	return 0;
}

int
conn_fact_set(struct conn_facts *f, enum conn_fact which, const char *value)
{
	const char	*v[FACT_N];

	for (int i = 0; i < FACT_N; i++)
		v[i] = i == (int)which ? value : conn_fact(f, (enum conn_fact)i);
	return conn_facts_set_all(f, v);
}

void
conn_facts_to_record(const struct conn_facts *f, struct audit_record *r)
{
	r->tunnel_id = f->tunnel_id;
	AUDIT_SET(r->client, f->client);
	AUDIT_SET(r->tls_version, f->tls_version);
	AUDIT_SET(r->tls_cipher, f->tls_cipher);
	AUDIT_SET(r->user, conn_fact(f, FACT_USER));
	AUDIT_SET(r->target, conn_fact(f, FACT_TARGET));
	AUDIT_SET(r->resolved, conn_fact(f, FACT_RESOLVED));
	AUDIT_SET(r->rule, conn_fact(f, FACT_RULE));
}

int
conn_facts_from_record(struct conn_facts *f, const struct audit_record *r)
{
	f->tunnel_id = r->tunnel_id;
	AUDIT_SET(f->client, r->client);
	AUDIT_SET(f->tls_version, r->tls_version);
	AUDIT_SET(f->tls_cipher, r->tls_cipher);
	return conn_facts_set_all(f, (const char *const[FACT_N]){ r->user,
	    r->target, r->resolved, r->rule });
}

void
conn_facts_free(struct conn_facts *f)
{
	free(f->names);
	f->names = NULL;
}
