/*
 * config_load() on arbitrary text. config_load() reads a file, so each
 * input is written to one file in a private directory made at start-up;
 * relative paths in the input, @include's among them, resolve there.
 * Besides memory errors, abort when a load breaks the contract of
 * config.h and tunnelgated.conf(5): a failed load leaves the struct zeroed;
 * a successful one has at least one listener, no two on the same address
 * and port, absolute paths, only the AEAD suites, and every number within
 * its documented range.
 *
 * The Makefile's fuzz rule links only the parsers' sources, so the loader
 * (every src/config*.c file) is compiled into this file.
 */
#include "../../src/master/config.c"
#include "../../src/master/config_schema.c"
#include "../../src/master/config_types.c"
#include "../../src/master/config_ldap.c"
#include "../../src/master/config_client_cert.c"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <strings.h>
#include <unistd.h>

#include "fuzz_libconfig.h"

#define FZ_CONF		"tunnelgated.conf"

/* Files an input may @include: one that loads, one that does not. */
static const struct {
	const char	*name;
	const char	*text;
} fz_files[] = {
	{ "include.conf", "log = { level = \"debug\"; };\n"
	    "workers = { gate = 3; };\n" },
	{ "broken.conf", "cache = {\n  max_entries = ;\n};\n" },
};

static const char *const fz_tls13[] = {
	"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
	"TLS_CHACHA20_POLY1305_SHA256", NULL
};
static const char *const fz_tls12[] = {
	"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
	"ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
	"ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305", NULL
};

static char	 fz_dir[] = "/tmp/fuzz_config.XXXXXX";
static char	 fz_path[PATH_MAX];	/* the input's file */
static char	 fz_real[PATH_MAX];	/* ... as config_load() resolves it */
static int	 fz_fd = -1;

static void
fz_write(int fd, const void *p, size_t n)
{
	const uint8_t	*b = p;
	ssize_t		 w;

	check(ftruncate(fd, 0) == 0);
	for (off_t off = 0; n > 0; off += w, b += w, n -= (size_t)w) {
		w = pwrite(fd, b, n, off);
		if (w == -1 && errno == EINTR)
			w = 0;
		check(w >= 0);
	}
}

