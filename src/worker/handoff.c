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
#include "worker_tunnels.h"

/*
 * The next relay worker in turn that has room, or -1. In turn, not the least
 * loaded: loads fall with the close records a relay worker sends itself, so a
 * compromised one could lie its way to every new tunnel (and its keys); in
 * turn, lying gains it no more than its share.
 */
static int
handoff_pick(struct worker *g)
{
	size_t	 n = g->env->n_relays, i;

	for (size_t k = 0; k < n; k++) {
		i = (g->relay_next + k) % n;
		if (g->relay_load[i] < g->relay_capacity) {
			g->relay_next = (i + 1) % n;
			return (int)i;
		}
	}
	return -1;
}

/*
 * The master counts each relay worker's tunnels from these reports, never
 * from the relay worker; it hears of a handoff before the relay worker can
 * close the tunnel, because both go through the master in that order.
 */
static int
handoff_tell(struct worker *g, enum ctl_type type, int relay, struct conn *c)
{
	struct ctl_handoff	 m;

	memset(&m, 0, sizeof(m));
	ctl_hdr_init(&m.hdr, type);
	m.relay = (uint32_t)relay;
	m.tunnel_id = c->facts.tunnel_id;
	if (ctl_send(g->env->ctl_fd, &m, sizeof(m), NULL, 0) == 0)
		return 0;
	log_warn("%s: cannot tell the master about a handoff", c->facts.client);
	return -1;
}

/*
 * Only at a clean point: the client's answer and everything the backend
 * sent are written, both directions still open, and what the client
 * pipelined fits the message and the relay worker's buffer (ours may be
 * larger: limits.header_bytes). Otherwise keep relaying here and retry
 * after the next pump; a tunnel that cannot move stays in this worker.
 */
static bool
handoff_ready(const struct worker *g, struct conn *c)
{
	struct pump	*r = &c->pump;
	size_t		 most = g->relay_buffer_bytes < HANDOFF_DATA_MAX ?
			    g->relay_buffer_bytes : HANDOFF_DATA_MAX;

	if (r->client.eof || r->backend.eof || r->client.shut ||
	    r->backend.shut) {
		/* Ending here: no handoff, so no copy of its secrets either. */
		c->try_handoff = false;
		tls_export_detach(c->ssl);
		return false;
	}
	return buf_len(&r->down) == 0 && buf_len(&r->up) <= most &&
	    SSL_pending(c->ssl) == 0 && SSL_has_pending(c->ssl) == 0 &&
	    !tls_export_mid_record(c->ssl);
}

/* 0 once a relay worker holds the tunnel, -1 while it is still here. */
static int
handoff_send(struct worker *g, struct conn *c)
{
	struct handoff_msg	*h;
	size_t			 len = buf_len(&c->pump.up), size;
	char			 err[128];
	int			 fds[2] = { c->pump.client.fd, c->pump.backend.fd };
	int			 r, pick;

	if ((pick = handoff_pick(g)) == -1)
		return -1;	/* every relay worker full or down */
	size = sizeof(*h) + len;
	if ((h = calloc(1, size)) == NULL)
		return -1;
	if (tls_export(c->ssl, &h->tls, err, sizeof(err)) != 0) {
		log_debug("%s: stays in the gate worker: %s", c->facts.client,
		    err);
		free(h);
		return -1;
	}
	msg_hdr_init(&handoff_proto, &h->hdr, HANDOFF_TUNNEL);
	h->hdr.size = (uint32_t)size;
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
		/* Unless the master counts it first, it stays here. */
		if (handoff_tell(g, CTL_HANDOFF, pick, c) != 0)
			break;
		if ((r = ipc_send(g->env->relay_fds[pick], h, size, fds, 2)) == 0)
			break;
		/*
		 * Unless the master hears of the failure, it has the tunnel
		 * at pick still and takes a report of another try for a lie.
		 */
		if (handoff_tell(g, CTL_HANDOFF_FAILED, pick, c) != 0)
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
		return -1;
	}
	g->relay_load[pick]++;
	return 0;
}

void
handoff_try(struct worker *g, struct conn *c)
{
	if (!handoff_ready(g, c))
		return;
	c->try_handoff = false;
	if (handoff_send(g, c) != 0) {
		conn_relay_here(c);
		return;
	}
	/* libssl must not speak for this connection any more. */
	SSL_set_quiet_shutdown(c->ssl, 1);
	c->handed_off = true;
	conn_close(g, c, AUDIT_BY_NONE, NULL);
}

