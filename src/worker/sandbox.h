/*
 * The seccomp allow-lists of the unprivileged roles (gate and relay workers,
 * key processes, the metrics child), built the same way from one shared list plus each role's
 * own calls. Everything not
 * listed kills the process with SIGSYS, and the master logs that. A worker
 * enters its sandbox once its set-up is done: what remains is I/O on
 * descriptors it already holds or receives, its event loop, memory and time.
 */
#ifndef TG_SANDBOX_H
#define TG_SANDBOX_H

#include "worker.h"

/* Install role's filter (after no_new_privs). 0, or -1 after logging why. */
int	 sandbox_enter(enum worker_role role);

#endif
