#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

#include "auth_throttle.h"
#include "keyed_hash.h"
#include "log.h"

/* Places looked at for one key; a key lives in one of them. */
#define THROTTLE_PROBE	32

struct throttle_entry {
	uint8_t		 kind;		/* 0: free */
	bool		 release_due;	/* locked; its end not audited yet */
	uint32_t	 strikes;	/* lockouts so far */
	uint32_t	 open;		/* THROTTLE_TUNNELS: open now */
	double		 score;		/* failures, refilled at score_ms */
	int64_t		 score_ms;
	int64_t		 last_fail_ms;
	int64_t		 locked_until_ms;
	char		 label[TG_THROTTLE_LABEL_SIZE];
};

struct throttle_table {
	pthread_mutex_t		 lock;
	uint64_t		 seed;
	uint32_t		 n_due;		/* entries with release_due */
	struct throttle_entry	 e[TG_THROTTLE_ENTRIES];
};

static struct throttle_table	*tt;

int
auth_throttle_setup(void)
{
	pthread_mutexattr_t	 ma;
	void			*p;
	int			 fd;

	if (tt != NULL)
		return 0;
	/* Named, so that /proc/PID/maps shows who holds it. */
	if ((fd = memfd_create("tg-throttle", MFD_CLOEXEC)) == -1 ||
	    ftruncate(fd, sizeof(*tt)) == -1) {
		log_warn("login throttle: memfd");
		if (fd != -1)
			close(fd);
		return -1;
	}
	p = mmap(NULL, sizeof(*tt), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		log_warn("login throttle: mmap");
		return -1;
	}
	tt = p;
	/* Robust: an authenticator killed inside cannot stop the others. */
	if (pthread_mutexattr_init(&ma) != 0 ||
	    pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED) != 0 ||
	    pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST) != 0 ||
	    pthread_mutex_init(&tt->lock, &ma) != 0 ||
	    getrandom(&tt->seed, sizeof(tt->seed), 0) != sizeof(tt->seed)) {
		log_warnx("login throttle: cannot set up the shared lock");
		return -1;
	}
	pthread_mutexattr_destroy(&ma);
	return 0;
}

void
auth_throttle_unmap(void)
{
	if (tt != NULL)
		munmap(tt, sizeof(*tt));
	tt = NULL;
}

static void
throttle_lock(void)
{
	/* Its holder died mid-change: the entries stay usable as they are. */
	if (pthread_mutex_lock(&tt->lock) == EOWNERDEAD)
		pthread_mutex_consistent(&tt->lock);
}

static void
throttle_unlock(void)
{
	pthread_mutex_unlock(&tt->lock);
}

static unsigned
throttle_budget(const struct config *cfg, enum throttle_kind kind)
{
	switch (kind) {
	case THROTTLE_SOURCE:
		return cfg->throttle_source_failures;
	case THROTTLE_USER:
		return cfg->throttle_user_failures;
	case THROTTLE_TUNNELS:
	case THROTTLE_OPEN:
		break;
	}
	return cfg->limit_user_rate;
}

/* Over how long a budget comes back whole. */
static double
throttle_window(const struct config *cfg, enum throttle_kind kind)
{
	return kind == THROTTLE_TUNNELS ? 60000 : cfg->throttle_window_ms;
}

/* The score refilled up to now: the budget comes back over the window. */
static double
throttle_score(const struct config *cfg, const struct throttle_entry *e,
    int64_t now)
{
	double	 s = e->score - (double)(now - e->score_ms) *
		    throttle_budget(cfg, e->kind) / throttle_window(cfg, e->kind);

	return s > 0 ? s : 0;
}

/* Nothing left to remember: no failure to refill, no lockout to grow. */
static bool
throttle_forgettable(const struct config *cfg, const struct throttle_entry *e,
    int64_t now)
{
	return e->kind == 0 || (!e->release_due && e->open == 0 &&
	    e->locked_until_ms <= now &&
	    now - e->last_fail_ms > (int64_t)cfg->throttle_lockout_max_ms &&
	    throttle_score(cfg, e, now) == 0);
}

/* User names count case-insensitively: directories match them so. */
static void
throttle_label(enum throttle_kind kind, const char *key,
    char label[TG_THROTTLE_LABEL_SIZE])
{
	size_t	 i;

	for (i = 0; key[i] != '\0' && i < TG_THROTTLE_LABEL_SIZE - 1; i++)
		label[i] = kind != THROTTLE_SOURCE ?
		    (char)tolower((unsigned char)key[i]) : key[i];
	label[i] = '\0';
}

