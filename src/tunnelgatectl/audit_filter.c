#include <arpa/inet.h>
#include <fnmatch.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "audit_cmd.h"

int
audit_filter_time(const char *arg, char out[AUDIT_TIME_LEN + 1])
{
	/* d: a digit; T: 'T' or ' '; what it is filled with where not given. */
	static const char	 form[] = "dddd-dd-ddTdd:dd:dd.dddZ";
	static const char	 fill[] = "0000-01-01T00:00:00.000Z";
	size_t			 n = strlen(arg), i;

	if (n > 0 && arg[n - 1] == 'Z')
		n--;
	if (n != 10 && n != 16 && n != 19 && n != 23)
		return -1;
	memcpy(out, fill, sizeof(fill));
	for (i = 0; i < n; i++) {
		char	 c = arg[i];

		if (form[i] == 'd' ? c < '0' || c > '9' :
		    form[i] == 'T' ? c != 'T' && c != ' ' : c != form[i])
			return -1;
		out[i] = form[i] == 'T' ? 'T' : c;
	}
	return 0;
}

/* "key":"value" if value needs no escaping as tunnelgated writes it. */
static int
filter_needle(struct audit_filter *f, const char *key, const char *value)
{
	size_t	 n;
	char	*s;

	if (value == NULL)
		return 0;
	for (const unsigned char *u = (const unsigned char *)value; *u; u++)
		if (*u < 0x20 || *u >= 0x7f || *u == '"' || *u == '\\')
			return 0;
	n = strlen(key) + strlen(value) + 6;
	if ((s = malloc(n + 1)) == NULL)
		return -1;
	snprintf(s, n + 1, "\"%s\":\"%s\"", key, value);
	f->needle[f->nneedles++] = s;
	return 0;
}

int
audit_filter_prepare(struct audit_filter *f)
{
	if (filter_needle(f, "event", f->event) == -1 ||
	    filter_needle(f, "user", f->user) == -1 ||
	    filter_needle(f, "tunnel", f->tunnel) == -1 ||
	    filter_needle(f, "rule", f->rule) == -1)
		return -1;
	return 0;
}

void
audit_filter_free(struct audit_filter *f)
{
	for (size_t i = 0; i < f->nneedles; i++)
		free(f->needle[i]);
	f->nneedles = 0;
}

bool
audit_filter_may_match(const struct audit_filter *f, const char *line,
    size_t len)
{
	static const char	 ours[] = "{\"v\":";

	/*
	 * Only for lines as tunnelgated writes them (no blank, its own
	 * escaping) and with no escape at all: then "key":"value" cannot
	 * hide inside another string, nor the value be spelt otherwise.
	 */
	if (f->nneedles == 0 || len < sizeof(ours) ||
	    memcmp(line, ours, sizeof(ours) - 1) != 0 ||
	    memchr(line, '\\', len) != NULL)
		return true;
	for (size_t i = 0; i < f->nneedles; i++)
		if (memmem(line, len, f->needle[i], strlen(f->needle[i])) == NULL)
			return false;
	return true;
}

void
audit_client_addr(const char *client, char *out, size_t outlen)
{
	const char	*end;
	size_t		 n;

	if (client[0] == '[') {
		client++;
		end = strchr(client, ']');
	} else {
		end = strchr(client, ':');
		/* Two colons and no brackets: a bare IPv6 address. */
		if (end != NULL && strchr(end + 1, ':') != NULL)
			end = NULL;
	}
	n = end != NULL ? (size_t)(end - client) : strlen(client);
	if (n >= outlen)
		n = 0;
	memcpy(out, client, n);
	out[n] = '\0';
}

bool
audit_client_in(const char *client, const struct netaddr_net *net)
{
	char			 host[NETADDR_STR_MAX];
	struct sockaddr_in	 s4 = { .sin_family = AF_INET };
	struct sockaddr_in6	 s6 = { .sin6_family = AF_INET6 };

	audit_client_addr(client, host, sizeof(host));
	if (inet_pton(AF_INET, host, &s4.sin_addr) == 1)
		return netaddr_net_contains(net, (struct sockaddr *)&s4);
	if (inet_pton(AF_INET6, host, &s6.sin6_addr) == 1)
		return netaddr_net_contains(net, (struct sockaddr *)&s6);
	return false;
}

static bool
eq(const char *want, const char *have)
{
	return want == NULL || strcmp(want, have) == 0;
}

bool
audit_filter_match(const struct audit_filter *f, const struct audit_entry *e)
{
	if (f->since[0] != '\0' && strcmp(e->time, f->since) < 0)
		return false;
	if (f->until[0] != '\0' && strcmp(e->time, f->until) >= 0)
		return false;
	if (!eq(f->user, e->user) || !eq(f->event, e->event) ||
	    !eq(f->rule, e->rule) || !eq(f->tunnel, e->tunnel))
		return false;
	if (f->target != NULL && fnmatch(f->target, e->target, 0) != 0)
		return false;
	if (f->has_client && !audit_client_in(e->client, &f->client))
		return false;
	return true;
}
