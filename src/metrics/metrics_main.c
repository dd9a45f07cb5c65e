/*
 * tg-metrics: accepts scrapers on the listener the master bound, reads one
 * bounded request per connection, asks the master for its counters and
 * writes them back. It runs as privsep.gate_user in the chroot, with no
 * network of its own and the seccomp list, and holds nothing but its
 * listener, its control socket and its scrapers' connections: no client of
 * the gateway is ever near it. TG_METRICS_CONNS connections at once, each
 * given TG_METRICS_TIMEOUT_MS; one more ends the oldest.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "ctl.h"
#include "log.h"
#include "metrics_http.h"
#include "metrics_serve.h"
#include "metrics_text.h"
#include "nodump.h"
#include "proc.h"
#include "sandbox.h"

/* How long a scrape waits for the master's counters. */
#define METRICS_MASTER_WAIT_MS	1000
#define METRICS_HEAD_MAX	256

struct mconn {
	int		 fd;		/* -1: free */
	bool		 writing;
	int64_t		 deadline_ms;
	struct buf	 in, out;
};

static struct mconn	 conns[TG_METRICS_CONNS];

static void
mconn_close(struct mconn *c)
{
	close(c->fd);
	c->fd = -1;
	buf_free(&c->in);
	buf_free(&c->out);
}

/* Nothing the master sends goes unanswered or matters between scrapes. */
static bool
metrics_read_master(struct ctl_metrics *snap, bool *got)
{
	union {
		struct ctl_metrics	 m;
		struct ctl_ping		 ping;
		uint8_t			 raw[sizeof(struct ctl_metrics) + 1];
	} msg;
	struct msg_in	 in;

	for (;;) {
		switch (msg_recv(&ctl_proto, METRICS_CTL_FD, MSG_MASTER,
		    MSG_METRICS, &msg, sizeof(msg), &in)) {
		case MSG_AGAIN:
			return true;
		case MSG_EOF:
			return false;
		case MSG_BAD:
			fatalx("metrics: bad message from the master: %s",
			    in.why);
		case MSG_OK:
			if (in.t->type == CTL_PING)
				(void)ctl_pong(METRICS_CTL_FD, &msg.ping);
			else if (snap != NULL && in.t->type == CTL_METRICS) {
				*snap = msg.m;
				*got = true;
			}
			break;
		}
	}
}

static bool
metrics_ask(struct ctl_metrics *snap)
{
	struct ctl_metrics_ask	 ask;
	struct pollfd		 pfd = { .fd = METRICS_CTL_FD, .events = POLLIN };
	int64_t			 until = proc_now_ms() + METRICS_MASTER_WAIT_MS;
	bool			 got = false;

	if (!metrics_read_master(NULL, NULL))
		exit(0);
	memset(&ask, 0, sizeof(ask));
	ctl_hdr_init(&ask.hdr, CTL_METRICS_ASK);
	if (ctl_send(METRICS_CTL_FD, &ask, sizeof(ask), NULL, 0) == -1) {
		log_warn("metrics: asking the master");
		return false;
	}
	while (!got && proc_now_ms() < until) {
		if (poll(&pfd, 1, (int)(until - proc_now_ms())) < 1)
			continue;
		if (!metrics_read_master(snap, &got))
			exit(0);
	}
	return got;
}

static void
metrics_respond(struct mconn *c, enum metrics_req r)
{
	static struct ctl_metrics	 snap;
	struct buf			 body;
	char				 head[METRICS_HEAD_MAX];
	const char			*status = metrics_http_status(r);
	int				 n;

	buf_init(&body, TG_METRICS_RESPONSE_MAX);
	if (r == METRICS_REQ_METRICS && (!metrics_ask(&snap) ||
	    metrics_text(&snap, &body) != 0)) {
		status = "503 Service Unavailable";
		buf_reset(&body);
	}
	if (buf_len(&body) == 0)
		(void)buf_put(&body, status, strlen(status));
	n = snprintf(head, sizeof(head), "HTTP/1.1 %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n", status,
	    strcmp(status, "200 OK") == 0 ?
	    "text/plain; version=0.0.4; charset=utf-8" : "text/plain",
	    buf_len(&body));
	buf_init(&c->out, METRICS_HEAD_MAX + TG_METRICS_RESPONSE_MAX);
	if (n < 0 || buf_put(&c->out, head, (size_t)n) != 0 ||
	    buf_put(&c->out, buf_rptr(&body), buf_len(&body)) != 0) {
		buf_free(&body);
		mconn_close(c);
		return;
	}
	buf_free(&body);
	c->writing = true;
}

