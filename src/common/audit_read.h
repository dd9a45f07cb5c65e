/*
 * Reading audit logs (docs/audit-log.md) as tunnelgatectl does: plain or
 * gzip files, one line at a time in a fixed-size buffer whatever the file
 * size, and a parser for one line's flat JSON object. Everything read is
 * untrusted: a line longer than AUDIT_CHAINED_LINE_MAX or not a flat JSON
 * object is reported, never guessed at.
 */
#ifndef TG_AUDIT_READ_H
#define TG_AUDIT_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes read from a file at a time. */
#define AUDIT_READ_BUF		(1024 * 1024)
/* The time field's fixed form: 2026-11-23T08:54:02.518Z */
#define AUDIT_TIME_LEN		24

struct audit_src;

struct audit_line {
	const char	*p;		/* without its '\n'; valid until next */
	size_t		 len;
	uint64_t	 lineno;	/* 1-based, in its file */
	bool		 too_long;	/* over AUDIT_CHAINED_LINE_MAX: p NULL */
	bool		 torn;		/* the file ended without its '\n' */
};

/* NULL with a message in err if the file cannot be opened. */
struct audit_src *audit_src_open(const char *path, char *err, size_t errlen);
/* The same on an open descriptor, which the source then owns. */
struct audit_src *audit_src_fdopen(int fd, const char *name, char *err,
	    size_t errlen);
/*
 * 1: the next line is in *l; 0: end of the file; -1: read error (message
 * in err). With follow set, a torn last line stays until its end arrives.
 */
int	 audit_src_next(struct audit_src *, struct audit_line *l, bool follow,
	    char *err, size_t errlen);
const char *audit_src_name(const struct audit_src *);
void	 audit_src_close(struct audit_src *);

/* The fields tunnelgatectl knows; a string field absent is "". */
struct audit_entry {
	const char	*time, *event, *role, *tunnel, *client, *proxy, *user,
			*target, *resolved, *rule, *reason, *closed_by, *prev;
	uint64_t	 v, seq, bytes_up, bytes_down, duration_ms;
	unsigned	 has;		/* AUDIT_HAS_* of the numbers present */
};

#define AUDIT_HAS_V		0x01u
#define AUDIT_HAS_SEQ		0x02u
#define AUDIT_HAS_BYTES_UP	0x04u
#define AUDIT_HAS_BYTES_DOWN	0x08u
#define AUDIT_HAS_DURATION	0x10u

/*
 * Parse one line (without '\n') into e. Strings are unescaped into
 * scratch, which must hold len + 1 bytes; e points into it. 0, or -1 with
 * a short reason in *why.
 */
int	 audit_entry_parse(const char *line, size_t len, struct audit_entry *e,
	    char *scratch, const char **why);

/*
 * The time of a line as written ("" if it has none where tunnelgated puts
 * it), without a full parse: what merging files in time order compares.
 */
void	 audit_line_time(const char *line, size_t len,
	    char out[AUDIT_TIME_LEN + 1]);

#endif
