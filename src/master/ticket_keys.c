/*
 * The master's session ticket keys. A ticket key opens every session it
 * sealed, so it lives in a page that forked children see zeroed
 * (MADV_WIPEONFORK) and core dumps leave out; gate workers get a copy by
 * message, relay workers (exec'd) and authenticators get none.
 */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "ctl.h"
#include "ipc.h"
#include "log.h"
#include "master_priv.h"
#include "proc.h"
#include "ticket_keys.h"

struct ticket_store {
	struct ctl_ticket_key	 key[TG_TICKET_KEYS];	/* [0]: newest */
	uint32_t		 n;
	unsigned		 lifetime_ms;	/* 0: tickets off */
	int64_t			 born_ms;	/* of key[0] */
};

static struct ticket_store	*store;

static int
ticket_key_make(struct ctl_ticket_key *k)
{
	if (RAND_priv_bytes((unsigned char *)k, sizeof(*k)) != 1) {
		log_warnx("session tickets: no random bytes for a session "
		    "ticket key");
		return -1;
	}
	return 0;
}

/* Shift the keys down, dropping the oldest, and make a new current one. */
static int
ticket_keys_rotate(int64_t now)
{
	struct ctl_ticket_key	 fresh;

	if (ticket_key_make(&fresh) == -1)
		return -1;
	memmove(&store->key[1], &store->key[0],
	    (TG_TICKET_KEYS - 1) * sizeof(store->key[0]));
	store->key[0] = fresh;
	explicit_bzero(&fresh, sizeof(fresh));
	if (store->n < TG_TICKET_KEYS)
		store->n++;
	store->born_ms = now;
	return 0;
}

int
ticket_keys_setup(const struct config *cfg)
{
	long	 page = sysconf(_SC_PAGESIZE);
	size_t	 len = (sizeof(*store) + (size_t)page - 1) & ~((size_t)page - 1);
	void	*p;

	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
	    -1, 0);
	if (p == MAP_FAILED) {
		log_warn("session tickets: mmap");
		return -1;
	}
	if (madvise(p, len, MADV_WIPEONFORK) == -1 ||
	    madvise(p, len, MADV_DONTDUMP) == -1) {
		log_warn("session tickets: madvise: session ticket keys "
		    "would be inherited "
		    "by children");
		munmap(p, len);
		return -1;
	}
	store = p;
	store->lifetime_ms = cfg->tls_ticket_key_lifetime_ms;
	return ticket_keys_rotate(proc_now_ms());
}

void
ticket_keys_configure(const struct config *cfg)
{
	store->lifetime_ms = cfg->tls_ticket_key_lifetime_ms;
}

static int
ticket_keys_msg(struct ctl_ticket_keys *msg)
{
	if (store == NULL || store->lifetime_ms == 0 || store->n == 0)
		return -1;
	memset(msg, 0, sizeof(*msg));
	ctl_hdr_init(&msg->hdr, CTL_TICKET_KEYS);
	msg->n = store->n;
	memcpy(msg->key, store->key, store->n * sizeof(store->key[0]));
	return 0;
}

void
ticket_keys_send(int ctl_fd)
{
	struct ctl_ticket_keys	 msg;

	if (ticket_keys_msg(&msg) == -1)
		return;
	if (ipc_send(ctl_fd, &msg, sizeof(msg), NULL, 0) == -1)
		log_warn("session tickets: session ticket keys not sent; "
		    "that gate worker "
		    "makes no tickets until the next rotation");
	explicit_bzero(&msg, sizeof(msg));
}

/* A running gate worker: its socket may be full (the outbox wipes them). */
static void
ticket_keys_tell(struct child *c)
{
	struct ctl_ticket_keys	 msg;

	if (ticket_keys_msg(&msg) == -1)
		return;
	(void)master_tell(c, &msg, sizeof(msg), "the session ticket keys");
	explicit_bzero(&msg, sizeof(msg));
}

void
ticket_keys_timers(int64_t now, int64_t *next)
{
	struct child	*c;
	int64_t		 due;

	if (store == NULL || store->lifetime_ms == 0)
		return;
	due = store->born_ms + store->lifetime_ms;
	if (now >= due) {
		if (ticket_keys_rotate(now) == 0) {
			log_debug("session ticket keys rotated");
			TAILQ_FOREACH(c, &m.children, entry)
				if (c->kind == CHILD_GATE)
					ticket_keys_tell(c);
		}
		due = now + store->lifetime_ms;
	}
	if (*next == -1 || due < *next)
		*next = due;
}
