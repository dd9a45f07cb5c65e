/*
 * Directory servers as one authenticator process sees them: a persistent
 * service connection and a user-bind connection to each, opened on first
 * need and kept across requests, and a health state.
 *
 * Every wait is bounded: connect and the TLS handshake by the connect
 * timeout (LDAP_OPT_NETWORK_TIMEOUT and the watchdog below), each operation
 * by the operation timeout (given to ldap_result(); LDAP_OPT_TIMEOUT as
 * well, for libldap's own synchronous steps), both capped by the request's
 * deadline. A server that fails in transport is dropped and rests for
 * auth.ldap.backoff, so a blackholed server costs one timeout per rest
 * period and process, not one per request. A timeout cut short by the
 * request's deadline says nothing of the server and does not make it rest.
 *
 * A pooled connection the server has closed (a restart, an idle timeout)
 * is readable or hung up while idle: that is checked with poll() before
 * each use, and such a connection is replaced, without counting against
 * the server.
 *
 * libldap 2.5.13 with GnuTLS (Debian 12) does not bound the TLS handshake:
 * when a server accepts the connection and never answers, it retries a
 * non-blocking read in a loop forever. A watchdog timer therefore covers
 * connect and handshake: when the connect timeout is spent it shuts the
 * socket down (libldap's connect callback names it), and the handshake
 * fails on end of file.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "auth_ldap.h"
#include "log.h"

#define SECRET_MAX	1024
#define ALDAP_TLS_SILENT "TLS handshake: no answer within timeouts.connect"

static struct aldap_pool	 pool;

static volatile sig_atomic_t	 watch_fd = -1;
static volatile sig_atomic_t	 watch_expired;
static volatile sig_atomic_t	 watch_connected;	/* TCP is up */
static timer_t			 watch_timer;
static bool			 watch_ready;

static void
aldap_watch_fire(int sig)
{
	int	 saved = errno;

	(void)sig;
	watch_expired = 1;
	if (watch_fd >= 0)
		(void)shutdown(watch_fd, SHUT_RDWR);
	errno = saved;
}

/* libldap calls this once TCP is connected, before any TLS. */
static int
aldap_watch_add(LDAP *ld, Sockbuf *sb, LDAPURLDesc *srv, struct sockaddr *addr,
    struct ldap_conncb *ctx)
{
	ber_socket_t	 fd = -1;

	(void)ld;
	(void)srv;
	(void)addr;
	(void)ctx;
	if (ber_sockbuf_ctrl(sb, LBER_SB_OPT_GET_FD, &fd) == 1)
		watch_fd = fd;
	watch_connected = 1;
	/* Set before the check: a timer firing now still finds the socket. */
	return watch_expired ? -1 : 0;
}

static void
aldap_watch_del(LDAP *ld, Sockbuf *sb, struct ldap_conncb *ctx)
{
	(void)ld;
	(void)sb;
	(void)ctx;
}

static struct ldap_conncb	 watch_cb = { aldap_watch_add, aldap_watch_del,
				    NULL };

static int
aldap_watch_init(void)
{
	struct sigaction	 sa;
	struct sigevent		 sev;

	if (watch_ready)
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = aldap_watch_fire;
	sigemptyset(&sa.sa_mask);
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGALRM;
	if (sigaction(SIGALRM, &sa, NULL) == -1 ||
	    timer_create(CLOCK_MONOTONIC, &sev, &watch_timer) == -1) {
		log_warn("ldap: cannot set up the TLS handshake watchdog");
		return -1;
	}
	watch_ready = true;
	return 0;
}

static void
aldap_watch_arm(int64_t ms)
{
	struct itimerspec	 its = { .it_value = { .tv_sec = ms / 1000,
				    .tv_nsec = (ms % 1000) * 1000000 } };

	watch_fd = -1;
	watch_expired = 0;
	watch_connected = 0;
	if (timer_settime(watch_timer, 0, &its, NULL) == -1)
		fatal("ldap: timer_settime");
}

static void
aldap_watch_disarm(void)
{
	struct itimerspec	 its;

	memset(&its, 0, sizeof(its));
	if (timer_settime(watch_timer, 0, &its, NULL) == -1)
		fatal("ldap: timer_settime");
	watch_fd = -1;
}

