/* 0x02xx: KV, txn, sessions.  Append-only. */
#ifndef MUSTER_PROTO_SCHEMA_KV_H
#define MUSTER_PROTO_SCHEMA_KV_H

#define PROTO_MSGS_KV(M)                        \
	M(KV_OP, 0x0201, kv_op)                 \
	M(KV_ENTRY, 0x0202, kv_entry)           \
	M(KV_READ_REQ, 0x0203, kv_read_req)     \
	M(KV_READ, 0x0204, kv_read)             \
	M(KV_TXN_REQ, 0x0205, kv_txn_req)       \
	M(KV_TXN, 0x0206, kv_txn)               \
	M(KV_TXN_ERR, 0x0207, kv_txn_err)       \
	M(SNAPSHOT_SAVE_REQ, 0x0208, snapshot_save_req) \
	M(SNAPSHOT, 0x0209, snapshot)           \
	M(STATE_RESTORE, 0x020a, state_restore) \
	M(KV_TXN_READ_REQ, 0x020b, kv_txn_read_req)

/* One operation of a transaction (verb: enum kv_verb in store/kv.h). */
#define PROTO_F_kv_op(F)                                           \
	F(u8, verb) F(str, key) F(str, value) F(u64, flags) F(u64, index) \
	F(str, session)

/* One KV entry as Consul's DirEntry; session "" when not locked. */
#define PROTO_F_kv_entry(F)                                         \
	F(str, key) F(str, value) F(u64, flags) F(u64, create_index)  \
	F(u64, modify_index) F(u64, lock_index) F(str, session)

/*
 * http -> store: a read of /v1/kv.  mode 0 one key, 1 recurse (prefix),
 * 2 keys (with separator).  min_index/wait_ms make it a blocking query.
 * consistency 0 default (leader), 1 stale, 2 consistent.
 */
#define PROTO_F_kv_read_req(F)                                          \
	F(str, key) F(u8, mode) F(str, separator) F(u64, min_index)       \
	F(u64, wait_ms) F(u8, consistency) F(u64, max_stale_ms)

/* store -> http: items are KV_ENTRY messages, or key strings in mode 2. */
#define PROTO_F_kv_read(F)                                              \
	F(u64, index) F(bool, known_leader) F(u64, last_contact_ms)       \
	F(strv, items)

/* http -> store: a transaction; items are KV_OP messages. */
#define PROTO_F_kv_txn_req(F) F(strv, ops)

/*
 * http -> store: a transaction of reads only (get, get-tree and the
 * checks), served as a read as Consul's Txn.Read: no log entry, the
 * consistency of KV_READ_REQ.  txn is an encoded KV_TXN_REQ body.
 */
#define PROTO_F_kv_txn_read_req(F)                                      \
	F(u8, consistency) F(u64, max_stale_ms) F(str, txn)

/* store -> http: the outcome; results are KV_ENTRY, errors KV_TXN_ERR;
 * known_leader and last_contact_ms as in KV_READ, for read-only ones. */
#define PROTO_F_kv_txn(F)                                               \
	F(u64, index) F(strv, results) F(strv, errors)                    \
	F(bool, known_leader) F(u64, last_contact_ms)
#define PROTO_F_kv_txn_err(F) F(u32, op_index) F(str, what)

/* http -> store: take a snapshot of the replicated state (reply SNAPSHOT).
 * consistency as in KV_READ_REQ. */
#define PROTO_F_snapshot_save_req(F) F(u8, consistency)
/* store -> http: the state body (store_snapshot.c records) at index. */
#define PROTO_F_snapshot(F) F(u64, index) F(u64, term) F(str, state)
/* http -> store (reply RESULT), and the Raft command that applies it:
 * replace the whole replicated state with this body. */
#define PROTO_F_state_restore(F) F(str, state)

#endif
