/*
 * What the include scan targets share: a private directory of files an
 * input may include, the input written beside them, and the bound on a
 * line both scans refuse beyond.
 */
#ifndef TG_FUZZ_FS_FILES_H
#define TG_FUZZ_FS_FILES_H

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct fz_file {
	const char	*name;
	const char	*text;	/* NULL: a directory */
	mode_t		 mode;
};

static void
check(int cond)
{
	if (!cond)
		abort();
}

static void
fz_write(const char *path, const void *p, size_t n, mode_t mode)
{
	FILE	*f;

	check((f = fopen(path, "we")) != NULL);
	check(fwrite(p, 1, n, f) == n);
	check(fclose(f) == 0);
	check(chmod(path, mode) == 0);
}

/* Makes dir (a mkdtemp() template) and the n files in it. */
static void
fz_make_files(char *dir, const struct fz_file *files, size_t n)
{
	char	 p[PATH_MAX];

	check(mkdtemp(dir) != NULL && chmod(dir, 0755) == 0);
	for (size_t i = 0; i < n; i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, files[i].name);
		if (files[i].text == NULL)
			check(mkdir(p, files[i].mode) == 0);
		else
			fz_write(p, files[i].text, strlen(files[i].text),
			    files[i].mode);
	}
}

/* Removes the n files of dir; the caller removes dir once it is empty. */
static void
fz_remove_files(const char *dir, const struct fz_file *files, size_t n)
{
	char	 p[PATH_MAX];

	for (size_t i = 0; i < n; i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, files[i].name);
		if (files[i].text == NULL)
			rmdir(p);
		else
			unlink(p);
	}
}

/* Whether a line of d, its newline not counted, is over max. */
static int
fz_long_line(const uint8_t *d, size_t n, size_t max)
{
	size_t	 start = 0;

	for (size_t i = 0; i <= n; i++)
		if (i == n || d[i] == '\n') {
			if (i - start > max)
				return 1;
			start = i + 1;
		}
	return 0;
}

#endif
