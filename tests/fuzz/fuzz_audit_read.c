/*
 * fuzz_audit_read: what tunnelgatectl audit does with a file it is given:
 * the streaming reader (plain or gzip, lines split in a fixed buffer, too
 * long and torn lines), the JSON line parser, the chain fields and the
 * time the merge compares. Every field the parser returns must lie inside
 * the scratch buffer it was given and be NUL-terminated there.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "audit_chain.h"
#include "audit_read.h"
#include "tg_limits.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define check(x)	do { if (!(x)) { \
	fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #x); abort(); } } while (0)

static char	 scratch[AUDIT_CHAINED_LINE_MAX + 1];

static void
check_field(const char *f)
{
	check(f >= scratch && f < scratch + sizeof(scratch));
	check(memchr(f, '\0', (size_t)(scratch + sizeof(scratch) - f)) != NULL);
}

static void
one_line(const struct audit_line *l)
{
	struct audit_entry	 e;
	const char		*why = NULL;
	char			 t[AUDIT_TIME_LEN + 1], prev[AUDIT_HASH_HEX + 1];
	uint64_t		 seq;

	if (l->too_long) {
		check(l->p == NULL);
		return;
	}
	check(l->len <= AUDIT_CHAINED_LINE_MAX);
	check(memchr(l->p, '\n', l->len) == NULL);
	audit_line_time(l->p, l->len, t);
	check(strlen(t) == 0 || strlen(t) == AUDIT_TIME_LEN);
	if (audit_chain_parse(l->p, l->len, &seq, prev) == 0)
		check(strlen(prev) == AUDIT_HASH_HEX);
	if (audit_entry_parse(l->p, l->len, &e, scratch, &why) == -1) {
		check(why != NULL);
		return;
	}
	const char *const fields[] = { e.time, e.event, e.role, e.tunnel,
	    e.client, e.proxy, e.user, e.target, e.resolved, e.rule, e.reason,
	    e.closed_by, e.prev };
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		check_field(fields[i]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct audit_src	*s;
	struct audit_line	 l;
	char			 err[256];
	int			 fd, r;

	if ((fd = memfd_create("fuzz_audit", MFD_CLOEXEC)) == -1)
		return 0;
	if (write(fd, data, size) != (ssize_t)size || lseek(fd, 0, SEEK_SET) != 0) {
		close(fd);
		return 0;
	}
	if ((s = audit_src_fdopen(fd, "fuzz", err, sizeof(err))) == NULL)
		return 0;
	while ((r = audit_src_next(s, &l, false, err, sizeof(err))) == 1)
		one_line(&l);
	audit_src_close(s);
	return 0;
}
