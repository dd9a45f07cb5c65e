/*
 * Credential cache, so a steady stream of tunnels does not run PAM or LDAP
 * for each.
 *
 * One cache for the whole pool: the master creates it before any child in
 * a shared mapping (a memfd named tg-authcache, so /proc/PID/maps shows who
 * holds it) that every authenticator of every generation inherits, and gate
 * and key workers unmap it right after the fork; relay workers are exec'd
 * without it. So a user verified by one authenticator is served from the
 * cache by whichever one answers next, and a directory outage treats every
 * cached user alike. The table outlives reloads (a cache.max_entries change
 * replaces it with an empty one); `tunnelgatectl cache flush` empties it,
 * whole or for one user, without one.
 *
 * Only SHA-256(salt || user || 0x00 || password), the verdict and the expiry
 * are kept; the salt lives in the mapping, which only root processes of the
 * pool and the master hold. Entries are keyed by that digest: a new password
 * has a new digest and never hits an entry made for the old one, but the old
 * password keeps working for up to the positive TTL after a change (or after
 * the account is locked) unless the user is flushed, and a wrong password
 * cached as negative stays refused for up to the negative TTL even if it
 * becomes the new password. Each entry also keeps keyed hashes of the name
 * typed and of the account's own name, so that a flush can find a user's
 * entries.
 *
 * The key is the name as typed (it is all there is before the backend is
 * asked), so a positive entry also keeps the account's own name: a hit
 * gives the name the backend found, never the typed spelling.
 *
 * A positive entry may hold a copy of the user's groups (LDAP stores them:
 * a cached user keeps working, with the groups the directory last gave,
 * while it is unreachable; PAM stores the NSS groups, read once per entry
 * instead of once per tunnel). The name and the groups of an entry live in a
 * byte ring (the arena) written in order: an entry whose bytes were written
 * over since is a miss, and its user is verified by the backend again. The
 * arena has room for CACHE_BLOB_AVG bytes an entry plus the largest list
 * there can be, so with typical lists (a few hundred bytes) entries go by
 * age in the slot ring first.
 *
 * Storage: a ring of max_entries slots in insertion order, so the oldest
 * entry is the one overwritten, a chained hash table over it, and the
 * arena, under one process-shared robust mutex. An authenticator killed
 * while holding it may have left a chain half-changed: the next holder
 * empties the cache (it can always be rebuilt) rather than trust it.
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "auth.h"
#include "auth_cache.h"
#include "keyed_hash.h"
#include "log.h"

/* About 70 bytes a slot and 384 of arena: under 512 MiB at the most. */
#define CACHE_SALT_LEN		32
#define CACHE_BLOB_AVG		384
/* A name and the largest group list auth_groups_dup() accepts. */
#define CACHE_BLOB_MAX		(AUTH_USER_MAX + 1 + \
	AUTH_MAX_GROUPS * (AUTH_GROUP_NAME_MAX + 1) + 1)
#define NIL			UINT32_MAX
/* How long the master waits for the lock before it tells the admin. */
#define CACHE_FLUSH_WAIT_MS	1000

struct cache_entry {
	uint8_t		 digest[SHA256_DIGEST_LENGTH];
	int64_t		 expires_ms;
	uint64_t	 blob_pos;	/* in the arena, counted from its start */
	uint64_t	 user_h;	/* keyed hashes of the lower-cased names */
	uint64_t	 name_h;
	uint32_t	 blob_len;	/* name NUL groups (NUL each) */
	uint32_t	 next;		/* hash chain */
	uint16_t	 n_groups;
	uint8_t		 has_groups;
	uint8_t		 verdict;
	uint8_t		 used;
};

/* The mapping: this header, then ring[max], buckets[mask + 1], arena. */
struct cache_shared {
	pthread_mutex_t		 lock;
	uint64_t		 seed;
	uint64_t		 head;		/* arena bytes written so far */
	uint64_t		 arena_size;
	uint32_t		 max;
	uint32_t		 mask;
	uint32_t		 cursor;	/* oldest slot, written next */
	uint8_t			 salt[CACHE_SALT_LEN];
};

struct auth_cache {
	struct cache_shared	*sh;
	unsigned		 positive_ttl_ms;
	unsigned		 negative_ttl_ms;
	bool			 owned;		/* made it: unmaps it when freed */
	EVP_MD_CTX		*md;
	EVP_MD			*sha256;	/* fetched once, not per login */
};

static struct cache_shared	*shared;
static size_t			 shared_size;

