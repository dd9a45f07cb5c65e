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
#include "proxy_proto.h"

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

static void
h_proxy_protocol(struct cfg_ctx *ctx, const config_setting_t *s,
    const struct cfg_rule *r, void *base)
{
	static const struct {
		const char	*name;
		unsigned	 versions;
	} modes[] = {
		{ "none", 0 }, { "v1", PROXY_V1 }, { "v2", PROXY_V2 },
		{ "any", PROXY_ANY },
	};
	const char	*str = config_setting_get_string(s);

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (strcmp(str, modes[i].name) == 0) {
			*(unsigned *)((char *)base + r->off) = modes[i].versions;
			return;
		}
	cfg_err(ctx, s, "\"%.16s\" is not a mode; use \"none\", \"v1\", "
	    "\"v2\" or \"any\"", str);
}

static void
h_proxy_trusted(struct cfg_ctx *ctx, const config_setting_t *s,
    const struct cfg_rule *r, void *base)
{
	struct config_listener	*l = base;
	const config_setting_t	*e;
	unsigned		 i;

	(void)r;
	l->n_proxy_trusted = 0;
	for (i = 0; (e = config_setting_get_elem(s, i)) != NULL; i++) {
		if (i == TG_MAX_PROXY_TRUSTED) {
			cfg_err(ctx, e, "too many networks; at most %d are "
			    "supported, use wider prefixes",
			        TG_MAX_PROXY_TRUSTED);
			return;
		}
		if (config_setting_type(e) != CONFIG_TYPE_STRING ||
		    netaddr_net_parse(config_setting_get_string(e),
		    &l->proxy_trusted[l->n_proxy_trusted]) == -1) {
			cfg_err(ctx, e, "is not a numeric address or network; "
			    "write one such as \"10.0.0.5\", \"10.0.0.0/24\" or "
			    "\"2001:db8::/64\" (names are not resolved)");
			continue;
		}
		l->n_proxy_trusted++;
	}
}

/* A PROXY header is believed only from the networks listed with it. */
static void
cfg_listener_proxy(struct cfg_ctx *ctx, const config_setting_t *s,
    const struct config_listener *l)
{
	if (l->proxy_protocol != 0 && l->n_proxy_trusted == 0)
		cfg_err(ctx, s, "proxy_protocol is set but proxy_trusted lists "
		    "no network; list the load balancers' addresses, e.g. "
		    "proxy_trusted = [\"10.0.0.5\"]");
	else if (l->proxy_protocol == 0 && l->n_proxy_trusted > 0)
		cfg_err(ctx, s, "proxy_trusted is set but proxy_protocol is "
		    "\"none\"; set proxy_protocol = \"v2\" (or \"v1\", "
		    "\"any\") or remove proxy_trusted");
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
		l->client_verify_depth = TG_DEFAULT_CLIENT_VERIFY_DEPTH;
		errors = ctx->errors;
		cfg_walk(ctx, e, r->members, l);
		if (ctx->errors == errors)
			cfg_listener_unique(ctx, e, cfg->n_listeners);
		if (ctx->errors == errors)
			cfg_listener_proxy(ctx, e, l);
		if (ctx->errors == errors)
			cfg_listener_client_cert(ctx, e, l);
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
	cfg_err(ctx, s, "is replaced by privsep.gate_user, "
	    "privsep.relay_user and privsep.key_user, three users of their own "
	    "(default \"%s\", \"%s\" and \"%s\"); rename the setting",
	    TG_DEFAULT_GATE_USER, TG_DEFAULT_RELAY_USER, TG_DEFAULT_KEY_USER);
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
	R_STR("proxy_protocol", h_proxy_protocol,
	    F(config_listener, proxy_protocol)),
	{ .name = "proxy_trusted", .type = T_STRINGS,
	  .handler = h_proxy_trusted },
	R_STR("client_auth", h_client_auth, F(config_listener, client_auth)),
	R_STR("client_ca_file", h_path_or_empty,
	    F(config_listener, client_ca_file)),
	R_STR("client_crl_file", h_path_or_empty,
	    F(config_listener, client_crl_file)),
	R_INT("client_verify_depth", F(config_listener, client_verify_depth),
	    0, TG_MAX_CLIENT_VERIFY_DEPTH),
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
	R_SECS("ticket_key_lifetime", tls_ticket_key_lifetime_ms, 0,
	    TG_MAX_TICKET_KEY_LIFETIME_SECS),
	R_END
};

