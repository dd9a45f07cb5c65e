/*
 * The event loop: one epoll set for every local endpoint, tunnel, listener
 * and the signals; no thread per connection. Opening tunnels are kept on
 * their own list so that only they are scanned for deadlines.
 */
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli_link.h"

#define LISTEN_BACKLOG	128
#define ACCEPT_BATCH	64
#define PAUSE_MS	1000
#define LISTENERS_MAX	(4 * CLI_FORWARDS_MAX)

static int64_t
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
loop_init(struct loop *lp, struct tg_ctx *ctx, int pipeline, int quiet)
{
	sigset_t	 set;

	memset(lp, 0, sizeof(*lp));
	lp->epfd = -1;
	lp->ctx = ctx;
	lp->pipeline = pipeline;
	lp->quiet = quiet;
	lp->accepting = 1;
	lp->sig = (struct watch){ .loop = lp, .kind = W_SIGNAL, .fd = -1 };
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR ||
	    sigprocmask(SIG_BLOCK, &set, NULL) == -1 ||
	    (lp->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1 ||
	    (lp->sig.fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) == -1 ||
	    watch_set(&lp->sig, EPOLLIN) == -1) {
		cli_warnx("event loop set-up: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static void
loop_bury(struct loop *lp)
{
	struct link	*l;

	while ((l = lp->graveyard) != NULL) {
		link_list_remove(&lp->graveyard, l);
		link_free(l);
	}
}

static void
loop_close(struct loop *lp)
{
	struct link	**lists[] = { &lp->opening, &lp->active, &lp->graveyard };
	struct link	*l;

	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		while ((l = *lists[i]) != NULL) {
			link_list_remove(lists[i], l);
			link_free(l);
		}
	for (size_t i = 0; i < lp->nlisteners; i++)
		close(lp->listeners[i].w.fd);
	free(lp->listeners);
	if (lp->sig.fd != -1)
		close(lp->sig.fd);
	if (lp->epfd != -1)
		close(lp->epfd);
}

static struct link *
link_new(struct loop *lp, int in, int out, const char *target,
    const char *label)
{
	struct link	*l;
	int		 r;

	if ((l = calloc(1, sizeof(*l))) == NULL) {
		cli_warnx("out of memory");
		return NULL;
	}
	l->loop = lp;
	l->label = label;
	l->pipeline = lp->pipeline;
	l->in = (struct watch){ .link = l, .loop = lp, .kind = W_LOCAL,
	    .fd = in };
	l->out = (struct watch){ .link = l, .loop = lp, .kind = W_LOCAL,
	    .fd = out };
	l->split = out != -1;
	l->tun = (struct watch){ .link = l, .loop = lp, .kind = W_TUNNEL,
	    .fd = -1 };
	link_list_add(&lp->opening, l);
	lp->nlinks++;
	r = tg_tunnel_start(lp->ctx, target, &l->t);
	if (l->t == NULL) {
		cli_warnx("out of memory");
		lp->nlinks--;
		link_list_remove(&lp->opening, l);
		free(l);
		return NULL;
	}
	l->tun.fd = tg_fd(l->t);
	if (r != TG_OK)
		link_fail(l, r);
	return l;
}

static void
listeners_enable(struct loop *lp, int on)
{
	for (size_t i = 0; i < lp->nlisteners; i++)
		if (watch_set(&lp->listeners[i].w, on ? EPOLLIN : 0) == -1)
			cli_warnx("listener: epoll: %s", strerror(errno));
	lp->accepting = on;
}

static void
accept_pause(struct loop *lp, int64_t until)
{
	listeners_enable(lp, 0);
	lp->resume_ms = until;
}

static void
accept_one(struct loop *lp, struct listener *ls, int fd)
{
	struct link	*l;
	int		 on = 1;

	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) == -1)
		cli_warnx("%s: TCP_NODELAY: %s", ls->label, strerror(errno));
	if ((l = link_new(lp, fd, -1, ls->fwd->target, ls->label)) == NULL) {
		close(fd);
		return;
	}
	l->owns_local = 1;
	l->in.nonblock = 1;
	l->in.sock = 1;
	if (!l->dead)
		link_pump(l);
}

static void
accept_all(struct loop *lp, struct listener *ls)
{
	int	 fd;

	for (int i = 0; i < ACCEPT_BATCH && lp->accepting; i++) {
		if (lp->nlinks >= lp->max_links) {
			accept_pause(lp, 0);
			return;
		}
		fd = accept4(ls->w.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				cli_warnx("%s: accept: %s; new connections wait "
				    "%d ms", ls->label, strerror(errno),
				    PAUSE_MS);
				accept_pause(lp, now_ms() + PAUSE_MS);
			} else if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR && errno != ECONNABORTED)
				cli_warnx("%s: accept: %s", ls->label,
				    strerror(errno));
			return;
		}
		accept_one(lp, ls, fd);
	}
}

