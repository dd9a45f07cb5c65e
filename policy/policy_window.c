/*
 * A rule's time limits: max_duration (how long a tunnel it allowed may
 * live) and window (the days and hours, in a named zone, when it allows).
 * Parsed here at load time with their zone files; checked by
 * policy_check() at open and by the master on live tunnels.
 */
#include <libconfig.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy.h"
#include "policy_priv.h"

#define DAY_S		86400
#define MAX_DURATION_S	(366u * DAY_S)

static const char *const day_names[7] = { "sun", "mon", "tue", "wed", "thu",
    "fri", "sat" };

/* "90", "90s", "30m", "8h", "2d", "1h30m"; 0 if not that. */
static uint32_t
duration_parse(const char *s)
{
	uint64_t	 total = 0, n;
	unsigned	 unit;

	if (*s == '\0')
		return 0;
	while (*s != '\0') {
		if (!policy_isdigit(*s))
			return 0;
		for (n = 0; policy_isdigit(*s) && n <= MAX_DURATION_S; s++)
			n = n * 10 + (unsigned)(*s - '0');
		switch (*s) {
		case 'd': unit = DAY_S; s++; break;
		case 'h': unit = 3600; s++; break;
		case 'm': unit = 60; s++; break;
		case 's': unit = 1; s++; break;
		case '\0': unit = 1; break;
		default: return 0;
		}
		if (n > MAX_DURATION_S || (total += n * unit) > MAX_DURATION_S)
			return 0;
	}
	return (uint32_t)total;
}

static void
max_duration_parse(struct policy_load *l, const config_setting_t *s,
    const char *where, struct policy_rule *r)
{
	char		 q[POLICY_QBUF];
	long long	 n;

	if (config_setting_type(s) == CONFIG_TYPE_INT ||
	    config_setting_type(s) == CONFIG_TYPE_INT64) {
		n = config_setting_get_int64(s);
		if (n > 0 && n <= MAX_DURATION_S)
			r->max_duration = (uint32_t)n;
		else
			policy_err(l, policy_line(s), where, "%lld: must be 1 "
			    "to %u seconds", n, MAX_DURATION_S);
		return;
	}
	if (config_setting_type(s) == CONFIG_TYPE_STRING &&
	    (r->max_duration = duration_parse(config_setting_get_string(s)))
	    != 0)
		return;
	policy_err(l, policy_line(s), where, "%s: must be a duration of 1 s "
	    "to 366 d such as \"90s\", \"30m\", \"8h\", \"1h30m\" or \"2d\"",
	    config_setting_type(s) == CONFIG_TYPE_STRING ? policy_quote(q,
	    sizeof(q), config_setting_get_string(s)) : "not a string");
}

static int
day_index(const char *s, size_t len)
{
	int	 i;

	for (i = 0; i < 7; i++)
		if (len == 3 && strncmp(s, day_names[i], 3) == 0)
			return i;
	return -1;
}

/* "mon", or "mon-fri" (wrapping past sunday: "fri-mon"). */
static bool
days_entry(const char *s, uint8_t *days)
{
	const char	*dash = strchr(s, '-');
	int		 a, b;

	if (dash == NULL) {
		if ((a = day_index(s, strlen(s))) == -1)
			return false;
		*days |= (uint8_t)(1u << a);
		return true;
	}
	if ((a = day_index(s, (size_t)(dash - s))) == -1 ||
	    (b = day_index(dash + 1, strlen(dash + 1))) == -1)
		return false;
	for (;; a = (a + 1) % 7) {
		*days |= (uint8_t)(1u << a);
		if (a == b)
			return true;
	}
}

static void
days_parse(struct policy_load *l, const config_setting_t *s,
    const char *where, struct policy_rule *r)
{
	const config_setting_t	*e;
	char			 ew[POLICY_WHERE + 48], q[POLICY_QBUF];
	const char		*v;
	int			 i, n;

	if (!config_setting_is_array(s) && !config_setting_is_list(s)) {
		policy_err(l, policy_line(s), where, "must be a list, e.g. "
		    "days = [ \"mon-fri\" ];");
		return;
	}
	if ((n = config_setting_length(s)) == 0 || n > 7) {
		policy_err(l, policy_line(s), where, "give 1 to 7 entries, e.g. "
		    "days = [ \"mon-fri\", \"sun\" ];");
		return;
	}
	for (i = 0; i < n; i++) {
		e = config_setting_get_elem(s, (unsigned)i);
		snprintf(ew, sizeof(ew), "%s[%d]", where, i);
		if ((v = policy_elem_string(l, e, ew, "\"mon-fri\"")) != NULL &&
		    !days_entry(v, &r->days))
			policy_err(l, policy_line(e), ew, "%s: must be a day "
			    "(mon tue wed thu fri sat sun) or a range of them "
			    "such as \"mon-fri\"", policy_quote(q, sizeof(q),
			    v));
	}
}

