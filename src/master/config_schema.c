/*
 * The schema of tunnelgated.conf: one table per group naming each setting,
 * its type, its range and the handler that checks and stores it; the
 * defaults; and the settings a file must have.
 */
#include <arpa/inet.h>
#include <libconfig.h>
#include <math.h>
#include <openssl/tls1.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "config_priv.h"

/* The AEAD suites the relay's record layer implements. */
static const char *const tls13_allowed[] = {
	"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
	"TLS_CHACHA20_POLY1305_SHA256", NULL
};
static const char *const tls12_allowed[] = {
	"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
	"ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
	"ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305", NULL
};

void
h_group(struct cfg_ctx *ctx, const config_setting_t *s,
    const struct cfg_rule *r, void *base)
{
	cfg_walk(ctx, s, r->members, base);
}

/* A group whose members are fields of the struct at r->off. */
void
h_subgroup(struct cfg_ctx *ctx, const config_setting_t *s,
    const struct cfg_rule *r, void *base)
{
	cfg_walk(ctx, s, r->members, (char *)base + r->off);
}

static int
cfg_get_int(struct cfg_ctx *ctx, const config_setting_t *s,
    const struct cfg_rule *r, long long *v)
{
	*v = config_setting_get_int64(s);
	if (*v < r->min || *v > r->max) {
		cfg_err(ctx, s, "%lld is out of range; use a value from %lld "
		    "to %lld", *v, r->min, r->max);
		return -1;
	}
	return 0;
}

/*
 * Integer fields are uint16_t or a 32-bit unsigned or int; the range is
 * non-negative, and an int may be stored through its unsigned type.
 */
static void
h_int(struct cfg_ctx *ctx, const config_setting_t *s,
    const struct cfg_rule *r, void *base)
{
	long long	 v;

	if (cfg_get_int(ctx, s, r, &v) == -1)
		return;
	if (r->size == sizeof(uint16_t))
		*(uint16_t *)((char *)base + r->off) = (uint16_t)v;
	else
		*(unsigned *)((char *)base + r->off) = (unsigned)v;
}

/* r->min is 0 where zero is allowed (TTLs), else 1: "more than zero". */
void
h_seconds(struct cfg_ctx *ctx, const config_setting_t *s,
    const struct cfg_rule *r, void *base)
{
	double		 secs;
	unsigned	 ms;

	if (config_setting_type(s) == CONFIG_TYPE_FLOAT)
		secs = config_setting_get_float(s);
	else
		secs = (double)config_setting_get_int64(s);
	if (!isfinite(secs) || secs < 0 || (secs == 0 && r->min > 0) ||
	    secs * 1000.0 > (double)r->max) {
		cfg_err(ctx, s, "%g seconds is out of range; use a duration "
		    "%s %lld seconds", secs, r->min > 0 ?
		    "more than 0 and at most" : "from 0 to", r->max / 1000);
		return;
	}
	ms = (unsigned)(secs * 1000.0 + 0.5);
	if (ms == 0 && secs > 0)
		ms = 1;
	*(unsigned *)((char *)base + r->off) = ms;
}

void
h_bool(struct cfg_ctx *ctx, const config_setting_t *s,
    const struct cfg_rule *r, void *base)
{
	(void)ctx;
	*(bool *)((char *)base + r->off) = config_setting_get_bool(s) != 0;
}

/* The string, if it fits the field of r; NULL after logging otherwise. */
const char *
cfg_get_string(struct cfg_ctx *ctx, const config_setting_t *s,
    const struct cfg_rule *r)
{
	const char	*str = config_setting_get_string(s);
	size_t		 len = strlen(str);

	if (len >= r->size) {
		cfg_err(ctx, s, "is %zu bytes long; the limit is %zu bytes, "
		    "shorten it", len, r->size - 1);
		return NULL;
	}
	return str;
}

