/*
 * The master's counters for docs/metrics.md. Everything here is derived
 * from records the master has already validated, so a child can move only
 * the counters of events its role produces. A snapshot is built at most
 * every METRICS_SNAPSHOT_MS, however often the metrics child asks.
 */
#include <string.h>

#include "ctl.h"
#include "ipc.h"
#include "log.h"
#include "master_priv.h"
#include "metrics.h"
#include "proc.h"
#include "tunnels.h"

#define METRICS_SNAPSHOT_MS	100
/* "throttled: too many failed logins ..." (auth/authenticator.c) */
#define METRICS_THROTTLED	"throttled:"
/* Close reasons of tunnels a re-check took away (revoke.c and others). */
static const char *const revoked_reasons[] = { "revoked", "account_revoked" };

static const uint64_t	 bucket_ms[TG_METRICS_BUCKETS] = TG_METRICS_BUCKETS_MS;

static struct {
	struct ctl_metrics	 c;		/* counters; rules filled on send */
	uint64_t		 closed_up, closed_down;
	int64_t			 built_ms;
	struct ctl_metrics	 snap;
} mx;

static bool
metrics_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void
metrics_latency(uint64_t ms)
{
	for (size_t i = 0; i < TG_METRICS_BUCKETS; i++)
		if (ms <= bucket_ms[i])
			mx.c.auth_buckets[i]++;
	mx.c.auth_count++;
	mx.c.auth_sum_ms += ms;
}

static void
metrics_decision(const struct audit_record *r)
{
	switch (r->event) {
	case AUDIT_ALLOW:
		mx.c.logins[CTL_LOGIN_SUCCESS]++;
		break;
	case AUDIT_DENY:
		mx.c.logins[CTL_LOGIN_SUCCESS]++;
		mx.c.requests[CTL_REQ_DENIED]++;
		break;
	case AUDIT_AUTH_FAIL:
		mx.c.logins[metrics_prefix(r->reason, METRICS_THROTTLED) ?
		    CTL_LOGIN_THROTTLED : CTL_LOGIN_FAILURE]++;
		mx.c.requests[CTL_REQ_AUTH_FAILED]++;
		break;
	case AUDIT_ERROR:
		mx.c.logins[CTL_LOGIN_ERROR]++;
		break;
	default:
		return;
	}
	metrics_latency(r->duration_ms);
}

static void
metrics_closed(const struct audit_record *r)
{
	mx.c.closed[r->closed_by]++;
	mx.closed_up += r->bytes_up;
	mx.closed_down += r->bytes_down;
	for (size_t i = 0; i < sizeof(revoked_reasons) /
	    sizeof(revoked_reasons[0]); i++)
		if (r->closed_by == AUDIT_BY_POLICY &&
		    metrics_prefix(r->reason, revoked_reasons[i]))
			mx.c.revocations++;
}

void
metrics_audit(const struct audit_record *r, bool from_auth)
{
	if (from_auth)
		metrics_decision(r);
	switch (r->event) {
	case AUDIT_OPEN:
		mx.c.requests[CTL_REQ_OPENED]++;
		break;
	case AUDIT_ERROR:
		mx.c.requests[CTL_REQ_ERROR]++;
		break;
	case AUDIT_CLOSE:
		metrics_closed(r);
		break;
	case AUDIT_LOCKOUT:
		if (r->user[0] != '\0')
			mx.c.lockouts_user++;
		else
			mx.c.lockouts_source++;
		break;
	}
}

void
metrics_restarted(const struct child *c)
{
	switch (c->kind) {
	case CHILD_AUTH:
		mx.c.restarts[CTL_PROC_AUTH]++;
		break;
	case CHILD_GATE:
		mx.c.restarts[CTL_PROC_GATE]++;
		break;
	case CHILD_RELAY:
		mx.c.restarts[CTL_PROC_RELAY]++;
		break;
	case CHILD_KEY:
		mx.c.restarts[CTL_PROC_KEY]++;
		break;
	case CHILD_METRICS:
		mx.c.restarts[CTL_PROC_METRICS]++;
		break;
	}
}

static void
metrics_count_rule(struct ctl_metrics *s, const char *rule)
{
	uint32_t	 i;

	for (i = 0; i < s->n_rules; i++)
		if (strcmp(s->rules[i].name, rule) == 0)
			break;
	if (i == s->n_rules) {
		if (i == TG_METRICS_RULES || rule[0] == '\0' ||
		    strlen(rule) >= sizeof(s->rules[i].name)) {
			s->open_other++;
			return;
		}
		memcpy(s->rules[i].name, rule, strlen(rule) + 1);
		s->n_rules++;
	}
	s->rules[i].open++;
}

/*
 * Bytes are those of closed tunnels plus what live ones have moved so far;
 * a worker's later report cannot take a counter back.
 */
static void
metrics_build(struct ctl_metrics *s)
{
	const struct tunnel	*t;
	uint64_t		 up = mx.closed_up, down = mx.closed_down;
	uint64_t		 last_up = s->bytes_up, last_down = s->bytes_down;

	*s = mx.c;
	memset(s->rules, 0, sizeof(s->rules));
	s->n_rules = 0;
	s->open_other = 0;
	for (t = tunnels_first(); t != NULL; t = tunnels_next(t)) {
		metrics_count_rule(s, t->facts.rule);
		up += t->bytes_up;
		down += t->bytes_down;
	}
	s->bytes_up = up > last_up ? up : last_up;
	s->bytes_down = down > last_down ? down : last_down;
	ctl_hdr_init(&s->hdr, CTL_METRICS);
}

void
metrics_send(int ctl_fd)
{
	int64_t	 now = proc_now_ms();

	if (mx.built_ms == 0 || now - mx.built_ms >= METRICS_SNAPSHOT_MS) {
		metrics_build(&mx.snap);
		mx.built_ms = now;
	}
	if (ipc_send(ctl_fd, &mx.snap, sizeof(mx.snap), NULL, 0) == -1)
		log_warn("metrics: snapshot to the metrics child");
}
