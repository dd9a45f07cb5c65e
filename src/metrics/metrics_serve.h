/*
 * tg-metrics: the process that answers Prometheus scrapes on metrics.listen
 * (docs/metrics.md). The master execs it as "tunnelgated -M USER CHROOT"
 * with its control socket and the listener as descriptors 3 and 4.
 */
#ifndef TG_METRICS_SERVE_H
#define TG_METRICS_SERVE_H

#define METRICS_EXEC_FLAG	"-M"
#define METRICS_EXEC_FDS	2
#define METRICS_CTL_FD		3
#define METRICS_LISTEN_FD	4

__attribute__((noreturn)) void	 metrics_main(const char *user,
				    const char *chroot_dir);

#endif
