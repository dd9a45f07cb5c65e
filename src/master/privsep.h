/*
 * The users the unprivileged roles run as, checked against the system's
 * user and group databases: by `tunnelgated -t`, at start and at reload.
 * Kept apart from config_load(), which checks only the file.
 */
#ifndef TG_PRIVSEP_H
#define TG_PRIVSEP_H

#include "config.h"

/*
 * 0 if the gate, relay and key users exist and may be used: not root, not
 * nobody, not in group 0, and three different users so that no role can
 * signal or trace another. Otherwise -1 after logging every problem as
 * "FILE:LINE: privsep.SETTING: what is wrong; what to do".
 */
int	 privsep_check(const struct config *);

#endif
