#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "privsep.h"

#define PRIVSEP_PW_BUF	4096

/*
 * 1 if name is in group want (its primary one included, through NSS), 0 if
 * not, -1 if its groups cannot be listed: a reload then fails, the daemon
 * keeps running.
 */
static int
privsep_in_group(const char *name, gid_t primary, gid_t want)
{
	gid_t	*groups = NULL;
	int	 n = 0, found = 0;

	if (getgrouplist(name, primary, NULL, &n) != -1 || n <= 0 ||
	    (groups = calloc((size_t)n, sizeof(gid_t))) == NULL ||
	    getgrouplist(name, primary, groups, &n) == -1) {
		free(groups);
		return -1;
	}
	for (int i = 0; i < n; i++)
		found = found || groups[i] == want;
	free(groups);
	return found;
}

/*
 * A user shared with other services could signal or trace the workers
 * from any of them; nobody is the one every system has.
 */
static bool
privsep_is_nobody(const char *name, uid_t uid)
{
	const struct passwd	*nobody;

	if (strcmp(name, "nobody") == 0)
		return true;
	nobody = getpwnam("nobody");
	return nobody != NULL && nobody->pw_uid == uid;
}

/* Why u cannot be used, or NULL; *uid is set when it exists. */
static const char *
privsep_user_problem(const struct config_user *u, uid_t *uid, char *why,
    size_t size)
{
	struct passwd	 pw, *res = NULL;
	char		 buf[PRIVSEP_PW_BUF];
	int		 e;

	if ((e = getpwnam_r(u->name, &pw, buf, sizeof(buf), &res)) != 0 ||
	    res == NULL) {
		(void)snprintf(why, size, "does not exist%s%s; create it as a "
		    "system user with a group of its own and no login "
		    "(`useradd --system --user-group --no-create-home --shell "
		    "/usr/sbin/nologin %s`, which `make install` runs)%s",
		    e != 0 ? ": " : "", e != 0 ? strerror(e) : "", u->name,
		    u->is_default ? "" : ", or name such a user");
		return why;
	}
	*uid = pw.pw_uid;
	if (pw.pw_uid == 0)
		return "has uid 0 (root), which would defeat privilege "
		    "separation; name an unprivileged user of its own";
	if (privsep_is_nobody(u->name, pw.pw_uid))
		return "is nobody (or has its uid), shared with other services "
		    "that could signal or trace the workers; name a user of "
		    "its own";
	if (pw.pw_gid == 0)
		return "has primary group 0 (root); give it a group of its own "
		    "(useradd --user-group)";
	switch (privsep_in_group(u->name, pw.pw_gid, 0)) {
	case 1:
		return "is a member of group 0 (root); remove it from that "
		    "group";
	case -1:
		return "has groups that cannot be listed (NSS failed); check "
		    "the group database";
	}
	return NULL;
}

static int
privsep_check_user(const struct config_user *u, uid_t *uid)
{
	const char	*problem;
	char		 why[512];

	if ((problem = privsep_user_problem(u, uid, why, sizeof(why))) == NULL)
		return 0;
	log_warnx("%s: %suser \"%s\" %s", u->where, u->is_default ?
	    "the default " : "", u->name, problem);
	return -1;
}

/* u's uid must not be other's: one role could signal or trace the other. */
static int
privsep_check_apart(const struct config_user *u, uid_t uid,
    const char *other_setting, const struct config_user *other,
    uid_t other_uid)
{
	if (uid != other_uid)
		return 0;
	log_warnx("%s: user \"%s\" has the same uid (%u) as privsep.%s \"%s\"; "
	    "each role must run as a user of its own, so that neither can "
	    "signal or trace the other; name another user", u->where, u->name,
	    (unsigned)uid, other_setting, other->name);
	return -1;
}

int
privsep_check(const struct config *cfg)
{
	uid_t	 gate_uid = 0, relay_uid = 0, key_uid = 0;
	int	 rc = 0;

	if (privsep_check_user(&cfg->gate_user, &gate_uid) == -1)
		rc = -1;
	if (privsep_check_user(&cfg->relay_user, &relay_uid) == -1)
		rc = -1;
	if (privsep_check_user(&cfg->key_user, &key_uid) == -1)
		rc = -1;
	if (rc == 0 && (privsep_check_apart(&cfg->relay_user, relay_uid,
	    "gate_user", &cfg->gate_user, gate_uid) == -1 ||
	    privsep_check_apart(&cfg->key_user, key_uid, "gate_user",
	    &cfg->gate_user, gate_uid) == -1 ||
	    privsep_check_apart(&cfg->key_user, key_uid, "relay_user",
	    &cfg->relay_user, relay_uid) == -1))
		rc = -1;
	return rc;
}
