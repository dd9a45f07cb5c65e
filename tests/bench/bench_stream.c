/*
 * Bulk data through one tunnel, at either end: the TLS tunnel of the client
 * or the plain socket of the built-in backend.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "bench.h"

#define CHUNK		65536		/* bytes per SSL_write/write */

int
stream_io(struct stream *s, int wr, void *buf, size_t len, size_t *done,
    struct err *e)
{
	ssize_t n;

	if (s->c != NULL) {
		*done = len;
		return wr ? conn_write(s->c, buf, len, s->b->timeout, e) :
		    conn_read(s->c, buf, len, done, s->b->timeout, e);
	}
	if ((n = wr ? write(s->fd, buf, len) : read(s->fd, buf, len)) <= 0)
		return fail(e, EX_FAIL, "backend %s: %s", wr ? "write" : "read",
		    n == 0 ? "tunnel closed" : errno == EAGAIN ?
		    "no progress within --timeout" : strerror(errno));
	*done = (size_t)n;
	return EX_OK;
}

/*
 * Send or receive --bytes.  The data is random and, under --verify, each
 * chunk is numbered, so that a lost, repeated or reordered chunk changes the
 * SHA-256 of what was actually sent or received.
 */
int
stream_bulk(struct stream *s, int wr, unsigned char *digest, double *t_done,
    struct err *e)
{
	uint64_t moved = 0, idx = 0, want = s->b->bytes;
	EVP_MD_CTX *md = NULL;
	unsigned char *buf;
	size_t len, n;
	int r = EX_OK;

	if ((buf = malloc(CHUNK)) == NULL)
		return fail(e, EX_FAIL, "malloc: %s", strerror(errno));
	if ((wr && RAND_bytes(buf, CHUNK) != 1) || (s->b->verify &&
	    ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)))
		r = fail(e, EX_FAIL, "bulk data setup: %s", ssl_errstr());
	while (r == EX_OK && moved < want) {
		len = want - moved < CHUNK ? (size_t)(want - moved) : CHUNK;
		if (wr && md != NULL)
			memcpy(buf, &idx, sizeof(idx));
		idx++;
		if ((r = stream_io(s, wr, buf, len, &n, e)) != EX_OK)
			break;
		if (md != NULL && EVP_DigestUpdate(md, buf, n) != 1)
			r = fail(e, EX_FAIL, "SHA-256: %s", ssl_errstr());
		moved += n;
	}
	*t_done = now();
	if (r == EX_OK && md != NULL && EVP_DigestFinal_ex(md, digest, NULL) != 1)
		r = fail(e, EX_FAIL, "SHA-256: %s", ssl_errstr());
	if (r != EX_OK && moved < want) {
		len = strlen(e->msg);
		snprintf(e->msg + len, sizeof(e->msg) - len, " after %llu of "
		    "%llu bytes", (unsigned long long)moved,
		    (unsigned long long)want);
	}
	EVP_MD_CTX_free(md);
	free(buf);
	return r;
}
