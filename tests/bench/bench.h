/*
 * tunnelgate-bench internals, shared by its files only: the run's settings,
 * one TLS tunnel through the proxy, the built-in backend, and the bulk data
 * stream both of them drive.
 */
#ifndef TG_BENCH_H
#define TG_BENCH_H

#include <netdb.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#define ERR_LEN		256
#define CRED_MAX	255
#define TARGET_MAX	300

enum { EX_OK, EX_FAIL, EX_STATUS, EX_TLS };
enum mode { M_UP, M_DOWN, M_SETUP, M_IDLE };

struct err {
	int		 code;
	char		 msg[ERR_LEN];
};

struct bench {
	enum mode	 mode;
	char		 gwhost[256];
	char		 gwport[8];
	int		 gw_is_ip;
	struct addrinfo	*gwai;
	const char	*ca;
	const char	*user;
	const char	*target;
	uint64_t	 bytes;
	unsigned	 concurrency;
	unsigned	 duration;
	size_t		 tunnels;
	unsigned	 hold;
	int		 timeout;
	int		 resume;
	int		 verify;
	int		 no_connect;	/* a plain TLS forwarder: no CONNECT */
	uint16_t	 backend_port;
	FILE		*stages;	/* --stages: a line per setup */
	unsigned	 rate;		/* --rate: setups begun a second */
	SSL_CTX		*ctx;
	char		 req[2048];
	size_t		 reqlen;
	double		 deadline;
};

struct conn {
	int		 fd;
	SSL		*ssl;
	int		 healthy;	/* close_notify may be sent */
	unsigned char	*pend;		/* tunnel bytes read with the answer */
	size_t		 plen, poff;
	double		 t_tcp, t_tls, t_200;	/* when each stage ended */
};

struct echo {
	int		 fd;
	struct echo	*prev, *next;
};

struct backend {
	const struct bench *b;
	int		 lfd;
	int		 evfd;
	uint16_t	 port;
	pthread_t	 thr;
	struct echo	 conns;
	unsigned long	 accepted;	/* echo connections, read atomically */
	double		 t_done;
	unsigned char	 digest[32];
	struct err	 err;
};

/* Both ends of a bulk run: the TLS tunnel (c != NULL) or the backend's
 * plain socket. */
struct stream {
	const struct bench *b;
	struct conn	*c;
	int		 fd;
};

/* tunnelgate-bench.c */
extern const char *const progname;
int		 fail(struct err *, int, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
double		 now(void);

/* bench_tls.c */
const char	*ssl_errstr(void);
int		 sock_setup(int, int);
int		 build_request(struct bench *, uint16_t, struct err *);
int		 tunnel_open(const struct bench *, struct conn *, SSL_SESSION *,
		    struct err *);
int		 conn_read(struct conn *, void *, size_t, size_t *, int,
		    struct err *);
int		 conn_write(struct conn *, const void *, size_t, int,
		    struct err *);
void		 conn_close(struct conn *);

/* bench_stream.c */
int		 stream_io(struct stream *, int, void *, size_t, size_t *,
		    struct err *);
int		 stream_bulk(struct stream *, int, unsigned char *, double *,
		    struct err *);

/* bench_backend.c */
int		 backend_start(const struct bench *, struct backend *,
		    struct err *);
void		 backend_stop(struct backend *);

/* bench_modes.c */
int		 run_bulk(const struct bench *, struct backend *, struct err *);
int		 run_setup(struct bench *, struct err *);
int		 run_idle(const struct bench *, struct backend *,
		    struct err *);

#endif
