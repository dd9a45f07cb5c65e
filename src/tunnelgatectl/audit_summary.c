/*
 * tunnelgatectl audit --summary [--json]: figures over the matching lines,
 * as text or one JSON document, in
 * memory bounded by AUDIT_SUMMARY_KEYS per table and --top per list,
 * whatever the size of the input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "audit.h"
#include "audit_cmd.h"
#include "ctl_text.h"

struct sent {
	char		*key;		/* NULL: free slot */
	uint64_t	 n, bytes, ms;
};

/* Open addressing, grown by doubling up to AUDIT_SUMMARY_KEYS keys. */
struct stab {
	const char	*what;
	struct sent	*e;
	size_t		 cap, n;
	struct sent	 others;	/* keys beyond the cap, added up */
	uint64_t	 others_keys;
};

/* As long as tunnelgated writes them: a list must not cut a name short. */
#define RECORD_SIZE(f)	sizeof(((struct audit_record *)0)->f)

struct top {
	uint64_t	 value;
	char		 time[AUDIT_TIME_LEN + 1];
	char		 tunnel[20], user[RECORD_SIZE(user)];
	char		 target[RECORD_SIZE(target)];
};

struct audit_summary {
	size_t		 ntop;
	struct stab	 events, users, denied, failed;
	struct top	*longest, *biggest;
	size_t		 nlongest, nbiggest;
	uint64_t	 open, peak;
	char		 peak_time[AUDIT_TIME_LEN + 1];
	bool		 oom;
};

