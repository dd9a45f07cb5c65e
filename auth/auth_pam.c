/*
 * Credentials through Linux-PAM and groups through NSS. Runs in the
 * privileged authenticator only: pam_unix verifies other users' passwords
 * only when its caller is root.
 */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <security/pam_appl.h>

#include "auth.h"
#include "log.h"

/* getpwnam_r/getgrgid_r buffers grow on ERANGE up to this. */
#define NSS_BUF_MAX	(1024 * 1024)

/*
 * What the conversation and the failure-delay hook share: PAM hands both the
 * conversation's appdata_ptr.
 */
struct pam_call {
	const char	*password;
	unsigned	 delay_usec;	/* the failure delay PAM asked for */
};

/*
 * pam_unix (and pam_faildelay) ask for a delay after a failure. Sleeping it
 * here would hold a privileged authenticator that every gate worker shares;
 * the gate worker delays every 407 itself (auth.failure_delay), so only note
 * what was asked.
 */
static void
pam_fail_delay_hook(int retval, unsigned usec_delay, void *appdata)
{
	struct pam_call	*call = appdata;

	(void)retval;
	call->delay_usec = usec_delay;
}

/*
 * Answers every password prompt with the password; PAM frees (and pam_unix
 * wipes) the copies it is given. A prompt for anything else (a user name,
 * a one-time code) cannot be answered over a proxy and fails the
 * conversation.
 */
static int
pam_conv_password(int num_msg, const struct pam_message **msg,
    struct pam_response **resp, void *appdata)
{
	const char		*password = ((struct pam_call *)appdata)->password;
	struct pam_response	*r;
	int			 i;

	*resp = NULL;
	if (num_msg <= 0 || num_msg > PAM_MAX_NUM_MSG)
		return PAM_CONV_ERR;
	if ((r = calloc(num_msg, sizeof(*r))) == NULL)
		return PAM_BUF_ERR;
	for (i = 0; i < num_msg; i++) {
		switch (msg[i]->msg_style) {
		case PAM_PROMPT_ECHO_OFF:
			/* A certificate login has no password to give. */
			if (password == NULL ||
			    (r[i].resp = strdup(password)) == NULL)
				goto fail;
			break;
		case PAM_ERROR_MSG:
		case PAM_TEXT_INFO:
			log_debug("pam: pam says: %.200s",
			    msg[i]->msg != NULL ? msg[i]->msg : "");
			break;
		default:
			log_debug("pam: refusing pam prompt style %d",
			    msg[i]->msg_style);
			goto fail;
		}
	}
	*resp = r;
	return PAM_SUCCESS;
 fail:
	for (i = 0; i < num_msg; i++) {
		if (r[i].resp != NULL) {
			explicit_bzero(r[i].resp, strlen(r[i].resp));
			free(r[i].resp);
		}
	}
	free(r);
	return PAM_CONV_ERR;
}

/*
 * The same PAM codes from pam_authenticate and pam_acct_mgmt mean different
 * things: after a good password, an "auth error" from the account stack
 * (pam_deny, pam_access) is a refused account, not a wrong password.
 */
static enum auth_verdict
pam_verdict(pam_handle_t *pamh, int rc, int acct_stage, char *reason,
    size_t reasonlen)
{
	const char	*why;

	switch (rc) {
	case PAM_NEW_AUTHTOK_REQD:
		why = "password expired";
		break;
	case PAM_ACCT_EXPIRED:
		why = "account expired";
		break;
	case PAM_PERM_DENIED:
		why = "account not permitted";
		break;
	case PAM_AUTH_ERR:
		why = acct_stage ? "account refused" : "bad password";
		break;
	case PAM_USER_UNKNOWN:
		why = acct_stage ? "account unknown" : "unknown user";
		break;
	case PAM_MAXTRIES:
		why = "too many tries";
		break;
	default:
		snprintf(reason, reasonlen, "pam: %s", pam_strerror(pamh, rc));
		return AUTH_UNAVAILABLE;
	}
	snprintf(reason, reasonlen, "%s", why);
	if (!acct_stage && (rc == PAM_AUTH_ERR || rc == PAM_USER_UNKNOWN ||
	    rc == PAM_MAXTRIES))
		return AUTH_BAD_CREDENTIALS;
	return AUTH_ACCOUNT_UNUSABLE;
}

