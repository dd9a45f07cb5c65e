#include <search.h>
#include <stdlib.h>

#include "log.h"
#include "tunnelset.h"

/* The id is the key pointer itself: the tree allocates only its nodes. */
static int
tunnelset_cmp(const void *a, const void *b)
{
	uintptr_t	 x = (uintptr_t)a, y = (uintptr_t)b;

	return (x > y) - (x < y);
}

_Static_assert(sizeof(uintptr_t) >= sizeof(uint64_t),
    "a tunnel id fits in a tree key");

int
tunnelset_add(struct tunnelset *s, uint64_t id)
{
	void	*key = (void *)(uintptr_t)id;

	if (tfind(key, &s->root, tunnelset_cmp) != NULL)
		return -1;
	if (tsearch(key, &s->root, tunnelset_cmp) == NULL)
		fatal("tunnelset: tsearch");
	s->n++;
	return 0;
}

int
tunnelset_remove(struct tunnelset *s, uint64_t id)
{
	void	*key = (void *)(uintptr_t)id;

	if (tfind(key, &s->root, tunnelset_cmp) == NULL)
		return -1;
	tdelete(key, &s->root, tunnelset_cmp);
	s->n--;
	return 0;
}

bool
tunnelset_has(const struct tunnelset *s, uint64_t id)
{
	return tfind((void *)(uintptr_t)id, &s->root, tunnelset_cmp) != NULL;
}

static void
tunnelset_keep_key(void *key)
{
	(void)key;
}

void
tunnelset_clear(struct tunnelset *s)
{
	tdestroy(s->root, tunnelset_keep_key);
	s->root = NULL;
	s->n = 0;
}

/* dst gets what src holds, its own ids dropped; src is left empty. */
static void
tunnelset_move(struct tunnelset *dst, struct tunnelset *src)
{
	tunnelset_clear(dst);
	*dst = *src;
	src->root = NULL;
	src->n = 0;
}

struct tunnelset_filtering {
	struct tunnelset	  kept;
	bool			(*keep)(uint64_t, void *);
	void			 *arg;
};

static void
tunnelset_filter_node(const void *node, VISIT v, void *closure)
{
	struct tunnelset_filtering	*f = closure;
	uint64_t			 id = (uintptr_t)*(void *const *)node;

	if ((v == postorder || v == leaf) && f->keep(id, f->arg))
		(void)tunnelset_add(&f->kept, id);
}

/* A new tree of the kept ids: tdelete() during twalk_r() is undefined. */
void
tunnelset_filter(struct tunnelset *s, bool (*keep)(uint64_t, void *),
    void *arg)
{
	struct tunnelset_filtering	 f = { { NULL, 0 }, keep, arg };

	twalk_r(s->root, tunnelset_filter_node, &f);
	tunnelset_move(s, &f.kept);
}

static bool
tunnelset_give(uint64_t id, void *dst)
{
	(void)tunnelset_add(dst, id);
	return false;
}

void
tunnelset_merge(struct tunnelset *dst, struct tunnelset *src)
{
	tunnelset_filter(src, tunnelset_give, dst);
}
