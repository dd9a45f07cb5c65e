/*
 * A user's groups as the gateway would see them, for the subcommands that
 * run the matcher on behalf of an account (diff --live, explain --lookup).
 */
#ifndef TG_CTL_GROUPS_H
#define TG_CTL_GROUPS_H

#include <stddef.h>

#include "config.h"

/*
 * user's groups from the configured backend (cfg NULL: NSS, as the PAM
 * backend reads them), in the layout auth_groups() returns (free()).
 * 0, or -1 with why saying what failed.
 */
int	 ctl_groups(const struct config *cfg, const char *user,
	    char ***groups, size_t *n, char *why, size_t whylen);

/*
 * For check --resolve with the LDAP backend (arg: the struct config): 1 if
 * the directory knows the user or group, 0 if not, -1 if it cannot be
 * asked. Groups are checked in group mode "search" only (memberOf gives
 * no place to look them up: every group counts as known).
 */
int	 ctl_ldap_user_known(void *arg, const char *user);
int	 ctl_ldap_group_known(void *arg, const char *group);

#endif
