/*
 * The audit log's hash chain: every line ends with its sequence number and
 * the SHA-256 of the line written before it, so that an edited, removed,
 * inserted or reordered line breaks the chain (docs/audit-log.md, "Tamper
 * evidence"). The master seals each line; tunnelgatectl audit --verify
 * checks the chain.
 */
#ifndef TG_AUDIT_CHAIN_H
#define TG_AUDIT_CHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUDIT_HASH_HEX		64
/* What seal appends in place of the closing "}\n". */
#define AUDIT_CHAIN_SUFFIX_MAX	\
	(sizeof(",\"seq\":18446744073709551615,\"prev\":\"\"}\n") - 1 + \
	 AUDIT_HASH_HEX)
/* prev of the first line of a chain: nothing came before it. */
#define AUDIT_CHAIN_PREV_NONE	\
	"0000000000000000000000000000000000000000000000000000000000000000"

struct audit_chain {
	uint64_t	 seq;			/* the last line's; 0: none yet */
	char		 last[AUDIT_HASH_HEX + 1];	/* its hash */
	bool		 known;		/* seq and last say where the chain is */
};

/* SHA-256 of n bytes as lower-case hex; 0, or -1 if OpenSSL failed. */
int	 audit_chain_hash(const void *, size_t, char out[AUDIT_HASH_HEX + 1]);

/*
 * Replace the closing "}\n" of the len-byte line in a cap-byte buffer with
 * the chain fields and the same ending; advances c. Returns the new length,
 * or 0 if it does not fit or the line does not end in "}\n".
 */
size_t	 audit_chain_seal(struct audit_chain *c, char *line, size_t len,
	    size_t cap);

/*
 * The chain fields of a line (with or without its '\n'): 0, or -1 if the
 * line does not end with them.
 */
int	 audit_chain_parse(const char *line, size_t len, uint64_t *seq,
	    char prev[AUDIT_HASH_HEX + 1]);

/*
 * Continue the chain after the last complete line of the file open on fd
 * (readable): c->known is set if there was one. 0, or -1 on a read error.
 */
int	 audit_chain_resume(struct audit_chain *c, int fd);

#endif