/*
 * Calls an NSS *_r lookup, growing its buffer on ERANGE up to NSS_BUF_MAX.
 * lookup returns the *_r function's error code and leaves its result in arg.
 */
static int
nss_lookup(int (*lookup)(void *, char *, size_t), void *arg, char **bufp,
    size_t *lenp)
{
	char	*nb;
	size_t	 nlen;
	int	 e;

	for (;;) {
		if (*bufp != NULL &&
		    (e = lookup(arg, *bufp, *lenp)) != ERANGE)
			return e;
		nlen = *bufp == NULL ? 1024 : *lenp * 2;
		if (nlen > NSS_BUF_MAX)
			return ERANGE;
		if ((nb = realloc(*bufp, nlen)) == NULL)
			return ENOMEM;
		*bufp = nb;
		*lenp = nlen;
	}
}

struct pw_arg {
	const char	*name;
	struct passwd	 pw;
	struct passwd	*res;
};

static int
pw_lookup(void *arg, char *buf, size_t len)
{
	struct pw_arg	*a = arg;

	return getpwnam_r(a->name, &a->pw, buf, len, &a->res);
}

struct gr_arg {
	gid_t		 gid;
	struct group	 gr;
	struct group	*res;
};

static int
gr_lookup(void *arg, char *buf, size_t len)
{
	struct gr_arg	*a = arg;

	return getgrgid_r(a->gid, &a->gr, buf, len, &a->res);
}

/*
 * Whether user may be named by the policy: its own name from NSS in name,
 * refused if it is root, a system account (uid below auth.pam.min_uid) or
 * spelled outside AUTH_USER_CHARS. Returns 0, -1 if NSS does not know
 * user, or the verdict to refuse with (reason set).
 */
static int
pam_account(const struct config *cfg, const char *user,
    char name[AUTH_USER_MAX + 1], char *reason, size_t reasonlen)
{
	struct pw_arg	 pa = { .name = user };
	char		*buf = NULL;
	const char	*why;
	size_t		 buflen = 0;
	int		 e, ret = 0;

	if ((e = nss_lookup(pw_lookup, &pa, &buf, &buflen)) != 0) {
		snprintf(reason, reasonlen, "pam: account lookup: %s",
		    strerror(e));
		log_warnx("pam: getpwnam_r %s: %s", user, strerror(e));
		ret = AUTH_UNAVAILABLE;
	} else if (pa.res == NULL)
		ret = -1;
	else if (pa.pw.pw_uid == 0) {
		snprintf(reason, reasonlen, "root account (uid 0)");
		ret = AUTH_ACCOUNT_UNUSABLE;
	} else if (pa.pw.pw_uid < cfg->pam_min_uid) {
		snprintf(reason, reasonlen, "system account (uid %u, "
		    "auth.pam.min_uid is %u)", (unsigned)pa.pw.pw_uid,
		    cfg->pam_min_uid);
		ret = AUTH_ACCOUNT_UNUSABLE;
	} else if ((why = auth_user_refusal(pa.pw.pw_name)) != NULL) {
		snprintf(reason, reasonlen, "account name: %s", why);
		ret = AUTH_ACCOUNT_UNUSABLE;
	} else
		memcpy(name, pa.pw.pw_name, strlen(pa.pw.pw_name) + 1);
	free(buf);
	return ret;
}

/*
 * After PAM said yes: the account PAM settled on (a module may have
 * changed PAM_USER), as NSS names it.
 */
