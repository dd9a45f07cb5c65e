/*
 * Where the password comes from: a private file or the terminal. Never
 * from the command line, which every local user can read in /proc.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"

void
cli_wipe(void *p, size_t n)
{
	explicit_bzero(p, n);
}

/* The first line of buf, without its line end; -1 if empty or too long. */
static int
first_line(char *buf, size_t len, size_t outlen)
{
	char	*nl = memchr(buf, '\n', len);

	if (nl != NULL)
		len = (size_t)(nl - buf);
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	if (len == 0 || len >= outlen || memchr(buf, '\0', len) != NULL)
		return -1;
	buf[len] = '\0';
	return 0;
}

static int
read_private(int fd, const char *path, char *buf, size_t buflen, size_t *lenp,
    char *err, size_t errlen)
{
	struct stat	 st;
	ssize_t		 n;
	size_t		 len = 0;

	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "password file %s: %s", path,
		    strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "password file %s: not a regular file",
		    path);
		return -1;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		snprintf(err, errlen, "password file %s is accessible by group "
		    "or others (mode %04o); refusing it: run chmod 600 %s",
		    path, (unsigned)(st.st_mode & 07777), path);
		return -1;
	}
	if (st.st_uid != geteuid() && st.st_uid != 0) {
		snprintf(err, errlen, "password file %s belongs to uid %u, not "
		    "to you; refusing it", path, (unsigned)st.st_uid);
		return -1;
	}
	while (len < buflen &&
	    (n = read(fd, buf + len, buflen - len)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(err, errlen, "password file %s: %s", path,
			    strerror(errno));
			return -1;
		}
		len += (size_t)n;
	}
	*lenp = len;
	return 0;
}

int
cli_password_file(const char *path, char *out, size_t outlen, char *err,
    size_t errlen)
{
	char	 buf[CLI_PASSWORD_MAX + 3];
	size_t	 len;
	int	 fd, r = -1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
	    O_NOCTTY)) == -1) {
		snprintf(err, errlen, "password file %s: %s", path,
		    strerror(errno));
		return -1;
	}
	if (read_private(fd, path, buf, sizeof(buf), &len, err, errlen) == -1)
		goto out;
	if (first_line(buf, len, outlen) == -1) {
		snprintf(err, errlen, "password file %s: first line empty or "
		    "longer than %zu bytes", path, outlen - 1);
		goto out;
	}
	memcpy(out, buf, strlen(buf) + 1);
	r = 0;
 out:
	cli_wipe(buf, sizeof(buf));
	close(fd);
	return r;
}

static volatile sig_atomic_t caught;

static void
catch(int sig)
{
	caught = sig;
}

static const int prompt_signals[] = {
	SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP, SIGTTIN, SIGTTOU
};
#define NSIGNALS (sizeof(prompt_signals) / sizeof(prompt_signals[0]))

static int
read_line(int fd, char *buf, size_t buflen, size_t *lenp)
{
	size_t	 len = 0;
	ssize_t	 n;

	while (len < buflen) {
		if ((n = read(fd, buf + len, buflen - len)) <= 0)
			return n == 0 && len > 0 ? 0 : -1;
		len += (size_t)n;
		if (memchr(buf + len - n, '\n', (size_t)n) != NULL)
			break;
	}
	*lenp = len;
	return 0;
}

/*
 * Like readpassphrase(3): echo off on /dev/tty, and a signal during the
 * prompt restores the terminal before it takes effect.
 */
int
cli_password_prompt(const char *prompt, char *out, size_t outlen, char *err,
    size_t errlen)
{
	struct sigaction sa = { .sa_handler = catch };
	struct sigaction old[NSIGNALS];
	struct termios	 saved, quiet;
	char		 buf[CLI_PASSWORD_MAX + 3];
	size_t		 len = 0;
	int		 fd, r;

	if ((fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)) == -1 ||
	    tcgetattr(fd, &saved) == -1) {
		snprintf(err, errlen, "no password: set TUNNELGATE_PASSWORD, use "
		    "--password-file FILE, or run from a terminal");
		if (fd != -1)
			close(fd);
		return -1;
	}
	caught = 0;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < NSIGNALS; i++)
		if (sigaction(prompt_signals[i], &sa, &old[i]) == -1)
			old[i] = (struct sigaction){ .sa_handler = SIG_DFL };
	quiet = saved;
	quiet.c_lflag &= (tcflag_t)~(ECHO | ECHONL);
	quiet.c_lflag |= ICANON;
	r = tcsetattr(fd, TCSAFLUSH, &quiet);
	if (r == 0 && write(fd, prompt, strlen(prompt)) == -1)
		r = -1;
	if (r == 0)
		r = read_line(fd, buf, sizeof(buf), &len);
	if (tcsetattr(fd, TCSAFLUSH, &saved) == -1 || write(fd, "\n", 1) == -1)
		r = -1;
	close(fd);
	for (size_t i = 0; i < NSIGNALS; i++)
		if (sigaction(prompt_signals[i], &old[i], NULL) == -1)
			r = -1;
	if (caught != 0)
		raise(caught);
	if (r == 0 && (r = first_line(buf, len, outlen)) == 0)
		memcpy(out, buf, strlen(buf) + 1);
	else
		snprintf(err, errlen, "no password read from the terminal");
	cli_wipe(buf, sizeof(buf));
	return r;
}
