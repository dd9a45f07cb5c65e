/*
 * The PAM line parser of fs_check_pam.c (fs_pam_line(), fs_pam_token(),
 * fs_pam_included()) and the include scan it drives, on arbitrary text:
 * the text is written to one file in a private directory made at start-up,
 * used as auth.pam.confdir and (in place of /etc/pam.d) as where included
 * names are looked up, beside files an input may include, and scanned
 * as a pam.d file and as pam.conf (with a service column). Besides memory
 * errors, abort when the parser or the scan breaks its contract: a name is
 * a string inside the line; the scan returns 0 or -1; text with no
 * "include" or "substack", no line that libpam 1.5.2 would not read whole
 * (FS_PAM_LINE_MAX bytes with its newline) and no '\' (which joins lines
 * into a longer one) passes; a longer line fails, whatever it holds (a
 * comment too: libpam would read the rest of it as a line of its own),
 * and so does a NUL byte (libpam would end the line there). An
 * input may name itself or loop: the scan reads each file once. An input
 * naming a file with a '/' is parsed but not scanned: the
 * scan would open it wherever it is (/proc/kmsg blocks a read), and the
 * target opens only what it made.
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

#define FZ_INPUT	"fuzz-service"
/* chain-0 includes chain-1 and so on, one more than FS_PAM_DEPTH allows. */
#define FZ_CHAIN	(FS_PAM_DEPTH + 1)

/*
 * Files an input may include: one that passes, two that include each
 * other (a loop), one others may write, one that is no file.
 */
static const struct fz_file fz_files[] = {
	{ "common-auth", "auth required pam_unix.so nullok\n", 0644 },
	{ "a", "auth [include] b\n", 0644 },
	{ "b", "-session substack a # back\n", 0644 },
	{ "open", "auth sufficient pam_permit.so\n", 0666 },
	{ "sub", NULL, 0755 },
};
#define FZ_NFILES	(sizeof(fz_files) / sizeof(fz_files[0]))

static char		 fz_dir[] = "/tmp/fuzz_pam_include.XXXXXX";
static char		 fz_path[PATH_MAX];
static struct config	 fz_cfg;

static void
fz_chain_name(char *p, size_t size, int i)
{
	snprintf(p, size, "%s/chain-%d", fz_dir, i);
}

static void
fz_cleanup(void)
{
	char	 p[PATH_MAX];

	fz_remove_files(fz_dir, fz_files, FZ_NFILES);
	for (int i = 0; i < FZ_CHAIN; i++) {
		fz_chain_name(p, sizeof(p), i);
		unlink(p);
	}
	unlink(fz_path);
	rmdir(fz_dir);
}

static void
fz_make_chain(void)
{
	char	 p[PATH_MAX], text[64];

	for (int i = 0; i < FZ_CHAIN; i++) {
		fz_chain_name(p, sizeof(p), i);
		snprintf(text, sizeof(text), "auth include chain-%d\n", i + 1);
		fz_write(p, text, i + 1 < FZ_CHAIN ? strlen(text) : 0, 0644);
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* Refusals are formatted but not written: libFuzzer's output stays readable. */
	log_init("fuzz_pam_include", false, LOG_LVL_ERROR);
	fz_make_files(fz_dir, fz_files, FZ_NFILES);
	atexit(fz_cleanup);
	fz_make_chain();
	snprintf(fz_path, sizeof(fz_path), "%s/%s", fz_dir, FZ_INPUT);
	snprintf(fz_cfg.pam_confdir, sizeof(fz_cfg.pam_confdir), "%s", fz_dir);
	return 0;
}

/*
 * Parses d as the scan does; whether a name it includes has a '/'. Each
 * name must lie in the line it was cut from.
 */
static bool
fz_names_a_path(const uint8_t *d, size_t n, bool service_column)
{
	char		 line[FS_LINE_MAX + 1];
	const char	*name;
	unsigned	 lineno = 0, last = 0;
	bool		 slash = false;
	FILE		*f;
	int		 r;

	if (n == 0)
		return false;
	check((f = fmemopen((void *)(uintptr_t)d, n, "r")) != NULL);
	while ((r = fs_pam_line(f, line, sizeof(line), &lineno)) == 1) {
		check(lineno > last);
		last = lineno;
		if ((name = fs_pam_included(line, service_column)) == NULL)
			continue;
		check(name >= line && name + strlen(name) < line + sizeof(line));
		slash |= strchr(name, '/') != NULL;
	}
	check(r == 0 || r == -1 || r == FS_LINE_NUL);
	fclose(f);
	return slash;
}

/* Whether d has s, whatever its case, as libpam compares the control. */
static int
fz_has(const uint8_t *d, size_t n, const char *s)
{
	size_t	 len = strlen(s);

	for (size_t i = 0; i + len <= n; i++)
		if (strncasecmp((const char *)d + i, s, len) == 0)
			return 1;
	return 0;
}

static void
fz_scan(const uint8_t *data, size_t size, bool service_column)
{
	static const struct fs_ctx	 x = { "", "" };
	const char			*dirs[] = { fz_dir };
	struct fs_pam_scan		 p = { &fz_cfg, service_column, dirs, 1 };
	struct fs_scan			 s;
	int				 r;

	if (fz_names_a_path(data, size, service_column))
		return;
	fs_pam_scan_init(&s, &p);
	r = fs_scan_include(&s, &x, fz_path, 0);
	check(r == 0 || r == -1);
	if (fz_long_line(data, size, FS_PAM_LINE_MAX - 1) ||
	    memchr(data, '\0', size) != NULL)
		check(r == -1);
	else if (!fz_has(data, size, "include") &&
	    !fz_has(data, size, "substack") && memchr(data, '\\', size) == NULL)
		check(r == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_write(fz_path, data, size, 0644);
	fz_scan(data, size, false);
	fz_scan(data, size, true);
	return 0;
}
