/*
 * tunnelgated.conf loader. The parsed libconfig tree is walked against one
 * schema table per group (config_schema.c): every setting the file contains
 * must have a row, and the row's handler checks and stores it. Every problem
 * is logged and counted, so one run shows the admin all of them.
 */
#include <sys/stat.h>

#include <libconfig.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_priv.h"

#define CFG_PATH_DEPTH		8

#define TB(t)		(1u << CONFIG_TYPE_##t)

static const struct {
	unsigned	 accept;	/* TB() of the libconfig types */
	const char	*want;
} cfg_types[] = {
	[T_GROUP] = { TB(GROUP), "a group { ... }" },
	[T_LIST] = { TB(LIST), "a list ( { ... }, ... )" },
	[T_STRINGS] = { TB(ARRAY) | TB(LIST),
	    "an array of strings [ \"...\", ... ]" },
	[T_INT] = { TB(INT) | TB(INT64),
	    "an integer (no quotes, no decimal point)" },
	[T_SECONDS] = { TB(INT) | TB(INT64) | TB(FLOAT),
	    "a number of seconds (integer or decimal, no quotes)" },
	[T_BOOL] = { TB(BOOL), "a boolean (true or false, no quotes)" },
	[T_STRING] = { TB(STRING), "a string in double quotes" },
	[T_STRING_OR_GROUP] = { TB(STRING) | TB(GROUP),
	    "a string in double quotes or a group { ... }" },
};

static const char *const cfg_type_found[] = {
	[CONFIG_TYPE_NONE] = "nothing",
	[CONFIG_TYPE_GROUP] = "a group",
	[CONFIG_TYPE_INT] = "an integer",
	[CONFIG_TYPE_INT64] = "a 64-bit integer",
	[CONFIG_TYPE_FLOAT] = "a decimal number",
	[CONFIG_TYPE_STRING] = "a string",
	[CONFIG_TYPE_BOOL] = "a boolean",
	[CONFIG_TYPE_ARRAY] = "an array",
	[CONFIG_TYPE_LIST] = "a list",
};

/* "FILE:LINE" of a setting, or "FILE" where there is no line. */
void
cfg_where(const struct cfg_ctx *ctx, const char *file, unsigned line,
    char *where, size_t size)
{
	const char	*dir = "";

	/* libconfig names an @include'd file as written, relative to dir. */
	if (file == NULL || strcmp(file, ctx->file) == 0)
		file = ctx->file;
	else if (file[0] != '/')
		dir = ctx->dir;
	if (line > 0)
		(void)snprintf(where, size, "%s%s%s:%u", dir,
		    dir[0] != '\0' ? "/" : "", file, line);
	else
		(void)snprintf(where, size, "%s", file);
}

static void
cfg_vlog(struct cfg_ctx *ctx, const char *file, unsigned line,
    const char *path, const char *fmt, va_list ap)
{
	char		 where[2 * PATH_MAX], msg[768];

	cfg_where(ctx, file, line, where, sizeof(where));
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	log_warnx("%s: %s%s%s", where, path != NULL ? path : "",
	    path != NULL ? ": " : "", msg);
	ctx->errors++;
}

/* "listen[1].port", "auth.pam.service": what the admin sees in the file. */
static void
cfg_setting_path(const config_setting_t *s, char *buf, size_t size)
{
	const config_setting_t	*chain[CFG_PATH_DEPTH];
	size_t			 n = 0, off = 0;
	int			 r;

	for (; s != NULL && !config_setting_is_root(s) && n < CFG_PATH_DEPTH;
	    s = config_setting_parent(s))
		chain[n++] = s;
	buf[0] = '\0';
	while (n-- > 0 && off < size - 1) {
		s = chain[n];
		if (config_setting_name(s) != NULL)
			r = snprintf(buf + off, size - off, "%s%s",
			    off > 0 ? "." : "", config_setting_name(s));
		else
			r = snprintf(buf + off, size - off, "[%d]",
			    config_setting_index(s));
		if (r < 0)
			break;
		off += (size_t)r < size - off ? (size_t)r : size - off - 1;
	}
}

void
cfg_err(struct cfg_ctx *ctx, const config_setting_t *s, const char *fmt, ...)
{
	char	 path[256];
	va_list	 ap;

	cfg_setting_path(s, path, sizeof(path));
	va_start(ap, fmt);
	cfg_vlog(ctx, config_setting_source_file(s),
	    config_setting_source_line(s), path, fmt, ap);
	va_end(ap);
}

