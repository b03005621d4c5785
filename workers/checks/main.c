/*
 * The checks worker: agent-local services and checks, the check runner,
 * and anti-entropy into the catalog.  This file is its process shell;
 * the service-discovery issue adds the registry and runners beside it.
 */
#include "workers/common/worker.h"

const struct worker_ops checks_ops = {
	.proc = PROC_CHECKS,
};
