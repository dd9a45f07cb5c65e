#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ipc.h"

int
ipc_send(int sock, const void *msg, size_t len, const int *fds, size_t nfds)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * IPC_MAX_FDS)];
	} cmsgbuf;
	struct iovec	 iov = { .iov_base = (void *)msg, .iov_len = len };
	struct msghdr	 mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr	*cm;
	ssize_t		 n;

	if (nfds > IPC_MAX_FDS) {
		errno = EINVAL;
		return -1;
	}
	if (nfds > 0) {
		memset(&cmsgbuf, 0, sizeof(cmsgbuf));
		mh.msg_control = cmsgbuf.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	/*
	 * Without descriptors, send(): a relay worker's sandbox has no
	 * sendmsg, so that it can never pass a descriptor on.
	 */
	do {
		n = nfds > 0 ? sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) :
		    send(sock, msg, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	} while (n == -1 && errno == EINTR);
	if (n == -1)
		return -1;
	if ((size_t)n != len) {
		errno = EMSGSIZE;
		return -1;
	}
	return 0;
}

/* Close every descriptor a control message carried; used on any error. */
static void
ipc_close_fds(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
}

/* The peer closed or shut down its end: what a real end of stream is. */
static bool
ipc_peer_gone(int sock)
{
	struct pollfd	 pfd = { .fd = sock, .events = POLLIN | POLLRDHUP };

	return poll(&pfd, 1, 0) == 1 &&
	    (pfd.revents & (POLLHUP | POLLRDHUP)) != 0;
}

ssize_t
ipc_recv(int sock, void *msg, size_t cap, int *fds, size_t *nfds)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * IPC_MAX_FDS)];
	} cmsgbuf;
	struct iovec	 iov = { .iov_base = msg, .iov_len = cap };
	struct msghdr	 mh = { .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = cmsgbuf.buf,
			    .msg_controllen = sizeof(cmsgbuf.buf) };
	struct cmsghdr	*cm;
	size_t		 want = nfds ? *nfds : 0, got = 0, k;
	int		 tmp[IPC_MAX_FDS];
	ssize_t		 n;
	int		 bad = 0;

	if (nfds)
		*nfds = 0;
	do {
		n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	} while (n == -1 && errno == EINTR);
	if (n == -1)
		return -1;
	for (cm = CMSG_FIRSTHDR(&mh); cm != NULL; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) {
			bad = 1;
			continue;
		}
		k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (got < IPC_MAX_FDS)
				tmp[got++] = fd;
			else
				close(fd);
		}
	}
	/*
	 * recvmsg() returns 0 both at the end of the stream and for an empty
	 * datagram, which may even carry descriptors. No message of ours is
	 * empty, so one from a peer that is still there is malformed, never a
	 * hang-up the receiver could take for a child's normal exit.
	 */
	if (n == 0 && (got > 0 || !ipc_peer_gone(sock)))
		bad = 1;
	if (bad || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || got > want) {
		ipc_close_fds(tmp, got);
		errno = bad || (mh.msg_flags & MSG_CTRUNC) || got > want ?
		    EPROTO : EMSGSIZE;
		return -1;
	}
	if (got > 0)
		memcpy(fds, tmp, got * sizeof(int));
	if (nfds)
		*nfds = got;
	return n;
}
