/*
 * Durable Raft state for the core in raft.h: a log store (entries, current
 * term, vote, latest configuration) and snapshot files.  Library layer:
 * returns negative errno, logs nothing.
 *
 * Log stores: LevelDB under a directory (data-dir/raft/log), every write a
 * single atomic batch, synced when `sync` is set (so one fsync covers one
 * rft_cbs.persist batch: group commit); or memory only (-dev).
 *
 * Snapshots: one file per snapshot in a directory (data-dir/raft/snapshots):
 *   "MUSTSNP1" | u32 meta_len | meta: u64 index, u64 term, u32 conf_len,
 *   conf (RAFT_CONF) | body | u64 body_len | u32 CRC32C of everything
 *   before it | "MUSTSEND"
 * written to a temporary name, fsynced, renamed, directory fsynced; the
 * two newest are kept.  A file that fails its checks is skipped.
 */
#ifndef MUSTER_STORE_RAFT_STORE_H
#define MUSTER_STORE_RAFT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "workers/store/raft.h"

struct rft_store;

/* What a log store holds; entries own their data (rft_stored_free). */
struct rft_stored {
	uint64_t term, vote;
	bool has_conf;
	struct rft_conf conf;
	struct rft_entry *ents;
	size_t n;
};

int rft_store_open_leveldb(const char *dir, bool sync, struct rft_store **out);
struct rft_store *rft_store_open_memory(void);
void rft_store_close(struct rft_store *s);

int rft_store_load(struct rft_store *s, struct rft_stored *out);
void rft_stored_free(struct rft_stored *st);
/* Delete entries >= e[0].index, then store e[0..n): one atomic write. */
int rft_store_append(struct rft_store *s, const struct rft_entry *e,
    size_t n);
/*
 * The same append, written in the background: the batch is built and the
 * store's bookkeeping done on the calling thread, and only the synced
 * write runs on the store's writer thread, so that the caller's event
 * loop goes on reading requests while the fsync runs and the next batch
 * gathers meanwhile (group commit).  At most one append may be in flight:
 * the caller submits the next one after done.  done(arg, err) runs on the
 * writer thread once the batch is durable (err 0) or failed; a store
 * without a writer thread (memory) completes inline.  Other calls may run
 * on the calling thread while an append is in flight, except reset,
 * which must follow rft_store_drain.
 */
typedef void rft_store_done_fn(void *arg, int err);
int rft_store_append_async(struct rft_store *s, const struct rft_entry *e,
    size_t n, rft_store_done_fn *done, void *arg);
/* Wait until no append is in flight (its done has run). */
void rft_store_drain(struct rft_store *s);
/* The stored entry at index (a durable one: not one in flight), its data
 * malloc'd (free it); -ENOENT when not stored. */
int rft_store_get(struct rft_store *s, uint64_t index, struct rft_entry *out);
/* Delete entries <= upto. */
int rft_store_compact(struct rft_store *s, uint64_t upto);
/* Delete every entry (a snapshot replaced the log). */
int rft_store_reset(struct rft_store *s);
int rft_store_set_term(struct rft_store *s, uint64_t term, uint64_t vote);
int rft_store_set_conf(struct rft_store *s, const struct rft_conf *c);

/* Snapshot files. */
struct rft_snap_meta {
	uint64_t index, term;
	struct rft_conf conf;
	uint64_t size;		/* body bytes */
};

struct rft_snap_writer;
struct rft_snap_reader;

int rft_snap_create(const char *dir, uint64_t index, uint64_t term,
    const struct rft_conf *conf, bool sync, struct rft_snap_writer **out);
int rft_snap_write(struct rft_snap_writer *w, const void *p, size_t n);
/* Seal, make durable, publish, prune to the two newest; frees w. */
int rft_snap_commit(struct rft_snap_writer *w);
void rft_snap_abort(struct rft_snap_writer *w);

/* Open the newest valid snapshot (-ENOENT if none).  Invalid ones are
 * reported through skipped (may be NULL) and left alone; temporary files
 * of interrupted writes are removed: call at start-up. */
int rft_snap_open_latest(const char *dir, struct rft_snap_reader **out,
    void (*skipped)(void *arg, const char *name, int err), void *arg);
/* Open the snapshot with this index (for streaming to a follower). */
int rft_snap_open_index(const char *dir, uint64_t index,
    struct rft_snap_reader **out);
const struct rft_snap_meta *rft_snap_meta(const struct rft_snap_reader *r);
/* Body bytes at off; returns the count (< len only at the end). */
int rft_snap_read(struct rft_snap_reader *r, uint64_t off, void *buf,
    size_t len);
void rft_snap_close(struct rft_snap_reader *r);

uint32_t rft_crc32c(uint32_t crc, const void *p, size_t n);

#endif
