/* The master's control socket for tunnelgatectl (admin.c, admin_kill.c). */
#ifndef TG_ADMIN_H
#define TG_ADMIN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "admin_proto.h"
#include "config.h"

struct admin_conn;

/* Listen on control.socket; 0, or -1 (logged). */
int	 admin_open(const struct config *);
void	 admin_close(void);
/* An epoll event for the control socket: false if ptr is not ours. */
bool	 admin_event(void *ptr, uint32_t events);
void	 admin_timers(int64_t now, int64_t *next);

/* Queue the last reply of a request. */
void	 admin_done(struct admin_conn *, enum admin_result, uint32_t count,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
uid_t	 admin_uid(const struct admin_conn *);

/* admin_kill.c */
void	 admin_kill(struct admin_conn *, const struct admin_request *);
void	 admin_reload(struct admin_conn *);
void	 admin_cache_flush(struct admin_conn *, const struct admin_request *);

#endif