static void
dispatch(struct loop *lp, struct watch *w)
{
	struct signalfd_siginfo si;

	switch (w->kind) {
	case W_SIGNAL:
		if (read(w->fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
			lp->stop = (int)si.ssi_signo;
		break;
	case W_LISTENER:
		accept_all(lp, (struct listener *)w);
		break;
	case W_LOCAL:
	case W_TUNNEL:
		if (!w->link->dead) {
			w->ready = 1;
			link_pump(w->link);
		}
		break;
	}
}

static int
loop_timeout(const struct loop *lp)
{
	int64_t		 t = -1, ms;

	if (lp->again != NULL)
		return 0;
	for (const struct link *l = lp->opening; l != NULL; l = l->next)
		if ((ms = tg_tunnel_timeout_ms(l->t)) >= 0 && (t == -1 || ms < t))
			t = ms;
	if (!lp->accepting && lp->resume_ms != 0) {
		ms = lp->resume_ms - now_ms();
		ms = ms < 0 ? 0 : ms;
		if (t == -1 || ms < t)
			t = ms;
	}
	return (int)t;
}

/* Deadlines, links with more to move, the dead, and paused listeners. */
static void
loop_chores(struct loop *lp)
{
	struct link	*l, *next;

	for (l = lp->opening; l != NULL; l = next) {
		next = l->next;
		if (tg_tunnel_timeout_ms(l->t) == 0)
			link_pump(l);
	}
	link_pump_again(lp);
	loop_bury(lp);
	if (!lp->accepting && lp->nlisteners > 0 &&
	    lp->nlinks < lp->max_links &&
	    (lp->resume_ms == 0 || now_ms() >= lp->resume_ms))
		listeners_enable(lp, 1);
}

static int
loop_run(struct loop *lp, int until_ended)
{
	struct epoll_event evs[64];
	int		 n;

	while (lp->stop == 0 && (!until_ended || lp->ended == 0)) {
		if ((n = epoll_wait(lp->epfd, evs, 64, loop_timeout(lp))) == -1) {
			if (errno == EINTR)
				continue;
			cli_warnx("epoll_wait: %s", strerror(errno));
			return -1;
		}
		for (int i = 0; i < n; i++)
			dispatch(lp, evs[i].data.ptr);
		loop_chores(lp);
	}
	return 0;
}

/* Pipes and sockets go non-blocking; a terminal stays as it is, shared
 * with the shell, and is only read or written when epoll says so. */
static int
stdio_prepare(struct watch *w, int *saved)
{
	struct stat	 st;
	int		 on = 1;

	*saved = -1;
	if (fstat(w->fd, &st) == -1) {
		cli_warnx("%s: %s", w->fd == 0 ? "stdin" : "stdout",
		    strerror(errno));
		return -1;
	}
	w->sock = S_ISSOCK(st.st_mode);
	/* A Unix socketpair (as some ProxyCommand callers use) has no Nagle. */
	if (w->sock && setsockopt(w->fd, IPPROTO_TCP, TCP_NODELAY, &on,
	    sizeof(on)) == -1 && errno != EOPNOTSUPP && errno != ENOPROTOOPT)
		cli_warnx("%s: TCP_NODELAY: %s", w->fd == 0 ? "stdin" : "stdout",
		    strerror(errno));
	if (!w->sock && !S_ISFIFO(st.st_mode))
		return 0;
	if ((*saved = fcntl(w->fd, F_GETFL)) == -1 ||
	    fcntl(w->fd, F_SETFL, *saved | O_NONBLOCK) == -1) {
		cli_warnx("%s: O_NONBLOCK: %s", w->fd == 0 ? "stdin" : "stdout",
		    strerror(errno));
		return -1;
	}
	w->nonblock = 1;
	return 0;
}

int
cli_run_stdio(struct tg_ctx *ctx, const char *target, int pipeline)
{
	struct loop	 lp;
	struct link	*l;
	int		 saved[2] = { -1, -1 }, status = EXIT_LOCAL;

	if (loop_init(&lp, ctx, pipeline, 0) == -1)
		goto out;
	if ((l = link_new(&lp, 0, 1, target, NULL)) == NULL)
		goto out;
	if (!l->dead && (stdio_prepare(&l->in, &saved[0]) == -1 ||
	    stdio_prepare(&l->out, &saved[1]) == -1))
		goto out;
	if (!l->dead)
		link_pump(l);
	if (loop_run(&lp, 1) == -1)
		goto out;
	status = lp.stop ? EXIT_SIGNAL + lp.stop : lp.last_status;
 out:
	/* stdout may be closed by now: its reader has had the end. In
	 * reverse, for when both are one file and stdin saved its flags. */
	for (int fd = 1; fd >= 0; fd--)
		if (saved[fd] != -1 && fcntl(fd, F_SETFL, saved[fd]) == -1 &&
		    errno != EBADF)
			cli_warnx("restore %s flags: %s", fd ? "stdout" : "stdin",
			    strerror(errno));
	loop_close(&lp);
	return status;
}

static void
raise_nofile(struct loop *lp, size_t max_conns)
{
	struct rlimit	 rl;
	size_t		 fit;

	lp->max_links = max_conns;
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1 &&
		    getrlimit(RLIMIT_NOFILE, &rl) == -1)
			return;
	}
	/* Two descriptors per link, a few for the loop and listeners. */
	fit = rl.rlim_cur > 64 + LISTENERS_MAX ?
	    (size_t)(rl.rlim_cur - 64 - LISTENERS_MAX) / 2 : 1;
	if (fit < lp->max_links) {
		cli_warnx("at most %zu concurrent connections (open file limit "
		    "%llu)", fit, (unsigned long long)rl.rlim_cur);
		lp->max_links = fit;
	}
}

