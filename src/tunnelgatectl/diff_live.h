#ifndef TG_DIFF_LIVE_H
#define TG_DIFF_LIVE_H

#include "config.h"
#include "policy.h"

/*
 * Print the live tunnels of the daemon at sock_path that policy (from
 * pfile) would deny; groups from cfg's backend (NULL: NSS). Returns how
 * many would be cut or could not be judged, or -1 with a message on
 * stderr (no daemon, not permitted, a refusal).
 */
int	 diff_live(const char *sock_path, const struct config *cfg,
	    const struct policy *policy, const char *pfile);

#endif
