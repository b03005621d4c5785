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

#include "lib/util.h"
#include "workers/store/kv_btree.h"

/*
 * One malloc block per key, packed (kv.c): a byte saying which of flags,
 * LockIndex and Session are there, the key length and the key, the value
 * length, CreateIndex, ModifyIndex, the optional fields, then the value;
 * lengths and numbers as LEB128 varints.  8 bytes of header for a 12-byte
 * key and a 256-byte value at indexes below 2^14 (10 below 2^21) instead
 * of 88 with struct fields and an AVL node: with 100k+ keys the per-key
 * overhead is most of the store worker's memory beyond the data itself
 * (docs/performance.md).  Read it through kv_entry_key / kv_entry_row.
 */
struct kv_entry;

/* An entry's fields, pointing into the entry (or, for kv_entry_new, into
 * the caller's memory). */
struct kv_row {
	const char *key;
	uint32_t keylen;
	const uint8_t *value;	/* NULL when vlen is 0 */
	uint32_t vlen;
	uint64_t flags;
	uint64_t create_index, modify_index, lock_index;
	const char *session;	/* NUL-terminated; NULL when not locked */
};

struct kv_tomb {
	uint64_t index;
	uint32_t keylen;
	char key[];		/* NUL-terminated */
};

struct kv_table {
	struct kv_bt entries, tombs;	/* kv_entry, kv_tomb in key order */
	uint64_t max_index;	/* highest index of any write or delete */
	size_t bytes;		/* keys + values held */
};

/* A position in key order; kv_apply and kv_release_session invalidate
 * it. */
struct kv_iter {
	struct kv_bt_iter bt;
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

/* A block holding copies of everything r points at (r->session
 * included); free(3) or kv_entry_free frees it. */
struct kv_entry *kv_entry_new(const struct kv_row *r);
void kv_entry_free(struct kv_entry *e);
const char *kv_entry_key(const struct kv_entry *e, uint32_t *keylen);
void kv_entry_row(const struct kv_entry *e, struct kv_row *r);
/* A tombstone with its key in the same block; free(3) frees it. */
struct kv_tomb *kv_tomb_new(const char *key, uint32_t keylen,
    uint64_t index);

void kv_init(struct kv_table *t);
void kv_free(struct kv_table *t);

struct kv_entry *kv_get(const struct kv_table *t, const char *key,
    uint32_t keylen);
/* The first entry whose key is >= key (for prefix walks), then the next
 * ones in key order; NULL at the end. */
const struct kv_entry *kv_seek(const struct kv_table *t, struct kv_iter *it,
    const char *key, uint32_t keylen);
const struct kv_entry *kv_next(struct kv_iter *it);
bool kv_has_prefix(const struct kv_entry *e, const char *prefix,
    uint32_t plen);
/* The same over tombstones (snapshots). */
const struct kv_tomb *kv_tomb_seek(const struct kv_table *t,
    struct kv_iter *it, const char *key, uint32_t keylen);
const struct kv_tomb *kv_tomb_next(struct kv_iter *it);

/* Snapshot restore: put back an entry or a tombstone exactly as it was
 * (indexes included).  -EEXIST if the key is there already. */
int kv_restore_entry(struct kv_table *t, const struct kv_row *r);
int kv_restore_tomb(struct kv_table *t, const char *key, uint32_t keylen,
    uint64_t index);

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
