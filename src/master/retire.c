/*
 * Telling children to retire (a reload's old generation, the authenticators
 * and key processes of a stop). A retire is one small message on the
 * child's control socket; a socket that is full now (EAGAIN: a busy child
 * that has not read its status messages yet) is tried again every
 * RETIRE_RETRY_MS, and only a child whose socket stays full for
 * CHILD_HANGUP_GRACE_MS, or that cannot be sent to at all, is killed.
 */
#include <errno.h>
#include <string.h>

#include "ipc.h"
#include "master_priv.h"
#include "proc.h"

#define RETIRE_RETRY_MS	100

/* 0 sent, 1 to try again later, -1 killed. */
static int
retire_send(struct child *c, int64_t now)
{
	struct ctl_retire	 r;

	memset(&r, 0, sizeof(r));
	ctl_hdr_init(&r.hdr, CTL_RETIRE);
	if (ipc_send(c->ctl_fd, &r, sizeof(r), NULL, 0) == 0) {
		c->retire_since = 0;
		return 0;
	}
	if ((errno == EAGAIN || errno == EWOULDBLOCK) &&
	    (c->retire_since == 0 || now - c->retire_since <
	    CHILD_HANGUP_GRACE_MS)) {
		if (c->retire_since == 0)
			c->retire_since = now;
		return 1;
	}
	c->retire_since = 0;
	master_kill_child(c, errno == EAGAIN || errno == EWOULDBLOCK ?
	    "cannot be told to retire: its control socket stayed full" :
	    "cannot be told to retire");
	return -1;
}

void
retire_child(struct child *c)
{
	if (!c->killed)
		(void)retire_send(c, proc_now_ms());
}

void
master_retire(struct generation *gen)
{
	struct child	*c;

	gen->retired = true;
	TAILQ_FOREACH(c, &m.children, entry)
		if (c->gen == gen)
			retire_child(c);
	/* Its workers hold their own copies; ours would keep them alive. */
	gen_close_ends(gen);
	if (gen->children == 0)
		gen_free(gen);
}

void
retire_timers(int64_t now, int64_t *next)
{
	struct child	*c;
	int64_t		 due;

	TAILQ_FOREACH(c, &m.children, entry) {
		if (c->retire_since == 0 || c->killed)
			continue;
		if (retire_send(c, now) != 1)
			continue;
		due = now + RETIRE_RETRY_MS;
		if (*next == -1 || due < *next)
			*next = due;
	}
}
