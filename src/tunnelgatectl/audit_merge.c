#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit_chain.h"
#include "audit_cmd.h"

void
audit_bad_line(struct audit_bad *b, const char *name,
    const struct audit_line *l, const char *why)
{
	/* A damaged file must not flood the terminal. */
	if (++b->count <= 10)
		fprintf(stderr, "tunnelgatectl audit: %s:%llu: %s; skipped\n",
		    name, (unsigned long long)l->lineno, why);
	else if (b->count == 11)
		fprintf(stderr, "tunnelgatectl audit: more lines skipped; "
		    "the count follows at the end\n");
}

int
audit_merge_open(struct audit_merge *m, char **paths, size_t n)
{
	char	 err[512];

	memset(m, 0, sizeof(*m));
	if ((m->src = calloc(n, sizeof(*m->src))) == NULL ||
	    (m->cur = calloc(n, sizeof(*m->cur))) == NULL ||
	    (m->time = calloc(n, sizeof(*m->time))) == NULL ||
	    (m->seq = calloc(n, sizeof(*m->seq))) == NULL ||
	    (m->seq_read = calloc(n, sizeof(*m->seq_read))) == NULL ||
	    (m->live = calloc(n, sizeof(*m->live))) == NULL) {
		fprintf(stderr, "tunnelgatectl audit: out of memory\n");
		audit_merge_close(m);
		return -1;
	}
	m->n = n;
	for (size_t i = 0; i < n; i++)
		if ((m->src[i] = audit_src_open(paths[i], err,
		    sizeof(err))) == NULL) {
			fprintf(stderr, "tunnelgatectl audit: %s\n", err);
			audit_merge_close(m);
			return -1;
		}
	return 0;
}

/*
 * The chain seq of file i's current line, parsed the first time it is
 * asked for: only lines of one millisecond need it.
 */
static uint64_t
merge_seq(struct audit_merge *m, size_t i)
{
	char	 prev[AUDIT_HASH_HEX + 1];

	if (!m->seq_read[i]) {
		m->seq_read[i] = true;
		if (audit_chain_parse(m->cur[i].p, m->cur[i].len, &m->seq[i],
		    prev) != 0)
			m->seq[i] = UINT64_MAX;
	}
	return m->seq[i];
}

/* The next line of file i into cur[i]; -1 on a read error. */
static int
merge_pull(struct audit_merge *m, size_t i)
{
	char	 err[512];
	int	 r;

	if (m->src[i] == NULL)
		return 0;
	r = audit_src_next(m->src[i], &m->cur[i], false, err, sizeof(err));
	if (r == -1) {
		fprintf(stderr, "tunnelgatectl audit: %s\n", err);
		return -1;
	}
	m->live[i] = r == 1;
	m->time[i][0] = '\0';
	m->seq[i] = UINT64_MAX;
	/* One file is read in its own order: nothing to compare. */
	m->seq_read[i] = m->n == 1 || m->cur[i].p == NULL;
	if (r == 1 && m->n > 1 && m->cur[i].p != NULL)
		audit_line_time(m->cur[i].p, m->cur[i].len, m->time[i]);
	return 0;
}

int
audit_merge_next(struct audit_merge *m, struct audit_line *l,
    const char **name)
{
	size_t	 i, best = m->n;
	int	 cmp;

	for (i = 0; i < m->n; i++)
		if (!m->live[i] && m->src[i] != NULL) {
			if (merge_pull(m, i) == -1)
				return -1;
			if (!m->live[i]) {
				/* Done with it: its buffer is freed at once. */
				audit_src_close(m->src[i]);
				m->src[i] = NULL;
			}
		}
	/* Lines of one millisecond, across a rotation, by their chain. */
	for (i = 0; i < m->n; i++) {
		if (!m->live[i])
			continue;
		if (best == m->n || (cmp = strcmp(m->time[i],
		    m->time[best])) < 0 || (cmp == 0 &&
		    merge_seq(m, i) < merge_seq(m, best)))
			best = i;
	}
	if (best == m->n)
		return 0;
	*l = m->cur[best];
	*name = audit_src_name(m->src[best]);
	m->live[best] = false;
	return 1;
}

void
audit_merge_close(struct audit_merge *m)
{
	for (size_t i = 0; m->src != NULL && i < m->n; i++)
		audit_src_close(m->src[i]);
	free(m->src);
	free(m->cur);
	free(m->time);
	free(m->seq);
	free(m->seq_read);
	free(m->live);
	memset(m, 0, sizeof(*m));
}
