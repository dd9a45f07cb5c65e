/*
 * The tunnel ids one relay worker holds, as the master counts them from
 * gate workers' handoff reports and the relay worker's close records. A
 * balanced tree (tsearch): ids come from processes the master does not
 * trust, so no input can make an operation slower than O(log n).
 */
#ifndef TG_TUNNELSET_H
#define TG_TUNNELSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tunnelset {
	void	*root;
	size_t	 n;
};

/* 0, or -1 if id is there already. Out of memory is fatal. */
int	 tunnelset_add(struct tunnelset *, uint64_t id);
/* 0, or -1 if id is not there. */
int	 tunnelset_remove(struct tunnelset *, uint64_t id);
bool	 tunnelset_has(const struct tunnelset *, uint64_t id);
void	 tunnelset_clear(struct tunnelset *);
/* dst gets what src holds as well (each id once); src is left empty. */
void	 tunnelset_merge(struct tunnelset *dst, struct tunnelset *src);
/* Drops every id for which keep() says false. */
void	 tunnelset_filter(struct tunnelset *,
	    bool (*keep)(uint64_t id, void *arg), void *arg);

#endif
