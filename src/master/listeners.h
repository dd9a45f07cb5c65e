/* The master's listening sockets, kept open across reloads when unchanged. */
#ifndef TG_LISTENERS_H
#define TG_LISTENERS_H

#include "config.h"

struct listeners {
	struct config_listener	 conf[TG_MAX_LISTENERS];
	int			 fds[TG_MAX_LISTENERS];
	unsigned		 n;
};

/*
 * Make ls match cfg: keep sockets whose address and port are unchanged, open
 * the new ones, close the ones no longer configured. On any failure ls is
 * left as it was and -1 is returned after logging which listener failed.
 */
int	 listeners_update(struct listeners *ls, const struct config *cfg);
void	 listeners_close(struct listeners *ls);

#endif
