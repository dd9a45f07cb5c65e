#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pump.h"

static ssize_t
plain_result(struct pump_end *e, ssize_t n, const char *what)
{
	if (n >= 0)
		return n;
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return what[0] == 'r' ? PUMP_IO_WANT_READ : PUMP_IO_WANT_WRITE;
	snprintf(e->err, sizeof(e->err), "%s: %s", what, strerror(errno));
	return PUMP_IO_ERROR;
}

static ssize_t
plain_read(struct pump_end *e, uint8_t *p, size_t len)
{
	ssize_t	 n;

	do {
		n = read(e->fd, p, len);
	} while (n == -1 && errno == EINTR);
	return plain_result(e, n, "read");
}

static ssize_t
plain_write(struct pump_end *e, const uint8_t *p, size_t len)
{
	ssize_t	 n;

	do {
		n = send(e->fd, p, len, MSG_NOSIGNAL);
	} while (n == -1 && errno == EINTR);
	return plain_result(e, n, "write");
}

static ssize_t
plain_shutdown_write(struct pump_end *e)
{
	if (shutdown(e->fd, SHUT_WR) == -1 && errno != ENOTCONN) {
		snprintf(e->err, sizeof(e->err), "shutdown: %s", strerror(errno));
		return PUMP_IO_ERROR;
	}
	return 0;
}

static bool
plain_has_pending(const struct pump_end *e)
{
	(void)e;
	return false;
}

const struct pump_ops pump_plain_ops = {
	.read = plain_read,
	.write = plain_write,
	.shutdown_write = plain_shutdown_write,
	.has_pending = plain_has_pending,
};

void
pump_end_init(struct pump_end *e, int fd, const struct pump_ops *ops,
    void *io)
{
	memset(e, 0, sizeof(*e));
	e->fd = fd;
	e->ops = ops;
	e->io = io;
	/* Fresh sockets are writable; readability arrives as an event. */
	e->writable = true;
}

void
pump_end_event(struct pump_end *e, uint32_t events)
{
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		e->readable = true;
	if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
		e->writable = true;
}

/* Record a want/err result of an op on e; returns true if it failed. */
static bool
pump_note(struct pump_end *e, ssize_t r, bool reading)
{
	switch (r) {
	case PUMP_IO_WANT_READ:
		e->readable = false;
		if (reading)
			e->read_wants_write = false;
		else
			e->write_wants_read = true;
		return false;
	case PUMP_IO_WANT_WRITE:
		e->writable = false;
		if (reading)
			e->read_wants_write = true;
		else
			e->write_wants_read = false;
		return false;
	case PUMP_IO_ERROR:
		return true;
	default:
		if (reading)
			e->read_wants_write = false;
		else
			e->write_wants_read = false;
		return false;
	}
}

static bool
pump_can_read(const struct pump_end *e)
{
	if (e->eof)
		return false;
	if (e->read_wants_write)
		return e->writable;
	return e->readable || e->ops->has_pending(e);
}

static bool
pump_can_write(const struct pump_end *e)
{
	return e->write_wants_read ? e->readable : e->writable;
}

/* A write failed: that ends the tunnel now, unless a read failed first. */
static int
pump_write_failed(struct pump *r, enum audit_closed_by dst_name)
{
	if (r->failed_by == AUDIT_BY_NONE)
		r->failed_by = dst_name;
	return -1;
}

/*
 * A failed end gets nothing more; the other one is done with once the
 * failed end's bytes reached it and it was closed.
 */
static bool
pump_failure_done(const struct pump *r)
{
	if (r->client.failed && !r->backend.failed &&
	    (buf_len(&r->up) > 0 || !r->backend.shut))
		return false;
	if (r->backend.failed && !r->client.failed &&
	    (buf_len(&r->down) > 0 || !r->client.shut))
		return false;
	return r->client.failed || r->backend.failed;
}

/*
 * One step of one direction: read from src into b, write b to dst, and pass
 * on src's end of stream once b is drained. Returns -1 on failure (*who set),
 * 1 if anything moved, 0 otherwise.
 */
