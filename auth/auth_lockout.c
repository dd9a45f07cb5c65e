/*
 * The authenticator's side of login throttling (auth_throttle.h): the
 * source a request is counted under, refusing one whose source or name is
 * locked out, and counting a failure, whose lockout is an audit event.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "audit.h"
#include "auth.h"
#include "auth_lockout.h"
#include "auth_throttle.h"
#include "conn_facts.h"
#include "ctl.h"
#include "log.h"

/* The request's source as the throttle counts it; "" if none. */
static void
lockout_source(const struct auth_env *env, const struct auth_request *req,
    char label[TG_THROTTLE_LABEL_SIZE])
{
	struct source_key	 k;

	label[0] = '\0';
	if (source_key_parse(req->client, env->cfg->limit_ipv6_prefix, &k) == 0)
		auditlog_strlcpy(label, k.label, TG_THROTTLE_LABEL_SIZE);
}

bool
auth_lockout_refused(const struct auth_env *env, const struct auth_request *req,
    char *reason, size_t reasonlen)
{
	char		 source[TG_THROTTLE_LABEL_SIZE];
	unsigned	 secs = 0;
	int		 kind;

	lockout_source(env, req, source);
	kind = auth_throttle_locked(env->cfg, source, req->user,
	    auth_now_ms(), &secs);
	if (kind != 0 && reason != NULL)
		snprintf(reason, reasonlen, "throttled: too many failed logins "
		    "%s; %u s left", kind == THROTTLE_SOURCE ?
		    "from this source" : "for this user", secs);
	return kind != 0;
}

void
auth_lockout_count(const struct auth_env *env, const struct auth_request *req)
{
	struct throttle_event	 ev[2];
	struct audit_record	 rec;
	char			 source[TG_THROTTLE_LABEL_SIZE];
	size_t			 n;

	lockout_source(env, req, source);
	n = auth_throttle_failed(env->cfg, source, req->user, auth_now_ms(),
	    ev);
	for (size_t i = 0; i < n; i++) {
		memset(&rec, 0, sizeof(rec));
		rec.event = AUDIT_LOCKOUT;
		rec.tunnel_id = req->tunnel_id;
		AUDIT_SET(rec.client, req->client);
		AUDIT_SET(rec.proxy, req->proxy);
		if (ev[i].kind == THROTTLE_USER)
			AUDIT_SET(rec.user, ev[i].label);
		snprintf(rec.reason, sizeof(rec.reason), "%u failed logins %s "
		    "%s; locked out for %u s", ev[i].failures,
		    ev[i].kind == THROTTLE_USER ? "for user" : "from source",
		    ev[i].label, ev[i].secs);
		log_info("%s", rec.reason);
		(void)ctl_send_audit(env->ctl_fd, &rec);
	}
}
