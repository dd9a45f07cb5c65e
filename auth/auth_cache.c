/*
 * Credential cache, so a steady stream of tunnels does not run PAM for each.
 *
 * One cache per authenticator process: each member of the pool builds its
 * own after fork, with its own random salt, and they share nothing. A user
 * served by two authenticators may therefore be verified once by each.
 *
 * Only SHA-256(salt || user || 0x00 || password), the verdict and the expiry
 * are kept; the salt never leaves the process, so the digests are useless
 * outside it. Entries are keyed by that digest alone: a new password has a
 * new digest and never hits an entry made for the old one, but the old
 * password keeps working for up to the positive TTL after a change (or after
 * the account is locked), and a wrong password cached as negative stays
 * refused for up to the negative TTL even if it becomes the new password.
 * Entries of one user are not linked to each other.
 *
 * The key is the name as typed (it is all there is before the backend is
 * asked), so a positive entry also keeps the account's own name: a hit
 * gives the name the backend found, never the typed spelling.
 *
 * A positive entry may hold a copy of the user's groups (LDAP stores them:
 * a cached user keeps working, with the groups the directory last gave,
 * while it is unreachable). That copy is at most AUTH_MAX_GROUPS names of
 * at most AUTH_GROUP_NAME_MAX bytes, typically a few hundred bytes.
 *
 * Storage is a ring of max_entries slots in insertion order, so the oldest
 * entry is the one overwritten, plus a chained hash table over it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "auth.h"
#include "log.h"

/* About 60 bytes a slot, groups apart: the slots stay under 64 MiB. */
#define CACHE_MAX_ENTRIES	(1U << 20)
#define CACHE_SALT_LEN		32
#define NIL			UINT32_MAX

struct cache_entry {
	uint8_t		 digest[SHA256_DIGEST_LENGTH];
	int64_t		 expires_ms;
	char		**groups;	/* auth_groups_dup() layout, or NULL */
	char		*name;		/* the account's own; positive only */
	uint32_t	 next;		/* hash chain */
	uint16_t	 n_groups;
	uint8_t		 verdict;
	uint8_t		 used;
};

struct auth_cache {
	struct cache_entry	*ring;
	uint32_t		*buckets;
	uint32_t		 max;
	uint32_t		 mask;
	uint32_t		 cursor;	/* oldest slot, written next */
	unsigned		 positive_ttl_ms;
	unsigned		 negative_ttl_ms;
	EVP_MD_CTX		*md;
	uint8_t			 salt[CACHE_SALT_LEN];
};

