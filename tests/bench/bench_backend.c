/*
 * The built-in backend on 127.0.0.1, in its own thread: in the bulk modes
 * it sends or receives the data of the one tunnel; in the setup and idle
 * modes it echoes every tunnel from one epoll loop.
 */
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

static int
listen_backend(struct backend *bk, int nonblock, struct err *e)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int one = 1;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(bk->b->backend_port);
	if ((bk->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC |
	    (nonblock ? SOCK_NONBLOCK : 0), 0)) == -1)
		return fail(e, EX_FAIL, "backend socket: %s", strerror(errno));
	if (setsockopt(bk->lfd, SOL_SOCKET, SO_REUSEADDR, &one,
	    sizeof(one)) == -1 ||
	    sock_setup(bk->lfd, bk->b->timeout) == -1 ||
	    bind(bk->lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(bk->lfd, SOMAXCONN) == -1 ||
	    getsockname(bk->lfd, (struct sockaddr *)&sin, &len) == -1)
		return fail(e, EX_FAIL, "backend listen on 127.0.0.1:%u: %s "
		    "(--backend-port)", bk->b->backend_port, strerror(errno));
	bk->port = ntohs(sin.sin_port);
	return EX_OK;
}

static void *
backend_bulk(void *arg)
{
	struct backend *bk = arg;
	struct stream s = { .b = bk->b };
	unsigned char go;
	size_t n;

	if ((s.fd = accept4(bk->lfd, NULL, NULL, SOCK_CLOEXEC)) == -1) {
		fail(&bk->err, EX_FAIL, "backend accept: %s", errno == EAGAIN ?
		    "no tunnel arrived within --timeout" : strerror(errno));
		return NULL;
	}
	if (sock_setup(s.fd, bk->b->timeout) == -1)
		fail(&bk->err, EX_FAIL, "backend setsockopt: %s",
		    strerror(errno));
	/* Downstream waits for the client's go byte, so that nothing is
	 * queued in the proxy before the client starts its clock. */
	else if (bk->b->mode == M_UP ||
	    stream_io(&s, 0, &go, 1, &n, &bk->err) == EX_OK)
		stream_bulk(&s, bk->b->mode == M_DOWN, bk->digest, &bk->t_done,
		    &bk->err);
	close(s.fd);
	return NULL;
}

static void
echo_drop(struct echo *c)
{
	c->prev->next = c->next;
	c->next->prev = c->prev;
	close(c->fd);
	free(c);
}

static void
echo_accept(struct backend *bk, int ep)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct echo *c;
	int fd, one = 1;

	for (;;) {
		if ((fd = accept4(bk->lfd, NULL, NULL,
		    SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1) {
			if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED && bk->err.code == EX_OK)
				fail(&bk->err, EX_FAIL, "backend accept: %s",
				    strerror(errno));
			return;
		}
		if ((c = malloc(sizeof(*c))) == NULL) {
			close(fd);
			continue;
		}
		c->fd = fd;
		ev.data.ptr = c;
		if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one)) == -1 ||
		    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == -1) {
			close(fd);
			free(c);
			continue;
		}
		c->next = bk->conns.next;
		c->prev = &bk->conns;
		c->next->prev = c;
		bk->conns.next = c;
		__atomic_add_fetch(&bk->accepted, 1, __ATOMIC_RELEASE);
	}
}

/* Only the probe byte of setup mode ever flows here, so a send buffer
 * that cannot take it back at once means a broken tunnel. */
static void
echo_io(struct echo *c)
{
	char buf[512];
	ssize_t n;

	if ((n = read(c->fd, buf, sizeof(buf))) > 0 &&
	    write(c->fd, buf, (size_t)n) == n)
		return;
	if (n == -1 && errno == EAGAIN)
		return;
	echo_drop(c);
}

static void *
backend_echo(void *arg)
{
	struct backend *bk = arg;
	struct echo lev = { .fd = bk->lfd }, sev = { .fd = bk->evfd };
	struct epoll_event evs[64], ev = { .events = EPOLLIN };
	int ep, i, n;

	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		fail(&bk->err, EX_FAIL, "epoll: %s", strerror(errno));
		return NULL;
	}
	ev.data.ptr = &lev;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, lev.fd, &ev) == -1)
		goto err;
	ev.data.ptr = &sev;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, sev.fd, &ev) == -1)
		goto err;
	for (;;) {
		if ((n = epoll_wait(ep, evs, 64, -1)) == -1) {
			if (errno == EINTR)
				continue;
			goto err;
		}
		for (i = 0; i < n; i++) {
			if (evs[i].data.ptr == &sev)
				goto out;
			if (evs[i].data.ptr == &lev)
				echo_accept(bk, ep);
			else
				echo_io(evs[i].data.ptr);
		}
	}
err:
	fail(&bk->err, EX_FAIL, "backend epoll: %s", strerror(errno));
out:
	close(ep);
	return NULL;
}

int
backend_start(const struct bench *b, struct backend *bk, struct err *e)
{
	int echo = b->mode == M_SETUP || b->mode == M_IDLE, r;

	memset(bk, 0, sizeof(*bk));
	bk->b = b;
	bk->evfd = -1;
	bk->conns.next = bk->conns.prev = &bk->conns;
	if ((r = listen_backend(bk, echo, e)) != EX_OK)
		return r;
	if (echo && (bk->evfd = eventfd(0, EFD_CLOEXEC)) == -1)
		return fail(e, EX_FAIL, "eventfd: %s", strerror(errno));
	if ((r = pthread_create(&bk->thr, NULL, echo ? backend_echo :
	    backend_bulk, bk)) != 0)
		return fail(e, EX_FAIL, "backend thread: %s", strerror(r));
	return EX_OK;
}

void
backend_stop(struct backend *bk)
{
	uint64_t one = 1;

	if (bk->evfd != -1 && write(bk->evfd, &one, sizeof(one)) !=
	    sizeof(one))
		fprintf(stderr, "%s: backend stop: %s\n", progname,
		    strerror(errno));
	pthread_join(bk->thr, NULL);
	while (bk->conns.next != &bk->conns)
		echo_drop(bk->conns.next);
	if (bk->evfd != -1)
		close(bk->evfd);
	close(bk->lfd);
}
