/*
 * A bounded reader of RFC 8536 TZif files. Every count is checked against
 * the bytes present and against the limits in policy_tz.h before anything
 * is allocated or read; a file that fails any check is refused as a whole.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy_tz.h"

#define TZIF_HEADER	44
/* RFC 8536 3.2: utoff is in [-89999, 93599]. */
#define TZIF_MIN_OFF	(-89999)
#define TZIF_MAX_OFF	93599

struct tzif_counts {
	uint32_t	 isut, isstd, leap, time, type, chr;
};

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static int64_t
be64(const uint8_t *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

static int
tzif_header(const uint8_t *buf, size_t len, struct tzif_counts *c,
    char *err, size_t errlen)
{
	if (len < TZIF_HEADER || memcmp(buf, "TZif", 4) != 0) {
		snprintf(err, errlen, "not a TZif zone file");
		return -1;
	}
	c->isut = be32(buf + 20);
	c->isstd = be32(buf + 24);
	c->leap = be32(buf + 28);
	c->time = be32(buf + 32);
	c->type = be32(buf + 36);
	c->chr = be32(buf + 40);
	if (c->type == 0 || c->type > POLICY_TZ_MAX_TYPES ||
	    c->time > POLICY_TZ_MAX_TIMES || c->chr == 0 ||
	    c->chr > POLICY_TZ_MAX_BYTES || c->leap > POLICY_TZ_MAX_TIMES ||
	    (c->isut != 0 && c->isut != c->type) ||
	    (c->isstd != 0 && c->isstd != c->type)) {
		snprintf(err, errlen, "zone file header has bad counts");
		return -1;
	}
	return 0;
}

/* Bytes of the data block after a header, with tsize-byte times. */
static size_t
tzif_block(const struct tzif_counts *c, size_t tsize)
{
	return (size_t)c->time * tsize + c->time + (size_t)c->type * 6 +
	    c->chr + (size_t)c->leap * (tsize + 4) + c->isstd + c->isut;
}

static int
tzif_data(const uint8_t *d, const struct tzif_counts *c, size_t tsize,
    struct policy_tz *tz, char *err, size_t errlen)
{
	const uint8_t	*idx = d + (size_t)c->time * tsize;
	const uint8_t	*types = idx + c->time;
	int32_t		 offs[POLICY_TZ_MAX_TYPES];
	uint32_t	 i;

	for (i = 0; i < c->type; i++) {
		offs[i] = (int32_t)be32(types + 6 * i);
		if (offs[i] < TZIF_MIN_OFF || offs[i] > TZIF_MAX_OFF ||
		    types[6 * i + 4] > 1 || types[6 * i + 5] >= c->chr) {
			snprintf(err, errlen, "zone file has a bad local time "
			    "type");
			return -1;
		}
	}
	tz->first_off = offs[0];
	if (c->time == 0)
		return 0;
	if ((tz->times = calloc(c->time, sizeof(*tz->times))) == NULL ||
	    (tz->offs = calloc(c->time, sizeof(*tz->offs))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < c->time; i++) {
		tz->times[i] = tsize == 8 ? be64(d + 8 * i) :
		    (int32_t)be32(d + 4 * i);
		if (idx[i] >= c->type || (i > 0 &&
		    tz->times[i] <= tz->times[i - 1])) {
			snprintf(err, errlen, "zone file has a bad "
			    "transition");
			return -1;
		}
		tz->offs[i] = offs[idx[i]];
	}
	tz->n_times = c->time;
	return 0;
}

int
policy_tz_parse(const uint8_t *buf, size_t len, struct policy_tz *tz,
    char *err, size_t errlen)
{
	struct tzif_counts	 c;
	size_t			 off, tsize = 4, n;
	const uint8_t		*footer, *end;

	tz->times = NULL;
	tz->offs = NULL;
	tz->n_times = 0;
	tz->footer_dst = 0;
	if (tzif_header(buf, len, &c, err, errlen) == -1)
		goto fail;
	off = TZIF_HEADER;
	if ((n = tzif_block(&c, 4)) > len - off)
		goto short_file;
	if (buf[4] >= '2') {
		off += n;
		if (tzif_header(buf + off, len - off, &c, err, errlen) == -1)
			goto fail;
		off += TZIF_HEADER;
		tsize = 8;
		if ((n = tzif_block(&c, 8)) > len - off)
			goto short_file;
	}
	if (tzif_data(buf + off, &c, tsize, tz, err, errlen) == -1)
		goto fail;
	off += n;
	/* Footer "\nTZ\n": a rule with a comma has daylight saving. */
	if (tsize == 8 && off < len && buf[off] == '\n') {
		footer = buf + off + 1;
		if ((end = memchr(footer, '\n', len - off - 1)) != NULL)
			tz->footer_dst = memchr(footer, ',',
			    (size_t)(end - footer)) != NULL;
	}
	return 0;
 short_file:
	snprintf(err, errlen, "zone file is truncated");
 fail:
	policy_tz_free(tz);
	return -1;
}

static bool
tz_name_ok(const char *name)
{
	static const char	 ok[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				    "abcdefghijklmnopqrstuvwxyz0123456789_+-/";
	size_t			 len = strnlen(name, POLICY_TZ_MAX_NAME + 1);
	const char		*p;

	if (len == 0 || len > POLICY_TZ_MAX_NAME || strspn(name, ok) != len ||
	    name[0] == '/' || name[len - 1] == '/' || strstr(name, "//"))
		return false;
	/* No component may be "." or "..": the name stays in the tz dir. */
	for (p = name; p != NULL; p = strchr(p, '/'), p = p ? p + 1 : NULL)
		if (p[0] == '.')
			return false;
	return true;
}

static ssize_t
tz_read(int fd, uint8_t *buf, size_t size)
{
	size_t	 len = 0;
	ssize_t	 n;

	while (len < size) {
		if ((n = read(fd, buf + len, size - len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	return (ssize_t)len;
}

int
policy_tz_load(const char *name, struct policy_tz *tz, char *err,
    size_t errlen)
{
	char		 path[sizeof(POLICY_TZ_DIR) + POLICY_TZ_MAX_NAME + 2];
	uint8_t		*buf;
	struct stat	 st;
	ssize_t		 len;
	int		 fd, rc = -1;

	memset(tz, 0, sizeof(*tz));
	if (!tz_name_ok(name)) {
		snprintf(err, errlen, "not a zone name; write a name of the tz "
		    "database such as \"Europe/Berlin\" or \"UTC\"");
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s", POLICY_TZ_DIR, name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		snprintf(err, errlen, "no such zone (%s: %s); see the names "
		    "under %s", path, strerror(errno), POLICY_TZ_DIR);
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > (off_t)POLICY_TZ_MAX_BYTES) {
		snprintf(err, errlen, "%s is not a zone file", path);
		close(fd);
		return -1;
	}
	if ((buf = malloc(POLICY_TZ_MAX_BYTES)) == NULL) {
		snprintf(err, errlen, "out of memory");
		close(fd);
		return -1;
	}
	if ((len = tz_read(fd, buf, POLICY_TZ_MAX_BYTES)) == -1)
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
	else if ((rc = policy_tz_parse(buf, (size_t)len, tz, err,
	    errlen)) == 0)
		snprintf(tz->name, sizeof(tz->name), "%s", name);
	free(buf);
	close(fd);
	return rc;
}

int32_t
policy_tz_offset(const struct policy_tz *tz, int64_t t)
{
	uint32_t	 lo = 0, hi = tz->n_times, mid;

	if (tz->n_times == 0 || t < tz->times[0])
		return tz->first_off;
	/* The last transition at or before t. */
	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (tz->times[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	return tz->offs[lo];
}

void
policy_tz_free(struct policy_tz *tz)
{
	free(tz->times);
	free(tz->offs);
	tz->times = NULL;
	tz->offs = NULL;
	tz->n_times = 0;
}