static struct cache_entry *
cache_ring(struct cache_shared *sh)
{
	return (struct cache_entry *)(sh + 1);
}

static uint32_t *
cache_buckets(struct cache_shared *sh)
{
	return (uint32_t *)(cache_ring(sh) + sh->max);
}

static uint8_t *
cache_arena(struct cache_shared *sh)
{
	return (uint8_t *)(cache_buckets(sh) + sh->mask + 1);
}

/* Empty: every bucket NIL, every slot free. The salt stays. */
static void
cache_reset(struct cache_shared *sh)
{
	uint32_t	*b = cache_buckets(sh);

	memset(cache_ring(sh), 0, (size_t)sh->max * sizeof(struct cache_entry));
	for (uint32_t i = 0; sh->max > 0 && i <= sh->mask; i++)
		b[i] = NIL;
	sh->cursor = 0;
	sh->head = 0;
}

static int
cache_lock_init(struct cache_shared *sh)
{
	pthread_mutexattr_t	 ma;
	int			 rc;

	if (pthread_mutexattr_init(&ma) != 0)
		return -1;
	rc = pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED) != 0 ||
	    pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST) != 0 ||
	    pthread_mutex_init(&sh->lock, &ma) != 0 ? -1 : 0;
	pthread_mutexattr_destroy(&ma);
	return rc;
}

/* A new empty cache in its own shared mapping, or NULL (logged). */
static struct cache_shared *
cache_map(unsigned max_entries, size_t *size)
{
	struct cache_shared	*sh;
	uint32_t		 nb;
	uint64_t		 arena;
	void			*p;
	int			 fd;

	if (max_entries > TG_MAX_CACHE_ENTRIES) {
		log_warnx("credential cache: cache max_entries %u is over "
		    "%u; lower it", max_entries, TG_MAX_CACHE_ENTRIES);
		return NULL;
	}
	/* Digests are uniform, so their low bits index a power-of-two table. */
	for (nb = 1; nb < max_entries; nb <<= 1)
		;
	arena = max_entries == 0 ? 0 :
	    (uint64_t)max_entries * CACHE_BLOB_AVG + CACHE_BLOB_MAX;
	*size = sizeof(*sh) + (size_t)max_entries * sizeof(struct cache_entry) +
	    (size_t)nb * sizeof(uint32_t) + (size_t)arena;
	/* Pages untouched stay unallocated: a young cache costs little. */
	if ((fd = memfd_create("tg-authcache", MFD_CLOEXEC)) == -1 ||
	    ftruncate(fd, (off_t)*size) == -1) {
		log_warn("credential cache: memfd of %zu bytes", *size);
		if (fd != -1)
			close(fd);
		return NULL;
	}
	p = mmap(NULL, *size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		log_warn("credential cache: mmap of %zu bytes", *size);
		return NULL;
	}
	sh = p;
	sh->max = max_entries;
	sh->mask = nb - 1;
	sh->arena_size = arena;
	cache_reset(sh);
	if (cache_lock_init(sh) == -1 ||
	    RAND_bytes(sh->salt, sizeof(sh->salt)) != 1 ||
	    RAND_bytes((unsigned char *)&sh->seed, sizeof(sh->seed)) != 1) {
		log_warnx("credential cache: cannot set up the shared lock "
		    "or the salt");
		munmap(p, *size);
		return NULL;
	}
	return sh;
}

int
auth_cache_setup(unsigned max_entries)
{
	struct cache_shared	*sh;
	size_t			 size;

	if (shared != NULL && shared->max == max_entries)
		return 0;
	if ((sh = cache_map(max_entries, &size)) == NULL)
		return -1;
	auth_cache_unmap();
	shared = sh;
	shared_size = size;
	return 0;
}

void
auth_cache_unmap(void)
{
	if (shared != NULL)
		munmap(shared, shared_size);
	shared = NULL;
	shared_size = 0;
}

/* Its holder died mid-change: a chain may be half-linked, start afresh. */
static void
cache_lock(struct cache_shared *sh)
{
	if (pthread_mutex_lock(&sh->lock) == EOWNERDEAD) {
		cache_reset(sh);
		pthread_mutex_consistent(&sh->lock);
	}
}

static void
cache_unlock(struct cache_shared *sh)
{
	pthread_mutex_unlock(&sh->lock);
}

