#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "audit_chain.h"
#include "fs_check.h"
#include "log.h"
#include "tg_limits.h"
#include "utf8.h"

_Static_assert(AUDIT_LINE_MAX - 2 + AUDIT_CHAIN_SUFFIX_MAX <=
    AUDIT_CHAINED_LINE_MAX, "a sealed audit line fits AUDIT_CHAINED_LINE_MAX");

static const char *const audit_event_names[] = {
	[AUDIT_AUTH_FAIL] = "auth_fail", [AUDIT_DENY] = "deny",
	[AUDIT_ALLOW] = "allow", [AUDIT_ERROR] = "error",
	[AUDIT_OPEN] = "open", [AUDIT_CLOSE] = "close",
	[AUDIT_VIOLATION] = "violation",
	[AUDIT_LOCKOUT] = "lockout", [AUDIT_RELEASE] = "release",
	[AUDIT_CHAIN] = "chain", [AUDIT_PROGRESS] = "progress",
	[AUDIT_RELOAD] = "reload", [AUDIT_CACHE_FLUSH] = "cache_flush",
};

static const char *const audit_closed_by_names[] = {
	[AUDIT_BY_NONE] = "", [AUDIT_BY_CLIENT] = "client",
	[AUDIT_BY_BACKEND] = "backend", [AUDIT_BY_IDLE] = "idle",
	[AUDIT_BY_SHUTDOWN] = "shutdown", [AUDIT_BY_ERROR] = "error",
	[AUDIT_BY_ADMIN] = "admin", [AUDIT_BY_POLICY] = "policy",
};

static struct {
	char	 path[4096];
	int	 fd;
	bool	 use_syslog;
	struct audit_chain chain;
} audit = { .fd = -1 };

