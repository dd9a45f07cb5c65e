/*
 * Whether a group name a policy quotes can ever be one of a user's groups
 * (tunnelgatectl check --resolve), asked the way logins find groups.
 *
 * Group mode "search": an entry under auth.ldap.groups.base whose name
 * attribute is the name. Mode "memberof" names a group by the first RDN
 * value of a DN in the user's memberOf, wherever that entry is, so the
 * name is known when some entry of the directory's naming context has it
 * as cn and is a memberOf value of some entry: an empty group, or one the
 * overlay does not keep memberOf for, matches nobody.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "auth_ldap.h"

/* Entries called cn=NAME looked at per name: groups of one name are few. */
#define ALDAP_KNOWN_CANDIDATES	16

/*
 * Some entry under base has attr=value: *known 1 or 0. A value too long to
 * quote is no entry's (LDAP_FILTER_ERROR, which the caller counts as 0).
 */
static int
aldap_any(const struct config_ldap *l, LDAP *ld, const char *base,
    enum config_ldap_scope scope, const char *attr, const char *v,
    int64_t deadline_ms, int *known)
{
	char		 value[AUTH_LDAP_FILTER_MAX / 2];
	char		 filter[AUTH_LDAP_FILTER_MAX];
	char		*attrs[] = { LDAP_NO_ATTRS, NULL };
	LDAPMessage	*res;
	int		 rc;

	if (auth_ldap_escape(AUTH_LDAP_FILTER, v, value, sizeof(value)) == -1 ||
	    snprintf(filter, sizeof(filter), "(%s=%s)", attr, value) >=
	    (int)sizeof(filter))
		return LDAP_FILTER_ERROR;
	rc = aldap_search(l, ld, base, scope, filter, attrs, 1, deadline_ms,
	    &res);
	if (res != NULL) {
		*known = ldap_count_entries(ld, res) > 0;
		ldap_msgfree(res);
	}
	return rc == LDAP_SIZELIMIT_EXCEEDED ? LDAP_SUCCESS : rc;
}

/* dn ends with suffix at an RDN boundary (or is it). */
static bool
aldap_dn_under(const char *dn, const char *suffix)
{
	size_t	 n = strlen(dn), m = strlen(suffix);

	if (m == 0 || m > n || strcasecmp(dn + n - m, suffix) != 0)
		return false;
	return m == n || dn[n - m - 1] == ',';
}

/*
 * The naming context holding the users: the only one, or the one the
 * user base (or bind template) lies under. LDAP_NO_SUCH_OBJECT if none.
 */
static int
aldap_naming_context(const struct config_ldap *l, LDAP *ld,
    int64_t deadline_ms, char *out, size_t outlen)
{
	char		*attrs[] = { "namingContexts", NULL };
	const char	*users = l->user_base[0] != '\0' ? l->user_base :
			    l->dn_template;
	struct berval	**vals;
	LDAPMessage	*res, *e;
	int		 rc;

	rc = aldap_search(l, ld, "", CONFIG_LDAP_SCOPE_BASE,
	    "(objectClass=*)", attrs, 1, deadline_ms, &res);
	if (res == NULL)
		return rc;
	out[0] = '\0';
	if (rc == LDAP_SUCCESS && (e = ldap_first_entry(ld, res)) != NULL &&
	    (vals = ldap_get_values_len(ld, e, attrs[0])) != NULL) {
		for (size_t i = 0; vals[i] != NULL; i++) {
			if (vals[i]->bv_len >= outlen ||
			    memchr(vals[i]->bv_val, '\0', vals[i]->bv_len))
				continue;
			if (vals[1] == NULL ||
			    aldap_dn_under(users, vals[i]->bv_val)) {
				memcpy(out, vals[i]->bv_val, vals[i]->bv_len);
				out[vals[i]->bv_len] = '\0';
				break;
			}
		}
		ldap_value_free_len(vals);
	}
	ldap_msgfree(res);
	if (rc == LDAP_SUCCESS && out[0] == '\0')
		rc = LDAP_NO_SUCH_OBJECT;
	return rc;
}

