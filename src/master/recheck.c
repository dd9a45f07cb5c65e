/*
 * Account re-check (auth.recheck_interval), the master's half. Every
 * interval a round starts: each distinct account of the live tunnels is
 * asked about once, CTL_RECHECK to an authenticator of the current
 * generation, at most TG_RECHECK_INFLIGHT at a time, one per authenticator
 * and never more than half of them, TG_RECHECK_RATE a second. The answer
 * (auth/auth_recheck.c) is untrusted like every child message: it must
 * answer a question still open, from the authenticator asked, about the
 * account asked about. Then, for that account's tunnels:
 *  revoked	every tunnel ends (reason account_revoked: why);
 *  ok		each tunnel the policy in force now denies with the account's
 *		groups now ends (reason account_revoked: rule R now decides),
 *		unless only a rule's time window denies it (rule_limits.c ends
 *		those). If the groups the tunnel was allowed with are denied
 *		too, the policy changed, not the account: with LDAP, where the
 *		reload could not judge live tunnels (revoke.c), it ends as a
 *		reload would have (revoked: ...), and with policy.recheck_live
 *		off it stays;
 *  unavailable	nothing ends: a directory outage must not cut tunnels.
 * A revocation also forgets the account's credential cache entries, so the
 * next login asks the backend. The groups the tunnel's records carry stay
 * those it was allowed with (allows.c); a re-check keeps none.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth_cache.h"
#include "auth_net.h"
#include "log.h"
#include "master_priv.h"
#include "proc.h"
#include "tunnels.h"

#define RECHECK_REVOKED	"account_revoked"

struct recheck_ask {
	uint64_t	 serial;	/* 0: free */
	pid_t		 pid;		/* the authenticator asked */
	int64_t		 due_ms;	/* given up after */
	char		 user[HTTP_CRED_MAX + 1];
};

static struct {
	struct recheck_ask	 ask[TG_RECHECK_INFLIGHT];
	uint64_t		 serial;	/* the last one used */
	int64_t			 round_at;	/* the next round starts */
	char			**todo;		/* this round's accounts */
	size_t			 n_todo, next_todo;
	int64_t			 second_at;	/* TG_RECHECK_RATE's window */
	unsigned		 sent_in_second;
	unsigned		 checked, revoked, unavailable;
	char			 first_unavailable[192];
} rc;

static int
recheck_strcmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
recheck_round_free(void)
{
	for (size_t i = 0; i < rc.n_todo; i++)
		free(rc.todo[i]);
	free(rc.todo);
	rc.todo = NULL;
	rc.n_todo = rc.next_todo = 0;
}

/* Each account of a live tunnel not already ending, once. */
static void
recheck_round_start(void)
{
	const struct tunnel	*t;
	size_t			 n = 0, i, kept = 0;

	if ((rc.todo = calloc(tunnels_count() + 1, sizeof(*rc.todo))) == NULL)
		fatal("recheck: calloc");
	for (t = tunnels_first(); t != NULL; t = tunnels_next(t))
		if (t->facts.user[0] != '\0' && t->kill_reason[0] == '\0' &&
		    (rc.todo[n++] = strdup(t->facts.user)) == NULL)
			fatal("recheck: strdup");
	qsort(rc.todo, n, sizeof(*rc.todo), recheck_strcmp);
	for (i = 0; i < n; i++) {
		if (kept > 0 && strcmp(rc.todo[kept - 1], rc.todo[i]) == 0)
			free(rc.todo[i]);
		else
			rc.todo[kept++] = rc.todo[i];
	}
	rc.n_todo = kept;
	rc.next_todo = 0;
	rc.checked = rc.revoked = rc.unavailable = 0;
	rc.first_unavailable[0] = '\0';
}

static void
recheck_round_end(void)
{
	if (rc.unavailable > 0)
		log_warnx("account re-check: %u accounts checked, %u revoked, "
		    "%u could not be checked and keep their tunnels (first: "
		    "%s)", rc.checked, rc.revoked, rc.unavailable,
		    rc.first_unavailable);
	else if (rc.revoked > 0)
		log_info("account re-check: %u accounts checked, %u revoked",
		    rc.checked, rc.revoked);
	else
		log_debug("account re-check: %u accounts checked, all still "
		    "allowed", rc.checked);
	recheck_round_free();
}

static bool
recheck_asked(pid_t pid)
{
	for (size_t i = 0; i < TG_RECHECK_INFLIGHT; i++)
		if (rc.ask[i].serial != 0 && rc.ask[i].pid == pid)
			return true;
	return false;
}

/* An authenticator of the current generation with no question open. */
static struct child *
recheck_idle_auth(unsigned *busy)
{
	struct child	*c, *idle = NULL;

	*busy = 0;
	TAILQ_FOREACH(c, &m.children, entry) {
		if (c->kind != CHILD_AUTH || c->gen != m.gen || c->killed ||
		    c->hung_up_at != 0)
			continue;
		if (recheck_asked(c->pid))
			(*busy)++;
		else if (idle == NULL)
			idle = c;
	}
	return idle;
}

