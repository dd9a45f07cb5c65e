/*
 * tunnelgated.conf settings for client certificates: listen[].client_auth,
 * client_ca_file, client_crl_file, client_verify_depth, and auth.identity,
 * auth.certificate_name, auth.certificate_uri_prefix. The files are loaded
 * by tls_client_ca.c after fs_check.c has checked them.
 */
#include <string.h>

#include "config_priv.h"

static const char *const client_auth_names[] = {
	[CLIENT_AUTH_NONE] = "none",
	[CLIENT_AUTH_OPTIONAL] = "optional",
	[CLIENT_AUTH_REQUIRE] = "require", NULL
};

static const char *const identity_names[] = {
	[AUTH_IDENTITY_PASSWORD] = "password",
	[AUTH_IDENTITY_CERT] = "certificate",
	[AUTH_IDENTITY_CERT_PASSWORD] = "certificate+password", NULL
};

static const char *const cert_name_names[] = {
	[CERT_NAME_SUBJECT_CN] = "subject_cn",
	[CERT_NAME_SAN_EMAIL] = "san_email",
	[CERT_NAME_SAN_URI] = "san_uri", NULL
};

/*
 * Store the index of str in names (NULL-terminated) into an enum field, or
 * say what is allowed.
 */
static void
cfg_keyword(struct cfg_ctx *ctx, const config_setting_t *s,
    const struct cfg_rule *r, void *base, const char *const *names)
{
	const char	*str = config_setting_get_string(s);
	char		 list[128];

	for (size_t i = 0; names[i] != NULL; i++)
		if (strcmp(str, names[i]) == 0) {
			*(unsigned *)((char *)base + r->off) = (unsigned)i;
			return;
		}
	cfg_join(list, sizeof(list), names, "\", \"");
	cfg_err(ctx, s, "\"%.32s\" is not allowed; use one of \"%s\"", str,
	    list);
}

/* cfg_keyword() stores through unsigned. */
_Static_assert(sizeof(enum client_auth) == sizeof(unsigned) &&
    sizeof(enum auth_identity) == sizeof(unsigned) &&
    sizeof(enum cert_name_field) == sizeof(unsigned), "enum size");

#define CFG_KEYWORD_HANDLER(fn, names)					\
void									\
fn(struct cfg_ctx *ctx, const config_setting_t *s,			\
    const struct cfg_rule *r, void *base)				\
{									\
	cfg_keyword(ctx, s, r, base, names);				\
}

CFG_KEYWORD_HANDLER(h_client_auth, client_auth_names)
CFG_KEYWORD_HANDLER(h_identity, identity_names)
CFG_KEYWORD_HANDLER(h_cert_name, cert_name_names)

/* One listener's settings, once its group has been read without error. */
void
cfg_listener_client_cert(struct cfg_ctx *ctx, const config_setting_t *s,
    const struct config_listener *l)
{
	if (l->client_auth != CLIENT_AUTH_NONE && l->client_ca_file[0] == '\0')
		cfg_err(ctx, s, "client_auth is \"%s\" but client_ca_file is "
		    "not set; set it to the PEM file of the CAs that issue "
		    "client certificates", client_auth_names[l->client_auth]);
	else if (l->client_auth == CLIENT_AUTH_NONE &&
	    (l->client_ca_file[0] != '\0' || l->client_crl_file[0] != '\0'))
		cfg_err(ctx, s, "client_ca_file or client_crl_file is set but "
		    "client_auth is \"none\"; set client_auth = \"optional\" "
		    "or \"require\", or remove them");
}

/* auth.identity against the listeners and the backend. */
void
cfg_client_cert_check(struct cfg_ctx *ctx, const config_t *lc)
{
	const struct config	*cfg = ctx->cfg;
	const config_setting_t	*s = config_lookup(lc, "auth.identity");
	unsigned		 line = s != NULL ? config_setting_source_line(s) : 0;

	if (cfg->auth_identity != AUTH_IDENTITY_PASSWORD)
		for (unsigned i = 0; i < cfg->n_listeners; i++)
			if (cfg->listeners[i].client_auth == CLIENT_AUTH_NONE)
				cfg_err_at(ctx, NULL, line, "auth.identity",
				    "is \"%s\" but listen[%u] (port %u) asks "
				    "for no certificate; set its client_auth "
				    "to \"require\" (or \"optional\")",
				    identity_names[cfg->auth_identity], i,
				    cfg->listeners[i].port);
	/* No password to bind with: the service account looks users up. */
	if (cfg->auth_identity != AUTH_IDENTITY_PASSWORD &&
	    cfg->auth_backend == AUTH_BACKEND_LDAP &&
	    cfg->ldap.bind_mode != CONFIG_LDAP_BIND_SEARCH)
		cfg_err_at(ctx, NULL, line, "auth.identity", "is \"%s\", "
		    "which needs auth.ldap.bind.mode = \"search\" (with a "
		    "service account) to find the user's entry",
		    identity_names[cfg->auth_identity]);
	s = config_lookup(lc, "auth.certificate_name");
	if (cfg->auth_cert_name == CERT_NAME_SAN_URI &&
	    cfg->auth_cert_uri_prefix[0] == '\0')
		cfg_err_at(ctx, NULL, s != NULL ?
		    config_setting_source_line(s) : line,
		    "auth.certificate_uri_prefix", "is empty but "
		    "auth.certificate_name is \"san_uri\"; set the prefix every "
		    "user URI starts with, e.g. \"spiffe://example.org/user/\"");
}
