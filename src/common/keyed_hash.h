/*
 * A hash for placing attacker-chosen keys (addresses, user names) in fixed
 * tables, mixed with a random seed chosen at start so that which keys
 * share a place cannot be chosen from outside. Not a MAC: the seed stays in
 * the processes that use the table.
 */
#ifndef TG_KEYED_HASH_H
#define TG_KEYED_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t
keyed_hash(uint64_t seed, const void *data, size_t len)
{
	const uint8_t	*p = data;
	uint64_t	 h = seed ^ (len * 0x9e3779b97f4a7c15ULL), w;

	while (len > 0) {
		size_t n = len < sizeof(w) ? len : sizeof(w);

		w = 0;
		memcpy(&w, p, n);
		p += n;
		len -= n;
		h ^= w;
		h *= 0x9e3779b97f4a7c15ULL;
		h ^= h >> 31;
		h *= 0xbf58476d1ce4e5b9ULL;
		h ^= h >> 29;
	}
	return h;
}

#endif
