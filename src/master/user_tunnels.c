/*
 * The grants the master holds for limits.user_tunnels (user_tunnels.h):
 * a balanced tree by tunnel id, and the grants not yet opened in the order
 * they were made, which is the order their time runs out.
 */
#include <search.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "audit.h"
#include "auth_throttle.h"
#include "log.h"
#include "master_priv.h"
#include "proc.h"
#include "user_tunnels.h"

struct grant {
	uint64_t		 id;		/* first: the tree's key */
	TAILQ_ENTRY(grant)	 pending;	/* while not opened */
	bool			 opened;
	int64_t			 open_by;
	char			 user[sizeof(((struct audit_record *)0)->user)];
};

static void			*tree;
static TAILQ_HEAD(, grant)	 pending = TAILQ_HEAD_INITIALIZER(pending);

static int
grant_cmp(const void *a, const void *b)
{
	uint64_t	 x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static struct grant *
grant_find(uint64_t id)
{
	void	*node = tfind(&id, &tree, grant_cmp);

	return node == NULL ? NULL : *(struct grant **)node;
}

static void
grant_end(struct grant *g, int64_t now)
{
	if (!g->opened)
		TAILQ_REMOVE(&pending, g, pending);
	tdelete(&g->id, &tree, grant_cmp);
	auth_throttle_tunnel_gone(m.gen->cfg, g->user, now);
	free(g);
}

void
user_tunnels_granted(uint64_t id, const char *user, int64_t now)
{
	struct grant	*g;

	if (id == 0 || grant_find(id) != NULL)
		return;
	if ((g = calloc(1, sizeof(*g))) == NULL)
		fatal("user tunnels: calloc");
	g->id = id;
	g->open_by = now + TG_GRANT_OPEN_MS;
	strncpy(g->user, user, sizeof(g->user) - 1);
	if (tsearch(&g->id, &tree, grant_cmp) == NULL)
		fatal("user tunnels: tsearch");
	TAILQ_INSERT_TAIL(&pending, g, pending);
}

bool
user_tunnels_opened(uint64_t id)
{
	struct grant	*g = grant_find(id);

	if (g == NULL)
		return false;
	if (!g->opened) {
		TAILQ_REMOVE(&pending, g, pending);
		g->opened = true;
	}
	return true;
}

void
user_tunnels_failed(uint64_t id)
{
	struct grant	*g = grant_find(id);

	if (g != NULL && !g->opened)
		grant_end(g, proc_now_ms());
}

void
user_tunnels_ended(uint64_t id)
{
	struct grant	*g = grant_find(id);

	if (g != NULL)
		grant_end(g, proc_now_ms());
}

void
user_tunnels_timers(int64_t now, int64_t *next)
{
	struct grant	*g;

	while ((g = TAILQ_FIRST(&pending)) != NULL && g->open_by <= now) {
		log_warnx("tunnel %016llx of %s: allowed, but no gate worker "
		    "opened it within %d s; its limits.user_tunnels place is "
		    "given back", (unsigned long long)g->id, g->user,
		    TG_GRANT_OPEN_MS / 1000);
		grant_end(g, now);
	}
	if (g != NULL && (*next == -1 || g->open_by < *next))
		*next = g->open_by;
}
