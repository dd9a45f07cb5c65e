/*
 * The tunnelgate command: stdio mode (ssh ProxyCommand) and -L local
 * forwarding, both driven by one epoll loop over libtunnelgate tunnels.
 */
#ifndef TG_CLI_H
#define TG_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "tunnelgate.h"

/* Exit statuses, documented in tunnelgate(1). */
enum cli_exit {
	EXIT_OK = 0,
	EXIT_LOCAL = 1,		/* local I/O, listener, memory */
	EXIT_USAGE = 2,		/* command line, password, CA/cert files */
	EXIT_RESOLVE = 3,
	EXIT_CONNECT = 4,
	EXIT_TLS = 5,
	EXIT_TIMEOUT = 6,
	EXIT_PROTOCOL = 7,
	EXIT_CUT = 8,		/* gateway connection lost mid-tunnel */
	EXIT_4XX = 40,		/* 400, 405, 408, 431 and others */
	EXIT_403 = 43,
	EXIT_407 = 47,
	EXIT_5XX = 50,
	EXIT_502 = 52,
	EXIT_503 = 53,
	EXIT_504 = 54,
	EXIT_SIGNAL = 128	/* + signal number, stdio mode */
};

#define CLI_BUF_SIZE		32768	/* per direction and link */
#define CLI_FORWARDS_MAX	32
#define CLI_HOST_MAX		255
#define CLI_TARGET_MAX		(CLI_HOST_MAX + 8)
#define CLI_PASSWORD_MAX	1024

struct forward {
	char	 bind_host[CLI_HOST_MAX + 1];	/* empty: all addresses */
	char	 bind_port[8];
	char	 target[CLI_TARGET_MAX + 1];
};

/* cli_spec.c */
int	 cli_parse_forward(const char *, struct forward *, char *err, size_t);
int	 cli_parse_seconds(const char *, unsigned int *ms);
int	 cli_parse_count(const char *, unsigned long min, unsigned long max,
	    unsigned long *);
int	 cli_exit_code(int code, int http_status);
void	 cli_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));

/* cli_password.c */
int	 cli_password_file(const char *path, char *out, size_t outlen,
	    char *err, size_t errlen);
int	 cli_password_prompt(const char *prompt, char *out, size_t outlen,
	    char *err, size_t errlen);
void	 cli_wipe(void *, size_t);

/* cli_loop.c */
int	 cli_run_stdio(struct tg_ctx *, const char *target, int pipeline);
int	 cli_run_forward(struct tg_ctx *, const struct forward *, size_t n,
	    size_t max_conns, int pipeline, int quiet);

#endif
