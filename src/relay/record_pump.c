#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "record_pump.h"
#include "tg_limits.h"
#include "tls_record.h"

/* A whole record's plaintext must fit a tunnel buffer, or a pump stalls. */
_Static_assert(TG_MIN_BUFFER_BYTES >= TLS_RECORD_MAX_PLAIN,
    "limits.buffer_bytes may be smaller than one TLS record");

/* Read raw records and seal plaintext in batches of a few records. */
#define RECORD_PUMP_RX_MAX	(4 * TLS_RECORD_MAX)
#define RECORD_PUMP_TX_PLAIN	(4 * TLS_RECORD_MAX_PLAIN)
#define RECORD_PUMP_TX_MAX	(RECORD_PUMP_TX_PLAIN + 8 * TLS_RECORD_MAX)

struct relay_tls {
	struct tls_record_dir	 rd, wr;
	struct buf		 rx;		/* raw bytes from the client */
	struct buf		 tx;		/* sealed records not yet written */
	size_t			 tx_plain;	/* caller's bytes sealed in tx */
	uint8_t			*plain;		/* decrypted, inside rx */
	size_t			 plain_len;
	size_t			 rec_len;	/* rx bytes behind plain */
	bool			 closed;	/* close_notify read */
	bool			 close_sealed;
};

static ssize_t
rtls_fail(struct pump_end *e, const char *why)
{
	snprintf(e->err, sizeof(e->err), "%s", why);
	return PUMP_IO_ERROR;
}

/* Control records the relay sends on its own. */
enum rtls_control { RTLS_KEY_UPDATE, RTLS_NO_RENEGOTIATION, RTLS_ALERT };

/* Append one sealed control record to tx, ahead of any later data. */
static int
rtls_queue(struct pump_end *e, enum rtls_control what, int alert)
{
	struct relay_tls	*t = e->io;
	struct tls_record_error	 err = { NULL, TLS_ALERT_NONE };
	uint8_t			*w;
	size_t			 space;
	ssize_t			 n;

	if ((w = buf_wptr(&t->tx, &space)) == NULL || space < TLS_RECORD_MAX)
		return (int)rtls_fail(e, "tls: no room for a control record");
	switch (what) {
	case RTLS_KEY_UPDATE:
		/* Also the answer to update_requested, which asks for none. */
		n = tls_record_seal_key_update(&t->wr, false, w, space, &err);
		break;
	case RTLS_NO_RENEGOTIATION:
		n = tls_record_alert_for_renegotiation(&t->wr, w, space, &err);
		break;
	default:
		n = tls_record_seal_alert(&t->wr, (uint8_t)alert, w, space,
		    &err);
	}
	if (n < 0)
		return (int)rtls_fail(e, err.reason ? err.reason : "tls: seal");
	buf_commit(&t->tx, (size_t)n);
	return 0;
}

static ssize_t
rtls_flush(struct pump_end *e)
{
	struct relay_tls	*t = e->io;

	if (buf_write_to(&t->tx, e->fd) == 0)
		return 0;
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return PUMP_IO_WANT_WRITE;
	snprintf(e->err, sizeof(e->err), "tls write: %s", strerror(errno));
	return PUMP_IO_ERROR;
}

/* A record failed: tell the client why, best effort, then fail. */
static ssize_t
rtls_abort(struct pump_end *e, const struct tls_record_error *err)
{
	if (err->alert != TLS_ALERT_NONE &&
	    rtls_queue(e, RTLS_ALERT, err->alert) == 0)
		rtls_flush(e);
	return rtls_fail(e, err->reason ? err->reason : "tls: bad record");
}

enum rtls_open { RTLS_MORE, RTLS_GOT, RTLS_END, RTLS_FAIL };

