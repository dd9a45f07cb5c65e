#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "config.h"
#include "fs_check.h"
#include "log.h"
#include "master.h"
#include "nodump.h"
#include "policy.h"
#include "privsep.h"
#include "relay_worker.h"
#include "tls.h"

#ifndef TG_DEFAULT_CONFIG
#define TG_DEFAULT_CONFIG "/usr/local/etc/tunnelgate/tunnelgated.conf"
#endif

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: tunnelgated [-t] [-c config]\n"
	    "  -c FILE  configuration (default %s)\n"
	    "  -t       check the configuration and policy, then exit\n",
	    TG_DEFAULT_CONFIG);
	exit(2);
}

int
main(int argc, char *argv[])
{
	const char	*file = TG_DEFAULT_CONFIG;
	char		 path[PATH_MAX];
	struct config	*cfg;
	struct policy	*policy;
	int		 ch, check = 0;

	/* The master execs relay workers as "tunnelgated -R". */
	if (argc == 2 && strcmp(argv[1], "-R") == 0)
		relay_worker_main();
	/* Before the key is read; forked children inherit it. */
	nodump_enforce();
	while ((ch = getopt(argc, argv, "c:th")) != -1) {
		switch (ch) {
		case 'c':
			file = optarg;
			break;
		case 't':
			check = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	log_init("tunnelgated", false, LOG_LVL_INFO);
	if ((cfg = calloc(1, sizeof(*cfg))) == NULL)
		fatal("calloc");
	/* Only what root alone can change is read; -t reports the rest. */
	if (fs_check_config_file(file, path, sizeof(path)) == -1 ||
	    config_load(path, cfg) == -1 || fs_check_config(cfg) == -1 ||
	    privsep_check(cfg) == -1) {
		free(cfg);
		return 1;
	}
	if ((policy = policy_load(cfg->policy_file)) == NULL) {
		free(cfg);
		return 1;
	}
	if (check) {
		SSL_CTX *ctx = tls_ctx_new(cfg);

		if (ctx == NULL) {
			policy_free(policy);
			free(cfg);
			return 1;
		}
		SSL_CTX_free(ctx);
		printf("%s: configuration OK; %s: %zu rules\n", cfg->path,
		    cfg->policy_file, policy_rule_count(policy));
		policy_free(policy);
		free(cfg);
		return 0;
	}
	log_init("tunnelgated", cfg->log_syslog, cfg->log_level);
	OPENSSL_init_ssl(OPENSSL_INIT_LOAD_SSL_STRINGS |
	    OPENSSL_INIT_LOAD_CRYPTO_STRINGS, NULL);
	return master_main(cfg, policy);
}
