/* Log store implementations behind raft_store.h (raft_leveldb.c,
 * raft_memstore.c). */
#ifndef MUSTER_STORE_RAFT_STORE_INT_H
#define MUSTER_STORE_RAFT_STORE_INT_H

#include "workers/store/raft_store.h"

struct rft_store_ops {
	int (*load)(struct rft_store *s, struct rft_stored *out);
	int (*append)(struct rft_store *s, const struct rft_entry *e,
	    size_t n);
	int (*compact)(struct rft_store *s, uint64_t upto);
	int (*reset)(struct rft_store *s);
	int (*set_term)(struct rft_store *s, uint64_t term, uint64_t vote);
	int (*set_conf)(struct rft_store *s, const struct rft_conf *c);
	void (*close)(struct rft_store *s);
	int (*append_async)(struct rft_store *s, const struct rft_entry *e,
	    size_t n, rft_store_done_fn *done, void *arg);
	void (*drain)(struct rft_store *s);
	int (*get)(struct rft_store *s, uint64_t index, struct rft_entry *out);
};

struct rft_store {
	const struct rft_store_ops *ops;
};

/* Copy an entry with its data into out (data malloc'd). */
void rft_stored_push(struct rft_stored *st, size_t *cap,
    const struct rft_entry *e);

#endif
