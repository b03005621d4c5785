/*
 * The store worker's state, shared by its files: the Raft host
 * (store_raft.c), the state machine (store_fsm.c) and the request
 * handlers (store_kv.c, main.c).
 */
#ifndef MUSTER_STORE_H
#define MUSTER_STORE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <ev.h>

#include "lib/util.h"
#include "workers/store/kv.h"
#include "workers/store/raft.h"
#include "workers/store/watch.h"

struct worker;
struct ipc_msg;
struct ipc_chan;
struct store_rpc;	/* rpc.h: the server port */
struct store_cluster;	/* cluster.h: servers, bootstrap, autopilot */
struct store_snapjob;	/* store_raft.c */

/* Who to answer once a proposal or a ReadIndex round completes. */
struct store_waiter {
	unsigned peer;		/* PROC_* */
	uint32_t epoch;		/* that peer channel's epoch */
	uint32_t reqid;
	uint16_t type;		/* the request's message type */
	struct buf req;		/* the request payload (reads re-run it) */
};

struct store_pending {
	uint64_t cookie;
	struct store_waiter w;
	struct store_pending *next;
};

#define STORE_PENDING_BUCKETS 256

struct store {
	struct worker *w;
	char self_addr[128];	/* advertise:server_port */
	int rpc_fd;		/* server RPC listener (8300) */
	bool server;
	struct store_rpc *rpc;
	struct store_cluster *cl;

	struct rft *raft;
	uint64_t raft_id;
	struct rft_store *log;	/* LevelDB, or memory in -dev */
	bool durable;
	ev_timer tick;
	ev_idle deferred;	/* answers the core's async callbacks */
	/* The log batch on the writer thread (rft_store_append_async). */
	ev_async persisted;
	uint64_t persist_upto, persist_term;
	_Atomic int persist_err;
	struct store_snapjob *snapjob;	/* snapshot file being written */
	bool snap_due;
	uint64_t snap_index, snap_term;
	int snap_err;
	bool install_due;
	uint64_t install_index, install_term;
	int install_err;
	struct buf incoming;	/* InstallSnapshot body being received */
	struct rft_snap_reader *outgoing;	/* snapshot being streamed */
	uint64_t next_cookie;
	struct store_pending *pending[STORE_PENDING_BUCKETS];

	struct kv_table kv;
	struct watch_set watches;
	uint64_t applied;	/* highest applied index */
};

/* store_raft.c */
int store_raft_init(struct store *st);
void store_raft_stop(struct store *st);
bool store_is_leader(const struct store *st);
/* "" when no leader is known. */
const char *store_leader_addr(const struct store *st);
uint64_t store_last_contact_ms(const struct store *st);
/* Propose a command (type + encoded message); the waiter is answered when
 * it is applied, or with an error.  Takes w->req.  0 or -errno. */
int store_propose(struct store *st, uint16_t type, const struct buf *msg,
    struct store_waiter *w);
/* A ReadIndex round; fn runs with 0 when reads at the current applied
 * index are linearizable, else -errno.  Takes w. */
int store_read_index(struct store *st, struct store_waiter *w);
/* Take back a waiter parked under cookie (NULL if gone). */
bool store_pending_take(struct store *st, uint64_t cookie,
    struct store_waiter *out);
/* Park a waiter (taking w->req) under a fresh cookie, for a core call
 * that answers through apply or abandon (membership changes). */
uint64_t store_pending_add(struct store *st, struct store_waiter *w);

/* store_snapshot.c: the state machine to and from a snapshot body. */
struct rft_snap_writer;
int store_snapshot_write(struct store *st, struct rft_snap_writer *w);
void store_snapshot_body(struct store *st, struct buf *out);
/* Parse without applying: 0 or -EBADMSG. */
int store_snapshot_validate(const uint8_t *p, size_t len);
/* -dev (no data dir): the newest snapshot kept in memory, taken at index;
 * read as the core's snapshot_read (count, 0 at the end, -ENOENT when
 * index is not the one kept). */
int store_snapshot_take_mem(struct store *st, uint64_t index);
int store_snapshot_read_mem(uint64_t index, uint64_t off, void *p,
    size_t len);
void store_snapshot_free_mem(void);
/* store_snapapi.c: /v1/snapshot save and restore; the _req ones serve
 * or forward a request held by a waiter (IPC or server port), taking w. */
void store_snapshot_save_req(struct store *st, struct store_waiter *w);
void store_state_restore_req(struct store *st, struct store_waiter *w);
void store_on_snapshot_save(struct worker *wk, unsigned from,
    struct ipc_chan *ch, struct ipc_msg *m);
void store_on_state_restore(struct worker *wk, unsigned from,
    struct ipc_chan *ch, struct ipc_msg *m);
void store_apply_restore(struct store *st, uint64_t index, const uint8_t *p,
    size_t len, struct store_waiter *w);
int store_snapshot_restore(struct store *st, const uint8_t *p, size_t len);

/* store_fsm.c: apply a committed command; reply to the waiter if any. */
void store_fsm_apply(struct store *st, uint64_t index, const uint8_t *p,
    size_t len, struct store_waiter *w);
void store_kv_entry_encode(struct buf *out, const struct kv_entry *e);
/* A KV transaction, applied at index; read-only ones change nothing and
 * may be run on local state directly. */
void store_fsm_kv_txn(struct store *st, uint64_t index, const uint8_t *p,
    size_t len, struct store_waiter *w);
bool store_kv_txn_read_only(const uint8_t *p, size_t len);

/* store_kv.c */
void store_on_kv_read(struct worker *wk, unsigned from, struct ipc_chan *ch,
    struct ipc_msg *m);
void store_on_kv_txn_read(struct worker *wk, unsigned from,
    struct ipc_chan *ch, struct ipc_msg *m);
void store_on_kv_txn(struct worker *wk, unsigned from, struct ipc_chan *ch,
    struct ipc_msg *m);
/* Serve, or forward (to the leader, or from a client agent to a server),
 * a request held by a waiter from IPC or the server port; takes w. */
void store_kv_read_req(struct store *st, struct store_waiter *w);
void store_kv_txn_req(struct store *st, struct store_waiter *w);
void store_kv_txn_read_req(struct store *st, struct store_waiter *w);
void store_waiter_from(struct worker *wk, unsigned from,
    const struct ipc_msg *m, struct store_waiter *w);
void store_kv_read(struct store *st, struct store_waiter *w);
void store_kv_txn_read(struct store *st, struct store_waiter *w);
void store_reply(struct store *st, const struct store_waiter *w,
    uint16_t type, const struct buf *payload);
void store_reply_error(struct store *st, const struct store_waiter *w,
    int code, const char *msg);
void store_waiter_free(struct store_waiter *w);

/* main.c: STATUS_LEADER_REQ / STATUS_PEERS_REQ held by a waiter (takes
 * w); a client agent asks a server. */
void store_status_req(struct store *st, struct store_waiter *w);

#endif
