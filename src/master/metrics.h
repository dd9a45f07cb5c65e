/*
 * Counters for the Prometheus endpoint (docs/metrics.md). The master keeps
 * them from what it already reads and validates (audit records, the tunnel
 * table, its children's deaths); a small unprivileged child, tg-metrics,
 * serves them over HTTP, so the master never parses a request.
 */
#ifndef TG_METRICS_H
#define TG_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "audit.h"
#include "config.h"

struct child;

/* A record just written; from_auth: an authenticator sent it. */
void	 metrics_audit(const struct audit_record *, bool from_auth);
/* A child died unexpectedly and its slot is being restarted. */
void	 metrics_restarted(const struct child *);
/* Answer the metrics child's CTL_METRICS_ASK on its control socket. */
void	 metrics_send(int ctl_fd);

/*
 * metrics_child.c: listen on metrics.listen (if set) and start tg-metrics;
 * 0, or -1 (logged) if the listener cannot be had.
 */
int	 metrics_start(const struct config *);
void	 metrics_child_died(struct child *);
void	 metrics_timers(int64_t now, int64_t *next);
void	 metrics_stop(void);

#endif
