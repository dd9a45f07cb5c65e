/*
 * tunnelgatectl kill ID | --user U | --target PATTERN | --client CIDR:
 * the workers holding the chosen tunnels end them now (close_notify to
 * the client, FIN to the backend); their close records say admin_kill and
 * the uid that asked. Exit 1 when nothing matched.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_client.h"
#include "ctl_cmd.h"

static int
kill_usage(void)
{
	fprintf(stderr, "usage: tunnelgatectl kill " CTL_CLIENT_OPTS_USAGE
	    " ID | --user USER | --target PATTERN | --client CIDR\n");
	return CTL_EXIT_ERROR;
}

static int
kill_set(struct admin_request *req, enum admin_select by, const char *arg)
{
	if (req->by != 0) {
		fprintf(stderr, "tunnelgatectl kill: one selector at a time\n");
		return -1;
	}
	req->by = by;
	if (strlen(arg) >= sizeof(req->arg) || arg[0] == '\0') {
		fprintf(stderr, "tunnelgatectl kill: '%s': empty or longer "
		    "than %zu bytes\n", arg, sizeof(req->arg) - 1);
		return -1;
	}
	(void)snprintf(req->arg, sizeof(req->arg), "%s", arg);
	return 0;
}

static int
kill_id(struct admin_request *req, const char *arg)
{
	char	*end;

	if (req->by != 0) {
		fprintf(stderr, "tunnelgatectl kill: one selector at a time\n");
		return -1;
	}
	errno = 0;
	req->tunnel_id = strtoull(arg, &end, 16);
	if (errno != 0 || *end != '\0' || strlen(arg) != 16) {
		fprintf(stderr, "tunnelgatectl kill: '%s' is not a tunnel id "
		    "(16 hex digits, as status and the audit log show)\n", arg);
		return -1;
	}
	req->by = ADMIN_BY_ID;
	return 0;
}

int
cmd_kill(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "user", required_argument, NULL, 'u' },
		{ "target", required_argument, NULL, 't' },
		{ "client", required_argument, NULL, 'C' },
		{ NULL, 0, NULL, 0 }
	};
	struct admin_request	 req;
	struct admin_done	 done;
	const char		*config = NULL, *sock = NULL;
	int			 ch, r = 0;

	memset(&req, 0, sizeof(req));
	while ((ch = getopt_long(argc, argv, "c:s:", longopts, NULL)) != -1) {
		if (ch == 'c')
			config = optarg;
		else if (ch == 's')
			sock = optarg;
		else if (ch == 'u')
			r = kill_set(&req, ADMIN_BY_USER, optarg);
		else if (ch == 't')
			r = kill_set(&req, ADMIN_BY_TARGET, optarg);
		else if (ch == 'C')
			r = kill_set(&req, ADMIN_BY_CLIENT, optarg);
		else
			return kill_usage();
		if (r != 0)
			return CTL_EXIT_ERROR;
	}
	if (optind == argc - 1 && kill_id(&req, argv[optind]) != 0)
		return CTL_EXIT_ERROR;
	if (req.by == 0 || optind < argc - 1 ||
	    (optind == argc - 1 && req.by != ADMIN_BY_ID))
		return kill_usage();
	if (ctl_client_ask(config, sock, "kill", ADMIN_KILL, &req, &done) == -1)
		return CTL_EXIT_ERROR;
	return done.count > 0 ? CTL_EXIT_OK : CTL_EXIT_WARN;
}