static void
recheck_unavailable(const char *user, const char *why)
{
	rc.unavailable++;
	if (rc.first_unavailable[0] == '\0')
		(void)snprintf(rc.first_unavailable,
		    sizeof(rc.first_unavailable), "%.64s: %s", user, why);
	log_debug("account re-check of %s: %s; tunnels left open", user, why);
}

/* Ask about the next account; false if nothing can be sent now. */
static bool
recheck_send_one(struct recheck_ask *slot, int64_t now)
{
	struct ctl_recheck	 q;
	struct child		*c;
	unsigned		 busy;
	const char		*user;

	if ((c = recheck_idle_auth(&busy)) == NULL ||
	    busy >= (m.gen->auth_alive > 1 ? m.gen->auth_alive / 2 : 1))
		return false;
	user = rc.todo[rc.next_todo++];
	memset(&q, 0, sizeof(q));
	ctl_hdr_init(&q.hdr, CTL_RECHECK);
	q.serial = ++rc.serial;
	auditlog_strlcpy(q.user, user, sizeof(q.user));
	if (master_tell(c, &q, sizeof(q), "an account re-check") == -1) {
		recheck_unavailable(user, "the authenticator could not be asked");
		return true;
	}
	slot->serial = q.serial;
	slot->pid = c->pid;
	slot->due_ms = now + m.gen->cfg->timeout_auth_ms + TG_RECHECK_GRACE_MS;
	memcpy(slot->user, q.user, sizeof(slot->user));
	rc.sent_in_second++;
	return true;
}

/* Send what the bounds allow; *next gets when more may go. */
static void
recheck_pump(int64_t now, int64_t *next)
{
	size_t	 i;

	if (now >= rc.second_at + 1000) {
		rc.second_at = now;
		rc.sent_in_second = 0;
	}
	for (i = 0; i < TG_RECHECK_INFLIGHT && rc.next_todo < rc.n_todo; i++) {
		if (rc.ask[i].serial != 0)
			continue;
		if (rc.sent_in_second >= TG_RECHECK_RATE) {
			if (*next == -1 || rc.second_at + 1000 < *next)
				*next = rc.second_at + 1000;
			break;
		}
		if (!recheck_send_one(&rc.ask[i], now))
			break;
	}
}

static bool
recheck_idle(void)
{
	for (size_t i = 0; i < TG_RECHECK_INFLIGHT; i++)
		if (rc.ask[i].serial != 0)
			return false;
	return rc.next_todo == rc.n_todo;
}

void
recheck_timers(int64_t now, int64_t *next)
{
	unsigned	 every = m.gen->cfg->auth_recheck_interval_ms;

	for (size_t i = 0; i < TG_RECHECK_INFLIGHT; i++) {
		if (rc.ask[i].serial == 0)
			continue;
		if (rc.ask[i].due_ms <= now) {
			recheck_unavailable(rc.ask[i].user, "no answer within "
			    "timeouts.auth");
			rc.ask[i].serial = 0;
		} else if (*next == -1 || rc.ask[i].due_ms < *next)
			*next = rc.ask[i].due_ms;
	}
	if (rc.todo != NULL && recheck_idle())
		recheck_round_end();
	if (every == 0) {
		recheck_round_free();
		rc.round_at = 0;
		return;
	}
	/* A reload that shortens the interval takes effect at once. */
	if (rc.round_at == 0 || rc.round_at > now + every)
		rc.round_at = now + every;
	if (rc.todo == NULL && rc.round_at <= now) {
		rc.round_at = now + every;
		if (tunnels_count() > 0)
			recheck_round_start();
	}
	if (rc.todo != NULL)
		recheck_pump(now, next);
	if (rc.todo == NULL && (*next == -1 || rc.round_at < *next))
		*next = rc.round_at;
}

/* A recorded "a,b,..." as names; the truncation mark is no group. */
static size_t
recheck_split_groups(char *list, const char **names, size_t max)
{
	size_t	 n = 0;
	char	*p, *save = NULL;

	for (p = strtok_r(list, ",", &save); p != NULL && n < max;
	    p = strtok_r(NULL, ",", &save))
		if (strcmp(p, "...") != 0)
			names[n++] = p;
	return n;
}

enum recheck_cut { CUT_NONE, CUT_ACCOUNT, CUT_POLICY };

/*
 * Whether the policy in force ends t with the account's groups now (v: its
 * verdict), and why: the account, or the policy alone, when the groups t
 * was allowed with are denied too (ended only with policy.recheck_live,
 * as a reload would have).
 */