void
auditlog_strlcpy(char *dst, const char *src, size_t size)
{
	size_t	 n = strnlen(src, size - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

static int
audit_field_ok(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

int
auditlog_record_validate(const struct audit_record *r)
{
	if (r->event < AUDIT_AUTH_FAIL || r->event > AUDIT_EVENT_MAX ||
	    r->closed_by > AUDIT_BY_MAX)
		return -1;
	/* Only a close says who closed, and it always does. */
	if ((r->event == AUDIT_CLOSE) != (r->closed_by != AUDIT_BY_NONE))
		return -1;
	/* Only an admin's act says who asked and counts what it touched. */
	if (r->event != AUDIT_RELOAD && r->event != AUDIT_CACHE_FLUSH &&
	    (r->by[0] != '\0' || r->count != 0))
		return -1;
	if (!audit_field_ok(r->client, sizeof(r->client)) ||
	    !audit_field_ok(r->proxy, sizeof(r->proxy)) ||
	    !audit_field_ok(r->user, sizeof(r->user)) ||
	    !audit_field_ok(r->target, sizeof(r->target)) ||
	    !audit_field_ok(r->resolved, sizeof(r->resolved)) ||
	    !audit_field_ok(r->rule, sizeof(r->rule)) ||
	    !audit_field_ok(r->tls_version, sizeof(r->tls_version)) ||
	    !audit_field_ok(r->tls_cipher, sizeof(r->tls_cipher)) ||
	    !audit_field_ok(r->reason, sizeof(r->reason)) ||
	    !audit_field_ok(r->cert_subject, sizeof(r->cert_subject)) ||
	    !audit_field_ok(r->cert_sha256, sizeof(r->cert_sha256)) ||
	    !audit_field_ok(r->groups, sizeof(r->groups)) ||
	    !audit_field_ok(r->policy, sizeof(r->policy)) ||
	    !audit_field_ok(r->by, sizeof(r->by)))
		return -1;
	return 0;
}

struct jbuf {
	char	*p;
	size_t	 len, cap;
	int	 overflow;
};

static void
jb_raw(struct jbuf *j, const char *s, size_t n)
{
	if (j->overflow || n > j->cap - j->len) {
		j->overflow = 1;
		return;
	}
	memcpy(j->p + j->len, s, n);
	j->len += n;
}

/* JSON string with escapes; invalid UTF-8 becomes U+FFFD. */
static void
jb_str(struct jbuf *j, const char *s)
{
	const unsigned char	*u = (const unsigned char *)s;
	char			 esc[8];
	size_t			 n;
	uint32_t		 cp;

	jb_raw(j, "\"", 1);
	while (*u) {
		if (*u == '"' || *u == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*u;
			jb_raw(j, esc, 2);
			u++;
		} else if ((n = utf8_decode(u, strnlen((const char *)u, 4),
		    &cp)) == 0) {
			jb_raw(j, "\\ufffd", 6);
			u++;
		} else if (utf8_is_control(cp)) {
			snprintf(esc, sizeof(esc), "\\u%04x", (unsigned)cp);
			jb_raw(j, esc, 6);
			u += n;
		} else {
			jb_raw(j, (const char *)u, n);
			u += n;
		}
	}
	jb_raw(j, "\"", 1);
}

static void
jb_kv_str(struct jbuf *j, const char *key, const char *val)
{
	if (val[0] == '\0')
		return;
	jb_raw(j, ",\"", 2);
	jb_raw(j, key, strlen(key));
	jb_raw(j, "\":", 2);
	jb_str(j, val);
}

static void
jb_kv_u64(struct jbuf *j, const char *key, uint64_t v)
{
	char	 num[64];
	int	 n = snprintf(num, sizeof(num), ",\"%s\":%" PRIu64, key, v);

	if (n < 0 || (size_t)n >= sizeof(num)) {
		j->overflow = 1;
		return;
	}
	jb_raw(j, num, (size_t)n);
}

/*
 * "host:port" or "[v6]:port" as key_host (or key_addr) and key_port too, so
 * that readers need no parsing; a value with no port (a source key) is
 * left whole.
 */
static void
jb_kv_split(struct jbuf *j, const char *key, const char *host_key,
    const char *val)
{
	char		 k[32],
	    host[sizeof(((struct audit_record *)0)->target)];
	const char	*colon = strrchr(val, ':'), *h = val;
	size_t		 hlen;
	unsigned long	 port = 0;
	const char	*p;

	if (colon == NULL || colon[1] == '\0')
		return;
	for (p = colon + 1; *p != '\0'; p++) {
		if (*p < '0' || *p > '9' || port > 65535)
			return;
		port = port * 10 + (unsigned long)(*p - '0');
	}
	hlen = (size_t)(colon - val);
	if (val[0] == '[') {
		if (hlen < 2 || val[hlen - 1] != ']')
			return;
		h = val + 1;
		hlen -= 2;
	} else if (memchr(val, ':', hlen) != NULL)
		return;		/* a bare IPv6 address: no port */
	if (port == 0 || port > 65535 || hlen == 0 || hlen >= sizeof(host))
		return;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	snprintf(k, sizeof(k), "%s_%s", key, host_key);
	jb_kv_str(j, k, host);
	snprintf(k, sizeof(k), "%s_port", key);
	jb_kv_u64(j, k, port);
}

/* Who sent it: set by the master from the socket the record came on. */
static void
jb_sender(struct jbuf *j, const struct audit_sender *s)
{
	jb_kv_str(j, "role", s->role);
	jb_kv_u64(j, "pid", (uint64_t)s->pid);
	if (s->gen != 0)
		jb_kv_u64(j, "gen", s->gen);
}

size_t
auditlog_format(const struct audit_record *r, const struct audit_sender *s,
    int64_t time_ms, char *out, size_t outlen)
{
	struct jbuf	 j = { .p = out, .cap = outlen };
	struct tm	 tm;
	time_t		 secs = (time_t)(time_ms / 1000);
	char		 head[128], id[20];
	int		 n;

	gmtime_r(&secs, &tm);
	n = snprintf(head, sizeof(head),
	    "{\"v\":%d,\"time\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\","
	    "\"event\":\"%s\"", AUDIT_SCHEMA_VERSION, tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	    (int)(time_ms % 1000), audit_event_names[r->event]);
	jb_raw(&j, head, (size_t)n);
	jb_sender(&j, s);
	if (r->tunnel_id != 0) {
		snprintf(id, sizeof(id), "%016" PRIx64, r->tunnel_id);
		jb_kv_str(&j, "tunnel", id);
	}
	jb_kv_str(&j, "client", r->client);
	jb_kv_split(&j, "client", "addr", r->client);
	jb_kv_str(&j, "proxy", r->proxy);
	jb_kv_split(&j, "proxy", "addr", r->proxy);
	jb_kv_str(&j, "user", r->user);
	jb_kv_str(&j, "target", r->target);
	jb_kv_split(&j, "target", "host", r->target);
	jb_kv_str(&j, "resolved", r->resolved);
	jb_kv_split(&j, "resolved", "addr", r->resolved);
	jb_kv_str(&j, "rule", r->rule);
	jb_kv_str(&j, "tls_version", r->tls_version);
	jb_kv_str(&j, "tls_cipher", r->tls_cipher);
	jb_kv_str(&j, "reason", r->reason);
	jb_kv_str(&j, "cert_subject", r->cert_subject);
	jb_kv_str(&j, "cert_sha256", r->cert_sha256);
	jb_kv_str(&j, "groups", r->groups);
	jb_kv_str(&j, "policy", r->policy);
	jb_kv_str(&j, "by", r->by);
	if (r->event == AUDIT_RELOAD)
		jb_kv_u64(&j, "rules", r->count);
	else if (r->event == AUDIT_CACHE_FLUSH)
		jb_kv_u64(&j, "entries", r->count);
	if (r->event == AUDIT_CLOSE || r->event == AUDIT_PROGRESS) {
		jb_kv_u64(&j, "bytes_up", r->bytes_up);
		jb_kv_u64(&j, "bytes_down", r->bytes_down);
		jb_kv_u64(&j, "duration_ms", r->duration_ms);
		jb_kv_str(&j, "closed_by", audit_closed_by_names[r->closed_by]);
	}
	jb_raw(&j, "}\n", 2);
	return j.overflow ? 0 : j.len;
}

void
auditlog_groups(char out[TG_AUDIT_GROUPS_SIZE], const char *const *groups,
    size_t n)
{
	static const char	 more[] = ",...";
	size_t			 len = 0, glen;

	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		glen = strlen(groups[i]);
		/* Room for this name, its comma and the mark of what is left. */
		if (len + (len > 0) + glen + sizeof(more) > TG_AUDIT_GROUPS_SIZE) {
			memcpy(out + len, len > 0 ? more : more + 1,
			    len > 0 ? sizeof(more) : sizeof(more) - 1);
			return;
		}
		if (len > 0)
			out[len++] = ',';
		memcpy(out + len, groups[i], glen + 1);
		len += glen;
	}
}

int
auditlog_open(const char *path, bool use_syslog)
{
	char	 was[sizeof(audit.path)];
	bool	 was_syslog = audit.use_syslog;

	/* On failure the file in use stays, and so must its name. */
	memcpy(was, audit.path, sizeof(was));
	auditlog_strlcpy(audit.path, path, sizeof(audit.path));
	audit.use_syslog = use_syslog;
	if (auditlog_reopen() == 0)
		return 0;
	if (audit.fd != -1) {
		memcpy(audit.path, was, sizeof(audit.path));
		audit.use_syslog = was_syslog;
	}
	return -1;
}

/* The first line in each file opened: how the chain got there. */
static void
audit_chain_line(const char *why)
{
	struct audit_record	 rec = { .event = AUDIT_CHAIN };

	AUDIT_SET(rec.reason, why);
	auditlog_write_own(&rec);
}

int
auditlog_reopen(void)
{
	const char	*why = "reopen: continues the previous file's last line";
	int		 fd;

	/* Not a link, not a terminal: only a file in a root-only directory. */
	if (fs_check_audit_path(audit.path) == -1)
		return -1;
	/* Readable too: a restart continues the chain from the file's tail. */
	fd = open(audit.path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC |
	    O_NOFOLLOW | O_NOCTTY, 0640);
	if (fd == -1) {
		log_warn("audit: open %s (check the directory exists and is "
		    "writable by root)", audit.path);
		return -1;
	}
	if (fs_check_audit_fd(fd, audit.path) == -1) {
		close(fd);
		return -1;
	}
	if (!audit.chain.known) {
		if (audit_chain_resume(&audit.chain, fd) == -1)
			log_warn("audit: reading the end of %s to continue its "
			    "hash chain; a new chain starts", audit.path);
		why = audit.chain.known ? "restart: continues the file's last "
		    "line" : "start: a new chain";
	}
	if (audit.fd != -1)
		close(audit.fd);
	audit.fd = fd;
	audit_chain_line(why);
	return 0;
}

void
auditlog_close(void)
{
	if (audit.fd != -1)
		close(audit.fd);
	audit.fd = -1;
}

void
auditlog_write(const struct audit_record *r, const struct audit_sender *s)
{
	struct timespec	 ts;
	/* Worst case: every byte of every field escaped as \ufffd. */
	char		 line[AUDIT_CHAINED_LINE_MAX];
	size_t		 len, off = 0;
	ssize_t		 n;

	clock_gettime(CLOCK_REALTIME, &ts);
	len = auditlog_format(r, s, (int64_t)ts.tv_sec * 1000 +
	    ts.tv_nsec / 1000000, line, AUDIT_LINE_MAX);
	if (len != 0)
		len = audit_chain_seal(&audit.chain, line, len, sizeof(line));
	if (len == 0) {
		log_warnx("audit: record too long, dropped (event %u)",
		    r->event);
		return;
	}
	if (audit.use_syslog)
		syslog(LOG_AUTHPRIV | LOG_INFO, "%.*s", (int)(len - 1), line);
	while (audit.fd != -1 && off < len) {
		n = write(audit.fd, line + off, len - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_warn("audit: write %s", audit.path);
			return;
		}
		off += (size_t)n;
	}
}

/* A record the master writes of its own, not on behalf of a child. */
void
auditlog_write_own(const struct audit_record *r)
{
	struct audit_sender	 me = { "master", getpid(), 0 };

	auditlog_write(r, &me);
}
