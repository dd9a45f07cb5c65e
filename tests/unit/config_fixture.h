/*
 * Fixture shared by test_config.c and test_config_errors.c (each is its own
 * program, so the helpers are static here and both files use every one): a
 * fresh temporary directory per test, a config file written into it, and
 * config_load() with its stderr captured for checking the messages.
 */
#ifndef TG_TEST_CONFIG_FIXTURE_H
#define TG_TEST_CONFIG_FIXTURE_H

#include <sys/stat.h>

#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

#define LISTEN		"listen = ( { address = \"127.0.0.1\"; port = 8443; } );\n"
#define TLS_WITH(x)	"tls = { certificate = \"cert.pem\"; key = \"key.pem\"; " \
			x " };\n"
#define TLS		TLS_WITH("")
#define MINIMAL		LISTEN TLS

struct fx {
	char		 dir[PATH_MAX];		/* real path of a fresh tmpdir */
	char		 conf[PATH_MAX];	/* dir/tunnelgated.conf */
	struct config	*cfg;
	char		*log;			/* stderr of the last load */
};

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
setup(void **state)
{
	struct fx	*fx;
	char		 tmpl[PATH_MAX];
	const char	*tmp = getenv("TMPDIR");
	int		 n;

	if ((fx = calloc(1, sizeof(*fx))) == NULL ||
	    (fx->cfg = calloc(1, sizeof(*fx->cfg))) == NULL)
		return -1;
	n = snprintf(tmpl, sizeof(tmpl), "%s/tg-config-XXXXXX",
	    tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
	if (n < 0 || (size_t)n >= sizeof(tmpl) || mkdtemp(tmpl) == NULL || realpath(tmpl, fx->dir) == NULL)
		return -1;
	n = snprintf(fx->conf, sizeof(fx->conf), "%s/tunnelgated.conf",
	    fx->dir);
	if (n < 0 || (size_t)n >= sizeof(fx->conf))
		return -1;
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx	*fx = *state;
	int		 rc;

	rc = nftw(fx->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(fx->log);
	free(fx->cfg);
	free(fx);
	return rc;
}

static void
write_file(const char *path, const char *text)
{
	FILE	*fp;

	assert_non_null(fp = fopen(path, "w"));
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

static char *
read_all(const char *path)
{
	FILE	*fp;
	char	*buf;
	long	 len;

	assert_non_null(fp = fopen(path, "r"));
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	assert_true((len = ftell(fp)) >= 0);
	rewind(fp);
	assert_non_null(buf = calloc(1, (size_t)len + 1));
	assert_int_equal(fread(buf, 1, (size_t)len, fp), (size_t)len);
	fclose(fp);
	return buf;
}

/* config_load(file) with stderr captured into fx->log. */
static int
load_file(struct fx *fx, const char *file)
{
	char	 logpath[PATH_MAX];
	int	 fd, saved, rc, n;

	n = snprintf(logpath, sizeof(logpath), "%s/stderr.log", fx->dir);
	assert_true(n > 0 && (size_t)n < sizeof(logpath));
	fflush(stderr);
	assert_true((saved = dup(STDERR_FILENO)) != -1);
	assert_true((fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600))
	    != -1);
	assert_true(dup2(fd, STDERR_FILENO) != -1);
	close(fd);
	rc = config_load(file, fx->cfg);
	fflush(stderr);
	assert_true(dup2(saved, STDERR_FILENO) != -1);
	close(saved);
	free(fx->log);
	fx->log = read_all(logpath);
	unlink(logpath);
	return rc;
}

static int
load(struct fx *fx, const char *text)
{
	write_file(fx->conf, text);
	return load_file(fx, fx->conf);
}

static int
loadf(struct fx *fx, const char *fmt, ...)
{
	va_list	 ap;
	char	*text;
	int	 n, rc;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	assert_true(n >= 0);
	assert_non_null(text = malloc((size_t)n + 1));
	va_start(ap, fmt);
	vsnprintf(text, (size_t)n + 1, fmt, ap);
	va_end(ap);
	rc = load(fx, text);
	free(text);
	return rc;
}

static bool
has_msg(const struct fx *fx, const char *file, unsigned line, const char *msg)
{
	char	 want[2 * PATH_MAX];

	int	 n;

	if (line > 0)
		n = snprintf(want, sizeof(want), "%s:%u: %s", file, line, msg);
	else
		n = snprintf(want, sizeof(want), "%s: %s", file, msg);
	assert_true(n > 0 && (size_t)n < sizeof(want));
	return strstr(fx->log, want) != NULL;
}

static void
expect_msg(const struct fx *fx, unsigned line, const char *msg)
{
	if (!has_msg(fx, fx->conf, line, msg))
		fail_msg("no \"%s:%u: %s\" in the log:\n%s", fx->conf, line,
		    msg, fx->log);
}

static unsigned
count_lines(const char *s)
{
	unsigned	 n = 0;

	for (; *s != '\0'; s++)
		n += *s == '\n';
	return n;
}

static void
expect_ok(struct fx *fx, int rc)
{
	if (rc != 0 || fx->log[0] != '\0')
		fail_msg("load failed (%d):\n%s", rc, fx->log);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

#endif /* TG_TEST_CONFIG_FIXTURE_H */