static void
mconn_read(struct mconn *c)
{
	enum metrics_req	 r;
	uint8_t			*p;
	size_t			 space;
	ssize_t			 n;

	if ((p = buf_wptr(&c->in, &space)) == NULL || space == 0) {
		metrics_respond(c, METRICS_REQ_TOO_LARGE);
		return;
	}
	n = recv(c->fd, p, space, MSG_DONTWAIT);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		mconn_close(c);
		return;
	}
	buf_commit(&c->in, (size_t)n);
	r = metrics_http_parse((const char *)buf_rptr(&c->in), buf_len(&c->in));
	if (r != METRICS_REQ_INCOMPLETE)
		metrics_respond(c, r);
}

static void
mconn_write(struct mconn *c)
{
	ssize_t	 n;

	n = send(c->fd, buf_rptr(&c->out), buf_len(&c->out),
	    MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		mconn_close(c);
		return;
	}
	buf_consume(&c->out, (size_t)n);
	if (buf_len(&c->out) == 0) {
		(void)shutdown(c->fd, SHUT_WR);
		mconn_close(c);
	}
}

/* A free slot, made by ending the oldest connection if need be. */
static struct mconn *
mconn_slot(void)
{
	struct mconn	*oldest = &conns[0];

	for (size_t i = 0; i < TG_METRICS_CONNS; i++) {
		if (conns[i].fd == -1)
			return &conns[i];
		if (conns[i].deadline_ms < oldest->deadline_ms)
			oldest = &conns[i];
	}
	mconn_close(oldest);
	return oldest;
}

static void
metrics_accept(void)
{
	struct mconn	*c;
	int		 fd;

	while ((fd = accept4(METRICS_LISTEN_FD, NULL, NULL,
	    SOCK_NONBLOCK | SOCK_CLOEXEC)) != -1) {
		c = mconn_slot();
		c->fd = fd;
		c->writing = false;
		c->deadline_ms = proc_now_ms() + TG_METRICS_TIMEOUT_MS;
		buf_init(&c->in, TG_METRICS_REQUEST_MAX);
	}
}

static int
metrics_poll_setup(struct pollfd *pfd, int64_t now)
{
	int64_t	 next = -1;

	pfd[0] = (struct pollfd){ .fd = METRICS_CTL_FD, .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = METRICS_LISTEN_FD, .events = POLLIN };
	for (size_t i = 0; i < TG_METRICS_CONNS; i++) {
		struct mconn	*c = &conns[i];

		if (c->fd != -1 && c->deadline_ms <= now)
			mconn_close(c);
		pfd[2 + i] = (struct pollfd){ .fd = c->fd,
		    .events = c->writing ? POLLOUT : POLLIN };
		if (c->fd != -1 && (next == -1 || c->deadline_ms < next))
			next = c->deadline_ms;
	}
	return next == -1 ? -1 : (int)(next - now);
}

static __attribute__((noreturn)) void
metrics_loop(void)
{
	struct pollfd	 pfd[2 + TG_METRICS_CONNS];

	for (size_t i = 0; i < TG_METRICS_CONNS; i++)
		conns[i].fd = -1;
	for (;;) {
		if (poll(pfd, 2 + TG_METRICS_CONNS,
		    metrics_poll_setup(pfd, proc_now_ms())) == -1) {
			if (errno != EINTR)
				fatal("metrics: poll");
			continue;
		}
		if (pfd[0].revents != 0 && !metrics_read_master(NULL, NULL))
			exit(0);
		for (size_t i = 0; i < TG_METRICS_CONNS; i++) {
			if (conns[i].fd == -1 || pfd[2 + i].revents == 0 ||
			    pfd[2 + i].fd != conns[i].fd)
				continue;
			if (conns[i].writing)
				mconn_write(&conns[i]);
			else
				mconn_read(&conns[i]);
		}
		if (pfd[1].revents != 0)
			metrics_accept();
	}
}

void
metrics_main(const char *user, const char *chroot_dir)
{
	struct proc_demote	 demote = { .user = user,
				    .chroot_dir = chroot_dir, .no_network = true };

	/* The exec made this process dumpable again. */
	nodump_enforce();
	prctl(PR_SET_NAME, "tg-metrics", 0, 0, 0);
	log_init("tg-metrics", false, LOG_LVL_INFO);
	if (fcntl(METRICS_CTL_FD, F_SETFL, O_NONBLOCK) == -1 ||
	    fcntl(METRICS_LISTEN_FD, F_GETFL) == -1)
		fatalx("metrics: started without its descriptors");
	proc_demote_now(&demote);
	nodump_enforce();
	if (sandbox_enter(WORKER_METRICS) != 0)
		fatalx("metrics: cannot enter the sandbox");
	metrics_loop();
}
