/*
 * The authenticator's held requests (auth_held.h): a share of the set per
 * gate slot, and the slots served in turn.
 */
#include <string.h>

#include "auth_held.h"

void
auth_held_init(struct auth_held_set *s, size_t n_slots)
{
	memset(s, 0, sizeof(*s));
	s->n_slots = n_slots;
	s->share = AUTH_HELD_SHARE(n_slots);
}

bool
auth_held_room(const struct auth_held_set *s, size_t slot)
{
	return s->n_held < AUTH_HELD_MAX && s->n_by_slot[slot] < s->share;
}

void
auth_held_put(struct auth_held_set *s, size_t slot, uint32_t serial,
    const struct auth_request *req)
{
	struct auth_held	*h;

	for (h = s->held; h->used; h++)
		;
	h->req = *req;
	h->slot = slot;
	h->serial = serial;
	h->used = true;
	h->seq = s->n_taken++;
	s->n_held++;
	s->n_by_slot[slot]++;
}

struct auth_held *
auth_held_next(struct auth_held_set *s)
{
	struct auth_held	*h, *oldest = NULL;
	size_t			 slot = s->next_slot;

	if (s->n_held == 0)
		return NULL;
	while (s->n_by_slot[slot] == 0)
		slot = (slot + 1) % s->n_slots;
	s->next_slot = (slot + 1) % s->n_slots;
	for (h = s->held; h < s->held + AUTH_HELD_MAX; h++)
		if (h->used && h->slot == slot &&
		    (oldest == NULL || h->seq < oldest->seq))
			oldest = h;
	return oldest;
}

void
auth_held_done(struct auth_held_set *s, struct auth_held *h)
{
	s->n_held--;
	s->n_by_slot[h->slot]--;
	explicit_bzero(h, sizeof(*h));
}

void
auth_held_drop_slot(struct auth_held_set *s, size_t slot)
{
	for (size_t i = 0; i < AUTH_HELD_MAX; i++)
		if (s->held[i].used && s->held[i].slot == slot)
			auth_held_done(s, &s->held[i]);
}
