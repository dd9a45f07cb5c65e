/*
 * libtunnelgate: open a tunnel through a tunnelgate gateway and exchange an
 * application's bytes over it.
 *
 * A tunnel is a TLS connection to the gateway on which the library sends
 * "CONNECT host:port HTTP/1.1" with Basic credentials; once the gateway
 * answers 200, every byte written with tg_write() reaches the target and
 * every byte the target sends comes back from tg_read().
 *
 * Blocking use:
 *	struct tg_options o;
 *	struct tg_tunnel *t;
 *	tg_options_init(&o);
 *	o.gateway = "gw.example.com:443"; o.user = "alice"; o.password = pw;
 *	if (tg_open(&o, "db.internal:5432", &t) != TG_OK) {
 *		fprintf(stderr, "%s\n", tg_errmsg(t));
 *		tg_close(t);
 *	}
 *
 * Non-blocking use (many tunnels in one event loop): tg_ctx_new() once,
 * tg_tunnel_start() per tunnel, then call tg_tunnel_step() whenever
 * tg_fd() is ready or tg_tunnel_timeout_ms() has passed, until it returns
 * TG_OK. tg_read() and tg_write() return TG_WANT_READ or TG_WANT_WRITE when
 * they would block: wait for that event on tg_fd() and call again. As with
 * any TLS stream, call tg_read() until it returns TG_WANT_READ before
 * waiting for the fd again: decrypted bytes may be buffered inside.
 * Called before the tunnel is open, both advance the opening as
 * tg_tunnel_step() does; with the pipeline option, tg_write() then takes
 * up to TG_EARLY_MAX bytes to send right behind the CONNECT request.
 *
 * Tunnels of one context resume the TLS sessions the gateway gave it (up
 * to eight tickets, each offered once, so that tunnels opened together
 * each resume), so open them from one context rather than one context each.
 *
 * A tunnel must be used by one thread at a time; a context may be shared by
 * threads once created. The library never changes signal dispositions and
 * writes with MSG_NOSIGNAL, so a closed connection never raises SIGPIPE.
 */
#ifndef TUNNELGATE_H
#define TUNNELGATE_H

#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TG_VERSION		"1.0.0"
#define TG_DEFAULT_PORT		"443"

#if defined(__GNUC__)
#define TG_API	__attribute__((visibility("default")))
#else
#define TG_API
#endif

/* Return codes: 0 or negative. Names say why a tunnel did not open. */
enum tg_code {
	TG_OK = 0,
	TG_WANT_READ = -1,		/* wait until tg_fd() is readable */
	TG_WANT_WRITE = -2,		/* wait until tg_fd() is writable */
	TG_ERR_INVALID = -3,		/* bad option or argument */
	TG_ERR_SYSTEM = -4,		/* system call or memory allocation */
	TG_ERR_FILE = -5,		/* CA, certificate or key file */
	TG_ERR_RESOLVE = -6,		/* gateway name did not resolve */
	TG_ERR_CONNECT = -7,		/* TCP connection to the gateway */
	TG_ERR_TLS = -8,		/* handshake or certificate check */
	TG_ERR_TIMEOUT = -9,		/* connect, handshake or answer */
	TG_ERR_PROTOCOL = -10,		/* gateway's answer is not HTTP */
	TG_ERR_FORBIDDEN = -11,		/* 403: policy denies the target */
	TG_ERR_AUTH = -12,		/* 407: credentials refused */
	TG_ERR_BAD_GATEWAY = -13,	/* 502: target refused/unreachable */
	TG_ERR_UNAVAILABLE = -14,	/* 503: gateway overloaded */
	TG_ERR_GATEWAY_TIMEOUT = -15,	/* 504: target or DNS timed out */
	TG_ERR_REFUSED = -16,		/* any other non-2xx status */
	TG_ERR_CUT = -17,		/* connection lost without close_notify */
	TG_ERR_STATE = -18		/* call not valid in this state */
};

