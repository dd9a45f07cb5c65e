#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "audit_read.h"
#include "tg_limits.h"

_Static_assert(AUDIT_READ_BUF > 2 * AUDIT_CHAINED_LINE_MAX,
    "the read buffer holds a whole line after any partial one");

struct audit_src {
	gzFile		 gz;
	char		*name;
	char		*buf;
	size_t		 start, end;	/* unread bytes */
	uint64_t	 lineno;
	bool		 skipping;	/* inside a line that is too long */
	bool		 eof;
};

struct audit_src *
audit_src_fdopen(int fd, const char *name, char *err, size_t errlen)
{
	struct audit_src	*s;

	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->buf = malloc(AUDIT_READ_BUF)) == NULL ||
	    (s->name = strdup(name)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", name);
		goto fail;
	}
	/* gzread reads a file that is not gzip as it is. */
	if ((s->gz = gzdopen(fd, "rb")) == NULL) {
		snprintf(err, errlen, "%s: cannot read: %s", name,
		    strerror(errno ? errno : ENOMEM));
		goto fail;
	}
	gzbuffer(s->gz, 256 * 1024);
	return s;
fail:
	close(fd);
	if (s != NULL) {
		free(s->buf);
		free(s->name);
	}
	free(s);
	return NULL;
}

struct audit_src *
audit_src_open(const char *path, char *err, size_t errlen)
{
	int	 fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	return audit_src_fdopen(fd, path, err, errlen);
}

const char *
audit_src_name(const struct audit_src *s)
{
	return s->name;
}

void
audit_src_close(struct audit_src *s)
{
	if (s == NULL)
		return;
	gzclose(s->gz);
	free(s->buf);
	free(s->name);
	free(s);
}

/* Move what is left to the front and read more; -1 on a read error. */
static int
src_fill(struct audit_src *s, char *err, size_t errlen)
{
	int	 n, zerr;

	if (s->start > 0) {
		memmove(s->buf, s->buf + s->start, s->end - s->start);
		s->end -= s->start;
		s->start = 0;
	}
	n = gzread(s->gz, s->buf + s->end, (unsigned)(AUDIT_READ_BUF - s->end));
	if (n < 0) {
		snprintf(err, errlen, "%s: %s", s->name, gzerror(s->gz, &zerr));
		return -1;
	}
	if (n == 0) {
		/* A file still being written may grow: read on next time. */
		s->eof = true;
		gzclearerr(s->gz);
	}
	s->end += (size_t)n;
	return 0;
}

int
audit_src_next(struct audit_src *s, struct audit_line *l, bool follow,
    char *err, size_t errlen)
{
	char	*nl;
	size_t	 have;

	s->eof = false;
	for (;;) {
		have = s->end - s->start;
		nl = memchr(s->buf + s->start, '\n', have);
		if (s->skipping) {
			s->start = nl != NULL ? (size_t)(nl - s->buf) + 1 : s->end;
			if (nl != NULL)
				s->skipping = false;
			else if (s->eof)
				return 0;
			else if (src_fill(s, err, errlen) == -1)
				return -1;
			continue;
		}
		if (nl != NULL && (size_t)(nl - (s->buf + s->start)) <=
		    AUDIT_CHAINED_LINE_MAX) {
			*l = (struct audit_line){ .p = s->buf + s->start,
			    .len = (size_t)(nl - (s->buf + s->start)),
			    .lineno = ++s->lineno };
			s->start += l->len + 1;
			return 1;
		}
		if (have > AUDIT_CHAINED_LINE_MAX) {
			*l = (struct audit_line){ .lineno = ++s->lineno,
			    .too_long = true };
			s->skipping = true;
			return 1;
		}
		if (s->eof) {
			if (have == 0 || follow)
				return 0;
			*l = (struct audit_line){ .p = s->buf + s->start,
			    .len = have, .lineno = ++s->lineno, .torn = true };
			s->start = s->end;
			return 1;
		}
		if (src_fill(s, err, errlen) == -1)
			return -1;
	}
}

void
audit_line_time(const char *line, size_t len, char out[AUDIT_TIME_LEN + 1])
{
	static const char	 key[] = "\"time\":\"";
	const char		*p;

	out[0] = '\0';
	/* tunnelgated writes it second, after "v": look only there. */
	if (len > 64)
		len = 64;
	p = memmem(line, len, key, sizeof(key) - 1);
	if (p == NULL)
		return;
	p += sizeof(key) - 1;
	if ((size_t)(line + len - p) < AUDIT_TIME_LEN + 1 ||
	    p[AUDIT_TIME_LEN] != '"')
		return;
	/* Only the stamp's own characters: a NUL would shorten the key. */
	for (size_t i = 0; i < AUDIT_TIME_LEN; i++)
		if (p[i] == '\0' || strchr("0123456789-:.TZ", p[i]) == NULL)
			return;
	memcpy(out, p, AUDIT_TIME_LEN);
	out[AUDIT_TIME_LEN] = '\0';
}
