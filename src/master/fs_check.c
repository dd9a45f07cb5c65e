#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs_check.h"
#include "fs_check_priv.h"
#include "log.h"

/* libconfig's own limit on nested @include's. */
#define FS_INCLUDE_DEPTH	10

void
fs_complain(const struct fs_ctx *x, const char *fmt, ...)
{
	char	 msg[3 * PATH_MAX];
	va_list	 ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warnx("%s%s%s%s%s", x->where, x->where[0] != '\0' ? ": " : "",
	    x->setting, x->setting[0] != '\0' ? ": " : "", msg);
}

static unsigned
fs_mode(const struct stat *st)
{
	return (unsigned)(st->st_mode & 07777);
}

/*
 * path, with status st, is owned by root and writable by nobody else; above
 * the directory holding the checked file, a root-owned sticky directory
 * passes too (sticky_ok). held names what path holds, or is NULL for the
 * checked file itself.
 */
static int
fs_check_inode(const struct fs_ctx *x, const char *path, const struct stat *st,
    const char *held, bool sticky_ok)
{
	char	 note[PATH_MAX + 16] = "";
	bool	 sticky = S_ISDIR(st->st_mode) && (st->st_mode & S_ISVTX);

	if (held != NULL)
		(void)snprintf(note, sizeof(note), " (it holds %s)", held);
	if (st->st_uid != 0) {
		fs_complain(x, "%s is owned by uid %u, must be root%s; chown root "
		    "%s", path, (unsigned)st->st_uid, note, path);
		return -1;
	}
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) == 0 || (sticky && sticky_ok))
		return 0;
	if (sticky)
		fs_complain(x, "%s is a shared directory (mode %04o)%s; move "
		    "what it holds to a directory only root can write", path,
		    fs_mode(st), note);
	else
		fs_complain(x, "%s is writable by %s (mode %04o)%s; chmod go-w %s",
		    path, (st->st_mode & S_IWOTH) ? "others" : "its group",
		    fs_mode(st), note, path);
	return -1;
}

/* Cuts an absolute path to its directory. */
static void
fs_dirname(char *path)
{
	char	*slash = strrchr(path, '/');

	if (slash == path)
		slash[1] = '\0';
	else if (slash != NULL)
		*slash = '\0';
}

/*
 * Every directory above real, an absolute path without symbolic links; the
 * first one holds real and gets no sticky pass unless real is itself the
 * holder of the file that matters.
 */
static int
fs_check_parents(const struct fs_ctx *x, const char *real, bool holder)
{
	char		 dir[PATH_MAX];
	struct stat	 st;

	(void)snprintf(dir, sizeof(dir), "%s", real);
	while (strcmp(dir, "/") != 0) {
		fs_dirname(dir);
		if (stat(dir, &st) == -1) {
			fs_complain(x, "%s: %s", dir, strerror(errno));
			return -1;
		}
		if (fs_check_inode(x, dir, &st, real, !holder) == -1)
			return -1;
		holder = false;
	}
	return 0;
}

/* Checks path (size bytes) and the directories above it; resolves it. */
int
fs_check_object(const struct fs_ctx *x, char *path, size_t size,
    enum fs_kind kind)
{
	char		 real[PATH_MAX];
	struct stat	 st;