static const struct cfg_rule workers_rules[] = {
	R_INT("gate", C(gate_workers), 1, TG_MAX_GATE_WORKERS),
	R_INT("authenticator", C(auth_workers), 1, TG_MAX_AUTH_WORKERS),
	R_INT("relay", C(relay_workers), 0, TG_MAX_RELAY_WORKERS),
	R_SECS("restart_delay", restart_delay_ms, TG_RESTART_DELAY_MIN_MS,
	    TG_MAX_RESTART_DELAY_SECS),
	R_END
};

/* The row's size is the name's, so that cfg_get_string() checks it. */
#define R_USER(n, f)	{ .name = n, .type = T_STRING, .handler = h_user, \
			  .off = offsetof(struct config, f), \
			  .size = sizeof(((struct config *)0)->f.name) }

static const struct cfg_rule privsep_rules[] = {
	R_USER("gate_user", gate_user),
	R_USER("relay_user", relay_user),
	R_USER("key_user", key_user),
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
	R_STR("identity", h_identity, C(auth_identity)),
	R_STR("certificate_name", h_cert_name, C(auth_cert_name)),
	R_STR("certificate_uri_prefix", h_string, C(auth_cert_uri_prefix)),
	R_SECS("recheck_interval", auth_recheck_interval_ms, 0,
	    TG_MAX_RECHECK_SECS),
	R_GROUP("pam", pam_rules),
	{ .name = "ldap", .type = T_GROUP, .handler = h_subgroup, C(ldap),
	  .members = cfg_ldap_rules },
	R_END
};

/* A TTL of 0 turns that half of the cache off. */
static const struct cfg_rule cache_rules[] = {
	R_SECS("positive_ttl", cache_positive_ttl_ms, 0, 86400),
	R_SECS("negative_ttl", cache_negative_ttl_ms, 0, 86400),
	R_INT("max_entries", C(cache_max_entries), 0, TG_MAX_CACHE_ENTRIES),
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
	R_SECS("hang", timeout_hang_ms, 1, 3600),
	R_END
};

static const struct cfg_rule limits_rules[] = {
	R_INT("connections", C(limit_connections), 1, TG_MAX_CONNECTIONS),
	R_INT("header_bytes", C(limit_header_bytes), 1024, 65536),
	R_INT("buffer_bytes", C(limit_buffer_bytes), TG_MIN_BUFFER_BYTES,
	    TG_MAX_BUFFER_BYTES),
	R_INT("pending_auth", C(limit_pending_auth), 1, 100000),
	R_INT("total_connections", C(limit_total_connections), 0,
	    TG_MAX_CONNECTIONS),
	R_INT("source_connections", C(limit_source_connections), 0,
	    TG_MAX_SOURCE_CONNECTIONS),
	R_INT("source_rate", C(limit_source_rate), 0, TG_MAX_SOURCE_RATE),
	R_INT("ipv6_prefix", C(limit_ipv6_prefix), 16, 128),
	R_INT("user_rate", C(limit_user_rate), 0, TG_MAX_USER_RATE),
	R_SECS("max_tunnel_lifetime", limit_tunnel_lifetime_ms, 0,
	    TG_MAX_TUNNEL_LIFETIME_SECS),
	R_INT("user_tunnels", C(limit_user_tunnels), 0, TG_MAX_USER_TUNNELS),
	R_END
};

/* A lockout is bounded: a day at most, so no account is shut out for good. */
static const struct cfg_rule throttle_rules[] = {
	R_INT("source_failures", C(throttle_source_failures), 0, 100000),
	R_INT("user_failures", C(throttle_user_failures), 0, 100000),
	R_SECS("window", throttle_window_ms, 1, 86400),
	R_SECS("lockout", throttle_lockout_ms, 1, 86400),
	R_SECS("lockout_max", throttle_lockout_max_ms, 1, 86400),
	R_END
};

static const struct cfg_rule audit_rules[] = {
	R_STR("file", h_path, C(audit_file)),
	R_BOOL("syslog", audit_syslog),
	R_SECS("progress_interval", audit_progress_interval_ms, 0,
	    TG_MAX_AUDIT_PROGRESS_SECS),
	R_END
};

static const struct cfg_rule control_rules[] = {
	R_STR("socket", h_path, C(control_socket)),
	R_END
};