struct aldap_pool *
aldap_pool_get(const struct config_ldap *cfg)
{
	size_t	 i;

	if (pool.cfg == cfg)
		return &pool;
	for (i = 0; i < pool.n; i++)
		aldap_server_drop(&pool.srv[i]);
	memset(&pool, 0, sizeof(pool));
	pool.cfg = cfg;
	pool.n = cfg->n_uris;
	for (i = 0; i < pool.n; i++)
		pool.srv[i].uri = cfg->uris[i];
	return &pool;
}

static void
aldap_close(LDAP **ld)
{
	if (*ld != NULL)
		(void)ldap_unbind_ext(*ld, NULL, NULL);
	*ld = NULL;
}

void
aldap_server_drop(struct aldap_server *srv)
{
	aldap_close(&srv->svc);
	aldap_close(&srv->usr);
}

void
aldap_server_failed(struct aldap_pool *p, struct aldap_server *srv,
    const char *why)
{
	aldap_server_drop(srv);
	srv->resting_until_ms = auth_now_ms() + p->cfg->backoff_ms;
	srv->down = true;
	log_warnx("ldap: %s; not asked again for %u ms (auth.ldap.backoff)",
	    why, p->cfg->backoff_ms);
}

void
aldap_server_answered(struct aldap_server *srv)
{
	if (!srv->down)
		return;
	srv->down = false;
	log_info("ldap: %s answers again", srv->uri);
}

bool
aldap_unreachable(int rc)
{
	switch (rc) {
	case LDAP_SERVER_DOWN:
	case LDAP_TIMEOUT:
	case LDAP_CONNECT_ERROR:
	case LDAP_UNAVAILABLE:
	case LDAP_BUSY:
		return true;
	default:
		return false;
	}
}

/*
 * The wait before deadline_ms, at most limit_ms; *capped when the
 * deadline, not limit_ms, sets it. 0 if no time is left.
 */
static int64_t
aldap_budget(int64_t deadline_ms, unsigned limit_ms, bool *capped)
{
	int64_t	 left = deadline_ms - auth_now_ms();

	*capped = left < (int64_t)limit_ms;
	return left <= 0 ? 0 : *capped ? left : (int64_t)limit_ms;
}

static struct timeval
aldap_tv(int64_t ms)
{
	struct timeval	 tv = { .tv_sec = ms / 1000,
	    .tv_usec = (ms % 1000) * 1000 };

	return tv;
}

static void
aldap_diag(LDAP *ld, char *buf, size_t size)
{
	char	*msg = NULL;

	buf[0] = '\0';
	if (ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &msg) ==
	    LDAP_OPT_SUCCESS && msg != NULL) {
		snprintf(buf, size, "%s", msg);
		ldap_memfree(msg);
	}
}

/* The result of msgid; LDAP_SUCCESS with *res, or why not. */
static int
aldap_wait(const struct config_ldap *cfg, LDAP *ld, int msgid,
    int64_t deadline_ms, LDAPMessage **res)
{
	struct timeval	 tv;
	int64_t		 ms;
	bool		 capped;
	int		 rc, err = LDAP_OTHER;

	*res = NULL;
	if ((ms = aldap_budget(deadline_ms, cfg->timeout_operation_ms,
	    &capped)) == 0)
		return ALDAP_DEADLINE;
	tv = aldap_tv(ms);
	rc = ldap_result(ld, msgid, LDAP_MSG_ALL, &tv, res);
	if (rc > 0)
		return LDAP_SUCCESS;
	if (*res != NULL)
		ldap_msgfree(*res);
	*res = NULL;
	if (rc == 0)
		return capped ? ALDAP_DEADLINE : LDAP_TIMEOUT;
	(void)ldap_get_option(ld, LDAP_OPT_RESULT_CODE, &err);
	return err == LDAP_SUCCESS ? LDAP_OTHER : err;
}

int
aldap_bind(const struct config_ldap *cfg, LDAP *ld, const char *dn,
    const char *password, int64_t deadline_ms, char *diag, size_t diaglen)
{
	struct berval	 cred;
	LDAPMessage	*res;
	char		*msg = NULL;
	int		 rc, err, msgid;

	diag[0] = '\0';
	/* libldap only reads the credential; the cast drops const. */
	cred.bv_val = (char *)(uintptr_t)password;
	cred.bv_len = strlen(password);
	rc = ldap_sasl_bind(ld, dn, LDAP_SASL_SIMPLE, &cred, NULL, NULL,
	    &msgid);
	if (rc != LDAP_SUCCESS)
		return rc;
	if ((rc = aldap_wait(cfg, ld, msgid, deadline_ms, &res)) !=
	    LDAP_SUCCESS)
		return rc;
	rc = ldap_parse_result(ld, res, &err, NULL, &msg, NULL, NULL, 1);
	if (rc != LDAP_SUCCESS)
		return rc;
	if (msg != NULL) {
		snprintf(diag, diaglen, "%s", msg);
		ldap_memfree(msg);
	}
	return err;
}

