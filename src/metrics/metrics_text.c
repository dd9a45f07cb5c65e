#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "metrics_text.h"

/* The longest line: a rule name of 63 bytes, each escaped, and a count. */
#define MT_LINE_MAX	512

static const uint64_t	 bucket_ms[TG_METRICS_BUCKETS] = TG_METRICS_BUCKETS_MS;

static const char *const login_results[CTL_LOGIN_RESULTS] = {
	[CTL_LOGIN_SUCCESS] = "success", [CTL_LOGIN_FAILURE] = "failure",
	[CTL_LOGIN_THROTTLED] = "throttled", [CTL_LOGIN_ERROR] = "error",
};
static const char *const request_results[CTL_REQ_RESULTS] = {
	[CTL_REQ_OPENED] = "opened", [CTL_REQ_DENIED] = "denied",
	[CTL_REQ_AUTH_FAILED] = "auth_failed", [CTL_REQ_ERROR] = "error",
};
static const char *const closed_by[AUDIT_BY_MAX + 1] = {
	[AUDIT_BY_NONE] = "none", [AUDIT_BY_CLIENT] = "client",
	[AUDIT_BY_BACKEND] = "backend", [AUDIT_BY_IDLE] = "idle",
	[AUDIT_BY_SHUTDOWN] = "shutdown", [AUDIT_BY_ERROR] = "error",
	[AUDIT_BY_ADMIN] = "admin", [AUDIT_BY_POLICY] = "policy",
};
static const char *const procs[CTL_PROCS] = {
	[CTL_PROC_AUTH] = "authenticator", [CTL_PROC_GATE] = "gate",
	[CTL_PROC_RELAY] = "relay", [CTL_PROC_KEY] = "key",
	[CTL_PROC_METRICS] = "metrics",
};

static int
mt_put(struct buf *out, const char *fmt, ...)
{
	char	 line[MT_LINE_MAX];
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line))
		return -1;
	return buf_put(out, line, (size_t)n);
}

static int
mt_head(struct buf *out, const char *name, const char *type, const char *help)
{
	return mt_put(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
	    type);
}

/* One family with a label over a table of values. */
static int
mt_family(struct buf *out, const char *name, const char *type,
    const char *help, const char *label, const char *const *values,
    const uint64_t *counts, size_t n)
{
	int	 rc = mt_head(out, name, type, help);

	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = mt_put(out, "%s{%s=\"%s\"} %llu\n", name, label, values[i],
		    (unsigned long long)counts[i]);
	return rc;
}

/* A label value as the format wants it: \ " and newline escaped. */
static void
mt_escape(const char *in, char *out, size_t size)
{
	size_t	 o = 0;

	for (; *in != '\0' && o + 3 < size; in++) {
		if (*in == '\\' || *in == '"' || *in == '\n') {
			out[o++] = '\\';
			out[o++] = *in == '\n' ? 'n' : *in;
		} else
			out[o++] = *in;
	}
	out[o] = '\0';
}

static int
mt_open(const struct ctl_metrics *m, struct buf *out)
{
	char	 name[2 * sizeof(m->rules[0].name) + 1];
	int	 rc = mt_head(out, "tunnelgate_tunnels_open", "gauge",
		    "Live tunnels by the policy rule that allowed them.");

	for (uint32_t i = 0; rc == 0 && i < m->n_rules; i++) {
		mt_escape(m->rules[i].name, name, sizeof(name));
		rc = mt_put(out, "tunnelgate_tunnels_open{rule=\"%s\"} %llu\n",
		    name, (unsigned long long)m->rules[i].open);
	}
	if (rc == 0 && m->open_other > 0)
		rc = mt_put(out, "tunnelgate_tunnels_open{rule=\"(other)\"} "
		    "%llu\n", (unsigned long long)m->open_other);
	return rc;
}

static int
mt_latency(const struct ctl_metrics *m, struct buf *out)
{
	const char	*name = "tunnelgate_auth_duration_seconds";
	int		 rc = mt_head(out, name, "histogram", "Time an "
			    "authenticator took from a request to its answer.");

	for (size_t i = 0; rc == 0 && i < TG_METRICS_BUCKETS; i++)
		rc = mt_put(out, "%s_bucket{le=\"%llu.%03llu\"} %llu\n", name,
		    (unsigned long long)(bucket_ms[i] / 1000),
		    (unsigned long long)(bucket_ms[i] % 1000),
		    (unsigned long long)m->auth_buckets[i]);
	if (rc == 0)
		rc = mt_put(out, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum "
		    "%llu.%03llu\n%s_count %llu\n", name,
		    (unsigned long long)m->auth_count, name,
		    (unsigned long long)(m->auth_sum_ms / 1000),
		    (unsigned long long)(m->auth_sum_ms % 1000), name,
		    (unsigned long long)m->auth_count);
	return rc;
}

static int
mt_scalars(const struct ctl_metrics *m, struct buf *out)
{
	static const char *const dirs[] = { "up", "down" };
	static const char *const kinds[] = { "user", "source" };
	const uint64_t	 bytes[] = { m->bytes_up, m->bytes_down };
	const uint64_t	 lockouts[] = { m->lockouts_user, m->lockouts_source };

	if (mt_family(out, "tunnelgate_tunnel_bytes_total", "counter",
	    "Bytes relayed: up is client to backend, down the other way.",
	    "direction", dirs, bytes, 2) != 0 ||
	    mt_family(out, "tunnelgate_lockouts_total", "counter",
	    "Failed-login lockouts begun, of a user name or a source.",
	    "kind", kinds, lockouts, 2) != 0 ||
	    mt_head(out, "tunnelgate_revocations_total", "counter",
	    "Live tunnels ended because a re-check no longer allows them.") !=
	    0 ||
	    mt_put(out, "tunnelgate_revocations_total %llu\n",
	    (unsigned long long)m->revocations) != 0)
		return -1;
	return 0;
}

int
metrics_text(const struct ctl_metrics *m, struct buf *out)
{
	if (mt_open(m, out) != 0 ||
	    mt_family(out, "tunnelgate_tunnel_requests_total", "counter",
	    "CONNECT requests by what became of them.", "result",
	    request_results, m->requests, CTL_REQ_RESULTS) != 0 ||
	    mt_family(out, "tunnelgate_tunnels_closed_total", "counter",
	    "Tunnels closed, by who ended them (the audit closed_by).", "by",
	    closed_by + 1, m->closed + 1, AUDIT_BY_MAX) != 0 ||
	    mt_family(out, "tunnelgate_logins_total", "counter",
	    "Credentials an authenticator checked, by result.", "result",
	    login_results, m->logins, CTL_LOGIN_RESULTS) != 0 ||
	    mt_latency(m, out) != 0 || mt_scalars(m, out) != 0 ||
	    mt_family(out, "tunnelgate_process_restarts_total", "counter",
	    "Children that died unexpectedly and were restarted.", "process",
	    procs, m->restarts, CTL_PROCS) != 0)
		return -1;
	return 0;
}