struct auth_cache *
auth_cache_new(unsigned max_entries, unsigned positive_ttl_ms,
    unsigned negative_ttl_ms)
{
	struct auth_cache	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("credential cache: calloc");
		return NULL;
	}
	c->positive_ttl_ms = positive_ttl_ms;
	c->negative_ttl_ms = negative_ttl_ms;
	/* Outside the daemon (tests), a process makes its own. */
	if (shared == NULL) {
		if (auth_cache_setup(max_entries) == -1)
			goto fail;
		c->owned = true;
	}
	c->sh = shared;
	if ((c->md = EVP_MD_CTX_new()) == NULL) {
		log_warnx("credential cache: EVP_MD_CTX_new: out of memory");
		goto fail;
	}
	if ((c->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL) {
		log_warnx("credential cache: libcrypto offers no SHA-256 "
		    "(EVP_MD_fetch); check the OpenSSL configuration's providers");
		goto fail;
	}
	return c;
 fail:
	auth_cache_free(c);
	return NULL;
}

void
auth_cache_free(struct auth_cache *c)
{
	if (c == NULL)
		return;
	if (c->owned)
		auth_cache_unmap();
	EVP_MD_CTX_free(c->md);
	EVP_MD_free(c->sha256);
	free(c);
}

char **
auth_groups_dup(const char *const *groups, size_t n)
{
	size_t	 len[AUTH_MAX_GROUPS], total = 0, i;
	char	**out, *p;

	if (n > AUTH_MAX_GROUPS)
		return NULL;
	for (i = 0; i < n; i++) {
		if ((len[i] = strlen(groups[i])) > AUTH_GROUP_NAME_MAX)
			return NULL;
		total += len[i] + 1;
	}
	/* Never malloc(0): a user in no group still gets a list. */
	if ((out = malloc(n * sizeof(*out) + total + 1)) == NULL) {
		log_warn("credential cache: malloc");
		return NULL;
	}
	p = (char *)(out + n);
	for (i = 0; i < n; i++) {
		memcpy(p, groups[i], len[i] + 1);
		out[i] = p;
		p += len[i] + 1;
	}
	*p = '\0';
	return out;
}

static int
cache_digest(struct auth_cache *c, const char *user, const char *password,
    uint8_t d[SHA256_DIGEST_LENGTH])
{
	/* The NUL ending user separates it from the password. */
	if (EVP_DigestInit_ex(c->md, c->sha256, NULL) != 1 ||
	    EVP_DigestUpdate(c->md, c->sh->salt, sizeof(c->sh->salt)) != 1 ||
	    EVP_DigestUpdate(c->md, user, strlen(user) + 1) != 1 ||
	    EVP_DigestUpdate(c->md, password, strlen(password)) != 1 ||
	    EVP_DigestFinal_ex(c->md, d, NULL) != 1) {
		log_warnx("credential cache: SHA-256 failed; not caching");
		return -1;
	}
	return 0;
}

/* Names match as directories match them: without case. */
static uint64_t
cache_name_hash(const struct cache_shared *sh, const char *name)
{
	char	 low[AUTH_USER_MAX + 1];
	size_t	 i;

	for (i = 0; name[i] != '\0' && i < AUTH_USER_MAX; i++)
		low[i] = (char)tolower((unsigned char)name[i]);
	return keyed_hash(sh->seed, low, i);
}

static uint32_t *
cache_bucket(struct cache_shared *sh, const uint8_t *d)
{
	uint32_t	 h;

	memcpy(&h, d, sizeof(h));
	return &cache_buckets(sh)[h & sh->mask];
}

/*
 * Walks the chain of d, unlinking expired entries on the way. Returns the
 * link pointing at the live entry for d, or NULL. A chain longer than the
 * ring or leaving it is not ours: the cache is emptied.
 */
static uint32_t *
cache_find(struct cache_shared *sh, const uint8_t *d, int64_t now_ms)
{
	struct cache_entry	*ring = cache_ring(sh), *e;
	uint32_t		*link = cache_bucket(sh, d);

	for (uint32_t steps = 0; *link != NIL; steps++) {
		if (*link >= sh->max || steps > sh->max) {
			log_warnx("credential cache: a broken chain; emptied");
			cache_reset(sh);
			return NULL;
		}
		e = &ring[*link];
		if (now_ms >= e->expires_ms) {
			e->used = 0;
			*link = e->next;
			continue;
		}
		if (CRYPTO_memcmp(e->digest, d, SHA256_DIGEST_LENGTH) == 0)
			return link;
		link = &e->next;
	}
	return NULL;
}

