#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "ctl.h"
#include "ipc.h"
#include "key_proc.h"
#include "key_sign.h"
#include "log.h"
#include "nodump.h"
#include "proc.h"
#include "sandbox.h"
#include "tls.h"

struct key_proc {
	struct key_env	*env;
	struct key_signer *signer;
	bool		 retired;
	int64_t		 tokens;	/* in 1/1000 signature */
	int64_t		 tokens_at;
};

/* A new peer starts with a full bucket. */
static void
key_rate_reset(struct key_proc *k)
{
	k->tokens = (int64_t)TG_KEY_SIGN_BURST * 1000;
	k->tokens_at = proc_now_ms();
}

/* Milliseconds until the gate worker may have its next signature. */
static int
key_rate_wait(struct key_proc *k)
{
	int64_t	 now = proc_now_ms(), cap = (int64_t)TG_KEY_SIGN_BURST * 1000;

	k->tokens += (now - k->tokens_at) * TG_KEY_SIGN_RATE;
	if (k->tokens > cap)
		k->tokens = cap;
	k->tokens_at = now;
	if (k->tokens >= 1000)
		return 0;
	return (int)((1000 - k->tokens + TG_KEY_SIGN_RATE - 1) /
	    TG_KEY_SIGN_RATE);
}

/*
 * The less privileged side pays: stop reading its socket and ask the
 * master to kill it. The key process goes on to serve its successor.
 */
static void
key_gate_broke(struct key_proc *k, const char *why)
{
	struct ctl_gate_broke	 m;

	log_warnx("gate socket %u: %s; not reading it until the master "
	    "replaces that gate worker", k->env->slot, why);
	close(k->env->gate_fd);
	k->env->gate_fd = -1;
	memset(&m, 0, sizeof(m));
	ctl_hdr_init(&m.hdr, CTL_GATE_BROKE);
	m.slot = k->env->slot;
	m.serial = k->env->serial;
	(void)snprintf(m.why, sizeof(m.why), "key process: %s", why);
	if (ctl_send(k->env->ctl_fd, &m, sizeof(m), NULL, 0) == -1)
		log_warn("key: cannot tell the master");
}

static void
key_answer(struct key_proc *k, const struct key_sign *req)
{
	struct key_signature	 ans;
	size_t			 len;
	const char		*why;

	memset(&ans, 0, sizeof(ans));
	msg_hdr_init(&key_proto, &ans.hdr, KEY_MSG_SIGNATURE);
	ans.req_id = req->req_id;
	if (key_sign(k->signer, req, ans.sig, &len, &why) == 0)
		ans.len = (uint32_t)len;
	else if (why != NULL) {
		key_gate_broke(k, why);
		return;
	} else
		log_warnx("signing for gate socket %u failed: %s",
		    k->env->slot, tls_error_string());
	/* It waits for each answer: a full socket means it stopped reading. */
	if (ipc_send(k->env->gate_fd, &ans, sizeof(ans), NULL, 0) == -1)
		key_gate_broke(k, errno == EAGAIN ? "does not read the "
		    "signatures it asks for" : "cannot be answered");
}

/*
 * One request per wake-up: an honest gate worker has one in flight, so a
 * second read would only find the socket empty; poll() comes straight back
 * if there is more.
 */
static void
key_dispatch_gate(struct key_proc *k)
{
	union {
		struct key_sign	 sign;
		uint8_t		 raw[KEY_MSG_BUF];
	} m;
	struct msg_in	 in;

	switch (msg_recv(&key_proto, k->env->gate_fd, MSG_GATE, MSG_KEY, &m,
	    sizeof(m), &in)) {
	case MSG_AGAIN:
		return;
	case MSG_EOF:
		close(k->env->gate_fd);
		k->env->gate_fd = -1;
		return;
	case MSG_BAD:
		key_gate_broke(k, in.why);
		return;
	case MSG_OK:
		break;
	}
	k->tokens -= 1000;
	key_answer(k, &m.sign);
}

static void
key_dispatch_ctl(struct key_proc *k)
{
	union {
		struct ctl_auth_socket	sock;
		struct ctl_ping		ping;
		uint8_t			raw[CTL_MSG_BUF];
	} m;
	struct msg_in	 in;

	for (;;) {
		switch (msg_recv(&ctl_proto, k->env->ctl_fd, MSG_MASTER, MSG_KEY,
		    &m, sizeof(m), &in)) {
		case MSG_AGAIN:
			return;
		case MSG_EOF:
			exit(0);
		case MSG_BAD:
			fatalx("key: bad message from the master: %s",
			    in.why);
		case MSG_OK:
			break;
		}
		switch (in.t->type) {
		case CTL_RETIRE:
			k->retired = true;
			break;
		case CTL_KEY_SOCKET:
			if (k->env->gate_fd != -1)
				close(k->env->gate_fd);
			k->env->gate_fd = in.fds[0];
			k->env->serial = m.sock.serial;
			key_rate_reset(k);
			break;
		case CTL_PING:
			(void)ctl_pong(k->env->ctl_fd, &m.ping);
			break;
		default:
			fatalx("key: unexpected %s message from the master",
			    in.t->name);
		}
	}
}

void
key_main(void *arg)
{
	struct key_proc		 k = { .env = arg };
	const struct config	*cfg = k.env->cfg;
	struct proc_demote	 demote = { .user = cfg->key_user.name,
				    .chroot_dir = cfg->chroot_dir,
				    .no_network = true };
	struct pollfd		 pfd[2];
	EVP_PKEY		*pk;
	int			 wait;

	/* Read as root: the key file is root's alone (fs_check.c). */
	if ((pk = key_load(cfg->tls_key)) == NULL)
		fatalx("cannot load tls.key; handshakes of gate slot %u fail "
		    "until it can", k.env->slot);
	if ((k.signer = key_signer_new(pk)) == NULL)
		fatalx("cannot prepare the signing contexts for tls.key: %s",
		    tls_error_string());
	proc_demote_now(&demote);
	nodump_enforce();
	if (sandbox_enter(WORKER_KEY) != 0)
		fatalx("key process: cannot enter the seccomp sandbox");
	key_rate_reset(&k);
	/* A retired one serves its gate worker until that one is gone. */
	while (!(k.retired && k.env->gate_fd == -1)) {
		wait = key_rate_wait(&k);
		pfd[0] = (struct pollfd){ .fd = k.env->ctl_fd, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = wait > 0 ? -1 : k.env->gate_fd,
		    .events = POLLIN };
		if (poll(pfd, 2, wait > 0 ? wait : -1) == -1 && errno != EINTR)
			fatal("key: poll");
		if (pfd[1].revents != 0)
			key_dispatch_gate(&k);
		if (pfd[0].revents != 0)
			key_dispatch_ctl(&k);
	}
	exit(0);
}
