/*
 * Handing an authorized tunnel from a gate worker to a relay worker, and
 * taking it over there. Both sides run the same event loop (gate.c); this
 * file is the part that moves a connection between them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "gate_conn.h"
#include "handoff.h"
#include "ipc.h"
#include "log.h"
#include "proc.h"
#include "record_pump.h"
#include "tls_export.h"

int
handoff_validate(const struct handoff_msg *h, size_t n, char *why,
    size_t whylen)
{
	if (n < sizeof(*h) || h->version != HANDOFF_PROTO_VERSION ||
	    h->size != n || h->data_len > HANDOFF_DATA_MAX ||
	    n != sizeof(*h) + h->data_len) {
		snprintf(why, whylen, "bad size or version");
		return -1;
	}
	if (h->facts.event != AUDIT_OPEN ||
	    auditlog_record_validate(&h->facts) != 0) {
		snprintf(why, whylen, "bad tunnel facts");
		return -1;
	}
	return tls_state_validate(&h->tls, why, whylen);
}

/* The relay worker with the fewest tunnels that has room, or -1. */
static int
handoff_pick(struct worker *g)
{
	int	 best = -1;

	for (size_t i = 0; i < g->env->n_relays; i++) {
		if (g->relay_load[i] >= g->relay_capacity)
			continue;
		if (best == -1 || g->relay_load[i] < g->relay_load[best])
			best = (int)i;
	}
	return best;
}

/*
 * Only at a clean point: the client's answer and everything the backend
 * sent are written, both directions still open, and what the client
 * pipelined fits the message. Otherwise keep relaying here and retry after
 * the next pump; a tunnel that cannot move stays in this worker.
 */
static bool
handoff_ready(struct conn *c)
{
	struct pump	*r = &c->pump;

	if (r->client.eof || r->backend.eof || r->client.shut ||
	    r->backend.shut) {
		c->try_handoff = false;
		return false;
	}
	return buf_len(&r->down) == 0 && buf_len(&r->up) <= HANDOFF_DATA_MAX &&
	    SSL_pending(c->ssl) == 0 && SSL_has_pending(c->ssl) == 0;
}

void
handoff_try(struct worker *g, struct conn *c)
{
	struct handoff_msg	*h;
	size_t			 len = buf_len(&c->pump.up), size;
	char			 err[128];
	int			 fds[2] = { c->pump.client.fd, c->pump.backend.fd };
	int			 r, pick;

	if (!handoff_ready(c))
		return;
	c->try_handoff = false;
	if ((pick = handoff_pick(g)) == -1)
		return;		/* every relay worker full or down: relay here */
	size = sizeof(*h) + len;
	if ((h = calloc(1, size)) == NULL)
		return;
	if (tls_export(c->ssl, &h->tls, err, sizeof(err)) != 0) {
		log_debug("%s: stays in the gate worker: %s", c->facts.client, err);
		free(h);
		return;
	}
	h->version = HANDOFF_PROTO_VERSION;
	h->size = (uint32_t)size;
	h->bytes_up = c->pump.bytes_up;
	h->bytes_down = c->pump.bytes_down;
	h->opened_ms = c->opened_ms;
	h->data_len = (uint32_t)len;
	h->status_bytes = c->status_bytes;
	conn_facts_to_record(&c->facts, &h->facts);
	h->facts.event = AUDIT_OPEN;
	if (len > 0)
		memcpy(h->data, buf_rptr(&c->pump.up), len);
	for (r = -1; pick != -1; pick = handoff_pick(g)) {
		if ((r = ipc_send(g->env->relay_fds[pick], h, size, fds, 2)) == 0)
			break;
		/* That one's queue is full; count it as full until told. */
		g->relay_load[pick] = g->relay_capacity;
	}
	OPENSSL_cleanse(h, size);
	free(h);
	if (r != 0) {
		/* The secrets are gone from libssl's callbacks, not from libssl. */
		log_debug("%s: no relay worker took the tunnel; it stays here",
		    c->facts.client);
		return;
	}
	g->relay_load[pick]++;
	/* libssl must not speak for this connection any more. */
	SSL_set_quiet_shutdown(c->ssl, 1);
	c->handed_off = true;
	conn_close(g, c, AUDIT_BY_NONE, NULL);
}

static void
handoff_adopt(struct worker *g, const struct handoff_msg *h, int cfd, int bfd)
{
	const struct config	*cfg = g->env->cfg;
	struct conn		*c;
	char			 err[128], reason[160];

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("%s: calloc", __func__);
		close(cfd);
		close(bfd);
		return;
	}
	pump_end_init(&c->pump.client, cfd, &record_pump_ops, NULL);
	pump_end_init(&c->pump.backend, bfd, &pump_plain_ops, NULL);
	buf_init(&c->pump.up, cfg->limit_buffer_bytes);
	buf_init(&c->pump.down, cfg->limit_buffer_bytes);
	c->pump.bytes_up = h->bytes_up;
	c->pump.bytes_down = h->bytes_down;
	c->opened_ms = h->opened_ms;
	c->status_bytes = h->status_bytes;
	c->state = CS_TUNNEL;
	c->deadline_ms = proc_now_ms() + cfg->timeout_idle_ms;
	TAILQ_INSERT_TAIL(&g->lists[CS_TUNNEL], c, timer);
	g->n_conns++;
	if (conn_facts_from_record(&c->facts, &h->facts) != 0)
		snprintf(err, sizeof(err), "out of memory");
	else if (record_pump_init(&c->pump.client, &h->tls, err,
	    sizeof(err)) == 0) {
		if (buf_put(&c->pump.up, h->data, h->data_len) == 0) {
			conn_watch(g, &c->client_ev, cfd, EV_CLIENT, c);
			conn_watch(g, &c->backend_ev, bfd, EV_BACKEND, c);
			conn_pump(g, c);
			return;
		}
		snprintf(err, sizeof(err), "pipelined bytes over limits.buffer_bytes");
	}
	snprintf(reason, sizeof(reason), "handoff: %s", err);
	conn_close(g, c, AUDIT_BY_ERROR, reason);
}

/* Relay worker: take every tunnel waiting on our socket. */
void
handoff_receive(struct worker *g)
{
	static uint8_t		 msg[HANDOFF_MSG_MAX];
	struct handoff_msg	*h = (struct handoff_msg *)msg;
	char			 why[128];
	int			 fds[2];
	size_t			 nfds;
	ssize_t			 n;

	for (;;) {
		nfds = 2;
		n = ipc_recv(g->env->handoff_fd, msg, sizeof(msg), fds, &nfds);
		if (n <= 0) {
			if (n == -1 && errno != EAGAIN && errno != EINTR)
				log_warn("%s: dropped a malformed handoff", __func__);
			return;
		}
		if (nfds != 2 || handoff_validate(h, (size_t)n, why,
		    sizeof(why)) != 0) {
			log_warnx("%s: dropped a handoff: %s", __func__,
			    nfds != 2 ? "descriptors missing" : why);
			for (size_t i = 0; i < nfds; i++)
				close(fds[i]);
		} else
			handoff_adopt(g, h, fds[0], fds[1]);
		OPENSSL_cleanse(msg, (size_t)n);
	}
}
