/*
 * The checks worker: agent-local services and checks, the check runner,
 * and anti-entropy into the catalog.  This file is its process shell; the
 * service-discovery issue adds the registry and runners beside it.
 */
#include "workers/common/stats.h"
#include "workers/common/worker.h"

#include <string.h>

struct chk_counts {
	unsigned services, checks, ttl_checks, monitors;
};

static struct chk_counts counts;

/* Stats "agent" section, as `consul info` shows it. */
static void
chk_stats(struct worker *w, const char *section, struct buf *out)
{
	if (strcmp(section, "agent") != 0)
		return;
	stats_addu(out, "check_monitors", counts.monitors);
	stats_addu(out, "check_ttls", counts.ttl_checks);
	stats_addu(out, "checks", counts.checks);
	stats_addu(out, "services", counts.services);
}

const struct worker_ops checks_ops = {
	.proc = PROC_CHECKS,
	.stats = chk_stats,
};