static uint64_t
fnv(const char *s)
{
	uint64_t	 h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static struct sent *
stab_slot(struct sent *e, size_t cap, const char *key)
{
	size_t	 i = (size_t)fnv(key) & (cap - 1);

	while (e[i].key != NULL && strcmp(e[i].key, key) != 0)
		i = (i + 1) & (cap - 1);
	return &e[i];
}

static int
stab_grow(struct stab *t)
{
	size_t		 cap = t->cap ? t->cap * 2 : 64;
	struct sent	*e = calloc(cap, sizeof(*e));

	if (e == NULL)
		return -1;
	for (size_t i = 0; i < t->cap; i++)
		if (t->e[i].key != NULL)
			*stab_slot(e, cap, t->e[i].key) = t->e[i];
	free(t->e);
	t->e = e;
	t->cap = cap;
	return 0;
}

/* The counters of key; the "(others)" ones once the table is full. */
static struct sent *
stab_get(struct audit_summary *s, struct stab *t, const char *key)
{
	struct sent	*e;

	if (t->cap != 0 && (e = stab_slot(t->e, t->cap, key))->key != NULL)
		return e;
	if (t->n >= AUDIT_SUMMARY_KEYS) {
		t->others_keys++;
		return &t->others;
	}
	if ((t->n + 1) * 2 > t->cap && stab_grow(t) == -1)
		goto oom;
	e = stab_slot(t->e, t->cap, key);
	if ((e->key = strdup(key)) == NULL)
		goto oom;
	t->n++;
	return e;
oom:
	s->oom = true;
	return &t->others;
}

struct audit_summary *
audit_summary_new(size_t ntop)
{
	struct audit_summary	*s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->ntop = ntop;
	s->events.what = "events";
	s->users.what = "users";
	s->denied.what = "user/target pairs";
	s->failed.what = "sources";
	if ((s->longest = calloc(ntop, sizeof(struct top))) == NULL ||
	    (s->biggest = calloc(ntop, sizeof(struct top))) == NULL) {
		audit_summary_free(s);
		return NULL;
	}
	return s;
}

static void
copy(char *dst, const char *src, size_t size)
{
	snprintf(dst, size, "%s", src);
}

/* Keep the ntop largest values: replace the smallest when full. */
static void
top_add(struct top *t, size_t *n, size_t ntop, uint64_t value,
    const struct audit_entry *e)
{
	size_t	 i, min = 0;

	if (*n < ntop)
		i = (*n)++;
	else {
		for (i = 1; i < ntop; i++)
			if (t[i].value < t[min].value)
				min = i;
		if (t[min].value >= value)
			return;
		i = min;
	}
	t[i].value = value;
	copy(t[i].time, e->time, sizeof(t[i].time));
	copy(t[i].tunnel, e->tunnel, sizeof(t[i].tunnel));
	copy(t[i].user, e->user, sizeof(t[i].user));
	copy(t[i].target, e->target, sizeof(t[i].target));
}

void
audit_summary_add(struct audit_summary *s, const struct audit_entry *e)
{
	char		 key[AUDIT_CHAINED_LINE_MAX];
	struct sent	*u;

	stab_get(s, &s->events, e->event[0] ? e->event : "(none)")->n++;
	if (strcmp(e->event, "open") == 0 && ++s->open > s->peak) {
		s->peak = s->open;
		copy(s->peak_time, e->time, sizeof(s->peak_time));
	} else if (strcmp(e->event, "close") == 0) {
		/* A tunnel opened before the first line read counts from 0. */
		if (s->open > 0)
			s->open--;
		u = stab_get(s, &s->users, e->user[0] ? e->user : "-");
		u->n++;
		u->bytes += e->bytes_up + e->bytes_down;
		u->ms += e->duration_ms;
		top_add(s->longest, &s->nlongest, s->ntop, e->duration_ms, e);
		top_add(s->biggest, &s->nbiggest, s->ntop,
		    e->bytes_up + e->bytes_down, e);
	} else if (strcmp(e->event, "deny") == 0) {
		snprintf(key, sizeof(key), "%s %s", e->user, e->target);
		stab_get(s, &s->denied, key)->n++;
	} else if (strcmp(e->event, "auth_fail") == 0) {
		audit_client_addr(e->client, key, NETADDR_STR_MAX);
		stab_get(s, &s->failed, key[0] ? key : "-")->n++;
	}
}

static int
sent_cmp(const void *x, const void *y)
{
	const struct sent	*p = *(struct sent *const *)x;
	const struct sent	*q = *(struct sent *const *)y;
	uint64_t		 a = p->bytes ? p->bytes : p->n;
	uint64_t		 b = q->bytes ? q->bytes : q->n;

	if (a != b)
		return a < b ? 1 : -1;
	return strcmp(p->key, q->key);
}

static int
top_cmp(const void *x, const void *y)
{
	const struct top	*p = x, *q = y;

	return (p->value < q->value) - (p->value > q->value);
}

/* t's entries, largest first, in *out (free()); -1 out of memory. */
static ssize_t
stab_sorted(const struct stab *t, struct sent ***out)
{
	struct sent	**v = calloc(t->n ? t->n : 1, sizeof(*v));
	size_t		  i, k = 0;

	if ((*out = v) == NULL)
		return -1;
	for (i = 0; i < t->cap; i++)
		if (t->e[i].key != NULL)
			v[k++] = &t->e[i];
	qsort(v, k, sizeof(*v), sent_cmp);
	return (ssize_t)k;
}

static void
stab_print(FILE *out, const struct audit_summary *s, const struct stab *t,
    const char *title, bool user_figures)
{
	struct sent	**v;
	ssize_t		  got = stab_sorted(t, &v);
	size_t		  i, k, shown;

	fprintf(out, "%s:\n", title);
	if (got == -1) {
		fprintf(out, "  (out of memory)\n");
		return;
	}
	k = (size_t)got;
	shown = k < s->ntop ? k : s->ntop;
	for (i = 0; i < shown; i++) {
		if (!user_figures)
			fprintf(out, "  %8llu  ", (unsigned long long)v[i]->n);
		else
			fputs("  ", out);
		ctl_put_text(out, v[i]->key, 0);
		if (user_figures)
			fprintf(out, "  tunnels=%llu bytes=%llu time_ms=%llu",
			    (unsigned long long)v[i]->n,
			    (unsigned long long)v[i]->bytes,
			    (unsigned long long)v[i]->ms);
		putc('\n', out);
	}
	if (k > shown)
		fprintf(out, "  ... and %zu more\n", k - shown);
	if (t->others_keys > 0)
		fprintf(out, "  (others) %llu: over %d distinct %s, %llu more "
		    "keys were added up here (AUDIT_SUMMARY_KEYS)\n",
		    (unsigned long long)t->others.n, AUDIT_SUMMARY_KEYS,
		    t->what, (unsigned long long)t->others_keys);
	free(v);
}

/*
 * One table: {"top":[...],"more":N,"others":null|{...}}. Each row names
 * its key by field, split at the first space into two fields when the
 * table's key is "user target".
 */
static void
stab_json(FILE *out, const struct audit_summary *s, const struct stab *t,
    const char *name, const char *field, const char *field2)
{
	struct sent	**v;
	ssize_t		  got = stab_sorted(t, &v);
	size_t		  i, k, shown, len;
	const char	 *key, *sp;

	fprintf(out, "\"%s\":{\"top\":[", name);
	k = got == -1 ? 0 : (size_t)got;
	shown = k < s->ntop ? k : s->ntop;
	for (i = 0; i < shown; i++) {
		key = v[i]->key;
		len = strlen(key);
		if (field2 != NULL && (sp = strchr(key, ' ')) != NULL)
			len = (size_t)(sp - key);
		fprintf(out, "%s{\"%s\":", i > 0 ? "," : "", field);
		ctl_put_json(out, key, len);
		if (field2 != NULL) {
			fprintf(out, ",\"%s\":", field2);
			ctl_put_json(out, key + len + (key[len] == ' '),
			    strlen(key + len + (key[len] == ' ')));
		}
		if (t == &s->users)
			fprintf(out, ",\"tunnels\":%llu,\"bytes\":%llu,"
			    "\"time_ms\":%llu}", (unsigned long long)v[i]->n,
			    (unsigned long long)v[i]->bytes,
			    (unsigned long long)v[i]->ms);
		else
			fprintf(out, ",\"count\":%llu}",
			    (unsigned long long)v[i]->n);
	}
	fprintf(out, "],\"more\":%zu,\"others\":", k - shown);
	if (t->others_keys > 0)
		fprintf(out, "{\"count\":%llu,\"bytes\":%llu,\"time_ms\":%llu,"
		    "\"keys\":%llu}", (unsigned long long)t->others.n,
		    (unsigned long long)t->others.bytes,
		    (unsigned long long)t->others.ms,
		    (unsigned long long)t->others_keys);
	else
		fputs("null", out);
	fputs("},", out);
	free(v);
}

static void
top_json(FILE *out, struct top *t, size_t n, const char *name,
    const char *unit)
{
	fprintf(out, "\"%s\":[", name);
	qsort(t, n, sizeof(*t), top_cmp);
	for (size_t i = 0; i < n; i++) {
		fprintf(out, "%s{\"%s\":%llu,\"tunnel\":", i > 0 ? "," : "",
		    unit, (unsigned long long)t[i].value);
		ctl_put_json(out, t[i].tunnel, strlen(t[i].tunnel));
		fputs(",\"user\":", out);
		ctl_put_json(out, t[i].user, strlen(t[i].user));
		fputs(",\"target\":", out);
		ctl_put_json(out, t[i].target, strlen(t[i].target));
		fputs(",\"closed\":", out);
		ctl_put_json(out, t[i].time, strlen(t[i].time));
		putc('}', out);
	}
	fputs("],", out);
}

void
audit_summary_json(struct audit_summary *s, FILE *out)
{
	putc('{', out);
	stab_json(out, s, &s->events, "events", "event", NULL);
	stab_json(out, s, &s->users, "users", "user", NULL);
	stab_json(out, s, &s->denied, "denied", "user", "target");
	stab_json(out, s, &s->failed, "failed_logins", "source", NULL);
	top_json(out, s->longest, s->nlongest, "longest", "duration_ms");
	top_json(out, s->biggest, s->nbiggest, "biggest", "bytes");
	fprintf(out, "\"peak\":{\"tunnels\":%llu,\"time\":",
	    (unsigned long long)s->peak);
	if (s->peak > 0)
		ctl_put_json(out, s->peak_time, strlen(s->peak_time));
	else
		fputs("null", out);
	fprintf(out, "},\"out_of_memory\":%s}\n", s->oom ? "true" : "false");
}

static void
top_print(FILE *out, struct top *t, size_t n, const char *title,
    const char *unit)
{
	fprintf(out, "%s:\n", title);
	qsort(t, n, sizeof(*t), top_cmp);
	for (size_t i = 0; i < n; i++) {
		fprintf(out, "  %12llu %s  tunnel %s  ", (unsigned long long)t[i].value,
		    unit, t[i].tunnel[0] ? t[i].tunnel : "-");
		ctl_put_text(out, t[i].user, 0);
		fputs("  ", out);
		ctl_put_text(out, t[i].target, 0);
		fprintf(out, "  closed %s\n", t[i].time);
	}
}

void
audit_summary_print(struct audit_summary *s, FILE *out)
{
	stab_print(out, s, &s->events, "lines by event", false);
	stab_print(out, s, &s->users, "tunnels per user (closed tunnels, by "
	    "bytes)", true);
	stab_print(out, s, &s->denied, "denied user/target pairs", false);
	stab_print(out, s, &s->failed, "failed logins by source", false);
	top_print(out, s->longest, s->nlongest, "longest tunnels", "ms");
	top_print(out, s->biggest, s->nbiggest, "biggest tunnels", "bytes");
	if (s->peak > 0)
		fprintf(out, "peak concurrency: %llu tunnels open at %s\n",
		    (unsigned long long)s->peak, s->peak_time);
	else
		fprintf(out, "peak concurrency: 0\n");
	if (s->oom)
		fprintf(out, "(out of memory: some keys were added up as "
		    "(others))\n");
}

static void
stab_free(struct stab *t)
{
	for (size_t i = 0; i < t->cap; i++)
		free(t->e[i].key);
	free(t->e);
}

void
audit_summary_free(struct audit_summary *s)
{
	if (s == NULL)
		return;
	stab_free(&s->events);
	stab_free(&s->users);
	stab_free(&s->denied);
	stab_free(&s->failed);
	free(s->longest);
	free(s->biggest);
	free(s);
}
