/*
 * The auth.ldap group of tunnelgated.conf: its schema table, handlers,
 * defaults and the checks across its settings. Kept apart from
 * config_schema.c because it is a schema of its own, about the size of the
 * rest together. Only syntax and local files are checked here; nothing is
 * sent to a server while loading.
 */
#include <sys/stat.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ldap.h>
#include <libconfig.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "config_priv.h"

#define L(f)		F(config_ldap, f)
#define SECRET_MAX	1024	/* bytes of a bind password file */

static const char *const ldap_scopes[] = { "base", "one", "sub", NULL };

/* A string naming one of names; stores its index + 1 as an enum. */
static int
cfg_ldap_keyword(struct cfg_ctx *ctx, const config_setting_t *s,
    const char *const *names, const char *what)
{
	const char	*str = config_setting_get_string(s);
	char		 list[128];
	int		 i;

	for (i = 0; names[i] != NULL; i++)
		if (strcmp(str, names[i]) == 0)
			return i + 1;
	cfg_join(list, sizeof(list), names, "\", \"");
	cfg_err(ctx, s, "\"%.32s\" is not %s; use \"%s\"", str, what, list);
	return -1;
}

static void
h_ldap_scope(struct cfg_ctx *ctx, const config_setting_t *s,
    const struct cfg_rule *r, void *base)
{
	int	 v = cfg_ldap_keyword(ctx, s, ldap_scopes, "a search scope");

	if (v > 0)
		*(enum config_ldap_scope *)((char *)base + r->off) =
		    (enum config_ldap_scope)v;
}

static void
h_ldap_bind_mode(struct cfg_ctx *ctx, const config_setting_t *s,
    const struct cfg_rule *r, void *base)
{
	static const char *const modes[] = { "search", "template", NULL };
	int	 v = cfg_ldap_keyword(ctx, s, modes, "a bind mode");

	if (v > 0)
		*(enum config_ldap_bind *)((char *)base + r->off) =
		    (enum config_ldap_bind)v;
}

static void
h_ldap_group_mode(struct cfg_ctx *ctx, const config_setting_t *s,
    const struct cfg_rule *r, void *base)
{
	static const char *const modes[] = { "memberof", "search", NULL };
	int	 v = cfg_ldap_keyword(ctx, s, modes, "a group mode");

	if (v > 0)
		*(enum config_ldap_groups *)((char *)base + r->off) =
		    (enum config_ldap_groups)v;
}

/* Only the server part is used: the base and filter have settings. */
static int
cfg_ldap_uri_ok(struct cfg_ctx *ctx, const config_setting_t *e,
    const char *uri)
{
	LDAPURLDesc	*lud = NULL;
	const char	*why = NULL;

	if (strlen(uri) >= CONFIG_LDAP_URI_MAX)
		why = "is too long";
	else if (ldap_url_parse(uri, &lud) != LDAP_URL_SUCCESS)
		why = "is not an LDAP URI";
	else if (strcmp(lud->lud_scheme, "ldap") != 0 &&
	    strcmp(lud->lud_scheme, "ldaps") != 0)
		why = "has a scheme other than ldap:// or ldaps://";
	else if (lud->lud_host == NULL || lud->lud_host[0] == '\0')
		why = "names no host";
	else if ((lud->lud_dn != NULL && lud->lud_dn[0] != '\0') ||
	    lud->lud_attrs != NULL || lud->lud_filter != NULL ||
	    lud->lud_exts != NULL)
		why = "has a DN, attributes, filter or extensions (set the "
		    "base and filter in auth.ldap.bind instead)";
	if (lud != NULL)
		ldap_free_urldesc(lud);
	if (why == NULL)
		return 0;
	cfg_err(ctx, e, "\"%.64s\" %s; write ldap://HOST[:PORT] or "
	    "ldaps://HOST[:PORT]", uri, why);
	return -1;
}

