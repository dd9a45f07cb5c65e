/*
 * The master: root, holds the listeners, the TLS key, the audit log and the
 * parsed config and policy; forks and supervises the authenticators and gate
 * workers, one generation per configuration. A reload starts a new generation
 * and retires the old one, whose workers finish their tunnels undisturbed.
 */
#ifndef TG_MASTER_H
#define TG_MASTER_H

#include "config.h"
#include "policy.h"

/* Takes ownership of cfg and policy. Returns the process exit code. */
int	 master_main(struct config *cfg, struct policy *policy);

#endif
