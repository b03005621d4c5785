/* 0x01xx: status, Raft RPC and Raft operator.  Append-only. */
#ifndef MUSTER_PROTO_SCHEMA_STATUS_H
#define MUSTER_PROTO_SCHEMA_STATUS_H

#define PROTO_MSGS_STATUS(M)                              \
	M(STATUS_LEADER_REQ, 0x0101, status_leader_req)   \
	M(STATUS_LEADER, 0x0102, status_leader)           \
	M(STATUS_PEERS_REQ, 0x0103, status_peers_req)     \
	M(STATUS_PEERS, 0x0104, status_peers)                 \
	M(RAFT_APPEND, 0x0110, raft_append)                   \
	M(RAFT_APPEND_RESP, 0x0111, raft_append_resp)         \
	M(RAFT_VOTE, 0x0112, raft_vote)                       \
	M(RAFT_VOTE_RESP, 0x0113, raft_vote_resp)             \
	M(RAFT_SNAP, 0x0114, raft_snap)                       \
	M(RAFT_SNAP_RESP, 0x0115, raft_snap_resp)             \
	M(RAFT_TIMEOUT_NOW, 0x0116, raft_timeout_now)         \
	M(RAFT_ENTRY, 0x0117, raft_entry)                     \
	M(RAFT_SERVER, 0x0118, raft_server)                   \
	M(RAFT_CONF, 0x0119, raft_conf)

/* http -> store: who leads (reply STATUS_LEADER). */
#define PROTO_F_status_leader_req(F)
#define PROTO_F_status_leader(F)                                    \
	F(str, leader) F(bool, known_leader) F(u64, last_contact_ms) \
	F(u64, index)
/* http -> store: Raft voters (reply STATUS_PEERS). */
#define PROTO_F_status_peers_req(F)
#define PROTO_F_status_peers(F) F(strv, peers) F(u64, index)

/*
 * Raft RPCs between servers on the server port (workers/store/raft_wire.c
 * maps them to struct rft_msg; see raft.h for the fields' meaning).  Every
 * RPC starts with from, to, term.  AppendEntries carries its entries as a
 * list of RAFT_ENTRY (index implicit: prev_index + 1 + position).
 */
#define PROTO_F_raft_append(F)                                      \
	F(u64, from) F(u64, to) F(u64, term) F(u64, prev_index)      \
	F(u64, prev_term) F(u64, commit) F(u64, seq) F(u64, ts)      \
	F(strv, entries)
#define PROTO_F_raft_append_resp(F)                                 \
	F(u64, from) F(u64, to) F(u64, term) F(bool, success)        \
	F(u64, last) F(u64, match) F(u64, reject)                    \
	F(u64, conflict_term) F(u64, conflict_index) F(u64, seq)     \
	F(u64, ts)
#define PROTO_F_raft_vote(F)                                        \
	F(u64, from) F(u64, to) F(u64, term) F(u64, last_index)      \
	F(u64, last_term) F(bool, pre) F(bool, transfer)
#define PROTO_F_raft_vote_resp(F)                                   \
	F(u64, from) F(u64, to) F(u64, term) F(bool, granted)        \
	F(bool, pre)
/* InstallSnapshot, one chunk; conf is a RAFT_CONF. */
#define PROTO_F_raft_snap(F)                                        \
	F(u64, from) F(u64, to) F(u64, term) F(u64, index)           \
	F(u64, snap_term) F(u64, offset) F(u64, seq) F(u64, ts)      \
	F(str, conf) F(str, data) F(bool, done)
#define PROTO_F_raft_snap_resp(F)                                   \
	F(u64, from) F(u64, to) F(u64, term) F(u64, index)           \
	F(u64, next_offset) F(u64, seq) F(u64, ts) F(bool, done)     \
	F(bool, have)
#define PROTO_F_raft_timeout_now(F) F(u64, from) F(u64, to) F(u64, term)
/* Nested: a log entry (also the LevelDB log store's value), a server,
 * a configuration (list of RAFT_SERVER). */
#define PROTO_F_raft_entry(F) F(u64, term) F(u8, type) F(str, data)
#define PROTO_F_raft_server(F)                                      \
	F(u64, id) F(u8, role) F(str, name) F(str, addr)
#define PROTO_F_raft_conf(F) F(strv, servers)

#endif