/* Takes slot out of its chain, if it is in one; -1 if the chain is broken. */
static int
cache_unlink(struct cache_shared *sh, uint32_t slot)
{
	struct cache_entry	*ring = cache_ring(sh);
	uint32_t		*link = cache_bucket(sh, ring[slot].digest);

	for (uint32_t steps = 0; *link != slot; steps++) {
		if (*link == NIL)
			break;
		if (*link >= sh->max || steps > sh->max) {
			log_warnx("credential cache: a broken chain; emptied");
			cache_reset(sh);
			return -1;
		}
		link = &ring[*link].next;
	}
	if (*link == slot)
		*link = ring[slot].next;
	ring[slot].used = 0;
	return 0;
}

/* The entry's bytes, if the arena has not been written over them since. */
static const uint8_t *
cache_blob(struct cache_shared *sh, const struct cache_entry *e)
{
	if (e->blob_len == 0 || e->blob_len > CACHE_BLOB_MAX ||
	    e->blob_pos > sh->head || sh->head - e->blob_pos > sh->arena_size ||
	    e->blob_pos % sh->arena_size + e->blob_len > sh->arena_size)
		return NULL;
	return cache_arena(sh) + e->blob_pos % sh->arena_size;
}

/* The stored groups, split again; NULL if they are not all there. */
static char **
cache_groups_out(const uint8_t *g, size_t len, size_t n)
{
	const char	*list[AUTH_MAX_GROUPS];
	size_t		 off = 0, i;

	if (n > AUTH_MAX_GROUPS)
		return NULL;
	for (i = 0; i < n; i++) {
		if (off >= len || memchr(g + off, '\0', len - off) == NULL)
			return NULL;
		list[i] = (const char *)g + off;
		off += strlen(list[i]) + 1;
	}
	return auth_groups_dup(list, n);
}

/* Copies a hit out of the mapping; 0: it cannot be used (a miss). */
static int
cache_copy_out(struct cache_shared *sh, const struct cache_entry *e,
    char name[AUTH_USER_MAX + 1], char ***groups, size_t *n_groups)
{
	const uint8_t	*b = NULL;
	size_t		 nlen = 0;

	if (e->blob_len > 0) {
		if ((b = cache_blob(sh, e)) == NULL || (nlen = strnlen(
		    (const char *)b, e->blob_len)) == e->blob_len ||
		    nlen > AUTH_USER_MAX)
			return 0;
	}
	if (name != NULL) {
		memcpy(name, b != NULL ? (const char *)b : "", nlen);
		name[nlen] = '\0';
	}
	if (groups != NULL) {
		*groups = NULL;
		*n_groups = e->n_groups;
		if (e->has_groups && (b == NULL || (*groups = cache_groups_out(
		    b + nlen + 1, e->blob_len - nlen - 1, e->n_groups)) ==
		    NULL))
			return 0;
	}
	return 1;
}

int
auth_cache_lookup(struct auth_cache *c, const char *user,
    const char *password, int64_t now_ms, enum auth_verdict *verdict,
    char name[AUTH_USER_MAX + 1], char ***groups, size_t *n_groups)
{
	struct cache_shared	*sh = c->sh;
	uint8_t			 d[SHA256_DIGEST_LENGTH];
	const struct cache_entry *e;
	uint32_t		*link;
	int			 hit = 0;

	if (sh->max == 0 || cache_digest(c, user, password, d) == -1)
		return 0;
	cache_lock(sh);
	if ((link = cache_find(sh, d, now_ms)) != NULL) {
		e = &cache_ring(sh)[*link];
		if ((hit = cache_copy_out(sh, e, name, groups, n_groups)) == 1)
			*verdict = (enum auth_verdict)e->verdict;
	}
	cache_unlock(sh);
	return hit;
}

/* Name NUL, then each group NUL: its length, or 0 if it cannot be kept. */
static size_t
cache_blob_len(const char *name, const char *const *groups, size_t n)
{
	size_t	 len = 0;

	if (name != NULL && (len = strlen(name)) > AUTH_USER_MAX)
		return 0;
	len++;
	if (groups != NULL) {
		if (n > AUTH_MAX_GROUPS)
			return 0;
		for (size_t i = 0; i < n; i++) {
			size_t	 g = strlen(groups[i]);

			if (g > AUTH_GROUP_NAME_MAX)
				return 0;
			len += g + 1;
		}
	}
	return len;
}

bool
auth_cache_keeps(const char *const *groups, size_t n_groups)
{
	return cache_blob_len(NULL, groups, n_groups) != 0;
}

