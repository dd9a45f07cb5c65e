/*
 * Loaded policy, shared by the loader (policy.c) and the matcher
 * (policy_match.c) only. Everything policy_check() compares was parsed,
 * lowercased and masked at load time; entries of all rules live in a few
 * flat arrays and each rule holds spans into them, so a policy is six
 * allocations whatever its size.
 */
#ifndef TG_POLICY_PRIV_H
#define TG_POLICY_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "policy.h"

#define POLICY_MAX_BYTES	(4u * 1024 * 1024)	/* policy text */
#define POLICY_MAX_RULES	10000
#define POLICY_MAX_ENTRIES	1000	/* per users/groups/hosts/ports list */
#define POLICY_MAX_RULE_NAME	63
#define POLICY_MAX_HOST		253	/* DNS name, without the trailing dot */
#define POLICY_MAX_PRINCIPAL	255	/* user or group name */

struct policy_str {
	uint32_t	 off;		/* in pool, NUL-terminated */
	uint16_t	 len;
	bool		 suffix;	/* "*.example.com": ".example.com" */
};

struct policy_net4 {
	uint32_t	 net;		/* host byte order, host bits clear */
	uint32_t	 mask;
};

struct policy_net6 {
	uint8_t		 net[16];	/* host bits clear */
	uint8_t		 prefix;
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
};

#endif
