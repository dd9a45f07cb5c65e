/*
 * The @include scan of fs_check.c (fs_check_includes() and
 * fs_include_line()) on arbitrary text: the text is written to one file in
 * a private directory made at start-up, beside files an input may name,
 * and scanned as tunnelgated scans its configuration. Besides memory
 * errors, abort when the scan breaks its contract: 0 or -1 only; text with
 * no "@include", no NUL and no line over FS_LINE_MAX passes; a NUL byte or
 * a longer line fails.
 * An input may name itself: the scan reads each file once, so it ends.
 *
 * The Makefile's fuzz rule links only the parsers' sources, so the checks
 * (src/master/fs_check*.c) are compiled into this file.
 */
#include "../../src/master/fs_check.c"
#include "../../src/master/fs_check_pam.c"
#include "../../src/master/fs_check_scan.c"

#include "fuzz_fs_files.h"

int	 LLVMFuzzerInitialize(int *, char ***);
int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FZ_INPUT	"fuzz.conf"

/*
 * Files an input may @include: one that passes, two that include each
 * other (the depth bound), one others may write, one that is no file.
 */
static const struct fz_file fz_files[] = {
	{ "plain.conf", "log = { level = \"debug\"; };\n", 0644 },
	{ "a.conf", "@include \"b.conf\"\n", 0644 },
	{ "b.conf", "  @include \"a.conf\" # back\n", 0644 },
	{ "open.conf", "cache = { max_entries = 10; };\n", 0666 },
	{ "sub", NULL, 0755 },
};
#define FZ_NFILES	(sizeof(fz_files) / sizeof(fz_files[0]))

static char	 fz_dir[] = "/tmp/fuzz_config_include.XXXXXX";
static char	 fz_path[PATH_MAX];

static void
fz_cleanup(void)
{
	fz_remove_files(fz_dir, fz_files, FZ_NFILES);
	unlink(fz_path);
	rmdir(fz_dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* Refusals are formatted but not written: libFuzzer's output stays readable. */
	log_init("fuzz_config_include", false, LOG_LVL_ERROR);
	fz_make_files(fz_dir, fz_files, FZ_NFILES);
	atexit(fz_cleanup);
	snprintf(fz_path, sizeof(fz_path), "%s/%s", fz_dir, FZ_INPUT);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int	 r;

	fz_write(fz_path, data, size, 0644);
	r = fs_check_includes(fz_dir, fz_path);
	check(r == 0 || r == -1);
	if (fz_long_line(data, size, FS_LINE_MAX) ||
	    memchr(data, '\0', size) != NULL)
		check(r == -1);
	else if (memmem(data, size, "@include", 8) == NULL)
		check(r == 0);
	return 0;
}
