/*
 * audit.progress_interval: a long tunnel's bytes so far, in the audit log
 * while it lives, so that a tunnel open for days is not a blank until its
 * close. One tick for all tunnels: each one open for at least an interval
 * gets a record at every tick, whatever its phase, and a tick costs one
 * walk of the table. The bytes are the holder's last report (at most a
 * second old).
 */
#include <string.h>

#include "master_priv.h"
#include "tunnels.h"

static int64_t	 progress_due;

static void
progress_write(const struct tunnel *t, int64_t now)
{
	struct audit_record	 rec;

	tunnel_record(t, now, AUDIT_PROGRESS, &rec);
	auditlog_write_own(&rec);
}

void
progress_timers(int64_t now, int64_t *next)
{
	unsigned		 every = m.gen->cfg->audit_progress_interval_ms;
	const struct tunnel	*t;

	if (every == 0 || m.stopping) {
		progress_due = 0;
		return;
	}
	/* A reload that shortens the interval takes effect at once. */
	if (progress_due == 0 || progress_due > now + every)
		progress_due = now + every;
	if (progress_due <= now) {
		for (t = tunnels_first(); t != NULL; t = tunnels_next(t)) {
			/* In open order: the rest are younger still. */
			if (now - t->opened_ms < every)
				break;
			progress_write(t, now);
		}
		progress_due = now + every;
	}
	if (*next == -1 || progress_due < *next)
		*next = progress_due;
}
