#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#include "ctl_client.h"
#include "msg.h"

/* The master answers at once; a status of many tunnels takes a moment. */
#define CTL_CLIENT_WAIT_MS	30000

int
ctl_client_path(const char *config, const char *sock, char *out,
    size_t outlen)
{
	static struct config	 cfg;
	const char		*file = config != NULL ? config :
				    TG_DEFAULT_CONFIG;

	if (sock == NULL) {
		if (config_load(file, &cfg) == -1) {
			fprintf(stderr, "tunnelgatectl: %s: cannot read "
			    "control.socket from it (see above); name the "
			    "socket with -s\n", file);
			return -1;
		}
		sock = cfg.control_socket;
	}
	if (strlen(sock) >= sizeof(((struct sockaddr_un *)0)->sun_path) ||
	    strlen(sock) >= outlen) {
		fprintf(stderr, "tunnelgatectl: %s: socket path too long\n",
		    sock);
		return -1;
	}
	(void)snprintf(out, outlen, "%s", sock);
	return 0;
}

static int
ctl_client_connect(const char *path)
{
	/* A master that accepts nothing (stopped, stuck) fills its backlog:
	 * connect(2) then waits this long, not for ever. */
	const struct timeval	 wait = { CTL_CLIENT_WAIT_MS / 1000, 0 };
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	int			 fd;

	(void)snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &wait, sizeof(wait)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		fprintf(stderr, "tunnelgatectl: %s: %s%s\n", path,
		    errno == EAGAIN ? "no answer" : strerror(errno),
		    errno == EACCES || errno == EPERM ?
		    " (the control socket is root's)" : errno == ENOENT ||
		    errno == ECONNREFUSED ? " (is tunnelgated running? see "
		    "control.socket in tunnelgated.conf(5))" : errno == EAGAIN ?
		    " (tunnelgated accepts no connection: stopped or stuck?)" :
		    "");
		if (fd != -1)
			close(fd);
		return -1;
	}
	return fd;
}

static int
ctl_client_replies(int fd, const char *path,
    void (*on_row)(const struct admin_tunnel *, void *), void *arg,
    struct admin_done *done)
{
	union {
		struct admin_tunnel	 row;
		struct admin_done	 done;
		uint8_t			 raw[ADMIN_MSG_BUF];
	} m;
	struct pollfd	 pfd = { .fd = fd, .events = POLLIN };
	struct msg_in	 in;

	for (;;) {
		if (poll(&pfd, 1, CTL_CLIENT_WAIT_MS) != 1) {
			fprintf(stderr, "tunnelgatectl: %s: no answer\n", path);
			return -1;
		}
		switch (msg_recv(&admin_proto, fd, MSG_MASTER, MSG_ADMIN, &m,
		    sizeof(m), &in)) {
		case MSG_AGAIN:
			continue;
		case MSG_EOF:
			fprintf(stderr, "tunnelgatectl: %s: closed before the "
			    "answer was complete\n", path);
			return -1;
		case MSG_BAD:
			fprintf(stderr, "tunnelgatectl: %s: bad reply: %s\n",
			    path, in.why);
			return -1;
		case MSG_OK:
			break;
		}
		if (in.t->type == ADMIN_DONE) {
			*done = m.done;
			return 0;
		}
		if (on_row != NULL)
			on_row(&m.row, arg);
	}
}

int
ctl_client_call(const char *path, const struct admin_request *req,
    void (*on_row)(const struct admin_tunnel *, void *), void *arg,
    struct admin_done *done)
{
	int	 fd, r;

	if ((fd = ctl_client_connect(path)) == -1)
		return -1;
	/* A refused peer is answered and hung up on before it asks. */
	if (send(fd, req, sizeof(*req), MSG_NOSIGNAL) != (ssize_t)sizeof(*req) &&
	    errno != EPIPE && errno != ECONNRESET) {
		fprintf(stderr, "tunnelgatectl: %s: send: %s\n", path,
		    strerror(errno));
		close(fd);
		return -1;
	}
	r = ctl_client_replies(fd, path, on_row, arg, done);
	close(fd);
	return r;
}

int
ctl_client_ask(const char *config, const char *sock, const char *name,
    enum admin_cmd cmd, struct admin_request *req, struct admin_done *done)
{
	char	 path[sizeof(((struct sockaddr_un *)0)->sun_path)];

	if (ctl_client_path(config, sock, path, sizeof(path)) == -1)
		return -1;
	admin_hdr_init(&req->hdr, ADMIN_REQUEST);
	req->cmd = cmd;
	if (ctl_client_call(path, req, NULL, NULL, done) == -1)
		return -1;
	if (done->result != ADMIN_OK) {
		fprintf(stderr, "tunnelgatectl %s: %s\n", name, done->text);
		return -1;
	}
	printf("%s\n", done->text);
	return 0;
}
