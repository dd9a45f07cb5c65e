/*
 * tunnelgate: the client of a tunnelgate gateway. Relays stdin/stdout
 * through one tunnel (ssh ProxyCommand) or forwards local ports (-L).
 */
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

enum {
	OPT_PASSWORD_FILE = 256,
	OPT_CA,
	OPT_SERVER_NAME,
	OPT_CERT,
	OPT_KEY,
	OPT_INSECURE,
	OPT_PIPELINE,
	OPT_CONNECT_TIMEOUT,
	OPT_HANDSHAKE_TIMEOUT,
	OPT_RESPONSE_TIMEOUT,
	OPT_MAX_CONNECTIONS
};

struct cli {
	struct tg_options opt;
	const char	*password_file;
	const char	*gateway;
	const char	*target;
	struct forward	 fwd[CLI_FORWARDS_MAX];
	size_t		 nfwd;
	unsigned long	 max_conns;
	int		 quiet;
	char		 user[CLI_HOST_MAX + 2];
	char		 password[CLI_PASSWORD_MAX + 1];
};

static void __attribute__((noreturn))
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: tunnelgate [options] GATEWAY[:PORT] TARGET:PORT\n"
	    "       tunnelgate [options] -L [ADDR:]PORT:TARGET:PORT [-L ...] "
	    "GATEWAY[:PORT]\n"
	    "options: -u USER  --password-file FILE  --ca FILE  "
	    "--server-name NAME\n"
	    "         --cert FILE  --key FILE  --pipeline  "
	    "--insecure-skip-verify\n"
	    "         --connect-timeout SEC  --handshake-timeout SEC  "
	    "--response-timeout SEC\n"
	    "         --max-connections N  -q  -h  -V\n"
	    "The password comes from --password-file, TUNNELGATE_PASSWORD or "
	    "a prompt on\nthe terminal; see tunnelgate(1).\n");
	exit(status);
}

static void __attribute__((noreturn))
bad(const char *option, const char *arg, const char *expected)
{
	cli_warnx("%s %s: expected %s", option, arg, expected);
	exit(EXIT_USAGE);
}

static void
parse_opt(struct cli *c, int ch, const char *arg)
{
	char	 err[512];

	switch (ch) {
	case 'u': c->opt.user = arg; break;
	case 'q': c->quiet = 1; break;
	case 'L':
		if (c->nfwd == CLI_FORWARDS_MAX)
			bad("-L", arg, "at most 32 forwardings");
		if (cli_parse_forward(arg, &c->fwd[c->nfwd], err,
		    sizeof(err)) == -1) {
			cli_warnx("%s", err);
			exit(EXIT_USAGE);
		}
		c->nfwd++;
		break;
	case OPT_PASSWORD_FILE: c->password_file = arg; break;
	case OPT_CA: c->opt.ca_file = arg; break;
	case OPT_SERVER_NAME: c->opt.server_name = arg; break;
	case OPT_CERT: c->opt.cert_file = arg; break;
	case OPT_KEY: c->opt.key_file = arg; break;
	case OPT_INSECURE: c->opt.insecure_skip_verify = 1; break;
	case OPT_PIPELINE: c->opt.pipeline = 1; break;
	case OPT_CONNECT_TIMEOUT:
	case OPT_HANDSHAKE_TIMEOUT:
	case OPT_RESPONSE_TIMEOUT:
		if (cli_parse_seconds(arg, ch == OPT_CONNECT_TIMEOUT ?
		    &c->opt.connect_timeout_ms : ch == OPT_HANDSHAKE_TIMEOUT ?
		    &c->opt.handshake_timeout_ms :
		    &c->opt.response_timeout_ms) == -1)
			bad("timeout", arg, "seconds between 0.001 and 86400");
		break;
	case OPT_MAX_CONNECTIONS:
		if (cli_parse_count(arg, 1, 1000000, &c->max_conns) == -1)
			bad("--max-connections", arg, "1 to 1000000");
		break;
	case 'V':
		printf("tunnelgate %s\n", TG_VERSION);
		exit(EXIT_OK);
	case 'h': usage(EXIT_OK);
	default: usage(EXIT_USAGE);
	}
}

