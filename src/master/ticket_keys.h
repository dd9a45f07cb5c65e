/*
 * Session ticket keys: made by the master, held in memory no child inherits
 * (MADV_WIPEONFORK), sent to gate workers over their control sockets and
 * rotated every tls.ticket_key_lifetime. They outlive reloads, so tickets
 * given before a SIGHUP still resume after it. Relay workers and
 * authenticators never receive them.
 */
#ifndef TG_TICKET_KEYS_H
#define TG_TICKET_KEYS_H

#include <stdint.h>

#include "config.h"

/* Before any child is forked. 0, or -1 after logging why. */
int	 ticket_keys_setup(const struct config *);
/* A reload's lifetime: the current key lives its new lifetime from birth. */
void	 ticket_keys_configure(const struct config *);
/* The keys on a new gate worker's control socket (nothing if off). */
void	 ticket_keys_send(int ctl_fd);
/* Rotate when due and send every gate worker the new set. */
void	 ticket_keys_timers(int64_t now, int64_t *next);

#endif
