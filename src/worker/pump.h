/*
 * Relaying one tunnel: two endpoints, one bounded buffer per direction,
 * edge-triggered readiness, half-close propagated each way. Endpoints are
 * reached through ops so the same relay runs over libssl in the gate worker
 * today and over the relay worker's own record layer after the handoff.
 */
#ifndef TG_PUMP_H
#define TG_PUMP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "audit.h"
#include "buf.h"

/* Results of endpoint operations (a byte count when positive). */
#define PUMP_IO_EOF		0
#define PUMP_IO_WANT_READ	-1
#define PUMP_IO_WANT_WRITE	-2
#define PUMP_IO_ERROR		-3

struct pump_end;

struct pump_ops {
	/*
	 * A read may return bytes and set the end's failed flag (err says
	 * why): the bytes that arrived before the failure still count.
	 */
	ssize_t	 (*read)(struct pump_end *, uint8_t *, size_t);
	ssize_t	 (*write)(struct pump_end *, const uint8_t *, size_t);
	/* 0 when the write side is closed, or a PUMP_IO_* code. */
	ssize_t	 (*shutdown_write)(struct pump_end *);
	/* Bytes already read from the fd but not yet returned by read(). */
	bool	 (*has_pending)(const struct pump_end *);
	/*
	 * Optional: write out bytes the endpoint produced on its own (a TLS
	 * KeyUpdate or alert); 0 when nothing is left, else PUMP_IO_*.
	 */
	ssize_t	 (*flush)(struct pump_end *);
	/* Optional: free what io holds; the fd is closed by the owner. */
	void	 (*release)(struct pump_end *);
	/* read returns one TLS record at most: call it again to batch. */
	bool	 record_reads;
};

struct pump_end {
	int			 fd;
	const struct pump_ops	*ops;
	void			*io;		/* SSL * for TLS endpoints */
	bool			 readable, writable;	/* edge-triggered state */
	bool			 read_wants_write;
	bool			 write_wants_read;
	bool			 eof;		/* it sent everything it will */
	bool			 shut;		/* we sent it everything we will */
	bool			 failed;	/* a read failed: err says why */
	char			 err[96];	/* why an op returned ERROR */
};

enum pump_state { PUMP_RUNNING, PUMP_DONE, PUMP_FAILED };

struct pump {
	struct pump_end	 client, backend;
	struct buf		 up;	/* client -> backend */
	struct buf		 down;	/* backend -> client */
	uint64_t		 bytes_up, bytes_down;
	enum audit_closed_by	 first_eof;	/* who finished first */
	enum audit_closed_by	 failed_by;	/* side whose op failed */
	bool			 moved;		/* bytes moved in the last pump */
};

extern const struct pump_ops pump_plain_ops;

void	 pump_end_init(struct pump_end *, int fd, const struct pump_ops *,
	    void *io);
/* Apply epoll events to an endpoint's readiness. */
void	 pump_end_event(struct pump_end *, uint32_t events);

/* Read from the client into up; returns bytes, or a PUMP_IO_* code. */
ssize_t	 pump_read_client(struct pump *);
/* Write down to the client; returns 0 when down is empty, else PUMP_IO_*. */
ssize_t	 pump_flush_client(struct pump *);

/*
 * Move bytes both ways until nothing can progress. Buffers are released
 * while empty, so an idle tunnel holds none. An end whose read failed is
 * treated as a close: what it sent before reaches the other end, which is
 * then closed, and only then the pump reports PUMP_FAILED.
 */
enum pump_state pump_run(struct pump *);
void	 pump_free(struct pump *);

#endif
