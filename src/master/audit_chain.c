#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "audit_chain.h"
#include "tg_limits.h"

int
audit_chain_hash(const void *p, size_t n, char out[AUDIT_HASH_HEX + 1])
{
	static const char	 hex[] = "0123456789abcdef";
	/* Fetched once a process, not once a line: several lines a tunnel. */
	static EVP_MD		*sha256;
	unsigned char		 md[EVP_MAX_MD_SIZE];
	unsigned int		 mdlen = 0, i;

	if (sha256 == NULL && (sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)) ==
	    NULL)
		return -1;
	if (EVP_Digest(p, n, md, &mdlen, sha256, NULL) != 1 ||
	    mdlen * 2 != AUDIT_HASH_HEX)
		return -1;
	for (i = 0; i < mdlen; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 0xf];
	}
	out[AUDIT_HASH_HEX] = '\0';
	return 0;
}

size_t
audit_chain_seal(struct audit_chain *c, char *line, size_t len, size_t cap)
{
	char	 next[AUDIT_HASH_HEX + 1];
	int	 n;

	if (len < 2 || line[len - 2] != '}' || line[len - 1] != '\n')
		return 0;
	n = snprintf(line + len - 2, cap - (len - 2),
	    ",\"seq\":%" PRIu64 ",\"prev\":\"%s\"}\n", c->seq + 1,
	    c->known ? c->last : AUDIT_CHAIN_PREV_NONE);
	if (n < 0 || (size_t)n >= cap - (len - 2))
		return 0;
	len = len - 2 + (size_t)n;
	if (audit_chain_hash(line, len, next) == -1)
		return 0;
	c->seq++;
	memcpy(c->last, next, sizeof(next));
	c->known = true;
	return len;
}

static bool
is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

int
audit_chain_parse(const char *line, size_t len, uint64_t *seq,
    char prev[AUDIT_HASH_HEX + 1])
{
	static const char	 pk[] = ",\"prev\":\"", sk[] = ",\"seq\":";
	const char		*p, *end;
	uint64_t		 v = 0;
	size_t			 tail;

	if (len > 0 && line[len - 1] == '\n')
		len--;
	tail = sizeof(pk) - 1 + AUDIT_HASH_HEX + 2;
	if (len < tail + sizeof(sk) || memcmp(line + len - 2, "\"}", 2) != 0)
		return -1;
	p = line + len - tail;
	if (memcmp(p, pk, sizeof(pk) - 1) != 0 ||
	    !is_hex(p + sizeof(pk) - 1, AUDIT_HASH_HEX))
		return -1;
	end = p;
	/* Digits back from the prev key, then the seq key before them. */
	while (p > line && p[-1] >= '0' && p[-1] <= '9')
		p--;
	if (p == end || end - p > 20 || (p[0] == '0' && end - p > 1) ||
	    p - line < (ptrdiff_t)(sizeof(sk) - 1) ||
	    memcmp(p - (sizeof(sk) - 1), sk, sizeof(sk) - 1) != 0)
		return -1;
	for (; p < end; p++) {
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*seq = v;
	memcpy(prev, end + sizeof(pk) - 1, AUDIT_HASH_HEX);
	prev[AUDIT_HASH_HEX] = '\0';
	return 0;
}

int
audit_chain_resume(struct audit_chain *c, int fd)
{
	char		 buf[AUDIT_CHAINED_LINE_MAX + 1];
	struct stat	 st;
	off_t		 from;
	ssize_t		 n;
	size_t		 got = 0, end, start;
	char		 prev[AUDIT_HASH_HEX + 1];
	uint64_t	 seq;

	if (fstat(fd, &st) == -1)
		return -1;
	from = st.st_size > (off_t)sizeof(buf) ? st.st_size - (off_t)sizeof(buf) : 0;
	while (got < sizeof(buf)) {
		n = pread(fd, buf + got, sizeof(buf) - got, from + (off_t)got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	/* The last complete line; a torn one after it is not chained. */
	end = got;
	while (end > 0 && buf[end - 1] != '\n')
		end--;
	if (end == 0)
		return 0;
	start = end - 1;
	while (start > 0 && buf[start - 1] != '\n')
		start--;
	if (start == 0 && from != 0)
		return 0;	/* longer than any line we write: not ours */
	if (audit_chain_hash(buf + start, end - start, c->last) == -1)
		return -1;
	c->seq = audit_chain_parse(buf + start, end - start, &seq, prev) == 0 ?
	    seq : 0;
	c->known = true;
	return 0;
}
