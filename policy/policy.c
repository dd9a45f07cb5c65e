/*
 * Policy loading: libconfig text to struct policy. The whole file is
 * validated and every problem is logged as "FILE:LINE: SETTING: problem;
 * what to do"; one error rejects the whole policy, so a typo never leaves
 * a half-loaded rule set in force. This file reads the file and walks the
 * rules; policy_prescan.c checks the raw text first and policy_entry.c
 * parses each list entry.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <libconfig.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "policy.h"
#include "policy_priv.h"

#define POLICY_MAX_ERRORS	100	/* then stop: the first ones matter */
#define POLICY_RWHERE		32	/* "rules[9999]" */
#define POLICY_NO_NAME		UINT32_MAX

void
policy_err(struct policy_load *l, unsigned line, const char *setting,
    const char *fmt, ...)
{
	char	 msg[768];
	va_list	 ap;

	if (l->errors++ >= POLICY_MAX_ERRORS) {
		if (l->errors == POLICY_MAX_ERRORS + 1)
			log_warnx("%s: more than %u errors, not reporting the "
			    "rest; fix the ones above first", l->file,
			    POLICY_MAX_ERRORS);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line == 0)
		log_warnx("%s: %s: %s", l->file, setting, msg);
	else
		log_warnx("%s:%u: %s: %s", l->file, line, setting, msg);
}

unsigned
policy_line(const config_setting_t *s)
{
	return config_setting_source_line(s);
}

/*
 * Bad values are echoed so the admin sees what was read: as they are when
 * that is unambiguous, else quoted with escapes, so that no byte of a
 * policy file can forge or split a log line.
 */
const char *
policy_quote(char *dst, size_t dstlen, const char *s)
{
	const unsigned char	*u = (const unsigned char *)s;
	size_t			 i, o = 0;
	bool			 plain = u[0] != '\0';

	for (i = 0; u[i] != '\0' && i < POLICY_QUOTE_MAX; i++)
		if (u[i] <= ' ' || u[i] >= 0x7f || u[i] == '"' || u[i] == '\\')
			plain = false;
	if (plain && u[i] == '\0') {
		snprintf(dst, dstlen, "%s", s);
		return dst;
	}
	dst[o++] = '"';
	for (i = 0; u[i] != '\0' && i < POLICY_QUOTE_MAX; i++) {
		if (u[i] < ' ' || u[i] >= 0x7f || u[i] == '"' || u[i] == '\\')
			o += (size_t)snprintf(dst + o, dstlen - o, "\\x%02x",
			    u[i]);
		else
			dst[o++] = (char)u[i];
	}
	snprintf(dst + o, dstlen - o, "%s\"", u[i] != '\0' ? "..." : "");
	return dst;
}

void
policy_nomem(struct policy_load *l)
{
	log_warn("policy: %s", l->file);
	l->errors++;
}

/* Returns false if the rule has no such setting. */
static bool
policy_list(struct policy_load *l, const config_setting_t *rs,
    const char *rwhere, int which, struct policy_rule *r)
{
	const struct policy_list_def	*d = &policy_lists[which];
	config_setting_t		*s;
	char				 where[POLICY_WHERE];
	char				 ew[POLICY_WHERE + 16];
	int				 i, n;

	if ((s = config_setting_get_member(rs, d->key)) == NULL)
		return false;
	snprintf(where, sizeof(where), "%s.%s", rwhere, d->key);
	if (!config_setting_is_array(s) && !config_setting_is_list(s)) {
		policy_err(l, policy_line(s), where, "must be a list, e.g. %s",
		    d->example);
		return true;
	}
	n = config_setting_length(s);
	if (n == 0)
		policy_err(l, policy_line(s), where, "empty list; give at "
		    "least one entry, e.g. %s", d->example);
	else if (n > POLICY_MAX_ENTRIES)
		policy_err(l, policy_line(s), where, "%d entries, at most %d; "
		    "split the rule", n, POLICY_MAX_ENTRIES);
	else
		for (i = 0; i < n; i++) {
			snprintf(ew, sizeof(ew), "%s[%d]", where, i);
			d->fn(l, config_setting_get_elem(s, (unsigned)i), ew,
			    r);
		}
	return true;
}

