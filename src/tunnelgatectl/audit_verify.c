/*
 * tunnelgatectl audit --verify: walk the hash chain of audit files and
 * name the first line that breaks it. Files are read as one chain,
 * whatever order they were given in: after each file, the one whose first
 * line links to its last line; when none does (a new chain, or a break to
 * report), the earliest of the rest. To tell an edit from an insertion, a
 * removal or a swap, the line after the break is looked at too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit_chain.h"
#include "audit_cmd.h"
#include "ctl_cmd.h"

struct vline {
	bool		 chained;	/* carries seq and prev */
	uint64_t	 seq;
	char		 prev[AUDIT_HASH_HEX + 1];
	char		 hash[AUDIT_HASH_HEX + 1];
	char		 time[AUDIT_TIME_LEN + 1];
	const char	*file;
	uint64_t	 lineno;
};

struct vfile {
	char		*path;
	struct vline	 first;		/* its first chained line, if any */
	bool		 read;
};

struct verify {
	struct vfile		*files;
	size_t			 nfiles, cur;
	struct audit_src	*src;
	uint64_t		 lines, unchained_head, starts;
	struct vline		 a2, a, b;	/* two back, previous, this */
	bool			 have_a2, have_a, chained_yet;
};

/*
 * The file to read next: the one whose first line follows the last line
 * read, else the first of the rest in verify_order's order; nfiles when
 * all were read.
 */
static size_t
verify_pick(const struct verify *v)
{
	size_t	 i, next = v->nfiles;

	for (i = 0; i < v->nfiles; i++) {
		const struct vline	*f = &v->files[i].first;

		if (v->files[i].read)
			continue;
		if (v->have_a && f->chained && f->seq == v->a.seq + 1 &&
		    strcmp(f->prev, v->a.hash) == 0)
			return i;
		if (next == v->nfiles)
			next = i;
	}
	return next;
}

/* The next line of the chain's files, as seq/prev/hash; 0 at the end. */
static int
verify_next(struct verify *v, struct vline *out)
{
	struct audit_line	 l;
	char			 err[512];
	int			 r;

	for (;;) {
		if (v->src == NULL) {
			if ((v->cur = verify_pick(v)) == v->nfiles)
				return 0;
			v->files[v->cur].read = true;
			if ((v->src = audit_src_open(v->files[v->cur].path, err,
			    sizeof(err))) == NULL)
				goto fail;
		}
		if ((r = audit_src_next(v->src, &l, false, err,
		    sizeof(err))) == -1)
			goto fail;
		if (r == 1)
			break;
		audit_src_close(v->src);
		v->src = NULL;
	}
	memset(out, 0, sizeof(*out));
	out->file = v->files[v->cur].path;
	out->lineno = l.lineno;
	if (l.too_long || l.torn)
		return 1;	/* unchained: a torn or oversized line is no line */
	out->chained = audit_chain_parse(l.p, l.len, &out->seq, out->prev) == 0;
	audit_line_time(l.p, l.len, out->time);
	/* The hash covers the line and its '\n', still there after it. */
	if (audit_chain_hash(l.p, l.len + 1, out->hash) == -1) {
		snprintf(err, sizeof(err), "OpenSSL SHA-256 failed");
		goto fail;
	}
	return 1;
fail:
	fprintf(stderr, "tunnelgatectl audit --verify: %s\n", err);
	return -1;
}

/*
 * Files without a chained line first, then by the time of their first
 * line: the order in which chains began (a chain's later files are found
 * by their links, whatever the clock did), then by sequence number.
 */
static int
vfile_cmp(const void *x, const void *y)
{
	const struct vline	*p = &((const struct vfile *)x)->first;
	const struct vline	*q = &((const struct vfile *)y)->first;
	int			 c;

	if (p->chained != q->chained)
		return p->chained ? 1 : -1;
	if ((c = strcmp(p->time, q->time)) != 0)
		return c;
	return (p->seq > q->seq) - (p->seq < q->seq);
}

/* Each file's first chained line, to order them. */
static int
verify_order(struct verify *v, char **paths, size_t n)
{
	struct vline	 l;

	if ((v->files = calloc(n, sizeof(*v->files))) == NULL)
		return -1;
	v->nfiles = n;
	for (size_t i = 0; i < n; i++) {
		v->files[i].path = paths[i];
		struct verify	 one = { .files = &v->files[i], .nfiles = 1 };
		int		 r;

		while ((r = verify_next(&one, &l)) == 1 && !l.chained)
			;
		audit_src_close(one.src);
		if (r == -1)
			return -1;
		if (r == 1)
			v->files[i].first = l;
		v->files[i].read = false;
	}
	qsort(v->files, n, sizeof(*v->files), vfile_cmp);
	return 0;
}

static int
broken(const struct vline *at, const char *what)
{
	printf("%s:%llu: %s\n", at->file, (unsigned long long)at->lineno, what);
	printf("chain broken\n");
	return CTL_EXIT_WARN;
}

