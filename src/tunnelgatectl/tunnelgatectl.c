/*
 * tunnelgatectl: the admin's tool for a tunnelgated installation.  The
 * subcommand table is the only place a subcommand is registered.
 */
#include <stdio.h>
#include <string.h>

#include "ctl_cmd.h"

#ifndef TG_VERSION_STRING
#define TG_VERSION_STRING "0"
#endif

static const struct ctl_cmd commands[] = {
	{ "version", "", "print the version", cmd_version },
	{ "check", "[-c CONF] [--policy FILE] [--resolve] [--online] "
	    "[--wide4 N] [--wide6 N]",
	    "check the configuration and policy; warn about rules that do not "
	    "do what they seem to", cmd_check },
	{ "explain", "[-c CONF | --policy FILE] USER HOST:PORT "
	    "[--groups G,... | --lookup]",
	    "which rule decides, for the name and each address it resolves to",
	    cmd_explain },
	{ "diff", "OLD NEW [--live [-c CONF] [-s SOCKET]]",
	    "which users and groups gain or lose which destinations and ports; "
	    "which live tunnels NEW would cut",
	    cmd_diff },
	{ "status", "[-c CONF] [-s SOCKET] [--json]",
	    "list the live tunnels of the running daemon", cmd_status },
	{ "kill", "[-c CONF] [-s SOCKET] ID | --user U | --target PATTERN | "
	    "--client CIDR", "end live tunnels now (audit reason admin_kill)",
	    cmd_kill },
	{ "reload", "[-c CONF] [-s SOCKET]", "reload the configuration and "
	    "policy; say whether they were applied", cmd_reload },
	{ "cache", "flush [-c CONF] [-s SOCKET] [--user U]", "empty the "
	    "authenticators' credential cache, or one user's entries",
	    cmd_cache },
	{ "audit", "[FILTERS] [--json] [--summary | --follow] FILE... | --verify "
	    "FILE...", "read, filter, summarise or verify audit logs",
	    cmd_audit },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static int
usage(FILE *out)
{
	size_t	i;

	fprintf(out, "usage: tunnelgatectl COMMAND [ARGS]\n\ncommands:\n");
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(out, "  %s %s\n      %s\n", commands[i].name,
		    commands[i].args, commands[i].summary);
	fprintf(out, "\nSee tunnelgatectl(8).\n");
	return out == stdout ? CTL_EXIT_OK : CTL_EXIT_ERROR;
}

int
cmd_version(int argc, char *argv[])
{
	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "tunnelgatectl version: takes no arguments\n");
		return CTL_EXIT_ERROR;
	}
	printf("tunnelgatectl %s\n", TG_VERSION_STRING);
	return CTL_EXIT_OK;
}

int
main(int argc, char *argv[])
{
	size_t	i;

	if (argc < 2)
		return usage(stderr);
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0)
		return usage(stdout);
	for (i = 0; i < NCOMMANDS; i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "tunnelgatectl: unknown command '%s' (try "
	    "'tunnelgatectl help')\n", argv[1]);
	return CTL_EXIT_ERROR;
}
