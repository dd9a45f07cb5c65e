/*
 * The master's control socket (control.socket): a Unix SOCK_SEQPACKET
 * socket, mode 0600 and root's, and on top of that the peer's uid from
 * SO_PEERCRED must be 0. Each connection carries one request of the
 * admin_proto table (src/common/admin_proto.h) and gets its replies
 * queued in a bounded buffer that is written as the socket takes it, so
 * a slow tunnelgatectl never stalls the master.
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "admin.h"
#include "admin_proto.h"
#include "buf.h"
#include "log.h"
#include "master_priv.h"
#include "proc.h"
#include "tunnels.h"

/* A connection that has not sent its request by then is dropped. */
#define ADMIN_REQUEST_MS	10000
/* One whose replies are not all read by then, too. */
#define ADMIN_REPLY_MS		60000

struct admin_conn {
	int		 fd;
	uid_t		 uid;
	bool		 answered;	/* the request is read: write only */
	int64_t		 deadline_ms;
	struct buf	 out;		/* whole messages, each hdr.size long */
};

static struct {
	int			 fd;
	char			 path[TG_CONTROL_PATH_SIZE];
	struct admin_conn	 conns[TG_CONTROL_CONNS];
	char			 listen_tag;	/* its address tags epoll events */
} admin = { .fd = -1 };

static void
admin_epoll(int op, int fd, uint32_t events, void *ptr)
{
	struct epoll_event	 e = { .events = events, .data.ptr = ptr };

	if (epoll_ctl(m.epfd, op, fd, &e) == -1 && op != EPOLL_CTL_DEL)
		log_warn("admin: epoll_ctl");
}

int
admin_open(const struct config *cfg)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	mode_t			 old;
	int			 r;

	for (size_t i = 0; i < TG_CONTROL_CONNS; i++)
		admin.conns[i].fd = -1;
	(void)snprintf(admin.path, sizeof(admin.path), "%s",
	    cfg->control_socket);
	(void)snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", admin.path);
	if ((admin.fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1) {
		log_warn("control socket: socket");
		return -1;
	}
	/* A socket left by a daemon that died; a live one would answer. */
	if (unlink(admin.path) == -1 && errno != ENOENT)
		log_warn("control socket: unlink %s", admin.path);
	old = umask(0077);
	r = bind(admin.fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (r == -1 || chmod(admin.path, 0600) == -1 ||
	    listen(admin.fd, TG_CONTROL_CONNS) == -1) {
		log_warn("%s: control socket (control.socket): cannot listen "
		    "on %s", cfg->path, admin.path);
		close(admin.fd);
		admin.fd = -1;
		return -1;
	}
	admin_epoll(EPOLL_CTL_ADD, admin.fd, EPOLLIN, &admin.listen_tag);
	log_info("control socket %s", admin.path);
	return 0;
}

static void
admin_drop(struct admin_conn *a)
{
	uint8_t		 unread[sizeof(struct admin_request)];

	admin_epoll(EPOLL_CTL_DEL, a->fd, 0, NULL);
	/*
	 * A request never read (a refused peer's) would make the close a
	 * reset, and the peer would lose the reply queued before it.
	 */
	for (int i = 0; i < 4 && recv(a->fd, unread, sizeof(unread),
	    MSG_DONTWAIT) > 0; i++)
		;
	close(a->fd);
	buf_free(&a->out);
	a->fd = -1;
}

void
admin_close(void)
{
	for (size_t i = 0; i < TG_CONTROL_CONNS; i++)
		if (admin.conns[i].fd != -1)
			admin_drop(&admin.conns[i]);
	if (admin.fd == -1)
		return;
	close(admin.fd);
	admin.fd = -1;
	unlink(admin.path);
}

static void
admin_queue(struct admin_conn *a, const void *msg, size_t len)
{
	if (buf_put(&a->out, msg, len) != 0)
		log_warnx("control socket: reply for uid %u over its bound; "
		    "cut short", (unsigned)a->uid);
}

void
admin_done(struct admin_conn *a, enum admin_result result, uint32_t count,
    const char *fmt, ...)
{
	struct admin_done	 d;
	va_list			 ap;

	memset(&d, 0, sizeof(d));
	admin_hdr_init(&d.hdr, ADMIN_DONE);
	d.result = result;
	d.count = count;
	va_start(ap, fmt);
	(void)vsnprintf(d.text, sizeof(d.text), fmt, ap);
	va_end(ap);
	admin_queue(a, &d, sizeof(d));
	a->answered = true;
	a->deadline_ms = proc_now_ms() + ADMIN_REPLY_MS;
	admin_epoll(EPOLL_CTL_MOD, a->fd, EPOLLOUT, a);
}

static void
admin_status(struct admin_conn *a)
{
	struct admin_tunnel	 row;
	const struct tunnel	*t;
	int64_t			 now = proc_now_ms();
	uint32_t		 n = 0;

	/* Tunnels opened since the connection was accepted fit too. */
	buf_raise_max(&a->out, (tunnels_count() + 1) *
	    sizeof(struct admin_tunnel));
	for (t = tunnels_first(); t != NULL; t = tunnels_next(t)) {
		memset(&row, 0, sizeof(row));
		admin_hdr_init(&row.hdr, ADMIN_TUNNEL);
		row.tunnel_id = t->id;
		row.bytes_up = t->bytes_up;
		row.bytes_down = t->bytes_down;
		row.started_ms = t->opened_wall_ms;
		row.age_ms = (uint32_t)(now - t->opened_ms);
		row.idle_ms = (uint32_t)(now - t->active_ms);
		row.holder_pid = (uint32_t)tunnels_holder_pid(t);
		row.gen = t->gen;
		AUDIT_SET(row.holder, t->holder == TUNNEL_IN_GATE ? "gate" :
		    "relay");
		row.facts = t->facts;
		admin_queue(a, &row, sizeof(row));
		n++;
	}
	admin_done(a, ADMIN_OK, n, "%u tunnels", n);
}

static void
admin_request(struct admin_conn *a, const struct admin_request *r)
{
	switch (r->cmd) {
	case ADMIN_STATUS:
		admin_status(a);
		return;
	case ADMIN_KILL:
		admin_kill(a, r);
		return;
	case ADMIN_RELOAD:
		admin_reload(a);
		return;
	case ADMIN_CACHE_FLUSH:
		admin_cache_flush(a, r);
		return;
	}
	admin_done(a, ADMIN_REFUSED, 0, "unknown command");
}

static void
admin_read(struct admin_conn *a)
{
	union {
		struct admin_request	 req;
		uint8_t			 raw[ADMIN_MSG_BUF];
	} msg;
	struct msg_in	 in;

	switch (msg_recv(&admin_proto, a->fd, MSG_ADMIN, MSG_MASTER, &msg,
	    sizeof(msg), &in)) {
	case MSG_AGAIN:
		return;
	case MSG_EOF:
		admin_drop(a);
		return;
	case MSG_BAD:
		log_warnx("control socket: uid %u sent a bad request: %s",
		    (unsigned)a->uid, in.why);
		admin_done(a, ADMIN_REFUSED, 0, "bad request: %s", in.why);
		return;
	case MSG_OK:
		break;
	}
	admin_request(a, &msg.req);
}

/* Whole messages, as the socket takes them. */
static void
admin_write(struct admin_conn *a)
{
	struct msg_hdr	 h;
	ssize_t		 n;

	while (buf_len(&a->out) >= sizeof(h)) {
		memcpy(&h, buf_rptr(&a->out), sizeof(h));
		n = send(a->fd, buf_rptr(&a->out), h.size, MSG_NOSIGNAL |
		    MSG_DONTWAIT);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n != (ssize_t)h.size)
			break;
		buf_consume(&a->out, h.size);
	}
	admin_drop(a);
}

