/* The checks worker's process shell: what main.c shares with its
 * dispatch files. */
#ifndef MUSTER_CHECKS_H
#define MUSTER_CHECKS_H

#include "workers/checks/chk.h"
#include "workers/common/worker.h"

/* The worker's one registry. */
struct chk_state *chk_worker_state(void);

/* dispatch_http.c: what the http worker may ask. */
#define CHECKS_DISPATCH_HTTP_N 5
extern const struct worker_handler checks_dispatch_http[CHECKS_DISPATCH_HTTP_N];
/* dispatch_gossip.c: membership. */
#define CHECKS_DISPATCH_GOSSIP_N 1
extern const struct worker_handler
    checks_dispatch_gossip[CHECKS_DISPATCH_GOSSIP_N];

/* Drop the hash-blocking reads still parked (at stop). */
void checks_dispatch_http_stop(void);

#endif
