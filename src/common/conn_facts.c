#include <arpa/inet.h>
#include <stdio.h>
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
	AUDIT_SET(r->proxy, conn_fact(f, FACT_PROXY));
}

int
conn_facts_from_record(struct conn_facts *f, const struct audit_record *r)
{
	f->tunnel_id = r->tunnel_id;
	AUDIT_SET(f->client, r->client);
	AUDIT_SET(f->tls_version, r->tls_version);
	AUDIT_SET(f->tls_cipher, r->tls_cipher);
	return conn_facts_set_all(f, (const char *const[FACT_N]){ r->user,
	    r->target, r->resolved, r->rule, r->proxy });
}

void
conn_facts_free(struct conn_facts *f)
{
	free(f->names);
	f->names = NULL;
}

int
source_key_parse(const char *client, unsigned v6_prefix, struct source_key *k)
{
	char		 host[INET6_ADDRSTRLEN];
	const char	*end;
	size_t		 len;
	struct in6_addr	 a6;
	bool		 bracket = client[0] == '[';

	memset(k, 0, sizeof(*k));
	if (bracket) {
		client++;
		if ((end = strchr(client, ']')) == NULL || end[1] != ':')
			return -1;
	} else
		end = strrchr(client, ':');
	if (end == NULL || (len = (size_t)(end - client)) >= sizeof(host))
		return -1;
	memcpy(host, client, len);
	host[len] = '\0';
	if (!bracket && inet_pton(AF_INET, host, k->addr) == 1) {
		k->v4 = true;
		(void)snprintf(k->label, sizeof(k->label), "%s", host);
		return 0;
	}
	if (!bracket || inet_pton(AF_INET6, host, &a6) != 1)
		return -1;
	if (IN6_IS_ADDR_V4MAPPED(&a6)) {
		memcpy(k->addr, &a6.s6_addr[12], 4);
		k->v4 = true;
		inet_ntop(AF_INET, k->addr, k->label, sizeof(k->label));
		return 0;
	}
	if (v6_prefix > 128)
		v6_prefix = 128;
	for (unsigned i = 0; i < 16; i++) {
		unsigned	keep = v6_prefix > i * 8 ? v6_prefix - i * 8 : 0;
		uint8_t		mask = (uint8_t)(keep >= 8 ? 0xffu :
				    (0xff00u >> keep) & 0xffu);

		k->addr[i] = a6.s6_addr[i] & mask;
	}
	inet_ntop(AF_INET6, k->addr, host, sizeof(host));
	(void)snprintf(k->label, sizeof(k->label), "%s/%u", host, v6_prefix);
	return 0;
}

int
conn_facts_source(const struct conn_facts *f, unsigned v6_prefix,
    struct source_key *k)
{
	return source_key_parse(f->client, v6_prefix, k);
}
