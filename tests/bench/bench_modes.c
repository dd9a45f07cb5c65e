/*
 * The measurements: bulk throughput one way (up, down), full tunnel setups
 * per second from concurrent clients (setup), and open tunnels held (idle).
 */
#include <sys/socket.h>

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/ssl.h>

#include "bench.h"

#define MAX_LAT		(1u << 24)	/* latency samples kept per thread */

struct worker {
	const struct bench *b;
	unsigned	 index;		/* its place in the --rate schedule */
	double		 begin;		/* when the run began */
	pthread_t	 thr;
	double		*lat;
	size_t		 nlat, cap;
	uint64_t	 tunnels, errors;
	uint64_t	 resumed;	/* handshakes the gateway resumed */
	struct err	 first;
};

int
run_bulk(const struct bench *b, struct backend *bk, struct err *e)
{
	unsigned char digest[32];
	struct conn c;
	struct stream s = { .b = b, .c = &c };
	double t0, t1;
	size_t n;
	int r, up = b->mode == M_UP;

	if ((r = tunnel_open(b, &c, NULL, e)) == EX_OK) {
		t0 = now();
		if (up || (r = stream_io(&s, 1, "g", 1, &n, e)) == EX_OK)
			r = stream_bulk(&s, up, digest, &t1, e);
		/* On success the backend has all the data before the tunnel
		 * closes; on failure the close ends the backend's wait. */
		if (r == EX_OK)
			backend_stop(bk);
		conn_close(&c);
	}
	if (r != EX_OK) {
		/* Wakes a backend still waiting in accept(). */
		if (shutdown(bk->lfd, SHUT_RDWR) == -1)
			fprintf(stderr, "%s: backend shutdown: %s\n", progname,
			    strerror(errno));
		backend_stop(bk);
		return r;
	}
	if (bk->err.code != EX_OK) {
		*e = bk->err;
		return e->code;
	}
	if (up)
		t1 = bk->t_done;
	if (b->verify && memcmp(digest, bk->digest, sizeof(digest)) != 0)
		return fail(e, EX_FAIL, "--verify: SHA-256 of the %llu bytes "
		    "received differs from what was sent",
		    (unsigned long long)b->bytes);
	printf("%s bytes=%llu seconds=%.3f MB/s=%.1f%s\n", up ? "up" : "down",
	    (unsigned long long)b->bytes, t1 - t0,
	    (double)b->bytes / (t1 - t0) / 1e6, b->verify ? " verified" : "");
	return EX_OK;
}

static int
setup_one(struct worker *w, SSL_SESSION **sess, double t0, struct err *e)
{
	const struct bench *b = w->b;
	struct conn c;
	unsigned char byte = 'p';
	size_t got;
	bool reused;
	int r;

	if ((r = tunnel_open(b, &c, *sess, e)) != EX_OK)
		return r;
	reused = SSL_session_reused(c.ssl) == 1;
	if ((r = conn_write(&c, &byte, 1, b->timeout, e)) == EX_OK &&
	    (r = conn_read(&c, &byte, 1, &got, b->timeout, e)) == EX_OK &&
	    byte != 'p')
		r = fail(e, EX_FAIL, "echo through the tunnel returned "
		    "a different byte");
	if (r == EX_OK && b->resume) {
		SSL_SESSION_free(*sess);
		*sess = SSL_get1_session(c.ssl);
	}
	/* Counted, so a peer that ignores tickets cannot pass for fast. */
	if (r == EX_OK && reused)
		w->resumed++;
	/* One fprintf a line: stdio locks the stream, lines stay whole. */
	if (r == EX_OK && b->stages != NULL)
		fprintf(b->stages, "%.6f %.6f %.6f %.6f %.6f\n", t0, c.t_tcp,
		    c.t_tls, c.t_200, now());
	conn_close(&c);
	return r;
}

/*
 * With --rate, when the k-th setup of this worker is due: the workers take
 * turns, so setups begin every 1/rate s whatever the gateway does. It waits
 * for that time; a setup that is late begins at once, and its latency
 * counts from when it was due, so a slow gateway cannot hide its queue by
 * slowing the clients down (coordinated omission).
 */
static double
setup_due(const struct worker *w, uint64_t k)
{
	const struct bench *b = w->b;
	struct timespec ts;
	double due, t;

	if (b->rate == 0)
		return now();
	due = w->begin + ((double)k * b->concurrency + w->index) / b->rate;
	if ((t = now()) < due) {
		ts.tv_sec = (time_t)(due - t);
		ts.tv_nsec = (long)((due - t - (double)ts.tv_sec) * 1e9);
		while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
			;
	}
	return due;
}

