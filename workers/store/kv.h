/*
 * The KV table of the replicated state (Consul's "kvs" and "tombstones"
 * tables).  Pure and deterministic: every write carries the Raft index it
 * is applied at, so every server computes the same table.
 *
 * Index rules (Consul's state store, agent/consul/state/kvs.go):
 *  - a write at index N sets ModifyIndex N; a new key also CreateIndex N;
 *  - a delete leaves a tombstone (key, N) so that prefix reads and blocking
 *    queries see the deletion; tombstones are reaped up to an index once
 *    every server has seen it (kv_reap);
 *  - a single-key read reports the table's max index (kvs + tombstones),
 *    a prefix read the max over entries and tombstones under the prefix,
 *    falling back to the table's max when that is 0.  Never 0: callers
 *    map 0 to 1.
 *
 * Locks (acquire/release): acquiring an unlocked key increments LockIndex
 * and sets Session; the holder may re-acquire (updating the value) without
 * a new LockIndex; another session fails.  Release by the holder clears
 * Session and keeps LockIndex.
 */
#ifndef MUSTER_STORE_KV_H
#define MUSTER_STORE_KV_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/avl.h"
#include "lib/util.h"

/* One block per key: this header, the key (NUL-terminated) and the value
 * right after it.  The key has no pointer of its own (88 bytes of header
 * instead of 96: with 100k+ keys the per-key overhead is most of the
 * store worker's memory beyond the data itself, docs/performance.md). */
struct kv_entry {
	struct avl_node node;
	uint8_t *value;		/* vlen bytes inside the block; NULL if none */
	uint64_t flags;
	uint64_t create_index, modify_index, lock_index;
	char *session;		/* NULL when not locked */
	uint32_t keylen;
	uint32_t vlen;
	char key[];
};

struct kv_tomb {
	struct avl_node node;
	uint64_t index;
	uint32_t keylen;
	char key[];		/* NUL-terminated */
};

struct kv_table {
	struct avl_tree entries, tombs;
	uint64_t max_index;	/* highest index of any write or delete */
	size_t bytes;		/* keys + values held */
};

/* The txn verbs (Consul's api.KVOp). */
enum kv_verb {
	KV_SET = 1,
	KV_CAS,
	KV_LOCK,
	KV_UNLOCK,
	KV_GET,
	KV_GET_TREE,
	KV_CHECK_INDEX,
	KV_CHECK_SESSION,
	KV_CHECK_NOT_EXISTS,
	KV_DELETE,
	KV_DELETE_TREE,
	KV_DELETE_CAS,
	KV_VERB_MAX,
};

struct kv_op {
	enum kv_verb verb;
	const char *key;
	uint32_t keylen;
	const uint8_t *value;
	uint32_t vlen;
	uint64_t flags;
	uint64_t index;		/* cas, check-index, delete-cas */
	const char *session;	/* lock, unlock, check-session */
};

/* Outcome of one operation in a transaction. */
struct kv_result {
	bool ok;		/* false: the op's condition failed */
	char why[160];		/* Consul's error text when !ok */
};

/* Session existence check for lock (NULL: any non-empty id is valid). */
typedef bool kv_session_fn(void *arg, const char *session);

/* An entry holding copies of key (NUL-terminated) and value in the same
 * allocation; everything else zero.  kv_entry_free frees it and its
 * session. */
struct kv_entry *kv_entry_new(const char *key, uint32_t keylen,
    const uint8_t *value, uint32_t vlen);
void kv_entry_free(struct kv_entry *e);
/* A tombstone with its key in the same block; free(3) frees it. */
struct kv_tomb *kv_tomb_new(const char *key, uint32_t keylen,
    uint64_t index);

void kv_init(struct kv_table *t);
void kv_free(struct kv_table *t);

struct kv_entry *kv_get(const struct kv_table *t, const char *key,
    uint32_t keylen);
/* The first entry whose key is >= key (for prefix walks). */
struct kv_entry *kv_seek(const struct kv_table *t, const char *key,
    uint32_t keylen);
struct kv_entry *kv_next(const struct kv_entry *e);
bool kv_has_prefix(const struct kv_entry *e, const char *prefix,
    uint32_t plen);

/* Index a read of one key / of a prefix reports (see above; never 0). */
uint64_t kv_index_key(const struct kv_table *t);
uint64_t kv_index_prefix(const struct kv_table *t, const char *prefix,
    uint32_t plen);

/*
 * Apply a transaction at Raft index `index`: every op or none.  results
 * has one slot per op.  Returns 0 when all succeeded (the table changed),
 * or -ECANCELED after a rollback, with results[i].ok false for the ops
 * that failed (Consul's 409 with Errors[].OpIndex).
 * changed(arg, key, keylen) is called for every key written or deleted
 * when the transaction commits (blocking-query wake-ups).
 */
typedef void kv_changed_fn(void *arg, const char *key, uint32_t keylen);
/*
 * read(arg, op, entry) reports what each op yields, in order, while the
 * transaction runs: the entry after a set/cas/lock/unlock, the entry read
 * by get, every entry under the prefix for get-tree.  The entry is valid
 * only during the call.  Discard what was reported if kv_apply fails.
 */
typedef void kv_read_fn(void *arg, unsigned op, const struct kv_entry *e);

struct kv_hooks {
	kv_session_fn *session;
	kv_changed_fn *changed;
	kv_read_fn *read;
	void *arg;
};

int kv_apply(struct kv_table *t, uint64_t index, const struct kv_op *ops,
    unsigned nops, struct kv_result *results, const struct kv_hooks *hooks);

/* Forget tombstones at or below index. */
void kv_reap(struct kv_table *t, uint64_t index);

/* Release every lock held by session (session invalidation). */
void kv_release_session(struct kv_table *t, uint64_t index,
    const char *session, const struct kv_hooks *hooks);

#endif