static const struct cfg_rule metrics_rules[] = {
	R_STR("listen", h_metrics_listen, C(metrics_listen)),
	R_END
};

static const struct cfg_rule log_rules[] = {
	R_BOOL("syslog", log_syslog),
	R_STR("level", h_log_level, C(log_level)),
	R_END
};

static const struct cfg_rule policy_rules[] = {
	R_STR("file", h_path, C(policy_file)),
	R_BOOL("recheck_live", policy_recheck_live),
	R_END
};

/* policy = "FILE"; or policy = { file = "FILE"; recheck_live = ...; }; */
static void
h_policy(struct cfg_ctx *ctx, const config_setting_t *s,
    const struct cfg_rule *r, void *base)
{
	if (config_setting_type(s) == CONFIG_TYPE_GROUP)
		cfg_walk(ctx, s, policy_rules, base);
	else
		h_path(ctx, s, &policy_rules[0], base);
	(void)r;
}

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
	R_GROUP("throttle", throttle_rules),
	R_GROUP("audit", audit_rules),
	R_GROUP("control", control_rules),
	R_GROUP("metrics", metrics_rules),
	R_GROUP("log", log_rules),
	{ .name = "policy", .type = T_STRING_OR_GROUP, .handler = h_policy },
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
	cfg->tls_ticket_key_lifetime_ms = 3600 * 1000;
	cfg->audit_progress_interval_ms = TG_AUDIT_PROGRESS_DEFAULT_SECS * 1000;
	cfg->gate_workers = 2;
	cfg->auth_workers = 4;
	cfg->relay_workers = 2;
	cfg->restart_delay_ms = TG_RESTART_DELAY_DEFAULT_MS;
	cfg_default_user(ctx, &cfg->gate_user, TG_DEFAULT_GATE_USER,
	    "gate_user");
	cfg_default_user(ctx, &cfg->relay_user, TG_DEFAULT_RELAY_USER,
	    "relay_user");
	cfg_default_user(ctx, &cfg->key_user, TG_DEFAULT_KEY_USER,
	    "key_user");
	(void)snprintf(cfg->chroot_dir, sizeof(cfg->chroot_dir), "/var/empty");
	cfg->auth_backend = AUTH_BACKEND_PAM;
	(void)snprintf(cfg->auth_realm, sizeof(cfg->auth_realm), "tunnelgate");
	(void)snprintf(cfg->pam_service, sizeof(cfg->pam_service),
	    "tunnelgate");
	cfg->auth_failure_delay_ms = TG_DEFAULT_FAILURE_DELAY_MS;
	/* Debian's UID_MIN (login.defs): below it are system accounts. */
	cfg->pam_min_uid = 1000;
	cfg->auth_recheck_interval_ms = TG_RECHECK_DEFAULT_SECS * 1000;
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
	cfg->timeout_hang_ms = 30 * 1000;
	cfg->limit_connections = TG_DEFAULT_CONNECTIONS;
	cfg->limit_header_bytes = 8192;
	cfg->limit_buffer_bytes = 65536;
	cfg->limit_pending_auth = 256;
	cfg->limit_total_connections = 4 * TG_DEFAULT_CONNECTIONS;
	cfg->limit_source_connections = 512;
	cfg->limit_source_rate = 3000;
	cfg->limit_ipv6_prefix = 64;
	cfg->limit_user_rate = 600;
	cfg->limit_user_tunnels = TG_DEFAULT_USER_TUNNELS;
	cfg->throttle_source_failures = 20;
	cfg->throttle_user_failures = 5;
	cfg->throttle_window_ms = 600 * 1000;
	cfg->throttle_lockout_ms = 60 * 1000;
	cfg->throttle_lockout_max_ms = 900 * 1000;
	cfg->log_level = LOG_LVL_INFO;
	cfg->policy_recheck_live = true;
	cfg_ldap_defaults(&cfg->ldap);
	if (cfg_resolve(ctx, "audit.log", cfg->audit_file,
	    sizeof(cfg->audit_file)) == -1)
		cfg_err_at(ctx, NULL, 0, "audit.file", "the default path is "
		    "too long; set an absolute path");
	(void)snprintf(cfg->control_socket, sizeof(cfg->control_socket),
	    "%s", TG_DEFAULT_CONTROL_SOCKET);
	if (cfg_resolve(ctx, "policy.conf", cfg->policy_file,
	    sizeof(cfg->policy_file)) == -1)
		cfg_err_at(ctx, NULL, 0, "policy", "the default path is too "
		    "long; set an absolute path");
}

