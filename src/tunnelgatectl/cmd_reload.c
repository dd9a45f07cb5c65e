/*
 * tunnelgatectl reload: what SIGHUP does, with the answer: "applied" and
 * the new generation, or "refused" and the first error (the running
 * configuration and policy then stay in force). Exit 1 when refused.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "ctl_client.h"
#include "ctl_cmd.h"

int
cmd_reload(int argc, char *argv[])
{
	struct admin_request	 req;
	struct admin_done	 done;
	const char		*config = NULL, *sock = NULL;
	char			 path[108];
	int			 ch;

	while ((ch = getopt(argc, argv, "c:s:")) != -1) {
		if (ch == 'c')
			config = optarg;
		else if (ch == 's')
			sock = optarg;
		else
			return CTL_EXIT_ERROR;
	}
	if (optind != argc) {
		fprintf(stderr, "usage: tunnelgatectl reload "
		    CTL_CLIENT_OPTS_USAGE "\n");
		return CTL_EXIT_ERROR;
	}
	if (ctl_client_path(config, sock, path, sizeof(path)) == -1)
		return CTL_EXIT_ERROR;
	memset(&req, 0, sizeof(req));
	admin_hdr_init(&req.hdr, ADMIN_REQUEST);
	req.cmd = ADMIN_RELOAD;
	if (ctl_client_call(path, &req, NULL, NULL, &done) == -1)
		return CTL_EXIT_ERROR;
	printf("%s\n", done.text);
	return done.result == ADMIN_OK ? CTL_EXIT_OK : CTL_EXIT_WARN;
}
