/*
 * Command-line syntax: -L specifications, durations, counts, and the map
 * from library codes to exit statuses.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void
cli_warnx(const char *fmt, ...)
{
	char	 line[1024];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* Arguments and peers' words are quoted: keep the terminal safe. */
	for (char *p = line; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	fprintf(stderr, "tunnelgate: %s\n", line);
}

/* Split on ':' outside brackets into at most four fields. */
static int
split_fields(char *s, char *fields[4])
{
	int	 n = 0;
	char	*p;

	for (;;) {
		if (n == 4)
			return -1;
		fields[n++] = s;
		p = s;
		if (*p == '[' && (p = strchr(p, ']')) == NULL)
			return -1;
		if ((s = strchr(p, ':')) == NULL)
			return n;
		*s++ = '\0';
	}
}

static int
valid_port(const char *s, int zero_ok)
{
	char		*end;
	unsigned long	 v;

	if (*s < '0' || *s > '9')
		return 0;
	errno = 0;
	v = strtoul(s, &end, 10);
	return errno == 0 && *end == '\0' && v <= 65535 && (zero_ok || v > 0);
}

static int
bind_host(const char *s, struct forward *f)
{
	size_t	 n = strlen(s);

	if (n == 0 || strcmp(s, "*") == 0) {
		f->bind_host[0] = '\0';
		return 0;
	}
	if (s[0] == '[') {
		if (n < 3 || s[n - 1] != ']')
			return -1;
		s++;
		n -= 2;
	}
	if (n > CLI_HOST_MAX || memchr(s, '[', n) || memchr(s, ']', n))
		return -1;
	memcpy(f->bind_host, s, n);
	f->bind_host[n] = '\0';
	return 0;
}

/* [ADDR:]PORT:TARGET:PORT; ADDR is loopback unless given ("*": all). */
int
cli_parse_forward(const char *spec, struct forward *f, char *err,
    size_t errlen)
{
	char	 copy[CLI_HOST_MAX + CLI_TARGET_MAX + 16], *fld[4];
	int	 n, i;

	memset(f, 0, sizeof(*f));
	if (strlen(spec) >= sizeof(copy) ||
	    (n = split_fields(memcpy(copy, spec, strlen(spec) + 1), fld)) < 3) {
		snprintf(err, errlen, "-L %s: expected [ADDR:]PORT:TARGET:PORT",
		    spec);
		return -1;
	}
	i = n - 3;
	if (i == 1 && bind_host(fld[0], f) == -1) {
		snprintf(err, errlen, "-L %s: bad bind address %s", spec, fld[0]);
		return -1;
	}
	if (i == 0)
		snprintf(f->bind_host, sizeof(f->bind_host), "127.0.0.1");
	if (!valid_port(fld[i], 1)) {
		snprintf(err, errlen, "-L %s: bad local port %s", spec, fld[i]);
		return -1;
	}
	snprintf(f->bind_port, sizeof(f->bind_port), "%s", fld[i]);
	if (snprintf(f->target, sizeof(f->target), "%s:%s", fld[i + 1],
	    fld[i + 2]) >= (int)sizeof(f->target) ||
	    tg_target_check(f->target) != TG_OK) {
		snprintf(err, errlen, "-L %s: bad target %s:%s (expected "
		    "HOST:PORT or [IPv6]:PORT)", spec, fld[i + 1], fld[i + 2]);
		return -1;
	}
	return 0;
}

int
cli_parse_seconds(const char *s, unsigned int *ms)
{
	char	*end;
	double	 v;

	if ((*s < '0' || *s > '9') && *s != '.')
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !isfinite(v) ||
	    v < 0.001 || v > 86400)
		return -1;
	*ms = (unsigned int)(v * 1000 + 0.5);
	return 0;
}

int
cli_parse_count(const char *s, unsigned long min, unsigned long max,
    unsigned long *out)
{
	char		*end;
	unsigned long	 v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
cli_exit_code(int code, int http_status)
{
	switch (code) {
	case TG_OK:
		return EXIT_OK;
	case TG_ERR_INVALID:
	case TG_ERR_FILE:
		return EXIT_USAGE;
	case TG_ERR_RESOLVE:
		return EXIT_RESOLVE;
	case TG_ERR_CONNECT:
		return EXIT_CONNECT;
	case TG_ERR_TLS:
		return EXIT_TLS;
	case TG_ERR_TIMEOUT:
		return EXIT_TIMEOUT;
	case TG_ERR_PROTOCOL:
		return EXIT_PROTOCOL;
	case TG_ERR_CUT:
		return EXIT_CUT;
	case TG_ERR_FORBIDDEN:
		return EXIT_403;
	case TG_ERR_AUTH:
		return EXIT_407;
	case TG_ERR_BAD_GATEWAY:
		return EXIT_502;
	case TG_ERR_UNAVAILABLE:
		return EXIT_503;
	case TG_ERR_GATEWAY_TIMEOUT:
		return EXIT_504;
	case TG_ERR_REFUSED:
		return http_status >= 500 ? EXIT_5XX : EXIT_4XX;
	default:
		return EXIT_LOCAL;
	}
}
