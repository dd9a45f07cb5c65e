/*
 * The TZif reader behind policy windows (policy/policy_tz.c): a zone file
 * is read at policy load and trusted by nothing. Besides memory errors,
 * abort unless an accepted file gives ascending transitions, offsets
 * within RFC 8536's range, and an offset for any time asked.
 */
#include <stdint.h>
#include <stdlib.h>

#include "policy_tz.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(int cond)
{
	if (!cond)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int64_t	 probes[] = { INT64_MIN, -1, 0, 1767225600,
				    1782864000, 4102444800, INT64_MAX };
	struct policy_tz	 tz;
	char			 err[256];
	int32_t			 off;
	uint32_t		 i;

	if (policy_tz_parse(data, size, &tz, err, sizeof(err)) == -1) {
		check(err[0] != '\0' && tz.times == NULL);
		return 0;
	}
	for (i = 1; i < tz.n_times; i++)
		check(tz.times[i] > tz.times[i - 1]);
	for (i = 0; i < tz.n_times; i++)
		check(tz.offs[i] >= -89999 && tz.offs[i] <= 93599);
	for (i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		off = policy_tz_offset(&tz, probes[i]);
		check(off >= -89999 && off <= 93599);
	}
	policy_tz_free(&tz);
	return 0;
}