static void *
setup_worker(void *arg)
{
	struct worker *w = arg;
	SSL_SESSION *sess = NULL;
	struct err e;
	double *nl, t0;
	uint64_t k = 0;

	while ((t0 = setup_due(w, k++)) < w->b->deadline) {
		if (setup_one(w, &sess, t0, &e) != EX_OK) {
			if (w->errors++ == 0)
				w->first = e;
			continue;
		}
		w->tunnels++;
		if (w->nlat == w->cap && w->cap < MAX_LAT) {
			w->cap = w->cap ? w->cap * 2 : 1024;
			if ((nl = realloc(w->lat, w->cap * sizeof(*nl))) ==
			    NULL) {
				w->cap = w->nlat;
				continue;
			}
			w->lat = nl;
		}
		if (w->nlat < w->cap)
			w->lat[w->nlat++] = (now() - t0) * 1e3;
	}
	SSL_SESSION_free(sess);
	return NULL;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
percentile(const double *v, size_t n, unsigned p)
{
	size_t rank;

	if (n == 0)
		return 0;
	rank = (n * p + 99) / 100;
	return v[rank ? rank - 1 : 0];
}

static void
setup_report(struct worker *w, unsigned n, double secs, struct err *e)
{
	uint64_t tunnels = 0, errors = 0, resumed = 0;
	size_t total = 0, i;
	double *all;

	for (i = 0; i < n; i++) {
		tunnels += w[i].tunnels;
		errors += w[i].errors;
		resumed += w[i].resumed;
		total += w[i].nlat;
		if (w[i].errors && e->code == EX_OK)
			*e = w[i].first;
	}
	if ((all = malloc((total ? total : 1) * sizeof(*all))) == NULL) {
		fprintf(stderr, "%s: malloc: %s\n", progname, strerror(errno));
		e->code = EX_FAIL;
		return;
	}
	for (total = 0, i = 0; i < n; i++) {
		if (w[i].nlat)
			memcpy(all + total, w[i].lat, w[i].nlat * sizeof(*all));
		total += w[i].nlat;
	}
	qsort(all, total, sizeof(*all), cmp_double);
	printf("setup tunnels=%llu seconds=%.3f tunnels/s=%.1f errors=%llu "
	    "p50_ms=%.2f p99_ms=%.2f resumed=%llu\n",
	    (unsigned long long)tunnels, secs, (double)tunnels / secs,
	    (unsigned long long)errors, percentile(all, total, 50),
	    percentile(all, total, 99), (unsigned long long)resumed);
	free(all);
	if (errors)
		fprintf(stderr, "%s: %llu failed tunnels, the first: %s\n",
		    progname, (unsigned long long)errors, e->msg);
}

int
run_setup(struct bench *b, struct err *e)
{
	struct worker *w;
	unsigned i, started;
	double t0;
	int r = 0;

	if ((w = calloc(b->concurrency, sizeof(*w))) == NULL)
		return fail(e, EX_FAIL, "calloc: %s", strerror(errno));
	t0 = now();
	b->deadline = t0 + b->duration;
	for (started = 0; started < b->concurrency; started++) {
		w[started].b = b;
		w[started].index = started;
		w[started].begin = t0;
		if ((r = pthread_create(&w[started].thr, NULL, setup_worker,
		    &w[started])) != 0)
			break;
	}
	for (i = 0; i < started; i++)
		pthread_join(w[i].thr, NULL);
	if (r != 0) {
		fprintf(stderr, "%s: client thread %u: %s\n", progname,
		    started, strerror(r));
		e->code = EX_FAIL;
	} else
		setup_report(w, started, now() - t0, e);
	for (i = 0; i < started; i++)
		free(w[i].lat);
	free(w);
	return e->code;
}

static void
hold(unsigned secs)
{
	struct timespec ts = { .tv_sec = secs };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* A forwarder connects its backend on its own after the handshake: the
 * tunnels count as open once the backend has accepted every one, as a
 * CONNECT tunnel does once its 200 came. */
static int
idle_backends(const struct bench *b, struct backend *bk, size_t open,
    struct err *e)
{
	struct timespec tick = { .tv_nsec = 10000000 };
	double deadline = now() + b->timeout;

	while (__atomic_load_n(&bk->accepted, __ATOMIC_ACQUIRE) < open) {
		if (now() > deadline)
			return fail(e, EX_FAIL, "the backend accepted %lu of "
			    "%zu tunnels within %d s (--timeout)",
			    __atomic_load_n(&bk->accepted, __ATOMIC_ACQUIRE),
			    open, b->timeout);
		nanosleep(&tick, NULL);
	}
	return EX_OK;
}

int
run_idle(const struct bench *b, struct backend *bk, struct err *e)
{
	struct conn *c;
	size_t i, open;
	int r = EX_OK;

	if ((c = calloc(b->tunnels, sizeof(*c))) == NULL)
		return fail(e, EX_FAIL, "calloc: %s", strerror(errno));
	for (open = 0; open < b->tunnels; open++) {
		if ((r = tunnel_open(b, &c[open], NULL, e)) != EX_OK) {
			size_t l = strlen(e->msg);

			snprintf(e->msg + l, sizeof(e->msg) - l,
			    " (tunnel %zu of %zu)", open + 1, b->tunnels);
			break;
		}
	}
	if (r == EX_OK && b->no_connect)
		r = idle_backends(b, bk, open, e);
	if (r == EX_OK) {
		printf("idle tunnels=%zu\n", open);
		fflush(stdout);
		hold(b->hold);
	}
	for (i = 0; i < open; i++)
		conn_close(&c[i]);
	free(c);
	return r;
}
