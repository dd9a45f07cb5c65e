/*
 * The walk through included files shared by the @include scan of the
 * configuration and the include scan of the PAM files. A file included on
 * several lines, by itself or by files included several times, would be
 * read once per path to it: lines^depth times. The walk remembers each file
 * it read, by device and inode of the opened file, with the shallowest depth
 * it was read at and how deep its includes go; reached again no shallower,
 * its checks are done and only the depth bound is left to apply.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>

#include "fs_check_priv.h"
#include "log.h"

/* Beyond the bound a PAM chain is refused; libconfig refuses its own. */
static int
fs_scan_too_deep(const struct fs_scan *s, const struct fs_ctx *x,
    const char *file)
{
	if (!s->too_deep_refused)
		return 0;
	fs_complain(x, "%s: includes nest deeper than %u; is there a loop?",
	    file, s->limit);
	return -1;
}

/* The memo entry of the opened f, made if it is new; NULL after a complaint. */
static struct fs_scanned *
fs_scan_entry(struct fs_scan *s, const struct fs_ctx *x, FILE *f,
    const char *file)
{
	struct fs_scanned	*e;
	struct stat		 st;

	if (fstat(fileno(f), &st) == -1) {
		log_warn("%s: cannot read", file);
		return NULL;
	}
	for (size_t i = 0; i < s->n; i++)
		if (s->files[i].dev == st.st_dev && s->files[i].ino == st.st_ino)
			return &s->files[i];
	if (s->n == FS_SCAN_FILES) {
		fs_complain(x, "%s: the files included reach more than %d; "
		    "include fewer", file, FS_SCAN_FILES);
		return NULL;
	}
	e = &s->files[s->n++];
	*e = (struct fs_scanned){ st.st_dev, st.st_ino, s->limit, 0, false };
	return e;
}

/* Every line of f, at depth; s->reach ends at the deepest depth reached. */
static int
fs_scan_lines(struct fs_scan *s, FILE *f, const char *file, unsigned depth)
{
	char		 line[FS_LINE_MAX + 1];
	unsigned	 lineno = 0;
	int		 r, rc = 0;

	s->reach = depth;
	while ((r = s->read_line(f, line, sizeof(line), &lineno)) == 1)
		if (s->line(s, file, lineno, line, depth) == -1)
			rc = -1;
	if (r < 0 || ferror(f))
		rc = fs_scan_failed(file, lineno + 1, f, r, s->too_long);
	return rc;
}

static unsigned
fs_max(unsigned a, unsigned b)
{
	return a > b ? a : b;
}

/*
 * A file already read, reached again no shallower than before: its checks
 * are done. Still being read, it lies on a loop; otherwise only a path
 * that takes its includes past the bound, where its own read did not, has
 * something left to say.
 */
static int
fs_scan_again(struct fs_scan *s, const struct fs_ctx *x,
    const struct fs_scanned *e, const char *file, unsigned depth)
{
	if (!e->open && depth + e->height < s->limit) {
		s->reach = fs_max(s->reach, depth + e->height);
		return 0;
	}
	s->reach = s->limit;
	if (!e->open && e->depth + e->height >= s->limit)
		return 0;
	return fs_scan_too_deep(s, x, file);
}

int
fs_scan_include(struct fs_scan *s, const struct fs_ctx *x, const char *file,
    unsigned depth)
{
	struct fs_scanned	*e;
	unsigned		 reach = s->reach;
	FILE			*f;
	int			 rc;

	if (depth >= s->limit) {
		s->reach = s->limit;
		return fs_scan_too_deep(s, x, file);
	}
	if ((f = fopen(file, "re")) == NULL) {
		log_warn("%s: cannot read", file);
		return -1;
	}
	if ((e = fs_scan_entry(s, x, f, file)) == NULL)
		rc = -1;
	else if (e->open || depth >= e->depth)
		rc = fs_scan_again(s, x, e, file, depth);
	else {
		e->open = true;
		e->depth = depth;
		rc = fs_scan_lines(s, f, file, depth);
		e->open = false;
		e->height = s->reach - depth;
	}
	s->reach = fs_max(reach, s->reach);
	fclose(f);
	return rc;
}