void
h_string(struct cfg_ctx *ctx, const config_setting_t *s,
    const struct cfg_rule *r, void *base)
{
	const char	*str;

	if ((str = cfg_get_string(ctx, s, r)) != NULL)
		memcpy((char *)base + r->off, str, strlen(str) + 1);
}

void
h_path(struct cfg_ctx *ctx, const config_setting_t *s,
    const struct cfg_rule *r, void *base)
{
	const char	*str = config_setting_get_string(s);

	if (str[0] == '\0') {
		cfg_err(ctx, s, "is empty; set a file or directory name");
		return;
	}
	if (cfg_resolve(ctx, str, (char *)base + r->off, r->size) == -1)
		cfg_err(ctx, s, "resolves to a path longer than %zu bytes; "
		    "use a shorter path", r->size - 1);
}

void
h_path_or_empty(struct cfg_ctx *ctx, const config_setting_t *s,
    const struct cfg_rule *r, void *base)
{
	if (config_setting_get_string(s)[0] == '\0')
		*((char *)base + r->off) = '\0';
	else
		h_path(ctx, s, r, base);
}

static int
cfg_inet_pton(const char *address, int *af, unsigned char *bin)
{
	*af = AF_INET;
	if (inet_pton(AF_INET, address, bin) == 1)
		return 0;
	*af = AF_INET6;
	if (inet_pton(AF_INET6, address, bin) == 1)
		return 0;
	return -1;
}

static void
h_address(struct cfg_ctx *ctx, const config_setting_t *s,
    const struct cfg_rule *r, void *base)
{
	unsigned char	 bin[16];
	const char	*str;
	int		 af;

	if ((str = cfg_get_string(ctx, s, r)) == NULL)
		return;
	if (cfg_inet_pton(str, &af, bin) == -1) {
		cfg_err(ctx, s, "\"%.64s\" is not a numeric IPv4 or IPv6 "
		    "address; use one such as 127.0.0.1, 0.0.0.0 or ::1 (names "
		    "are not resolved)", str);
		return;
	}
	h_string(ctx, s, r, base);
}

/* Element idx of listen has been stored; refuse a second bind of its port. */
static void
cfg_listener_unique(struct cfg_ctx *ctx, const config_setting_t *s,
    unsigned idx)
{
	const struct config_listener	*l = ctx->cfg->listeners, *me = &l[idx];
	unsigned char			 a[16], b[16];
	int				 afa, afb;
	unsigned			 i;

	if (cfg_inet_pton(me->address, &afa, a) == -1)
		return;
	for (i = 0; i < idx; i++) {
		if (l[i].port != me->port ||
		    cfg_inet_pton(l[i].address, &afb, b) == -1 || afa != afb ||
		    memcmp(a, b, afa == AF_INET ? 4 : 16) != 0)
			continue;
		cfg_err(ctx, s, "%s port %u is already used by listen[%u]; "
		    "remove one of them", me->address, me->port, i);
		return;
	}
}

static void
h_listen(struct cfg_ctx *ctx, const config_setting_t *s,
    const struct cfg_rule *r, void *base)
{
	struct config			*cfg = base;
	struct config_listener		*l;
	const config_setting_t		*e;
	unsigned			 i;
	int				 errors;

	for (i = 0; (e = config_setting_get_elem(s, i)) != NULL; i++) {
		if (config_setting_type(e) != CONFIG_TYPE_GROUP) {
			cfg_err(ctx, e, "expected a group { address = \"...\"; "
			    "port = ...; }; fix this element");
			continue;
		}
		if (cfg->n_listeners == TG_MAX_LISTENERS) {
			cfg_err(ctx, e, "too many listeners; at most %d are "
			    "supported, remove some", TG_MAX_LISTENERS);
			return;
		}
		l = &cfg->listeners[cfg->n_listeners];
		(void)snprintf(l->address, sizeof(l->address), "127.0.0.1");
		l->port = 8443;
		l->backlog = 511;
		errors = ctx->errors;
		cfg_walk(ctx, e, r->members, l);
		if (ctx->errors == errors)
			cfg_listener_unique(ctx, e, cfg->n_listeners);
		cfg->n_listeners++;
	}
}

