/*
 * The checks a configuration passes before it is used, shared by the
 * daemon's start, its -t, and tunnelgatectl check, so that none of them
 * accepts what another refuses.
 */
#include <limits.h>
#include <stdlib.h>

#include <openssl/ssl.h>

#include "config.h"
#include "config_check.h"
#include "fs_check.h"
#include "key_proc.h"
#include "log.h"
#include "policy.h"
#include "privsep.h"
#include "tls.h"
#include "tls_client_ca.h"

int
config_check_load(const char *file, struct config **cfgp,
    struct policy **policyp)
{
	struct config	*cfg;
	struct policy	*policy;
	char		 path[PATH_MAX];

	*cfgp = NULL;
	*policyp = NULL;
	if ((cfg = calloc(1, sizeof(*cfg))) == NULL) {
		log_warn("%s: out of memory", file);
		return -1;
	}
	/* Only what root alone can change is read. */
	if (fs_check_config_file(file, path, sizeof(path)) == -1 ||
	    config_load(path, cfg) == -1 || fs_check_config(cfg) == -1 ||
	    privsep_check(cfg) == -1 ||
	    (policy = policy_load(cfg->policy_file)) == NULL) {
		free(cfg);
		return -1;
	}
	*cfgp = cfg;
	*policyp = policy;
	return 0;
}

int
config_check_tls(const struct config *cfg)
{
	int				 keyok = key_check_files(
					    cfg->tls_certificate, cfg->tls_key);
	SSL_CTX				*ctx = tls_ctx_new(cfg);
	struct tls_client_ca_set	*cas = tls_client_ca_load(cfg);
	int				 rc = keyok == 0 && ctx != NULL &&
					    cas != NULL ? 0 : -1;

	tls_client_ca_free(cas);
	SSL_CTX_free(ctx);
	return rc;
}
