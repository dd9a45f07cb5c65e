/*
 * tunnelgate-bench: load tool for an HTTPS CONNECT proxy (tunnelgate, or
 * Squid for a baseline).  It opens tunnels over TLS to the proxy towards a
 * backend that runs inside this process on 127.0.0.1, and measures bulk
 * throughput each way, full tunnel setups per second and idle tunnels.
 *
 * Exit status: 0 ok, 1 usage/network/data error, 2 the proxy did not answer
 * 200, 3 TLS handshake or certificate failure.
 */
#include <sys/resource.h>
#include <sys/socket.h>

#include <arpa/inet.h>

#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "bench.h"

#define MAX_CONC	1024
#define MAX_TUNNELS	200000

const char *const progname = "tunnelgate-bench";

int
fail(struct err *e, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	e->code = code;
	return code;
}

static __attribute__((noreturn)) void
die(const struct err *e)
{
	fprintf(stderr, "%s: %s\n", progname, e->msg);
	exit(e->code == EX_OK ? EX_FAIL : e->code);
}

double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
raise_nofile(rlim_t need, struct err *e)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return fail(e, EX_FAIL, "getrlimit: %s", strerror(errno));
	if (rl.rlim_cur >= need)
		return EX_OK;
	rl.rlim_cur = need;
	if (rl.rlim_max < need)
		rl.rlim_max = need;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		return fail(e, EX_FAIL, "cannot raise the open files limit to "
		    "%llu: %s (raise ulimit -Hn)", (unsigned long long)need,
		    strerror(errno));
	return EX_OK;
}

static __attribute__((noreturn)) void
usage(void)
{
	fprintf(stderr,
"usage: %s --gateway HOST:PORT [--ca FILE] [--user NAME] --mode MODE [opts]\n"
"  --mode up|down --bytes N [--verify]   bulk throughput through one tunnel\n"
"  --mode setup [--concurrency C] [--duration S] [--resume] [--stages FILE]\n"
"               [--rate R]               full tunnel setups per second; FILE\n"
"                                        gets a line per tunnel: when it began,\n"
"                                        TCP connected, TLS done, 200, echo\n"
"                                        (CLOCK_MONOTONIC seconds); with R,\n"
"                                        R setups begin a second, spread over\n"
"                                        the C clients, each timed from when\n"
"                                        it was due\n"
"  --mode idle [--tunnels N] [--hold S]  hold N open tunnels for S seconds\n"
"  --target HOST:PORT     CONNECT authority (default: the built-in backend)\n"
"  --backend-port P       port of the built-in backend on 127.0.0.1 (default\n"
"                         ephemeral), for a --target name that leads to it\n"
"  --timeout S            socket timeout (default 30)\n"
"  --no-connect           the gateway is a plain TLS forwarder (stunnel) to\n"
"                         --backend-port: no CONNECT request, no 200\n"
"The password for --user is read from the environment variable TG_PASSWORD.\n"
"N accepts the decimal suffixes k, M and G. Exit: 0 ok, 1 error, 2 the\n"
"gateway did not answer 200, 3 TLS or certificate failure.\n", progname);
	exit(EX_FAIL);
}

static __attribute__((noreturn)) void
bad_arg(const char *opt, const char *val, const char *why)
{
	fprintf(stderr, "%s: %s \"%s\": %s\n", progname, opt, val, why);
	exit(EX_FAIL);
}

static uint64_t
parse_num(const char *opt, const char *s, uint64_t min, uint64_t max)
{
	unsigned long long v;
	uint64_t mul = 1;
	char *end;

	errno = 0;
	if (*s < '0' || *s > '9' || (v = strtoull(s, &end, 10), errno != 0))
		bad_arg(opt, s, "not a number");
	if (*end != '\0') {
		if (end[1] != '\0' || strchr("kMG", *end) == NULL)
			bad_arg(opt, s, "unknown suffix (k, M, G)");
		mul = *end == 'k' ? 1000 : *end == 'M' ? 1000000 : 1000000000;
	}
	if (v > max / mul || v * mul < min || v * mul > max)
		bad_arg(opt, s, "out of range");
	return (uint64_t)v * mul;
}

static int
printable(const char *s, size_t max)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (i >= max || (unsigned char)s[i] <= 0x20 ||
		    (unsigned char)s[i] >= 0x7f)
			return 0;
	return i > 0;
}

