/*
 * Relaying one tunnel: two endpoints, one bounded buffer per direction,
 * edge-triggered readiness, half-close propagated each way. Endpoints are
 * reached through ops so the same relay runs over libssl in the gate worker
 * today and over the relay worker's own record layer after the handoff.
 */
#ifndef TG_RELAY_H
#define TG_RELAY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "audit.h"
#include "buf.h"

/* Results of endpoint operations (a byte count when positive). */
#define RELAY_IO_EOF		0
#define RELAY_IO_WANT_READ	-1
#define RELAY_IO_WANT_WRITE	-2
#define RELAY_IO_ERROR		-3

struct relay_end;

struct relay_ops {
	ssize_t	 (*read)(struct relay_end *, uint8_t *, size_t);
	ssize_t	 (*write)(struct relay_end *, const uint8_t *, size_t);
	/* 0 when the write side is closed, or a RELAY_IO_* code. */
	ssize_t	 (*shutdown_write)(struct relay_end *);
	/* Bytes already read from the fd but not yet returned by read(). */
	bool	 (*has_pending)(const struct relay_end *);
	/*
	 * Optional: write out bytes the endpoint produced on its own (a TLS
	 * KeyUpdate or alert); 0 when nothing is left, else RELAY_IO_*.
	 */
	ssize_t	 (*flush)(struct relay_end *);
	/* Optional: free what io holds; the fd is closed by the owner. */
	void	 (*release)(struct relay_end *);
};

struct relay_end {
	int			 fd;
	const struct relay_ops	*ops;
	void			*io;		/* SSL * for TLS endpoints */
	bool			 readable, writable;	/* edge-triggered state */
	bool			 read_wants_write;
	bool			 write_wants_read;
	bool			 eof;		/* it sent everything it will */
	bool			 shut;		/* we sent it everything we will */
	char			 err[96];	/* why an op returned ERROR */
};

enum relay_state { RELAY_RUNNING, RELAY_DONE, RELAY_FAILED };

struct relay {
	struct relay_end	 client, backend;
	struct buf		 up;	/* client -> backend */
	struct buf		 down;	/* backend -> client */
	uint64_t		 bytes_up, bytes_down;
	enum audit_closed_by	 first_eof;	/* who finished first */
	enum audit_closed_by	 failed_by;	/* side whose op failed */
	bool			 moved;		/* bytes moved in the last pump */
};

extern const struct relay_ops relay_plain_ops;

void	 relay_end_init(struct relay_end *, int fd, const struct relay_ops *,
	    void *io);
/* Apply epoll events to an endpoint's readiness. */
void	 relay_end_event(struct relay_end *, uint32_t events);

/* Read from the client into up; returns bytes, or a RELAY_IO_* code. */
ssize_t	 relay_read_client(struct relay *);
/* Write down to the client; returns 0 when down is empty, else RELAY_IO_*. */
ssize_t	 relay_flush_client(struct relay *);

/*
 * Move bytes both ways until nothing can progress. Buffers are released
 * while empty, so an idle tunnel holds none.
 */
enum relay_state relay_pump(struct relay *);
void	 relay_free(struct relay *);

#endif
