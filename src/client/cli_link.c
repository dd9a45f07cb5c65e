/*
 * Relaying one link: local bytes into the tunnel, tunnel bytes out to the
 * local side, each direction ending on its own (half-close both ways).
 */
#include <sys/epoll.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_link.h"

int
watch_set(struct watch *w, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };
	int		 op;

	w->wanted = events;
	if (w->fd < 0 || w->always || events == w->events)
		return 0;
	op = events == 0 ? EPOLL_CTL_DEL : w->events == 0 ? EPOLL_CTL_ADD :
	    EPOLL_CTL_MOD;
	if (epoll_ctl(w->loop->epfd, op, w->fd, &ev) == -1) {
		/* Regular files and /dev/null cannot be polled: always ready. */
		if (op == EPOLL_CTL_ADD && errno == EPERM) {
			w->always = 1;
			return 0;
		}
		/* A closed descriptor has left the set by itself. */
		if (op != EPOLL_CTL_DEL)
			return -1;
	}
	w->events = events;
	return 0;
}

void
link_list_add(struct link **head, struct link *l)
{
	l->prev = NULL;
	l->next = *head;
	if (*head != NULL)
		(*head)->prev = l;
	*head = l;
}

void
link_list_remove(struct link **head, struct link *l)
{
	if (l->prev != NULL)
		l->prev->next = l->next;
	else
		*head = l->next;
	if (l->next != NULL)
		l->next->prev = l->prev;
	l->prev = l->next = NULL;
}

static void
link_end(struct link *l, int status, const char *what, const char *why)
{
	struct loop	*lp = l->loop;

	if (what != NULL && !(lp->quiet && status == EXIT_OK))
		cli_warnx("%s%s%s%s%s", l->label ? l->label : "",
		    l->label ? ": " : "", what, why ? ": " : "", why ? why : "");
	l->dead = 1;
	l->status = status;
	watch_set(&l->in, 0);
	watch_set(&l->out, 0);
	watch_set(&l->tun, 0);
	link_list_remove(l->open ? &lp->active : &lp->opening, l);
	link_list_add(&lp->graveyard, l);
	lp->nlinks--;
	lp->ended++;
	lp->last_status = status;
}

/*
 * A tunnel that never opened ends the link at once; one that fails later
 * still delivers what it already received, then closes the local side.
 */
void
link_fail(struct link *l, int code)
{
	int	 status = cli_exit_code(code, tg_http_status(l->t));

	if (!l->open) {
		link_end(l, status, tg_errmsg(l->t), NULL);
		return;
	}
	cli_warnx("%s%s%s", l->label ? l->label : "", l->label ? ": " : "",
	    tg_errmsg(l->t));
	l->cut_status = status;
	l->t_eof = l->in_eof = l->up_shut = 1;
	l->up.len = 0;
}

static size_t
space(const struct cbuf *b)
{
	return sizeof(b->data) - b->off - b->len;
}

static void
compact(struct cbuf *b)
{
	if (b->len == 0)
		b->off = 0;
	else if (b->off > sizeof(b->data) / 2) {
		memmove(b->data, b->data + b->off, b->len);
		b->off = 0;
	}
}

static int
may_io(struct watch *w)
{
	return w->nonblock || w->ready || w->always;
}

static struct watch *
out_watch(struct link *l)
{
	return l->split ? &l->out : &l->in;
}

/* Local side to the up buffer. */
static int
fill_up(struct link *l)
{
	ssize_t	 n;

	compact(&l->up);
	if (l->in_eof || space(&l->up) == 0 || (!l->open && !l->pipeline) ||
	    !may_io(&l->in))
		return 0;
	l->in.ready = 0;
	n = read(l->in.fd, l->up.data + l->up.off + l->up.len, space(&l->up));
	if (n > 0) {
		l->up.len += (size_t)n;
		return 1;
	}
	if (n == 0) {
		l->in_eof = 1;
		return 1;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return 0;
	link_end(l, EXIT_LOCAL, "local read", strerror(errno));
	return -1;
}

static int
tunnel_result(struct link *l, ssize_t r, int *want)
{
	if (r == TG_WANT_READ || r == TG_WANT_WRITE) {
		*want = (int)r;
		return 0;
	}
	link_fail(l, (int)r);
	return l->dead ? -1 : 1;
}

/* The up buffer into the tunnel; then our half-close once it is empty. */
static int
drain_up(struct link *l)
{
	ssize_t	 r;

	if (l->up.len > 0) {
		if (!l->open && !l->pipeline)
			return 0;
		r = tg_write(l->t, l->up.data + l->up.off, l->up.len);
		if (r <= 0)
			return tunnel_result(l, r, &l->t_want);
		l->up.off += (size_t)r;
		l->up.len -= (size_t)r;
		return 1;
	}
	if (!l->in_eof || l->up_shut || !l->open)
		return 0;
	if ((r = tg_shutdown(l->t)) != TG_OK)
		return tunnel_result(l, r, &l->t_want);
	l->up_shut = 1;
	return 1;
}

/* The tunnel into the down buffer. */
static int
fill_down(struct link *l)
{
	ssize_t	 r;

	compact(&l->down);
	if (!l->open || l->t_eof || space(&l->down) == 0)
		return 0;
	r = tg_read(l->t, l->down.data + l->down.off + l->down.len,
	    space(&l->down));
	if (r > 0) {
		l->down.len += (size_t)r;
		return 1;
	}
	if (r == 0) {
		l->t_eof = 1;
		return 1;
	}
	return tunnel_result(l, r, &l->t_rd_want);
}

static int
shut_local(struct link *l)
{
	struct watch	*w = out_watch(l);
	int		 r = 0;

	/* ENOTCONN: the local peer is gone already; nothing to tell it. */
	if (w->sock && shutdown(w->fd, SHUT_WR) == -1 && errno != ENOTCONN)
		r = -1;
	if (!l->split)
		return r;
	/* stdout that is not a socket ends for its reader on close. */
	watch_set(w, 0);
	if (close(w->fd) == -1)
		r = -1;
	w->fd = -1;
	return r;
}

/* The down buffer to the local side; then its half-close. */
static int
drain_down(struct link *l)
{
	struct watch	*w = out_watch(l);
	ssize_t		 n;

	if (l->down.len == 0) {
		if (!l->t_eof || l->out_shut)
			return 0;
		l->out_shut = 1;
		if (shut_local(l) == -1) {
			link_end(l, EXIT_LOCAL, "local half-close", strerror(errno));
			return -1;
		}
		return 1;
	}
	if (!may_io(w))
		return 0;
	w->ready = 0;
	n = write(w->fd, l->down.data + l->down.off, l->down.len);
	if (n > 0) {
		l->down.off += (size_t)n;
		l->down.len -= (size_t)n;
		return 1;
	}
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINTR))
		return 0;
	link_end(l, EXIT_LOCAL, "local write", n == 0 ? "no progress" :
	    strerror(errno));
	return -1;
}

