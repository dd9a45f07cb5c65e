/* Gate worker internals shared by the event loop and the connection code. */
#ifndef TG_GATE_CONN_H
#define TG_GATE_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <openssl/ssl.h>

#include "audit.h"
#include "auth_proto.h"
#include "conn_facts.h"
#include "ctl.h"
#include "http_request.h"
#include "worker.h"
#include "pump.h"

enum ev_kind {
	EV_LISTENER, EV_AUTH, EV_CTL, EV_SIGNAL, EV_CLIENT, EV_BACKEND, EV_HANDOFF
};

struct conn;

/*
 * Refusals are audited at most REFUSED_AUDITS_PER_SEC a second per worker;
 * the rest are counted into the next record. Whoever makes us refuse (a
 * flood of connections, or a compromised gate worker's flood of handoffs)
 * then floods neither the audit log nor the master, which kills a child
 * that sends more than CTL_RATE_PER_SEC control messages a second.
 */
#define REFUSED_AUDITS_PER_SEC	10
_Static_assert(REFUSED_AUDITS_PER_SEC * 100 <= CTL_RATE_PER_SEC,
    "refusal records must stay well under the master's rate bound");

struct refusal_rate {
	int64_t		 second;
	unsigned	 said, unsaid;
};

struct ev {
	enum ev_kind	 kind;
	int		 fd;
	struct conn	*conn;
};

enum conn_state {
	CS_HANDSHAKE,	/* TCP accepted, TLS not finished */
	CS_REQUEST,	/* reading the CONNECT header block */
	CS_AUTH,	/* waiting for the authenticator */
	CS_DELAY,	/* a 407 held until auth.failure_delay has passed */
	CS_REPLY,	/* writing an error answer, then closing */
	CS_TUNNEL,	/* relaying */
	CS_NSTATES
};

struct conn {
	TAILQ_ENTRY(conn)	 timer;		/* in its state's deadline list */
	enum conn_state		 state;
	bool			 dead;		/* freed after the event batch */
	bool			 lingering;	/* answer sent, draining input */
	bool			 handed_off;	/* a relay worker owns it now */
	bool			 try_handoff;	/* hand off at the next clean point */
	/*
	 * A handoff refused over REFUSED_AUDITS_PER_SEC: no close record,
	 * the master writes it when we never report the tunnel adopted
	 * (tunnels_doubt_timers).
	 */
	bool			 unaudited;
	int64_t			 deadline_ms;
	struct ev		 client_ev, backend_ev;
	SSL			*ssl;
	struct pump		 pump;
	struct http_parse	 parse;		/* the request read so far */
	uint64_t		 req_id;
	uint32_t		 auth_pid;	/* authenticator working on it */
	int64_t			 asked_ms;	/* credentials arrived; 0: none */
	int64_t			 opened_ms;
	uint32_t		 status_bytes;	/* our 200, not tunnel data */
	bool			 counted;	/* in the connection limits */
	uint32_t		 source_bucket;
	unsigned		 proxy_versions; /* a PROXY header is due first */
	unsigned		 listener;	/* index in env->listener_conf */
	/*
	 * facts.client is the client for audit, authenticators and limits:
	 * the TCP peer, or the one a trusted balancer's PROXY header named
	 * (gate_proxy_read(), which moves the peer to FACT_PROXY).
	 */
	struct conn_facts	 facts;
};

TAILQ_HEAD(conn_list, conn);

struct worker {
	struct worker_env		*env;
	int			 epfd;
	struct conn_list	 lists[CS_NSTATES];	/* FIFO by deadline */
	struct conn_list	 graveyard;
	unsigned		 n_conns;
	unsigned		 n_pending;		/* requests at authenticators */
	unsigned		 auth_alive;
	uint64_t		 next_req_id;
	bool			 accepting;
	bool			 draining;		/* SIGTERM: close at drain_at */
	int64_t			 drain_at;
	int64_t			 accept_paused_until;	/* EMFILE back-off */
	struct ev		*listener_evs;
	struct ev		 auth_ev, ctl_ev, sig_ev, handoff_ev;
	/* Gate: relay workers' loads as the master last told, plus ours since. */
	uint32_t		 relay_load[TG_MAX_RELAY_WORKERS];
	uint32_t		 relay_capacity;
	/* Relay workers keep their settings across reloads: theirs, not ours. */
	uint32_t		 relay_buffer_bytes;
	size_t			 relay_next;	/* handoff_pick() goes round */
	/* Refusals by a limit, or of a handoff: audited at a bounded rate. */
	struct refusal_rate	 refused;
	struct refusal_rate	 dropped;	/* relay: malformed handoffs */
	int64_t			 stats_at;	/* next tunnel report to the master */
};

/*
 * limits.connections, for a gate worker's accepted connections and for a
 * relay worker's adopted tunnels alike.
 */
static inline bool
worker_full(const struct worker *g)
{
	return g->n_conns >= g->env->cfg->limit_connections;
}

/* gate_conn.c */
void	 conn_accept(struct worker *, int fd, const struct sockaddr *peer,
	    const struct config_listener *);
/* Count c in the connection limits, or refuse and close it: false. */
bool	 conn_admit(struct worker *, struct conn *);
void	 conn_client_event(struct worker *, struct conn *, uint32_t events);
void	 conn_backend_event(struct worker *, struct conn *, uint32_t events);
void	 conn_auth_reply(struct worker *, struct conn *, const struct auth_reply *,
	    int backend_fd);
void	 conn_reply(struct worker *, struct conn *, int status, const char *reason);
void	 conn_refuse(struct worker *, struct conn *, int status, const char *reason);
void	 conn_timeout(struct worker *, struct conn *);
void	 conn_close(struct worker *, struct conn *, enum audit_closed_by,
	    const char *reason);
void	 conn_watch(struct worker *, struct ev *, int fd, enum ev_kind,
	    struct conn *);
void	 conn_pump(struct worker *, struct conn *);
void	 conn_relay_here(struct conn *);

/* handoff.c */
void	 handoff_try(struct worker *, struct conn *);
int	 handoff_receive(struct worker *);

/*
 * worker.c: may this refusal be audited? If so, *before is how many were
 * counted unsaid since the last one that was (it says so), else it is
 * counted.
 */
bool	 refusal_audit_take(struct refusal_rate *, unsigned *before);

/* gate.c */
void	 gate_set_state(struct worker *, struct conn *, enum conn_state);
void	 gate_touch(struct worker *, struct conn *);
void	 gate_hold_until(struct worker *, struct conn *, int64_t until_ms);
/* 0; -1 the authenticators cannot be reached; -2 a chain over the bound. */
int	 gate_send_auth(struct worker *, struct conn *, const struct http_request *);
void	 gate_audit(struct worker *, struct conn *, enum audit_event,
	    enum audit_closed_by, const char *reason);

#endif
