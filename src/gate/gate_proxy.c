#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/socket.h>

#include "gate_conn.h"
#include "gate_proxy.h"
#include "log.h"
#include "netaddr.h"
#include "proc.h"
#include "proxy_proto.h"

/*
 * Refusals come from the network, so their diagnostics are bounded: one
 * line per interval per gate worker, the next one counting what it skipped.
 */
#define GATE_PROXY_LOG_INTERVAL_MS	1000

static struct {
	int64_t		 last_ms;
	uint64_t	 skipped;
} refusals;

static void
gate_proxy_refused(const char *peer, const char *what, const char *advice)
{
	int64_t	 now = proc_now_ms();
	char	 skipped[64] = "";

	if (refusals.last_ms != 0 &&
	    now - refusals.last_ms < GATE_PROXY_LOG_INTERVAL_MS) {
		refusals.skipped++;
		return;
	}
	if (refusals.skipped > 0)
		(void)snprintf(skipped, sizeof(skipped), "; %" PRIu64 " more "
		    "refused since the last message", refusals.skipped);
	log_warnx("%s: %s; connection closed (%s)%s", peer, what, advice,
	    skipped);
	refusals.last_ms = now;
	refusals.skipped = 0;
}

bool
gate_proxy_allowed(const struct config_listener *l, const struct sockaddr *peer,
    const char *peer_text)
{
	if (l->proxy_protocol == 0)
		return true;
	for (unsigned i = 0; i < l->n_proxy_trusted; i++)
		if (netaddr_net_contains(&l->proxy_trusted[i], peer))
			return true;
	gate_proxy_refused(peer_text, "not a trusted load balancer of this "
	    "PROXY protocol listener", "if it is one, add it to that listen "
	    "entry's proxy_trusted");
	return false;
}

/*
 * Peeking lets the parser see the whole header before anything is taken
 * off the socket, so the TLS bytes behind it stay for OpenSSL; a header
 * split over segments waits for the rest within the handshake timeout.
 */
enum gate_proxy_status
gate_proxy_read(struct conn *c)
{
	uint8_t			 b[TG_PROXY_MAX_BYTES];
	char			 client[NETADDR_STR_MAX], what[96];
	struct proxy_header	 h;
	const char		*why;
	ssize_t			 n;

	n = recv(c->pump.client.fd, b, sizeof(b), MSG_PEEK);
	if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
		c->pump.client.readable = false;
		return GATE_PROXY_WAIT;
	}
	/* A balancer's connect-only health check ends here: no noise. */
	if (n <= 0)
		return GATE_PROXY_CLOSE;
	switch (proxy_parse(b, (size_t)n, c->proxy_versions, &h, &why)) {
	case PROXY_PARSE_INCOMPLETE:
		c->pump.client.readable = false;
		return GATE_PROXY_WAIT;
	case PROXY_PARSE_BAD:
		snprintf(what, sizeof(what), "bad PROXY protocol header: %s",
		    why);
		gate_proxy_refused(c->facts.client, what, "the listener's "
		    "proxy_protocol must match the balancer's send-proxy "
		    "setting");
		return GATE_PROXY_CLOSE;
	default:
		break;
	}
	if (recv(c->pump.client.fd, b, h.len, 0) != (ssize_t)h.len) {
		log_warn("%s: reading a PROXY header that was there",
		    c->facts.client);
		return GATE_PROXY_CLOSE;
	}
	c->proxy_versions = 0;
	if (conn_fact_set(&c->facts, FACT_PROXY, c->facts.client) != 0) {
		log_warnx("gate: out of memory");
		return GATE_PROXY_CLOSE;
	}
	/* LOCAL: the balancer's own connection, it is its own client. */
	if (!h.local) {
		netaddr_format((struct sockaddr *)&h.src, client, sizeof(client));
		AUDIT_SET(c->facts.client, client);
	}
	log_debug("%s: via %s (PROXY v%u%s)", c->facts.client,
	    conn_fact(&c->facts, FACT_PROXY), h.version,
	    h.local ? ", the balancer's own connection" : "");
	return GATE_PROXY_DONE;
}
