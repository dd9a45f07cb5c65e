/*
 * Time zones for rule windows, read from the system's tz database
 * (/usr/share/zoneinfo, RFC 8536 TZif files) when the policy is loaded, so
 * that checking a window later reads no file and touches no environment:
 * the authenticator checks windows while its DNS threads run, where
 * setting TZ for localtime_r() would race with them.
 */
#ifndef TG_POLICY_TZ_H
#define TG_POLICY_TZ_H

#include <stddef.h>
#include <stdint.h>

#define POLICY_TZ_DIR		"/usr/share/zoneinfo"
#define POLICY_TZ_MAX_NAME	64
#define POLICY_TZ_MAX_BYTES	(64u * 1024)	/* a zone file */
#define POLICY_TZ_MAX_TIMES	4096	/* transitions (Debian's: < 400) */
#define POLICY_TZ_MAX_TYPES	256	/* RFC 8536 */

struct policy_tz {
	char		 name[POLICY_TZ_MAX_NAME + 1];
	int64_t		*times;		/* transitions, ascending, UTC */
	int32_t		*offs;		/* UTC offset from each transition on */
	uint32_t	 n_times;
	int32_t		 first_off;	/* before the first transition */
	/* The footer has a daylight-saving rule: later times need it. */
	int		 footer_dst;
};

/*
 * Parse a TZif file of len bytes (version 1 data, or the 64-bit data of
 * version 2 and later). 0, or -1 with why in err.
 */
int	 policy_tz_parse(const uint8_t *buf, size_t len, struct policy_tz *,
	    char *err, size_t errlen);
/* Read POLICY_TZ_DIR/name; 0, or -1 with why in err. */
int	 policy_tz_load(const char *name, struct policy_tz *, char *err,
	    size_t errlen);
/* The UTC offset in seconds at t (seconds since the epoch). */
int32_t	 policy_tz_offset(const struct policy_tz *, int64_t t);
void	 policy_tz_free(struct policy_tz *);

#endif
