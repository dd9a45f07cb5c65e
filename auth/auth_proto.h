/*
 * Gate worker <-> authenticator messages. Fixed-size, versioned structs on
 * AF_UNIX SOCK_SEQPACKET sockets, described by one table (auth_proto, see
 * msg.h): a message is valid only if its size is exactly that of its type,
 * its version and type are known, the type goes in this direction, it
 * carries the descriptors its type allows and every string is
 * NUL-terminated inside its field. An authenticator that receives anything
 * else on a gate worker's socket stops reading that socket and asks the
 * master to kill that gate worker: the less privileged peer pays.
 *
 * All authenticators share the authenticator end of every gate worker's
 * socket and pull requests from it, so a slow PAM stack holds only the
 * authenticator serving it. An authenticator announces AUTH_MSG_TAKEN before
 * anything that may wait (holding a request behind others, PAM, LDAP, NSS,
 * DNS, a connect in progress), so that a gate worker can fail exactly the
 * requests of an authenticator that died; a request answered from memory
 * gets its reply without one.
 */
#ifndef TG_AUTH_PROTO_H
#define TG_AUTH_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "http_request.h"
#include "msg.h"
#include "tg_limits.h"

#define AUTH_PROTO_VERSION	1

enum auth_msg_type {
	AUTH_MSG_REQUEST = 1,	/* gate -> auth */
	AUTH_MSG_TAKEN = 2,	/* auth -> gate: working on req_id, may wait */
	AUTH_MSG_REPLY = 3,	/* auth -> gate, backend fd attached on ALLOW */
};

enum auth_verdict {
	AUTH_ALLOW = 1,			/* 200, fd attached */
	AUTH_BAD_CREDENTIALS = 2,	/* 407 */
	AUTH_ACCOUNT_UNUSABLE = 3,	/* 407: expired, locked, acct_mgmt said no */
	AUTH_POLICY_DENY = 4,		/* 403 */
	AUTH_BACKEND_REFUSED = 5,	/* 502: refused, unreachable, no address */
	AUTH_BACKEND_TIMEOUT = 6,	/* 504: connect or DNS timed out */
	AUTH_UNAVAILABLE = 7,		/* 503: PAM/LDAP down, internal error */
	AUTH_THROTTLED = 8,		/* 429: too many failed logins */
	AUTH_VERDICT_MAX = 8
};

#define AUTH_ADDR_MAX	64	/* "[ffff:...:ffff]:65535" fits */
#define AUTH_NAME_MAX	64
/* A user name, as typed or as the account's own: what Basic can carry. */
#define AUTH_USER_MAX	HTTP_CRED_MAX

struct auth_msg_hdr {
	struct msg_hdr	 h;
	uint64_t	 req_id;	/* gate-chosen, echoed back */
};

/*
 * The one message of variable size: chain_len bytes of chain are sent, and
 * the size must be exactly AUTH_REQUEST_MIN + chain_len.
 */
struct auth_request {
	struct auth_msg_hdr hdr;
	uint64_t	 tunnel_id;
	int64_t		 deadline_ms;	/* CLOCK_MONOTONIC; drop the work after */
	uint16_t	 port;
	uint16_t	 listener;	/* the client's, as config listen[] */
	uint16_t	 pad[2];
	char		 user[HTTP_CRED_MAX + 1];
	char		 password[HTTP_CRED_MAX + 1];
	char		 host[HTTP_HOST_MAX + 1];
	char		 client[AUTH_ADDR_MAX];		/* "addr:port" */
	char		 proxy[AUTH_ADDR_MAX];		/* balancer; "" = none */
	char		 tls_version[16];
	char		 tls_cipher[AUTH_NAME_MAX];
	/*
	 * The client certificate the gate worker verified, then the ones the
	 * client sent with it, DER one after another; the authenticator
	 * verifies them again and believes nothing else the gate says of them.
	 */
	uint32_t	 chain_len;
	uint32_t	 pad2;
	uint8_t		 chain[TG_MAX_CLIENT_CHAIN_BYTES];
};

#define AUTH_REQUEST_MIN	offsetof(struct auth_request, chain)
#define AUTH_REQUEST_SIZE(r)	(AUTH_REQUEST_MIN + (size_t)(r)->chain_len)

struct auth_taken {
	struct auth_msg_hdr hdr;
	uint32_t	 pid;
	uint32_t	 pad;
};

struct auth_reply {
	struct auth_msg_hdr hdr;
	uint32_t	 verdict;	/* enum auth_verdict */
	uint32_t	 pid;
	char		 rule[TG_RULE_NAME_SIZE];
	char		 resolved[AUTH_ADDR_MAX];	/* address connected to */
	char		 reason[128];			/* short, no secrets */
	/* The account's own name once the credentials were accepted, else "". */
	char		 user[AUTH_USER_MAX + 1];
};

extern const struct msg_proto auth_proto;

/* Largest auth message plus one: the receive buffer msg_recv() wants. */
#define AUTH_MSG_BUF	(sizeof(struct auth_request) + 1)

void	 auth_msg_init(struct auth_msg_hdr *, enum auth_msg_type, uint64_t req_id);
/* HTTP status a verdict is answered with. */
int	 auth_verdict_status(enum auth_verdict);
const char *auth_verdict_name(enum auth_verdict);

#endif