/*
 * b does not follow a: say what happened, looking at c (the line after
 * b, if any) to tell the cases apart.
 */
static int
verify_break(struct verify *v, const struct vline *c)
{
	const struct vline	*a = &v->a, *b = &v->b;
	char			 what[256];

	if (c != NULL && c->chained && strcmp(c->prev, a->hash) == 0 &&
	    c->seq == a->seq + 1) {
		if (strcmp(b->prev, c->hash) == 0 && b->seq == c->seq + 1)
			return broken(b, "reordered: this line and the next "
			    "are swapped");
		return broken(b, "inserted: the lines around it chain "
		    "without it");
	}
	if (v->have_a2 && strcmp(b->prev, v->a2.hash) == 0 &&
	    b->seq == a->seq)
		return broken(a, "inserted: the lines around it chain "
		    "without it");
	if (strcmp(b->prev, a->hash) == 0)
		return broken(b, "edited: its sequence number does not follow "
		    "the line before");
	if (b->seq == a->seq + 1) {
		if (c != NULL && c->chained && strcmp(c->prev, b->hash) == 0)
			return broken(a, "edited: its hash is not what the "
			    "next line records");
		if (c == NULL)
			return broken(a, "edited: its hash is not what the last "
			    "line records (or that line's prev was edited: "
			    "with no line after it, the two cannot be told "
			    "apart)");
		return broken(b, "edited: it does not chain to the line "
		    "before");
	}
	if (b->seq > a->seq + 1) {
		if (b->seq == a->seq + 2)
			snprintf(what, sizeof(what), "removed: sequence %llu is "
			    "missing before this line (or moved elsewhere)",
			    (unsigned long long)a->seq + 1);
		else
			snprintf(what, sizeof(what), "removed: sequences %llu "
			    "to %llu are missing before this line (or moved "
			    "elsewhere)", (unsigned long long)a->seq + 1,
			    (unsigned long long)b->seq - 1);
		return broken(b, what);
	}
	return broken(b, "out of order or inserted: its sequence number goes "
	    "back");
}

/* b is chained: does it follow a? */
static bool
verify_links(const struct verify *v)
{
	return strcmp(v->b.prev, v->a.hash) == 0 && v->b.seq == v->a.seq + 1;
}

static bool
is_new_chain(const struct vline *l)
{
	return l->seq == 1 && strcmp(l->prev, AUDIT_CHAIN_PREV_NONE) == 0;
}

static int
verify_run(struct verify *v)
{
	struct vline	 c;
	int		 r;

	while ((r = verify_next(v, &v->b)) == 1) {
		v->lines++;
		if (!v->b.chained) {
			if (v->chained_yet)
				return broken(&v->b, "inserted or edited: it "
				    "carries no chain fields (seq, prev)");
			v->unchained_head++;
		} else if (!v->chained_yet || !v->have_a) {
			if (is_new_chain(&v->b))
				v->starts++;
			else
				printf("%s:%llu: continues a chain from an "
				    "earlier file (sequence %llu) not given\n",
				    v->b.file, (unsigned long long)v->b.lineno,
				    (unsigned long long)v->b.seq);
			v->chained_yet = true;
		} else if (is_new_chain(&v->b)) {
			/* The daemon started on an empty file. */
			printf("%s:%llu: a new chain starts (tunnelgated "
			    "started with an empty audit file)\n", v->b.file,
			    (unsigned long long)v->b.lineno);
			v->starts++;
		} else if (!verify_links(v)) {
			r = verify_next(v, &c);
			if (r == -1)
				return CTL_EXIT_ERROR;
			return verify_break(v, r == 1 ? &c : NULL);
		}
		if (v->b.chained) {
			v->a2 = v->a;
			v->have_a2 = v->have_a;
			v->a = v->b;
			v->have_a = true;
		}
	}
	if (r == -1)
		return CTL_EXIT_ERROR;
	if (!v->chained_yet) {
		printf("no chained line: nothing to verify\n");
		return CTL_EXIT_WARN;
	}
	if (v->unchained_head > 0)
		printf("%llu line%s before the first chained one carry no "
		    "chain (written before tamper evidence)\n",
		    (unsigned long long)v->unchained_head,
		    v->unchained_head == 1 ? "" : "s");
	printf("chain whole: %llu lines in %zu file%s, up to sequence %llu "
	    "(%s:%llu)\n", (unsigned long long)v->lines, v->nfiles,
	    v->nfiles == 1 ? "" : "s", (unsigned long long)v->a.seq,
	    v->a.file, (unsigned long long)v->a.lineno);
	return CTL_EXIT_OK;
}

int
audit_verify(char **paths, size_t n)
{
	struct verify	 v = { 0 };
	int		 rc;

	if (verify_order(&v, paths, n) == -1) {
		free(v.files);
		return CTL_EXIT_ERROR;
	}
	rc = verify_run(&v);
	audit_src_close(v.src);
	free(v.files);
	return rc;
}
