#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "config.h"
#include "config_check.h"
#include "key_proc.h"
#include "log.h"
#include "master.h"
#include "metrics_serve.h"
#include "nodump.h"
#include "policy.h"
#include "relay_worker.h"

#ifndef TG_VERSION_STRING
#define TG_VERSION_STRING "0"
#endif

#ifndef TG_DEFAULT_CONFIG
#define TG_DEFAULT_CONFIG "/usr/local/etc/tunnelgate/tunnelgated.conf"
#endif

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: tunnelgated [-tV] [-c config]\n"
	    "  -c FILE  configuration (default %s)\n"
	    "  -t       check the configuration and policy, then exit\n"
	    "  -V       print the version, then exit\n",
	    TG_DEFAULT_CONFIG);
	exit(2);
}

/* What an admin reading the log first needs: which build, which backend. */
static void
start_log(const struct config *cfg)
{
	char		 uris[CONFIG_LDAP_MAX_URIS * (CONFIG_LDAP_URI_MAX + 1)];
	size_t		 o = 0;
	unsigned	 i;

	uris[0] = '\0';
	for (i = 0; i < cfg->ldap.n_uris && o < sizeof(uris); i++)
		o += (size_t)snprintf(uris + o, sizeof(uris) - o, "%s%s",
		    i > 0 ? " " : "", cfg->ldap.uris[i]);
	if (cfg->auth_backend == AUTH_BACKEND_LDAP)
		log_info("tunnelgated %s starting with %s: auth backend ldap, "
		    "servers %s%s", TG_VERSION_STRING, cfg->path, uris,
		    cfg->ldap.starttls ? " (StartTLS on ldap://)" : "");
	else
		log_info("tunnelgated %s starting with %s: auth backend pam, "
		    "service %s%s%s", TG_VERSION_STRING, cfg->path,
		    cfg->pam_service, cfg->pam_confdir[0] != '\0' ?
		    " in " : "", cfg->pam_confdir);
}

int
main(int argc, char *argv[])
{
	const char	*file = TG_DEFAULT_CONFIG;
	struct config	*cfg;
	struct policy	*policy;
	int		 ch, check = 0, rc;

	/* The master execs relay workers as "tunnelgated -R". */
	if (argc == 2 && strcmp(argv[1], "-R") == 0)
		relay_worker_main();
	/* ... the metrics child as "tunnelgated -M USER CHROOT" ... */
	if (argc == 4 && strcmp(argv[1], METRICS_EXEC_FLAG) == 0)
		metrics_main(argv[2], argv[3]);
	/* ... and has "tunnelgated -K" check a key against its certificate. */
	if (argc == 4 && strcmp(argv[1], "-K") == 0)
		key_check_main(argv[2], argv[3]);
	/* Forked children inherit it; they hold secrets the master does not. */
	nodump_enforce();
	while ((ch = getopt(argc, argv, "c:thV")) != -1) {
		switch (ch) {
		case 'c':
			file = optarg;
			break;
		case 't':
			check = 1;
			break;
		case 'V':
			printf("tunnelgated %s\n", TG_VERSION_STRING);
			return 0;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	log_init("tunnelgated", false, LOG_LVL_INFO);
	if (config_check_load(file, &cfg, &policy) == -1)
		return 1;
	if (check) {
		rc = config_check_tls(cfg);
		if (rc == 0)
			printf("%s: configuration OK; %s: %zu rules\n",
			    cfg->path, cfg->policy_file,
			    policy_rule_count(policy));
		policy_free(policy);
		free(cfg);
		return rc == 0 ? 0 : 1;
	}
	log_init("tunnelgated", cfg->log_syslog, cfg->log_level);
	start_log(cfg);
	OPENSSL_init_ssl(OPENSSL_INIT_LOAD_SSL_STRINGS |
	    OPENSSL_INIT_LOAD_CRYPTO_STRINGS, NULL);
	return master_main(cfg, policy);
}
