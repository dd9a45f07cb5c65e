/*
 * The LDAP backend of the authenticator: credentials, account state and
 * groups from a directory, per authenticator process.
 *
 * auth_ldap.c		the login: user search or DN template, user bind,
 *			account state, verdicts and failover between servers
 * auth_ldap_pool.c	servers, their health and back-off, this process's
 *			connections to them, every call bounded in time
 * auth_ldap_groups.c	group names from memberOf or a group search
 * auth_ldap_escape.c	RFC 4515 filter and RFC 4514 DN escaping, templates
 *
 * Connections are made lazily by the authenticator that needs them, after
 * fork, never by the master, and kept across requests. libldap is used
 * only through its asynchronous calls so that each wait has its own
 * timeout.
 */
#ifndef TG_AUTH_LDAP_H
#define TG_AUTH_LDAP_H

#include <ldap.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "config.h"

#define AUTH_LDAP_DN_MAX	2048	/* a user's DN, as the server gives it */
/* A template with every placeholder expanded, each byte escaped at worst. */
#define AUTH_LDAP_FILTER_MAX	16384

/*
 * Check user (already within auth_user_refusal()) and password against
 * cfg->ldap, finish by deadline_ms (CLOCK_MONOTONIC). Returns AUTH_ALLOW
 * with name (the entry's cfg->ldap.name_attribute), *groups
 * (auth_groups_dup() layout, free()) and *n_groups set, or
 * AUTH_BAD_CREDENTIALS, AUTH_ACCOUNT_UNUSABLE or AUTH_UNAVAILABLE with name
 * "" and *groups NULL; reason gets a short audit reason without secrets.
 */
enum auth_verdict auth_ldap_check(const struct config *cfg, const char *user,
	    const char *password, int64_t deadline_ms,
	    char name[AUTH_USER_MAX + 1], char ***groups, size_t *n_groups,
	    char *reason, size_t reasonlen);
/*
 * The same for a user a verified client certificate names, without a
 * password: the service account finds the entry (bind mode "search"),
 * account_filter, name and groups as above; no bind as the user.
 */
enum auth_verdict auth_ldap_lookup(const struct config *cfg,
	    const char *user, int64_t deadline_ms,
	    char name[AUTH_USER_MAX + 1], char ***groups, size_t *n_groups,
	    char *reason, size_t reasonlen);

/*
 * Set libldap up in this process before the first login. libldap looks up
 * the host's own name once per process (for TLS and SASL); a resolver that
 * does not answer then costs its timeout here, at the authenticator's
 * start, not in a user's login. No connection is made.
 */
void	 auth_ldap_init(void);

enum auth_ldap_syntax { AUTH_LDAP_FILTER, AUTH_LDAP_DN };

/*
 * in escaped as an RFC 4515 filter assertion value or an RFC 4514 DN
 * attribute value, into out. Returns 0, or -1 if it does not fit.
 */
int	 auth_ldap_escape(enum auth_ldap_syntax, const char *in, char *out,
	    size_t outlen);
/*
 * tmpl with %u replaced by user and %d by dn (NULL: %d is an error), each
 * escaped for syntax, and %% by '%'. Returns 0, or -1 on an unknown
 * placeholder or if the result does not fit.
 */
int	 auth_ldap_expand(enum auth_ldap_syntax, const char *tmpl,
	    const char *user, const char *dn, char *out, size_t outlen);

/*
 * One server as a login would find it: connect (with TLS as configured),
 * then for search binds the service bind and a search of the user base.
 * 0, or -1 with why saying what failed and which setting to look at.
 */
int	 aldap_probe(const struct config_ldap *, const char *uri,
	    int64_t deadline_ms, char *why, size_t whylen);

/*
 * Whether a group called name can be one of a user's groups, searched as
 * the service account (auth_ldap_known.c says how for each group mode).
 * 1 or 0, or -1 with why if no server could tell.
 */
int	 auth_ldap_group_known(const struct config *cfg, const char *name,
	    int64_t deadline_ms, char *why, size_t whylen);

/* Internal to auth_ldap*.c from here on. */

/* Not a libldap code: the request's deadline, not the server, ran out. */
#define ALDAP_DEADLINE		(-1000)
#define ALDAP_WHY_MAX		256

struct aldap_server {
	const char	*uri;
	LDAP		*svc;		/* bound as the service account */
	LDAP		*usr;		/* rebound for each user */
	int64_t		 resting_until_ms;
	bool		 down;		/* failed last time; logged */
};

struct aldap_pool {
	const struct config_ldap *cfg;
	struct aldap_server	 srv[CONFIG_LDAP_MAX_URIS];
	size_t			 n;
};

/* This process's pool for cfg, made on first use. */
struct aldap_pool *aldap_pool_get(const struct config_ldap *cfg);
/*
 * A connection to srv, opened (with TLS as configured) and, for service,
 * bound as the service account, unless one that still looks alive is
 * pooled. Returns LDAP_SUCCESS, or an LDAP code or ALDAP_DEADLINE with why
 * set.
 */
int	 aldap_conn(struct aldap_pool *, struct aldap_server *, bool service,
	    int64_t deadline_ms, LDAP **ld, char *why, size_t whylen);
/* srv failed in transport: drop its connections, rest it, log it. */
void	 aldap_server_failed(struct aldap_pool *, struct aldap_server *,
	    const char *why);
/* srv answered: log its recovery if it had failed. */
void	 aldap_server_answered(struct aldap_server *);
/* srv's connections are in an unknown state: drop them. */
void	 aldap_server_drop(struct aldap_server *);
/* Transport trouble: the server is down, slow, or refusing service. */
bool	 aldap_unreachable(int rc);

/*
 * A simple bind of dn with password. Returns the bind's result code, a
 * transport code, or ALDAP_DEADLINE; diag gets the server's diagnostic
 * message ("" if none).
 */
int	 aldap_bind(const struct config_ldap *, LDAP *, const char *dn,
	    const char *password, int64_t deadline_ms, char *diag,
	    size_t diaglen);
/*
 * A search, all of its results. Returns the search's result code with *res
 * set (ldap_msgfree() it), or a transport code or ALDAP_DEADLINE with *res
 * NULL.
 */
int	 aldap_search(const struct config_ldap *, LDAP *, const char *base,
	    enum config_ldap_scope, const char *filter, char **attrs,
	    int sizelimit, int64_t deadline_ms, LDAPMessage **res);

/* A user's group names while they are gathered; deduplicated. */
struct aldap_groups {
	const char	*name[AUTH_MAX_GROUPS];
	size_t		 n;
	bool		 overflow;	/* more than AUTH_MAX_GROUPS */
	size_t		 used;
	char		 buf[AUTH_MAX_GROUPS * (AUTH_GROUP_NAME_MAX + 1)];
};

/* Names from the memberOf-style attribute of entry. */
void	 aldap_groups_memberof(LDAP *, LDAPMessage *entry, const char *attr,
	    struct aldap_groups *);
/*
 * Names from a group search, %u in the filter being the account's own
 * name; returns as aldap_search(), entries consumed.
 */
int	 aldap_groups_search(const struct config_ldap *, LDAP *,
	    const char *user, const char *dn, int64_t deadline_ms,
	    struct aldap_groups *);

#endif
