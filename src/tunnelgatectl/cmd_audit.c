/*
 * tunnelgatectl audit: read, filter and summarise audit logs, follow the
 * live one, or verify their hash chain (docs/audit-log.md).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "audit_cmd.h"
#include "ctl_text.h"
#include "ctl_cmd.h"

struct audit_run {
	struct audit_filter	 f;
	struct audit_summary	*summary;
	bool			 json;
	struct audit_bad	 bad;
	unsigned long		 matched;
	char			 scratch[AUDIT_CHAINED_LINE_MAX + 1];
};

static void
print_text(FILE *out, const struct audit_entry *e)
{
	ctl_put_text(out, e->time, AUDIT_TIME_LEN + 1);
	ctl_put_text(out, e->event, 10);
	ctl_put_text(out, e->user[0] ? e->user : "-", 12);
	ctl_put_text(out, " ", 0);
	ctl_put_text(out, e->client[0] ? e->client : "-", 22);
	ctl_put_text(out, " ", 0);
	ctl_put_text(out, e->target[0] ? e->target : "-", 28);
	if (e->tunnel[0]) {
		fputs(" tunnel=", out);
		ctl_put_text(out, e->tunnel, 0);
	}
	if (e->rule[0]) {
		fputs(" rule=", out);
		ctl_put_text(out, e->rule, 0);
	}
	if (e->has & AUDIT_HAS_BYTES_UP)
		fprintf(out, " up=%llu down=%llu ms=%llu",
		    (unsigned long long)e->bytes_up,
		    (unsigned long long)e->bytes_down,
		    (unsigned long long)e->duration_ms);
	if (e->closed_by[0]) {
		fputs(" closed_by=", out);
		ctl_put_text(out, e->closed_by, 0);
	}
	if (e->reason[0]) {
		fputs(" reason=\"", out);
		ctl_put_text(out, e->reason, 0);
		putc('"', out);
	}
	putc('\n', out);
}

static void
audit_line(struct audit_run *r, const char *name, const struct audit_line *l)
{
	struct audit_entry	 e;
	const char		*why;

	if (l->too_long) {
		audit_bad_line(&r->bad, name, l, "longer than any audit line");
		return;
	}
	/* A line the file ends inside is no line to judge unparsed. */
	if (!l->torn && !audit_filter_may_match(&r->f, l->p, l->len))
		return;
	if (audit_entry_parse(l->p, l->len, &e, r->scratch, &why) == -1) {
		audit_bad_line(&r->bad, name, l, why);
		return;
	}
	if (!audit_filter_match(&r->f, &e))
		return;
	r->matched++;
	if (r->summary != NULL)
		audit_summary_add(r->summary, &e);
	else if (r->json) {
		fwrite(l->p, 1, l->len, stdout);
		putchar('\n');
	} else
		print_text(stdout, &e);
}

static int
open_follow(const char *path, struct audit_src **src, struct stat *st)
{
	char	 err[512];
	int	 fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd == -1 || fstat(fd, st) == -1) {
		if (fd != -1)
			close(fd);
		return -1;
	}
	if ((*src = audit_src_fdopen(fd, path, err, sizeof(err))) == NULL) {
		fprintf(stderr, "tunnelgatectl audit: %s\n", err);
		return -1;
	}
	return 0;
}

/*
 * The live file, then what is appended to it; after a rotation (the name
 * now another file) the old file is read to its end and the new one from
 * its start. Runs until interrupted.
 */
static int
audit_follow(struct audit_run *r, const char *path)
{
	const struct timespec	 pause = { 0, 200 * 1000 * 1000 };
	struct audit_src	*src = NULL;
	struct audit_line	 l;
	struct stat		 st, now;
	char			 err[512];
	int			 n;

	while (open_follow(path, &src, &st) == -1)
		nanosleep(&pause, NULL);
	for (;;) {
		while ((n = audit_src_next(src, &l, true, err, sizeof(err))) == 1)
			audit_line(r, path, &l);
		if (n == -1) {
			fprintf(stderr, "tunnelgatectl audit: %s\n", err);
			audit_src_close(src);
			return CTL_EXIT_ERROR;
		}
		fflush(stdout);
		if (stat(path, &now) == 0 &&
		    (now.st_ino != st.st_ino || now.st_dev != st.st_dev)) {
			while (audit_src_next(src, &l, false, err,
			    sizeof(err)) == 1)
				audit_line(r, path, &l);
			audit_src_close(src);
			while (open_follow(path, &src, &st) == -1)
				nanosleep(&pause, NULL);
			continue;
		}
		nanosleep(&pause, NULL);
	}
}

static int
audit_read_all(struct audit_run *r, char **paths, size_t n)
{
	struct audit_merge	 m;
	struct audit_line	 l;
	const char		*name;
	int			 got;

	if (n == 0)
		return 0;
	if (audit_merge_open(&m, paths, n) == -1)
		return -1;
	while ((got = audit_merge_next(&m, &l, &name)) == 1)
		audit_line(r, name, &l);
	audit_merge_close(&m);
	return got;
}