static void
h_tls_version(struct cfg_ctx *ctx, const config_setting_t *s,
    const struct cfg_rule *r, void *base)
{
	const char	*str = config_setting_get_string(s);
	int		*v = (int *)((char *)base + r->off);

	if (strcmp(str, "1.2") == 0)
		*v = TLS1_2_VERSION;
	else if (strcmp(str, "1.3") == 0)
		*v = TLS1_3_VERSION;
	else
		cfg_err(ctx, s, "\"%.16s\" is not supported; use \"1.2\" or "
		    "\"1.3\"", str);
}

static bool
cfg_allowed(const char *const *allowed, const char *name, size_t len)
{
	for (; *allowed != NULL; allowed++)
		if (strlen(*allowed) == len && memcmp(*allowed, name, len) == 0)
			return true;
	return false;
}

static void
h_ciphers(struct cfg_ctx *ctx, const config_setting_t *s,
    const struct cfg_rule *r, void *base)
{
	const char	*str, *p, *end;
	char		 list[512];
	size_t		 len;
	int		 errors = ctx->errors;

	if ((str = cfg_get_string(ctx, s, r)) == NULL)
		return;
	cfg_join(list, sizeof(list), r->allowed, ":");
	if (str[0] == '\0') {
		cfg_err(ctx, s, "is empty; list one or more of %s", list);
		return;
	}
	for (p = str; ; p = end + 1) {
		if ((end = strchr(p, ':')) == NULL)
			end = p + strlen(p);
		len = (size_t)(end - p);
		if (len == 0)
			cfg_err(ctx, s, "has an empty entry; remove the extra "
			    "':'");
		else if (!cfg_allowed(r->allowed, p, len))
			cfg_err(ctx, s, "\"%.*s\" is not allowed (only the AEAD "
			    "suites the relay implements are); use one or more "
			    "of %s", len > 64 ? 64 : (int)len, p, list);
		if (*end == '\0')
			break;
	}
	if (ctx->errors == errors)
		h_string(ctx, s, r, base);
}

/* Which users may be used is the system's to say; see privsep.c. */
static void
h_user(struct cfg_ctx *ctx, const config_setting_t *s,
    const struct cfg_rule *r, void *base)
{
	struct config_user	*u = (struct config_user *)((char *)base + r->off);
	const char		*str;
	size_t			 len;

	if ((str = cfg_get_string(ctx, s, r)) == NULL)
		return;
	if (str[0] == '\0') {
		cfg_err(ctx, s, "is empty; name the unprivileged user this role "
		    "runs as");
		return;
	}
	memcpy(u->name, str, strlen(str) + 1);
	u->is_default = false;
	cfg_where(ctx, config_setting_source_file(s),
	    config_setting_source_line(s), u->where, sizeof(u->where));
	len = strlen(u->where);
	(void)snprintf(u->where + len, sizeof(u->where) - len, ": privsep.%s",
	    r->name);
}

/* privsep.user named one user for both roles; each now has its own. */
static void
h_user_replaced(struct cfg_ctx *ctx, const config_setting_t *s,
    const struct cfg_rule *r, void *base)
{
	(void)r;
	(void)base;
	cfg_err(ctx, s, "is replaced by privsep.gate_user and "
	    "privsep.relay_user, two users of their own (default \"%s\" and "
	    "\"%s\"); rename the setting", TG_DEFAULT_GATE_USER,
	    TG_DEFAULT_RELAY_USER);
}

static void
cfg_default_user(struct cfg_ctx *ctx, struct config_user *u, const char *name,
    const char *setting)
{
	(void)snprintf(u->name, sizeof(u->name), "%s", name);
	(void)snprintf(u->where, sizeof(u->where), "%s: privsep.%s", ctx->file,
	    setting);
	u->is_default = true;
}