/* A non-data record: go on (RTLS_GOT), end of stream, or failure. */
static enum rtls_open
rtls_control(struct pump_end *e, const struct tls_record_plain *pl)
{
	struct relay_tls	*t = e->io;
	struct tls_record_error	 err = { NULL, TLS_ALERT_NONE };
	int			 desc;

	switch (pl->type) {
	case TLS_CT_ALERT:
		if (tls_record_parse_alert(pl->data, pl->len, &desc, &err) == 0)
			return RTLS_END;
		break;
	case TLS_CT_HANDSHAKE:
		switch (tls_record_recv_handshake(&t->rd, pl->data, pl->len,
		    &err)) {
		case TLS_HS_KEY_UPDATE:
			return RTLS_GOT;
		case TLS_HS_KEY_UPDATE_REQUESTED:
			return rtls_queue(e, RTLS_KEY_UPDATE, 0) == 0 ?
			    RTLS_GOT : RTLS_FAIL;
		case TLS_HS_RENEGOTIATION:
			return rtls_queue(e, RTLS_NO_RENEGOTIATION, 0) == 0 ?
			    RTLS_GOT : RTLS_FAIL;
		}
		break;
	default:
		err.reason = "tls: unexpected record type after the handshake";
		err.alert = TLS_ALERT_UNEXPECTED_MESSAGE;
	}
	rtls_abort(e, &err);
	return RTLS_FAIL;
}

/* Decrypt the next complete record in rx, if there is one. */
static enum rtls_open
rtls_open_next(struct pump_end *e)
{
	struct relay_tls	*t = e->io;
	struct tls_record_plain	 pl;
	struct tls_record_error	 err = { NULL, TLS_ALERT_NONE };
	enum rtls_open		 r;
	ssize_t			 n;

	n = tls_record_open(&t->rd, (uint8_t *)buf_rptr(&t->rx),
	    buf_len(&t->rx), &pl, &err);
	if (n == TLS_RECORD_NEED_MORE)
		return RTLS_MORE;
	if (n < 0) {
		rtls_abort(e, &err);
		return RTLS_FAIL;
	}
	if (pl.type == TLS_CT_APPLICATION_DATA) {
		t->plain = pl.data;
		t->plain_len = pl.len;
		t->rec_len = (size_t)n;
		if (pl.len == 0)
			buf_consume(&t->rx, (size_t)n);
		return RTLS_GOT;
	}
	r = rtls_control(e, &pl);
	buf_consume(&t->rx, (size_t)n);
	return r;
}

/* Copy decrypted bytes out; a record leaves rx once all of it was taken. */
static size_t
rtls_take(struct relay_tls *t, uint8_t *p, size_t len)
{
	size_t	 k = len < t->plain_len ? len : t->plain_len;

	if (k == 0)
		return 0;
	memcpy(p, t->plain, k);
	t->plain += k;
	if ((t->plain_len -= k) == 0)
		buf_consume(&t->rx, t->rec_len);
	return k;
}

/*
 * Every complete record one read() brought goes out in this one call, so
 * the pump writes them to the backend with one send. A failure or the end
 * of stream behind good records waits until those were returned.
 */
static ssize_t
rtls_read(struct pump_end *e, uint8_t *p, size_t len)
{
	struct relay_tls	*t = e->io;
	uint8_t			*w;
	size_t			 space, done = 0;
	ssize_t			 n;

	for (;;) {
		done += rtls_take(t, p + done, len - done);
		if (done == len || t->closed)
			return done > 0 ? (ssize_t)done : PUMP_IO_EOF;
		switch (rtls_open_next(e)) {
		case RTLS_GOT:
			continue;
		case RTLS_END:
			t->closed = true;
			continue;
		case RTLS_FAIL:
			e->failed = done > 0;
			return done > 0 ? (ssize_t)done : PUMP_IO_ERROR;
		case RTLS_MORE:
			break;
		}
		if (done > 0)
			return (ssize_t)done;
		if ((w = buf_wptr(&t->rx, &space)) == NULL)
			return rtls_fail(e, "tls: receive buffer full");
		n = read(e->fd, w, space);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			buf_release_if_empty(&t->rx);
			return PUMP_IO_WANT_READ;
		}
		if (n == -1) {
			snprintf(e->err, sizeof(e->err), "tls read: %s",
			    strerror(errno));
			return PUMP_IO_ERROR;
		}
		if (n == 0)	/* TCP end without close_notify: still an end */
			return PUMP_IO_EOF;
		buf_commit(&t->rx, (size_t)n);
	}
}

