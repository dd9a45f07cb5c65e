/*
 * The PAM files tunnelgated's authenticators will load, found the way
 * Linux-PAM 1.5.2 (Debian 12's libpam) finds them: pam_start_confdir() or
 * pam_start() reads the service's file, then "other", and follows the
 * include and substack lines (and Debian's @include) of each.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs_check_priv.h"
#include "log.h"

/*
 * Linux-PAM's limit on nested include and substack (PAM_SUBSTACK_MAX_LEVEL);
 * libpam 1.5.2 counts substacks alone, so a deeper chain of includes is
 * refused rather than followed without end.
 */
#define FS_PAM_DEPTH		16

/*
 * The longest line of a PAM file, its newline included, that libpam reads
 * whole. libpam 1.5.2's _pam_assemble_line() fgets() into a 1024-byte
 * buffer (BUF_SIZE): a longer line arrives in pieces, and the piece after
 * the cut is parsed as a line of its own, so padding a line (a comment
 * too) hides an include from a check that reads it whole. Lines that a
 * '\' joins share the buffer: the bound is on all of them together, up
 * to the end of the last. Longer lines are refused.
 */
#define FS_PAM_LINE_MAX		1023
#define FS_PAM_STR(n)		FS_PAM_XSTR(n)
#define FS_PAM_XSTR(n)		#n

/*
 * Whether path, libpam's name for a file, is real, its resolved name: a
 * symbolic link (or "..") on the way could be re-pointed by whoever owns
 * the directory holding it after the check. Complains if not.
 */
static bool
fs_pam_is_real(const struct fs_ctx *x, const char *path, const char *real)
{
	if (strcmp(real, path) == 0)
		return true;
	fs_complain(x, "%s leads to %s through a symbolic link or \"..\", "
	    "which could be changed after the check; name %s itself", path,
	    real, real);
	return false;
}

/*
 * A PAM file at path, which libpam opens by that name again after the
 * check: the name must be the file itself, not a symbolic link (or "..")
 * that whoever owns a directory on the way could re-point after the
 * check, the rule the configuration's @include follows (fs_check.c).
 */
static int
fs_check_pam_file(const struct fs_ctx *x, char *path, size_t size)
{
	char		 real[PATH_MAX];
	struct stat	 st;
	int		 saved;

	if (realpath(path, real) == NULL) {
		saved = errno;
		if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
			fs_complain(x, "%s is a symbolic link that leads nowhere; "
			    "libpam would open whatever is made there: remove "
			    "it", path);
		else
			fs_complain(x, "%s: %s", path, strerror(saved));
		return -1;
	}
	if (!fs_pam_is_real(x, path, real))
		return -1;
	return fs_check_object(x, path, size, FS_FILE);
}

/*
 * Every file but the service in the directory PAM reads it from: PAM's
 * include and substack (common-auth and the like) load them as well.
 */
static int
fs_check_pam_others(struct config *cfg, const char *pamdir)
{
	struct fs_ctx	 x = { cfg->path, "auth.pam.confdir" };
	char		 file[PATH_MAX];
	struct dirent	*d;
	DIR		*dir;
	int		 rc = 0;

	if ((dir = opendir(pamdir)) == NULL) {
		fs_complain(&x, "%s: %s", pamdir, strerror(errno));
		return -1;
	}
	while ((d = readdir(dir)) != NULL) {
		if (d->d_name[0] == '.' ||
		    strcmp(d->d_name, cfg->pam_service) == 0 ||
		    (d->d_type != DT_REG && d->d_type != DT_LNK))
			continue;
		if (fs_join(&x, file, sizeof(file), pamdir, d->d_name) == -1 ||
		    fs_check_pam_file(&x, file, sizeof(file)) == -1)
			rc = -1;
	}
	closedir(dir);
	return rc;
}

/*
 * The next token of *p as libpam's _pam_StrTok() cuts it: words between
 * blanks, but "[...]" up to the first ']' is one token without its
 * brackets, "\]" in it standing for ']'. NULL when none is left.
 */
