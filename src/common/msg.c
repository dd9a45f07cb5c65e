/*
 * The one validate-and-receive path every protocol table goes through.
 * Only structure is judged here and in the rows' checks; what a
 * well-formed message asks for is its receiver's business.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "msg.h"

int
msg_field_terminated(const void *msg, size_t off, size_t len)
{
	return memchr((const uint8_t *)msg + off, '\0', len) != NULL;
}

const char *
msg_role_name(unsigned role)
{
	switch (role) {
	case MSG_MASTER:
		return "master";
	case MSG_AUTH:
		return "authenticator";
	case MSG_GATE:
		return "gate";
	case MSG_RELAY:
		return "relay";
	case MSG_ADMIN:
		return "admin";
	case MSG_KEY:
		return "key";
	case MSG_METRICS:
		return "metrics";
	}
	return "unknown";
}

static const struct msg_type *
msg_lookup(const struct msg_proto *p, uint16_t type)
{
	for (size_t i = 0; i < p->n_types; i++)
		if (p->types[i].type == type)
			return &p->types[i];
	return NULL;
}

const struct msg_type *
msg_validate(const struct msg_proto *p, const void *msg, size_t n,
    size_t nfds, unsigned from, unsigned to, const char **why)
{
	const struct msg_type	*t;
	struct msg_hdr		 h;

	if (n < sizeof(h)) {
		*why = "shorter than a header";
		return NULL;
	}
	/* The buffer may come from a byte array: no aligned struct access. */
	memcpy(&h, msg, sizeof(h));
	if (h.version != p->version) {
		*why = "unknown protocol version";
		return NULL;
	}
	if ((t = msg_lookup(p, h.type)) == NULL) {
		*why = "unknown message type";
		return NULL;
	}
	if (!(t->from & from) || !(t->to & to)) {
		*why = "a type this sender may not send to this receiver";
		return NULL;
	}
	if (h.size != n) {
		*why = "header size differs from the received size";
		return NULL;
	}
	if (n < t->size || n > t->size_max) {
		*why = "wrong size for the message type";
		return NULL;
	}
	if (nfds < t->fds_min || nfds > t->fds_max) {
		*why = nfds > t->fds_max ? "carries descriptors it may not" :
		    "lacks the descriptors it must carry";
		return NULL;
	}
	if (t->check != NULL && t->check(msg, n, nfds, from, why) != 0)
		return NULL;
	return t;
}

static void
msg_discard(void *buf, size_t len, struct msg_in *in)
{
	for (size_t i = 0; i < in->nfds; i++)
		close(in->fds[i]);
	in->nfds = 0;
	explicit_bzero(buf, len);
}

enum msg_status
msg_recv(const struct msg_proto *p, int sock, unsigned from, unsigned to,
    void *buf, size_t cap, struct msg_in *in)
{
	ssize_t	 n;

	memset(in, 0, sizeof(*in));
	in->nfds = IPC_MAX_FDS;
	n = ipc_recv(sock, buf, cap, in->fds, &in->nfds);
	if (n == 0)
		return MSG_EOF;
	if (n == -1) {
		in->nfds = 0;
		switch (errno) {
		case EAGAIN:
		case EINTR:
			return MSG_AGAIN;
		case ECONNRESET:
			return MSG_EOF;
		case EMSGSIZE:
			in->why = "longer than any message of the protocol";
			break;
		case EPROTO:
			in->why = "carries descriptors or control data it may not";
			break;
		default:
			in->why = "cannot be received";
		}
		explicit_bzero(buf, cap);
		return MSG_BAD;
	}
	in->len = (size_t)n;
	if ((in->t = msg_validate(p, buf, in->len, in->nfds, from, to,
	    &in->why)) == NULL) {
		msg_discard(buf, in->len, in);
		return MSG_BAD;
	}
	return MSG_OK;
}

void
msg_hdr_init(const struct msg_proto *p, struct msg_hdr *h, uint16_t type)
{
	const struct msg_type	*t = msg_lookup(p, type);

	h->version = p->version;
	h->type = type;
	h->size = t != NULL ? t->size : 0;
}
