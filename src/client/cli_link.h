/*
 * A link joins a local endpoint (stdin/stdout, or an accepted socket) to a
 * tunnel. The event loop calls link_pump() on any event for it; the pump
 * moves whatever can move without blocking and then declares which events
 * it waits for.
 */
#ifndef TG_CLI_LINK_H
#define TG_CLI_LINK_H

#include <netdb.h>
#include <stddef.h>
#include <stdint.h>

#include "cli.h"

struct loop;
struct link;

enum watch_kind { W_LOCAL, W_TUNNEL, W_LISTENER, W_SIGNAL };

struct watch {
	struct link	*link;
	struct loop	*loop;
	enum watch_kind	 kind;
	int		 fd;
	uint32_t	 events;	/* registered with epoll; 0: not */
	uint32_t	 wanted;	/* what the owner waits for */
	int		 always;	/* epoll refused it (a regular file) */
	int		 nonblock;	/* O_NONBLOCK: try any time */
	int		 sock;		/* a socket: half-close with shutdown */
	int		 ready;		/* blocking fd reported ready */
};

/* A -L listening socket; the watch comes first so events can find it. */
struct listener {
	struct watch	 w;
	const struct forward *fwd;
	char		 label[CLI_TARGET_MAX + NI_MAXHOST + 16];
};

struct cbuf {
	size_t	 off;
	size_t	 len;
	char	 data[CLI_BUF_SIZE];
};

struct link {
	struct loop	*loop;
	struct link	*prev, *next;
	struct link	*again_next;	/* queued to be pumped again */
	int		 again;
	struct tg_tunnel *t;
	const char	*label;		/* for messages; NULL in stdio mode */
	struct watch	 in;		/* local read side */
	struct watch	 out;		/* local write side when split */
	struct watch	 tun;
	struct cbuf	 up;		/* local to tunnel */
	struct cbuf	 down;		/* tunnel to local */
	int		 split;		/* stdin/stdout: two local fds */
	int		 owns_local;	/* an accepted socket: close it */
	int		 pipeline;
	int		 open;
	int		 in_eof;
	int		 up_shut;	/* close_notify sent */
	int		 t_eof;		/* close_notify received */
	int		 out_shut;
	int		 t_want;	/* TG_WANT_* that stopped the tunnel */
	int		 t_rd_want;
	int		 dead;
	int		 status;	/* exit status once dead */
	int		 cut_status;	/* tunnel failed mid-stream */
};

struct loop {
	int		 epfd;
	struct watch	 sig;
	struct link	*opening;
	struct link	*active;
	struct link	*graveyard;
	struct link	*again;
	size_t		 nlinks;
	size_t		 max_links;
	struct listener	*listeners;
	size_t		 nlisteners;
	int		 accepting;
	int64_t		 resume_ms;
	struct tg_ctx	*ctx;
	int		 pipeline;
	int		 quiet;
	int		 stop;		/* signal number that stops the loop */
	size_t		 ended;
	int		 last_status;
};

/* Rounds of reads and writes a link gets before others have their turn. */
#define PUMP_ROUNDS	8

int	 watch_set(struct watch *, uint32_t events);
void	 link_pump(struct link *);
void	 link_fail(struct link *, int code);
void	 link_free(struct link *);
void	 link_list_remove(struct link **, struct link *);
void	 link_list_add(struct link **, struct link *);
void	 link_pump_again(struct loop *);

#endif
