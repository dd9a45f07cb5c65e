/*
 * One LDAP login: find the user's DN (search as the service account, or the
 * DN template), bind as it with the password on a second connection, then
 * check the account state and gather the groups. Servers are tried in the
 * order of auth.ldap.uris; one that fails in transport rests and the login
 * starts again on the next. Only answers from a server make a verdict
 * other than AUTH_UNAVAILABLE.
 *
 * The account state is checked only after the password has been accepted,
 * so that guessing passwords tells nothing about the account.
 *
 * A certificate login (auth_ldap_lookup(), no password) only finds the
 * entry as the service account and reads the rest as for a login; there
 * is no bind, so account_filter is what refuses a disabled account.
 *
 * The account's name is the entry's auth.ldap.bind.name_attribute, never
 * the name typed: directories match names case- and space-insensitively,
 * so "BOB" finds bob's entry. It must have exactly one value, within
 * AUTH_USER_CHARS; like the account state it is judged only after the bind.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "auth_ldap.h"
#include "log.h"

enum step { STEP_ON, STEP_DONE, STEP_FAILOVER };

struct aldap_login {
	const struct config_ldap *cfg;
	const char		*user;
	const char		*password;
	int64_t			 deadline_ms;
	struct aldap_groups	*groups;
	char			 dn[AUTH_LDAP_DN_MAX];
	/* One byte over AUTH_USER_MAX, so that a longer value is refused. */
	char			 name[AUTH_USER_MAX + 2];
	size_t			 name_values;
	bool			 name_binary;	/* a NUL inside the value */
	enum auth_verdict	 verdict;
	char			*reason;
	size_t			 reasonlen;
	bool			 deadline_hit;
	char			 fault[ALDAP_WHY_MAX];	/* last transport failure */
};

