#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "listeners.h"
#include "log.h"


/* What the admin can do about a listener that cannot be had; errno set. */
static void
listener_bind_error(const struct config *cfg, const struct config_listener *l)
{
	const char	*hint;

	switch (errno) {
	case EADDRINUSE:
		hint = "another process is listening there (ss -ltnp shows "
		    "which); stop it or choose another listen[].port";
		break;
	case EADDRNOTAVAIL:
		hint = "no interface of this host has that address; use one "
		    "it has (ip -brief address) or 0.0.0.0 / :: for all, in "
		    "listen[].address";
		break;
	case EACCES:
		hint = "ports below 1024 need root or CAP_NET_BIND_SERVICE";
		break;
	default:
		hint = "check listen[].address and listen[].port";
		break;
	}
	log_warnx("%s: listen %s port %u: %s; %s", cfg->path, l->address,
	    l->port, strerror(errno), hint);
}

static int
listener_open(const struct config *cfg, const struct config_listener *l)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sl;
	int			 fd, one = 1;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, l->address,
	    &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		ss.ss_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons(l->port);
		sl = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, l->address,
	    &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		ss.ss_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(l->port);
		sl = sizeof(struct sockaddr_in6);
	} else {
		log_warnx("%s: listen: %s is not a numeric address", cfg->path,
		    l->address);
		return -1;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		log_warn("listen %s port %u: socket", l->address, l->port);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/*
	 * Real-time streams: never hold small writes back. Accepted sockets
	 * inherit it, which saves a gate worker a system call per tunnel, and
	 * the gate worker's filter does not let it set the option itself.
	 */
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == -1) {
		log_warn("listen %s port %u: TCP_NODELAY", l->address, l->port);
		close(fd);
		return -1;
	}
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) == -1 ||
	    listen(fd, l->backlog) == -1) {
		listener_bind_error(cfg, l);
		close(fd);
		return -1;
	}
	return fd;
}

static int
listener_find(const struct listeners *ls, const struct config_listener *l)
{
	for (unsigned i = 0; i < ls->n; i++)
		if (ls->conf[i].port == l->port &&
		    strcmp(ls->conf[i].address, l->address) == 0)
			return (int)i;
	return -1;
}

int
listeners_update(struct listeners *ls, const struct config *cfg)
{
	struct listeners	 next;
	bool			 reused[TG_MAX_LISTENERS] = { false };
	int			 k;

	memset(&next, 0, sizeof(next));
	for (unsigned i = 0; i < cfg->n_listeners; i++) {
		next.conf[i] = cfg->listeners[i];
		if ((k = listener_find(ls, &cfg->listeners[i])) != -1) {
			next.fds[i] = ls->fds[k];
			reused[k] = true;
		} else if ((next.fds[i] = listener_open(cfg,
		    &cfg->listeners[i])) == -1) {
			for (unsigned j = 0; j < i; j++)
				if (listener_find(ls, &next.conf[j]) == -1)
					close(next.fds[j]);
			return -1;
		}
		next.n++;
	}
	for (unsigned i = 0; i < ls->n; i++)
		if (!reused[i])
			close(ls->fds[i]);
	*ls = next;
	return 0;
}

void
listeners_close(struct listeners *ls)
{
	for (unsigned i = 0; i < ls->n; i++)
		close(ls->fds[i]);
	ls->n = 0;
}
