/*
 * The transmit-limited broadcast queue of memberlist (TransmitLimitedQueue;
 * gossip-protocol.md §6.4).  Each queued message is sent at most
 * transmit_limit = RetransmitMult * ceil(log10(N + 1)) times.  A fetch
 * fills the space given with the least-transmitted messages first and,
 * among those, the largest that still fit (newest first on ties).  A
 * named broadcast (memberlist's messages about node X) replaces any
 * queued one with the same name.  Finished messages (sent enough times,
 * replaced or pruned) are reported through on_finish with their token.
 */
#ifndef MUSTER_GOSSIP_BQ_H
#define MUSTER_GOSSIP_BQ_H

#include <stddef.h>
#include <stdint.h>

#include "lib/util.h"

/* A list of messages handed out by a fetch; each entry owns its bytes. */
struct gossip_msgs {
	struct buf *v;
	size_t n, cap;
};

void gossip_msgs_init(struct gossip_msgs *m);
void gossip_msgs_add(struct gossip_msgs *m, const void *p, size_t n);
void gossip_msgs_free(struct gossip_msgs *m);
size_t gossip_msgs_bytes(const struct gossip_msgs *m, size_t overhead);

struct gossip_bq_item;

struct gossip_bq {
	struct gossip_bq_item **items;
	size_t n, cap;
	uint64_t next_id;
	void (*on_finish)(void *arg, uint64_t token);
	void *arg;
};

void gossip_bq_init(struct gossip_bq *q);
void gossip_bq_free(struct gossip_bq *q);
/* name may be NULL (unnamed); token 0 means nobody waits for it. */
void gossip_bq_push(struct gossip_bq *q, const char *name, const void *msg,
    size_t n, uint64_t token);
/* Append to out the messages to send now; each costs overhead + len. */
void gossip_bq_fetch(struct gossip_bq *q, size_t overhead, size_t limit,
    unsigned transmit_limit, struct gossip_msgs *out);
/* Drop the oldest/most-sent messages until at most max remain. */
void gossip_bq_prune(struct gossip_bq *q, size_t max);
size_t gossip_bq_len(const struct gossip_bq *q);
/* true if a message with this token is still queued */
int gossip_bq_has_token(const struct gossip_bq *q, uint64_t token);

/* RetransmitMult * ceil(log10(n + 1)) */
unsigned gossip_retransmit_limit(unsigned mult, size_t n);

#endif