static void
policy_rule_name(struct policy_load *l, const config_setting_t *rs,
    const char *rwhere, struct policy_rule *r)
{
	static const char	 ok[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				    "abcdefghijklmnopqrstuvwxyz0123456789._-";
	config_setting_t	*s = config_setting_get_member(rs, "name");
	char			 where[POLICY_WHERE], q[POLICY_QBUF];
	const char		*v;
	size_t			 len;

	snprintf(where, sizeof(where), "%s.name", rwhere);
	if (s == NULL) {
		policy_err(l, r->line, where, "missing; every rule needs a "
		    "unique name, which the audit log quotes");
		return;
	}
	if ((v = policy_elem_string(l, s, where, "name = \"ops-ssh\";")) ==
	    NULL)
		return;
	len = strnlen(v, POLICY_MAX_RULE_NAME + 1);
	policy_quote(q, sizeof(q), v);
	if (len == 0 || len > POLICY_MAX_RULE_NAME || strspn(v, ok) != len)
		policy_err(l, policy_line(s), where, "%s: must be 1-63 of "
		    "A-Z a-z 0-9 . _ -", q);
	else if (strcmp(v, POLICY_DEFAULT_RULE) == 0)
		policy_err(l, policy_line(s), where, "%s: reserved for the "
		    "implicit last rule; choose another name", q);
	else if (strcmp(v, POLICY_SPECIAL_RULE) == 0)
		policy_err(l, policy_line(s), where, "%s: reserved for denials "
		    "of special-purpose addresses; choose another name", q);
	else
		r->name = policy_pool_add(l, "", v, len, false);
}

static void
policy_rule_action(struct policy_load *l, const config_setting_t *rs,
    const char *rwhere, struct policy_rule *r)
{
	config_setting_t	*s = config_setting_get_member(rs, "action");
	char			 where[POLICY_WHERE], q[POLICY_QBUF];
	const char		*v;

	snprintf(where, sizeof(where), "%s.action", rwhere);
	if (s == NULL) {
		policy_err(l, r->line, where, "missing; write action = "
		    "\"allow\"; or action = \"deny\";");
		return;
	}
	if ((v = policy_elem_string(l, s, where, "action = \"allow\";")) ==
	    NULL)
		return;
	if (strcmp(v, "allow") == 0)
		r->action = POLICY_ALLOW;
	else if (strcmp(v, "deny") == 0)
		r->action = POLICY_DENY;
	else
		policy_err(l, policy_line(s), where, "%s: must be \"allow\" or "
		    "\"deny\"", policy_quote(q, sizeof(q), v));
}

static void
policy_unknown(struct policy_load *l, const config_setting_t *g,
    const char *gwhere, const char *const *known, const char *hint)
{
	config_setting_t	*m;
	const char		*name;
	char			 where[POLICY_WHERE];
	size_t			 k;
	int			 i, n = config_setting_length(g);

	for (i = 0; i < n; i++) {
		m = config_setting_get_elem(g, (unsigned)i);
		name = config_setting_name(m);
		for (k = 0; known[k] != NULL && strcmp(known[k], name); k++)
			;
		if (known[k] != NULL)
			continue;
		snprintf(where, sizeof(where), "%s%s%s", gwhere,
		    gwhere[0] != '\0' ? "." : "", name);
		policy_err(l, policy_line(m), where, "unknown setting; %s",
		    hint);
	}
}

static void
policy_rule_special(struct policy_load *l, const config_setting_t *rs,
    const char *rwhere, struct policy_rule *r)
{
	char		 where[POLICY_WHERE];
	const char	*action;

	if (!policy_list(l, rs, rwhere, POLICY_SPECIAL, r))
		return;
	/* Only for a valid "deny": a bad action has its own error. */
	if (config_setting_lookup_string(rs, "action", &action) &&
	    strcmp(action, "deny") == 0) {
		snprintf(where, sizeof(where), "%s.special", rwhere);
		policy_err(l, policy_line(config_setting_get_member(rs,
		    "special")), where, "only allow rules take special; a deny "
		    "rule matches special-purpose addresses already");
	}
}

static void
policy_rule_parse(struct policy_load *l, const config_setting_t *rs, size_t idx)
{
	static const char *const known[] = { "name", "action", "users",
				    "groups", "hosts", "ports", "special",
				    "max_duration", "window", NULL };
	struct policy		*p = l->p;
	struct policy_rule	*r = &p->rules[p->n_rules++];
	char			 where[POLICY_RWHERE];
	bool			 subject;

	snprintf(where, sizeof(where), "rules[%zu]", idx);
	r->name = POLICY_NO_NAME;
	r->line = policy_line(rs);
	if (!config_setting_is_group(rs)) {
		policy_err(l, r->line, where, "must be a rule in { }, e.g. "
		    "{ name = \"ops-ssh\"; action = \"allow\"; ... }");
		return;
	}
	policy_unknown(l, rs, where, known, "a rule has name, action, users, "
	    "groups, hosts, ports, special, max_duration and window");
	policy_rule_name(l, rs, where, r);
	policy_rule_action(l, rs, where, r);

	r->users.first = (uint32_t)p->n_strs;
	subject = policy_list(l, rs, where, POLICY_USERS, r);
	r->users.n = (uint32_t)(p->n_strs - r->users.first);
	r->groups.first = (uint32_t)p->n_strs;
	subject |= policy_list(l, rs, where, POLICY_GROUPS, r);
	r->groups.n = (uint32_t)(p->n_strs - r->groups.first);
	if (!subject)
		policy_err(l, r->line, where, "no users or groups; add users = "
		    "[ \"*\" ] to match every authenticated user");

	r->hosts.first = (uint32_t)p->n_strs;
	r->net4.first = (uint32_t)p->n_net4;
	r->net6.first = (uint32_t)p->n_net6;
	if (!policy_list(l, rs, where, POLICY_HOSTS, r))
		policy_err(l, r->line, where, "no hosts; add e.g. %s",
		    policy_lists[POLICY_HOSTS].example);
	r->hosts.n = (uint32_t)(p->n_strs - r->hosts.first);
	r->net4.n = (uint32_t)(p->n_net4 - r->net4.first);
	r->net6.n = (uint32_t)(p->n_net6 - r->net6.first);

	r->ports.first = (uint32_t)p->n_ports;
	if (!policy_list(l, rs, where, POLICY_PORTS, r))
		policy_err(l, r->line, where, "no ports; add e.g. %s",
		    policy_lists[POLICY_PORTS].example);
	r->ports.n = (uint32_t)(p->n_ports - r->ports.first);

	policy_rule_special(l, rs, where, r);
	policy_rule_time_parse(l, rs, where, r);
}

static void
policy_version(struct policy_load *l, const config_setting_t *root)
{
	config_setting_t	*s = config_setting_get_member(root, "version");

	if (s == NULL)
		policy_err(l, 0, "version", "missing; start the file with "
		    "version = 1;");
	else if (config_setting_type(s) != CONFIG_TYPE_INT &&
	    config_setting_type(s) != CONFIG_TYPE_INT64)
		policy_err(l, policy_line(s), "version", "must be the "
		    "number 1");
	else if (config_setting_get_int64(s) != 1)
		policy_err(l, policy_line(s), "version", "%lld is not "
		    "supported; this tunnelgate reads version 1",
		    config_setting_get_int64(s));
}

static void
policy_root(struct policy_load *l, const config_setting_t *root)
{
	static const char *const known[] = { "version", "rules", NULL };
	config_setting_t	*rules;
	int			 i, n;

	policy_unknown(l, root, "", known, "a policy file has version and "
	    "rules only");
	policy_version(l, root);
	if ((rules = config_setting_get_member(root, "rules")) == NULL) {
		policy_err(l, 0, "rules", "missing; add rules = ( { name = "
		    "...; action = ...; ... } );");
		return;
	}
	if (!config_setting_is_list(rules)) {
		policy_err(l, policy_line(rules), "rules", "must be a list of "
		    "rules in ( ), e.g. rules = ( { ... }, { ... } );");
		return;
	}
	n = config_setting_length(rules);
	if (n > POLICY_MAX_RULES) {
		policy_err(l, policy_line(rules), "rules", "%d rules, at most "
		    "%d are supported", n, POLICY_MAX_RULES);
		return;
	}
	if (n > 0 && (l->p->rules = calloc((size_t)n,
	    sizeof(*l->p->rules))) == NULL) {
		policy_nomem(l);
		return;
	}
	for (i = 0; i < n; i++)
		policy_rule_parse(l, config_setting_get_elem(rules,
		    (unsigned)i), (size_t)i);
}

struct policy_name_ref {
	const char	*name;
	size_t		 idx;
};

static int
policy_name_cmp(const void *a, const void *b)
{
	const struct policy_name_ref	*x = a, *y = b;
	int				 c = strcmp(x->name, y->name);

	if (c != 0)
		return c;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Sorted, so that 10000 rules cost n log n, not n^2, comparisons. */
static void
policy_unique_names(struct policy_load *l)
{
	struct policy		*p = l->p;
	struct policy_name_ref	*refs;
	char			 where[POLICY_WHERE], q[POLICY_QBUF];
	size_t			 i, n = 0, first = 0;

	if (p->n_rules < 2)
		return;
	if ((refs = calloc(p->n_rules, sizeof(*refs))) == NULL) {
		policy_nomem(l);
		return;
	}
	for (i = 0; i < p->n_rules; i++)
		if (p->rules[i].name != POLICY_NO_NAME) {
			refs[n].name = p->pool + p->rules[i].name;
			refs[n++].idx = i;
		}
	qsort(refs, n, sizeof(*refs), policy_name_cmp);
	for (i = 1; i < n; i++) {
		if (strcmp(refs[first].name, refs[i].name) != 0) {
			first = i;
			continue;
		}
		snprintf(where, sizeof(where), "rules[%zu].name", refs[i].idx);
		policy_err(l, p->rules[refs[i].idx].line, where, "%s: already "
		    "the name of rules[%zu] at line %u; names must be unique, "
		    "the audit log quotes them", policy_quote(q, sizeof(q),
		    refs[i].name), refs[first].idx,
		    p->rules[refs[first].idx].line);
	}
	free(refs);
}

/*
 * libconfig reads ports = [ 8000-8100 ] as two numbers with no comma: a
 * bare syntax error. Line n of text holds an unquoted digits-digits?
 */
static bool
policy_bare_range(const char *text, int n)
{
	const char	*p = text, *e;
	bool		 quoted = false;

	while (--n > 0 && (p = strchr(p, '\n')) != NULL)
		p++;
	if (p == NULL)
		return false;
	e = strchr(p, '\n');
	for (; *p != '\0' && p != e; p++) {
		if (*p == '"')
			quoted = !quoted;
		else if (!quoted && policy_isdigit(*p)) {
			while (policy_isdigit(p[1]))
				p++;
			if (p[1] == '-' && policy_isdigit(p[2]))
				return true;
		}
	}
	return false;
}

static void
policy_syntax(struct policy_load *l, const config_t *cfg, const char *src)
{
	const char	*text = config_error_text(cfg), *hint = "";

	if (text == NULL)
		text = "cannot parse";
	else if (strstr(text, "mismatched element type") != NULL)
		hint = "; [ ] holds values of one type, use ( ) to mix numbers "
		    "and strings, e.g. ports = ( 22, \"8000-8100\" )";
	else if (strstr(text, "duplicate setting") != NULL)
		hint = "; a setting may appear once in a rule or in the file";
	else if (strcmp(text, "syntax error") == 0 &&
	    policy_bare_range(src, config_error_line(cfg)))
		hint = "; a port range is a string: write \"8000-8100\" in "
		    "quotes, e.g. ports = ( 22, \"8000-8100\" )";
	else if (strcmp(text, "syntax error") == 0)
		hint = "; look for a missing ';', ',', quote or bracket on "
		    "this line or the one before";
	policy_err(l, (unsigned)config_error_line(cfg), "syntax", "%s%s", text,
	    hint);
}

static void
policy_set_hash(struct policy *p, const char *text, size_t len)
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned	 n = 0;

	if (EVP_Digest(text, len, md, &n, EVP_sha256(), NULL) != 1 || n != 32)
		fatalx("policy: SHA-256 of the policy text failed (OpenSSL)");
	for (unsigned i = 0; i < n; i++)
		snprintf(p->sha256 + 2 * i, 3, "%02x", md[i]);
}

const char *
policy_hash(const struct policy *p)
{
	return p == NULL ? "" : p->sha256;
}

static struct policy *
policy_parse(const char *text, size_t len, const char *file)
{
	struct policy_load	 l;
	config_t		 cfg;
	bool			 parsed = false;
	char			*pool;

	memset(&l, 0, sizeof(l));
	l.file = file;
	if ((l.p = calloc(1, sizeof(*l.p))) == NULL ||
	    (l.p->pool = malloc(len + 1)) == NULL) {
		policy_nomem(&l);
		goto out;
	}
	l.pool_cap = len + 1;
	if (!policy_prescan(&l, text, len))
		goto out;
	config_init(&cfg);
	parsed = true;
	if (config_read_string(&cfg, text) != CONFIG_TRUE) {
		policy_syntax(&l, &cfg, text);
		goto out;
	}
	policy_root(&l, config_root_setting(&cfg));
	policy_unique_names(&l);
 out:
	if (parsed)
		config_destroy(&cfg);
	if (l.errors > 0) {
		policy_free(l.p);
		return NULL;
	}
	if ((pool = realloc(l.p->pool, l.p->pool_len + 1)) != NULL)
		l.p->pool = pool;
	policy_set_hash(l.p, text, len);
	return l.p;
}

static char *
policy_read(const char *file, size_t *lenp)
{
	struct stat	 st;
	char		*buf = NULL, extra;
	size_t		 len = 0;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		log_warn("%s: cannot open the policy file", file);
		return NULL;
	}
	if (fstat(fd, &st) == -1) {
		log_warn("%s: fstat", file);
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		log_warnx("%s: not a regular file; name the policy file itself",
		    file);
		goto fail;
	}
	if (st.st_mode & S_IWOTH) {
		log_warnx("%s: anyone can write it (mode %04o); chmod o-w it",
		    file, (unsigned)(st.st_mode & 07777));
		goto fail;
	}
	if (st.st_size > (off_t)POLICY_MAX_BYTES) {
		log_warnx("%s: %lld bytes, a policy may have at most %u", file,
		    (long long)st.st_size, POLICY_MAX_BYTES);
		goto fail;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		log_warn("policy: %s", file);
		goto fail;
	}
	while (len < (size_t)st.st_size) {
		if ((n = read(fd, buf + len, (size_t)st.st_size - len)) == -1) {
			if (errno == EINTR)
				continue;
			log_warn("%s: read", file);
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len != (size_t)st.st_size || read(fd, &extra, 1) != 0) {
		log_warnx("%s: changed while being read; try again", file);
		goto fail;
	}
	buf[len] = '\0';
	close(fd);
	*lenp = len;
	return buf;
 fail:
	free(buf);
	close(fd);
	return NULL;
}

struct policy *
policy_load(const char *file)
{
	struct policy	*p;
	const char	*nul;
	char		*text;
	size_t		 len, i;
	unsigned	 line = 1;

	if ((text = policy_read(file, &len)) == NULL)
		return NULL;
	/* libconfig would silently stop at a NUL and ignore the rest. */
	if ((nul = memchr(text, '\0', len)) != NULL) {
		for (i = 0; text + i < nul; i++)
			line += text[i] == '\n';
		log_warnx("%s:%u: NUL byte; a policy file is text, fix or "
		    "rewrite this line", file, line);
		free(text);
		return NULL;
	}
	p = policy_parse(text, len, file);
	free(text);
	return p;
}

struct policy *
policy_load_string(const char *text, const char *name)
{
	size_t	 len;

	if (name == NULL)
		name = "(policy)";
	if (text == NULL) {
		log_warnx("policy: %s: no policy text", name);
		return NULL;
	}
	if ((len = strnlen(text, POLICY_MAX_BYTES + 1)) > POLICY_MAX_BYTES) {
		log_warnx("%s: more than %u bytes, the most a policy may have",
		    name, POLICY_MAX_BYTES);
		return NULL;
	}
	return policy_parse(text, len, name);
}

void
policy_free(struct policy *p)
{
	if (p == NULL)
		return;
	free(p->rules);
	free(p->pool);
	free(p->strs);
	free(p->net4);
	free(p->net6);
	free(p->ports);
	policy_zones_free(p);
	free(p);
}

size_t
policy_rule_count(const struct policy *p)
{
	return p == NULL ? 0 : p->n_rules;
}

int
policy_rule_where(const struct policy *p, const char *name, size_t *idx,
    unsigned *line)
{
	size_t	 i;

	for (i = 0; p != NULL && i < p->n_rules; i++)
		if (strcmp(p->pool + p->rules[i].name, name) == 0) {
			*idx = i;
			*line = p->rules[i].line;
			return 0;
		}
	return -1;
}
