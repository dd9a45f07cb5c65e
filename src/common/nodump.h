#ifndef TG_NODUMP_H
#define TG_NODUMP_H

/*
 * No core file, and no ptrace or /proc/PID/{mem,environ} for anyone without
 * CAP_SYS_PTRACE, even a process of the same user: every tunnelgate process
 * holds a key, passwords or tunnel keys. The kernel makes a process dumpable
 * again on exec and sets it to fs.suid_dumpable on every change of uid, so
 * each process calls this after its last exec and after its demotion.
 * Fatal if it does not hold.
 */
void	 nodump_enforce(void);

#endif