static bool
aldap_first_rdn_is(const char *dn, const char *name)
{
	LDAPDN		 d = NULL;
	LDAPAVA		*ava;
	bool		 is = false;

	if (ldap_str2dn(dn, &d, LDAP_DN_FORMAT_LDAPV3) == LDAP_SUCCESS &&
	    d != NULL && d[0] != NULL && (ava = d[0][0]) != NULL &&
	    (ava->la_flags & LDAP_AVA_BINARY) == 0)
		is = ava->la_value.bv_len == strlen(name) &&
		    memcmp(ava->la_value.bv_val, name, strlen(name)) == 0;
	if (d != NULL)
		ldap_dnfree(d);
	return is;
}

static int
aldap_known_memberof(const struct config_ldap *l, LDAP *ld, const char *name,
    int64_t deadline_ms, int *known)
{
	char		 base[CONFIG_LDAP_STR_MAX], value[AUTH_LDAP_FILTER_MAX / 2];
	char		 filter[AUTH_LDAP_FILTER_MAX];
	char		*attrs[] = { LDAP_NO_ATTRS, NULL }, *dn;
	LDAPMessage	*res, *e;
	int		 rc;

	if ((rc = aldap_naming_context(l, ld, deadline_ms, base,
	    sizeof(base))) != LDAP_SUCCESS)
		return rc;
	if (auth_ldap_escape(AUTH_LDAP_FILTER, name, value,
	    sizeof(value)) == -1 || snprintf(filter, sizeof(filter),
	    "(cn=%s)", value) >= (int)sizeof(filter))
		return LDAP_FILTER_ERROR;
	rc = aldap_search(l, ld, base, CONFIG_LDAP_SCOPE_SUB, filter, attrs,
	    ALDAP_KNOWN_CANDIDATES, deadline_ms, &res);
	if (res == NULL)
		return rc;
	if (rc == LDAP_SIZELIMIT_EXCEEDED)
		rc = LDAP_SUCCESS;
	for (e = ldap_first_entry(ld, res); rc == LDAP_SUCCESS && e != NULL &&
	    *known == 0; e = ldap_next_entry(ld, e)) {
		if ((dn = ldap_get_dn(ld, e)) == NULL)
			continue;
		if (aldap_first_rdn_is(dn, name) && (rc = aldap_any(l, ld,
		    base, CONFIG_LDAP_SCOPE_SUB, l->memberof_attribute, dn,
		    deadline_ms, known)) == LDAP_FILTER_ERROR)
			rc = LDAP_SUCCESS;	/* no DN that long is a group */
		ldap_memfree(dn);
	}
	ldap_msgfree(res);
	return rc;
}

int
auth_ldap_group_known(const struct config *cfg, const char *name,
    int64_t deadline_ms, char *why, size_t whylen)
{
	const struct config_ldap *l = &cfg->ldap;
	struct aldap_pool	*p = aldap_pool_get(l);
	LDAP			*ld;
	size_t			 i;
	int			 rc = LDAP_SERVER_DOWN, known;

	why[0] = '\0';
	for (i = 0; i < p->n; i++) {
		if ((rc = aldap_conn(p, &p->srv[i], true, deadline_ms, &ld, why,
		    whylen)) != LDAP_SUCCESS)
			continue;
		known = 0;
		rc = l->group_mode == CONFIG_LDAP_GROUPS_SEARCH ?
		    aldap_any(l, ld, l->group_base, l->group_scope,
		    l->group_name_attribute, name, deadline_ms, &known) :
		    aldap_known_memberof(l, ld, name, deadline_ms, &known);
		if (rc == LDAP_SUCCESS)
			return known;
		if (rc == LDAP_NO_SUCH_OBJECT &&
		    l->group_mode == CONFIG_LDAP_GROUPS_SEARCH)
			return 0;
		if (rc == LDAP_FILTER_ERROR)
			return 0;
	}
	if (why[0] == '\0')
		(void)snprintf(why, whylen, "group lookup: %s%s",
		    ldap_err2string(rc), rc == LDAP_NO_SUCH_OBJECT ?
		    " (no naming context of the directory holds the users)" :
		    "");
	return -1;
}