static char *
fs_pam_token(char **p)
{
	char	*s = *p + strspn(*p, " \t\n"), *end, *to;

	if (*s == '\0')
		return NULL;
	if (*s == '[') {
		for (to = end = ++s; *end != '\0' && *end != ']'; to++, end++) {
			if (*end == '\\' && end[1] == ']')
				end++;
			*to = *end;
		}
		if (to != end)
			*to = '\0';
	} else
		end = s + strcspn(s, " \t\n");
	if (*end != '\0')
		*end++ = '\0';
	*p = end;
	return s;
}

/*
 * The name a PAM line loads another file by, or NULL: Debian's
 * "@include NAME" in the type column, or "TYPE include NAME" and
 * "TYPE substack NAME". libpam follows these whatever the type says, and
 * with '-' in front of it.
 */
static const char *
fs_pam_included(char *line, bool service_column)
{
	char	*p = line, *type, *control;

	if (service_column && fs_pam_token(&p) == NULL)
		return NULL;
	if ((type = fs_pam_token(&p)) == NULL)
		return NULL;
	if (type[0] == '-')
		type++;
	if (strcasecmp(type, "@include") == 0)
		return fs_pam_token(&p);
	if ((control = fs_pam_token(&p)) == NULL)
		return NULL;
	if (strcasecmp(control, "include") == 0 ||
	    strcasecmp(control, "substack") == 0)
		return fs_pam_token(&p);
	return NULL;
}

/*
 * One logical line of a PAM file into buf, as libpam's
 * _pam_assemble_line() makes it: blank and comment lines are skipped,
 * '#' ends the line, and a '\' at its end joins the next line on.
 * lineno counts the lines read. 1, 0 at the end of f, -1 if too long: as
 * libpam, which reads the next line to where the last '\' was, it holds
 * no more than FS_PAM_LINE_MAX bytes with a newline.
 */
static int
fs_pam_line(FILE *f, char *buf, size_t size, unsigned *lineno)
{
	size_t	 used = 0;
	char	*s, *end;
	int	 r;

	if (size > FS_PAM_LINE_MAX + 1)
		size = FS_PAM_LINE_MAX + 1;
	for (;;) {
		if ((r = fs_read_line(f, buf + used, size - used)) != 1)
			return r == 0 && used > 0 ? 1 : r;
		(*lineno)++;
		s = buf + used + strspn(buf + used, " \t");
		if (*s == '\0' || *s == '#')
			continue;
		end = s + strcspn(s, "#");
		if (*end == '#') {
			*end = '\0';
			return 1;
		}
		while (end[-1] == ' ' || end[-1] == '\t')
			end--;
		if (end[-1] != '\\')
			return 1;
		end[-1] = ' ';
		*end = '\0';
		used = (size_t)(end - buf);
	}
}

/* Where libpam 1.5.2 looks for a name without auth.pam.confdir, in order. */
static const char *const fs_pam_dirs[] = { "/etc/pam.d", "/usr/lib/pam.d" };
#define FS_PAM_NDIRS	(sizeof(fs_pam_dirs) / sizeof(fs_pam_dirs[0]))

/*
 * The i-th file libpam's _pam_open_config_file() tries for name, into
 * out: an absolute name as it is (the only one), else dirs[i]/name.
 */
static int
fs_pam_candidate(const struct fs_ctx *x, const char *const *dirs, size_t i,
    const char *name, char *out, size_t size)
{
	if (name[0] != '/')
		return fs_join(x, out, size, dirs[i], name);
	if ((size_t)snprintf(out, size, "%s", name) >= size) {
		fs_complain(x, "%s: path too long", name);
		return -1;
	}
	return 0;
}

/* Whether name has a ".." component. */
static bool
fs_pam_dotdot(const char *name)
{
	for (const char *p = name; (p = strstr(p, "..")) != NULL; p += 2)
		if ((p == name || p[-1] == '/') && (p[2] == '\0' || p[2] == '/'))
			return true;
	return false;
}

