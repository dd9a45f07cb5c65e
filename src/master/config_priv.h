/*
 * Internals of the tunnelgated.conf loader, shared by config.c (load, tree
 * walk, messages) and config_schema.c (settings, handlers, defaults) only.
 */
#ifndef TG_CONFIG_PRIV_H
#define TG_CONFIG_PRIV_H

#include <libconfig.h>
#include <limits.h>
#include <stddef.h>

#include "config.h"

struct cfg_ctx {
	struct config	*cfg;
	const char	*file;		/* as given: what the admin typed */
	char		 dir[PATH_MAX];	/* of the real file; base of relative paths */
	int		 errors;
};

enum cfg_type { T_GROUP, T_LIST, T_STRINGS, T_INT, T_SECONDS, T_BOOL,
	T_STRING, T_STRING_OR_GROUP };

struct cfg_rule;
typedef void	 cfg_handler(struct cfg_ctx *, const config_setting_t *,
		    const struct cfg_rule *, void *);

struct cfg_rule {
	const char		*name;
	enum cfg_type		 type;
	cfg_handler		*handler;
	size_t			 off;		/* of the field in the base */
	size_t			 size;		/* of the field */
	long long		 min, max;	/* integers; durations in ms */
	const struct cfg_rule	*members;	/* group, or list elements */
	const char *const	*allowed;	/* cipher lists */
};

/* config.c */
void	 cfg_err(struct cfg_ctx *, const config_setting_t *, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
void	 cfg_err_at(struct cfg_ctx *, const char *, unsigned, const char *,
	    const char *, ...) __attribute__((format(printf, 5, 6)));
void	 cfg_where(const struct cfg_ctx *, const char *, unsigned, char *,
	    size_t);
void	 cfg_join(char *, size_t, const char *const *, const char *);
void	 cfg_walk(struct cfg_ctx *, const config_setting_t *,
	    const struct cfg_rule *, void *);
int	 cfg_resolve(const struct cfg_ctx *, const char *, char *, size_t);

/* config_schema.c: the handlers config_ldap.c shares */
extern const struct cfg_rule	 cfg_top_rules[];
void	 cfg_defaults(struct cfg_ctx *);
void	 cfg_check(struct cfg_ctx *, const config_t *);
void	 cfg_missing(struct cfg_ctx *, const config_t *, const char *path,
	    const char *what);
const char *cfg_get_string(struct cfg_ctx *, const config_setting_t *,
	    const struct cfg_rule *);

/* config_types.c */
cfg_handler	 h_group, h_subgroup, h_int, h_seconds, h_bool, h_string, h_path,
		 h_path_or_empty, h_address, h_metrics_listen;
int	 cfg_inet_pton(const char *, int *, unsigned char *);

/* config_client_cert.c */
cfg_handler	 h_client_auth, h_identity, h_cert_name;
void	 cfg_listener_client_cert(struct cfg_ctx *, const config_setting_t *,
	    const struct config_listener *);
void	 cfg_client_cert_check(struct cfg_ctx *, const config_t *);

/* config_ldap.c */
extern const struct cfg_rule	 cfg_ldap_rules[];
void	 cfg_ldap_defaults(struct config_ldap *);
void	 cfg_ldap_check(struct cfg_ctx *, const config_t *);

/* Rows of the schema tables. */
#define F(s, f)		.off = offsetof(struct s, f), \
			.size = sizeof(((struct s *)0)->f)
#define C(f)		F(config, f)
#define R_GROUP(n, m)	{ .name = n, .type = T_GROUP, .handler = h_group, \
			  .members = m }
#define R_INT(n, fld, lo, hi) \
			{ .name = n, .type = T_INT, .handler = h_int, fld, \
			  .min = lo, .max = hi }
#define R_SECS_AT(n, fld, lo, hi) \
			{ .name = n, .type = T_SECONDS, .handler = h_seconds, \
			  fld, .min = lo, .max = (long long)(hi) * 1000 }
#define R_SECS(n, f, lo, hi) R_SECS_AT(n, C(f), lo, hi)
#define R_BOOL_AT(n, fld) { .name = n, .type = T_BOOL, .handler = h_bool, fld }
#define R_BOOL(n, f)	R_BOOL_AT(n, C(f))
#define R_STR(n, h, fld) { .name = n, .type = T_STRING, .handler = h, fld }
#define R_END		{ .name = NULL }

#endif
