/*
 * tunnelgatectl status [--json]: every live tunnel as the master's table
 * has it, like ss(8): one line each, or a JSON array whose objects are the
 * tunnel's open record as the audit log writes it (time: when it opened)
 * with its bytes so far, age and idle time.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "audit.h"
#include "ctl_client.h"
#include "ctl_cmd.h"

struct status_out {
	bool		 json;
	unsigned	 rows;
};

static void
status_json_row(const struct admin_tunnel *t, struct status_out *o)
{
	struct audit_sender	 who = { t->holder, (int)t->holder_pid, t->gen };
	char			 line[AUDIT_LINE_MAX];
	size_t			 n;

	n = auditlog_format(&t->facts, &who, t->started_ms, line, sizeof(line));
	/* Drop the closing "}\n" and add what the open record lacks. */
	if (n < 2)
		return;
	line[n - 2] = '\0';
	printf("%s%s,\"bytes_up\":%" PRIu64 ",\"bytes_down\":%" PRIu64
	    ",\"age_ms\":%u,\"idle_ms\":%u}", o->rows == 0 ? "\n" : ",\n",
	    line, t->bytes_up, t->bytes_down, t->age_ms, t->idle_ms);
}

static void
status_table_row(const struct admin_tunnel *t)
{
	char	 holder[32];

	(void)snprintf(holder, sizeof(holder), "%s/%u", t->holder,
	    t->holder_pid);
	printf("%016" PRIx64 " %-12s %-22s %-28s %-22s %-16s %-12s %7us "
	    "%6us %12" PRIu64 " %12" PRIu64 " %s\n", t->tunnel_id,
	    t->facts.user, t->facts.client, t->facts.target, t->facts.resolved,
	    t->facts.rule, holder, t->age_ms / 1000, t->idle_ms / 1000,
	    t->bytes_up, t->bytes_down, t->facts.tls_version);
}

static void
status_row(const struct admin_tunnel *t, void *arg)
{
	struct status_out	*o = arg;

	if (o->json)
		status_json_row(t, o);
	else
		status_table_row(t);
	o->rows++;
}

int
cmd_status(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	struct status_out	 o = { 0 };
	struct admin_request	 req;
	struct admin_done	 done;
	const char		*config = NULL, *sock = NULL;
	char			 path[108];
	int			 ch;

	while ((ch = getopt_long(argc, argv, "c:s:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			config = optarg;
			break;
		case 's':
			sock = optarg;
			break;
		case 'j':
			o.json = true;
			break;
		default:
			return CTL_EXIT_ERROR;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "usage: tunnelgatectl status "
		    CTL_CLIENT_OPTS_USAGE " [--json]\n");
		return CTL_EXIT_ERROR;
	}
	if (ctl_client_path(config, sock, path, sizeof(path)) == -1)
		return CTL_EXIT_ERROR;
	memset(&req, 0, sizeof(req));
	admin_hdr_init(&req.hdr, ADMIN_REQUEST);
	req.cmd = ADMIN_STATUS;
	if (o.json)
		printf("[");
	else
		printf("%-16s %-12s %-22s %-28s %-22s %-16s %-12s %8s %7s %12s "
		    "%12s %s\n", "ID", "USER", "CLIENT", "TARGET", "RESOLVED",
		    "RULE", "HOLDER", "AGE", "IDLE", "UP", "DOWN", "TLS");
	if (ctl_client_call(path, &req, status_row, &o, &done) == -1)
		return CTL_EXIT_ERROR;
	if (o.json)
		printf("%s]\n", o.rows > 0 ? "\n" : "");
	if (done.result != ADMIN_OK) {
		fprintf(stderr, "tunnelgatectl status: %s\n", done.text);
		return CTL_EXIT_ERROR;
	}
	return CTL_EXIT_OK;
}
