/*
 * tunnelgatectl cache flush [--user U]: the authenticators' shared
 * credential cache forgets every entry, or those of one user (the name
 * typed at login or the account's, without case), at once and without a
 * reload: the next login of that user is checked with PAM or the directory.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "ctl_client.h"
#include "ctl_cmd.h"

static int
cache_usage(void)
{
	fprintf(stderr, "usage: tunnelgatectl cache flush "
	    CTL_CLIENT_OPTS_USAGE " [--user USER]\n");
	return CTL_EXIT_ERROR;
}

int
cmd_cache(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "user", required_argument, NULL, 'u' },
		{ NULL, 0, NULL, 0 }
	};
	struct admin_request	 req;
	struct admin_done	 done;
	const char		*config = NULL, *sock = NULL;
	int			 ch;

	if (argc < 2 || strcmp(argv[1], "flush") != 0)
		return cache_usage();
	argc--;
	argv++;
	memset(&req, 0, sizeof(req));
	while ((ch = getopt_long(argc, argv, "c:s:", longopts, NULL)) != -1) {
		if (ch == 'c')
			config = optarg;
		else if (ch == 's')
			sock = optarg;
		else if (ch == 'u' && optarg[0] != '\0' &&
		    strlen(optarg) <= HTTP_CRED_MAX)
			(void)snprintf(req.arg, sizeof(req.arg), "%s", optarg);
		else
			return cache_usage();
	}
	if (optind != argc)
		return cache_usage();
	if (ctl_client_ask(config, sock, "cache flush", ADMIN_CACHE_FLUSH,
	    &req, &done) == -1)
		return CTL_EXIT_ERROR;
	return CTL_EXIT_OK;
}