int
aldap_search(const struct config_ldap *cfg, LDAP *ld, const char *base,
    enum config_ldap_scope scope, const char *filter, char **attrs,
    int sizelimit, int64_t deadline_ms, LDAPMessage **res)
{
	/* The server may spend the operation timeout, rounded up. */
	struct timeval	 limit = { .tv_sec =
	    (cfg->timeout_operation_ms + 999) / 1000 };
	int		 rc, err, msgid, lscope;

	*res = NULL;
	lscope = scope == CONFIG_LDAP_SCOPE_BASE ? LDAP_SCOPE_BASE :
	    scope == CONFIG_LDAP_SCOPE_ONE ? LDAP_SCOPE_ONELEVEL :
	    LDAP_SCOPE_SUBTREE;
	rc = ldap_search_ext(ld, base, lscope, filter, attrs, 0, NULL, NULL,
	    &limit, sizelimit, &msgid);
	if (rc != LDAP_SUCCESS)
		return rc;
	if ((rc = aldap_wait(cfg, ld, msgid, deadline_ms, res)) !=
	    LDAP_SUCCESS)
		return rc;
	rc = ldap_parse_result(ld, *res, &err, NULL, NULL, NULL, NULL, 0);
	if (rc != LDAP_SUCCESS) {
		ldap_msgfree(*res);
		*res = NULL;
		return rc;
	}
	return err;
}

/* libldap options are per handle; TLS ones take effect with NEWCTX. */
static int
aldap_options(const struct config_ldap *cfg, LDAP *ld, int64_t connect_ms)
{
	struct timeval	 net = aldap_tv(connect_ms);
	struct timeval	 op = aldap_tv(cfg->timeout_operation_ms);
	int		 v3 = LDAP_VERSION3, zero = 0;
	int		 req = cfg->tls_verify ? LDAP_OPT_X_TLS_DEMAND :
			    LDAP_OPT_X_TLS_NEVER;
	int		 tls12 = LDAP_OPT_X_TLS_PROTOCOL_TLS1_2;

	if (ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &v3) != 0 ||
	    ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF) != 0 ||
	    ldap_set_option(ld, LDAP_OPT_CONNECT_CB, &watch_cb) != 0 ||
	    ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &net) != 0 ||
	    ldap_set_option(ld, LDAP_OPT_TIMEOUT, &op) != 0 ||
	    ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &req) != 0 ||
	    ldap_set_option(ld, LDAP_OPT_X_TLS_PROTOCOL_MIN, &tls12) != 0)
		return -1;
	if ((cfg->tls_ca_file[0] != '\0' && ldap_set_option(ld,
	    LDAP_OPT_X_TLS_CACERTFILE, cfg->tls_ca_file) != 0) ||
	    (cfg->tls_certificate[0] != '\0' && (ldap_set_option(ld,
	    LDAP_OPT_X_TLS_CERTFILE, cfg->tls_certificate) != 0 ||
	    ldap_set_option(ld, LDAP_OPT_X_TLS_KEYFILE, cfg->tls_key) != 0)))
		return -1;
	return ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &zero) != 0 ? -1 : 0;
}

static int
aldap_starttls(const struct config_ldap *cfg, LDAP *ld, int64_t deadline_ms,
    const char **stage)
{
	LDAPMessage	*res;
	int64_t		 ms;
	bool		 capped;
	int		 rc, err, msgid, fd = -1;

	*stage = "StartTLS";
	if ((rc = ldap_start_tls(ld, NULL, NULL, &msgid)) != LDAP_SUCCESS)
		return rc;
	if ((rc = aldap_wait(cfg, ld, msgid, deadline_ms, &res)) !=
	    LDAP_SUCCESS)
		return rc;
	rc = ldap_parse_result(ld, res, &err, NULL, NULL, NULL, NULL, 1);
	if (rc != LDAP_SUCCESS)
		return rc;
	if (err != LDAP_SUCCESS)
		return err;
	if ((ms = aldap_budget(deadline_ms, cfg->timeout_connect_ms,
	    &capped)) == 0)
		return ALDAP_DEADLINE;
	*stage = "TLS handshake";
	aldap_watch_arm(ms);
	if (ldap_get_option(ld, LDAP_OPT_DESC, &fd) == LDAP_OPT_SUCCESS)
		watch_fd = fd;
	rc = ldap_install_tls(ld);
	aldap_watch_disarm();
	if (rc != LDAP_SUCCESS && watch_expired)
		*stage = ALDAP_TLS_SILENT;
	return rc;
}