static int
step(struct link *l)
{
	int	 r;

	if (l->open)
		return 0;
	if ((r = tg_tunnel_step(l->t)) == TG_OK) {
		l->open = 1;
		l->t_want = 0;
		l->t_rd_want = TG_WANT_READ;
		link_list_remove(&l->loop->opening, l);
		link_list_add(&l->loop->active, l);
		return 0;
	}
	return tunnel_result(l, r, &l->t_want) == -1 ? -1 : 0;
}

static uint32_t
want_events(int want)
{
	return want == TG_WANT_READ ? EPOLLIN :
	    want == TG_WANT_WRITE ? EPOLLOUT : 0;
}

static int
interest(struct link *l)
{
	uint32_t	 in = 0, out = 0, tun = 0;

	if (!l->in_eof && space(&l->up) > 0 && (l->open || l->pipeline))
		in = EPOLLIN;
	if (l->down.len > 0)
		out = EPOLLOUT;
	if (!l->open)
		tun = want_events(l->t_want);
	else {
		if (!l->t_eof && space(&l->down) > 0)
			tun |= want_events(l->t_rd_want);
		if (l->up.len > 0 || (l->in_eof && !l->up_shut))
			tun |= want_events(l->t_want);
	}
	if (!l->split) {
		in |= out;
		out = 0;
	}
	/* Each gateway address tried gets a socket of its own, possibly under
	 * the number of the last one: register afresh until the tunnel is
	 * open (a few steps). */
	if (!l->open) {
		watch_set(&l->tun, 0);
		l->tun.fd = tg_fd(l->t);
	}
	if (watch_set(&l->in, in) == -1 || watch_set(&l->out, out) == -1 ||
	    watch_set(&l->tun, tun) == -1)
		return -1;
	return 0;
}

/* 1 if bytes or a half-close moved, 0 if nothing could, -1 if it ended. */
static int
move(struct link *l)
{
	static int (*const steps[])(struct link *) = {
		fill_up, drain_up, fill_down, drain_down
	};
	int	 moved = 0, r;

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		if ((r = steps[i](l)) == -1)
			return -1;
		moved |= r;
	}
	return moved;
}

/*
 * Move what can move. A link that could go on is queued to be pumped again
 * after the others had their turn: busy links must not starve quiet ones,
 * and neither bytes decrypted inside the TLS session nor a regular file
 * (always ready, never polled) raise an event of their own.
 */
void
link_pump(struct link *l)
{
	int	 moved = 1;

	for (int round = 0; round < PUMP_ROUNDS && moved && !l->dead;
	    round++) {
		if (step(l) == -1 || (moved = move(l)) == -1)
			return;
		if (l->up_shut && l->out_shut) {
			link_end(l, l->cut_status, NULL, NULL);
			return;
		}
	}
	if (l->dead)
		return;
	if (interest(l) == -1) {
		link_end(l, EXIT_LOCAL, "epoll", strerror(errno));
		return;
	}
	/* A file found unpollable just now is ready for the next round. */
	if (l->in.always && l->in.wanted)
		moved = 1;
	if (l->out.always && l->out.wanted)
		moved = 1;
	if (moved && !l->again) {
		l->again = 1;
		l->again_next = l->loop->again;
		l->loop->again = l;
	}
}

/* The links queued by link_pump(); dead ones stay allocated until buried. */
void
link_pump_again(struct loop *lp)
{
	struct link	*l, *next;

	for (l = lp->again, lp->again = NULL; l != NULL; l = next) {
		next = l->again_next;
		l->again = 0;
		if (!l->dead)
			link_pump(l);
	}
}

void
link_free(struct link *l)
{
	struct linger	 reset = { .l_onoff = 1, .l_linger = 0 };

	tg_close(l->t);
	if (l->owns_local && l->in.fd >= 0) {
		/* A tunnel that never opened resets the local connection, so
		 * the program there sees a failure, not an empty stream. */
		if (!l->open && setsockopt(l->in.fd, SOL_SOCKET, SO_LINGER,
		    &reset, sizeof(reset)) == -1)
			cli_warnx("SO_LINGER: %s", strerror(errno));
		close(l->in.fd);
	}
	free(l);
}