/* For what has no setting of its own: a missing one, a syntax error. */
void
cfg_err_at(struct cfg_ctx *ctx, const char *file, unsigned line,
    const char *path, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	cfg_vlog(ctx, file, line, path, fmt, ap);
	va_end(ap);
}

void
cfg_join(char *buf, size_t size, const char *const *names, const char *sep)
{
	size_t	 off = 0;
	int	 r;

	buf[0] = '\0';
	for (; *names != NULL && off < size - 1; names++) {
		r = snprintf(buf + off, size - off, "%s%s", off > 0 ? sep : "",
		    *names);
		if (r < 0)
			break;
		off += (size_t)r < size - off ? (size_t)r : size - off - 1;
	}
}

void
cfg_walk(struct cfg_ctx *ctx, const config_setting_t *group,
    const struct cfg_rule *rules, void *base)
{
	const config_setting_t	*s;
	const struct cfg_rule	*r;
	const char		*names[32];
	char			 known[256];
	unsigned		 i;
	int			 type;
	size_t			 n;

	for (i = 0; (s = config_setting_get_elem(group, i)) != NULL; i++) {
		for (r = rules; r->name != NULL; r++)
			if (strcmp(r->name, config_setting_name(s)) == 0)
				break;
		if (r->name == NULL) {
			for (n = 0; rules[n].name != NULL && n < 31; n++)
				names[n] = rules[n].name;
			names[n] = NULL;
			cfg_join(known, sizeof(known), names, ", ");
			cfg_err(ctx, s, "unknown setting; remove it or use "
			    "one of: %s", known);
			continue;
		}
		type = config_setting_type(s);
		if (type < CONFIG_TYPE_NONE || type > CONFIG_TYPE_LIST ||
		    (cfg_types[r->type].accept & (1u << type)) == 0) {
			cfg_err(ctx, s, "expected %s, found %s; fix the value",
			    cfg_types[r->type].want, type >= CONFIG_TYPE_NONE &&
			    type <= CONFIG_TYPE_LIST ? cfg_type_found[type] :
			    "an unknown type");
			continue;
		}
		r->handler(ctx, s, r, base);
	}
}

int
cfg_resolve(const struct cfg_ctx *ctx, const char *in, char *out, size_t size)
{
	int	 r;

	if (in[0] == '/')
		r = snprintf(out, size, "%s", in);
	else
		r = snprintf(out, size, "%s/%s",
		    strcmp(ctx->dir, "/") == 0 ? "" : ctx->dir, in);
	return r < 0 || (size_t)r >= size ? -1 : 0;
}

static int
cfg_locate(struct cfg_ctx *ctx)
{
	char	*slash;

	if (realpath(ctx->file, ctx->cfg->path) == NULL) {
		log_warn("%s: cannot resolve the configuration file path",
		    ctx->file);
		ctx->errors++;
		return -1;
	}
	memcpy(ctx->dir, ctx->cfg->path, sizeof(ctx->dir));
	slash = strrchr(ctx->dir, '/');
	if (slash == ctx->dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	return 0;
}

int
config_load(const char *file, struct config *cfg)
{
	struct cfg_ctx	 ctx;
	config_t	 lc;
	struct stat	 st;

	memset(cfg, 0, sizeof(*cfg));
	memset(&ctx, 0, sizeof(ctx));
	ctx.cfg = cfg;
	ctx.file = file;
	config_init(&lc);
	if (cfg_locate(&ctx) == -1)
		goto out;
	cfg_defaults(&ctx);
	if (stat(cfg->path, &st) == -1 || !S_ISREG(st.st_mode)) {
		cfg_err_at(&ctx, NULL, 0, NULL, "is not a regular file; name "
		    "the configuration file");
		goto out;
	}
	/* Like every relative path in the file, @include's. */
	config_set_include_dir(&lc, ctx.dir);
	if (config_read_file(&lc, file) != CONFIG_TRUE) {
		if (config_error_type(&lc) == CONFIG_ERR_FILE_IO) {
			log_warn("%s: cannot read", file);
			ctx.errors++;
		} else
			cfg_err_at(&ctx, config_error_file(&lc),
			    (unsigned)config_error_line(&lc), NULL, "%s; fix "
			    "the file there (name = value; groups in { }, "
			    "lists in ( ))", config_error_text(&lc));
		goto out;
	}
	cfg_walk(&ctx, config_root_setting(&lc), cfg_top_rules, cfg);
	cfg_check(&ctx, &lc);
 out:
	config_destroy(&lc);
	if (ctx.errors > 0) {
		memset(cfg, 0, sizeof(*cfg));
		return -1;
	}
	return 0;
}