/* What the admin can change, for a failure at stage. */
static const char *
aldap_open_hint(const char *stage, int rc)
{
	if (strcmp(stage, "TLS handshake") == 0)
		return " (is the certificate from auth.ldap.tls.ca_file, naming "
		    "the URI's host?)";
	if (strcmp(stage, "StartTLS") == 0)
		return " (auth.ldap.starttls = true, but the server does not "
		    "start TLS on this ldap:// URI; enable TLS on the server, "
		    "use its ldaps:// URI, or set auth.ldap.starttls = false)";
	if (strcmp(stage, "connect") == 0 && (rc == LDAP_SERVER_DOWN ||
	    rc == LDAP_CONNECT_ERROR))
		return " (is the server running at this address and port? "
		    "check auth.ldap.uris)";
	return "";
}

static int
aldap_open(const struct config_ldap *cfg, const char *uri, int64_t deadline_ms,
    LDAP **out, char *why, size_t whylen)
{
	LDAP		*ld = NULL;
	const char	*stage = "connect";
	char		 diag[96];
	int64_t		 ms;
	bool		 capped;
	int		 rc;

	*out = NULL;
	if (aldap_watch_init() == -1) {
		snprintf(why, whylen, "%s: no TLS handshake watchdog", uri);
		return LDAP_LOCAL_ERROR;
	}
	if ((ms = aldap_budget(deadline_ms, cfg->timeout_connect_ms,
	    &capped)) == 0)
		return ALDAP_DEADLINE;
	if ((rc = ldap_initialize(&ld, uri)) != LDAP_SUCCESS) {
		snprintf(why, whylen, "%s: %s", uri, ldap_err2string(rc));
		return rc;
	}
	if (aldap_options(cfg, ld, ms) == -1) {
		snprintf(why, whylen, "%s: cannot set up TLS; check the files "
		    "in auth.ldap.tls", uri);
		rc = LDAP_LOCAL_ERROR;
		goto fail;
	}
	/* ldaps:// does its TLS handshake here. */
	aldap_watch_arm(ms);
	rc = ldap_connect(ld);
	aldap_watch_disarm();
	if (rc != LDAP_SUCCESS && watch_connected)
		stage = watch_expired ? ALDAP_TLS_SILENT : "TLS handshake";
	if (rc == LDAP_SUCCESS && cfg->starttls &&
	    strncmp(uri, "ldap://", 7) == 0)
		rc = aldap_starttls(cfg, ld, deadline_ms, &stage);
	if (rc == LDAP_SUCCESS) {
		*out = ld;
		return LDAP_SUCCESS;
	}
	aldap_diag(ld, diag, sizeof(diag));
	snprintf(why, whylen, "%s: %s: %s%s%s%s", uri, stage,
	    ldap_err2string(rc), diag[0] != '\0' ? ": " : "", diag,
	    aldap_open_hint(stage, rc));
	if (capped && auth_now_ms() >= deadline_ms)
		rc = ALDAP_DEADLINE;
	else if (rc == LDAP_LOCAL_ERROR || rc == LDAP_OTHER)
		rc = LDAP_CONNECT_ERROR;	/* TLS failures, mostly */
 fail:
	aldap_close(&ld);
	return rc;
}

/* Idle, a live connection has nothing to read; EOF or a notice means gone. */
static bool
aldap_stale(LDAP *ld)
{
	struct pollfd	 pfd = { .fd = -1, .events = POLLIN };

	if (ldap_get_option(ld, LDAP_OPT_DESC, &pfd.fd) != LDAP_OPT_SUCCESS ||
	    pfd.fd < 0)
		return true;
	return poll(&pfd, 1, 0) != 0;
}

/*
 * The service account's password, read for each bind from its root-only
 * file, so that a changed password is picked up on the next reconnection
 * and the secret is held only while binding. Returns its length or -1.
 */
