/*
 * allows.h: a tree by tunnel id, and the same entries in the order they
 * arrived, which is the order their time runs out.
 */
#include <search.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "allows.h"
#include "log.h"

struct allowed {
	uint64_t		 id;		/* first: the tree's key */
	TAILQ_ENTRY(allowed)	 entry;
	int64_t			 drop_at;
	/*
	 * Allowed twice before it opened: only a gate worker that chose the
	 * id twice does that, and its open could name either decision.
	 */
	bool			 twice;
	struct audit_record	 allow;
};

static void			*tree;
static TAILQ_HEAD(, allowed)	 queue = TAILQ_HEAD_INITIALIZER(queue);

static int
allowed_cmp(const void *a, const void *b)
{
	uint64_t	 x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* The fields an allow record decides; the rest of it came from a gate. */
static void
decided_copy(struct audit_record *to, const struct audit_record *from)
{
	AUDIT_SET(to->user, from->user);
	AUDIT_SET(to->target, from->target);
	AUDIT_SET(to->resolved, from->resolved);
	AUDIT_SET(to->rule, from->rule);
	AUDIT_SET(to->groups, from->groups);
	AUDIT_SET(to->cert_subject, from->cert_subject);
	AUDIT_SET(to->cert_sha256, from->cert_sha256);
}

static void
allowed_drop(struct allowed *e)
{
	TAILQ_REMOVE(&queue, e, entry);
	tdelete(&e->id, &tree, allowed_cmp);
	free(e);
}

void
allows_put(const struct audit_record *allow, int64_t drop_at_ms)
{
	void		*node;
	struct allowed	*e;

	if (allow->tunnel_id == 0)
		return;
	if ((node = tfind(&allow->tunnel_id, &tree, allowed_cmp)) != NULL) {
		(*(struct allowed **)node)->twice = true;
		return;
	}
	if ((e = calloc(1, sizeof(*e))) == NULL)
		fatal("allows: calloc");
	e->id = allow->tunnel_id;
	e->drop_at = drop_at_ms;
	decided_copy(&e->allow, allow);
	if (tsearch(&e->id, &tree, allowed_cmp) == NULL)
		fatal("allows: tsearch");
	TAILQ_INSERT_TAIL(&queue, e, entry);
}

bool
allows_take(struct audit_record *open)
{
	void		*node = tfind(&open->tunnel_id, &tree, allowed_cmp);
	struct allowed	*e;

	if (node == NULL)
		return false;
	e = *(struct allowed **)node;
	if (e->twice) {
		allowed_drop(e);
		return false;
	}
	decided_copy(open, &e->allow);
	allowed_drop(e);
	return true;
}

bool
allows_due(int64_t now_ms)
{
	const struct allowed	*e = TAILQ_FIRST(&queue);

	return e != NULL && e->drop_at <= now_ms;
}

void
allows_timers(int64_t now_ms, int64_t *next)
{
	struct allowed	*e;

	while ((e = TAILQ_FIRST(&queue)) != NULL && e->drop_at <= now_ms)
		allowed_drop(e);
	if (e != NULL && (*next == -1 || e->drop_at < *next))
		*next = e->drop_at;
}
