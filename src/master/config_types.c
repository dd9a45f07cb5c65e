/*
 * The types of tunnelgated.conf's settings: the handlers the schema's rows
 * name to check a value's type and range and store it in its field.
 */
#include <arpa/inet.h>
#include <libconfig.h>
#include <math.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "config_priv.h"
#include "netaddr.h"

void
h_group(struct cfg_ctx *ctx, const config_setting_t *s,
    const struct cfg_rule *r, void *base)
{
	cfg_walk(ctx, s, r->members, base);
}

/* A group whose members are fields of the struct at r->off. */
void
h_subgroup(struct cfg_ctx *ctx, const config_setting_t *s,
    const struct cfg_rule *r, void *base)
{
	cfg_walk(ctx, s, r->members, (char *)base + r->off);
}

static int
cfg_get_int(struct cfg_ctx *ctx, const config_setting_t *s,
    const struct cfg_rule *r, long long *v)
{
	*v = config_setting_get_int64(s);
	if (*v < r->min || *v > r->max) {
		cfg_err(ctx, s, "%lld is out of range; use a value from %lld "
		    "to %lld", *v, r->min, r->max);
		return -1;
	}
	return 0;
}

/*
 * Integer fields are uint16_t or a 32-bit unsigned or int; the range is
 * non-negative, and an int may be stored through its unsigned type.
 */
void
h_int(struct cfg_ctx *ctx, const config_setting_t *s,
    const struct cfg_rule *r, void *base)
{
	long long	 v;

	if (cfg_get_int(ctx, s, r, &v) == -1)
		return;
	if (r->size == sizeof(uint16_t))
		*(uint16_t *)((char *)base + r->off) = (uint16_t)v;
	else
		*(unsigned *)((char *)base + r->off) = (unsigned)v;
}

/* r->min is 0 where zero is allowed (TTLs), else 1: "more than zero". */
void
h_seconds(struct cfg_ctx *ctx, const config_setting_t *s,
    const struct cfg_rule *r, void *base)
{
	double		 secs;
	unsigned	 ms;

	if (config_setting_type(s) == CONFIG_TYPE_FLOAT)
		secs = config_setting_get_float(s);
	else
		secs = (double)config_setting_get_int64(s);
	/* A min above 1 ms is a floor of its own, not just "more than 0". */
	if (r->min > 1 && (!isfinite(secs) || secs * 1000.0 < (double)r->min ||
	    secs * 1000.0 > (double)r->max)) {
		cfg_err(ctx, s, "%g seconds is out of range; use a duration "
		    "from %g to %lld seconds", secs, (double)r->min / 1000.0,
		    r->max / 1000);
		return;
	}
	if (!isfinite(secs) || secs < 0 || (secs == 0 && r->min > 0) ||
	    secs * 1000.0 > (double)r->max) {
		cfg_err(ctx, s, "%g seconds is out of range; use a duration "
		    "%s %lld seconds", secs, r->min > 0 ?
		    "more than 0 and at most" : "from 0 to", r->max / 1000);
		return;
	}
	ms = (unsigned)(secs * 1000.0 + 0.5);
	if (ms == 0 && secs > 0)
		ms = 1;
	*(unsigned *)((char *)base + r->off) = ms;
}

void
h_bool(struct cfg_ctx *ctx, const config_setting_t *s,
    const struct cfg_rule *r, void *base)
{
	(void)ctx;
	*(bool *)((char *)base + r->off) = config_setting_get_bool(s) != 0;
}

/* The string, if it fits the field of r; NULL after logging otherwise. */
const char *
cfg_get_string(struct cfg_ctx *ctx, const config_setting_t *s,
    const struct cfg_rule *r)
{
	const char	*str = config_setting_get_string(s);
	size_t		 len = strlen(str);

	if (len >= r->size) {
		cfg_err(ctx, s, "is %zu bytes long; the limit is %zu bytes, "
		    "shorten it", len, r->size - 1);
		return NULL;
	}
	return str;
}

