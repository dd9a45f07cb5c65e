/*
 * The audit log: JSON Lines written only by the master. Children describe
 * events in fixed-size records (struct audit_record) sent over their control
 * socket; the master validates each record against what the sender's role
 * produces, formats it and stamps it with the sender's role, pid and
 * generation, so a compromised child can neither forge JSON, grow a line
 * without bound nor speak for another process.
 */
#ifndef TG_AUDIT_H
#define TG_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http_request.h"
#include "tg_limits.h"

#define AUDIT_SCHEMA_VERSION	2

enum audit_event {
	AUDIT_AUTH_FAIL = 1,
	AUDIT_DENY,
	AUDIT_ALLOW,
	AUDIT_ERROR,
	AUDIT_OPEN,
	AUDIT_CLOSE,
	AUDIT_VIOLATION,	/* master only: it killed a child that broke a protocol */
	AUDIT_LOCKOUT,		/* authenticator: a failed-login budget is spent */
	AUDIT_RELEASE,		/* master only: that lockout ended */
	AUDIT_CHAIN,		/* master only: the hash chain starts or goes on */
	AUDIT_PROGRESS,		/* master only: a live tunnel's bytes so far */
	AUDIT_RELOAD,		/* master only: a reload applied or refused */
	AUDIT_CACHE_FLUSH,	/* master only: tunnelgatectl cache flush */
	AUDIT_EVENT_MAX = AUDIT_CACHE_FLUSH
};

/* The only auth_fail a gate worker decides itself. */
#define AUDIT_REASON_NO_CREDENTIALS	"no credentials"

enum audit_closed_by {
	AUDIT_BY_NONE = 0,
	AUDIT_BY_CLIENT,
	AUDIT_BY_BACKEND,
	AUDIT_BY_IDLE,
	AUDIT_BY_SHUTDOWN,
	AUDIT_BY_ERROR,
	AUDIT_BY_ADMIN,		/* tunnelgatectl kill */
	AUDIT_BY_POLICY,	/* revoked, lifetime, time window */
	AUDIT_BY_MAX = AUDIT_BY_POLICY
};

/* Empty strings are fields the event does not have. */
struct audit_record {
	uint32_t	 event;		/* enum audit_event */
	uint32_t	 closed_by;	/* enum audit_closed_by, close only */
	uint64_t	 tunnel_id;
	uint64_t	 bytes_up;	/* client -> backend, close only */
	uint64_t	 bytes_down;
	uint64_t	 duration_ms;
	/* reload: the policy's rules; cache_flush: the entries forgotten */
	uint64_t	 count;
	char		 client[64];
	char		 proxy[64];	/* the balancer, when a PROXY header named client */
	char		 user[HTTP_CRED_MAX + 1];
	char		 target[HTTP_HOST_MAX + 10];	/* [host]:port */
	char		 resolved[64];
	char		 rule[TG_RULE_NAME_SIZE];
	char		 tls_version[16];
	char		 tls_cipher[64];
	char		 reason[128];
	/* The client certificate the authenticator verified (decisions). */
	char		 cert_subject[TG_CERT_SUBJECT_SIZE];	/* RFC 2253 */
	char		 cert_sha256[65];	/* lower-case hex of the DER */
	/* The groups the backend returned for user (decisions, open, close). */
	char		 groups[TG_AUDIT_GROUPS_SIZE];
	/* Stamped by the master, never taken from a child: policy_hash(). */
	char		 policy[65];
	char		 by[32];	/* reload, cache_flush: "uid N", "signal" */
};

/* Who sent a record, as the master knows it (never as the record says). */
struct audit_sender {
	const char	*role;		/* "authenticator", "gate", "relay", "master" */
	int		 pid;
	unsigned	 gen;		/* generation; 0: none (master, relay) */
};

/* Bounded copy into a record field; always NUL-terminates. */
#define AUDIT_SET(field, src)	auditlog_strlcpy((field), (src), sizeof(field))
void	 auditlog_strlcpy(char *dst, const char *src, size_t size);

/* Returns 0 if every field is in range and NUL-terminated. */
int	 auditlog_record_validate(const struct audit_record *);
/*
 * Format one JSON line (with '\n') into out; returns its length, or 0 if it
 * does not fit. time_ms is the wall-clock time in ms since the epoch.
 */
size_t	 auditlog_format(const struct audit_record *, const struct audit_sender *,
	    int64_t time_ms, char *out, size_t outlen);

int	 auditlog_open(const char *path, bool use_syslog);
int	 auditlog_reopen(void);
void	 auditlog_write(const struct audit_record *, const struct audit_sender *);
void	 auditlog_write_own(const struct audit_record *);
void	 auditlog_close(void);
/*
 * groups as one field: names joined by ',' in order; names that do not fit
 * are left out and the field ends in ",..." (or is "..." alone).
 */
void	 auditlog_groups(char out[TG_AUDIT_GROUPS_SIZE],
	    const char *const *groups, size_t n);

#endif
