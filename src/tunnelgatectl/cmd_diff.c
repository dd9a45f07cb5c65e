/*
 * tunnelgatectl diff OLD NEW [--live]: who gains or loses which
 * destinations and ports, from the two files alone (policy_diff.c); with
 * --live, also which open tunnels NEW would cut (diff_live.c). Exit 0 the
 * same (and nothing cut), 1 different, 2 an error.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_check.h"
#include "ctl_client.h"
#include "ctl_cmd.h"
#include "diff_live.h"
#include "log.h"
#include "policy.h"
#include "policy_diff.h"

struct diff_out {
	char	 subject[300];
};

static void
diff_print(void *arg, const char *subject, bool gained, const char *dest,
    const char *ports)
{
	struct diff_out	*o = arg;

	if (strcmp(o->subject, subject) != 0) {
		snprintf(o->subject, sizeof(o->subject), "%s", subject);
		printf("%s:\n", subject);
	}
	printf("  %s %s port%s %s\n", gained ? "gains" : "loses", dest,
	    strpbrk(ports, ",-") != NULL ? "s" : "", ports);
}

struct diff_opts {
	const char	*config;
	const char	*sock;
	bool		 live;
	const char	*old_file, *new_file;
};

static int
diff_usage(void)
{
	fprintf(stderr, "usage: tunnelgatectl diff OLD NEW [--live "
	    CTL_CLIENT_OPTS_USAGE "]\n");
	return CTL_EXIT_ERROR;
}

static int
diff_args(int argc, char *argv[], struct diff_opts *o)
{
	static const struct option longopts[] = {
		{ "live", no_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 }
	};
	int	 ch;

	memset(o, 0, sizeof(*o));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:s:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			o->config = optarg;
			break;
		case 's':
			o->sock = optarg;
			break;
		case 'l':
			o->live = true;
			break;
		default:
			return -1;
		}
	}
	if (argc - optind != 2 || (!o->live && (o->config != NULL ||
	    o->sock != NULL)))
		return -1;
	o->old_file = argv[optind];
	o->new_file = argv[optind + 1];
	return 0;
}

/*
 * The live part: the socket from -s or the configuration's, the groups
 * from the configuration's backend (NSS when only -s names the daemon).
 */
static int
diff_live_run(const struct diff_opts *o, const struct policy *new)
{
	struct config	*cfg = NULL;
	struct policy	*cur = NULL;
	char		 path[108];
	int		 n = -1;

	if (o->config != NULL || o->sock == NULL) {
		if (config_check_load(o->config != NULL ? o->config :
		    TG_DEFAULT_CONFIG, &cfg, &cur) == -1)
			return -1;
		policy_free(cur);
	}
	if (ctl_client_path(o->config, o->sock, path, sizeof(path)) == 0)
		n = diff_live(path, cfg, new, o->new_file);
	free(cfg);
	return n;
}

int
cmd_diff(int argc, char *argv[])
{
	struct diff_opts o;
	struct diff_out	 out;
	struct policy	*old = NULL, *new = NULL;
	long		 n;
	int		 rc = CTL_EXIT_ERROR, cut = 0;

	if (diff_args(argc, argv, &o) == -1)
		return diff_usage();
	log_init_tool("tunnelgatectl");
	if ((old = policy_load(o.old_file)) == NULL ||
	    (new = policy_load(o.new_file)) == NULL)
		goto out;
	memset(&out, 0, sizeof(out));
	if ((n = policy_diff(old, new, diff_print, &out)) < 0) {
		fprintf(stderr, "tunnelgatectl diff: out of memory\n");
		goto out;
	}
	if (n == 0)
		printf("no user or group gains or loses anything\n");
	if (o.live && (cut = diff_live_run(&o, new)) == -1)
		goto out;
	rc = n == 0 && cut == 0 ? CTL_EXIT_OK : CTL_EXIT_WARN;
 out:
	policy_free(old);
	policy_free(new);
	return rc;
}