static enum step
aldap_decide(struct aldap_login *l, enum auth_verdict v, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum step
aldap_decide(struct aldap_login *l, enum auth_verdict v, const char *fmt, ...)
{
	va_list	 ap;

	l->verdict = v;
	va_start(ap, fmt);
	(void)vsnprintf(l->reason, l->reasonlen, fmt, ap);
	va_end(ap);
	return STEP_DONE;
}

/*
 * rc, not a plain answer, came back from what on srv: a failover if the
 * server is unreachable, else a verdict. why details a failure to connect.
 */
static enum step
aldap_trouble(struct aldap_pool *p, struct aldap_server *srv,
    struct aldap_login *l, int rc, const char *what, const char *why)
{
	if (why == NULL || why[0] == '\0') {
		(void)snprintf(l->fault, sizeof(l->fault), "%s: %s: %s",
		    srv->uri, what, ldap_err2string(rc));
		why = l->fault;
	} else if (why != l->fault)
		(void)snprintf(l->fault, sizeof(l->fault), "%s", why);
	if (rc == ALDAP_DEADLINE) {
		/* Cut short, it leaves replies in flight: start afresh. */
		aldap_server_drop(srv);
		l->deadline_hit = true;
		return aldap_decide(l, AUTH_UNAVAILABLE, "ldap: no time left "
		    "for the directory (timeouts.auth) during %s", what);
	}
	if (aldap_unreachable(rc)) {
		aldap_server_failed(p, srv, l->fault);
		return STEP_FAILOVER;
	}
	log_warnx("ldap: %s", l->fault);
	return aldap_decide(l, AUTH_UNAVAILABLE, "ldap: %s failed: %s", what,
	    ldap_err2string(rc));
}

/* The entry's name attribute, kept for aldap_check_name(). */
static void
aldap_read_name(LDAP *ld, LDAPMessage *e, struct aldap_login *l)
{
	struct berval	**vals;
	size_t		 len;

	l->name[0] = '\0';
	l->name_values = 0;
	l->name_binary = false;
	if ((vals = ldap_get_values_len(ld, e, l->cfg->name_attribute)) ==
	    NULL)
		return;
	l->name_values = (size_t)ldap_count_values_len(vals);
	if (l->name_values == 1) {
		len = vals[0]->bv_len < sizeof(l->name) - 1 ? vals[0]->bv_len :
		    sizeof(l->name) - 1;
		l->name_binary = memchr(vals[0]->bv_val, '\0',
		    vals[0]->bv_len) != NULL;
		memcpy(l->name, vals[0]->bv_val, len);
		l->name[len] = '\0';
	}
	ldap_value_free_len(vals);
}

static enum step
aldap_check_name(struct aldap_login *l)
{
	const char	*attr = l->cfg->name_attribute, *why;

	if (l->name_values != 1) {
		log_warnx("ldap: %s has %zu values of %s; one must name the "
		    "account (auth.ldap.bind.name_attribute)", l->dn,
		    l->name_values, attr);
		return aldap_decide(l, AUTH_ACCOUNT_UNUSABLE, "ldap: the user "
		    "entry has %zu values of %.32s, not one", l->name_values,
		    attr);
	}
	why = l->name_binary ? "a NUL in the value" :
	    auth_user_refusal(l->name);
	if (why != NULL)
		return aldap_decide(l, AUTH_ACCOUNT_UNUSABLE, "ldap: account "
		    "name (%.32s): %s", attr, why);
	return STEP_ON;
}

/* attrs for a read of the user's entry: at most two, or LDAP_NO_ATTRS. */
static void
aldap_entry_attrs(const struct config_ldap *cfg, bool memberof, bool name,
    char *attrs[3])
{
	size_t	 n = 0;

	if (memberof)
		attrs[n++] = (char *)(uintptr_t)cfg->memberof_attribute;
	if (name)
		attrs[n++] = (char *)(uintptr_t)cfg->name_attribute;
	if (n == 0)
		attrs[n++] = LDAP_NO_ATTRS;
	attrs[n] = NULL;
}

static enum step
aldap_find_user(struct aldap_pool *p, struct aldap_server *srv, LDAP *ld,
    struct aldap_login *l)
{
	const struct config_ldap *cfg = l->cfg;
	bool			 memberof = cfg->group_mode ==
				    CONFIG_LDAP_GROUPS_MEMBEROF;
	char			 filter[AUTH_LDAP_FILTER_MAX], *dn;
	char			*attrs[3];
	LDAPMessage		*res, *e;
	enum step		 st = STEP_ON;
	int			 rc, n;

	aldap_entry_attrs(cfg, memberof, true, attrs);
	if (auth_ldap_expand(AUTH_LDAP_FILTER, cfg->user_filter, l->user,
	    NULL, filter, sizeof(filter)) == -1)
		return aldap_decide(l, AUTH_BAD_CREDENTIALS, "ldap: user name "
		    "too long for the user filter");
	/* Two entries are enough to tell that the filter is ambiguous. */
	rc = aldap_search(cfg, ld, cfg->user_base, cfg->user_scope, filter,
	    attrs, 2, l->deadline_ms, &res);
	if (rc != LDAP_SUCCESS && rc != LDAP_SIZELIMIT_EXCEEDED) {
		if (res != NULL)
			ldap_msgfree(res);
		return aldap_trouble(p, srv, l, rc, "user search", NULL);
	}
	if ((n = ldap_count_entries(ld, res)) == 0)
		st = aldap_decide(l, AUTH_BAD_CREDENTIALS,
		    "ldap: unknown user");
	else if (n > 1 || rc == LDAP_SIZELIMIT_EXCEEDED) {
		log_warnx("ldap: auth.ldap.bind.filter finds more than one "
		    "entry "
		    "for one user; make it match one at most");
		st = aldap_decide(l, AUTH_BAD_CREDENTIALS, "ldap: user filter "
		    "matches more than one entry");
	} else if ((e = ldap_first_entry(ld, res)) == NULL ||
	    (dn = ldap_get_dn(ld, e)) == NULL)
		st = aldap_decide(l, AUTH_UNAVAILABLE, "ldap: user entry "
		    "without a DN");
	else {
		if (dn[0] == '\0' || strlen(dn) >= sizeof(l->dn))
			st = aldap_decide(l, AUTH_UNAVAILABLE, "ldap: user DN "
			    "empty or longer than %d bytes", AUTH_LDAP_DN_MAX);
		else
			memcpy(l->dn, dn, strlen(dn) + 1);
		ldap_memfree(dn);
		aldap_read_name(ld, e, l);
		if (st == STEP_ON && memberof)
			aldap_groups_memberof(ld, e, cfg->memberof_attribute,
			    l->groups);
	}
	ldap_msgfree(res);
	return st;
}

/* Active Directory says why in its message: "..., data 775, v4563". */
static const char *
aldap_ad_reason(const char *diag)
{
	static const struct {
		const char	*code, *why;
	} ad[] = {
		{ "530", "logon not permitted at this time" },
		{ "531", "logon not permitted from this workstation" },
		{ "532", "password expired" },
		{ "533", "account disabled" },
		{ "701", "account expired" },
		{ "773", "password must be changed" },
		{ "775", "account locked" },
	};
	const char	*p;
	size_t		 i;

	if ((p = strstr(diag, ", data ")) == NULL)
		return NULL;
	p += strlen(", data ");
	for (i = 0; i < sizeof(ad) / sizeof(ad[0]); i++)
		if (strncmp(p, ad[i].code, 3) == 0 &&
		    !isxdigit((unsigned char)p[3]))
			return ad[i].why;
	return NULL;
}

static enum step
aldap_bind_user(struct aldap_pool *p, struct aldap_server *srv, LDAP *ld,
    struct aldap_login *l)
{
	char		 diag[160];
	const char	*why;
	int		 rc;

	rc = aldap_bind(l->cfg, ld, l->dn, l->password, l->deadline_ms, diag,
	    sizeof(diag));
	switch (rc) {
	case LDAP_SUCCESS:
		return STEP_ON;
	case LDAP_INVALID_CREDENTIALS:
		if ((why = aldap_ad_reason(diag)) != NULL)
			return aldap_decide(l, AUTH_ACCOUNT_UNUSABLE,
			    "ldap: %s", why);
		return aldap_decide(l, AUTH_BAD_CREDENTIALS,
		    "ldap: bad password");
	case LDAP_INVALID_DN_SYNTAX:
	case LDAP_NO_SUCH_OBJECT:
		return aldap_decide(l, AUTH_BAD_CREDENTIALS,
		    "ldap: unknown user");
	case LDAP_UNWILLING_TO_PERFORM:
	case LDAP_INAPPROPRIATE_AUTH:
		return aldap_decide(l, AUTH_ACCOUNT_UNUSABLE, "ldap: bind "
		    "refused: %.80s", diag[0] != '\0' ? diag :
		    ldap_err2string(rc));
	default:
		return aldap_trouble(p, srv, l, rc, "user bind", NULL);
	}
}

/*
 * The user's own entry: account_filter, and memberOf and the name if not
 * read yet.
 */
static enum step
aldap_check_entry(struct aldap_pool *p, struct aldap_server *srv, LDAP *ld,
    struct aldap_login *l, bool memberof, bool name)
{
	const struct config_ldap *cfg = l->cfg;
	const char		*filter = cfg->account_filter[0] != '\0' ?
				    cfg->account_filter : "(objectClass=*)";
	char			*attrs[3];
	LDAPMessage		*res, *e = NULL;
	enum step		 st = STEP_ON;
	int			 rc;

	aldap_entry_attrs(cfg, memberof, name, attrs);

	rc = aldap_search(cfg, ld, l->dn, CONFIG_LDAP_SCOPE_BASE, filter,
	    attrs, 1, l->deadline_ms, &res);
	if (rc != LDAP_SUCCESS && rc != LDAP_NO_SUCH_OBJECT) {
		if (res != NULL)
			ldap_msgfree(res);
		return aldap_trouble(p, srv, l, rc, "account check", NULL);
	}
	if (res != NULL)
		e = ldap_first_entry(ld, res);
	if (e == NULL && cfg->account_filter[0] != '\0')
		st = aldap_decide(l, AUTH_ACCOUNT_UNUSABLE, "ldap: account "
		    "locked or disabled (auth.ldap.account_filter)");
	else if (e == NULL)
		st = aldap_decide(l, AUTH_UNAVAILABLE, "ldap: cannot read the "
		    "user's own entry; grant read access or set bind.dn");
	else {
		if (memberof)
			aldap_groups_memberof(ld, e, cfg->memberof_attribute,
			    l->groups);
		if (name)
			aldap_read_name(ld, e, l);
	}
	if (res != NULL)
		ldap_msgfree(res);
	return st;
}

static enum step
aldap_login_on(struct aldap_pool *p, struct aldap_server *srv,
    struct aldap_login *l)
{
	const struct config_ldap *cfg = l->cfg;
	bool			 search = cfg->bind_mode ==
				    CONFIG_LDAP_BIND_SEARCH;
	bool			 memberof = cfg->group_mode ==
				    CONFIG_LDAP_GROUPS_MEMBEROF;
	char			 why[ALDAP_WHY_MAX];
	LDAP			*svc = NULL, *usr, *look;
	enum step		 st;
	int			 rc;

	if (cfg->bind_dn[0] != '\0' && (rc = aldap_conn(p, srv, true,
	    l->deadline_ms, &svc, why, sizeof(why))) != LDAP_SUCCESS)
		return aldap_trouble(p, srv, l, rc, "service connection", why);
	if (search) {
		if ((st = aldap_find_user(p, srv, svc, l)) != STEP_ON)
			return st;
	} else if (auth_ldap_expand(AUTH_LDAP_DN, cfg->dn_template, l->user,
	    NULL, l->dn, sizeof(l->dn)) == -1)
		return aldap_decide(l, AUTH_BAD_CREDENTIALS, "ldap: user name "
		    "too long for the DN template");
	if (l->password == NULL)
		look = svc;	/* configuration: search mode, a service account */
	else {
		if ((rc = aldap_conn(p, srv, false, l->deadline_ms, &usr, why,
		    sizeof(why))) != LDAP_SUCCESS)
			return aldap_trouble(p, srv, l, rc, "user connection",
			    why);
		if ((st = aldap_bind_user(p, srv, usr, l)) != STEP_ON)
			return st;
		/* Without a service account the user reads its own entries. */
		look = svc != NULL ? svc : usr;
	}
	if (look == NULL)
		return aldap_decide(l, AUTH_UNAVAILABLE, "ldap: a certificate "
		    "login needs auth.ldap.bind.dn");
	if ((cfg->account_filter[0] != '\0' || !search) &&
	    (st = aldap_check_entry(p, srv, look, l, memberof && !search,
	    !search)) != STEP_ON)
		return st;
	if ((st = aldap_check_name(l)) != STEP_ON)
		return st;
	/* %u in the group filter is the account's name, not the typed one. */
	if (!memberof && (rc = aldap_groups_search(cfg, look, l->name, l->dn,
	    l->deadline_ms, l->groups)) != LDAP_SUCCESS) {
		if (rc == LDAP_FILTER_ERROR)
			return aldap_decide(l, AUTH_UNAVAILABLE, "ldap: group "
			    "filter too long for this user");
		return aldap_trouble(p, srv, l, rc, "group search", NULL);
	}
	if (l->groups->overflow)
		return aldap_decide(l, AUTH_UNAVAILABLE,
		    "ldap: user is in more than %d groups", AUTH_MAX_GROUPS);
	return aldap_decide(l, AUTH_ALLOW, "%s", "");
}

void
auth_ldap_init(void)
{
	int	 version;

	if (ldap_get_option(NULL, LDAP_OPT_PROTOCOL_VERSION, &version) !=
	    LDAP_OPT_SUCCESS)
		log_warnx("ldap: libldap failed to initialize");
}

static enum auth_verdict aldap_run(const struct config *, const char *,
    const char *, int64_t, char [AUTH_USER_MAX + 1], char ***, size_t *,
    char *, size_t);

enum auth_verdict
auth_ldap_check(const struct config *cfg, const char *user,
    const char *password, int64_t deadline_ms, char name[AUTH_USER_MAX + 1],
    char ***groups, size_t *n_groups, char *reason, size_t reasonlen)
{
	*groups = NULL;
	*n_groups = 0;
	name[0] = '\0';
	/* A bind with an empty password is an anonymous bind: it succeeds. */
	if (password[0] == '\0') {
		(void)snprintf(reason, reasonlen, "empty password");
		return AUTH_BAD_CREDENTIALS;
	}
	return aldap_run(cfg, user, password, deadline_ms, name, groups,
	    n_groups, reason, reasonlen);
}

enum auth_verdict
auth_ldap_lookup(const struct config *cfg, const char *user,
    int64_t deadline_ms, char name[AUTH_USER_MAX + 1], char ***groups,
    size_t *n_groups, char *reason, size_t reasonlen)
{
	*groups = NULL;
	*n_groups = 0;
	name[0] = '\0';
	return aldap_run(cfg, user, NULL, deadline_ms, name, groups, n_groups,
	    reason, reasonlen);
}

/* One login (password NULL: a certificate's), server after server. */
static enum auth_verdict
aldap_run(const struct config *cfg, const char *user, const char *password,
    int64_t deadline_ms, char name[AUTH_USER_MAX + 1], char ***groups,
    size_t *n_groups, char *reason, size_t reasonlen)
{
	/* Large, and one login at a time per process. */
	static struct aldap_groups	 g;
	struct aldap_login		 l = { .cfg = &cfg->ldap, .user = user,
					    .password = password,
					    .deadline_ms = deadline_ms,
					    .groups = &g, .reason = reason,
					    .reasonlen = reasonlen };
	struct aldap_pool		*p;
	struct aldap_server		*srv;
	enum step			 st = STEP_FAILOVER;
	size_t				 i, tried = 0;

	p = aldap_pool_get(&cfg->ldap);
	for (i = 0; i < p->n && st != STEP_DONE; i++) {
		srv = &p->srv[i];
		if (auth_now_ms() < srv->resting_until_ms)
			continue;
		tried++;
		g.n = g.used = 0;
		g.overflow = false;
		st = aldap_login_on(p, srv, &l);
		if (st == STEP_DONE && !l.deadline_hit)
			aldap_server_answered(srv);
	}
	if (st != STEP_DONE)
		(void)aldap_decide(&l, AUTH_UNAVAILABLE, "ldap: directory "
		    "unreachable (%s)", tried > 0 ? l.fault :
		    "every server is resting after a failure");
	if (l.verdict == AUTH_ALLOW) {
		if ((*groups = auth_groups_dup(g.name, g.n)) == NULL)
			(void)aldap_decide(&l, AUTH_UNAVAILABLE, "ldap: no "
			    "memory for the user's groups");
		else {
			*n_groups = g.n;
			memcpy(name, l.name, strlen(l.name) + 1);
		}
	}
	return l.verdict;
}
