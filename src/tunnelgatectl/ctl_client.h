/*
 * The client side of the master's control socket (src/master/admin.c):
 * where it is, and one request with its replies. Shared by every
 * subcommand that talks to a running tunnelgated.
 */
#ifndef TG_CTL_CLIENT_H
#define TG_CTL_CLIENT_H

#include <stddef.h>

#include "admin_proto.h"

/*
 * The socket: sock if given, else control.socket of the configuration
 * file (config, or the default one). 0, or -1 with a message on stderr.
 */
int	 ctl_client_path(const char *config, const char *sock, char *out,
	    size_t outlen);

/*
 * Send req and read the replies: each ADMIN_TUNNEL row to on_row (which
 * may be NULL), the final ADMIN_DONE into *done. 0, or -1 with a message
 * on stderr (no daemon there, permission denied, a malformed reply).
 */
int	 ctl_client_call(const char *path, const struct admin_request *req,
	    void (*on_row)(const struct admin_tunnel *, void *), void *arg,
	    struct admin_done *done);

/*
 * A request whose answer is one line of text (kill, cache flush): find the
 * socket, send req as command cmd, print the text on stdout when the
 * master did it, or "tunnelgatectl NAME: text" on stderr when it refused.
 * 0 with *done filled, or -1 (refused, or a message on stderr already).
 */
int	 ctl_client_ask(const char *config, const char *sock,
	    const char *name, enum admin_cmd cmd, struct admin_request *req,
	    struct admin_done *done);

/* -c CONFIG and -s SOCKET, common to the subcommands that use the socket. */
#define CTL_CLIENT_OPTS_USAGE	"[-c CONF] [-s SOCKET]"

#endif
