/* A worker's reports on its tunnels to the master (worker_tunnels.c). */
#ifndef TG_WORKER_TUNNELS_H
#define TG_WORKER_TUNNELS_H

#include <stdint.h>

struct conn;
struct ctl_tunnel_kill;
struct worker;

/* Send the counts of every tunnel this worker relays now. */
void	 worker_report_tunnels(struct worker *);
/* Send one tunnel's: a relay worker's as soon as it adopted it. */
void	 worker_report_tunnel(struct worker *, const struct conn *);
/* End the tunnel the master names, with its reason. */
void	 worker_kill_tunnel(struct worker *, const struct ctl_tunnel_kill *);
/* Send them when due; lowers *next (-1: none) to the next due time. */
void	 worker_tunnel_timers(struct worker *, int64_t now, int64_t *next);

#endif