/* "HH:MM" or "HH:MM:SS", 00:00 to 24:00; *s moves past it. */
static bool
clock_parse(const char **s, uint32_t *secs)
{
	const char	*p = *s;
	unsigned	 v[3] = { 0, 0, 0 }, i;

	for (i = 0; i < 3; i++) {
		if (i > 0 && *p != ':')
			break;
		if (i > 0)
			p++;
		if (!policy_isdigit(p[0]) || !policy_isdigit(p[1]))
			return false;
		v[i] = (unsigned)(p[0] - '0') * 10 + (unsigned)(p[1] - '0');
		p += 2;
	}
	if (i < 2 || v[1] > 59 || v[2] > 59 || v[0] > 24 ||
	    (v[0] == 24 && (v[1] | v[2]) != 0))
		return false;
	*secs = v[0] * 3600 + v[1] * 60 + v[2];
	*s = p;
	return true;
}

static void
hours_parse(struct policy_load *l, const config_setting_t *s,
    const char *where, struct policy_rule *r)
{
	char		 q[POLICY_QBUF];
	const char	*v, *p;

	if ((v = policy_elem_string(l, s, where, "hours = \"08:00-18:00\";"))
	    == NULL)
		return;
	p = v;
	if (clock_parse(&p, &r->win_start) && *p++ == '-' &&
	    clock_parse(&p, &r->win_end) && *p == '\0' &&
	    r->win_start != r->win_end && r->win_start != DAY_S)
		return;
	policy_err(l, policy_line(s), where, "%s: must be \"HH:MM-HH:MM\" or "
	    "\"HH:MM:SS-HH:MM:SS\" from 00:00 to 24:00, start and end "
	    "differing (an end before the start runs past midnight), e.g. "
	    "\"08:00-18:00\"", policy_quote(q, sizeof(q), v));
}

static void
tz_parse(struct policy_load *l, const config_setting_t *s, const char *where,
    struct policy_rule *r)
{
	struct policy		*p = l->p;
	struct policy_tz	 tz, *zones;
	char			 err[256], q[POLICY_QBUF];
	const char		*v;
	size_t			 i;

	if ((v = policy_elem_string(l, s, where, "tz = \"Europe/Berlin\";")) ==
	    NULL)
		return;
	for (i = 0; i < p->n_zones; i++)
		if (strcmp(p->zones[i].name, v) == 0) {
			r->zone = (uint32_t)i;
			return;
		}
	if (policy_tz_load(v, &tz, err, sizeof(err)) == -1) {
		policy_err(l, policy_line(s), where, "%s: %s",
		    policy_quote(q, sizeof(q), v), err);
		return;
	}
	/* Slim zone files leave today's rules to the footer, unread here. */
	if (tz.footer_dst && (tz.n_times == 0 ||
	    tz.times[tz.n_times - 1] < (int64_t)time(NULL) + 366 * DAY_S)) {
		policy_err(l, policy_line(s), where, "%s: the zone file lists "
		    "no transitions for the coming year (a \"slim\" file); "
		    "install tz data built with zic -b fat",
		    policy_quote(q, sizeof(q), v));
		policy_tz_free(&tz);
		return;
	}
	if ((zones = reallocarray(p->zones, p->n_zones + 1,
	    sizeof(*zones))) == NULL) {
		policy_tz_free(&tz);
		policy_nomem(l);
		return;
	}
	p->zones = zones;
	r->zone = (uint32_t)p->n_zones;
	p->zones[p->n_zones++] = tz;
}

static void
window_parse(struct policy_load *l, const config_setting_t *w,
    const char *where, struct policy_rule *r)
{
	static const char *const known[] = { "days", "hours", "tz", NULL };
	const config_setting_t	*m;
	char			 mw[POLICY_WHERE + 24];
	int			 i, k, n;

	if (!config_setting_is_group(w)) {
		policy_err(l, policy_line(w), where, "must be a group, e.g. "
		    "window = { days = [ \"mon-fri\" ]; hours = \"08:00-18:00\"; "
		    "tz = \"Europe/Berlin\"; };");
		return;
	}
	r->has_window = true;
	r->days = 0x7f;
	n = config_setting_length(w);
	for (i = 0; i < n; i++) {
		m = config_setting_get_elem(w, (unsigned)i);
		snprintf(mw, sizeof(mw), "%s.%s", where, config_setting_name(m));
		for (k = 0; known[k] != NULL &&
		    strcmp(known[k], config_setting_name(m)) != 0; k++)
			;
		if (k == 0) {
			r->days = 0;
			days_parse(l, m, mw, r);
		} else if (k == 1)
			hours_parse(l, m, mw, r);
		else if (k == 2)
			tz_parse(l, m, mw, r);
		else
			policy_err(l, policy_line(m), mw, "unknown setting; a "
			    "window has days, hours and tz");
	}
	for (k = 1; k <= 2; k++)
		if (config_setting_get_member(w, known[k]) == NULL)
			policy_err(l, policy_line(w), where, "no %s; e.g. %s",
			    known[k], k == 1 ? "hours = \"08:00-18:00\";" :
			    "tz = \"UTC\";");
}

