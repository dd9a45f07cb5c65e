/*
 * libtunnelgate internals, shared by the library's files and its unit tests.
 */
#ifndef TG_LIBTG_PRIV_H
#define TG_LIBTG_PRIV_H

#include <stdint.h>

#include <pthread.h>

#include <openssl/ssl.h>

#include "tunnelgate.h"

#define TG_HOST_MAX	255
#define TG_TARGET_MAX	(TG_HOST_MAX + 8)	/* [host]:65535 */
#define TG_USER_MAX	256
#define TG_PASSWORD_MAX	1024
#define TG_AUTH_MAX	(64 + ((TG_USER_MAX + 1 + TG_PASSWORD_MAX + 2) / 3) * 4)
#define TG_REQUEST_MAX	(3 * TG_TARGET_MAX + TG_AUTH_MAX + 128)
#define TG_HEAD_MAX	4096
#define TG_ERRMSG_MAX	512
#define TG_REASON_MAX	64
/*
 * TLS 1.3 tickets a context keeps, each offered once: as many tunnels as
 * this can start at once and all resume.
 */
#define TG_SESSIONS_MAX	8

struct tg_ctx {
	SSL_CTX		*ssl_ctx;
	BIO_METHOD	*bio_method;
	struct addrinfo	*addrs;
	char		 host[TG_HOST_MAX + 1];
	char		 port[8];
	char		 server_name[TG_HOST_MAX + 1];
	int		 name_is_ip;
	int		 pipeline;
	unsigned int	 connect_ms;
	unsigned int	 handshake_ms;
	unsigned int	 response_ms;
	/* "Proxy-Authorization: Basic ...\r\n", wiped when freed. */
	char		*auth_header;
	size_t		 auth_len;
	/* The sessions the next tunnels offer, newest last (libtg_session.c). */
	pthread_mutex_t	 session_lock;
	int		 session_lock_ok;
	SSL_SESSION	*sessions[TG_SESSIONS_MAX];
	size_t		 nsessions;
	char		 errmsg[TG_ERRMSG_MAX];
};

enum tg_state {
	TS_CONNECT,
	TS_HANDSHAKE,
	TS_REQUEST,
	TS_RESPONSE,
	TS_OPEN,
	TS_FAILED
};

struct tg_tunnel {
	struct tg_ctx	*ctx;
	struct tg_ctx	*own_ctx;	/* set by tg_open(), freed with it */
	enum tg_state	 state;
	int		 code;		/* sticky error once TS_FAILED */
	int		 fd;
	int		 blocking;
	int		 bio_eof;
	int		 read_eof;	/* close_notify received */
	int		 write_shut;	/* close_notify sent */
	SSL		*ssl;
	const struct addrinfo *ai;	/* address being tried */
	int64_t		 deadline;	/* monotonic ms, current phase */
	/* CONNECT request then pipelined bytes; holds credentials, so it is
	 * wiped once sent. */
	char		*out;
	size_t		 reqlen;
	size_t		 outlen;
	size_t		 outoff;
	size_t		 outcap;
	/* Gateway's answer; bytes after its head are tunnel data. */
	char		 head[TG_HEAD_MAX];
	size_t		 headlen;
	size_t		 restoff;
	size_t		 restlen;
	int		 status;
	char		 target[TG_TARGET_MAX + 1];
	char		 errmsg[TG_ERRMSG_MAX];
};

/* libtg_http.c: pure functions, unit-tested. */
int	 tg_split_hostport(const char *, char *host, size_t hostlen,
	    char *port, size_t portlen, const char *default_port);
void	 tg_sanitize(char *);
int	 tg_valid_target(const char *);
int	 tg_valid_user(const char *);
int	 tg_auth_header(const char *user, const char *password, char *out,
	    size_t outlen, size_t *lenp);
int	 tg_build_request(const char *target, const char *auth, size_t authlen,
	    char *out, size_t outlen, size_t *lenp);
int	 tg_parse_head(const char *buf, size_t len, size_t *headlen,
	    int *status, char *reason, size_t reasonlen);
int	 tg_status_code(int status);
const char *tg_status_hint(int status);

/* libtg_bio.c */
BIO_METHOD *tg_bio_method_new(void);
BIO	*tg_bio_new(struct tg_tunnel *);

/* libtg_ctx.c, libtg_tunnel.c */
int64_t	 tg_now_ms(void);
int	 tg_fail(struct tg_tunnel *, int code, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
void	 tg_ssl_errstr(char *, size_t);
int	 tg_io_failed(struct tg_tunnel *, int sslerr, const char *during);
size_t	 tg_tunnel_queue_early(struct tg_tunnel *, const void *, size_t);

/* libtg_session.c: resume the sessions the gateway gave. */
int	 tg_session_init(struct tg_ctx *);
void	 tg_session_offer(struct tg_ctx *, SSL *);
void	 tg_session_free(struct tg_ctx *);

#endif
