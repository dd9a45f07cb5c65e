/*
 * Loaded policy, shared by the loader (policy.c, policy_prescan.c,
 * policy_entry.c) and the matcher (policy_match.c) only. Everything
 * policy_check() compares was parsed, lowercased and masked at load time;
 * entries of all rules live in a few flat arrays and each rule holds spans
 * into them, so a policy is six allocations whatever its size.
 */
#ifndef TG_POLICY_PRIV_H
#define TG_POLICY_PRIV_H

#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"
#include "policy_tz.h"
#include "tg_limits.h"

#define POLICY_MAX_BYTES	(4u * 1024 * 1024)	/* policy text */
#define POLICY_MAX_RULES	10000
#define POLICY_MAX_ENTRIES	1000	/* per users/groups/hosts/ports list */
#define POLICY_MAX_RULE_NAME	(TG_RULE_NAME_SIZE - 1)
#define POLICY_MAX_HOST		253	/* DNS name, without the trailing dot */
#define POLICY_MAX_PRINCIPAL	255	/* user or group name */

struct policy_str {
	uint32_t	 off;		/* in pool, NUL-terminated */
	uint16_t	 len;
	bool		 suffix;	/* "*.example.com": ".example.com" */
};

/*
 * Special-purpose ranges (docs/policy.md): an allow rule reaches an address
 * in one of them only through an entry inside that range or an opt-in in its
 * special list. Unspecified addresses are never connected to.
 */
#define POLICY_SP_LOOPBACK	0x01
#define POLICY_SP_LINK_LOCAL	0x02
#define POLICY_SP_MULTICAST	0x04
#define POLICY_SP_OWN		0x08
#define POLICY_SP_BROADCAST	0x10
#define POLICY_SP_UNSPECIFIED	0x20

struct policy_net4 {
	uint32_t	 net;		/* host byte order, host bits clear */
	uint32_t	 mask;
	uint8_t		 within;	/* POLICY_SP_* range holding it all */
};

struct policy_net6 {
	uint8_t		 net[16];	/* host bits clear */
	uint8_t		 prefix;
	uint8_t		 within;
};

struct policy_range {
	uint16_t	 lo;
	uint16_t	 hi;
};

struct policy_span {
	uint32_t	 first;
	uint32_t	 n;
};

struct policy_rule {
	struct policy_span	 users;		/* in strs */
	struct policy_span	 groups;	/* in strs */
	struct policy_span	 hosts;		/* names, suffixes; in strs */
	struct policy_span	 net4;
	struct policy_span	 net6;
	struct policy_span	 ports;
	uint32_t		 name;		/* offset in pool */
	unsigned		 line;
	enum policy_action	 action;
	bool			 any_user;
	uint8_t			 special;	/* POLICY_SP_* opted in */
	/* policy_window.c: 0 for none */
	uint32_t		 max_duration;	/* seconds */
	bool			 has_window;
	uint8_t			 days;		/* bit n: tm_wday n */
	uint32_t		 win_start;	/* seconds into the day */
	uint32_t		 win_end;	/* < win_start: past midnight */
	uint32_t		 zone;		/* in zones */
};

struct policy {
	struct policy_rule	*rules;
	size_t			 n_rules;
	char			*pool;
	size_t			 pool_len;
	struct policy_str	*strs;
	size_t			 n_strs;
	struct policy_net4	*net4;
	size_t			 n_net4;
	struct policy_net6	*net6;
	size_t			 n_net6;
	struct policy_range	*ports;
	size_t			 n_ports;
	struct policy_tz	*zones;		/* each named once */
	size_t			 n_zones;
	char			 sha256[POLICY_HASH_SIZE];	/* of its text */
};

/* The loader's state and helpers, for the loader's files only. */

#define POLICY_QUOTE_MAX	64	/* characters of a bad value echoed */
#define POLICY_QBUF		(POLICY_QUOTE_MAX * 4 + 8)
#define POLICY_WHERE		64	/* "rules[9999].groups[999]" */

struct policy_load {
	const char	*file;
	struct policy	*p;
	size_t		 pool_cap;
	size_t		 strs_cap;
	size_t		 net4_cap;
	size_t		 net6_cap;
	size_t		 ports_cap;
	unsigned	 errors;
};

typedef void	(*policy_elem_fn)(struct policy_load *,
		    const config_setting_t *, const char *,
		    struct policy_rule *);

struct policy_list_def {
	const char	*key;
	policy_elem_fn	 fn;
	const char	*example;
};

enum { POLICY_USERS, POLICY_GROUPS, POLICY_HOSTS, POLICY_PORTS,
    POLICY_SPECIAL };

/* Indexed by the enum above. */
extern const struct policy_list_def policy_lists[];

static inline bool
policy_isdigit(char c)
{
	return c >= '0' && c <= '9';
}

static inline bool
policy_isalpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/*
 * How an IPv6 address carries an IPv4 one: not at all, as the address of an
 * IPv4 socket (::ffff:a.b.c.d), or through a translator or relay (NAT64,
 * 6to4, Teredo, IPv4-compatible).
 */
enum policy_embed { POLICY_EMBED_NONE, POLICY_EMBED_MAPPED,
    POLICY_EMBED_TUNNEL };

/* policy_addr.c */
bool		 policy_prefix6_eq(const uint8_t *, const uint8_t *,
		    unsigned);
uint8_t		 policy_within4(uint32_t, uint32_t);
uint8_t		 policy_within6(const uint8_t *, unsigned);
enum policy_embed policy_embedded4(const uint8_t *, uint32_t *);
bool		 policy_net6_embeds4(const uint8_t *, unsigned);
uint8_t		 policy_overlap4(uint32_t, uint32_t);
uint8_t		 policy_overlap6(const uint8_t *, unsigned);
bool		 policy_overlap_tunnel6(const uint8_t *, unsigned);
void		 policy_special_nets(void (*)(void *, int, const uint8_t *,
		    unsigned), void *);

/* policy.c */
void		 policy_err(struct policy_load *, unsigned, const char *,
		    const char *, ...) __attribute__((format(printf, 4, 5)));
unsigned	 policy_line(const config_setting_t *);
const char	*policy_quote(char *, size_t, const char *);
void		 policy_nomem(struct policy_load *);

/* policy_prescan.c */
bool		 policy_prescan(struct policy_load *, const char *, size_t);

/* policy_window.c: a rule's max_duration and window settings. */
void		 policy_rule_time_parse(struct policy_load *,
		    const config_setting_t *, const char *,
		    struct policy_rule *);
void		 policy_zones_free(struct policy *);

/* policy_entry.c */
uint32_t	 policy_pool_add(struct policy_load *, const char *,
		    const char *, size_t, bool);
const char	*policy_elem_string(struct policy_load *,
		    const config_setting_t *, const char *, const char *);

#endif
