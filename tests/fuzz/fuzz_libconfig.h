/*
 * What the fuzz targets of libconfig input (fuzz_config.c, fuzz_policy.c,
 * fuzz_policy_lint.c) share: libFuzzer's entry points, the leak that is
 * libconfig's own, and the abort that turns a broken contract into a
 * crash. Include it from one file of a target only: each target is a
 * program of its own.
 */
#ifndef TG_FUZZ_LIBCONFIG_H
#define TG_FUZZ_LIBCONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int		 LLVMFuzzerInitialize(int *, char ***);
int		 LLVMFuzzerTestOneInput(const uint8_t *, size_t);
const char	*__lsan_default_suppressions(void);

/*
 * libconfig 1.5 drops a string token its scanner has read when a syntax
 * error follows it (e.g. `a = (0"x");` or `a = ("" ]`), a leak of its own
 * that no caller can free. Only the scanner's token allocations are
 * excused: a missing config_destroy() or policy_free() is still reported
 * through the parser's and our own frames.
 */
const char *
__lsan_default_suppressions(void)
{
	return "leak:strbuf_append\nleak:libconfig_yylex\n";
}

static void
check(int cond)
{
	if (!cond)
		abort();
}

#endif