static const struct option audit_opts[] = {
	{ "since", required_argument, NULL, 's' },
	{ "until", required_argument, NULL, 'u' },
	{ "user", required_argument, NULL, 'U' },
	{ "event", required_argument, NULL, 'e' },
	{ "target", required_argument, NULL, 't' },
	{ "rule", required_argument, NULL, 'r' },
	{ "client", required_argument, NULL, 'c' },
	{ "tunnel", required_argument, NULL, 'i' },
	{ "json", no_argument, NULL, 'j' },
	{ "summary", no_argument, NULL, 'S' },
	{ "top", required_argument, NULL, 'n' },
	{ "follow", no_argument, NULL, 'f' },
	{ "verify", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static int
audit_usage(const char *why, const char *arg)
{
	fprintf(stderr, "tunnelgatectl audit: %s%s%s\nusage: tunnelgatectl "
	    "audit [--since T] [--until T] [--user U] [--event E]\n"
	    "\t[--target GLOB] [--rule R] [--client CIDR] [--tunnel ID]\n"
	    "\t[--json] [--summary [--top N] | --follow] FILE...\n"
	    "       tunnelgatectl audit --verify FILE...\n"
	    "(see tunnelgatectl(8))\n", why, arg ? ": " : "", arg ? arg : "");
	return CTL_EXIT_ERROR;
}

/* One option into r; -1 (said) if its value is not usable. */
static int
audit_opt(struct audit_run *r, int c, size_t *top, bool *follow,
    bool *verify)
{
	char	*end;

	switch (c) {
	case 's':
	case 'u':
		if (audit_filter_time(optarg, c == 's' ? r->f.since :
		    r->f.until) == -1)
			return audit_usage("not a time (2026-12-05, "
			    "2026-12-05T08:30 or 2026-12-05T08:30:00.000Z, UTC)",
			    optarg), -1;
		return 0;
	case 'U': r->f.user = optarg; return 0;
	case 'e': r->f.event = optarg; return 0;
	case 't': r->f.target = optarg; return 0;
	case 'r': r->f.rule = optarg; return 0;
	case 'i': r->f.tunnel = optarg; return 0;
	case 'c':
		if (netaddr_net_parse(optarg, &r->f.client) == -1)
			return audit_usage("not an address or network "
			    "(192.0.2.0/24, 2001:db8::/32)", optarg), -1;
		r->f.has_client = true;
		return 0;
	case 'j': r->json = true; return 0;
	case 'S': return 0;
	case 'n':
		*top = strtoul(optarg, &end, 10);
		if (*end != '\0' || *top == 0 || *top > 1000)
			return audit_usage("--top takes 1 to 1000", optarg), -1;
		return 0;
	case 'f': *follow = true; return 0;
	case 'V': *verify = true; return 0;
	}
	return audit_usage("unknown option", NULL), -1;
}

int
cmd_audit(int argc, char *argv[])
{
	static struct audit_run	 r;
	static char		 obuf[1 << 20];
	size_t			 top = 10, n;
	bool			 follow = false, verify = false, summary;
	int			 c, rc = CTL_EXIT_OK;

	summary = false;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", audit_opts, NULL)) != -1) {
		if (c == 'S')
			summary = true;
		if (audit_opt(&r, c, &top, &follow, &verify) == -1)
			return CTL_EXIT_ERROR;
	}
	n = (size_t)(argc - optind);
	if (n == 0)
		return audit_usage("no file given", NULL);
	if (verify)
		return audit_verify(argv + optind, n);
	if (summary && follow)
		return audit_usage("--summary does not go with --follow", NULL);
	setvbuf(stdout, obuf, _IOFBF, sizeof(obuf));
	if (audit_filter_prepare(&r.f) == -1 ||
	    (summary && (r.summary = audit_summary_new(top)) == NULL)) {
		fprintf(stderr, "tunnelgatectl audit: out of memory\n");
		return CTL_EXIT_ERROR;
	}
	if (audit_read_all(&r, argv + optind, follow ? n - 1 : n) == -1)
		rc = CTL_EXIT_ERROR;
	else if (follow)
		rc = audit_follow(&r, argv[argc - 1]);
	if (r.summary != NULL) {
		if (r.json)
			audit_summary_json(r.summary, stdout);
		else
			audit_summary_print(r.summary, stdout);
		audit_summary_free(r.summary);
	}
	fflush(stdout);
	if (r.bad.count > 0) {
		fprintf(stderr, "tunnelgatectl audit: %lu malformed line%s "
		    "skipped\n", r.bad.count, r.bad.count == 1 ? "" : "s");
		if (rc == CTL_EXIT_OK)
			rc = CTL_EXIT_WARN;
	}
	audit_filter_free(&r.f);
	return rc;
}