static enum auth_verdict
pam_final_account(const struct config *cfg, pam_handle_t *pamh,
    char name[AUTH_USER_MAX + 1], char *reason, size_t reasonlen)
{
	const void	*item = NULL;
	int		 rc;

	if ((rc = pam_get_item(pamh, PAM_USER, &item)) != PAM_SUCCESS ||
	    item == NULL) {
		snprintf(reason, reasonlen, "pam: no PAM_USER after login");
		return AUTH_UNAVAILABLE;
	}
	switch ((rc = pam_account(cfg, item, name, reason, reasonlen))) {
	case 0:
		snprintf(reason, reasonlen, "%s", "");
		return AUTH_ALLOW;
	case -1:
		snprintf(reason, reasonlen, "pam: the account PAM accepted is "
		    "unknown to NSS");
		log_warnx("pam: PAM accepted %.64s, which NSS does not know; "
		    "check nsswitch.conf", (const char *)item);
		return AUTH_UNAVAILABLE;
	default:
		return (enum auth_verdict)rc;
	}
}

/*
 * pam_start (in cfg's confdir, if any) with PAM_RHOST and our failure-delay
 * hook. PAM_SUCCESS, or a PAM code with reason set and *pamh NULL if
 * pam_start itself failed.
 */
static int
pam_open(const struct config *cfg, const char *user, const char *rhost,
    const struct pam_conv *conv, pam_handle_t **pamh, char *reason,
    size_t reasonlen)
{
	int	 rc;

	*pamh = NULL;
	if (cfg->pam_confdir[0] != '\0')
		rc = pam_start_confdir(cfg->pam_service, user, conv,
		    cfg->pam_confdir, pamh);
	else
		rc = pam_start(cfg->pam_service, user, conv, pamh);
	if (rc != PAM_SUCCESS) {
		snprintf(reason, reasonlen, "pam: %s", pam_strerror(*pamh, rc));
		log_warnx("pam: pam_start service %s (confdir %s): %s",
		    cfg->pam_service, cfg->pam_confdir[0] != '\0' ?
		    cfg->pam_confdir : "system", pam_strerror(*pamh, rc));
		*pamh = NULL;
		return rc;
	}
	if ((rhost != NULL && rhost[0] != '\0' &&
	    (rc = pam_set_item(*pamh, PAM_RHOST, rhost)) != PAM_SUCCESS) ||
	    (rc = pam_set_item(*pamh, PAM_FAIL_DELAY,
	    (const void *)(uintptr_t)pam_fail_delay_hook)) != PAM_SUCCESS)
		snprintf(reason, reasonlen, "pam: %s", pam_strerror(*pamh, rc));
	return rc;
}

enum auth_verdict
auth_pam_account_check(const struct config *cfg, const char *user,
    const char *rhost, char name[AUTH_USER_MAX + 1], char *reason,
    size_t reasonlen)
{
	struct pam_call		 call = { .password = NULL };
	struct pam_conv		 conv = { pam_conv_password, &call };
	pam_handle_t		*pamh;
	enum auth_verdict	 v;
	int			 rc, end_rc;

	name[0] = '\0';
	if ((rc = pam_account(cfg, user, name, reason, reasonlen)) != 0) {
		if (rc == -1)
			snprintf(reason, reasonlen, "unknown account");
		name[0] = '\0';
		return rc == -1 ? AUTH_BAD_CREDENTIALS : (enum auth_verdict)rc;
	}
	name[0] = '\0';
	if ((rc = pam_open(cfg, user, rhost, &conv, &pamh, reason,
	    reasonlen)) != PAM_SUCCESS) {
		v = AUTH_UNAVAILABLE;
		goto out;
	}
	/* No pam_authenticate: the certificate was the authentication. */
	rc = pam_acct_mgmt(pamh, PAM_SILENT);
	if (rc != PAM_SUCCESS)
		v = pam_verdict(pamh, rc, 1, reason, reasonlen);
	else
		v = pam_final_account(cfg, pamh, name, reason, reasonlen);
 out:
	if (pamh != NULL && (end_rc = pam_end(pamh, rc)) != PAM_SUCCESS)
		log_warnx("pam: pam_end: %s",
		    pam_strerror(NULL, end_rc));
	return v;
}