struct auth_cache *
auth_cache_new(unsigned max_entries, unsigned positive_ttl_ms,
    unsigned negative_ttl_ms)
{
	struct auth_cache	*c;
	uint32_t		 nb, i;

	if (max_entries > CACHE_MAX_ENTRIES) {
		log_warnx("%s: cache max_entries %u is over %u; lower it",
		    __func__, max_entries, CACHE_MAX_ENTRIES);
		return NULL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("%s: calloc", __func__);
		return NULL;
	}
	c->max = max_entries;
	c->positive_ttl_ms = positive_ttl_ms;
	c->negative_ttl_ms = negative_ttl_ms;
	if (max_entries == 0)
		return c;

	/* Digests are uniform, so their low bits index a power-of-two table. */
	for (nb = 1; nb < max_entries; nb <<= 1)
		;
	c->mask = nb - 1;
	if ((c->ring = calloc(max_entries, sizeof(*c->ring))) == NULL ||
	    (c->buckets = calloc(nb, sizeof(*c->buckets))) == NULL) {
		log_warn("%s: calloc", __func__);
		goto fail;
	}
	for (i = 0; i < nb; i++)
		c->buckets[i] = NIL;
	if ((c->md = EVP_MD_CTX_new()) == NULL) {
		log_warnx("%s: EVP_MD_CTX_new failed", __func__);
		goto fail;
	}
	if (RAND_bytes(c->salt, sizeof(c->salt)) != 1) {
		log_warnx("%s: RAND_bytes failed", __func__);
		goto fail;
	}
	return c;
 fail:
	auth_cache_free(c);
	return NULL;
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
		log_warn("%s: malloc", __func__);
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

static void
cache_drop(struct cache_entry *e)
{
	free(e->groups);
	e->groups = NULL;
	free(e->name);
	e->name = NULL;
	e->n_groups = 0;
	e->used = 0;
}

void
auth_cache_free(struct auth_cache *c)
{
	uint32_t	 i;

	if (c == NULL)
		return;
	for (i = 0; c->ring != NULL && i < c->max; i++)
		cache_drop(&c->ring[i]);
	EVP_MD_CTX_free(c->md);
	free(c->ring);
	free(c->buckets);
	OPENSSL_cleanse(c->salt, sizeof(c->salt));
	free(c);
}

static int
cache_digest(struct auth_cache *c, const char *user, const char *password,
    uint8_t d[SHA256_DIGEST_LENGTH])
{
	/* The NUL ending user separates it from the password. */
	if (EVP_DigestInit_ex(c->md, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(c->md, c->salt, sizeof(c->salt)) != 1 ||
	    EVP_DigestUpdate(c->md, user, strlen(user) + 1) != 1 ||
	    EVP_DigestUpdate(c->md, password, strlen(password)) != 1 ||
	    EVP_DigestFinal_ex(c->md, d, NULL) != 1) {
		log_warnx("%s: SHA-256 failed; not caching", __func__);
		return -1;
	}
	return 0;
}

static uint32_t *
cache_bucket(struct auth_cache *c, const uint8_t *d)
{
	uint32_t	 h;

	memcpy(&h, d, sizeof(h));
	return &c->buckets[h & c->mask];
}

/*
 * Walks the chain of d, unlinking expired entries on the way. Returns the
 * link pointing at the live entry for d, or NULL.
 */
static uint32_t *
cache_find(struct auth_cache *c, const uint8_t *d, int64_t now_ms)
{
	struct cache_entry	*e;
	uint32_t		*link = cache_bucket(c, d);

	while (*link != NIL) {
		e = &c->ring[*link];
		if (now_ms >= e->expires_ms) {
			cache_drop(e);
			*link = e->next;
			continue;
		}
		if (CRYPTO_memcmp(e->digest, d, SHA256_DIGEST_LENGTH) == 0)
			return link;
		link = &e->next;
	}
	return NULL;
}

static void
cache_unlink(struct auth_cache *c, uint32_t slot)
{
	uint32_t	*link = cache_bucket(c, c->ring[slot].digest);

	while (*link != slot)
		link = &c->ring[*link].next;
	*link = c->ring[slot].next;
	cache_drop(&c->ring[slot]);
}

int
auth_cache_lookup(struct auth_cache *c, const char *user,
    const char *password, int64_t now_ms, enum auth_verdict *verdict,
    char name[AUTH_USER_MAX + 1], char ***groups, size_t *n_groups)
{
	uint8_t			 d[SHA256_DIGEST_LENGTH];
	const struct cache_entry *e;
	uint32_t		*link;

	if (c->max == 0 || cache_digest(c, user, password, d) == -1)
		return 0;
	if ((link = cache_find(c, d, now_ms)) == NULL)
		return 0;
	e = &c->ring[*link];
	if (name != NULL)
		memcpy(name, e->name != NULL ? e->name : "", e->name != NULL ?
		    strlen(e->name) + 1 : 1);
	if (groups != NULL) {
		*groups = NULL;
		*n_groups = e->n_groups;
		if (e->groups != NULL && (*groups = auth_groups_dup(
		    (const char *const *)e->groups, e->n_groups)) == NULL)
			return 0;
	}
	*verdict = (enum auth_verdict)e->verdict;
	return 1;
}

void
auth_cache_store(struct auth_cache *c, const char *user,
    const char *password, int64_t now_ms, enum auth_verdict verdict,
    const char *name, const char *const *groups, size_t n_groups)
{
	uint8_t			 d[SHA256_DIGEST_LENGTH];
	struct cache_entry	*e;
	uint32_t		*link, slot;
	unsigned		 ttl;
	char			**copy = NULL, *name_copy = NULL;

	switch (verdict) {
	case AUTH_ALLOW:
		ttl = c->positive_ttl_ms;
		break;
	case AUTH_BAD_CREDENTIALS:
	case AUTH_ACCOUNT_UNUSABLE:
		ttl = c->negative_ttl_ms;
		break;
	default:
		/* An outage or a backend problem says nothing of the password. */
		return;
	}
	if (c->max == 0 || ttl == 0 || cache_digest(c, user, password, d) == -1)
		return;
	if (verdict != AUTH_ALLOW) {
		groups = NULL;
		name = NULL;
	}
	if (name != NULL && (strlen(name) > AUTH_USER_MAX ||
	    (name_copy = strdup(name)) == NULL))
		return;
	/* Groups that cannot be kept are not replaced by none: skip it all. */
	if (groups != NULL && (copy = auth_groups_dup(groups, n_groups)) ==
	    NULL) {
		free(name_copy);
		return;
	}
	/* A re-stored entry moves to the young end of the ring. */
	if ((link = cache_find(c, d, now_ms)) != NULL)
		cache_unlink(c, *link);

	slot = c->cursor;
	e = &c->ring[slot];
	if (e->used)
		cache_unlink(c, slot);
	memcpy(e->digest, d, sizeof(d));
	e->expires_ms = now_ms + ttl;
	e->verdict = (uint8_t)verdict;
	e->groups = copy;
	e->name = name_copy;
	e->n_groups = copy != NULL ? (uint16_t)n_groups : 0;
	e->used = 1;
	link = cache_bucket(c, d);
	e->next = *link;
	*link = slot;
	c->cursor = slot + 1 == c->max ? 0 : slot + 1;
}