static void
h_backend(struct cfg_ctx *ctx, const config_setting_t *s,
    const struct cfg_rule *r, void *base)
{
	const char	*str = config_setting_get_string(s);

	if (strcmp(str, "pam") == 0)
		*(enum auth_backend *)((char *)base + r->off) =
		    AUTH_BACKEND_PAM;
	else if (strcmp(str, "ldap") == 0)
		*(enum auth_backend *)((char *)base + r->off) =
		    AUTH_BACKEND_LDAP;
	else
		cfg_err(ctx, s, "\"%.32s\" is not a backend; use \"pam\" or "
		    "\"ldap\"", str);
}

/* It is quoted in Proxy-Authenticate: realm="...". */
static void
h_realm(struct cfg_ctx *ctx, const config_setting_t *s,
    const struct cfg_rule *r, void *base)
{
	const char	*str, *p;

	if ((str = cfg_get_string(ctx, s, r)) == NULL)
		return;
	if (str[0] == '\0') {
		cfg_err(ctx, s, "is empty; name the realm clients are shown");
		return;
	}
	for (p = str; *p != '\0'; p++)
		if (*p < 0x20 || *p > 0x7e || *p == '"' || *p == '\\') {
			cfg_err(ctx, s, "has a character that is not allowed "
			    "at offset %zu; use printable ASCII without '\"' "
			    "and '\\'", (size_t)(p - str));
			return;
		}
	h_string(ctx, s, r, base);
}

