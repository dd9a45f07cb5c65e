/*
 * Connection limits across gate workers: the total, per source (see
 * struct source_key) and new connections per source and minute.
 *
 * Gate workers share the listeners, so any of them may take the next
 * connection of a source; a per-source limit must count what all of them
 * hold. The counts live in one shared mapping that the master creates at
 * start, before any child, so every gate worker of every generation
 * inherits it and a reload or a gate worker's restart loses nothing. Each
 * gate worker writes only its own row (its connections per source bucket)
 * and reads the sum of all rows; the master gives a row to each gate
 * worker it forks and zeroes it when that worker is gone, which is exactly
 * when the connections it counted are gone. Nothing on the connection's
 * path waits for another process. Two gate workers admitting the same
 * source at the same moment can each take the last place, so a limit can
 * be passed by at most one connection per other gate worker.
 */
#ifndef TG_CONN_LIMITS_H
#define TG_CONN_LIMITS_H

#include <stdint.h>

#include "config.h"
#include "conn_facts.h"

/* Master: create the mapping; 0, or -1 (logged). */
int		 conn_limits_setup(void);
/* Master: a row for a gate worker about to be forked; -1 when none. */
int		 conn_limits_row_take(void);
/* Master: that gate worker is gone, and its connections with it. */
void		 conn_limits_row_free(int row);
/* A child that counts nothing (an authenticator) drops the mapping. */
void		 conn_limits_unmap(void);

/*
 * Gate worker: count in this row from now on (-1: none was free; count
 * only our own connections, in a private row).
 */
void		 conn_limits_use_row(int row);
/*
 * Admit one connection of that source now: NULL and its bucket, or the
 * limit it would pass (nothing counted).
 */
const char	*conn_limits_admit(const struct config *,
		    const struct source_key *, int64_t now_ms,
		    uint32_t *bucket);
void		 conn_limits_release(uint32_t bucket);

#endif
