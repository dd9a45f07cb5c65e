/*
 * The credential cache's life outside one authenticator (auth.h has its
 * use): the master creates it before any child, in a shared mapping that
 * every authenticator inherits, and empties it for `tunnelgatectl cache
 * flush`; a child that must not see it (gate and key workers) unmaps it
 * first thing.
 */
#ifndef TG_AUTH_CACHE_H
#define TG_AUTH_CACHE_H

/*
 * Master, at start and after each applied reload: 0 (the cache of that
 * size exists; one of another size is replaced by an empty one), or -1
 * (logged).
 */
int	 auth_cache_setup(unsigned max_entries);
/* A child that must not see the cache (gate and key workers). */
void	 auth_cache_unmap(void);
/*
 * Master: forget the entries of user (NULL: all of them). The name is
 * matched case-insensitively against both the name typed at login and the
 * account's own. 0 and *n (entries forgotten), or -1: an authenticator
 * holds the lock for over a second.
 */
int	 auth_cache_flush(const char *user, unsigned *n);

#endif