struct tg_options {
	/* "host", "host:port", "[v6addr]" or "[v6addr]:port" (port 443). */
	const char	*gateway;
	/* Name checked in the certificate and sent as SNI; default: host. */
	const char	*server_name;
	const char	*user;
	const char	*password;
	/* PEM CA bundle; NULL: the system's default CA store. */
	const char	*ca_file;
	/* Optional client certificate chain and key (PEM); key defaults to
	 * cert_file. */
	const char	*cert_file;
	const char	*key_file;
	/* Accept any certificate and name. Anyone on the path can then read
	 * the password and the data. */
	int		 insecure_skip_verify;
	/* Send bytes written before the gateway's answer right after the
	 * CONNECT request (draft-luotonen §3.3); up to TG_EARLY_MAX bytes. */
	int		 pipeline;
	unsigned int	 connect_timeout_ms;	/* per gateway address */
	unsigned int	 handshake_timeout_ms;
	unsigned int	 response_timeout_ms;	/* request sent to answer read */
};

#define TG_EARLY_MAX	16384

struct tg_ctx;
struct tg_tunnel;

TG_API void	 tg_options_init(struct tg_options *);
TG_API const char *tg_strerror(int code);
/* TG_OK if target is "host:port" or "[v6]:port" as tunnels accept it. */
TG_API int	 tg_target_check(const char *target);

/*
 * Shared settings: TLS configuration, resolved gateway addresses and the
 * encoded credentials. On failure *ctxp is still set (unless memory ran
 * out) so that tg_ctx_errmsg() can say what failed; free it.
 */
TG_API int	 tg_ctx_new(const struct tg_options *, struct tg_ctx **ctxp);
TG_API const char *tg_ctx_errmsg(const struct tg_ctx *);
TG_API void	 tg_ctx_free(struct tg_ctx *);

/*
 * Start opening a tunnel to target ("host:port" or "[v6]:port") without
 * blocking. The context must outlive the tunnel. On failure *tp is still
 * set (unless memory ran out): read tg_errmsg() and tg_close() it.
 */
TG_API int	 tg_tunnel_start(struct tg_ctx *, const char *target,
		    struct tg_tunnel **tp);
/* TG_OK once the gateway answered 2xx; TG_WANT_* or an error code. */
TG_API int	 tg_tunnel_step(struct tg_tunnel *);
/* Milliseconds left for the current opening phase; -1 once open. */
TG_API int	 tg_tunnel_timeout_ms(const struct tg_tunnel *);

/* Blocking open with its own context; same ownership rule as above. */
TG_API int	 tg_open(const struct tg_options *, const char *target,
		    struct tg_tunnel **tp);
/* Tunnels from tg_open() block in tg_read()/tg_write(); others do not. */
TG_API int	 tg_set_blocking(struct tg_tunnel *, int on);

/* The socket to wait on. While a tunnel opens it changes from one gateway
 * address to the next: ask again after each tg_tunnel_step(). */
TG_API int	 tg_fd(const struct tg_tunnel *);
/* Bytes read, 0 when the target has finished sending (TLS close_notify),
 * or a negative code. */
TG_API ssize_t	 tg_read(struct tg_tunnel *, void *, size_t);
/* Bytes written (possibly fewer than asked) or a negative code. After
 * TG_WANT_*, call again with at least the same bytes. */
TG_API ssize_t	 tg_write(struct tg_tunnel *, const void *, size_t);
/* Half-close: tell the target no more data follows; reading goes on. */
TG_API int	 tg_shutdown(struct tg_tunnel *);
TG_API void	 tg_close(struct tg_tunnel *);

/* Status code of the gateway's answer; 0 before one was read. */
TG_API int	 tg_http_status(const struct tg_tunnel *);
/* One line saying what failed last and, where it helps, what to do. */
TG_API const char *tg_errmsg(const struct tg_tunnel *);

#ifdef __cplusplus
}
#endif

#endif