/* What a PAM include scan's lines need: pam.conf has a service column. */
struct fs_pam_scan {
	const struct config	*cfg;
	bool			 service_column;
	/*
	 * Where an included relative name is looked up. Debian's libpam
	 * 1.5.2 reads only the service and "other" from a confdir: what they
	 * include by a relative name it opens as /etc/pam.d/NAME, with no
	 * /usr/lib/pam.d fallback (strace of pam_start_confdir() shows it).
	 */
	const char *const	*include_dirs;
	size_t			 include_ndirs;
};

/*
 * A name libpam finds nowhere (ncand files tried): it loads nothing now,
 * but opens the same names on every pam_start(), so none of them may be
 * one anybody else could create, directly or by re-pointing a symbolic
 * link on the way. A directory of fs_pam_dirs that does not exist was
 * checked by fs_check_pam_dir().
 */
static int
fs_check_pam_missing(const struct fs_ctx *x, const char *const *dirs,
    size_t ncand, const char *name)
{
	char		 path[PATH_MAX], held[PATH_MAX];
	struct stat	 st;

	for (size_t i = 0; i < ncand; i++) {
		if (name[0] != '/' && access(dirs[i], F_OK) == -1)
			continue;
		if (fs_pam_candidate(x, dirs, i, name, path, sizeof(path)) == -1)
			return -1;
		(void)snprintf(held, sizeof(held), "%s", path);
		if (fs_check_holder(x, held, sizeof(held), &st) == -1)
			return -1;
		if (st.st_mode != 0) {
			fs_complain(x, "%s appeared during the check; check "
			    "again", path);
			return -1;
		}
		if (!fs_pam_is_real(x, path, held))
			return -1;
	}
	return 0;
}

/*
 * The file libpam loads for name, and what it includes in turn: the first
 * candidate that exists, even as a symbolic link leading nowhere (refused
 * by fs_check_pam_file()), else what fs_check_pam_missing() says. An
 * included name with ".." is refused: libpam would follow it out of the
 * directory it searches, and no standard PAM file needs one.
 */
static int
fs_check_pam_load(struct fs_scan *s, const struct fs_ctx *x,
    const char *name, unsigned depth)
{
	const struct fs_pam_scan	*p = s->arg;
	const char *const		*dirs = p->include_dirs;
	const char			*confdir[] = { p->cfg->pam_confdir };
	size_t				 i, n = p->include_ndirs;
	char				 path[PATH_MAX];
	struct stat			 st;

	if (depth > 0 && fs_pam_dotdot(name)) {
		fs_complain(x, "%s: a name with \"..\" is not supported; name "
		    "the file by its absolute path", name);
		return -1;
	}
	/* The service and "other" come from auth.pam.confdir if it is set. */
	if (depth == 0 && p->cfg->pam_confdir[0] != '\0') {
		dirs = confdir;
		n = 1;
	}
	if (name[0] == '/')
		n = 1;
	for (i = 0; i < n; i++) {
		if (fs_pam_candidate(x, dirs, i, name, path, sizeof(path)) == -1)
			return -1;
		if (lstat(path, &st) == 0)
			break;
	}
	if (i == n)
		return fs_check_pam_missing(x, dirs, n, name);
	if (fs_check_pam_file(x, path, sizeof(path)) == -1)
		return -1;
	return fs_scan_include(s, x, path, depth);
}

/* What one line of file, at depth, includes. */
static int
fs_check_pam_line(struct fs_scan *s, const char *file, unsigned lineno,
    char *line, unsigned depth)
{
	const struct fs_pam_scan	*p = s->arg;
	char				 where[PATH_MAX + 16];
	struct fs_ctx			 x = { where, "include" };
	const char			*name;

	name = fs_pam_included(line, depth == 0 && p->service_column);
	if (name == NULL)
		return 0;
	(void)snprintf(where, sizeof(where), "%s:%u", file, lineno);
	return fs_check_pam_load(s, &x, name, depth + 1);
}

