#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "audit.h"
#include "log.h"
#include "pump.h"
#include "tls.h"

void
tls_facts(const SSL *ssl, char *version, size_t vlen, char *cipher, size_t clen)
{
	const char	*c = SSL_get_cipher_name(ssl);

	auditlog_strlcpy(version, SSL_get_version(ssl), vlen);
	auditlog_strlcpy(cipher, c ? c : "", clen);
}

/* Room for a few whole records in libssl's read buffer. */
#define TLS_READ_AHEAD_BYTES	(4 * SSL3_RT_MAX_PACKET_SIZE)

void
tls_read_ahead(SSL *ssl)
{
	/*
	 * Takes effect when libssl next allocates its read buffer, which it
	 * releases while empty (SSL_MODE_RELEASE_BUFFERS).
	 */
	SSL_set_default_read_buffer_len(ssl, TLS_READ_AHEAD_BYTES);
	SSL_set_read_ahead(ssl, 1);
}

/* Map an SSL_* call's result to the pump's codes. */
static ssize_t
tls_result(struct pump_end *e, int ret, const char *what)
{
	int	 err = SSL_get_error(e->io, ret);

	switch (err) {
	case SSL_ERROR_NONE:
		return ret;
	case SSL_ERROR_WANT_READ:
		return PUMP_IO_WANT_READ;
	case SSL_ERROR_WANT_WRITE:
		return PUMP_IO_WANT_WRITE;
	case SSL_ERROR_ZERO_RETURN:
		return PUMP_IO_EOF;
	case SSL_ERROR_SYSCALL:
		snprintf(e->err, sizeof(e->err), "tls %s: %s", what,
		    errno ? strerror(errno) : "connection closed");
		ERR_clear_error();
		return PUMP_IO_ERROR;
	default:
		snprintf(e->err, sizeof(e->err), "tls %s: %.80s", what,
		    tls_error_string());
		return PUMP_IO_ERROR;
	}
}

static ssize_t
tls_read(struct pump_end *e, uint8_t *p, size_t len)
{
	int	 n;

	ERR_clear_error();
	errno = 0;
	n = SSL_read(e->io, p, len > INT_MAX ? INT_MAX : (int)len);
	return n > 0 ? n : tls_result(e, n, "read");
}

/* Write out what a batch holds: 0 once empty, else a PUMP_IO_* code. */
static ssize_t
tls_flush(struct pump_end *e)
{
	BIO	*w;

	if (tls_batch_pending(e->io) == 0)
		return 0;
	w = SSL_get_wbio(e->io);
	errno = 0;
	if (BIO_flush(w) == 1)
		return 0;
	if (BIO_should_retry(w))
		return PUMP_IO_WANT_WRITE;
	snprintf(e->err, sizeof(e->err), "tls write: %s",
	    errno ? strerror(errno) : "connection closed");
	return PUMP_IO_ERROR;
}

/*
 * With SSL_MODE_ENABLE_PARTIAL_WRITE each SSL_write writes one record:
 * write them all here, so that the pump's next read from the backend fills
 * the whole buffer again instead of the one record's room. Under a batch
 * they leave with one flush, and count as written only once it is done:
 * until then the pump keeps them, and comes back when the socket drains.
 */
static ssize_t
tls_write(struct pump_end *e, const uint8_t *p, size_t len)
{
	size_t	 done, left;
	ssize_t	 f;
	int	 n;

	/* Records for the head of p were batched by an earlier call. */
	if ((done = tls_batch_queued(e->io)) == 0) {
		while (done < len) {
			ERR_clear_error();
			errno = 0;
			left = len - done;
			n = SSL_write(e->io, p + done, left > INT_MAX ?
			    INT_MAX : (int)left);
			if (n <= 0) {
				if (done == 0)
					return tls_result(e, n, "write");
				break;
			}
			done += (size_t)n;
		}
		tls_batch_set_queued(e->io, done);
	}
	if ((f = tls_flush(e)) != 0)
		return f;
	tls_batch_set_queued(e->io, 0);
	return (ssize_t)done;
}

static ssize_t
tls_shutdown_write(struct pump_end *e)
{
	ssize_t	 r;
	int	 n;

	/* Once queued in a batch, only the flush is left to do. */
	if (!tls_batch_closed(e->io)) {
		ERR_clear_error();
		errno = 0;
		/* 0: our close_notify is out (half-close): the client may
		 * keep sending. */
		if ((n = SSL_shutdown(e->io)) < 0) {
			r = tls_result(e, n, "shutdown");
			/* A caller ending the tunnel now still sends these. */
			if (tls_batch_pending(e->io) > 0)
				(void)BIO_flush(SSL_get_wbio(e->io));
			return r;
		}
		if (!tls_batch_mark_closed(e->io))
			return 0;
	}
	return tls_flush(e);
}

static bool
tls_has_pending(const struct pump_end *e)
{
	return SSL_has_pending(e->io) == 1;
}

const struct pump_ops ssl_pump_ops = {
	.read = tls_read,
	.write = tls_write,
	.shutdown_write = tls_shutdown_write,
	.has_pending = tls_has_pending,
	.flush = tls_flush,
	.record_reads = true,
};