enum auth_verdict
auth_pam_check(const struct config *cfg, const char *user,
    const char *password, const char *rhost, char name[AUTH_USER_MAX + 1],
    char *reason, size_t reasonlen)
{
	struct pam_conv		 conv;
	struct pam_call		 call = { .password = password };
	pam_handle_t		*pamh = NULL;
	enum auth_verdict	 v;
	int			 rc, end_rc;

	name[0] = '\0';
	if (password[0] == '\0') {
		snprintf(reason, reasonlen, "empty password");
		return AUTH_BAD_CREDENTIALS;
	}
	/*
	 * Root's and system accounts' passwords are not even tried when NSS
	 * knows the typed name; pam_final_account() catches a module that
	 * maps a login onto one.
	 */
	if ((rc = pam_account(cfg, user, name, reason, reasonlen)) > 0)
		return (enum auth_verdict)rc;
	name[0] = '\0';
	conv.conv = pam_conv_password;
	conv.appdata_ptr = &call;
	if ((rc = pam_open(cfg, user, rhost, &conv, &pamh, reason,
	    reasonlen)) != PAM_SUCCESS) {
		if (pamh == NULL)
			return AUTH_UNAVAILABLE;
		v = AUTH_UNAVAILABLE;
		goto out;
	}
	rc = pam_authenticate(pamh, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
	if (rc != PAM_SUCCESS) {
		v = pam_verdict(pamh, rc, 0, reason, reasonlen);
		goto out;
	}
	rc = pam_acct_mgmt(pamh, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
	if (rc != PAM_SUCCESS) {
		v = pam_verdict(pamh, rc, 1, reason, reasonlen);
		goto out;
	}
	v = pam_final_account(cfg, pamh, name, reason, reasonlen);
 out:
	if (call.delay_usec > 0)
		log_debug("pam: pam asked for a %u ms failure delay; the gate "
		    "worker applies auth.failure_delay instead",
		    call.delay_usec / 1000);
	if ((end_rc = pam_end(pamh, rc)) != PAM_SUCCESS)
		log_warnx("pam: pam_end: %s",
		    pam_strerror(NULL, end_rc));
	return v;
}

/*
 * getgrouplist() is asked again with a larger array for as long as it
 * reports more groups, up to this; a user in more groups than the kernel
 * allows any process is refused rather than judged on some of them.
 */
#define NSS_MAX_GROUPS	NGROUPS_MAX

/* Group ids of user, primary first; *gids is malloc'ed. */
static int
user_gids(const char *user, char **buf, size_t *buflen, gid_t **gids,
    int *ngids, char *reason, size_t reasonlen)
{
	struct pw_arg	 pa = { .name = user };
	gid_t		*g = NULL, *ng;
	int		 e, n = 64, want;

	if ((e = nss_lookup(pw_lookup, &pa, buf, buflen)) != 0 ||
	    pa.res == NULL) {
		snprintf(reason, reasonlen, "groups: %s", e != 0 ?
		    strerror(e) : "user unknown to NSS");
		log_warnx("pam: getpwnam_r %s: %s", user, e != 0 ?
		    strerror(e) : "unknown; check nsswitch.conf");
		return -1;
	}
	for (;;) {
		if ((ng = reallocarray(g, (size_t)n, sizeof(*g))) == NULL) {
			snprintf(reason, reasonlen, "groups: out of memory");
			free(g);
			return -1;
		}
		g = ng;
		want = n;
		if (getgrouplist(user, pa.pw.pw_gid, g, &want) != -1)
			break;
		/* glibc says how many there are; others may not. */
		n = want > n ? want : n * 2;
		if (n > NSS_MAX_GROUPS) {
			snprintf(reason, reasonlen, "groups: user is in more "
			    "than %d groups", NSS_MAX_GROUPS);
			log_warnx("pam: %s is in more than %d groups",
			    user, NSS_MAX_GROUPS);
			free(g);
			return -1;
		}
	}
	*gids = g;
	*ngids = want;
	return 0;
}

/* Appends name to *names (one buffer of NUL-terminated strings). */
static int
names_add(char **names, size_t *nlen, size_t *ncap, const char *name)
{
	size_t	 len = strlen(name) + 1;
	char	*nn;

	if (*nlen + len > *ncap) {
		if ((nn = realloc(*names, (*nlen + len) * 2)) == NULL)
			return -1;
		*names = nn;
		*ncap = (*nlen + len) * 2;
	}
	memcpy(*names + *nlen, name, len);
	*nlen += len;
	return 0;
}

int
auth_groups(const char *user, char ***groups, size_t *n, char *reason,
    size_t reasonlen)
{
	struct gr_arg	 ga;
	gid_t		*gids = NULL;
	char		*buf = NULL, *names = NULL, **out, *p;
	size_t		 buflen = 0, nlen = 0, ncap = 0, count = 0, i;
	int		 ngids, j, e, ret = -1;

	if (user_gids(user, &buf, &buflen, &gids, &ngids, reason,
	    reasonlen) == -1)
		goto out;
	for (j = 0; j < ngids; j++) {
		ga.gid = gids[j];
		if ((e = nss_lookup(gr_lookup, &ga, &buf, &buflen)) != 0) {
			snprintf(reason, reasonlen, "groups: group %u: %s",
			    (unsigned)gids[j], strerror(e));
			log_warnx("pam: getgrgid_r %u: %s",
			    (unsigned)gids[j], strerror(e));
			goto out;
		}
		/* A gid without a name cannot match a rule naming groups. */
		if (ga.res == NULL)
			continue;
		if (names_add(&names, &nlen, &ncap, ga.gr.gr_name) == -1)
			goto nomem;
		count++;
	}
	if ((out = malloc(count * sizeof(*out) + nlen + 1)) == NULL)
		goto nomem;
	p = (char *)(out + count);
	if (nlen > 0)
		memcpy(p, names, nlen);
	for (i = 0; i < count; i++) {
		out[i] = p;
		p += strlen(p) + 1;
	}
	*groups = out;
	*n = count;
	ret = 0;
	goto out;
 nomem:
	snprintf(reason, reasonlen, "groups: out of memory");
	log_warn("pam");
 out:
	free(gids);
	free(names);
	free(buf);
	return ret;
}

/*
 * pam_start reads the service file but loads no module; pam_authenticate
 * does, and a module that cannot be loaded answers PAM_MODULE_UNKNOWN (or
 * the stack aborts). The probe user has no password to give: any other
 * answer means the stack ran.
 */
int
auth_pam_probe(const struct config *cfg, char *why, size_t whylen)
{
	struct pam_call			 call = { .password = NULL };
	struct pam_conv			 conv = { pam_conv_password, &call };
	const char			*dir = cfg->pam_confdir[0] != '\0' ?
					    cfg->pam_confdir : "/etc/pam.d";
	pam_handle_t			*pamh;
	char				 reason[128];
	int				 rc;

	rc = pam_open(cfg, AUTH_PAM_PROBE_USER, NULL, &conv, &pamh, reason,
	    sizeof(reason));
	if (rc != PAM_SUCCESS) {
		if (pamh != NULL)
			pam_end(pamh, rc);
		snprintf(why, whylen, "PAM service %s: %s; is there a file "
		    "%s/%s?", cfg->pam_service, reason, dir, cfg->pam_service);
		return -1;
	}
	rc = pam_authenticate(pamh, PAM_SILENT);
	snprintf(reason, sizeof(reason), "%s", pam_strerror(pamh, rc));
	pam_end(pamh, rc);
	if (rc != PAM_MODULE_UNKNOWN && rc != PAM_ABORT &&
	    rc != PAM_SYMBOL_ERR && rc != PAM_SERVICE_ERR)
		return 0;
	snprintf(why, whylen, "PAM service %s: its modules do not load (%s); "
	    "check the module names in %s/%s and the files it includes",
	    cfg->pam_service, reason, dir, cfg->pam_service);
	return -1;
}
