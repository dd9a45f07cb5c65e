/*
 * The requests an authenticator has taken and not yet served. One whose
 * credentials miss the cache waits here while the authenticator reads on,
 * so that cached logins queued behind it are served first.
 */
#ifndef TG_AUTH_HELD_H
#define TG_AUTH_HELD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth_proto.h"
#include "tg_limits.h"

/* Bounded, because what one authenticator holds no other can serve. */
#define AUTH_HELD_MAX	32
/*
 * What one gate slot may hold of them. A compromised gate worker can send
 * nothing but slow misses (fresh names and client addresses, which no
 * throttle has seen) and would fill the set; its share leaves room for the
 * other gate workers' misses. A lone gate worker keeps all of it.
 */
#define AUTH_HELD_SHARE(n_slots) \
	((n_slots) < AUTH_HELD_MAX ? AUTH_HELD_MAX / (n_slots) : 1)

struct auth_held {
	struct auth_request	 req;
	size_t			 slot;
	uint32_t		 serial;	/* of the socket it came on */
	bool			 used;
	uint64_t		 seq;		/* the order they were taken in */
};

struct auth_held_set {
	struct auth_held	 held[AUTH_HELD_MAX];
	size_t			 n_held, n_slots, share;
	size_t			 n_by_slot[TG_MAX_GATE_WORKERS];
	size_t			 next_slot;	/* served next, if it holds any */
	uint64_t		 n_taken;
};

/* Empty, for n_slots gate slots (1 to TG_MAX_GATE_WORKERS). */
void	 auth_held_init(struct auth_held_set *, size_t n_slots);
/* May a request from slot be held now? */
bool	 auth_held_room(const struct auth_held_set *, size_t slot);
/* Only when auth_held_room() said so. */
void	 auth_held_put(struct auth_held_set *, size_t slot, uint32_t serial,
	    const struct auth_request *);
/*
 * The request to serve next, NULL when none is held: the oldest of the
 * next slot, in turn, that holds any. Served oldest first, one gate
 * worker's backlog would make every other's misses wait behind all of it.
 */
struct auth_held *auth_held_next(struct auth_held_set *);
/* Served or dropped: wiped, and its place free. */
void	 auth_held_done(struct auth_held_set *, struct auth_held *);
/*
 * A slot's socket closed or replaced: what the old one held is owed to
 * nobody, and must not keep the new gate worker's share taken.
 */
void	 auth_held_drop_slot(struct auth_held_set *, size_t slot);

#endif
