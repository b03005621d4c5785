/* Hints from outside the Raft core about its peers (raft_hint.c). */
#ifndef MUSTER_STORE_RAFT_HINT_H
#define MUSTER_STORE_RAFT_HINT_H

#include <stdint.h>

#include "workers/store/raft.h"

/*
 * The transport saw the connection that server id sends us its messages
 * on close.  If id is the leader we follow, campaign as soon as its lease
 * has surely run out instead of after a whole heartbeat timeout.  now is
 * the same clock rft_tick is given.  Does nothing otherwise.
 */
void rft_hint_leader_gone(struct rft *r, uint64_t id, uint64_t now);

#endif
