/*
 * tunnelgatectl audit: the parts of the subcommand (cmd_audit.c) that
 * each do one thing: filters, time-ordered reading of several files,
 * the chain verifier and the summary.
 */
#ifndef TG_AUDIT_CMD_H
#define TG_AUDIT_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "audit_read.h"
#include "netaddr.h"
#include "tg_limits.h"

struct audit_filter {
	char		 since[AUDIT_TIME_LEN + 1];	/* "" : no bound */
	char		 until[AUDIT_TIME_LEN + 1];
	const char	*user, *event, *target, *rule, *tunnel;
	bool		 has_client;
	struct netaddr_net client;
	/* "key":"value" as tunnelgated writes them, for the fast path. */
	char		*needle[5];
	size_t		 nneedles;
};

/* --since/--until text as a time to compare with; -1 if malformed. */
int	 audit_filter_time(const char *arg, char out[AUDIT_TIME_LEN + 1]);
/* Fill the needles once the filters are set; -1 out of memory. */
int	 audit_filter_prepare(struct audit_filter *);
void	 audit_filter_free(struct audit_filter *);
/* False only if the line as written cannot match (no parse needed). */
bool	 audit_filter_may_match(const struct audit_filter *, const char *line,
	    size_t len);
bool	 audit_filter_match(const struct audit_filter *,
	    const struct audit_entry *);
/* The address of "addr:port", "[v6]:port" or a bare address. */
bool	 audit_client_in(const char *client, const struct netaddr_net *);
/* The address part of a client field, into out (NETADDR_STR_MAX). */
void	 audit_client_addr(const char *client, char *out, size_t outlen);

/* Several files read as one stream in time order. */
struct audit_merge {
	struct audit_src	**src;
	struct audit_line	 *cur;
	char			(*time)[AUDIT_TIME_LEN + 1];
	uint64_t		 *seq;		/* cur's chain seq; UINT64_MAX: none */
	bool			 *seq_read;	/* seq was parsed from cur */
	bool			 *live;		/* cur holds an unread line */
	size_t			  n;
};

int	 audit_merge_open(struct audit_merge *, char **paths, size_t n);
/* 1: a line (and its file's name); 0: all read; -1: error, said. */
int	 audit_merge_next(struct audit_merge *, struct audit_line *,
	    const char **name);
void	 audit_merge_close(struct audit_merge *);

/* Malformed lines: said on stderr (the first few) and counted. */
struct audit_bad {
	unsigned long	 count;
};
void	 audit_bad_line(struct audit_bad *, const char *name,
	    const struct audit_line *, const char *why);

int	 audit_verify(char **paths, size_t n);

struct audit_summary;
struct audit_summary *audit_summary_new(size_t top);
void	 audit_summary_add(struct audit_summary *, const struct audit_entry *);
void	 audit_summary_print(struct audit_summary *, FILE *);
/* The same figures as one JSON document (docs/admin-guide.md). */
void	 audit_summary_json(struct audit_summary *, FILE *);
void	 audit_summary_free(struct audit_summary *);

#endif