static ssize_t
aldap_secret(const char *path, char *buf, size_t size, char *why,
    size_t whylen)
{
	struct stat	 st;
	ssize_t		 n = -1;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		snprintf(why, whylen, "cannot open %s: %s", path,
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) || st.st_uid != 0 ||
	    (st.st_mode & 077) != 0)
		snprintf(why, whylen, "%s is not a root-only regular file",
		    path);
	else if ((n = read(fd, buf, size)) <= 0 || (size_t)n == size) {
		snprintf(why, whylen, "%s is empty, unreadable or longer than "
		    "%zu bytes", path, size - 1);
		n = -1;
	} else {
		/* One line: the newline an editor adds is not the password. */
		while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
			n--;
		buf[n] = '\0';
		if (n == 0 || memchr(buf, '\0', (size_t)n) != NULL) {
			snprintf(why, whylen, "%s holds no usable password",
			    path);
			n = -1;
		}
	}
	close(fd);
	return n;
}

static int
aldap_service_bind(const struct config_ldap *cfg, const char *uri, LDAP *ld,
    int64_t deadline_ms, char *why, size_t whylen)
{
	char	 secret[SECRET_MAX + 1], diag[96];
	int	 rc;

	if (aldap_secret(cfg->bind_password_file, secret, sizeof(secret), why,
	    whylen) == -1)
		return LDAP_LOCAL_ERROR;
	rc = aldap_bind(cfg, ld, cfg->bind_dn, secret, deadline_ms, diag,
	    sizeof(diag));
	explicit_bzero(secret, sizeof(secret));
	if (rc != LDAP_SUCCESS)
		snprintf(why, whylen, "%s: service bind as %.64s: %s%s%s%s",
		    uri, cfg->bind_dn, ldap_err2string(rc),
		    diag[0] != '\0' ? ": " : "", diag,
		    rc == LDAP_INVALID_CREDENTIALS ? " (check auth.ldap.bind.dn "
		    "and the password in auth.ldap.bind.password_file)" : "");
	return rc;
}

int
aldap_conn(struct aldap_pool *p, struct aldap_server *srv, bool service,
    int64_t deadline_ms, LDAP **ld, char *why, size_t whylen)
{
	LDAP	**slot = service ? &srv->svc : &srv->usr;
	int	 rc;

	*ld = NULL;
	if (*slot != NULL && aldap_stale(*slot)) {
		log_debug("ldap: %s closed a pooled connection; reconnecting",
		    srv->uri);
		aldap_close(slot);
	}
	if (*slot == NULL) {
		if ((rc = aldap_open(p->cfg, srv->uri, deadline_ms, slot, why,
		    whylen)) != LDAP_SUCCESS)
			return rc;
		if (service && (rc = aldap_service_bind(p->cfg, srv->uri,
		    *slot, deadline_ms, why, whylen)) != LDAP_SUCCESS) {
			aldap_close(slot);
			return rc;
		}
	}
	*ld = *slot;
	return LDAP_SUCCESS;
}

int
aldap_probe(const struct config_ldap *cfg, const char *uri,
    int64_t deadline_ms, char *why, size_t whylen)
{
	LDAPMessage	*res = NULL;
	LDAP		*ld = NULL;
	char		*attrs[] = { LDAP_NO_ATTRS, NULL };
	int		 rc;

	why[0] = '\0';
	if ((rc = aldap_open(cfg, uri, deadline_ms, &ld, why, whylen)) !=
	    LDAP_SUCCESS)
		goto out;
	/* Template binds have no service account and nothing to search. */
	if (cfg->bind_mode != CONFIG_LDAP_BIND_SEARCH)
		goto out;
	if ((rc = aldap_service_bind(cfg, uri, ld, deadline_ms, why,
	    whylen)) != LDAP_SUCCESS)
		goto out;
	rc = aldap_search(cfg, ld, cfg->user_base, CONFIG_LDAP_SCOPE_BASE,
	    "(objectClass=*)", attrs, 1, deadline_ms, &res);
	if (rc != LDAP_SUCCESS)
		snprintf(why, whylen, "%s: search of %.64s: %s%s", uri,
		    cfg->user_base, ldap_err2string(rc),
		    rc == LDAP_NO_SUCH_OBJECT ? " (check auth.ldap.bind.base)" :
		    "");
 out:
	if (rc == ALDAP_DEADLINE && why[0] == '\0')
		snprintf(why, whylen, "%s: no answer in time (timeouts.auth)",
		    uri);
	ldap_msgfree(res);
	aldap_close(&ld);
	return rc == LDAP_SUCCESS ? 0 : -1;
}