	if (realpath(path, real) == NULL || stat(real, &st) == -1) {
		fs_complain(x, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (kind >= FS_DIR ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)) {
		fs_complain(x, "%s is not a %s", real, kind >= FS_DIR ?
		    "directory" : "regular file");
		return -1;
	}
	if (fs_check_inode(x, real, &st, NULL, false) == -1)
		return -1;
	if (kind == FS_SECRET && (st.st_mode & 077) != 0) {
		fs_complain(x, "%s is open to group or others (mode %04o), a "
		    "key or password file must be 0600 or 0400; chmod 600 %s",
		    real, fs_mode(&st), real);
		return -1;
	}
	if (fs_check_parents(x, real, kind != FS_HOLDER) == -1)
		return -1;
	if (strlen(real) >= size) {
		fs_complain(x, "%s: the resolved path is too long", path);
		return -1;
	}
	memcpy(path, real, strlen(real) + 1);
	return 0;
}

/*
 * One line of a configuration file; over-approximates libconfig's
 * ^[ \t]*@include[ \t]+"NAME" on purpose. libconfig opens the name as
 * written, so it must not pass through a symbolic link that could change
 * after the check.
 */
static int
fs_include_line(struct fs_scan *s, const char *file, unsigned lineno,
    char *line, unsigned depth)
{
	const char	*dir = s->arg;
	char		 where[PATH_MAX + 16], path[PATH_MAX], real[PATH_MAX];
	struct fs_ctx	 x = { where, "@include" };
	const char	*p = line + strspn(line, " \t"), *end;
	int		 n;

	if (strncmp(p, "@include", 8) != 0)
		return 0;
	(void)snprintf(where, sizeof(where), "%s:%u", file, lineno);
	p += 8 + strspn(p + 8, " \t");
	if (*p != '"' || (end = strchr(p + 1, '"')) == NULL ||
	    memchr(p + 1, '\\', (size_t)(end - p - 1)) != NULL) {
		fs_complain(&x, "cannot tell which file this names; write "
		    "@include \"FILE\" without escapes");
		return -1;
	}
	/* libconfig 1.5 puts the directory in front of every name. */
	if (p[1] == '/') {
		fs_complain(&x, "%.*s: not supported; name the file relative to "
		    "%s", (int)(end - p - 1), p + 1, dir);
		return -1;
	}
	n = snprintf(path, sizeof(path), "%s%s%.*s", dir,
	    strcmp(dir, "/") == 0 ? "" : "/", (int)(end - p - 1), p + 1);
	if (n < 0 || (size_t)n >= sizeof(path) || realpath(path, real) == NULL) {
		fs_complain(&x, "%.*s: %s", (int)(end - p - 1), p + 1,
		    n < 0 || (size_t)n >= sizeof(path) ? "path too long" :
		    strerror(errno));
		return -1;
	}
	if (strcmp(real, path) != 0) {
		fs_complain(&x, "%s leads to %s through a symbolic link or "
		    "\"..\"; name %s itself", path, real, real);
		return -1;
	}
	if (fs_check_object(&x, path, sizeof(path), FS_FILE) == -1)
		return -1;
	return fs_scan_include(s, &x, path, depth + 1);
}

/*
 * One line of f, without its newline, into line (size bytes): 1, 0 at the
 * end of f (or on a read error: see ferror()), -1 if it does not fit,
 * FS_LINE_NUL if it holds a NUL byte.
 */
int
fs_read_line(FILE *f, char *line, size_t size)
{
	size_t	 n = 0;
	int	 c;

	while ((c = getc(f)) != EOF && c != '\n') {
		if (c == '\0')
			return FS_LINE_NUL;
		if (n + 1 >= size)
			return -1;
		line[n++] = (char)c;
	}
	line[n] = '\0';
	return c == EOF && n == 0 ? 0 : 1;
}

/* What ended a scan of file at line lineno other than its end. */
int
fs_scan_failed(const char *file, unsigned lineno, FILE *f, int r,
    const char *too_long)
{
	if (ferror(f))
		log_warn("%s: cannot read", file);
	else if (r == FS_LINE_NUL)
		log_warnx("%s:%u: NUL byte; the file must be text, fix or "
		    "rewrite this line", file, lineno);
	else if (too_long != NULL)
		log_warnx("%s:%u: %s", file, lineno, too_long);
	else
		log_warnx("%s:%u: the line is longer than %d bytes; split it",
		    file, lineno, FS_LINE_MAX);
	return -1;
}

static int
fs_config_line(FILE *f, char *line, size_t size, unsigned *lineno)
{
	int	 r = fs_read_line(f, line, size);

	*lineno += r == 1;
	return r;
}

/* file and every file it @include's, by names relative to dir. */
static int
fs_check_includes(const char *dir, const char *file)
{
	static const struct fs_ctx	 x = { "", "" };
	struct fs_scan			 s = { .read_line = fs_config_line,
					    .line = fs_include_line, .arg = dir,
					    .limit = FS_INCLUDE_DEPTH };

	return fs_scan_include(&s, &x, file, 0);
}

int
fs_check_config_file(const char *file, char *real, size_t size)
{
	struct fs_ctx	 x = { "", "" };
	char		 dir[PATH_MAX];

	if ((size_t)snprintf(real, size, "%s", file) >= size) {
		fs_complain(&x, "%s: path too long", file);
		return -1;
	}
	if (fs_check_object(&x, real, size, FS_FILE) == -1)
		return -1;
	(void)snprintf(dir, sizeof(dir), "%s", real);
	fs_dirname(dir);
	return fs_check_includes(dir, real);
}

int
fs_join(const struct fs_ctx *x, char *out, size_t size, const char *dir,
    const char *name)
{
	int	 n = snprintf(out, size, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= size) {
		fs_complain(x, "%s/%s: path too long", dir, name);
		return -1;
	}
	return 0;
}

static int
fs_check_setting(struct config *cfg, const char *setting, char *path,
    size_t size, enum fs_kind kind)
{
	struct fs_ctx	 x = { cfg->path, setting };

	if (path[0] == '\0')
		return 0;
	return fs_check_object(&x, path, size, kind);
}

#define FS_SETTING(cfg, name, field, kind) \
	fs_check_setting((cfg), (name), (field), sizeof(field), (kind))

static int
fs_check_ldap(struct config *cfg)
{
	struct config_ldap	*l = &cfg->ldap;
	int			 rc = 0;

	if (cfg->auth_backend != AUTH_BACKEND_LDAP)
		return 0;
	rc |= FS_SETTING(cfg, "auth.ldap.tls.ca_file", l->tls_ca_file, FS_FILE);
	rc |= FS_SETTING(cfg, "auth.ldap.tls.certificate", l->tls_certificate,
	    FS_FILE);
	rc |= FS_SETTING(cfg, "auth.ldap.tls.key", l->tls_key, FS_SECRET);
	rc |= FS_SETTING(cfg, "auth.ldap.bind.password_file",
	    l->bind_password_file, FS_SECRET);
	return rc;
}

/* Each listener's client CA and CRL files. */
static int
fs_check_client_ca(struct config *cfg)
{
	struct config_listener	*l;
	char			 setting[64];
	int			 rc = 0;

	for (unsigned i = 0; i < cfg->n_listeners; i++) {
		l = &cfg->listeners[i];
		(void)snprintf(setting, sizeof(setting),
		    "listen[%u].client_ca_file", i);
		rc |= FS_SETTING(cfg, setting, l->client_ca_file, FS_FILE);
		(void)snprintf(setting, sizeof(setting),
		    "listen[%u].client_crl_file", i);
		rc |= FS_SETTING(cfg, setting, l->client_crl_file, FS_FILE);
	}
	return rc;
}

/* An existing audit log: root's regular file, closed to others. */
static int
fs_check_audit_stat(const struct fs_ctx *x, const char *path,
    const struct stat *st)
{
	if (S_ISLNK(st->st_mode)) {
		fs_complain(x, "%s is a symbolic link; the audit log must be a "
		    "regular file: remove the link", path);
		return -1;
	}
	if (!S_ISREG(st->st_mode)) {
		fs_complain(x, "%s is not a regular file", path);
		return -1;
	}
	if (fs_check_inode(x, path, st, NULL, false) == -1)
		return -1;
	if (st->st_mode & S_IRWXO) {
		fs_complain(x, "%s is open to others (mode %04o); chmod 640 %s",
		    path, fs_mode(st), path);
		return -1;
	}
	return 0;
}

/*
 * Resolves and checks the directory holding path (size bytes), rewrites
 * path into it and leaves the name's lstat() in *st (st_mode 0 if it does
 * not exist). A name that does not exist yet must not be one anybody else
 * could create first, so that directory gets no sticky pass.
 */
int
fs_check_holder(const struct fs_ctx *x, char *path, size_t size,
    struct stat *st)
{
	char		 dir[PATH_MAX], file[PATH_MAX];
	const char	*base = strrchr(path, '/');
	int		 n;

