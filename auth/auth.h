/*
 * The authenticator's work, one request at a time per process: credentials
 * (PAM, cached), groups, policy on the resolved address, backend connect.
 * Everything here runs privileged; nothing here reads from the network.
 */
#ifndef TG_AUTH_H
#define TG_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "auth_proto.h"
#include "config.h"
#include "policy.h"

#define AUTH_MAX_GROUPS	256
/* Longer group names cannot be named in a policy (POLICY_MAX_PRINCIPAL). */
#define AUTH_GROUP_NAME_MAX 255

/*
 * The user names tunnelgated accepts, typed or as an account's own name
 * (docs/policy.md, "User names"); AUTH_USER_CHARSET is how the audit
 * reason and the documentation write AUTH_USER_CHARS.
 */
#define AUTH_USER_CHARS	"ABCDEFGHIJKLMNOPQRSTUVWXYZ" \
			"abcdefghijklmnopqrstuvwxyz0123456789._-@"
#define AUTH_USER_CHARSET "[A-Za-z0-9._@-]"

/*
 * NULL if name is one of those, else the audit reason it is refused with
 * ("empty user", "user name too long", ...).
 */
const char *auth_user_refusal(const char *name);

/* Milliseconds on CLOCK_MONOTONIC, the clock request deadlines use. */
int64_t	 auth_now_ms(void);

/*
 * PAM: pam_start_confdir (cfg->pam_confdir, or the system directory when
 * empty) with cfg->pam_service, PAM_RHOST = rhost, then pam_authenticate and
 * pam_acct_mgmt. Root and accounts under cfg->pam_min_uid are refused, by
 * NSS before PAM is asked and again for the account PAM settled on.
 * Returns AUTH_ALLOW (credentials and account fine) with name set to the
 * account's own name (PAM_USER, as getpwnam() spells it),
 * AUTH_BAD_CREDENTIALS, AUTH_ACCOUNT_UNUSABLE or AUTH_UNAVAILABLE with name
 * ""; reason gets a short audit reason without secrets ("bad password",
 * "account expired", "pam: <pam_strerror>").
 */
enum auth_verdict auth_pam_check(const struct config *cfg, const char *user,
	    const char *password, const char *rhost,
	    char name[AUTH_USER_MAX + 1], char *reason, size_t reasonlen);

/*
 * The same for a user a verified client certificate names: no password is
 * asked, only the account (pam_acct_mgmt: expired or refused accounts are
 * refused; a locked password is not checked, as no password is used).
 */
enum auth_verdict auth_pam_account_check(const struct config *cfg,
	    const char *user, const char *rhost, char name[AUTH_USER_MAX + 1],
	    char *reason, size_t reasonlen);

/*
 * cfg's PAM service runs: pam_start and pam_authenticate of
 * AUTH_PAM_PROBE_USER with no password to give. 0, or -1 with why saying
 * what failed and which file to look at.
 */
#define AUTH_PAM_PROBE_USER	"tunnelgate-probe"

int	 auth_pam_probe(const struct config *cfg, char *why, size_t whylen);

/*
 * Supplementary and primary groups of user from NSS, as names, however
 * many there are (up to NGROUPS_MAX). *groups is an array of n strings in
 * one allocation, freed with free(*groups). Returns 0, or -1 with an audit
 * reason ("groups: ...") if the user is unknown to NSS, a lookup failed or
 * there are too many: the policy cannot be checked without all of them.
 */
int	 auth_groups(const char *user, char ***groups, size_t *n,
	    char *reason, size_t reasonlen);

/*
 * A copy of n group names in the layout auth_groups() returns (one
 * allocation: the pointers, then the strings). NULL if n is over
 * AUTH_MAX_GROUPS, a name is over AUTH_GROUP_NAME_MAX, or out of memory.
 */
char	**auth_groups_dup(const char *const *groups, size_t n);

/*
 * Credential cache: salted SHA-256 of (user, password), the verdict, and its
 * expiry (positive TTL for AUTH_ALLOW, negative TTL for
 * AUTH_BAD_CREDENTIALS/AUTH_ACCOUNT_UNUSABLE; AUTH_UNAVAILABLE is never
 * cached). Bounded by max_entries (0 disables); the oldest entry goes first.
 * A positive entry may carry the user's groups (the LDAP backend stores
 * them, so that cached users keep their groups through a directory outage;
 * the PAM backend stores the NSS groups when they fit, so that a cached
 * login's tunnels read no NSS files), and always the account's own name
 * (the key is the name as typed).
 */
struct auth_cache;
struct auth_cache *auth_cache_new(unsigned max_entries, unsigned positive_ttl_ms,
	    unsigned negative_ttl_ms);
void	 auth_cache_free(struct auth_cache *);
/*
 * Returns 1 and sets *verdict on a live hit, 0 otherwise. On a hit, if name
 * is not NULL it gets the stored account name ("" on a negative entry); if
 * groups is not NULL, *groups gets a copy of the stored groups (free() it)
 * or NULL if none were stored, and *n_groups their number. A hit whose
 * groups cannot be copied is a miss.
 */
int	 auth_cache_lookup(struct auth_cache *, const char *user,
	    const char *password, int64_t now_ms, enum auth_verdict *verdict,
	    char name[AUTH_USER_MAX + 1], char ***groups, size_t *n_groups);
/*
 * name (the account's own, at most AUTH_USER_MAX bytes) and groups (NULL:
 * none) are kept with AUTH_ALLOW only, copied. Groups the cache cannot
 * hold (auth_cache_keeps() false) are not replaced by none: nothing is
 * stored.
 */
void	 auth_cache_store(struct auth_cache *, const char *user,
	    const char *password, int64_t now_ms, enum auth_verdict verdict,
	    const char *name, const char *const *groups, size_t n_groups);
/* Whether an entry can hold these groups (count and name lengths). */
bool	 auth_cache_keeps(const char *const *groups, size_t n_groups);

/*
 * Called just before a step that may wait on something outside the
 * authenticator (PAM, LDAP, NSS, DNS, a connect in progress): the request
 * being answered is announced to its gate worker (AUTH_MSG_TAKEN) then,
 * once, and not at all if it never waits. A no-op outside a request.
 */
void	 auth_before_wait(void);

/*
 * Resolve host (bounded by cfg->timeout_dns_ms and deadline_ms), check the
 * policy for each resolved address in order, and connect (non-blocking, with
 * cfg->timeout_connect_ms and deadline_ms) to the first allowed one that
 * answers. Returns AUTH_ALLOW with *fd set to the connected socket
 * (non-blocking, TCP_NODELAY, CLOEXEC), AUTH_POLICY_DENY, AUTH_BACKEND_REFUSED or
 * AUTH_BACKEND_TIMEOUT. rule gets the deciding rule (the allowing rule, or the
 * denying rule / default-deny); resolved gets "addr:port" ("[v6]:port") of
 * the address connected to or, on failure, the last one tried (or "").
 */
enum auth_verdict auth_backend_connect(const struct config *cfg,
	    const struct policy *pol, const struct policy_subject *subject,
	    const char *host, uint16_t port, int64_t deadline_ms, int *fd,
	    char rule[TG_RULE_NAME_SIZE], char resolved[AUTH_ADDR_MAX],
	    char *reason, size_t reasonlen);

#endif
