/*
 * What a worker (gate or relay) tells the master about the tunnels it
 * relays: their byte counts and idleness every CTL_STATS_EVERY_MS, and at
 * once after a relay worker adopts one, so the master's tunnel table
 * (src/master/tunnels.c) can list them and close them in the audit log
 * if this worker dies.
 */
#include <string.h>

#include "ctl.h"
#include "gate_conn.h"
#include "log.h"
#include "proc.h"
#include "worker_tunnels.h"

static void
stat_of(const struct worker *g, const struct conn *c, int64_t now,
    struct ctl_tunnel_stat *e)
{
	int64_t	 active = c->deadline_ms - g->env->cfg->timeout_idle_ms;

	e->tunnel_id = c->facts.tunnel_id;
	e->bytes_up = c->pump.bytes_up;
	e->bytes_down = c->pump.bytes_down > c->status_bytes ?
	    c->pump.bytes_down - c->status_bytes : 0;
	e->idle_ms = now <= active ? 0 : now - active > UINT32_MAX ?
	    UINT32_MAX : (uint32_t)(now - active);
}

static void
stats_send(struct worker *g, struct ctl_tunnel_stats *s)
{
	if (s->n == 0)
		return;
	ctl_hdr_init(&s->hdr, CTL_TUNNEL_STATS);
	if (ctl_send(g->env->ctl_fd, s, sizeof(*s), NULL, 0) == -1)
		log_warn("tunnels: tunnel stats for the master");
	memset(s, 0, sizeof(*s));
}

void
worker_report_tunnels(struct worker *g)
{
	struct ctl_tunnel_stats	 s;
	struct conn		*c;
	int64_t			 now = proc_now_ms();

	memset(&s, 0, sizeof(s));
	TAILQ_FOREACH(c, &g->lists[CS_TUNNEL], timer) {
		if (c->dead || c->handed_off)
			continue;
		stat_of(g, c, now, &s.t[s.n++]);
		if (s.n == CTL_STATS_PER_MSG)
			stats_send(g, &s);
	}
	stats_send(g, &s);
	g->stats_at = now + CTL_STATS_EVERY_MS;
}

void
worker_report_tunnel(struct worker *g, const struct conn *c)
{
	struct ctl_tunnel_stats	 s;

	memset(&s, 0, sizeof(s));
	stat_of(g, c, proc_now_ms(), &s.t[s.n++]);
	stats_send(g, &s);
}

/*
 * The master asks: say goodbye on both sides, then close through the one
 * function that writes the close record. A tunnel already gone (it ended
 * meanwhile, or was handed on) needs nothing.
 */
void
worker_kill_tunnel(struct worker *g, const struct ctl_tunnel_kill *k)
{
	struct conn	*c;

	TAILQ_FOREACH(c, &g->lists[CS_TUNNEL], timer)
		if (!c->dead && !c->handed_off &&
		    c->facts.tunnel_id == k->tunnel_id)
			break;
	if (c == NULL)
		return;
	log_info("%s: %016llx: closing: %s", c->facts.client,
	    (unsigned long long)k->tunnel_id, k->reason);
	if (!c->pump.client.shut)
		(void)c->pump.client.ops->shutdown_write(&c->pump.client);
	if (c->pump.backend.fd != -1 && !c->pump.backend.shut)
		(void)c->pump.backend.ops->shutdown_write(&c->pump.backend);
	conn_close(g, c, (enum audit_closed_by)k->closed_by, k->reason);
}

void
worker_tunnel_timers(struct worker *g, int64_t now, int64_t *next)
{
	if (g->stats_at == INT64_MAX)
		return;		/* the master is gone */
	if (now >= g->stats_at)
		worker_report_tunnels(g);
	if (*next == -1 || g->stats_at < *next)
		*next = g->stats_at;
}
