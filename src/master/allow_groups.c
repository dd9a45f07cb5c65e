/*
 * allow_groups.h: a tree by tunnel id, and the same entries in the order
 * they arrived, which is the order their time runs out.
 */
#include <search.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "allow_groups.h"
#include "audit.h"
#include "log.h"

struct allowed {
	uint64_t		 id;		/* first: the tree's key */
	TAILQ_ENTRY(allowed)	 entry;
	int64_t			 drop_at;
	char			 groups[TG_AUDIT_GROUPS_SIZE];
};

static void			*tree;
static TAILQ_HEAD(, allowed)	 queue = TAILQ_HEAD_INITIALIZER(queue);

static int
allowed_cmp(const void *a, const void *b)
{
	uint64_t	 x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static void
allowed_drop(struct allowed *e)
{
	TAILQ_REMOVE(&queue, e, entry);
	tdelete(&e->id, &tree, allowed_cmp);
	free(e);
}

void
allow_groups_put(uint64_t id, const char *groups, int64_t now_ms)
{
	struct allowed	*e;

	if (id == 0 || groups[0] == '\0' ||
	    tfind(&id, &tree, allowed_cmp) != NULL)
		return;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		fatal("allow groups: calloc");
	e->id = id;
	e->drop_at = now_ms + TG_GRANT_OPEN_MS;
	auditlog_strlcpy(e->groups, groups, sizeof(e->groups));
	if (tsearch(&e->id, &tree, allowed_cmp) == NULL)
		fatal("allow groups: tsearch");
	TAILQ_INSERT_TAIL(&queue, e, entry);
}

bool
allow_groups_take(uint64_t id, char out[TG_AUDIT_GROUPS_SIZE])
{
	void		*node = tfind(&id, &tree, allowed_cmp);
	struct allowed	*e;

	if (node == NULL)
		return false;
	e = *(struct allowed **)node;
	memcpy(out, e->groups, TG_AUDIT_GROUPS_SIZE);
	allowed_drop(e);
	return true;
}

void
allow_groups_timers(int64_t now_ms, int64_t *next)
{
	struct allowed	*e;

	while ((e = TAILQ_FIRST(&queue)) != NULL && e->drop_at <= now_ms)
		allowed_drop(e);
	if (e != NULL && (*next == -1 || e->drop_at < *next))
		*next = e->drop_at;
}