static void
h_ldap_uris(struct cfg_ctx *ctx, const config_setting_t *s,
    const struct cfg_rule *r, void *base)
{
	struct config_ldap	*l = base;
	const config_setting_t	*e;
	const char		*uri;
	unsigned		 i;

	(void)r;
	l->n_uris = 0;
	for (i = 0; (e = config_setting_get_elem(s, i)) != NULL; i++) {
		if (config_setting_type(e) != CONFIG_TYPE_STRING) {
			cfg_err(ctx, e, "expected a string \"ldap://HOST\"; "
			    "fix this element");
			continue;
		}
		if (i == CONFIG_LDAP_MAX_URIS) {
			cfg_err(ctx, e, "too many URIs; at most %d are "
			    "supported, remove some", CONFIG_LDAP_MAX_URIS);
			return;
		}
		uri = config_setting_get_string(e);
		if (cfg_ldap_uri_ok(ctx, e, uri) == 0)
			memcpy(l->uris[l->n_uris++], uri, strlen(uri) + 1);
	}
	if (i == 0)
		cfg_err(ctx, s, "is empty; list at least one server URI");
}

static void
h_ldap_dn(struct cfg_ctx *ctx, const config_setting_t *s,
    const struct cfg_rule *r, void *base)
{
	const char	*str;
	LDAPDN		 dn = NULL;

	if ((str = cfg_get_string(ctx, s, r)) == NULL)
		return;
	if (str[0] == '\0' ||
	    ldap_str2dn(str, &dn, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS) {
		cfg_err(ctx, s, "\"%.64s\" is not a DN; write one such as "
		    "\"ou=people,dc=example,dc=org\"", str);
		return;
	}
	ldap_dnfree(dn);
	h_string(ctx, s, r, base);
}

static const char *
cfg_ldap_hint(const char *allowed)
{
	if (strchr(allowed, 'd') != NULL)
		return "%u (user name) or %d (user DN)";
	if (allowed[0] != '\0')
		return "%u (user name)";
	return "none (it is matched against the user's own entry)";
}

/*
 * Placeholders: '%' then one of allowed, or "%%". Returns a bit mask of
 * the letters of allowed used (bit i for allowed[i]), or -1 after logging.
 */
static int
cfg_ldap_placeholders(struct cfg_ctx *ctx, const config_setting_t *s,
    const char *str, const char *allowed)
{
	const char	*p, *hit;
	int		 used = 0;

	for (p = str; (p = strchr(p, '%')) != NULL; p += 2) {
		if (p[1] == '%')
			continue;
		if (p[1] == '\0' || (hit = strchr(allowed, p[1])) == NULL) {
			cfg_err(ctx, s, "\"%%%.1s\" at offset %zu is not a "
			    "placeholder here; use %s, or %%%% for a '%%'",
			    p + 1, (size_t)(p - str), cfg_ldap_hint(allowed));
			return -1;
		}
		used |= 1 << (hit - allowed);
	}
	return used;
}

/* An RFC 4515 filter: parenthesized, balanced; no more is checked. */
static int
cfg_ldap_filter_ok(struct cfg_ctx *ctx, const config_setting_t *s,
    const char *str, const char *example)
{
	size_t	 i, len = strlen(str);
	int	 depth = 0;

	for (i = 0; i < len; i++) {
		if (str[i] == '\\' && i + 1 < len) {
			i++;
			continue;
		}
		if (str[i] == '(')
			depth++;
		else if (str[i] == ')' && --depth < 0)
			break;
		if (depth == 0 && i + 1 < len)
			break;
	}
	if (len > 0 && str[0] == '(' && depth == 0 && i == len)
		return 0;
	cfg_err(ctx, s, "\"%.64s\" is not one parenthesized filter; write one "
	    "such as \"%s\"", str, example);
	return -1;
}

static void
cfg_ldap_template(struct cfg_ctx *ctx, const config_setting_t *s,
    const struct cfg_rule *r, void *base, const char *allowed)
{
	const char	*str;
	int		 used;

	if ((str = cfg_get_string(ctx, s, r)) == NULL)
		return;
	if ((used = cfg_ldap_placeholders(ctx, s, str, allowed)) == -1 ||
	    cfg_ldap_filter_ok(ctx, s, str, strchr(allowed, 'd') != NULL ?
	    "(member=%d)" : "(&(objectClass=person)(uid=%u))") == -1)
		return;
	if (used == 0) {
		cfg_err(ctx, s, "has no placeholder, so it would match the "
		    "same entries for every user; use %s",
		    cfg_ldap_hint(allowed));
		return;
	}
	h_string(ctx, s, r, base);
}

static void
h_ldap_user_filter(struct cfg_ctx *ctx, const config_setting_t *s,
    const struct cfg_rule *r, void *base)
{
	cfg_ldap_template(ctx, s, r, base, "u");
}

static void
h_ldap_group_filter(struct cfg_ctx *ctx, const config_setting_t *s,
    const struct cfg_rule *r, void *base)
{
	cfg_ldap_template(ctx, s, r, base, "ud");
}

/* Matched against the user's own entry: no placeholder; "" turns it off. */
static void
h_ldap_account_filter(struct cfg_ctx *ctx, const config_setting_t *s,
    const struct cfg_rule *r, void *base)
{
	const char	*str;

	if ((str = cfg_get_string(ctx, s, r)) == NULL)
		return;
	if (str[0] != '\0' && (cfg_ldap_placeholders(ctx, s, str, "") == -1 ||
	    cfg_ldap_filter_ok(ctx, s, str, "(!(pwdAccountLockedTime=*))") ==
	    -1))
		return;
	h_string(ctx, s, r, base);
}

static void
h_ldap_dn_template(struct cfg_ctx *ctx, const config_setting_t *s,
    const struct cfg_rule *r, void *base)
{
	const char	*str, *p;
	char		 sample[CONFIG_LDAP_STR_MAX * 2];
	size_t		 o = 0;
	LDAPDN		 dn = NULL;
	int		 used;

	if ((str = cfg_get_string(ctx, s, r)) == NULL)
		return;
	if ((used = cfg_ldap_placeholders(ctx, s, str, "u")) == -1)
		return;
	/* With a plain value in place of %u it must be a DN. */
	for (p = str; *p != '\0' && o < sizeof(sample) - 2; p++) {
		sample[o++] = *p == '%' ? (p[1] == 'u' ? 'x' : '%') : *p;
		if (*p == '%')
			p++;
	}
	sample[o] = '\0';
	if (used == 0 ||
	    ldap_str2dn(sample, &dn, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS) {
		cfg_err(ctx, s, "\"%.64s\" is not a DN with %%u for the user "
		    "name; write one such as \"uid=%%u,ou=people,"
		    "dc=example,dc=org\"", str);
		return;
	}
	ldap_dnfree(dn);
	h_string(ctx, s, r, base);
}

/* An attribute type: a name (RFC 4512 descr) or a numeric OID. */
static bool
cfg_ldap_attr_ok(const char *str)
{
	static const char	 descr[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-";

	if (isdigit((unsigned char)str[0]))
		return str[strspn(str, "0123456789.")] == '\0';
	return isalpha((unsigned char)str[0]) &&
	    str[strspn(str, descr)] == '\0';
}

static void
h_ldap_attr(struct cfg_ctx *ctx, const config_setting_t *s,
    const struct cfg_rule *r, void *base)
{
	const char	*str;

	if ((str = cfg_get_string(ctx, s, r)) == NULL)
		return;
	if (!cfg_ldap_attr_ok(str)) {
		cfg_err(ctx, s, "\"%.64s\" is not an attribute name; use "
		    "letters, digits and '-', such as \"memberOf\"", str);
		return;
	}
	h_string(ctx, s, r, base);
}

/* A file the daemon reads later; "" means none. */
static void
h_ldap_file(struct cfg_ctx *ctx, const config_setting_t *s,
    const struct cfg_rule *r, void *base)
{
	char	*path = (char *)base + r->off;

	h_path_or_empty(ctx, s, r, base);
	if (path[0] != '\0' && access(path, R_OK) == -1)
		cfg_err(ctx, s, "cannot read %s: %s; name a readable PEM file",
		    path, strerror(errno));
}

/* The service account's password: the file must be root's alone. */
static void
h_ldap_secret(struct cfg_ctx *ctx, const config_setting_t *s,
    const struct cfg_rule *r, void *base)
{
	char		*path = (char *)base + r->off;
	struct stat	 st;

	h_path(ctx, s, r, base);
	if (path[0] == '\0')
		return;
	if (stat(path, &st) == -1)
		cfg_err(ctx, s, "cannot use %s: %s; create it holding the bind "
		    "password, owned by root, mode 0600", path,
		    strerror(errno));
	else if (!S_ISREG(st.st_mode) || st.st_uid != 0 ||
	    (st.st_mode & 077) != 0)
		cfg_err(ctx, s, "%s must be a regular file owned by root and "
		    "closed to group and others (it is uid %u, mode %04o); "
		    "chown root and chmod 600 it", path, (unsigned)st.st_uid,
		    (unsigned)(st.st_mode & 07777));
	else if (st.st_size == 0 || st.st_size > SECRET_MAX)
		cfg_err(ctx, s, "%s holds %lld bytes; it must hold the bind "
		    "password alone (1 to %d bytes)", path,
		    (long long)st.st_size, SECRET_MAX);
}

static const struct cfg_rule ldap_tls_rules[] = {
	R_STR("ca_file", h_ldap_file, L(tls_ca_file)),
	R_BOOL_AT("verify", L(tls_verify)),
	R_STR("certificate", h_ldap_file, L(tls_certificate)),
	R_STR("key", h_ldap_file, L(tls_key)),
	R_END
};

static const struct cfg_rule ldap_bind_rules[] = {
	R_STR("mode", h_ldap_bind_mode, L(bind_mode)),
	R_STR("dn", h_ldap_dn, L(bind_dn)),
	R_STR("password_file", h_ldap_secret, L(bind_password_file)),
	R_STR("base", h_ldap_dn, L(user_base)),
	R_STR("scope", h_ldap_scope, L(user_scope)),
	R_STR("filter", h_ldap_user_filter, L(user_filter)),
	R_STR("dn_template", h_ldap_dn_template, L(dn_template)),
	R_STR("name_attribute", h_ldap_attr, L(name_attribute)),
	R_END
};

static const struct cfg_rule ldap_groups_rules[] = {
	R_STR("mode", h_ldap_group_mode, L(group_mode)),
	R_STR("attribute", h_ldap_attr, L(memberof_attribute)),
	R_STR("base", h_ldap_dn, L(group_base)),
	R_STR("scope", h_ldap_scope, L(group_scope)),
	R_STR("filter", h_ldap_group_filter, L(group_filter)),
	R_STR("name_attribute", h_ldap_attr, L(group_name_attribute)),
	R_END
};

/* A wait on the directory is bounded like every other: an hour at most. */
static const struct cfg_rule ldap_timeouts_rules[] = {
	R_SECS_AT("connect", L(timeout_connect_ms), 1, 3600),
	R_SECS_AT("operation", L(timeout_operation_ms), 1, 3600),
	R_END
};

const struct cfg_rule cfg_ldap_rules[] = {
	{ .name = "uris", .type = T_STRINGS, .handler = h_ldap_uris },
	R_BOOL_AT("starttls", L(starttls)),
	R_GROUP("tls", ldap_tls_rules),
	R_GROUP("bind", ldap_bind_rules),
	R_STR("account_filter", h_ldap_account_filter, L(account_filter)),
	R_GROUP("groups", ldap_groups_rules),
	R_GROUP("timeouts", ldap_timeouts_rules),
	R_SECS_AT("backoff", L(backoff_ms), 0, 86400),
	R_END
};

void
cfg_ldap_defaults(struct config_ldap *l)
{
	l->starttls = true;
	l->tls_verify = true;
	l->bind_mode = CONFIG_LDAP_BIND_SEARCH;
	l->user_scope = CONFIG_LDAP_SCOPE_SUB;
	(void)snprintf(l->user_filter, sizeof(l->user_filter), "(uid=%%u)");
	(void)snprintf(l->name_attribute, sizeof(l->name_attribute), "uid");
	l->group_mode = CONFIG_LDAP_GROUPS_MEMBEROF;
	(void)snprintf(l->memberof_attribute, sizeof(l->memberof_attribute),
	    "memberOf");
	l->group_scope = CONFIG_LDAP_SCOPE_SUB;
	(void)snprintf(l->group_filter, sizeof(l->group_filter), "%s",
	    "(|(&(objectClass=groupOfNames)(member=%d))"
	    "(&(objectClass=groupOfUniqueNames)(uniqueMember=%d))"
	    "(&(objectClass=posixGroup)(memberUid=%u)))");
	(void)snprintf(l->group_name_attribute,
	    sizeof(l->group_name_attribute), "cn");
	l->timeout_connect_ms = 3 * 1000;
	l->timeout_operation_ms = 5 * 1000;
	l->backoff_ms = 10 * 1000;
}

/* Line of path if set, else of its closest group that is. */
static unsigned
cfg_ldap_line(const config_t *lc, const char *path)
{
	const char *const	 up[] = { path, "auth.ldap", "auth" };
	const config_setting_t	*s;
	size_t			 i;

	for (i = 0; i < sizeof(up) / sizeof(up[0]); i++)
		if ((s = config_lookup(lc, up[i])) != NULL)
			return config_setting_source_line(s);
	return 0;
}

static void
cfg_ldap_need(struct cfg_ctx *ctx, const config_t *lc, const char *path,
    const char *value, const char *what)
{
	const config_setting_t	*s = config_lookup(lc, path);

	/* A setting that is present but bad has been reported already. */
	if (value[0] == '\0' && s == NULL)
		cfg_missing(ctx, lc, path, what);
}

static bool
cfg_ldap_loopback(const char *uri)
{
	LDAPURLDesc	*lud = NULL;
	unsigned char	 a[16];
	bool		 yes = false;

	if (ldap_url_parse(uri, &lud) != LDAP_URL_SUCCESS)
		return false;
	if (inet_pton(AF_INET, lud->lud_host, a) == 1)
		yes = a[0] == 127;
	else if (inet_pton(AF_INET6, lud->lud_host, a) == 1)
		yes = memcmp(a, &in6addr_loopback, 16) == 0;
	ldap_free_urldesc(lud);
	return yes;
}

/* Only with auth.backend = "ldap": what the chosen modes need. */
void
cfg_ldap_check(struct cfg_ctx *ctx, const config_t *lc)
{
	const struct config_ldap	*l = &ctx->cfg->ldap;
	unsigned			 i;

	cfg_ldap_need(ctx, lc, "auth.ldap.uris", l->n_uris > 0 ? "x" : "",
	    "list the directory servers, such as uris = "
	    "[ \"ldaps://ldap.example.org\" ]");
	if (l->bind_mode == CONFIG_LDAP_BIND_SEARCH) {
		cfg_ldap_need(ctx, lc, "auth.ldap.bind.dn", l->bind_dn,
		    "bind mode \"search\" needs the service account's DN");
		cfg_ldap_need(ctx, lc, "auth.ldap.bind.password_file",
		    l->bind_password_file, "bind mode \"search\" needs the "
		    "file holding the service account's password");
		cfg_ldap_need(ctx, lc, "auth.ldap.bind.base", l->user_base,
		    "bind mode \"search\" needs the DN users are searched "
		    "under");
	} else {
		cfg_ldap_need(ctx, lc, "auth.ldap.bind.dn_template",
		    l->dn_template, "bind mode \"template\" needs the user DN "
		    "template, such as \"uid=%u,ou=people,dc=example,dc=org\"");
		/* A service account is optional here, but whole. */
		if (l->bind_dn[0] != '\0')
			cfg_ldap_need(ctx, lc, "auth.ldap.bind.password_file",
			    l->bind_password_file, "a service account needs "
			    "its password file");
		if (l->bind_password_file[0] != '\0')
			cfg_ldap_need(ctx, lc, "auth.ldap.bind.dn", l->bind_dn,
			    "a password file needs the service account's DN");
	}
	if (l->group_mode == CONFIG_LDAP_GROUPS_SEARCH)
		cfg_ldap_need(ctx, lc, "auth.ldap.groups.base", l->group_base,
		    "group mode \"search\" needs the DN groups are searched "
		    "under");
	if ((l->tls_certificate[0] == '\0') != (l->tls_key[0] == '\0'))
		cfg_err_at(ctx, NULL, cfg_ldap_line(lc, "auth.ldap.tls"),
		    "auth.ldap.tls", "a client certificate needs its key and a "
		    "key its certificate; set both or neither");
	for (i = 0; !l->starttls && i < l->n_uris; i++) {
		if (strncmp(l->uris[i], "ldap://", 7) != 0 ||
		    cfg_ldap_loopback(l->uris[i]))
			continue;
		cfg_err_at(ctx, NULL, cfg_ldap_line(lc, "auth.ldap.starttls"),
		    "auth.ldap.starttls", "is false, so passwords would cross "
		    "the network to %s in clear; set it to true or use "
		    "ldaps://", l->uris[i]);
		break;
	}
	if ((unsigned long long)l->timeout_connect_ms +
	    l->timeout_operation_ms > ctx->cfg->timeout_auth_ms)
		cfg_err_at(ctx, NULL, cfg_ldap_line(lc, "auth.ldap.timeouts"),
		    "auth.ldap.timeouts", "connect plus operation (%u ms) is "
		    "more than timeouts.auth (%u ms), so one slow server "
		    "would use up every login's time; lower them or raise "
		    "timeouts.auth", l->timeout_connect_ms +
		    l->timeout_operation_ms, ctx->cfg->timeout_auth_ms);
}