	if (base == NULL || base[1] == '\0' || strcmp(base, "/.") == 0 ||
	    strcmp(base, "/..") == 0) {
		fs_complain(x, "%s does not name a file in a directory", path);
		return -1;
	}
	(void)snprintf(dir, sizeof(dir), "%s", path);
	fs_dirname(dir);
	if (fs_check_object(x, dir, sizeof(dir), FS_HOLDER) == -1)
		return -1;
	n = snprintf(file, sizeof(file), "%s%s", strcmp(dir, "/") == 0 ? "" :
	    dir, base);
	if (n < 0 || (size_t)n >= sizeof(file) || (size_t)n >= size) {
		fs_complain(x, "%s: path too long", path);
		return -1;
	}
	memset(st, 0, sizeof(*st));
	if (lstat(file, st) == -1 && errno != ENOENT) {
		fs_complain(x, "%s: %s", file, strerror(errno));
		return -1;
	}
	memcpy(path, file, (size_t)n + 1);
	return 0;
}

static int
fs_check_audit(const struct fs_ctx *x, char *path, size_t size)
{
	struct stat	 st;

	if (fs_check_holder(x, path, size, &st) == -1)
		return -1;
	return st.st_mode == 0 ? 0 : fs_check_audit_stat(x, path, &st);
}

int
fs_check_audit_path(const char *path)
{
	struct fs_ctx	 x = { "", "audit.file" };
	char		 copy[PATH_MAX];

	(void)snprintf(copy, sizeof(copy), "%s", path);
	return fs_check_audit(&x, copy, sizeof(copy));
}

int
fs_check_audit_fd(int fd, const char *path)
{
	struct fs_ctx	 x = { "", "audit.file" };
	struct stat	 st;

	if (fstat(fd, &st) == -1) {
		fs_complain(&x, "%s: fstat: %s", path, strerror(errno));
		return -1;
	}
	return fs_check_audit_stat(&x, path, &st);
}

/* A chroot that does not exist yet is created in a directory that passes. */
static int
fs_check_chroot(struct config *cfg, bool create)
{
	struct fs_ctx	 x = { cfg->path, "privsep.chroot" };
	struct stat	 st;

	if (create && mkdir(cfg->chroot_dir, 0755) == 0)
		log_info("created the empty chroot directory %s",
		    cfg->chroot_dir);
	if (!create && stat(cfg->chroot_dir, &st) == -1 && errno == ENOENT)
		return fs_check_holder(&x, cfg->chroot_dir,
		    sizeof(cfg->chroot_dir), &st);
	return fs_check_object(&x, cfg->chroot_dir, sizeof(cfg->chroot_dir),
	    FS_DIR);
}

int
fs_prepare_chroot(struct config *cfg)
{
	return fs_check_chroot(cfg, true);
}

int
fs_check_config(struct config *cfg)
{
	struct fs_ctx	 audit = { cfg->path, "audit.file" };
	int		 rc = 0;

	rc |= FS_SETTING(cfg, "policy", cfg->policy_file, FS_FILE);
	rc |= fs_check_pam(cfg);
	rc |= FS_SETTING(cfg, "tls.certificate", cfg->tls_certificate, FS_FILE);
	rc |= FS_SETTING(cfg, "tls.key", cfg->tls_key, FS_SECRET);
	rc |= fs_check_ldap(cfg);
	rc |= fs_check_client_ca(cfg);
	rc |= fs_check_audit(&audit, cfg->audit_file, sizeof(cfg->audit_file));
	rc |= fs_check_chroot(cfg, false);
	return rc;
}