void
h_string(struct cfg_ctx *ctx, const config_setting_t *s,
    const struct cfg_rule *r, void *base)
{
	const char	*str;

	if ((str = cfg_get_string(ctx, s, r)) != NULL)
		memcpy((char *)base + r->off, str, strlen(str) + 1);
}

void
h_path(struct cfg_ctx *ctx, const config_setting_t *s,
    const struct cfg_rule *r, void *base)
{
	const char	*str = config_setting_get_string(s);

	if (str[0] == '\0') {
		cfg_err(ctx, s, "is empty; set a file or directory name");
		return;
	}
	if (cfg_resolve(ctx, str, (char *)base + r->off, r->size) == -1)
		cfg_err(ctx, s, "resolves to a path longer than %zu bytes; "
		    "use a shorter path", r->size - 1);
}

void
h_path_or_empty(struct cfg_ctx *ctx, const config_setting_t *s,
    const struct cfg_rule *r, void *base)
{
	if (config_setting_get_string(s)[0] == '\0')
		*((char *)base + r->off) = '\0';
	else
		h_path(ctx, s, r, base);
}

int
cfg_inet_pton(const char *address, int *af, unsigned char *bin)
{
	*af = AF_INET;
	if (inet_pton(AF_INET, address, bin) == 1)
		return 0;
	*af = AF_INET6;
	if (inet_pton(AF_INET6, address, bin) == 1)
		return 0;
	return -1;
}

void
h_address(struct cfg_ctx *ctx, const config_setting_t *s,
    const struct cfg_rule *r, void *base)
{
	unsigned char	 bin[16];
	const char	*str;
	int		 af;

	if ((str = cfg_get_string(ctx, s, r)) == NULL)
		return;
	if (cfg_inet_pton(str, &af, bin) == -1) {
		cfg_err(ctx, s, "\"%.64s\" is not a numeric IPv4 or IPv6 "
		    "address; use one such as 127.0.0.1, 0.0.0.0 or ::1 (names "
		    "are not resolved)", str);
		return;
	}
	h_string(ctx, s, r, base);
}

static bool
cfg_is_loopback(const struct sockaddr_storage *ss)
{
	static const uint8_t	 v6_loopback[16] = { [15] = 1 };

	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr)
		    >> 24) == 127;
	return memcmp(&((const struct sockaddr_in6 *)ss)->sin6_addr,
	    v6_loopback, sizeof(v6_loopback)) == 0;
}

/*
 * metrics.listen: "" (off), a loopback "ADDR:PORT" / "[::1]:PORT", or a
 * Unix socket path. Text with a colon and no slash is meant as an address.
 */
void
h_metrics_listen(struct cfg_ctx *ctx, const config_setting_t *s,
    const struct cfg_rule *r, void *base)
{
	struct sockaddr_storage	 ss;
	const char		*str;

	if ((str = cfg_get_string(ctx, s, r)) == NULL)
		return;
	if (str[0] == '\0' || (strchr(str, ':') == NULL ||
	    strchr(str, '/') != NULL)) {
		h_path_or_empty(ctx, s, r, base);
		return;
	}
	if (netaddr_parse(str, &ss) == -1 || (ss.ss_family == AF_INET ?
	    ((const struct sockaddr_in *)&ss)->sin_port :
	    ((const struct sockaddr_in6 *)&ss)->sin6_port) == 0) {
		cfg_err(ctx, s, "\"%.64s\" is neither ADDRESS:PORT (such as "
		    "127.0.0.1:9190 or [::1]:9190, port not 0) nor a socket "
		    "path (such as /run/tunnelgated/metrics.sock)", str);
		return;
	}
	if (!cfg_is_loopback(&ss)) {
		cfg_err(ctx, s, "\"%.64s\" is not a loopback address; metrics "
		    "are served on 127.0.0.0/8 or ::1 only (put a proxy in "
		    "front to publish them elsewhere)", str);
		return;
	}
	h_string(ctx, s, r, base);
}