void
policy_rule_time_parse(struct policy_load *l, const config_setting_t *rs,
    const char *rwhere, struct policy_rule *r)
{
	static const char *const keys[] = { "max_duration", "window" };
	const config_setting_t	*s;
	char			 where[POLICY_WHERE];
	const char		*action;
	size_t			 k;

	for (k = 0; k < 2; k++) {
		if ((s = config_setting_get_member(rs, keys[k])) == NULL)
			continue;
		snprintf(where, sizeof(where), "%s.%s", rwhere, keys[k]);
		if (config_setting_lookup_string(rs, "action", &action) &&
		    strcmp(action, "deny") == 0) {
			policy_err(l, policy_line(s), where, "only allow rules "
			    "take %s; a deny rule denies at any time",
			    keys[k]);
			continue;
		}
		if (k == 0)
			max_duration_parse(l, s, where, r);
		else
			window_parse(l, s, where, r);
	}
}

void
policy_zones_free(struct policy *p)
{
	size_t	 i;

	for (i = 0; i < p->n_zones; i++)
		policy_tz_free(&p->zones[i]);
	free(p->zones);
}

static int64_t
floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b < 0);
}

bool
policy_rule_window_open(const struct policy *p, size_t idx, int64_t now,
    int64_t *ends)
{
	const struct policy_rule	*r = &p->rules[idx];
	int64_t				 local, day, tod;
	unsigned			 wday, yday;

	*ends = 0;
	if (!r->has_window)
		return true;
	local = now + policy_tz_offset(&p->zones[r->zone], now);
	day = floor_div(local, DAY_S);
	tod = local - day * DAY_S;
	/* 1970-01-01 was a thursday. */
	wday = (unsigned)((day % 7 + 7 + 4) % 7);
	yday = (wday + 6) % 7;
	if (r->win_start < r->win_end) {
		if (!(r->days & (1u << wday)) || tod < r->win_start ||
		    tod >= r->win_end)
			return false;
		*ends = now + (r->win_end - tod);
		return true;
	}
	/* Past midnight: the days are those the window starts on. */
	if ((r->days & (1u << wday)) && tod >= r->win_start) {
		*ends = now + (DAY_S - tod) + r->win_end;
		return true;
	}
	if ((r->days & (1u << yday)) && tod < r->win_end) {
		*ends = now + (r->win_end - tod);
		return true;
	}
	return false;
}

static size_t
clock_format(char *buf, size_t size, uint32_t s)
{
	if (s % 60 != 0)
		return (size_t)snprintf(buf, size, "%02u:%02u:%02u", s / 3600,
		    s / 60 % 60, s % 60);
	return (size_t)snprintf(buf, size, "%02u:%02u", s / 3600, s / 60 % 60);
}

void
policy_rule_time(const struct policy *p, size_t idx,
    struct policy_rule_limits *lim)
{
	const struct policy_rule	*r = &p->rules[idx];
	char				*b = lim->window;
	size_t				 o = 0, sz = sizeof(lim->window);
	unsigned			 i;

	lim->max_duration = r->max_duration;
	lim->has_window = r->has_window;
	b[0] = '\0';
	if (!r->has_window)
		return;
	for (i = 1; i <= 7 && r->days != 0x7f; i++)
		if (r->days & (1u << (i % 7)))
			o += (size_t)snprintf(b + o, sz - o, "%s%s",
			    o > 0 ? "," : "", day_names[i % 7]);
	if (o > 0)
		b[o++] = ' ';
	o += clock_format(b + o, sz - o, r->win_start);
	b[o++] = '-';
	o += clock_format(b + o, sz - o, r->win_end);
	(void)snprintf(b + o, sz - o, " %s", p->zones[r->zone].name);
}

bool
policy_has_time_limits(const struct policy *p)
{
	size_t	 i;

	for (i = 0; p != NULL && i < p->n_rules; i++)
		if (p->rules[i].max_duration != 0 || p->rules[i].has_window)
			return true;
	return false;
}
