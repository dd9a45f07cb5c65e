/*
 * Every protocol between tunnelgate's processes is described by one table:
 * each row is a message type with its exact size, which roles may send and
 * receive it, how many descriptors it carries, and a check of its contents.
 * A receiver reads through msg_recv(), which accepts a message only if one
 * row says it is well-formed for this sender and this receiver; anything
 * else is MSG_BAD, and the receiver makes the sender pay (the master kills
 * a child, an authenticator stops reading a gate worker's socket and asks
 * the master to kill it). The model is OpenSSH's monitor table.
 *
 * All four protocols (auth_proto.h, ctl.h, handoff.h, key_proto.h) start
 * with the same eight bytes, struct msg_hdr.
 */
#ifndef TG_MSG_H
#define TG_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "ipc.h"

/* Who is at either end of a socket; rows hold masks of these. */
enum msg_role {
	MSG_MASTER = 1 << 0,
	MSG_AUTH = 1 << 1,
	MSG_GATE = 1 << 2,
	MSG_RELAY = 1 << 3,
	MSG_ADMIN = 1 << 4,	/* tunnelgatectl on the control socket */
	MSG_KEY = 1 << 5,
	MSG_METRICS = 1 << 6,	/* the metrics child (tg-metrics) */
};

struct msg_hdr {
	uint16_t	 version;
	uint16_t	 type;
	uint32_t	 size;		/* of the whole message */
};

struct msg_type {
	uint16_t	 type;
	const char	*name;
	uint32_t	 size;		/* exact; for a variable one, the least */
	uint32_t	 size_max;	/* == size unless the check bounds it */
	uint8_t		 from, to;	/* enum msg_role masks */
	uint8_t		 fds_min, fds_max;
	/* Contents; NULL when size alone says enough. 0 or -1 with *why. */
	int		(*check)(const void *msg, size_t n, size_t nfds,
			    unsigned from, const char **why);
};

/* One row per type for fixed-size messages. */
#define MSG_FIXED(t, nm, type_, fr, to_, fmin, fmax, ck)		\
	{ (t), (nm), sizeof(type_), sizeof(type_), (fr), (to_), (fmin),	\
	  (fmax), (ck) }

struct msg_proto {
	const char		*name;
	uint16_t		 version;
	const struct msg_type	*types;
	size_t			 n_types;
};

enum msg_status {
	MSG_OK,		/* *in describes a valid message */
	MSG_AGAIN,	/* nothing to read now */
	MSG_EOF,	/* the peer closed its end */
	MSG_BAD,	/* malformed, truncated, wrong role or descriptors */
};

struct msg_in {
	const struct msg_type	*t;
	size_t			 len;
	int			 fds[IPC_MAX_FDS];
	size_t			 nfds;
	const char		*why;	/* MSG_BAD: static text */
};

/*
 * The row msg (n bytes with nfds descriptors, sent by role from to role to)
 * satisfies, or NULL with *why set to a static description.
 */
const struct msg_type *msg_validate(const struct msg_proto *, const void *msg,
	    size_t n, size_t nfds, unsigned from, unsigned to, const char **why);

/*
 * Receive one message into buf (cap bytes: at least the largest message of
 * the protocol plus one, so a longer one shows as too long) and validate it.
 * On MSG_BAD every descriptor that came with it is closed and the bytes are
 * wiped (requests carry passwords). On MSG_OK the caller owns in->fds.
 */
enum msg_status msg_recv(const struct msg_proto *, int sock, unsigned from,
	    unsigned to, void *buf, size_t cap, struct msg_in *in);

/* Header of a fixed-size message of the given type, from the table. */
void	 msg_hdr_init(const struct msg_proto *, struct msg_hdr *, uint16_t type);

const char *msg_role_name(unsigned role);
/* A string field must hold its NUL inside its own bounds. */
int	 msg_field_terminated(const void *msg, size_t off, size_t len);

#define MSG_FIELD_OK(msg, type, field)					\
	msg_field_terminated((msg), offsetof(type, field),		\
	    sizeof(((type *)0)->field))

#endif