/*
 * Every refusal would be a control message to the master, and a compromised
 * gate worker can hand us refusable tunnels as fast as we read them: past
 * the master's rate bound, it would kill us and every tunnel we hold. So
 * refusals are audited at a bounded rate; for the rest the master writes
 * the close record when we never report the tunnel adopted
 * (tunnels_doubt_timers), and the next record we send counts them.
 */
static void
handoff_refuse(struct worker *g, struct conn *c, const char *why)
{
	char		 reason[192];
	unsigned	 before = 0;

	if (!refusal_audit_take(&g->refused, &before))
		c->unaudited = true;
	else if (before > 0)
		snprintf(reason, sizeof(reason), "handoff: %s; %u more handoffs "
		    "refused before this one", why, before);
	else
		snprintf(reason, sizeof(reason), "handoff: %s", why);
	if (!c->unaudited && (before > 0 || g->refused.said == 1))
		log_warnx("%016llx: %s", (unsigned long long)c->facts.tunnel_id,
		    reason);
	conn_close(g, c, AUDIT_BY_ERROR, c->unaudited ? NULL : reason);
}

/*
 * The master's count of our tunnels comes from gate workers' reports, which
 * a compromised one skips: refuse past limits.connections ourselves, or our
 * tunnels are bounded only by RLIMIT_NOFILE. Refused through
 * handoff_refuse(), so the master closes each tunnel it counted.
 */
static void
handoff_adopt(struct worker *g, const struct handoff_msg *h, int cfd, int bfd)
{
	const struct config	*cfg = g->env->cfg;
	bool			 full = worker_full(g);
	struct conn		*c;
	char			 err[128];

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("handoff: calloc");
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
	else if (full)
		snprintf(err, sizeof(err), "over limits.connections (%u)",
		    cfg->limit_connections);
	else if (record_pump_init(&c->pump.client, &h->tls, err,
	    sizeof(err)) == 0) {
		if (buf_put(&c->pump.up, h->data, h->data_len) == 0) {
			conn_watch(g, &c->client_ev, cfd, EV_CLIENT, c);
			conn_watch(g, &c->backend_ev, bfd, EV_BACKEND, c);
			/* The master learns it is here, not still queued. */
			worker_report_tunnel(g, c);
			conn_pump(g, c);
			return;
		}
		snprintf(err, sizeof(err),
		    "pipelined bytes over limits.buffer_bytes");
	}
	handoff_refuse(g, c, err);
}

/*
 * A gate worker can send malformed handoffs as fast as we read them: the
 * daemon log says so at the refusals' bounded rate, with a count.
 */
static void
handoff_dropped(struct worker *g, const char *why)
{
	unsigned	 before;

	if (!refusal_audit_take(&g->dropped, &before))
		return;
	if (before > 0)
		log_warnx("handoff: dropped a handoff: %s (%u more dropped "
		    "before it, not logged)", why, before);
	else
		log_warnx("handoff: dropped a handoff: %s", why);
}

/*
 * Handoffs taken in one wake-up. A gate worker that keeps the socket full
 * would otherwise keep us here, our other tunnels waiting and refused ones
 * piling up unfreed until the event batch ends; the socket is watched
 * level-triggered, so what is left wakes us again.
 */
#define HANDOFF_RECEIVE_BATCH	64

/*
 * Relay worker: take the tunnels waiting on our socket. 0 once no gate
 * worker (nor the master) holds the other end any more, else 1.
 */
int
handoff_receive(struct worker *g)
{
	static _Alignas(struct handoff_msg) uint8_t msg[HANDOFF_MSG_MAX + 1];
	struct msg_in		 in;

	for (int i = 0; i < HANDOFF_RECEIVE_BATCH; i++) {
		switch (msg_recv(&handoff_proto, g->env->handoff_fd, MSG_GATE,
		    MSG_RELAY, msg, sizeof(msg), &in)) {
		case MSG_AGAIN:
			return 1;
		case MSG_EOF:
			return 0;
		case MSG_BAD:
			handoff_dropped(g, in.why);
			break;
		case MSG_OK:
			handoff_adopt(g, (struct handoff_msg *)msg, in.fds[0],
			    in.fds[1]);
			OPENSSL_cleanse(msg, in.len);
			break;
		}
	}
	return 1;
}