static int
pump_step(struct pump_end *src, struct pump_end *dst, struct buf *b,
    uint64_t *count, enum audit_closed_by src_name, enum audit_closed_by dst_name,
    struct pump *r)
{
	uint8_t	*w;
	size_t	 space;
	ssize_t	 n;
	int	 moved = 0;

	while (pump_can_read(src) && (w = buf_wptr(b, &space)) != NULL) {
		n = src->ops->read(src, w, space);
		if (pump_note(src, n, true))
			src->failed = true;
		if (n > 0) {
			buf_commit(b, (size_t)n);
			moved = 1;
		} else if (n == PUMP_IO_EOF) {
			src->eof = true;
			if (r->first_eof == AUDIT_BY_NONE)
				r->first_eof = src_name;
			moved = 1;
		}
		if (src->failed) {
			/* Deliver what came before the failure, then close. */
			src->eof = true;
			if (r->failed_by == AUDIT_BY_NONE)
				r->failed_by = src_name;
			moved = 1;
		}
		/* Fill b with several records, then write them at once. */
		if (n <= 0 || src->eof || !src->ops->record_reads)
			break;
	}
	if (dst->ops->flush != NULL && pump_can_write(dst)) {
		n = dst->ops->flush(dst);
		if (pump_note(dst, n, false))
			return pump_write_failed(r, dst_name);
	}
	if (buf_len(b) > 0 && pump_can_write(dst)) {
		n = dst->ops->write(dst, buf_rptr(b), buf_len(b));
		if (pump_note(dst, n, false))
			return pump_write_failed(r, dst_name);
		if (n > 0) {
			buf_consume(b, (size_t)n);
			*count += (uint64_t)n;
			moved = 1;
		}
	}
	if (src->eof && buf_len(b) == 0 && !dst->shut && pump_can_write(dst)) {
		n = dst->ops->shutdown_write(dst);
		if (pump_note(dst, n, false))
			return pump_write_failed(r, dst_name);
		if (n == 0) {
			dst->shut = true;
			moved = 1;
		}
	}
	return moved;
}

enum pump_state
pump_run(struct pump *r)
{
	int	 up, down;

	r->moved = false;
	do {
		up = down = 0;
		if (!r->backend.failed)
			up = pump_step(&r->client, &r->backend, &r->up,
			    &r->bytes_up, AUDIT_BY_CLIENT, AUDIT_BY_BACKEND, r);
		if (up < 0)
			return PUMP_FAILED;
		if (!r->client.failed)
			down = pump_step(&r->backend, &r->client, &r->down,
			    &r->bytes_down, AUDIT_BY_BACKEND, AUDIT_BY_CLIENT,
			    r);
		if (down < 0)
			return PUMP_FAILED;
		if (up || down)
			r->moved = true;
	} while ((up || down) && !pump_failure_done(r));
	buf_release_if_empty(&r->up);
	buf_release_if_empty(&r->down);
	if (pump_failure_done(r))
		return PUMP_FAILED;
	if (r->client.shut && r->backend.shut)
		return PUMP_DONE;
	return PUMP_RUNNING;
}

ssize_t
pump_read_client(struct pump *r)
{
	uint8_t	*w;
	size_t	 space;
	ssize_t	 n;

	if (!pump_can_read(&r->client))
		return PUMP_IO_WANT_READ;
	if ((w = buf_wptr(&r->up, &space)) == NULL)
		return PUMP_IO_ERROR;
	n = r->client.ops->read(&r->client, w, space);
	pump_note(&r->client, n, true);
	if (n > 0)
		buf_commit(&r->up, (size_t)n);
	return n;
}

ssize_t
pump_flush_client(struct pump *r)
{
	ssize_t	 n;

	while (buf_len(&r->down) > 0) {
		if (!pump_can_write(&r->client))
			return PUMP_IO_WANT_WRITE;
		n = r->client.ops->write(&r->client, buf_rptr(&r->down),
		    buf_len(&r->down));
		if (pump_note(&r->client, n, false))
			return PUMP_IO_ERROR;
		if (n > 0)
			buf_consume(&r->down, (size_t)n);
	}
	return 0;
}

void
pump_free(struct pump *r)
{
	if (r->client.ops != NULL && r->client.ops->release != NULL)
		r->client.ops->release(&r->client);
	buf_free(&r->up);
	buf_free(&r->down);
}