/* Writes the blob at the arena's head, never across its end. */
static void
cache_blob_put(struct cache_shared *sh, struct cache_entry *e, size_t len,
    const char *name, const char *const *groups, size_t n)
{
	uint8_t		*p;
	size_t		 l;

	if (sh->head % sh->arena_size + len > sh->arena_size)
		sh->head += sh->arena_size - sh->head % sh->arena_size;
	e->blob_pos = sh->head;
	e->blob_len = (uint32_t)len;
	p = cache_arena(sh) + sh->head % sh->arena_size;
	sh->head += len;
	l = name != NULL ? strlen(name) : 0;
	memcpy(p, name != NULL ? name : "", l + 1);
	p += l + 1;
	for (size_t i = 0; groups != NULL && i < n; i++) {
		l = strlen(groups[i]);
		memcpy(p, groups[i], l + 1);
		p += l + 1;
	}
}

static unsigned
cache_ttl(const struct auth_cache *c, enum auth_verdict verdict)
{
	switch (verdict) {
	case AUTH_ALLOW:
		return c->positive_ttl_ms;
	case AUTH_BAD_CREDENTIALS:
	case AUTH_ACCOUNT_UNUSABLE:
		return c->negative_ttl_ms;
	default:
		/* An outage or a backend problem says nothing of the password. */
		return 0;
	}
}

void
auth_cache_store(struct auth_cache *c, const char *user,
    const char *password, int64_t now_ms, enum auth_verdict verdict,
    const char *name, const char *const *groups, size_t n_groups)
{
	struct cache_shared	*sh = c->sh;
	uint8_t			 d[SHA256_DIGEST_LENGTH];
	struct cache_entry	*e;
	uint32_t		*link, slot;
	unsigned		 ttl = cache_ttl(c, verdict);
	size_t			 len;

	if (sh->max == 0 || ttl == 0 || cache_digest(c, user, password, d) == -1)
		return;
	if (verdict != AUTH_ALLOW) {
		groups = NULL;
		name = NULL;
	}
	/* Groups that cannot be kept are not replaced by none: skip it all. */
	if ((len = cache_blob_len(name, groups, n_groups)) == 0)
		return;
	cache_lock(sh);
	/* A re-stored entry moves to the young end of the ring. */
	if ((link = cache_find(sh, d, now_ms)) != NULL &&
	    cache_unlink(sh, *link) == -1)
		goto out;
	slot = sh->cursor;
	e = &cache_ring(sh)[slot];
	if (e->used && cache_unlink(sh, slot) == -1)
		goto out;
	memcpy(e->digest, d, sizeof(d));
	e->expires_ms = now_ms + ttl;
	e->verdict = (uint8_t)verdict;
	e->user_h = cache_name_hash(sh, user);
	e->name_h = cache_name_hash(sh, name != NULL ? name : user);
	e->has_groups = groups != NULL;
	e->n_groups = groups != NULL ? (uint16_t)n_groups : 0;
	e->blob_len = 0;
	if (name != NULL || groups != NULL)
		cache_blob_put(sh, e, len, name, groups, n_groups);
	e->used = 1;
	link = cache_bucket(sh, d);
	e->next = *link;
	*link = slot;
	sh->cursor = slot + 1 == sh->max ? 0 : slot + 1;
 out:
	cache_unlock(sh);
}

/* The master must not hang on a lock an authenticator keeps. */
static int
cache_lock_wait(struct cache_shared *sh)
{
	struct timespec	 ts;
	int		 rc;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += CACHE_FLUSH_WAIT_MS / 1000;
	rc = pthread_mutex_timedlock(&sh->lock, &ts);
	if (rc == EOWNERDEAD) {
		cache_reset(sh);
		pthread_mutex_consistent(&sh->lock);
		return 0;
	}
	return rc == 0 ? 0 : -1;
}

int
auth_cache_flush(const char *user, unsigned *n)
{
	struct cache_shared	*sh = shared;
	struct cache_entry	*ring;
	uint64_t		 h;

	*n = 0;
	if (sh == NULL)
		return 0;
	if (cache_lock_wait(sh) == -1) {
		log_warnx("credential cache: the lock is held for over %d ms; "
		    "not flushed", CACHE_FLUSH_WAIT_MS);
		return -1;
	}
	ring = cache_ring(sh);
	h = user != NULL ? cache_name_hash(sh, user) : 0;
	for (uint32_t i = 0; i < sh->max; i++) {
		struct cache_entry *e = &ring[i];

		if (!e->used || (user != NULL && e->user_h != h &&
		    e->name_h != h))
			continue;
		if (cache_unlink(sh, i) == -1)
			break;
		(*n)++;
	}
	if (user == NULL)
		cache_reset(sh);
	cache_unlock(sh);
	return 0;
}