static void
fz_cleanup(void)
{
	char	 p[PATH_MAX];

	if (fz_fd != -1)
		close(fz_fd);
	for (size_t i = 0; i < sizeof(fz_files) / sizeof(fz_files[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", fz_dir, fz_files[i].name);
		unlink(p);
	}
	unlink(fz_path);
	rmdir(fz_dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char	 p[PATH_MAX];
	int	 fd;

	(void)argc;
	(void)argv;
	/*
	 * Every rejected input logs its errors with log_warnx(); at this
	 * level they are formatted but not written, which keeps libFuzzer's
	 * own output, and the sanitizers' reports on stderr, readable.
	 */
	log_init("fuzz_config", false, LOG_LVL_ERROR);
	check(mkdtemp(fz_dir) != NULL);
	atexit(fz_cleanup);
	for (size_t i = 0; i < sizeof(fz_files) / sizeof(fz_files[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", fz_dir, fz_files[i].name);
		check((fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0600)) != -1);
		fz_write(fd, fz_files[i].text, strlen(fz_files[i].text));
		close(fd);
	}
	snprintf(fz_path, sizeof(fz_path), "%s/%s", fz_dir, FZ_CONF);
	fz_fd = open(fz_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	check(fz_fd != -1 && realpath(fz_path, fz_real) != NULL);
	return 0;
}

/*
 * libconfig 1.5 reads an @include'd path with no check of what it is: a
 * directory makes its scanner exit(2) and a device may never end. Those
 * are admin mistakes, not parser bugs; keep includes to plain names, which
 * resolve inside the private directory.
 */
static int
fz_includes_plain(const uint8_t *d, size_t n)
{
	static const char	 kw[] = "@include";
	const size_t		 kwlen = sizeof(kw) - 1;
	size_t			 i, j;

	for (i = 0; i + kwlen <= n; i++) {
		if (strncasecmp((const char *)d + i, kw, kwlen) != 0)
			continue;
		for (j = i + kwlen; j < n && (d[j] == ' ' || d[j] == '\t'); j++)
			;
		if (j == n || d[j++] != '"' || j == n || d[j] == '.' ||
		    d[j] == '"')
			return 0;
		for (; j < n && d[j] != '"'; j++)
			if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRST"
			    "UVWXYZ0123456789._-", d[j]) == NULL || d[j] == '\0')
				return 0;
		if (j == n)
			return 0;
	}
	return 1;
}

static int
fz_terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

static void
fz_abs_path(const char *s, size_t size, int may_be_empty)
{
	check(fz_terminated(s, size));
	check(s[0] == '/' || (may_be_empty && s[0] == '\0'));
}

static void
fz_ciphers(const char *s, size_t size, const char *const *allowed)
{
	const char	*p, *end;
	size_t		 i, len;

	check(fz_terminated(s, size) && s[0] != '\0');
	for (p = s; ; p = end + 1) {
		if ((end = strchr(p, ':')) == NULL)
			end = p + strlen(p);
		len = (size_t)(end - p);
		for (i = 0; allowed[i] != NULL; i++)
			if (strlen(allowed[i]) == len &&
			    memcmp(allowed[i], p, len) == 0)
				break;
		check(allowed[i] != NULL);
		if (*end == '\0')
			break;
	}
}

static void
fz_listeners(const struct config *c)
{
	unsigned char	 bin[TG_MAX_LISTENERS][16];
	int		 af[TG_MAX_LISTENERS];
	const struct config_listener *l;

	check(c->n_listeners >= 1 && c->n_listeners <= TG_MAX_LISTENERS);
	for (unsigned i = 0; i < c->n_listeners; i++) {
		l = &c->listeners[i];
		check(fz_terminated(l->address, sizeof(l->address)));
		memset(bin[i], 0, sizeof(bin[i]));
		af[i] = AF_INET;
		if (inet_pton(AF_INET, l->address, bin[i]) != 1) {
			af[i] = AF_INET6;
			check(inet_pton(AF_INET6, l->address, bin[i]) == 1);
		}
		check(l->port >= 1);
		check(l->backlog >= 1 && l->backlog <= 65535);
		for (unsigned k = 0; k < i; k++)
			check(af[k] != af[i] || c->listeners[k].port != l->port ||
			    memcmp(bin[k], bin[i], sizeof(bin[i])) != 0);
	}
}

static void
fz_names(const struct config *c)
{
	const char	*p;

	check(fz_terminated(c->gate_user.name, sizeof(c->gate_user.name)) &&
	    c->gate_user.name[0] != '\0');
	check(fz_terminated(c->relay_user.name, sizeof(c->relay_user.name)) &&
	    c->relay_user.name[0] != '\0');
	check(fz_terminated(c->gate_user.where, sizeof(c->gate_user.where)));
	check(fz_terminated(c->relay_user.where, sizeof(c->relay_user.where)));
	check(c->auth_backend == AUTH_BACKEND_PAM ||
	    c->auth_backend == AUTH_BACKEND_LDAP);
	check(fz_terminated(c->auth_realm, sizeof(c->auth_realm)));
	check(c->auth_realm[0] != '\0');
	/* The realm is quoted as is in Proxy-Authenticate. */
	for (p = c->auth_realm; *p != '\0'; p++)
		check(*p >= 0x20 && *p <= 0x7e && *p != '"' && *p != '\\');
	/* The service names a file in the PAM directory. */
	check(fz_terminated(c->pam_service, sizeof(c->pam_service)));
	check(c->pam_service[0] != '\0' && strchr(c->pam_service, '/') == NULL);
	check(strcmp(c->pam_service, ".") != 0 &&
	    strcmp(c->pam_service, "..") != 0);
}

static void
fz_numbers(const struct config *c)
{
	check(c->tls_min_version == TLS1_2_VERSION ||
	    c->tls_min_version == TLS1_3_VERSION);
	check(c->gate_workers >= 1 && c->gate_workers <= 64);
	check(c->auth_workers >= 1 && c->auth_workers <= 256);
	check(c->cache_positive_ttl_ms <= 86400000u);
	check(c->cache_negative_ttl_ms <= 86400000u);
	check(c->cache_max_entries <= 1048576u);
	check(c->timeout_handshake_ms >= 1 && c->timeout_handshake_ms <= 3600000u);
	check(c->timeout_request_ms >= 1 && c->timeout_request_ms <= 3600000u);
	check(c->timeout_auth_ms >= 1 && c->timeout_auth_ms <= 3600000u);
	check(c->timeout_dns_ms >= 1 && c->timeout_dns_ms <= 3600000u);
	check(c->timeout_connect_ms >= 1 && c->timeout_connect_ms <= 3600000u);
	check(c->timeout_idle_ms >= 1 && c->timeout_idle_ms <= 604800000u);
	check(c->timeout_drain_ms >= 1 && c->timeout_drain_ms <= 86400000u);
	check(c->limit_connections >= 1 && c->limit_connections <= 1000000u);
	check(c->limit_header_bytes >= 1024 && c->limit_header_bytes <= 65536);
	check(c->limit_buffer_bytes >= 16384 &&
	    c->limit_buffer_bytes <= 16u * 1024 * 1024);
	check(c->limit_pending_auth >= 1 && c->limit_pending_auth <= 100000u);
	check(c->log_level >= LOG_LVL_ERROR && c->log_level <= LOG_LVL_DEBUG);
	/* Off, or between a second and a day; LDAP only with a service account. */
	check(c->auth_recheck_interval_ms == 0 ||
	    (c->auth_recheck_interval_ms >= TG_MIN_RECHECK_MS &&
	    c->auth_recheck_interval_ms <= TG_MAX_RECHECK_SECS * 1000u));
	check(c->auth_recheck_interval_ms == 0 ||
	    c->auth_backend != AUTH_BACKEND_LDAP || c->ldap.bind_dn[0] != '\0');
}

static void
fz_check_loaded(const struct config *c)
{
	check(strcmp(c->path, fz_real) == 0);
	fz_listeners(c);
	fz_abs_path(c->tls_certificate, sizeof(c->tls_certificate), 0);
	fz_abs_path(c->tls_key, sizeof(c->tls_key), 0);
	fz_abs_path(c->chroot_dir, sizeof(c->chroot_dir), 0);
	fz_abs_path(c->pam_confdir, sizeof(c->pam_confdir), 1);
	fz_abs_path(c->audit_file, sizeof(c->audit_file), 0);
	fz_abs_path(c->policy_file, sizeof(c->policy_file), 0);
	fz_ciphers(c->tls13_ciphersuites, sizeof(c->tls13_ciphersuites),
	    fz_tls13);
	fz_ciphers(c->tls12_ciphers, sizeof(c->tls12_ciphers), fz_tls12);
	fz_names(c);
	fz_numbers(c);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config	 cfg, zero;
	int			 r;

	if (!fz_includes_plain(data, size))
		return 0;
	fz_write(fz_fd, data, size);
	r = config_load(fz_path, &cfg);
	if (r == 0)
		fz_check_loaded(&cfg);
	else
		check(r == -1 && memcmp(&cfg, &zero, sizeof(cfg)) == 0);
	return 0;
}