static void
parse_args(struct cli *c, int argc, char *argv[])
{
	static const struct option lopts[] = {
		{ "user", required_argument, NULL, 'u' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "password-file", required_argument, NULL, OPT_PASSWORD_FILE },
		{ "ca", required_argument, NULL, OPT_CA },
		{ "server-name", required_argument, NULL, OPT_SERVER_NAME },
		{ "cert", required_argument, NULL, OPT_CERT },
		{ "key", required_argument, NULL, OPT_KEY },
		{ "insecure-skip-verify", no_argument, NULL, OPT_INSECURE },
		{ "pipeline", no_argument, NULL, OPT_PIPELINE },
		{ "connect-timeout", required_argument, NULL,
		    OPT_CONNECT_TIMEOUT },
		{ "handshake-timeout", required_argument, NULL,
		    OPT_HANDSHAKE_TIMEOUT },
		{ "response-timeout", required_argument, NULL,
		    OPT_RESPONSE_TIMEOUT },
		{ "max-connections", required_argument, NULL,
		    OPT_MAX_CONNECTIONS },
		{ NULL, 0, NULL, 0 }
	};
	int	 ch;

	tg_options_init(&c->opt);
	c->max_conns = 1024;
	while ((ch = getopt_long(argc, argv, "u:L:qhV", lopts, NULL)) != -1)
		parse_opt(c, ch, optarg);
	if (argc - optind != (c->nfwd ? 1 : 2))
		usage(EXIT_USAGE);
	c->gateway = argv[optind];
	c->target = c->nfwd ? NULL : argv[optind + 1];
	if (c->target != NULL && tg_target_check(c->target) != TG_OK)
		bad("target", c->target, "HOST:PORT or [IPv6]:PORT");
	if (c->opt.key_file != NULL && c->opt.cert_file == NULL)
		bad("--key", c->opt.key_file, "--cert as well");
}

static void
get_user(struct cli *c)
{
	struct passwd	*pw;

	if (c->opt.user == NULL)
		c->opt.user = getenv("TUNNELGATE_USER");
	/*
	 * A certificate without a user name logs in by the certificate alone
	 * (auth.identity = "certificate"): no password is asked or sent.
	 */
	if (c->opt.user == NULL && c->opt.cert_file != NULL)
		return;
	if (c->opt.user == NULL && (pw = getpwuid(getuid())) != NULL &&
	    strlen(pw->pw_name) < sizeof(c->user)) {
		memcpy(c->user, pw->pw_name, strlen(pw->pw_name) + 1);
		c->opt.user = c->user;
	}
	if (c->opt.user == NULL) {
		cli_warnx("no user name: use -u USER or set TUNNELGATE_USER");
		exit(EXIT_USAGE);
	}
}

static void
get_password(struct cli *c)
{
	const char	*env = getenv("TUNNELGATE_PASSWORD");
	char		 err[512], prompt[CLI_HOST_MAX + 300];
	int		 r;

	if (c->password_file != NULL)
		r = cli_password_file(c->password_file, c->password,
		    sizeof(c->password), err, sizeof(err));
	else if (env != NULL) {
		r = strlen(env) < sizeof(c->password) ? 0 : -1;
		if (r == 0)
			memcpy(c->password, env, strlen(env) + 1);
		else
			snprintf(err, sizeof(err), "TUNNELGATE_PASSWORD longer "
			    "than %d bytes", CLI_PASSWORD_MAX);
	} else {
		snprintf(prompt, sizeof(prompt), "Password for %.256s@%.255s: ",
		    c->opt.user, c->gateway);
		r = cli_password_prompt(prompt, c->password,
		    sizeof(c->password), err, sizeof(err));
	}
	if (r == -1) {
		cli_warnx("%s", err);
		exit(EXIT_USAGE);
	}
	c->opt.password = c->password;
}

int
main(int argc, char *argv[])
{
	static struct cli c;
	struct tg_ctx	*ctx;
	int		 r;

	parse_args(&c, argc, argv);
	get_user(&c);
	if (c.opt.user != NULL)
		get_password(&c);
	c.opt.gateway = c.gateway;
	r = tg_ctx_new(&c.opt, &ctx);
	cli_wipe(c.password, sizeof(c.password));
	c.opt.password = NULL;
	if (r != TG_OK) {
		cli_warnx("%s", tg_ctx_errmsg(ctx));
		tg_ctx_free(ctx);
		return cli_exit_code(r, 0);
	}
	if (c.opt.insecure_skip_verify)
		cli_warnx("WARNING: --insecure-skip-verify: the gateway's "
		    "certificate is NOT checked; anyone on the path can read "
		    "the password and the data");
	if (c.nfwd == 0)
		r = cli_run_stdio(ctx, c.target, c.opt.pipeline);
	else
		r = cli_run_forward(ctx, c.fwd, c.nfwd, c.max_conns,
		    c.opt.pipeline, c.quiet);
	tg_ctx_free(ctx);
	return r;
}