/* What losing an entry would cost; the cheapest goes when a new key needs room. */
static double
throttle_worth(const struct config *cfg, const struct throttle_entry *e,
    int64_t now)
{
	if (e->kind == 0)
		return 0;
	if (throttle_forgettable(cfg, e, now))
		return 1;
	/* An account's open tunnels are as dear as a lockout. */
	if (e->locked_until_ms <= now && e->open == 0)
		return 2 + throttle_score(cfg, e, now);
	return 1e15 + (double)e->locked_until_ms;
}

/* The key's entry, or NULL; with make, a new one in the cheapest place. */
static struct throttle_entry *
throttle_find(const struct config *cfg, enum throttle_kind kind,
    const char *label, int64_t now, bool make)
{
	struct throttle_entry	*e, *victim = NULL;
	double			 worth, vworth = 0;
	uint64_t		 h;

	h = keyed_hash(tt->seed ^ kind, label, strlen(label));
	for (unsigned i = 0; i < THROTTLE_PROBE; i++) {
		e = &tt->e[(h + i) % TG_THROTTLE_ENTRIES];
		if (e->kind == kind && strcmp(e->label, label) == 0)
			return e;
		worth = throttle_worth(cfg, e, now);
		if (victim == NULL || worth < vworth) {
			victim = e;
			vworth = worth;
		}
	}
	if (!make)
		return NULL;
	if (victim->release_due)
		tt->n_due--;
	memset(victim, 0, sizeof(*victim));
	victim->kind = (uint8_t)kind;
	victim->score_ms = now;
	memcpy(victim->label, label, sizeof(victim->label));
	return victim;
}

int
auth_throttle_locked(const struct config *cfg, const char *source,
    const char *user, int64_t now, unsigned *secs)
{
	const char		*keys[2] = { source, user };
	struct throttle_entry	*e;
	char			 label[TG_THROTTLE_LABEL_SIZE];
	int			 locked = 0;

	if (tt == NULL)
		return 0;
	throttle_lock();
	for (int k = THROTTLE_SOURCE; k <= THROTTLE_USER && !locked; k++) {
		if (throttle_budget(cfg, (enum throttle_kind)k) == 0 ||
		    keys[k - 1][0] == '\0')
			continue;
		throttle_label((enum throttle_kind)k, keys[k - 1], label);
		e = throttle_find(cfg, (enum throttle_kind)k, label, now, false);
		if (e != NULL && e->locked_until_ms > now) {
			locked = k;
			*secs = (unsigned)((e->locked_until_ms - now + 999) / 1000);
		}
	}
	throttle_unlock();
	return locked;
}

/* One more failure of e; true if it begins a lockout (then ev is set). */
static bool
throttle_count(const struct config *cfg, struct throttle_entry *e, int64_t now,
    struct throttle_event *ev)
{
	unsigned	 budget = throttle_budget(cfg, e->kind);
	int64_t		 len;

	if (now - e->last_fail_ms > (int64_t)cfg->throttle_lockout_max_ms &&
	    e->locked_until_ms <= now)
		e->strikes = 0;
	e->score = throttle_score(cfg, e, now) + 1;
	e->score_ms = now;
	e->last_fail_ms = now;
	/*
	 * The score refills continuously, so budget failures in quick
	 * succession sum to a hair under budget: round.
	 */
	if (e->score < budget - 0.5 || e->locked_until_ms > now)
		return false;
	/*
	 * The lockout is the penalty: a score under the budget is raised to
	 * it. Half a failure over it is kept, or a long spray would have it
	 * forgotten at every lockout and pass more than the refills allow;
	 * more is only seen when lockouts are shorter than a refill of one
	 * failure (window / budget), and is dropped so the key does not stay
	 * hot long after the spray (docs/tunnelgated.conf.5, throttle).
	 */
	if (e->score < budget)
		e->score = budget;
	if (e->score > budget + 0.5)
		e->score = budget + 0.5;
	len = (int64_t)cfg->throttle_lockout_ms << (e->strikes < 20 ?
	    e->strikes : 20);
	if (len > (int64_t)cfg->throttle_lockout_max_ms)
		len = cfg->throttle_lockout_max_ms;
	e->strikes++;
	e->locked_until_ms = now + len;
	if (!e->release_due)
		tt->n_due++;
	e->release_due = true;
	ev->kind = e->kind;
	memcpy(ev->label, e->label, sizeof(ev->label));
	ev->failures = budget;
	ev->secs = (unsigned)(len / 1000);
	return true;
}

