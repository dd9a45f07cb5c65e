/*
 * The @include scan of fs_check.c (fs_check_includes() and
 * fs_include_line()) on arbitrary text: the text is written to one file in
 * a private directory made at start-up, beside files an input may name,
 * and scanned as tunnelgated scans its configuration. Besides memory
 * errors, abort when the scan breaks its contract: 0 or -1 only; text with
 * no "@include" and no line over FS_LINE_MAX passes; a longer line fails.
 * An input that names itself is skipped: each of its lines would scan it
 * again, lines^FS_INCLUDE_DEPTH times, as libconfig itself would read it.
 *
 * The Makefile's fuzz rule links only the parsers' sources, so the checks
 * (src/master/fs_check*.c) are compiled into this file.
 */
#include "../../src/master/fs_check.c"
#include "../../src/master/fs_check_pam.c"

#include <fcntl.h>
#include <stdint.h>

int	 LLVMFuzzerInitialize(int *, char ***);
int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FZ_INPUT	"fuzz.conf"

static void
check(int cond)
{
	if (!cond)
		abort();
}

/*
 * Files an input may @include: one that passes, two that include each
 * other (the depth bound), one others may write, one that is no file.
 */
static const struct {
	const char	*name;
	const char	*text;	/* NULL: a directory */
	mode_t		 mode;
} fz_files[] = {
	{ "plain.conf", "log = { level = \"debug\"; };\n", 0644 },
	{ "a.conf", "@include \"b.conf\"\n", 0644 },
	{ "b.conf", "  @include \"a.conf\" # back\n", 0644 },
	{ "open.conf", "cache = { max_entries = 10; };\n", 0666 },
	{ "sub", NULL, 0755 },
};

static char	 fz_dir[] = "/tmp/fuzz_config_include.XXXXXX";
static char	 fz_path[PATH_MAX];

static void
fz_cleanup(void)
{
	char	 p[PATH_MAX];

	for (size_t i = 0; i < sizeof(fz_files) / sizeof(fz_files[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", fz_dir, fz_files[i].name);
		if (fz_files[i].text == NULL)
			rmdir(p);
		else
			unlink(p);
	}
	unlink(fz_path);
	rmdir(fz_dir);
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

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char	 p[PATH_MAX];

	(void)argc;
	(void)argv;
	/* Refusals are formatted but not written: libFuzzer's output stays readable. */
	log_init("fuzz_config_include", false, LOG_LVL_ERROR);
	check(mkdtemp(fz_dir) != NULL && chmod(fz_dir, 0755) == 0);
	atexit(fz_cleanup);
	for (size_t i = 0; i < sizeof(fz_files) / sizeof(fz_files[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", fz_dir, fz_files[i].name);
		if (fz_files[i].text == NULL)
			check(mkdir(p, fz_files[i].mode) == 0);
		else
			fz_write(p, fz_files[i].text, strlen(fz_files[i].text),
			    fz_files[i].mode);
	}
	snprintf(fz_path, sizeof(fz_path), "%s/%s", fz_dir, FZ_INPUT);
	return 0;
}

/* Whether a line of d, its newline not counted, is over FS_LINE_MAX. */
static int
fz_long_line(const uint8_t *d, size_t n)
{
	size_t	 start = 0;

	for (size_t i = 0; i <= n; i++)
		if (i == n || d[i] == '\n') {
			if (i - start > FS_LINE_MAX)
				return 1;
			start = i + 1;
		}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int	 r;

	if (memmem(data, size, FZ_INPUT, strlen(FZ_INPUT)) != NULL)
		return 0;
	fz_write(fz_path, data, size, 0644);
	r = fs_check_includes(fz_dir, fz_path, 0);
	check(r == 0 || r == -1);
	if (fz_long_line(data, size))
		check(r == -1);
	else if (memmem(data, size, "@include", 8) == NULL)
		check(r == 0);
	return 0;
}