/* It names a file in pam.confdir, so it must not walk the tree. */
static void
h_pam_service(struct cfg_ctx *ctx, const config_setting_t *s,
    const struct cfg_rule *r, void *base)
{
	const char	*str;

	if ((str = cfg_get_string(ctx, s, r)) == NULL)
		return;
	if (str[0] == '\0' || strcmp(str, ".") == 0 || strcmp(str, "..") == 0 ||
	    str[strspn(str, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789._-")] != '\0') {
		cfg_err(ctx, s, "\"%.64s\" is not a service name; use letters, "
		    "digits, '.', '_' and '-' only", str);
		return;
	}
	h_string(ctx, s, r, base);
}

static void
h_log_level(struct cfg_ctx *ctx, const config_setting_t *s,
    const struct cfg_rule *r, void *base)
{
	const char	*str = config_setting_get_string(s);

	if (log_level_parse(str, (enum log_level *)((char *)base + r->off)) ==
	    -1)
		cfg_err(ctx, s, "\"%.32s\" is not a level; use \"error\", "
		    "\"warning\", \"info\" or \"debug\"", str);
}

static const struct cfg_rule listener_rules[] = {
	R_STR("address", h_address, F(config_listener, address)),
	R_INT("port", F(config_listener, port), 1, 65535),
	R_INT("backlog", F(config_listener, backlog), 1, 65535),
	R_END
};

static const struct cfg_rule tls_rules[] = {
	R_STR("certificate", h_path, C(tls_certificate)),
	R_STR("key", h_path, C(tls_key)),
	R_STR("min_version", h_tls_version, C(tls_min_version)),
	{ .name = "tls13_ciphersuites", .type = T_STRING, .handler = h_ciphers,
	  C(tls13_ciphersuites), .allowed = tls13_allowed },
	{ .name = "tls12_ciphers", .type = T_STRING, .handler = h_ciphers,
	  C(tls12_ciphers), .allowed = tls12_allowed },
	R_END
};

static const struct cfg_rule workers_rules[] = {
	R_INT("gate", C(gate_workers), 1, TG_MAX_GATE_WORKERS),
	R_INT("authenticator", C(auth_workers), 1, TG_MAX_AUTH_WORKERS),
	R_INT("relay", C(relay_workers), 0, TG_MAX_RELAY_WORKERS),
	R_END
};

/* The row's size is the name's, so that cfg_get_string() checks it. */
#define R_USER(n, f)	{ .name = n, .type = T_STRING, .handler = h_user, \
			  .off = offsetof(struct config, f), \
			  .size = sizeof(((struct config *)0)->f.name) }

static const struct cfg_rule privsep_rules[] = {
	R_USER("gate_user", gate_user),
	R_USER("relay_user", relay_user),
	{ .name = "user", .type = T_STRING, .handler = h_user_replaced },
	R_STR("chroot", h_path, C(chroot_dir)),
	R_END
};

static const struct cfg_rule pam_rules[] = {
	R_STR("service", h_pam_service, C(pam_service)),
	R_STR("confdir", h_path_or_empty, C(pam_confdir)),
	R_INT("min_uid", C(pam_min_uid), 0, INT32_MAX),
	R_END
};

static const struct cfg_rule auth_rules[] = {
	R_STR("backend", h_backend, C(auth_backend)),
	R_STR("realm", h_realm, C(auth_realm)),
	R_SECS("failure_delay", auth_failure_delay_ms, 0,
	    TG_MAX_FAILURE_DELAY_SECS),
	R_GROUP("pam", pam_rules),
	{ .name = "ldap", .type = T_GROUP, .handler = h_subgroup, C(ldap),
	  .members = cfg_ldap_rules },
	R_END
};

/* A TTL of 0 turns that half of the cache off. */
static const struct cfg_rule cache_rules[] = {
	R_SECS("positive_ttl", cache_positive_ttl_ms, 0, 86400),
	R_SECS("negative_ttl", cache_negative_ttl_ms, 0, 86400),
	R_INT("max_entries", C(cache_max_entries), 0, 1048576),
	R_END
};

/*
 * A wait on one peer is capped at an hour: longer only lets a client pin a
 * slot. idle may span a long week-end. All fit in unsigned milliseconds.
 */
static const struct cfg_rule timeouts_rules[] = {
	R_SECS("handshake", timeout_handshake_ms, 1, 3600),
	R_SECS("request", timeout_request_ms, 1, 3600),
	R_SECS("auth", timeout_auth_ms, 1, 3600),
	R_SECS("dns", timeout_dns_ms, 1, 3600),
	R_SECS("connect", timeout_connect_ms, 1, 3600),
	R_SECS("idle", timeout_idle_ms, 1, 7 * 86400),
	R_SECS("drain", timeout_drain_ms, 1, 86400),
	R_END
};

static const struct cfg_rule limits_rules[] = {
	R_INT("connections", C(limit_connections), 1, TG_MAX_CONNECTIONS),
	R_INT("header_bytes", C(limit_header_bytes), 1024, 65536),
	R_INT("buffer_bytes", C(limit_buffer_bytes), TG_MIN_BUFFER_BYTES,
	    TG_MAX_BUFFER_BYTES),
	R_INT("pending_auth", C(limit_pending_auth), 1, 100000),
	R_END
};

static const struct cfg_rule audit_rules[] = {
	R_STR("file", h_path, C(audit_file)),
	R_BOOL("syslog", audit_syslog),
	R_END
};

static const struct cfg_rule log_rules[] = {
	R_BOOL("syslog", log_syslog),
	R_STR("level", h_log_level, C(log_level)),
	R_END
};

const struct cfg_rule cfg_top_rules[] = {
	{ .name = "listen", .type = T_LIST, .handler = h_listen,
	  .members = listener_rules },
	R_GROUP("tls", tls_rules),
	R_GROUP("workers", workers_rules),
	R_GROUP("privsep", privsep_rules),
	R_GROUP("auth", auth_rules),
	R_GROUP("cache", cache_rules),
	R_GROUP("timeouts", timeouts_rules),
	R_GROUP("limits", limits_rules),
	R_GROUP("audit", audit_rules),
	R_GROUP("log", log_rules),
	R_STR("policy", h_path, C(policy_file)),
	R_END
};

void
cfg_defaults(struct cfg_ctx *ctx)
{
	struct config	*cfg = ctx->cfg;

	cfg->tls_min_version = TLS1_2_VERSION;
	cfg_join(cfg->tls13_ciphersuites, sizeof(cfg->tls13_ciphersuites),
	    tls13_allowed, ":");
	cfg_join(cfg->tls12_ciphers, sizeof(cfg->tls12_ciphers),
	    tls12_allowed, ":");
	cfg->gate_workers = 2;
	cfg->auth_workers = 4;
	cfg->relay_workers = 2;
	cfg_default_user(ctx, &cfg->gate_user, TG_DEFAULT_GATE_USER, "gate_user");
	cfg_default_user(ctx, &cfg->relay_user, TG_DEFAULT_RELAY_USER,
	    "relay_user");
	(void)snprintf(cfg->chroot_dir, sizeof(cfg->chroot_dir), "/var/empty");
	cfg->auth_backend = AUTH_BACKEND_PAM;
	(void)snprintf(cfg->auth_realm, sizeof(cfg->auth_realm), "tunnelgate");
	(void)snprintf(cfg->pam_service, sizeof(cfg->pam_service),
	    "tunnelgate");
	cfg->auth_failure_delay_ms = TG_DEFAULT_FAILURE_DELAY_MS;
	/* Debian's UID_MIN (login.defs): below it are system accounts. */
	cfg->pam_min_uid = 1000;
	cfg->cache_positive_ttl_ms = 300 * 1000;
	cfg->cache_negative_ttl_ms = 30 * 1000;
	cfg->cache_max_entries = 10000;
	cfg->timeout_handshake_ms = 10 * 1000;
	cfg->timeout_request_ms = 10 * 1000;
	cfg->timeout_auth_ms = 15 * 1000;
	cfg->timeout_dns_ms = 5 * 1000;
	cfg->timeout_connect_ms = 10 * 1000;
	cfg->timeout_idle_ms = 3600 * 1000;
	cfg->timeout_drain_ms = 30 * 1000;
	cfg->limit_connections = TG_DEFAULT_CONNECTIONS;
	cfg->limit_header_bytes = 8192;
	cfg->limit_buffer_bytes = 65536;
	cfg->limit_pending_auth = 256;
	cfg->log_level = LOG_LVL_INFO;
	cfg_ldap_defaults(&cfg->ldap);
	if (cfg_resolve(ctx, "audit.log", cfg->audit_file,
	    sizeof(cfg->audit_file)) == -1)
		cfg_err_at(ctx, NULL, 0, "audit.file", "the default path is "
		    "too long; set an absolute path");
	if (cfg_resolve(ctx, "policy.conf", cfg->policy_file,
	    sizeof(cfg->policy_file)) == -1)
		cfg_err_at(ctx, NULL, 0, "policy", "the default path is too "
		    "long; set an absolute path");
}

static void
cfg_require(struct cfg_ctx *ctx, const config_t *lc, const char *path,
    const char *group, const char *what)
{
	const config_setting_t	*g;

	if (config_lookup(lc, path) != NULL)
		return;
	g = group != NULL ? config_lookup(lc, group) : NULL;
	cfg_err_at(ctx, NULL, g != NULL ? config_setting_source_line(g) : 0,
	    path, "required setting is missing; %s", what);
}

void
cfg_check(struct cfg_ctx *ctx, const config_t *lc)
{
	const config_setting_t	*s;

	cfg_require(ctx, lc, "tls.certificate", "tls",
	    "set it to the PEM certificate chain file, leaf first");
	cfg_require(ctx, lc, "tls.key", "tls",
	    "set it to the PEM private key file of the certificate");
	s = config_lookup(lc, "listen");
	if (ctx->cfg->n_listeners == 0 &&
	    (s == NULL || config_setting_type(s) == CONFIG_TYPE_LIST))
		cfg_err_at(ctx, NULL, s != NULL ?
		    config_setting_source_line(s) : 0, "listen", "at least one "
		    "listener is required; add listen = ( { address = "
		    "\"127.0.0.1\"; port = 8443; } );");
	if (ctx->cfg->auth_backend == AUTH_BACKEND_LDAP)
		cfg_ldap_check(ctx, lc);
}
