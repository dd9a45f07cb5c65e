/*
 * Telling children to retire (a reload's old generation, the authenticators
 * and key processes of a stop): one small message on the child's control
 * socket, which the outbox delivers or, for a child that does not read,
 * kills it.
 */
#include <string.h>

#include "master_priv.h"

void
retire_child(struct child *c)
{
	struct ctl_retire	 r;

	memset(&r, 0, sizeof(r));
	ctl_hdr_init(&r.hdr, CTL_RETIRE);
	(void)master_tell(c, &r, sizeof(r), "retire");
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