size_t
auth_throttle_failed(const struct config *cfg, const char *source,
    const char *user, int64_t now, struct throttle_event ev[2])
{
	const char		*keys[2] = { source, user };
	struct throttle_entry	*e;
	char			 label[TG_THROTTLE_LABEL_SIZE];
	size_t			 n = 0;

	if (tt == NULL)
		return 0;
	throttle_lock();
	for (int k = THROTTLE_SOURCE; k <= THROTTLE_USER; k++) {
		if (throttle_budget(cfg, (enum throttle_kind)k) == 0 ||
		    keys[k - 1][0] == '\0')
			continue;
		throttle_label((enum throttle_kind)k, keys[k - 1], label);
		e = throttle_find(cfg, (enum throttle_kind)k, label, now, true);
		if (e != NULL && throttle_count(cfg, e, now, &ev[n]))
			n++;
	}
	throttle_unlock();
	return n;
}

void
auth_throttle_succeeded(const struct config *cfg, const char *user,
    int64_t now)
{
	struct throttle_entry	*e;
	char			 label[TG_THROTTLE_LABEL_SIZE];

	if (tt == NULL || user[0] == '\0')
		return;
	throttle_label(THROTTLE_USER, user, label);
	throttle_lock();
	e = throttle_find(cfg, THROTTLE_USER, label, now, false);
	if (e != NULL) {
		e->score = 0;
		e->score_ms = now;
	}
	throttle_unlock();
}

void
auth_throttle_released(int64_t now, void (*fn)(const struct throttle_event *))
{
	struct throttle_entry	*e;
	struct throttle_event	 ev;

	if (tt == NULL)
		return;
	throttle_lock();
	for (size_t i = 0; i < TG_THROTTLE_ENTRIES && tt->n_due > 0; i++) {
		e = &tt->e[i];
		if (!e->release_due || e->locked_until_ms > now)
			continue;
		e->release_due = false;
		tt->n_due--;
		memset(&ev, 0, sizeof(ev));
		ev.kind = e->kind;
		memcpy(ev.label, e->label, sizeof(ev.label));
		throttle_unlock();
		fn(&ev);
		throttle_lock();
	}
	throttle_unlock();
}

bool
auth_throttle_counts_tunnels(const struct config *cfg)
{
	return cfg->limit_user_rate != 0 || cfg->limit_user_tunnels != 0;
}

int
auth_throttle_tunnel(const struct config *cfg, const char *user, int64_t now)
{
	struct throttle_entry	*e;
	char			 label[TG_THROTTLE_LABEL_SIZE];
	int			 over = 0;
	double			 score;

	if (tt == NULL || !auth_throttle_counts_tunnels(cfg))
		return 0;
	throttle_label(THROTTLE_TUNNELS, user, label);
	throttle_lock();
	if ((e = throttle_find(cfg, THROTTLE_TUNNELS, label, now, true)) != NULL) {
		score = throttle_score(cfg, e, now);
		/* Rounded like the failure budgets: a burst fills it exactly. */
		if (cfg->limit_user_rate != 0 &&
		    score + 1 > cfg->limit_user_rate + 0.5)
			over = THROTTLE_TUNNELS;
		else if (cfg->limit_user_tunnels != 0 &&
		    e->open >= cfg->limit_user_tunnels)
			over = THROTTLE_OPEN;
		else {
			if (cfg->limit_user_rate != 0) {
				e->score = score + 1;
				e->score_ms = now;
			}
			e->open++;
		}
	}
	throttle_unlock();
	return over;
}

void
auth_throttle_tunnel_gone(const struct config *cfg, const char *user,
    int64_t now)
{
	struct throttle_entry	*e;
	char			 label[TG_THROTTLE_LABEL_SIZE];

	if (tt == NULL)
		return;
	throttle_label(THROTTLE_TUNNELS, user, label);
	throttle_lock();
	e = throttle_find(cfg, THROTTLE_TUNNELS, label, now, false);
	if (e != NULL && e->open > 0)
		e->open--;
	throttle_unlock();
}
