/*
 * Credentials through Linux-PAM and groups through NSS. Runs in the
 * privileged authenticator only: pam_unix verifies other users' passwords
 * only when its caller is root.
 */
#include <errno.h>
#include <grp.h>
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
 * Answers every password prompt with the password; PAM frees (and pam_unix
 * wipes) the copies it is given. A prompt for anything else (a user name,
 * a one-time code) cannot be answered over a proxy and fails the
 * conversation.
 */
static int
pam_conv_password(int num_msg, const struct pam_message **msg,
    struct pam_response **resp, void *appdata)
{
	const char		*password = appdata;
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
			if ((r[i].resp = strdup(password)) == NULL)
				goto fail;
			break;
		case PAM_ERROR_MSG:
		case PAM_TEXT_INFO:
			log_debug("%s: pam says: %.200s", __func__,
			    msg[i]->msg != NULL ? msg[i]->msg : "");
			break;
		default:
			log_debug("%s: refusing pam prompt style %d", __func__,
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

enum auth_verdict
auth_pam_check(const struct config *cfg, const char *user,
    const char *password, const char *rhost, char *reason, size_t reasonlen)
{
	struct pam_conv		 conv;
	pam_handle_t		*pamh = NULL;
	enum auth_verdict	 v;
	int			 rc, end_rc;

	if (user[0] == '\0' || password[0] == '\0') {
		snprintf(reason, reasonlen, "%s", user[0] == '\0' ?
		    "empty user" : "empty password");
		return AUTH_BAD_CREDENTIALS;
	}
	/* PAM only reads through the conversation; the cast drops const. */
	conv.conv = pam_conv_password;
	conv.appdata_ptr = (void *)(uintptr_t)password;

	if (cfg->pam_confdir[0] != '\0')
		rc = pam_start_confdir(cfg->pam_service, user, &conv,
		    cfg->pam_confdir, &pamh);
	else
		rc = pam_start(cfg->pam_service, user, &conv, &pamh);
	if (rc != PAM_SUCCESS) {
		snprintf(reason, reasonlen, "pam: %s", pam_strerror(pamh, rc));
		log_warnx("%s: pam_start service %s (confdir %s): %s", __func__,
		    cfg->pam_service, cfg->pam_confdir[0] != '\0' ?
		    cfg->pam_confdir : "system", pam_strerror(pamh, rc));
		return AUTH_UNAVAILABLE;
	}
	if (rhost != NULL && rhost[0] != '\0' &&
	    (rc = pam_set_item(pamh, PAM_RHOST, rhost)) != PAM_SUCCESS) {
		snprintf(reason, reasonlen, "pam: %s", pam_strerror(pamh, rc));
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
	snprintf(reason, reasonlen, "%s", "");
	v = AUTH_ALLOW;
 out:
	if ((end_rc = pam_end(pamh, rc)) != PAM_SUCCESS)
		log_warnx("%s: pam_end: %s", __func__,
		    pam_strerror(NULL, end_rc));
	return v;
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

/* Group ids of user, primary first, at most AUTH_MAX_GROUPS. */
static int
user_gids(const char *user, char **buf, size_t *buflen,
    gid_t gids[AUTH_MAX_GROUPS], int *ngids)
{
	struct pw_arg	 pa = { .name = user };
	int		 e;

	if ((e = nss_lookup(pw_lookup, &pa, buf, buflen)) != 0) {
		log_warnx("%s: getpwnam_r %s: %s", __func__, user, strerror(e));
		return -1;
	}
	if (pa.res == NULL) {
		log_warnx("%s: user %s unknown to NSS; check nsswitch.conf",
		    __func__, user);
		return -1;
	}
	/*
	 * Fail rather than truncate: a rule denying one of the groups left
	 * out would otherwise be skipped.
	 */
	*ngids = AUTH_MAX_GROUPS;
	if (getgrouplist(user, pa.pw.pw_gid, gids, ngids) == -1) {
		log_warnx("%s: user %s is in more than %d groups", __func__,
		    user, AUTH_MAX_GROUPS);
		return -1;
	}
	return 0;
}

int
auth_groups(const char *user, char ***groups, size_t *n)
{
	gid_t		 gids[AUTH_MAX_GROUPS];
	size_t		 offs[AUTH_MAX_GROUPS];
	struct gr_arg	 ga;
	char		*buf = NULL, *names = NULL, *nn, **out;
	size_t		 buflen = 0, nlen = 0, ncap = 0, len, count = 0, i;
	int		 ngids, j, e, ret = -1;

	if (user_gids(user, &buf, &buflen, gids, &ngids) == -1)
		goto out;
	for (j = 0; j < ngids; j++) {
		ga.gid = gids[j];
		if ((e = nss_lookup(gr_lookup, &ga, &buf, &buflen)) != 0) {
			log_warnx("%s: getgrgid_r %u: %s", __func__,
			    (unsigned)gids[j], strerror(e));
			goto out;
		}
		/* A gid without a name cannot match a rule naming groups. */
		if (ga.res == NULL)
			continue;
		len = strlen(ga.gr.gr_name) + 1;
		if (nlen + len > ncap) {
			ncap = (nlen + len) * 2;
			if ((nn = realloc(names, ncap)) == NULL) {
				log_warn("%s: realloc", __func__);
				goto out;
			}
			names = nn;
		}
		memcpy(names + nlen, ga.gr.gr_name, len);
		offs[count++] = nlen;
		nlen += len;
	}
	if ((out = malloc(count * sizeof(*out) + nlen + 1)) == NULL) {
		log_warn("%s: malloc", __func__);
		goto out;
	}
	if (nlen > 0)
		memcpy((char *)(out + count), names, nlen);
	for (i = 0; i < count; i++)
		out[i] = (char *)(out + count) + offs[i];
	*groups = out;
	*n = count;
	ret = 0;
 out:
	free(names);
	free(buf);
	return ret;
}
