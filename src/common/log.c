#include <sys/stat.h>

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
static bool		 log_stamp;
static bool		 log_plain;
static char		*log_kept;
static size_t		 log_kept_size;

/*
 * systemd sets JOURNAL_STREAM to the device and inode of the stream it
 * connected stderr to; the journal stamps each line itself. Anywhere else
 * (a terminal, a file, a container log) the line carries its own time.
 */
static bool
log_to_journal(void)
{
	const char		*env = getenv("JOURNAL_STREAM");
	struct stat		 st;
	unsigned long long	 dev, ino;

	if (env == NULL || sscanf(env, "%llu:%llu", &dev, &ino) != 2 ||
	    fstat(STDERR_FILENO, &st) == -1)
		return false;
	return (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

/* "2026-12-05T07:45:12.345Z ", or "" when the journal stamps lines. */
static void
log_time(char *buf, size_t len)
{
	struct timespec	 ts;
	struct tm	 tm;

	buf[0] = '\0';
	if (!log_stamp || clock_gettime(CLOCK_REALTIME, &ts) == -1 ||
	    gmtime_r(&ts.tv_sec, &tm) == NULL)
		return;
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

void
log_init(const char *procname, bool use_syslog, enum log_level lvl)
{
	log_procname = procname;
	log_syslog = use_syslog;
	log_max = lvl;
	log_stamp = !use_syslog && !log_to_journal();
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
log_keep_first_warning(char *buf, size_t size)
{
	log_kept = buf;
	log_kept_size = size;
	if (buf != NULL && size > 0)
		buf[0] = '\0';
}

void
log_init_tool(const char *name)
{
	log_init(name, false, LOG_LVL_WARN);
	log_plain = true;
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

void
log_forget(void)
{
	if (log_syslog)
		closelog();
}

int
log_level_parse(const char *s, enum log_level *lvl)
{
	static const char *const names[] = { "error", "warning", "info",
	    "debug" };

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
	char		 msg[1024], stamp[64];
	int		 saved = errno;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (lvl <= LOG_LVL_WARN && log_kept != NULL && log_kept[0] == '\0')
		(void)snprintf(log_kept, log_kept_size, "%s%s%s", msg,
		    errstr ? ": " : "", errstr ? errstr : "");
	if (lvl > log_max) {
		errno = saved;
		return;
	}
	if (log_syslog) {
		if (errstr)
			syslog(prio[lvl], "%s: %s: %s", log_procname, msg,
			    errstr);
		else
			syslog(prio[lvl], "%s: %s", log_procname, msg);
	} else if (log_plain) {
		if (errstr)
			fprintf(stderr, "%s: %s: %s\n", log_procname, msg,
			    errstr);
		else
			fprintf(stderr, "%s: %s\n", log_procname, msg);
	} else {
		log_time(stamp, sizeof(stamp));
		if (errstr)
			fprintf(stderr, "%s%s[%d]: %s: %s\n", stamp,
			    log_procname, (int)getpid(), msg, errstr);
		else
			fprintf(stderr, "%s%s[%d]: %s\n", stamp, log_procname,
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
