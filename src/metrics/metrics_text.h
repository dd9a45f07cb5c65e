/* The Prometheus text exposition (format 0.0.4) of the master's counters. */
#ifndef TG_METRICS_TEXT_H
#define TG_METRICS_TEXT_H

#include "buf.h"
#include "ctl.h"

/* Append the exposition to out; 0, or -1 if it does not fit. */
int	 metrics_text(const struct ctl_metrics *, struct buf *out);

#endif
