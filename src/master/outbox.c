/*
 * What the master owes a child on its control socket. The master never
 * waits on a child: one that stopped reading (busy, wedged or compromised)
 * would otherwise stall every other child, the admin socket and the audit
 * log behind it. A message that finds the socket full waits here, after
 * any older one, and is tried again every OUTBOX_RETRY_MS. A child whose
 * socket stays full for CHILD_HANGUP_GRACE_MS, whose backlog passes its
 * bound, or that cannot be sent to for another reason than having gone
 * (outbox_kill), is killed: it can no longer be told to end a tunnel or to
 * retire, and its tunnels end with it.
 */
#include <errno.h>
#include <string.h>

#include "ipc.h"
#include "master_priv.h"
#include "proc.h"

#define OUTBOX_RETRY_MS	100
/* Beyond a kill for every tunnel the child may hold: status, keys, retire. */
#define OUTBOX_SLACK	64

/* The most messages a child may be owed: all its tunnels ended at once. */
static size_t
outbox_max_msgs(const struct child *c)
{
	unsigned	 limit = c->gen != NULL ? c->gen->cfg->limit_connections :
			    m.relay_init.limit_tunnels;

	return (size_t)limit + OUTBOX_SLACK;
}

/*
 * A child whose end is closed has gone or is going: SIGCHLD (or, for one
 * that lingers, master_kill_deaf()) ends it, and what it sent last is still
 * read. Any other failure means it cannot be told what it must hear.
 */
static void
outbox_kill(struct child *c, int err, const char *what)
{
	char	 why[160];

	outbox_free(c);
	if (err == EPIPE || err == ECONNRESET) {
		if (c->hung_up_at == 0)
			c->hung_up_at = proc_now_ms();
		return;
	}
	(void)snprintf(why, sizeof(why), "%s not delivered: %s", what,
	    err == EAGAIN || err == EWOULDBLOCK ?
	    "its control socket stayed full" : strerror(err));
	master_kill_child(c, why);
}

/* Send what waits, oldest first; 0 when nothing is left, 1 if some is. */
static int
outbox_flush(struct child *c, int64_t now)
{
	uint32_t	 len;

	while (buf_len(&c->outbox) > 0) {
		memcpy(&len, buf_rptr(&c->outbox), sizeof(len));
		if (ipc_send(c->ctl_fd, buf_rptr(&c->outbox) + sizeof(len), len,
		    NULL, 0) == -1) {
			if ((errno == EAGAIN || errno == EWOULDBLOCK) &&
			    now - c->outbox_since < CHILD_HANGUP_GRACE_MS)
				return 1;
			outbox_kill(c, errno, "control messages");
			return 0;
		}
		buf_consume(&c->outbox, sizeof(len) + len);
		c->outbox_msgs--;
		c->outbox_since = now;
	}
	buf_release_if_empty(&c->outbox);
	c->outbox_since = 0;
	return 0;
}

int
master_tell(struct child *c, const void *msg, size_t len, const char *what)
{
	uint32_t	 n = (uint32_t)len;

	/* One that hung up is on its way out and reads no more. */
	if (c->killed || c->reaped || c->hung_up_at != 0)
		return -1;
	if (c->outbox_msgs == 0) {
		if (ipc_send(c->ctl_fd, msg, len, NULL, 0) == 0)
			return 0;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			outbox_kill(c, errno, what);
			return -1;
		}
		c->outbox_since = proc_now_ms();
	}
	if (c->outbox.max == 0)
		buf_init(&c->outbox, outbox_max_msgs(c) *
		    (sizeof(n) + CTL_MSG_BUF));
	if (len > CTL_MSG_BUF || c->outbox_msgs >= outbox_max_msgs(c) ||
	    buf_put(&c->outbox, &n, sizeof(n)) != 0 ||
	    buf_put(&c->outbox, msg, len) != 0) {
		outbox_kill(c, EAGAIN, what);
		return -1;
	}
	c->outbox_msgs++;
	return 1;
}

void
outbox_timers(int64_t now, int64_t *next)
{
	struct child	*c;
	int64_t		 due;

	TAILQ_FOREACH(c, &m.children, entry) {
		if (c->outbox_msgs == 0 || c->killed)
			continue;
		/* On its way out: what it is owed no longer matters. */
		if (c->hung_up_at != 0) {
			outbox_free(c);
			continue;
		}
		if (outbox_flush(c, now) == 0)
			continue;
		due = now + OUTBOX_RETRY_MS;
		if (*next == -1 || due < *next)
			*next = due;
	}
}

void
outbox_free(struct child *c)
{
	buf_free(&c->outbox);
	c->outbox_msgs = 0;
	c->outbox_since = 0;
}
