/*
 * A user's groups, as names the policy can quote: the value of the first
 * RDN of each DN in a memberOf-style attribute ("cn=ops,ou=groups,..." is
 * "ops"), or every value of the name attribute of each entry a group search
 * finds.
 *
 * A name longer than AUTH_GROUP_NAME_MAX bytes, empty, binary or holding
 * a NUL cannot be written in a policy, so no rule can name it and leaving
 * it out changes no decision. Leaving out a group past AUTH_MAX_GROUPS
 * could skip a rule that denies it, so the caller refuses such a user
 * instead (overflow).
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "auth_ldap.h"
#include "log.h"

static void
aldap_groups_add(struct aldap_groups *g, const char *name, size_t len)
{
	size_t	 i;
	char	*p;

	if (len == 0 || len > AUTH_GROUP_NAME_MAX ||
	    memchr(name, '\0', len) != NULL)
		return;
	for (i = 0; i < g->n; i++)
		if (strncmp(g->name[i], name, len) == 0 &&
		    g->name[i][len] == '\0')
			return;
	if (g->n == AUTH_MAX_GROUPS) {
		g->overflow = true;
		return;
	}
	/* buf holds AUTH_MAX_GROUPS names of the longest kind. */
	p = g->buf + g->used;
	memcpy(p, name, len);
	p[len] = '\0';
	g->name[g->n++] = p;
	g->used += len + 1;
}

/*
 * Active Directory sends an attribute with more values than its
 * MaxValRange (1500 or 5000) as "memberOf;range=0-1499" and no plain
 * memberOf: far more groups than AUTH_MAX_GROUPS, not none at all.
 */
static bool
aldap_ranged(LDAP *ld, LDAPMessage *entry, const char *attr)
{
	BerElement	*ber = NULL;
	char		*a;
	size_t		 len = strlen(attr);
	bool		 ranged = false;

	for (a = ldap_first_attribute(ld, entry, &ber); a != NULL;
	    a = ranged ? NULL : ldap_next_attribute(ld, entry, ber)) {
		ranged = strncasecmp(a, attr, len) == 0 &&
		    strncasecmp(a + len, ";range=", 7) == 0;
		ldap_memfree(a);
	}
	if (ber != NULL)
		ber_free(ber, 0);
	return ranged;
}

void
aldap_groups_memberof(LDAP *ld, LDAPMessage *entry, const char *attr,
    struct aldap_groups *g)
{
	struct berval	**vals;
	LDAPDN		 dn;
	LDAPAVA		*ava;
	size_t		 i;

	if (aldap_ranged(ld, entry, attr)) {
		g->overflow = true;
		return;
	}
	if ((vals = ldap_get_values_len(ld, entry, attr)) == NULL)
		return;
	for (i = 0; vals[i] != NULL && !g->overflow; i++) {
		dn = NULL;
		if (ldap_bv2dn(vals[i], &dn, LDAP_DN_FORMAT_LDAPV3) !=
		    LDAP_SUCCESS || dn == NULL || dn[0] == NULL ||
		    (ava = dn[0][0]) == NULL ||
		    (ava->la_flags & LDAP_AVA_BINARY) != 0) {
			log_debug("ldap: %s value %zu is not a usable DN",
			    attr, i);
		} else
			aldap_groups_add(g, ava->la_value.bv_val,
			    ava->la_value.bv_len);
		if (dn != NULL)
			ldap_dnfree(dn);
	}
	ldap_value_free_len(vals);
}

int
aldap_groups_search(const struct config_ldap *cfg, LDAP *ld,
    const char *user, const char *dn, int64_t deadline_ms,
    struct aldap_groups *g)
{
	char		 filter[AUTH_LDAP_FILTER_MAX];
	char		*attrs[] = {
			    (char *)(uintptr_t)cfg->group_name_attribute, NULL };
	LDAPMessage	*res, *e;
	struct berval	**vals;
	size_t		 i;
	int		 rc;

	if (auth_ldap_expand(AUTH_LDAP_FILTER, cfg->group_filter, user, dn,
	    filter, sizeof(filter)) == -1)
		return LDAP_FILTER_ERROR;
	rc = aldap_search(cfg, ld, cfg->group_base, cfg->group_scope, filter,
	    attrs, AUTH_MAX_GROUPS + 1, deadline_ms, &res);
	if (res == NULL)
		return rc;
	if (rc == LDAP_SUCCESS || rc == LDAP_SIZELIMIT_EXCEEDED) {
		for (e = ldap_first_entry(ld, res); e != NULL && !g->overflow;
		    e = ldap_next_entry(ld, e)) {
			if ((vals = ldap_get_values_len(ld, e, attrs[0])) ==
			    NULL)
				continue;
			for (i = 0; vals[i] != NULL; i++)
				aldap_groups_add(g, vals[i]->bv_val,
				    vals[i]->bv_len);
			ldap_value_free_len(vals);
		}
		if (rc == LDAP_SIZELIMIT_EXCEEDED)
			g->overflow = true;
		rc = LDAP_SUCCESS;
	}
	ldap_msgfree(res);
	return rc;
}