static ssize_t
rtls_write(struct pump_end *e, const uint8_t *p, size_t len)
{
	struct relay_tls	*t = e->io;
	struct tls_record_error	 err = { NULL, TLS_ALERT_NONE };
	size_t			 done = 0, chunk, space;
	uint8_t			*w;
	ssize_t			 n;

	/* Records for the head of p were sealed by an earlier call. */
	if (t->tx_plain == 0) {
		if (tls_record_should_update(&t->wr) &&
		    rtls_queue(e, RTLS_KEY_UPDATE, 0) != 0)
			return PUMP_IO_ERROR;
		while (done < len && done < RECORD_PUMP_TX_PLAIN) {
			chunk = len - done < TLS_RECORD_MAX_PLAIN ? len - done :
			    TLS_RECORD_MAX_PLAIN;
			if ((w = buf_wptr(&t->tx, &space)) == NULL ||
			    space < chunk + TLS_RECORD_SEAL_OVERHEAD)
				break;
			n = tls_record_seal(&t->wr, TLS_CT_APPLICATION_DATA,
			    p + done, chunk, w, space, &err);
			if (n < 0)
				return rtls_abort(e, &err);
			buf_commit(&t->tx, (size_t)n);
			done += chunk;
		}
		t->tx_plain = done;
	}
	if ((n = rtls_flush(e)) != 0)
		return n;
	n = (ssize_t)t->tx_plain;
	t->tx_plain = 0;
	return n;
}

static ssize_t
rtls_shutdown_write(struct pump_end *e)
{
	struct relay_tls	*t = e->io;

	if (!t->close_sealed) {
		if (rtls_queue(e, RTLS_ALERT, TLS_ALERT_CLOSE_NOTIFY) != 0)
			return PUMP_IO_ERROR;
		t->close_sealed = true;
	}
	return rtls_flush(e);
}

static bool
rtls_has_pending(const struct pump_end *e)
{
	const struct relay_tls	*t = e->io;
	const uint8_t		*h = buf_rptr(&t->rx);
	size_t			 have = buf_len(&t->rx);

	if (t->plain_len > 0 || t->closed)
		return true;
	return have >= TLS_RECORD_HEADER_LEN &&
	    have >= TLS_RECORD_HEADER_LEN + ((size_t)h[3] << 8 | h[4]);
}

static void
rtls_release(struct pump_end *e)
{
	struct relay_tls	*t = e->io;

	if (t == NULL)
		return;
	tls_record_free(&t->rd);
	tls_record_free(&t->wr);
	buf_free(&t->rx);
	buf_free(&t->tx);
	free(t);
	e->io = NULL;
}

const struct pump_ops record_pump_ops = {
	.read = rtls_read,
	.write = rtls_write,
	.shutdown_write = rtls_shutdown_write,
	.has_pending = rtls_has_pending,
	.flush = rtls_flush,
	.release = rtls_release,
};

int
record_pump_init(struct pump_end *e, const struct tls_state *st, char *err,
    size_t errlen)
{
	struct relay_tls	*t;

	if ((t = calloc(1, sizeof(*t))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (tls_record_init(&t->rd, st, TLS_RECORD_READ, err, errlen) != 0 ||
	    tls_record_init(&t->wr, st, TLS_RECORD_WRITE, err, errlen) != 0) {
		tls_record_free(&t->rd);
		tls_record_free(&t->wr);
		free(t);
		return -1;
	}
	buf_init(&t->rx, RECORD_PUMP_RX_MAX);
	buf_init_sealed(&t->tx, RECORD_PUMP_TX_MAX);
	e->io = t;
	e->ops = &record_pump_ops;
	return 0;
}
