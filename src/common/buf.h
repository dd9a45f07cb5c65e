/*
 * One bounded buffer type for the whole daemon: network reads, the CONNECT
 * parser's input, IPC messages and relay directions. Every buffer has a hard
 * maximum; storage is allocated on first use and can be released while empty,
 * so an idle tunnel holds no buffer memory.
 *
 * Request buffers hold Basic credentials and tunnel buffers plaintext, and a
 * connection can end on any path, so the buffer itself forgets: every byte
 * that leaves it (consumed, reset, freed, or left behind when it compacts or
 * grows) is zeroed with explicit_bzero(). Only the readable bytes are ever
 * non-zero, which holds as long as a writer through buf_wptr() commits what
 * it wrote. A buffer made with buf_init_sealed() holds only sealed TLS
 * records, what the network sees anyway: it skips the zeroing, which would
 * be a pass over every byte relayed for no secret kept.
 */
#ifndef TG_BUF_H
#define TG_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
	uint8_t	*data;
	size_t	 off;	/* first unread byte */
	size_t	 len;	/* end of stored bytes; readable = len - off */
	size_t	 cap;	/* allocated */
	size_t	 max;	/* hard limit on cap */
	bool	 sealed;	/* only ciphertext: nothing to forget */
};

#define BUF_ERR_FULL	-1	/* would exceed max */
#define BUF_ERR_NOMEM	-2
#define BUF_ERR_SHORT	-3	/* get past the end */

void	 buf_init(struct buf *, size_t max);
void	 buf_init_sealed(struct buf *, size_t max);
void	 buf_free(struct buf *);
/* Drop the allocation if nothing is stored (idle tunnels keep no memory). */
void	 buf_release_if_empty(struct buf *);
void	 buf_reset(struct buf *);
/* Allow the buffer to grow to max from now on (never lowers the limit). */
void	 buf_raise_max(struct buf *, size_t max);

static inline size_t
buf_len(const struct buf *b)
{
	return b->len - b->off;
}

static inline const uint8_t *
buf_rptr(const struct buf *b)
{
	return b->data + b->off;
}

void	 buf_consume(struct buf *, size_t n);
/*
 * Writable space of at least one byte at the tail, compacting or growing
 * within max. Returns NULL when the buffer is full; *space gets the size.
 */
uint8_t	*buf_wptr(struct buf *, size_t *space);
void	 buf_commit(struct buf *, size_t n);

int	 buf_put(struct buf *, const void *, size_t);
int	 buf_get(struct buf *, void *, size_t);
/*
 * Write what is stored to fd (non-blocking) until it is all out, then
 * release the storage: 0. Else -1 with errno, EAGAIN when fd is full.
 */
int	 buf_write_to(struct buf *, int fd);

#endif
