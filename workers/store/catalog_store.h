/*
 * The catalog in the store worker (catalog_store.c): its IPC handlers,
 * its Raft commands, its reads in every consistency mode with blocking,
 * its snapshot records.  The hooks main.c, store_fsm.c and
 * store_snapshot.c call.
 *
 * Other read models (the DNS worker's) subscribe with
 * store_catalog_observe(): after every applied catalog write each
 * observer hears, once per index that moved, what changed (a node, a
 * service name, a table) and the Raft index; a push to another worker
 * (say CAT_READ of the changed service) belongs in such an observer.
 * Blocking queries are the first observer.  After a snapshot restore
 * the others hear index 0 (CAT_CH_NODES, NULL): anything may have
 * changed and indexes may have gone back.
 */
#ifndef MUSTER_STORE_CATALOG_STORE_H
#define MUSTER_STORE_CATALOG_STORE_H

#include "workers/store/catalog.h"

struct store;
struct store_waiter;
struct worker;
struct ipc_chan;
struct ipc_msg;
struct rft_snap_writer;

/* main.c: CAT_REGISTER, CAT_DEREGISTER (http, checks), CAT_READ_REQ. */
void store_on_cat_register(struct worker *wk, unsigned from,
    struct ipc_chan *ch, struct ipc_msg *m);
void store_on_cat_deregister(struct worker *wk, unsigned from,
    struct ipc_chan *ch, struct ipc_msg *m);
void store_on_cat_read(struct worker *wk, unsigned from, struct ipc_chan *ch,
    struct ipc_msg *m);

/* The same requests held by a waiter (takes w): from IPC, or forwarded
 * by another server over the server port (rpc.c serve_request).  A
 * follower sends them on to the leader, a client agent to a server. */
void store_catalog_register_req(struct store *st, struct store_waiter *w);
void store_catalog_deregister_req(struct store *st, struct store_waiter *w);
void store_catalog_read_req(struct store *st, struct store_waiter *w);

/* store_fsm.c: a committed CAT_REGISTER, CAT_DEREGISTER or CAT_READ_REQ
 * (a read that needed to be linearizable: answered at its index). */
void store_catalog_apply(struct store *st, uint64_t index, uint16_t type,
    const uint8_t *p, size_t len, struct store_waiter *w);

/* Serve a read from local state now (consistency already settled). */
void store_catalog_read(struct store *st, struct store_waiter *w);

/* The tables (created on first use). */
struct cat_db *store_catalog(struct store *st);

typedef void store_catalog_observer_fn(void *arg, uint64_t index,
    enum cat_change what, const char *name);
/* At most 8 observers; -ENOSPC past that. */
int store_catalog_observe(struct store *st, store_catalog_observer_fn *fn,
    void *arg);

/* store_snapshot.c: write the records; restore into a fresh table set
 * (begin), then commit (replaces the tables, wakes every blocking
 * query) or abort. */
int store_catalog_snapshot_write(struct store *st, struct rft_snap_writer *w);
struct cat_db *store_catalog_restore_begin(void);
void store_catalog_restore_commit(struct store *st, struct cat_db *fresh);
void store_catalog_restore_abort(struct cat_db *fresh);

#endif
