#ifndef TG_CTL_CMD_H
#define TG_CTL_CMD_H

/*
 * tunnelgatectl runs as the admin who typed it, never inside the daemon:
 * each subcommand lives in a file of its own (cmd_NAME.c) and is listed once
 * in the table in tunnelgatectl.c.
 *
 * Exit status, for every subcommand: 0 done (or clean), 1 done with
 * warnings or a negative answer the subcommand documents, 2 usage or error.
 */
enum {
	CTL_EXIT_OK = 0,
	CTL_EXIT_WARN = 1,
	CTL_EXIT_ERROR = 2,
};

struct ctl_cmd {
	const char	*name;
	const char	*args;		/* one-line synopsis after the name */
	const char	*summary;
	int		(*run)(int argc, char *argv[]);	/* argv[0] is the name */
};

int	cmd_version(int argc, char *argv[]);
int	cmd_check(int argc, char *argv[]);
int	cmd_explain(int argc, char *argv[]);
int	cmd_diff(int argc, char *argv[]);
int	cmd_status(int argc, char *argv[]);
int	cmd_kill(int argc, char *argv[]);
int	cmd_reload(int argc, char *argv[]);
int	cmd_cache(int argc, char *argv[]);
int	cmd_audit(int argc, char *argv[]);

#endif