static enum recheck_cut
recheck_judge(const struct tunnel *t, const struct policy_subject *now,
    const struct policy_own *own, struct policy_verdict *v)
{
	const struct policy	*policy = m.gen->policy;
	struct policy_subject	 then = { .user = t->facts.user };
	struct policy_verdict	 was;
	char			 list[TG_AUDIT_GROUPS_SIZE];
	const char		*names[TG_AUDIT_GROUPS_SIZE / 2];

	if (policy_check_tunnel(policy, now, t->facts.target,
	    t->facts.resolved, own, v) != 0 || v->action == POLICY_ALLOW ||
	    v->outside_window)
		return CUT_NONE;
	memcpy(list, t->facts.groups, sizeof(list));
	then.groups = names;
	then.n_groups = recheck_split_groups(list, names,
	    sizeof(names) / sizeof(names[0]));
	if (policy_check_tunnel(policy, &then, t->facts.target,
	    t->facts.resolved, own, &was) == 0 && was.action == POLICY_ALLOW)
		return CUT_ACCOUNT;
	return m.gen->cfg->policy_recheck_live ? CUT_POLICY : CUT_NONE;
}

/* The groups of a reply the table accepted: n names, each NUL-ended. */
static void
recheck_subject(const struct ctl_recheck_reply *r, const char **names,
    struct policy_subject *s)
{
	size_t	 off = 0;

	for (uint32_t i = 0; i < r->n_groups; i++) {
		names[i] = r->groups + off;
		off += strlen(names[i]) + 1;
	}
	s->user = r->user;
	s->groups = names;
	s->n_groups = r->n_groups;
}

/* End the account's tunnels that r no longer allows; how many. */
static unsigned
recheck_apply(const struct ctl_recheck_reply *r)
{
	const char		*names[TG_RECHECK_GROUPS_SIZE / 2];
	const struct policy_own	*own = NULL;
	struct policy_subject	 subject;
	struct policy_verdict	 v;
	struct tunnel		*t;
	enum recheck_cut	 cut;
	char			 reason[256];	/* the close record keeps 127 */
	unsigned		 n = 0;

	recheck_subject(r, names, &subject);
	if (r->status == CTL_RECHECK_OK && auth_own_addrs(&own) == -1) {
		recheck_unavailable(r->user, "cannot list the gateway's own "
		    "addresses");
		return 0;
	}
	for (t = tunnels_first(); t != NULL; t = tunnels_next(t)) {
		if (strcmp(t->facts.user, r->user) != 0 ||
		    t->kill_reason[0] != '\0')
			continue;
		if (r->status == CTL_RECHECK_REVOKED)
			(void)snprintf(reason, sizeof(reason), "%s: %s",
			    RECHECK_REVOKED, r->reason);
		else if ((cut = recheck_judge(t, &subject, own, &v)) !=
		    CUT_NONE)
			(void)snprintf(reason, sizeof(reason), "%s: rule %s now "
			    "decides", cut == CUT_ACCOUNT ? RECHECK_REVOKED :
			    "revoked", v.rule);
		else
			continue;
		if (tunnels_kill(t, AUDIT_BY_POLICY, reason) == 0)
			n++;
	}
	return n;
}

static void
recheck_answered(const struct ctl_recheck_reply *r)
{
	unsigned	 n, flushed;

	rc.checked++;
	if (r->status == CTL_RECHECK_UNAVAILABLE) {
		recheck_unavailable(r->user, r->reason);
		return;
	}
	if ((n = recheck_apply(r)) == 0)
		return;
	rc.revoked++;
	log_info("account re-check: %s: %s; %u tunnels closing", r->user,
	    r->status == CTL_RECHECK_REVOKED ? r->reason :
	    "its groups no longer allow them", n);
	if (auth_cache_flush(r->user, &flushed) == -1)
		log_warnx("account re-check: %s: the credential cache is held "
		    "by an authenticator; its entries stay until they expire "
		    "(tunnelgatectl cache flush --user %s)", r->user, r->user);
}

const char *
recheck_reply(struct child *c, const struct ctl_recheck_reply *r)
{
	struct recheck_ask	*a = NULL;
	int64_t			 next = -1;

	for (size_t i = 0; i < TG_RECHECK_INFLIGHT && a == NULL; i++)
		if (rc.ask[i].serial != 0 && rc.ask[i].serial == r->serial)
			a = &rc.ask[i];
	/* Given up on already, or a question never asked: not acted on. */
	if (a == NULL) {
		if (r->serial == 0 || r->serial > rc.serial)
			return "a re-check answer to a question never asked";
		log_debug("authenticator %d: late re-check answer for %s "
		    "ignored", (int)c->pid, r->user);
		return NULL;
	}
	if (a->pid != c->pid)
		return "a re-check answer to a question asked of another "
		    "authenticator";
	if (strcmp(a->user, r->user) != 0)
		return "a re-check answer about another account";
	a->serial = 0;
	/* Its groups are those the policy it was started with names. */
	if (c->gen == m.gen && !m.stopping)
		recheck_answered(r);
	if (rc.todo != NULL && !m.stopping)
		recheck_pump(proc_now_ms(), &next);
	return NULL;
}
