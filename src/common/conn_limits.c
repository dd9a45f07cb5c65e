#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

#include "conn_limits.h"
#include "keyed_hash.h"
#include "log.h"
#include "tg_limits.h"

/* One source bucket of one gate worker. */
struct cl_cell {
	uint16_t	 conns;		/* open now */
	uint16_t	 fresh;		/* accepted in minute */
	uint16_t	 before;	/* accepted in the minute before it */
	uint16_t	 pad;
	uint32_t	 minute;
};

struct cl_row {
	uint32_t	 total;
	uint32_t	 pad;
	struct cl_cell	 cells[TG_SOURCE_BUCKETS];
};

struct cl_shared {
	uint64_t	 seed;
	uint8_t		 used[TG_CONN_LIMIT_ROWS];	/* written by the master */
	struct cl_row	 rows[TG_CONN_LIMIT_ROWS];
};

static struct cl_shared	*cl_map;
static struct cl_row	*cl_own;

#define LD(p)		__atomic_load_n((p), __ATOMIC_RELAXED)
#define ST(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELAXED)

int
conn_limits_setup(void)
{
	void	*p;
	int	 fd;

	if (cl_map != NULL)
		return 0;
	/* Named, so that /proc/PID/maps says which processes hold it. */
	if ((fd = memfd_create("tg-conn-limits", MFD_CLOEXEC)) == -1 ||
	    ftruncate(fd, sizeof(struct cl_shared)) == -1) {
		log_warn("connection limits: memfd");
		if (fd != -1)
			close(fd);
		return -1;
	}
	p = mmap(NULL, sizeof(struct cl_shared), PROT_READ | PROT_WRITE,
	    MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		log_warn("connection limits: mmap");
		return -1;
	}
	cl_map = p;
	if (getrandom(&cl_map->seed, sizeof(cl_map->seed), 0) !=
	    sizeof(cl_map->seed)) {
		log_warn("connection limits: getrandom");
		return -1;
	}
	return 0;
}

int
conn_limits_row_take(void)
{
	if (cl_map == NULL)
		return -1;
	for (int r = 0; r < TG_CONN_LIMIT_ROWS; r++)
		if (!LD(&cl_map->used[r])) {
			ST(&cl_map->used[r], 1);
			return r;
		}
	return -1;
}

void
conn_limits_row_free(int row)
{
	if (cl_map == NULL || row < 0 || row >= TG_CONN_LIMIT_ROWS)
		return;
	/* Not read while unused, so zeroing it races with nobody. */
	ST(&cl_map->used[row], 0);
	memset(&cl_map->rows[row], 0, sizeof(cl_map->rows[row]));
}

void
conn_limits_unmap(void)
{
	if (cl_map != NULL)
		munmap(cl_map, sizeof(struct cl_shared));
	cl_map = NULL;
}

void
conn_limits_use_row(int row)
{
	if (cl_map != NULL && row >= 0 && row < TG_CONN_LIMIT_ROWS) {
		cl_own = &cl_map->rows[row];
		return;
	}
	log_warnx("no shared connection-limit row is free (too many gate "
	    "workers still draining); this gate worker counts only its own "
	    "connections");
	if ((cl_own = calloc(1, sizeof(*cl_own))) == NULL)
		fatal("connection limits: calloc");
}

static uint32_t
conn_limits_bucket(const struct source_key *k)
{
	uint8_t	 key[sizeof(k->addr) + 1];

	memcpy(key, k->addr, sizeof(k->addr));
	key[sizeof(k->addr)] = k->v4;
	return (uint32_t)(keyed_hash(cl_map != NULL ? cl_map->seed : 0, key,
	    sizeof(key)) % TG_SOURCE_BUCKETS);
}

/* One bucket of every gate worker: open connections, and the new ones. */
struct cl_sum {
	uint64_t	 total, conns;
	uint64_t	 fresh, before;	/* this minute, the one before */
};

static void
conn_limits_sum(uint32_t b, uint32_t minute, struct cl_sum *sum)
{
	const struct cl_row	*row;
	uint32_t		 m;

	memset(sum, 0, sizeof(*sum));
	for (int r = -1; r < TG_CONN_LIMIT_ROWS; r++) {
		if (r == -1)
			row = cl_own;
		else if (cl_map == NULL || !LD(&cl_map->used[r]) ||
		    &cl_map->rows[r] == cl_own)
			continue;
		else
			row = &cl_map->rows[r];
		sum->total += LD(&row->total);
		sum->conns += LD(&row->cells[b].conns);
		m = LD(&row->cells[b].minute);
		if (m == minute) {
			sum->fresh += LD(&row->cells[b].fresh);
			sum->before += LD(&row->cells[b].before);
		} else if (m + 1 == minute)
			sum->before += LD(&row->cells[b].fresh);
	}
}

/*
 * New connections in the last minute, sliding: this minute's, and the
 * minute before's in the share of it still inside the last 60 s (so a
 * burst at a minute's end is not forgiven at the turn of the minute).
 */
static bool
conn_limits_rate_over(const struct cl_sum *sum, unsigned rate, int64_t now_ms)
{
	double	 gone = (double)(now_ms % 60000) / 60000;

	/* Rounded: connections at once fill the budget exactly. */
	return (double)sum->fresh + (double)sum->before * (1 - gone) + 0.5 >= rate;
}

static void
conn_limits_count(struct cl_cell *c, uint32_t minute)
{
	uint32_t	 m = LD(&c->minute);

	if (m != minute) {
		ST(&c->before, m + 1 == minute ? LD(&c->fresh) : 0);
		ST(&c->fresh, 0);
		ST(&c->minute, minute);
	}
	ST(&c->conns, (uint16_t)(LD(&c->conns) + 1));
	if (LD(&c->fresh) < UINT16_MAX)
		ST(&c->fresh, (uint16_t)(LD(&c->fresh) + 1));
	ST(&cl_own->total, LD(&cl_own->total) + 1);
}

const char *
conn_limits_admit(const struct config *cfg, const struct source_key *k,
    int64_t now_ms, uint32_t *bucket)
{
	uint32_t	 b = conn_limits_bucket(k);
	uint32_t	 minute = (uint32_t)(now_ms / 60000);
	struct cl_sum	 sum;

	conn_limits_sum(b, minute, &sum);
	if (cfg->limit_total_connections != 0 &&
	    sum.total >= cfg->limit_total_connections)
		return "total connection limit";
	/* The config caps it below what the 16-bit count holds. */
	if ((cfg->limit_source_connections != 0 &&
	    sum.conns >= cfg->limit_source_connections) ||
	    LD(&cl_own->cells[b].conns) == UINT16_MAX)
		return "per-source connection limit";
	if (cfg->limit_source_rate != 0 &&
	    conn_limits_rate_over(&sum, cfg->limit_source_rate, now_ms))
		return "per-source connection rate";
	conn_limits_count(&cl_own->cells[b], minute);
	*bucket = b;
	return NULL;
}

void
conn_limits_release(uint32_t bucket)
{
	struct cl_cell	*c;

	if (cl_own == NULL || bucket >= TG_SOURCE_BUCKETS)
		return;
	c = &cl_own->cells[bucket];
	if (LD(&c->conns) > 0)
		ST(&c->conns, (uint16_t)(LD(&c->conns) - 1));
	if (LD(&cl_own->total) > 0)
		ST(&cl_own->total, LD(&cl_own->total) - 1);
}