static void
parse_gateway(struct bench *b, const char *s)
{
	const char *colon, *host = s;
	size_t hlen;

	if (*s == '[') {
		host = s + 1;
		if ((colon = strchr(s, ']')) == NULL || colon[1] != ':')
			bad_arg("--gateway", s, "expected [IPv6]:PORT");
		hlen = (size_t)(colon - host);
		colon++;
	} else {
		if ((colon = strrchr(s, ':')) == NULL ||
		    memchr(s, ':', (size_t)(colon - s)) != NULL)
			bad_arg("--gateway", s, "expected HOST:PORT");
		hlen = (size_t)(colon - s);
	}
	if (hlen == 0 || hlen >= sizeof(b->gwhost))
		bad_arg("--gateway", s, "bad host length");
	memcpy(b->gwhost, host, hlen);
	b->gwhost[hlen] = '\0';
	snprintf(b->gwport, sizeof(b->gwport), "%llu", (unsigned long long)
	    parse_num("--gateway port", colon + 1, 1, 65535));
}

/* One option of getopt_long(); *mode is set once --mode is given. */
static void
parse_opt(struct bench *b, int ch, const char *arg, int *mode)
{
	switch (ch) {
	case 'g': parse_gateway(b, arg); break;
	case 'a': b->ca = arg; break;
	case 'u':
		if (!printable(arg, CRED_MAX) || strchr(arg, ':'))
			bad_arg("--user", arg, "1 to 255 printable characters "
			    "without ':' or space");
		b->user = arg;
		break;
	case 'm':
		for (*mode = M_UP; *mode <= M_IDLE; (*mode)++)
			if (strcmp(arg, (const char *[]){ "up", "down", "setup",
			    "idle" }[*mode]) == 0)
				break;
		if (*mode > M_IDLE)
			bad_arg("--mode", arg, "up, down, setup or idle");
		b->mode = (enum mode)*mode;
		break;
	case 'b': b->bytes = parse_num("--bytes", arg, 1, UINT64_C(1) << 50);
		break;
	case 'c': b->concurrency = (unsigned)parse_num("--concurrency", arg,
	    1, MAX_CONC); break;
	case 'd': b->duration = (unsigned)parse_num("--duration", arg, 1,
	    86400); break;
	case 'n': b->tunnels = (size_t)parse_num("--tunnels", arg, 1,
	    MAX_TUNNELS); break;
	case 'H': b->hold = (unsigned)parse_num("--hold", arg, 0, 86400);
		break;
	case 't': b->timeout = (int)parse_num("--timeout", arg, 1, 3600);
		break;
	case 'T':
		if (!printable(arg, TARGET_MAX) || !strchr(arg, ':'))
			bad_arg("--target", arg, "expected HOST:PORT");
		b->target = arg;
		break;
	case 'p': b->backend_port = (uint16_t)parse_num("--backend-port", arg,
	    0, 65535); break;
	case 'r': b->resume = 1; break;
	case 'v': b->verify = 1; break;
	case 'N': b->no_connect = 1; break;
	case 'R': b->rate = (unsigned)parse_num("--rate", arg, 1, 1000000);
		break;
	case 'S':
		if ((b->stages = fopen(arg, "we")) == NULL)
			bad_arg("--stages", arg, strerror(errno));
		break;
	default: usage();
	}
}

