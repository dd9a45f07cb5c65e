#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"

void
buf_init(struct buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void
buf_init_sealed(struct buf *b, size_t max)
{
	buf_init(b, max);
	b->sealed = true;
}

static void
buf_forget(const struct buf *b, uint8_t *p, size_t n)
{
	if (!b->sealed && n > 0)
		explicit_bzero(p, n);
}

/* The readable bytes are the only ones not already zeroed (see buf.h). */
static void
buf_wipe_stored(struct buf *b)
{
	if (b->data != NULL)
		buf_forget(b, b->data + b->off, b->len - b->off);
}

void
buf_free(struct buf *b)
{
	buf_wipe_stored(b);
	free(b->data);
	b->data = NULL;
	b->off = b->len = b->cap = 0;
}

void
buf_reset(struct buf *b)
{
	buf_wipe_stored(b);
	b->off = b->len = 0;
}

void
buf_raise_max(struct buf *b, size_t max)
{
	if (max > b->max)
		b->max = max;
}

void
buf_release_if_empty(struct buf *b)
{
	if (buf_len(b) == 0)
		buf_free(b);
}

void
buf_consume(struct buf *b, size_t n)
{
	if (n > buf_len(b))
		n = buf_len(b);
	if (n > 0)
		buf_forget(b, b->data + b->off, n);
	b->off += n;
	if (b->off == b->len)
		b->off = b->len = 0;
}

/* Make room for want bytes at the tail; 0 or a BUF_ERR_* code. */
static int
buf_make_room(struct buf *b, size_t want)
{
	size_t	 used = buf_len(b), ncap;
	uint8_t	*p;

	if (want > b->max - used)
		return BUF_ERR_FULL;
	if (b->cap - b->len >= want)
		return 0;
	if (b->off > 0) {
		memmove(b->data, b->data + b->off, used);
		/* What the move left behind past the new end is a stale copy. */
		buf_forget(b, b->data + used, b->len - used);
		b->off = 0;
		b->len = used;
		if (b->cap - b->len >= want)
			return 0;
	}
	ncap = b->cap ? b->cap : 4096;
	while (ncap < used + want)
		ncap *= 2;
	if (ncap > b->max)
		ncap = b->max;
	/* Not realloc(): it may leave the old copy behind in freed memory. */
	if ((p = malloc(ncap)) == NULL)
		return BUF_ERR_NOMEM;
	if (b->data != NULL) {
		memcpy(p, b->data, b->len);
		buf_forget(b, b->data, b->len);
		free(b->data);
	}
	b->data = p;
	b->cap = ncap;
	return 0;
}

uint8_t *
buf_wptr(struct buf *b, size_t *space)
{
	size_t	 want = b->max - buf_len(b);

	*space = 0;
	if (want == 0)
		return NULL;
	/* Grow to the whole limit at once: relay buffers are sized to it. */
	if (buf_make_room(b, want) != 0 && buf_make_room(b, 1) != 0)
		return NULL;
	*space = b->cap - b->len;
	return b->data + b->len;
}

void
buf_commit(struct buf *b, size_t n)
{
	if (n > b->cap - b->len)
		n = b->cap - b->len;
	b->len += n;
}

int
buf_put(struct buf *b, const void *p, size_t n)
{
	int	 r;

	if (n == 0)
		return 0;
	if ((r = buf_make_room(b, n)) != 0)
		return r;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

int
buf_get(struct buf *b, void *p, size_t n)
{
	if (n > buf_len(b))
		return BUF_ERR_SHORT;
	if (n == 0)
		return 0;
	memcpy(p, b->data + b->off, n);
	buf_consume(b, n);
	return 0;
}

int
buf_write_to(struct buf *b, int fd)
{
	ssize_t	 n;

	while (buf_len(b) > 0) {
		n = write(fd, buf_rptr(b), buf_len(b));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EPIPE;
			return -1;
		}
		buf_consume(b, (size_t)n);
	}
	buf_release_if_empty(b);
	return 0;
}
