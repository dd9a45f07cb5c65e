/*
 * An authenticator's half of the account re-check (auth.recheck_interval):
 * the master names the account of live tunnels (CTL_RECHECK) and the
 * backend says, without the password, whether it may still log in and in
 * which of the groups the policy names it is now (CTL_RECHECK_REPLY). The
 * master decides what that means for each tunnel (src/master/recheck.c).
 */
#ifndef TG_AUTH_RECHECK_H
#define TG_AUTH_RECHECK_H

#include "authenticator.h"
#include "ctl.h"

/* Answer req on env->ctl_fd; blocks at most timeouts.auth. */
void	 auth_recheck_answer(const struct auth_env *env,
	    const struct ctl_recheck *req);

#endif
