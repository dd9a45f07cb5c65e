/*
 * A child that runs but serves nothing (a busy loop, a deadlock, a PAM
 * module that never returns) would keep its slot: it neither dies nor
 * stops, and its control socket does not fill while nothing is owed it.
 * So the master pings every child HEARTBEAT_EVERY_MS after its last
 * answer, and one that leaves a ping unanswered for timeouts.hang is
 * killed; its death restarts the slot. An authenticator gets timeouts.auth
 * more, because one credential check (PAM, LDAP, DNS, the backend's
 * connect) holds its loop for up to that long. Answering proves only a
 * live loop: a compromised child can always answer and serve nothing.
 */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "master_priv.h"
#include "proc.h"

#define HEARTBEAT_EVERY_MS	5000

static uint64_t	 heartbeat_serial;

static int64_t
heartbeat_budget_ms(const struct child *c)
{
	const struct config	*cfg = m.gen->cfg;

	return (int64_t)cfg->timeout_hang_ms +
	    (c->kind == CHILD_AUTH ? (int64_t)cfg->timeout_auth_ms : 0);
}

static void
heartbeat_ping(struct child *c, int64_t now)
{
	struct ctl_ping	 p;

	memset(&p, 0, sizeof(p));
	ctl_hdr_init(&p.hdr, CTL_PING);
	p.serial = ++heartbeat_serial;
	c->ping_serial = p.serial;
	c->ping_at = now;
	(void)master_tell(c, &p, sizeof(p), "a heartbeat");
}

/* Has c left its ping unanswered too long? Its answer may be unread. */
static bool
heartbeat_missed(struct child *c, int64_t now)
{
	char	 why[128];

	if (c->ping_at + heartbeat_budget_ms(c) > now)
		return false;
	master_dispatch_child(c);
	if (c->ping_serial == 0 || c->killed)
		return false;
	snprintf(why, sizeof(why), "answered no heartbeat for %lld ms "
	    "(timeouts.hang); it runs but does not serve",
	    (long long)(now - c->ping_at));
	master_kill_child(c, why);
	return true;
}

void
heartbeat_timers(int64_t now, int64_t *next)
{
	struct child	*c;
	int64_t		 due;

	TAILQ_FOREACH(c, &m.children, entry) {
		if (c->killed || c->reaped || c->hung_up_at != 0)
			continue;
		if (c->ping_serial == 0 && c->ping_at == 0)
			c->ping_at = now + HEARTBEAT_EVERY_MS;
		if (c->ping_serial == 0 && c->ping_at <= now)
			heartbeat_ping(c, now);
		if (c->ping_serial != 0 && heartbeat_missed(c, now))
			continue;
		if (c->killed)
			continue;
		due = c->ping_serial != 0 ? c->ping_at + heartbeat_budget_ms(c) :
		    c->ping_at;
		if (*next == -1 || due < *next)
			*next = due;
	}
}

const char *
heartbeat_pong(struct child *c, const struct ctl_ping *pong)
{
	if (c->ping_serial == 0 || pong->serial != c->ping_serial)
		return "a heartbeat answer to no ping";
	c->ping_serial = 0;
	c->ping_at = proc_now_ms() + HEARTBEAT_EVERY_MS;
	return NULL;
}