/* A scan of PAM files, each of them read once. */
static void
fs_pam_scan_init(struct fs_scan *s, const struct fs_pam_scan *p)
{
	*s = (struct fs_scan){ .read_line = fs_pam_line,
	    .line = fs_check_pam_line, .arg = p, .limit = FS_PAM_DEPTH,
	    .too_deep_refused = true, .too_long = "the line is longer than "
	    "libpam 1.5.2 reads whole (" FS_PAM_STR(FS_PAM_LINE_MAX) " bytes "
	    "with its newline, counting the lines a '\\' joins to it); libpam "
	    "would read the rest as a line of its own: shorten it" };
}

/*
 * A directory libpam searches (/etc/pam.d for includes with
 * auth.pam.confdir too); one that does not exist must not be one anybody
 * else could create. 1 if it exists.
 */
static int
fs_check_pam_dir(const struct fs_ctx *x, const char *dir)
{
	char		 path[PATH_MAX];
	struct stat	 st;

	(void)snprintf(path, sizeof(path), "%s", dir);
	if (fs_check_holder(x, path, sizeof(path), &st) == -1)
		return -1;
	if (st.st_mode == 0)
		return 0;
	return fs_check_object(x, path, sizeof(path), FS_HOLDER) == -1 ? -1 : 1;
}

/*
 * What pam_start() reads without a confdir: the service, or nothing if no
 * directory has it, then "other" all the same (libpam falls back on its
 * modules for what the service leaves out), each with its includes; and
 * /etc/pam.conf instead only if neither directory exists.
 */
static int
fs_check_pam_system(struct config *cfg, struct fs_scan *s,
    struct fs_pam_scan *p)
{
	struct fs_ctx	 dir = { cfg->path, "auth.pam.confdir" };
	struct fs_ctx	 service = { cfg->path, "auth.pam.service" };
	char		 conf[PATH_MAX] = "/etc/pam.conf";
	bool		 any = false;
	size_t		 i;
	int		 r, rc = 0;

	for (i = 0; i < FS_PAM_NDIRS; i++) {
		if ((r = fs_check_pam_dir(&dir, fs_pam_dirs[i])) == -1)
			rc = -1;
		any |= r == 1;
	}
	if (rc == -1)
		return -1;
	if (!any) {
		if (access(conf, F_OK) == -1)
			return 0;
		if (fs_check_pam_file(&service, conf, sizeof(conf)) == -1)
			return -1;
		p->service_column = true;
		return fs_scan_include(s, &service, conf, 0);
	}
	rc |= fs_check_pam_load(s, &service, cfg->pam_service, 0);
	rc |= fs_check_pam_load(s, &service, "other", 0);
	if (access(fs_pam_dirs[0], F_OK) == 0)
		rc |= fs_check_pam_others(cfg, fs_pam_dirs[0]);
	return rc;
}

/* pam_start_confdir() has no fallback: the service must be in confdir. */
int
fs_check_pam(struct config *cfg)
{
	struct fs_ctx		 dir = { cfg->path, "auth.pam.confdir" };
	struct fs_ctx		 service = { cfg->path, "auth.pam.service" };
	struct fs_pam_scan	 p = { cfg, false, fs_pam_dirs, FS_PAM_NDIRS };
	struct fs_scan		 s;
	char			 file[PATH_MAX];
	int			 rc = 0;

	if (cfg->auth_backend != AUTH_BACKEND_PAM)
		return 0;
	fs_pam_scan_init(&s, &p);
	if (cfg->pam_confdir[0] == '\0')
		return fs_check_pam_system(cfg, &s, &p);
	/* What the service includes by a relative name is in /etc/pam.d. */
	p.include_ndirs = 1;
	if (fs_check_pam_dir(&dir, fs_pam_dirs[0]) == -1 ||
	    fs_check_object(&dir, cfg->pam_confdir, sizeof(cfg->pam_confdir),
	    FS_HOLDER) == -1)
		return -1;
	if (fs_join(&service, file, sizeof(file), cfg->pam_confdir,
	    cfg->pam_service) == -1 ||
	    fs_check_pam_file(&service, file, sizeof(file)) == -1)
		return -1;
	rc |= fs_scan_include(&s, &service, file, 0);
	rc |= fs_check_pam_load(&s, &service, "other", 0);
	rc |= fs_check_pam_others(cfg, cfg->pam_confdir);
	return rc;
}

