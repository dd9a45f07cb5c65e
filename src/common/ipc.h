/*
 * Messages with optional file descriptors on AF_UNIX SOCK_SEQPACKET sockets.
 * Every message is one datagram; a truncated one (MSG_TRUNC/MSG_CTRUNC) is an
 * error, and descriptors that arrive unexpectedly are closed, never leaked.
 */
#ifndef TG_IPC_H
#define TG_IPC_H

#include <stddef.h>
#include <sys/types.h>

#define IPC_MAX_FDS	4

/* Returns 0, or -1 with errno (EAGAIN on a full non-blocking socket). */
int	 ipc_send(int sock, const void *msg, size_t len, const int *fds, size_t nfds);
/*
 * Receive one message into msg (up to cap bytes). Returns its size, 0 on EOF,
 * or -1 with errno. Received descriptors go to fds (up to *nfds; *nfds gets
 * the count). A message the peer got wrong is never mistaken for end of
 * file: one longer than cap is EMSGSIZE; one carrying more than *nfds
 * descriptors, or control data other than descriptors, is EPROTO (what it
 * carried is closed).
 */
ssize_t	 ipc_recv(int sock, void *msg, size_t cap, int *fds, size_t *nfds);

#endif
