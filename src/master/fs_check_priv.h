/*
 * What fs_check.c and fs_check_pam.c share: how a check names what it
 * checks, and the checks of one path.
 */
#ifndef TG_FS_CHECK_PRIV_H
#define TG_FS_CHECK_PRIV_H

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>

#include "config.h"

/*
 * The longest line, without its newline, of a file scanned for includes:
 * room for any setting with a PATH_MAX path, and a bound on what a scan
 * holds in memory.
 */
#define FS_LINE_MAX		(2 * PATH_MAX)

enum fs_kind {
	FS_FILE,	/* read by the daemon */
	FS_SECRET,	/* a key or a password: also closed to group and others */
	FS_DIR,		/* the chroot */
	FS_HOLDER,	/* a directory holding the files that matter */
};

/* Who asks, for the front of every message: "CONFIG: SETTING: ". */
struct fs_ctx {
	const char	*where;
	const char	*setting;
};

void	 fs_complain(const struct fs_ctx *, const char *, ...)
    __attribute__((format(printf, 2, 3)));
/* Checks path (size bytes) and the directories above it; resolves it. */
int	 fs_check_object(const struct fs_ctx *, char *path, size_t size,
	    enum fs_kind);
/*
 * Checks the directory holding path and resolves path into it; *st gets
 * the name's lstat(), st_mode 0 if it does not exist.
 */
int	 fs_check_holder(const struct fs_ctx *, char *path, size_t size,
	    struct stat *st);
/* dir/name into out (size bytes). */
int	 fs_join(const struct fs_ctx *, char *out, size_t size,
	    const char *dir, const char *name);
/*
 * One line of f, at most FS_LINE_MAX bytes: 1, 0 at the end, -1 too long,
 * FS_LINE_NUL if it holds a NUL byte (libconfig and PAM would end a value
 * there and silently drop the rest).
 */
#define FS_LINE_NUL	(-2)
int	 fs_read_line(FILE *f, char *line, size_t size);
/*
 * Says why a scan of file stopped at line lineno before its end (r, what
 * the read returned): too_long (or the configuration's bound if NULL) for
 * a line that did not fit; -1.
 */
int	 fs_scan_failed(const char *file, unsigned lineno, FILE *f, int r,
	    const char *too_long);
/*
 * The most files one include scan reads (fs_check_scan.c): far more than
 * a configuration or a PAM stack pulls in, and a bound on the memo.
 */
#define FS_SCAN_FILES		256

/* What an include scan remembers of a file it read. */
struct fs_scanned {
	dev_t		 dev;
	ino_t		 ino;
	unsigned	 depth;		/* the shallowest it was read at */
	unsigned	 height;	/* how many levels its includes go */
	bool		 open;		/* being read: reaching it is a loop */
};

/*
 * An include scan: read_line() gives the next line of a file (1, 0 at its
 * end, -1 if too long) and counts the lines read in *lineno; line() checks
 * what it includes, at depth + 1, through fs_scan_include().
 */
struct fs_scan {
	int		(*read_line)(FILE *, char *, size_t, unsigned *);
	int		(*line)(struct fs_scan *, const char *file,
			    unsigned lineno, char *line, unsigned depth);
	const void	 *arg;		/* what line() needs */
	const char	 *too_long;	/* why a line is too long, or NULL */
	unsigned	  limit;	/* files are read at depths below it */
	bool		  too_deep_refused;
	unsigned	  reach;	/* the deepest depth the read reached */
	size_t		  n;
	struct fs_scanned files[FS_SCAN_FILES];
};

/*
 * Reads file, reached at depth, and what it includes, unless an earlier
 * read covers it; a complaint names x when it goes deeper than s->limit.
 */
int	 fs_scan_include(struct fs_scan *s, const struct fs_ctx *x,
	    const char *file, unsigned depth);
/* The PAM service and every file libpam loads with it (fs_check_pam.c). */
int	 fs_check_pam(struct config *);

#endif
