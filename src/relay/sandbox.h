/*
 * The relay worker's seccomp allow-list. Relaying needs only I/O on
 * descriptors it already holds or receives, its event loop, memory and time;
 * anything else (socket, connect, bind, open, execve, ptrace, ...) kills the
 * process with SIGSYS, and the master logs that.
 */
#ifndef TG_SANDBOX_H
#define TG_SANDBOX_H

/* Install the filter (after no_new_privs). 0, or -1 after logging why. */
int	 sandbox_relay_enter(void);

#endif