static int
listen_one(struct loop *lp, const struct forward *f, struct addrinfo *ai)
{
	struct listener	*ls = &lp->listeners[lp->nlisteners];
	char		 host[NI_MAXHOST], port[NI_MAXSERV];
	int		 v6;
	struct sockaddr_storage ss;
	socklen_t	 len = sizeof(ss);
	int		 fd, on = 1;

	if ((fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1 ||
	    (ai->ai_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &on, sizeof(on)) == -1) ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 ||
	    listen(fd, LISTEN_BACKLOG) == -1 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) == -1 ||
	    getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host), port,
	    sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		cli_warnx("-L %s:%s: %s", f->bind_host[0] ? f->bind_host : "*",
		    f->bind_port, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	ls->w = (struct watch){ .loop = lp, .kind = W_LISTENER, .fd = fd };
	ls->fwd = f;
	v6 = strchr(host, ':') != NULL;
	snprintf(ls->label, sizeof(ls->label), "%s%s%s:%s to %s", v6 ? "[" : "",
	    host, v6 ? "]" : "", port, f->target);
	lp->nlisteners++;
	if (!lp->quiet)
		cli_warnx("forwarding %s", ls->label);
	return 0;
}

static int
listen_forward(struct loop *lp, const struct forward *f)
{
	struct addrinfo	 hints = { .ai_socktype = SOCK_STREAM,
	    .ai_flags = AI_PASSIVE | AI_NUMERICSERV }, *res, *ai;
	int		 r;

	if ((r = getaddrinfo(f->bind_host[0] ? f->bind_host : NULL,
	    f->bind_port, &hints, &res)) != 0) {
		cli_warnx("-L %s: %s", f->bind_host, gai_strerror(r));
		return -1;
	}
	for (ai = res, r = 0; ai != NULL && r == 0; ai = ai->ai_next)
		r = lp->nlisteners == LISTENERS_MAX ? -1 :
		    listen_one(lp, f, ai);
	freeaddrinfo(res);
	return r;
}

int
cli_run_forward(struct tg_ctx *ctx, const struct forward *fwd, size_t n,
    size_t max_conns, int pipeline, int quiet)
{
	struct loop	 lp;
	int		 status = EXIT_LOCAL;

	if (loop_init(&lp, ctx, pipeline, quiet) == -1)
		goto out;
	raise_nofile(&lp, max_conns);
	if ((lp.listeners = calloc(LISTENERS_MAX, sizeof(*lp.listeners))) ==
	    NULL) {
		cli_warnx("out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (listen_forward(&lp, &fwd[i]) == -1)
			goto out;
	listeners_enable(&lp, 1);
	if (loop_run(&lp, 0) == 0)
		status = EXIT_OK;
 out:
	loop_close(&lp);
	return status;
}
