/*
 * The control socket's table (src/common/admin_proto.c) on arbitrary bytes,
 * as the master receives a request and tunnelgatectl a reply, with 0 or 1
 * descriptors and as every sender and receiver pair. Each input is tried
 * as a whole message and as the argument of a request made well-formed by
 * construction (command and selector from the first byte). Besides memory
 * errors, abort when an accepted message breaks what its reader relies on:
 * a request only from an admin to the master, a known command with a known
 * selector for kill, every string terminated, a row's record valid; and
 * run what the master does with a kill's argument (the network parser,
 * fnmatch against a target).
 *
 * The Makefile links only the parsers' sources into fuzz targets; the
 * table and what it calls are compiled in here.
 */
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/master/audit.c"
#include "../../src/master/fs_check.c"
#include "../../src/master/fs_check_pam.c"
#include "../../src/master/fs_check_scan.c"
#include "../../src/common/admin_proto.c"
#include "netaddr.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const unsigned	 roles[] = { MSG_MASTER, MSG_AUTH, MSG_GATE, MSG_RELAY,
			    MSG_ADMIN };
#define NROLES	(sizeof(roles) / sizeof(roles[0]))

static void
check(int cond)
{
	if (!cond)
		abort();
}

static void
check_request(const struct admin_request *r)
{
	struct netaddr_net	 net;

	check(r->cmd >= 1 && r->cmd <= ADMIN_CMD_MAX);
	check(memchr(r->arg, '\0', sizeof(r->arg)) != NULL);
	if (r->cmd == ADMIN_CACHE_FLUSH)
		check(strlen(r->arg) <= HTTP_CRED_MAX);
	if (r->cmd != ADMIN_KILL) {
		check(r->by == 0 && r->tunnel_id == 0);
		return;
	}
	check(r->by >= 1 && r->by <= ADMIN_BY_MAX);
	if (r->by == ADMIN_BY_CLIENT)
		(void)netaddr_net_parse(r->arg, &net);
	if (r->by == ADMIN_BY_TARGET)
		(void)fnmatch(r->arg, "db.corp.example.com:5432", FNM_CASEFOLD);
}

static void
check_one(const uint8_t *msg, size_t n, size_t nfds, unsigned from,
    unsigned to)
{
	union {
		struct admin_request	 req;
		struct admin_tunnel	 row;
		struct admin_done	 done;
	} m;
	const struct msg_type	*t;
	const char		*why = NULL;

	if ((t = msg_validate(&admin_proto, msg, n, nfds, from, to, &why)) ==
	    NULL) {
		check(why != NULL);
		return;
	}
	check(nfds == 0 && n == t->size && n < ADMIN_MSG_BUF);
	memcpy(&m, msg, n);
	check(m.req.hdr.version == ADMIN_PROTO_VERSION && m.req.hdr.size == n);
	switch (t->type) {
	case ADMIN_REQUEST:
		check(from == MSG_ADMIN && to == MSG_MASTER);
		check_request(&m.req);
		break;
	case ADMIN_TUNNEL:
		check(from == MSG_MASTER && to == MSG_ADMIN);
		check(memchr(m.row.holder, '\0', sizeof(m.row.holder)) != NULL);
		check(auditlog_record_validate(&m.row.facts) == 0);
		break;
	case ADMIN_DONE:
		check(from == MSG_MASTER && to == MSG_ADMIN);
		check(m.done.result <= ADMIN_REFUSED);
		check(memchr(m.done.text, '\0', sizeof(m.done.text)) != NULL);
		break;
	default:
		abort();
	}
}

static void
check_all(const uint8_t *msg, size_t n)
{
	for (size_t f = 0; f < NROLES; f++)
		for (size_t t = 0; t < NROLES; t++)
			for (size_t nfds = 0; nfds <= 1; nfds++)
				check_one(msg, n, nfds, roles[f], roles[t]);
}

/* A request the table must take, its argument from the input. */
static void
check_made(const uint8_t *data, size_t size)
{
	struct admin_request	 r;
	size_t			 len = size - 1;
	const char		*why = NULL;

	memset(&r, 0, sizeof(r));
	admin_hdr_init(&r.hdr, ADMIN_REQUEST);
	r.cmd = 1 + data[0] % ADMIN_CMD_MAX;
	if (r.cmd == ADMIN_KILL) {
		r.by = 1 + (data[0] >> 2) % ADMIN_BY_MAX;
		if (r.by == ADMIN_BY_ID)
			memcpy(&r.tunnel_id, data + 1, len < 8 ? len : 8);
		else {
			if (len >= sizeof(r.arg))
				len = sizeof(r.arg) - 1;
			memcpy(r.arg, data + 1, len);
			if (strlen(r.arg) == 0)
				return;
		}
	}
	if (r.cmd == ADMIN_CACHE_FLUSH)
		memcpy(r.arg, data + 1, len > HTTP_CRED_MAX ? HTTP_CRED_MAX :
		    len);
	check(msg_validate(&admin_proto, &r, sizeof(r), 0, MSG_ADMIN,
	    MSG_MASTER, &why) != NULL);
	check_all((const uint8_t *)&r, sizeof(r));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_all(data, size);
	if (size > 0)
		check_made(data, size);
	return 0;
}
