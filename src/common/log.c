#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static const char	*log_procname = "tunnelgated";
static bool		 log_syslog;
static enum log_level	 log_max = LOG_LVL_INFO;

void
log_init(const char *procname, bool use_syslog, enum log_level lvl)
{
	log_procname = procname;
	log_syslog = use_syslog;
	log_max = lvl;
	if (use_syslog) {
		/*
		 * syslog() stamps each line with local time; read the zone
		 * file now, while it is reachable: a chrooted worker cannot
		 * open it, and one in its sandbox dies of trying.
		 */
		tzset();
		openlog("tunnelgated", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	}
}

void
log_set_procname(const char *procname)
{
	log_procname = procname;
}

/*
 * The parent's syslog socket was closed with the descriptors a child must
 * not hold. glibc would go on sending to that number, whatever it names by
 * then, and reconnect only when that fails, which a worker in its sandbox
 * cannot do (socket() kills it) and a chrooted one cannot reach.
 */
void
log_reopen(void)
{
	if (!log_syslog)
		return;
	closelog();
	openlog("tunnelgated", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

int
log_level_parse(const char *s, enum log_level *lvl)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i]) == 0) {
			*lvl = (enum log_level)i;
			return 0;
		}
	return -1;
}

static void
log_vemit(enum log_level lvl, const char *errstr, const char *fmt, va_list ap)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	char		 msg[1024];
	int		 saved = errno;

	if (lvl > log_max)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_syslog) {
		if (errstr)
			syslog(prio[lvl], "%s: %s: %s", log_procname, msg, errstr);
		else
			syslog(prio[lvl], "%s: %s", log_procname, msg);
	} else {
		if (errstr)
			fprintf(stderr, "%s[%d]: %s: %s\n", log_procname,
			    (int)getpid(), msg, errstr);
		else
			fprintf(stderr, "%s[%d]: %s\n", log_procname,
			    (int)getpid(), msg);
	}
	errno = saved;
}

#define LOG_BODY(lvl, errstr) do {		\
	va_list ap;				\
	va_start(ap, fmt);			\
	log_vemit(lvl, errstr, fmt, ap);	\
	va_end(ap);				\
} while (0)

void
log_warn(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_WARN, strerror(errno));
}

void
log_warnx(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_WARN, NULL);
}

void
log_info(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_INFO, NULL);
}

void
log_debug(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_DEBUG, NULL);
}

void
fatal(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_ERROR, strerror(errno));
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_ERROR, NULL);
	exit(1);
}
