/*
 * A generation's sockets and slots: the gate/authenticator and gate/key
 * socket pairs of each gate slot, made when the generation is and replaced
 * when a gate worker dies.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ctl.h"
#include "ipc.h"
#include "log.h"
#include "master_priv.h"
#include "tls_client_ca.h"

void
gen_close_ends(struct generation *gen)
{
	for (unsigned i = 0; gen->gate_ends && i < gen->cfg->gate_workers; i++) {
		if (gen->gate_ends[i] != -1)
			close(gen->gate_ends[i]);
		if (gen->auth_ends[i] != -1)
			close(gen->auth_ends[i]);
		if (gen->gate_key_ends[i] != -1)
			close(gen->gate_key_ends[i]);
		if (gen->key_ends[i] != -1)
			close(gen->key_ends[i]);
		gen->gate_ends[i] = gen->auth_ends[i] = -1;
		gen->gate_key_ends[i] = gen->key_ends[i] = -1;
	}
}

void
gen_free(struct generation *gen)
{
	gen_close_ends(gen);
	free(gen->gate_ends);
	free(gen->auth_ends);
	free(gen->gate_key_ends);
	free(gen->key_ends);
	free(gen->serials);
	free(gen->gate_slots);
	free(gen->auth_slots);
	free(gen->key_slots);
	SSL_CTX_free(gen->ctx);
	tls_client_ca_free(gen->client_ca);
	policy_free(gen->policy);
	free(gen->cfg);
	free(gen);
}

struct generation *
gen_new(struct config *cfg, struct policy *policy, SSL_CTX *ctx)
{
	struct generation	*gen;
	unsigned		 g = cfg->gate_workers;
	int			 sv[2], kv[2];

	if ((gen = calloc(1, sizeof(*gen))) == NULL ||
	    (gen->gate_ends = calloc(g, sizeof(int))) == NULL ||
	    (gen->auth_ends = calloc(g, sizeof(int))) == NULL ||
	    (gen->gate_key_ends = calloc(g, sizeof(int))) == NULL ||
	    (gen->key_ends = calloc(g, sizeof(int))) == NULL ||
	    (gen->key_slots = calloc(g, sizeof(struct slot))) == NULL ||
	    (gen->serials = calloc(g, sizeof(uint32_t))) == NULL ||
	    (gen->gate_slots = calloc(g, sizeof(struct slot))) == NULL ||
	    (gen->auth_slots = calloc(cfg->auth_workers,
	    sizeof(struct slot))) == NULL)
		fatal("master: calloc");
	gen->id = ++m.next_gen_id;
	gen->cfg = cfg;
	gen->policy = policy;
	gen->ctx = ctx;
	for (unsigned i = 0; i < g; i++) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0, sv) == -1 ||
		    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0, kv) == -1)
			fatal("master: socketpair");
		gen->gate_ends[i] = sv[0];
		gen->auth_ends[i] = sv[1];
		gen->gate_key_ends[i] = kv[0];
		gen->key_ends[i] = kv[1];
	}
	return gen;
}

struct slot *
gen_slot(struct generation *gen, enum child_kind kind, unsigned slot)
{
	switch (kind) {
	case CHILD_GATE:
		return &gen->gate_slots[slot];
	case CHILD_KEY:
		return &gen->key_slots[slot];
	default:
		return &gen->auth_slots[slot];
	}
}

/* The slot's key process gets the new end of its gate socket. */
static void
gen_replace_key_pair(struct generation *gen, unsigned slot, int kv[2])
{
	struct ctl_auth_socket	 msg;
	struct child		*c;

	memset(&msg, 0, sizeof(msg));
	ctl_hdr_init(&msg.hdr, CTL_KEY_SOCKET);
	msg.slot = slot;
	msg.serial = gen->serials[slot];
	TAILQ_FOREACH(c, &m.children, entry) {
		if (c->gen != gen || c->kind != CHILD_KEY || c->slot != slot ||
		    c->killed ||
		    ipc_send(c->ctl_fd, &msg, sizeof(msg), &kv[1], 1) == 0)
			continue;
		log_warn("key process %d: cannot pass it gate socket %u; "
		    "restarting it", (int)c->pid, slot);
		kill(c->pid, SIGKILL);
	}
	close(gen->gate_key_ends[slot]);
	close(gen->key_ends[slot]);
	gen->gate_key_ends[slot] = kv[0];
	gen->key_ends[slot] = kv[1];
}

/*
 * A gate worker of the current generation died: its successor gets fresh
 * socket pairs, so nothing its predecessor queued (a compromised one may
 * have queued anything) reaches the authenticators or the key process as
 * its successor's. Every authenticator gets the new end before the old one
 * hangs up.
 */
void
gen_replace_pair(struct generation *gen, unsigned slot)
{
	struct ctl_auth_socket	 msg;
	struct child		*c;
	int			 sv[2], kv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0, sv) == -1) {
		log_warn("master: socketpair; gate slot %u keeps its socket",
		    slot);
		return;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0, kv) == -1) {
		log_warn("master: socketpair; gate slot %u keeps its sockets",
		    slot);
		close(sv[0]);
		close(sv[1]);
		return;
	}
	memset(&msg, 0, sizeof(msg));
	ctl_hdr_init(&msg.hdr, CTL_AUTH_SOCKET);
	msg.slot = slot;
	msg.serial = ++gen->serials[slot];
	TAILQ_FOREACH(c, &m.children, entry) {
		if (c->gen != gen || c->kind != CHILD_AUTH || c->killed ||
		    ipc_send(c->ctl_fd, &msg, sizeof(msg), &sv[1], 1) == 0)
			continue;
		log_warn("authenticator %d: cannot pass it gate socket %u; "
		    "restarting it", (int)c->pid, slot);
		kill(c->pid, SIGKILL);
	}
	close(gen->gate_ends[slot]);
	close(gen->auth_ends[slot]);
	gen->gate_ends[slot] = sv[0];
	gen->auth_ends[slot] = sv[1];
	gen_replace_key_pair(gen, slot, kv);
}
