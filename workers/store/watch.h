/*
 * Parked blocking queries (Consul's ?index=N&wait=D).  A query watches one
 * key, or every key under a prefix; a write wakes only the queries whose
 * key or prefix it touches, so unrelated writes never wake a watcher.
 * Each waiter also has a deadline (the wait, plus jitter, chosen by the
 * caller).  When woken, the owner re-runs its query: if the result index
 * has not passed N it may park again.  A callback may park again but must
 * not cancel other waiters.
 *
 * Cost: a write of key K does |K|+1 ordered lookups (one per prefix
 * length), independent of how many queries are parked.  Thousands park
 * without a thread or process each; a hard cap bounds them.
 */
#ifndef MUSTER_STORE_WATCH_H
#define MUSTER_STORE_WATCH_H

#include <stdbool.h>
#include <stdint.h>

#include <ev.h>

#include "lib/avl.h"

enum watch_kind { WATCH_KEY = 0, WATCH_PREFIX = 1 };

/* why: 0 woken by a change, -ETIMEDOUT at the deadline, -ECANCELED when
 * the set is being freed. */
typedef void watch_fn(void *arg, int why);

struct watch_set {
	struct ev_loop *loop;
	struct avl_tree points;
	unsigned parked, max_parked;
};

struct watch_waiter;

void watch_set_init(struct watch_set *ws, struct ev_loop *loop,
    unsigned max_parked);
/* Wakes every waiter with -ECANCELED. */
void watch_set_free(struct watch_set *ws);
/* Park; NULL with errno EBUSY when max_parked are parked already. */
struct watch_waiter *watch_park(struct watch_set *ws, enum watch_kind kind,
    const char *key, uint32_t keylen, double timeout_s, watch_fn *fn,
    void *arg);
/* Remove a waiter that has not fired (its fn will not run). */
void watch_cancel(struct watch_set *ws, struct watch_waiter *w);
/* Everything may have changed (a snapshot was installed): wake all. */
void watch_notify_all(struct watch_set *ws);
/* Key K changed: fire the waiters on K and on every prefix of K. */
void watch_notify(struct watch_set *ws, const char *key, uint32_t keylen);

#endif
