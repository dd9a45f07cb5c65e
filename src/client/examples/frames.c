/*
 * tunnelgate-frames: a real-time stream through libtunnelgate.
 *
 * Sends fixed-size frames at a fixed rate (50 frames/s of 1200 bytes by
 * default) through a tunnel to an echo server, each stamped with its
 * sequence number and send time, checks every echoed frame and prints the
 * per-frame round-trip latency percentiles. Uses only <tunnelgate.h>:
 *
 *	cc frames.c $(pkg-config --cflags --libs tunnelgate)
 *	TUNNELGATE_PASSWORD=... ./a.out -u alice --ca ca.pem gw:443 echo:7
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* getopt_long, clock_gettime with -std=c17 */
#endif

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tunnelgate.h>

#define STAMP_LEN	16	/* sequence, send time */
#define SIZE_MAX_FRAME	65536
#define DRAIN_MS	5000	/* wait for echoes after the last frame */

struct stream {
	struct tg_tunnel *t;
	unsigned long	 frames, rate, size;
	unsigned long	 sent, received;
	uint64_t	*latency_ns;
	unsigned char	 out[SIZE_MAX_FRAME], in[SIZE_MAX_FRAME];
	size_t		 outoff, outlen, inlen;
};

static uint64_t
now_ns(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
frame_fill(unsigned char *f, size_t size, uint64_t seq, uint64_t stamp)
{
	memcpy(f, &seq, 8);
	memcpy(f + 8, &stamp, 8);
	for (size_t i = STAMP_LEN; i < size; i++)
		f[i] = (unsigned char)(seq * 31 + i);
}

/* An echoed frame: intact and in order, or the stream is broken. */
static int
frame_check(struct stream *s)
{
	uint64_t	 seq, stamp, now = now_ns();

	memcpy(&seq, s->in, 8);
	memcpy(&stamp, s->in + 8, 8);
	if (seq != s->received) {
		fprintf(stderr, "frame %lu: got sequence %llu\n", s->received,
		    (unsigned long long)seq);
		return -1;
	}
	for (size_t i = STAMP_LEN; i < s->size; i++)
		if (s->in[i] != (unsigned char)(seq * 31 + i)) {
			fprintf(stderr, "frame %lu: byte %zu differs\n",
			    s->received, i);
			return -1;
		}
	s->latency_ns[s->received++] = now - stamp;
	return 0;
}

static int
pump_read(struct stream *s)
{
	ssize_t	 r;

	while ((r = tg_read(s->t, s->in + s->inlen, s->size - s->inlen)) > 0) {
		s->inlen += (size_t)r;
		if (s->inlen == s->size) {
			s->inlen = 0;
			if (frame_check(s) == -1)
				return -1;
		}
	}
	if (r == TG_WANT_READ || r == TG_WANT_WRITE)
		return 0;
	fprintf(stderr, "read: %s\n", r == 0 ? "tunnel closed early" :
	    tg_errmsg(s->t));
	return -1;
}

static int
pump_write(struct stream *s)
{
	ssize_t	 r;

	while (s->outoff < s->outlen) {
		r = tg_write(s->t, s->out + s->outoff, s->outlen - s->outoff);
		if (r == TG_WANT_READ || r == TG_WANT_WRITE)
			return 0;
		if (r < 0) {
			fprintf(stderr, "write: %s\n", tg_errmsg(s->t));
			return -1;
		}
		s->outoff += (size_t)r;
	}
	return 0;
}

static int
run(struct stream *s)
{
	uint64_t	 period = 1000000000u / s->rate, next = now_ns(), now;
	uint64_t	 last = 0;
	struct pollfd	 pfd = { .fd = tg_fd(s->t) };
	int		 timeout;

	while (s->received < s->frames) {
		now = now_ns();
		if (s->sent < s->frames && s->outoff == s->outlen &&
		    now >= next) {
			frame_fill(s->out, s->size, s->sent++, now);
			s->outoff = 0;
			s->outlen = s->size;
			next += period;
			last = now;
		}
		if (pump_write(s) == -1 || pump_read(s) == -1)
			return -1;
		if (s->sent == s->frames && now - last > DRAIN_MS * 1000000ull) {
			fprintf(stderr, "%lu of %lu frames came back\n",
			    s->received, s->frames);
			return -1;
		}
		if (s->outoff < s->outlen || s->sent == s->frames)
			timeout = 100;
		else
			timeout = next > now ?
			    (int)((next - now + 999999) / 1000000) : 0;
		pfd.events = POLLIN | (s->outoff < s->outlen ? POLLOUT : 0);
		if (poll(&pfd, 1, timeout) == -1 && errno != EINTR)
			return -1;
	}
	return 0;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t	 x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double
pct_us(const uint64_t *v, unsigned long n, unsigned int p)
{
	return (double)v[(n - 1) * p / 100] / 1000.0;
}

static unsigned long
num(const char *arg, unsigned long min, unsigned long max)
{
	char		*end;
	unsigned long	 v = strtoul(arg, &end, 10);

	if (*arg == '\0' || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "%s: expected %lu to %lu\n", arg, min, max);
		exit(2);
	}
	return v;
}

static void
parse_args(int argc, char *argv[], struct stream *s, struct tg_options *o)
{
	static const struct option lopts[] = {
		{ "ca", required_argument, NULL, 'c' },
		{ "frames", required_argument, NULL, 'n' },
		{ "rate", required_argument, NULL, 'r' },
		{ "size", required_argument, NULL, 's' },
		{ "user", required_argument, NULL, 'u' },
		{ NULL, 0, NULL, 0 }
	};
	int	 ch;

	while ((ch = getopt_long(argc, argv, "u:", lopts, NULL)) != -1) {
		switch (ch) {
		case 'c': o->ca_file = optarg; break;
		case 'n': s->frames = num(optarg, 1, 1000000); break;
		case 'r': s->rate = num(optarg, 1, 100000); break;
		case 's': s->size = num(optarg, STAMP_LEN, SIZE_MAX_FRAME); break;
		case 'u': o->user = optarg; break;
		default:
			fprintf(stderr, "usage: tunnelgate-frames [-u USER] "
			    "[--ca FILE] [--frames N] [--rate FPS] [--size "
			    "BYTES] GATEWAY TARGET\n");
			exit(2);
		}
	}
	if (argc - optind != 2 || o->user == NULL || o->password == NULL) {
		fprintf(stderr, "need GATEWAY TARGET, -u USER and "
		    "TUNNELGATE_PASSWORD\n");
		exit(2);
	}
	o->gateway = argv[optind];
}

int
main(int argc, char *argv[])
{
	static struct stream s = { .frames = 250, .rate = 50, .size = 1200 };
	struct tg_options o;
	int		 r;

	tg_options_init(&o);
	o.password = getenv("TUNNELGATE_PASSWORD");
	parse_args(argc, argv, &s, &o);
	if ((s.latency_ns = calloc(s.frames, sizeof(uint64_t))) == NULL)
		return 1;
	if ((r = tg_open(&o, argv[argc - 1], &s.t)) != TG_OK) {
		fprintf(stderr, "tunnel: %s\n", tg_errmsg(s.t));
		tg_close(s.t);
		free(s.latency_ns);
		return 1;
	}
	tg_set_blocking(s.t, 0);
	r = run(&s);
	/* Half-close, then the echo server's own end of stream. */
	tg_set_blocking(s.t, 1);
	if (r == 0 && (tg_shutdown(s.t) != TG_OK ||
	    tg_read(s.t, s.in, sizeof(s.in)) != 0)) {
		fprintf(stderr, "close: %s\n", tg_errmsg(s.t));
		r = -1;
	}
	tg_close(s.t);
	if (r == 0) {
		qsort(s.latency_ns, s.frames, sizeof(uint64_t), cmp_u64);
		printf("frames %lu size %lu rate %lu/s latency_us p50 %.1f "
		    "p90 %.1f p99 %.1f max %.1f\n", s.frames, s.size, s.rate,
		    pct_us(s.latency_ns, s.frames, 50),
		    pct_us(s.latency_ns, s.frames, 90),
		    pct_us(s.latency_ns, s.frames, 99),
		    pct_us(s.latency_ns, s.frames, 100));
	}
	free(s.latency_ns);
	return r == 0 ? 0 : 1;
}
