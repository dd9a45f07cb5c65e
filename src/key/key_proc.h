/*
 * The key process: one per gate worker slot, forked by the master
 * (proc_spawn), holding the TLS private key and doing nothing else. It
 * reads the key while still root, then drops to privsep.key_user in the
 * chroot with an empty network namespace, no_new_privs, non-dumpable, and
 * enters the key role's seccomp filter (sandbox.c). It answers its gate
 * worker's signature requests (key_proto.h), at most TG_KEY_SIGN_RATE a
 * second; a request the table or the key refuses, or a gate worker that
 * does not read its answers, makes it stop reading that socket and ask the
 * master to kill the gate worker (CTL_GATE_BROKE). It survives its gate
 * worker: the successor's socket comes as CTL_KEY_SOCKET.
 */
#ifndef TG_KEY_PROC_H
#define TG_KEY_PROC_H

#include <stdint.h>

#include "config.h"

struct key_env {
	const struct config	*cfg;
	int			 gate_fd;	/* to this slot's gate worker */
	int			 ctl_fd;	/* to the master */
	unsigned		 slot;
	uint32_t		 serial;	/* of the gate socket pair */
};

__attribute__((noreturn)) void key_main(void *env);

/* 0 if the key file is one the key process takes and matches cert. */
int	 key_check_files(const char *cert, const char *key);
/* `tunnelgated -K certificate key`: exit 0 if they match, 1 if not. */
__attribute__((noreturn)) void key_check_main(const char *cert,
	    const char *key);

#endif