static void
parse_args(struct bench *b, int argc, char *argv[])
{
	static const struct option lopts[] = {
		{ "gateway", required_argument, NULL, 'g' },
		{ "ca", required_argument, NULL, 'a' },
		{ "user", required_argument, NULL, 'u' },
		{ "mode", required_argument, NULL, 'm' },
		{ "bytes", required_argument, NULL, 'b' },
		{ "concurrency", required_argument, NULL, 'c' },
		{ "duration", required_argument, NULL, 'd' },
		{ "tunnels", required_argument, NULL, 'n' },
		{ "hold", required_argument, NULL, 'H' },
		{ "timeout", required_argument, NULL, 't' },
		{ "target", required_argument, NULL, 'T' },
		{ "backend-port", required_argument, NULL, 'p' },
		{ "resume", no_argument, NULL, 'r' },
		{ "verify", no_argument, NULL, 'v' },
		{ "no-connect", no_argument, NULL, 'N' },
		{ "stages", required_argument, NULL, 'S' },
		{ "rate", required_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int ch, mode = -1;

	memset(b, 0, sizeof(*b));
	b->bytes = 1000000000;
	b->concurrency = 64;
	b->duration = 10;
	b->tunnels = 1000;
	b->hold = 10;
	b->timeout = 30;
	while ((ch = getopt_long(argc, argv, "", lopts, NULL)) != -1)
		parse_opt(b, ch, optarg, &mode);
	if (optind != argc || b->gwhost[0] == '\0' || mode == -1)
		usage();
	/* The forwarder's backend address is fixed in its config: an
	 * ephemeral port would be one it never connects to. */
	if (b->no_connect && b->backend_port == 0) {
		fprintf(stderr, "%s: --no-connect needs --backend-port\n",
		    progname);
		exit(EX_FAIL);
	}
	if ((b->stages != NULL || b->rate != 0) && b->mode != M_SETUP) {
		fprintf(stderr, "%s: --stages and --rate are for --mode setup\n",
		    progname);
		exit(EX_FAIL);
	}
}

static int
bench_init(struct bench *b, struct err *e)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
	    .ai_flags = AI_NUMERICSERV };
	unsigned char ip[16];
	X509_VERIFY_PARAM *vp;
	int r;

	b->gw_is_ip = inet_pton(AF_INET, b->gwhost, ip) == 1 ||
	    inet_pton(AF_INET6, b->gwhost, ip) == 1;
	/* Resolved once: the setup rate must not include name lookups. */
	if ((r = getaddrinfo(b->gwhost, b->gwport, &hints, &b->gwai)) != 0)
		return fail(e, EX_FAIL, "resolve gateway %s: %s", b->gwhost,
		    gai_strerror(r));
	if ((b->ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    SSL_CTX_set_min_proto_version(b->ctx, TLS1_2_VERSION) != 1)
		return fail(e, EX_TLS, "TLS context: %s", ssl_errstr());
	SSL_CTX_set_verify(b->ctx, SSL_VERIFY_PEER, NULL);
	if (b->ca != NULL && access(b->ca, R_OK) == -1)
		return fail(e, EX_TLS, "CA file %s: %s", b->ca, strerror(errno));
	if (b->ca != NULL ? SSL_CTX_load_verify_file(b->ctx, b->ca) != 1 :
	    SSL_CTX_set_default_verify_paths(b->ctx) != 1)
		return fail(e, EX_TLS, "load CA %s: %s", b->ca ? b->ca :
		    "system store", ssl_errstr());
	vp = SSL_CTX_get0_param(b->ctx);
	if ((b->gw_is_ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, b->gwhost) :
	    X509_VERIFY_PARAM_set1_host(vp, b->gwhost, 0)) != 1)
		return fail(e, EX_TLS, "set expected gateway name: %s",
		    ssl_errstr());
	/* Idle tunnels then hold no record buffers, as in a client that
	 * keeps many quiet tunnels. */
	if (b->mode == M_IDLE)
		SSL_CTX_set_mode(b->ctx, SSL_MODE_RELEASE_BUFFERS);
	if (b->mode == M_SETUP)
		return raise_nofile(2 * (rlim_t)b->concurrency + 64, e);
	if (b->mode == M_IDLE)
		return raise_nofile(2 * (rlim_t)b->tunnels + 64, e);
	return EX_OK;
}

int
main(int argc, char *argv[])
{
	struct bench b;
	struct backend bk;
	struct err e = { .code = EX_OK };
	int r = EX_FAIL;

	parse_args(&b, argc, argv);
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		fail(&e, EX_FAIL, "signal: %s", strerror(errno));
	if (e.code != EX_OK || bench_init(&b, &e) != EX_OK ||
	    backend_start(&b, &bk, &e) != EX_OK ||
	    build_request(&b, bk.port, &e) != EX_OK)
		die(&e);
	switch (b.mode) {
	case M_UP:
	case M_DOWN:
		r = run_bulk(&b, &bk, &e);
		break;
	case M_SETUP:
	case M_IDLE:
		r = b.mode == M_SETUP ? run_setup(&b, &e) :
		    run_idle(&b, &bk, &e);
		backend_stop(&bk);
		if (r == EX_OK && bk.err.code != EX_OK) {
			e = bk.err;
			r = e.code;
		}
		break;
	}
	/* Setup mode reported its failures with its figures. */
	if (r != EX_OK && (b.mode != M_SETUP || bk.err.code != EX_OK))
		fprintf(stderr, "%s: %s\n", progname, e.msg);
	if (b.stages != NULL && fclose(b.stages) != 0) {
		fprintf(stderr, "%s: --stages: %s\n", progname, strerror(errno));
		r = EX_FAIL;
	}
	OPENSSL_cleanse(b.req, sizeof(b.req));
	SSL_CTX_free(b.ctx);
	freeaddrinfo(b.gwai);
	return r;
}