/*
 * A required setting is absent: reported at the line of the closest group
 * that is there, which the message names (the admin would read that line
 * in vain otherwise), with what to add inside it.
 */
void
cfg_missing(struct cfg_ctx *ctx, const config_t *lc, const char *path,
    const char *what)
{
	const config_setting_t	*g = NULL;
	char			 group[256], add[512];
	const char		*rel = path, *c;
	size_t			 len, o = 0, depth = 0;

	snprintf(group, sizeof(group), "%s", path);
	while ((c = strrchr(group, '.')) != NULL) {
		group[c - group] = '\0';
		if ((g = config_lookup(lc, group)) != NULL)
			break;
	}
	if (g != NULL)
		rel = path + strlen(group) + 1;
	/* "bind.dn" inside auth.ldap is written bind = { dn = ...; } */
	for (c = rel; (len = strcspn(c, ".")) != strlen(c) &&
	    o < sizeof(add); c += len + 1, depth++)
		o += (size_t)snprintf(add + o, sizeof(add) - o, "%.*s = { ",
		    (int)len, c);
	if (o < sizeof(add))
		o += (size_t)snprintf(add + o, sizeof(add) - o, "%s = ...;", c);
	while (depth-- > 0 && o < sizeof(add))
		o += (size_t)snprintf(add + o, sizeof(add) - o, " }");
	if (g != NULL)
		cfg_err_at(ctx, NULL, config_setting_source_line(g), path,
		    "required, and missing from the %s group that starts on "
		    "this line; add %s inside it: %s", group, add, what);
	else
		cfg_err_at(ctx, NULL, 0, path, "required, and missing; add "
		    "%s: %s", add, what);
}

static void
cfg_require(struct cfg_ctx *ctx, const config_t *lc, const char *path,
    const char *what)
{
	if (config_lookup(lc, path) == NULL)
		cfg_missing(ctx, lc, path, what);
}

/*
 * A re-check looks the account up without its password, which an LDAP
 * directory answers only to the service account: without one the default
 * turns re-checks off, and asking for them is an error.
 */
static void
cfg_check_recheck(struct cfg_ctx *ctx, const config_t *lc)
{
	const config_setting_t	*s = config_lookup(lc, "auth.recheck_interval");
	struct config		*cfg = ctx->cfg;
	unsigned		 line = s != NULL ? config_setting_source_line(s) : 0;

	if (cfg->auth_recheck_interval_ms > 0 &&
	    cfg->auth_recheck_interval_ms < TG_MIN_RECHECK_MS)
		cfg_err_at(ctx, NULL, line, "auth.recheck_interval", "is under "
		    "%d ms; use 0 (off) or at least 1 second",
		    TG_MIN_RECHECK_MS);
	if (cfg->auth_backend != AUTH_BACKEND_LDAP ||
	    cfg->ldap.bind_dn[0] != '\0' || cfg->auth_recheck_interval_ms == 0)
		return;
	if (s == NULL)
		cfg->auth_recheck_interval_ms = 0;
	else
		cfg_err_at(ctx, NULL, line, "auth.recheck_interval", "needs "
		    "auth.ldap.bind.dn: accounts are looked up without their "
		    "password; set bind.dn and bind.password_file, or set "
		    "recheck_interval = 0");
}

void
cfg_check(struct cfg_ctx *ctx, const config_t *lc)
{
	const config_setting_t	*s;

	cfg_require(ctx, lc, "tls.certificate",
	    "set it to the PEM certificate chain file, leaf first");
	cfg_require(ctx, lc, "tls.key",
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
	cfg_client_cert_check(ctx, lc);
	cfg_check_recheck(ctx, lc);
	s = config_lookup(lc, "throttle.lockout_max");
	if (ctx->cfg->throttle_lockout_max_ms < ctx->cfg->throttle_lockout_ms)
		cfg_err_at(ctx, NULL, s != NULL ?
		    config_setting_source_line(s) : 0, "throttle.lockout_max",
		    "is shorter than throttle.lockout; a lockout grows from "
		    "lockout up to lockout_max: raise lockout_max");
}