static void
admin_accept(void)
{
	struct admin_conn	*a = NULL;
	struct ucred		 cred;
	socklen_t		 len = sizeof(cred);
	int			 fd;

	if ((fd = accept4(admin.fd, NULL, NULL, SOCK_NONBLOCK |
	    SOCK_CLOEXEC)) == -1)
		return;
	for (size_t i = 0; i < TG_CONTROL_CONNS && a == NULL; i++)
		if (admin.conns[i].fd == -1)
			a = &admin.conns[i];
	if (a == NULL || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred,
	    &len) == -1) {
		log_warnx("control socket: %s; connection refused", a == NULL ?
		    "TG_CONTROL_CONNS connections already" : "no peer uid");
		close(fd);
		return;
	}
	a->fd = fd;
	a->uid = cred.uid;
	a->answered = false;
	a->deadline_ms = proc_now_ms() + ADMIN_REQUEST_MS;
	/* The last reply; a status raises it to every row (admin_status). */
	buf_init(&a->out, sizeof(struct admin_tunnel));
	admin_epoll(EPOLL_CTL_ADD, fd, EPOLLIN, a);
	if (cred.uid != 0) {
		log_warnx("control socket: uid %u (pid %d) refused: root only",
		    (unsigned)cred.uid, (int)cred.pid);
		admin_done(a, ADMIN_REFUSED, 0, "permission denied: the "
		    "control socket serves root only (uid %u)",
		    (unsigned)cred.uid);
	}
}

bool
admin_event(void *ptr, uint32_t events)
{
	struct admin_conn	*a = ptr;

	if (ptr == &admin.listen_tag) {
		admin_accept();
		return true;
	}
	if (a < admin.conns || a >= admin.conns + TG_CONTROL_CONNS)
		return false;
	if (a->fd == -1)
		return true;
	if (!a->answered && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		admin_read(a);
	else if (a->answered)
		admin_write(a);
	return true;
}

void
admin_timers(int64_t now, int64_t *next)
{
	for (size_t i = 0; i < TG_CONTROL_CONNS; i++) {
		struct admin_conn *a = &admin.conns[i];

		if (a->fd == -1)
			continue;
		if (a->deadline_ms <= now) {
			log_warnx("control socket: uid %u: %s in time; dropped",
			    (unsigned)a->uid, a->answered ? "replies not read" :
			    "no request");
			admin_drop(a);
		} else if (*next == -1 || a->deadline_ms < *next)
			*next = a->deadline_ms;
	}
}

uid_t
admin_uid(const struct admin_conn *a)
{
	return a->uid;
}
