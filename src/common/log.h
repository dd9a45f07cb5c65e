/*
 * Daemon diagnostics to stderr or syslog. The audit log is separate
 * (audit.h) and these messages never carry credentials.
 */
#ifndef TG_LOG_H
#define TG_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

enum log_level { LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

void	 log_init(const char *procname, bool use_syslog, enum log_level);
/* A command the admin runs: "name: message" on stderr, warnings and up. */
void	 log_init_tool(const char *name);
void	 log_set_procname(const char *procname);
/*
 * Until called again with NULL, copy the first warning or error logged
 * into buf: what a caller reports elsewhere (a refused reload's reason).
 */
void	 log_keep_first_warning(char *buf, size_t size);
/*
 * In a forked child: a fresh syslog connection of its own, made after the
 * child enters its network namespace and before it is chrooted.
 */
void	 log_reopen(void);
/*
 * In a forked child about to move its descriptors around: drop the syslog
 * socket without reusing its number; the next message connects afresh.
 */
void	 log_forget(void);
int	 log_level_parse(const char *, enum log_level *);

/* The _x variants omit errno; the others append strerror(errno). */
void	 log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
__attribute__((noreturn)) void fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2)));
__attribute__((noreturn)) void fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2)));

#endif
