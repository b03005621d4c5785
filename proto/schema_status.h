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
	M(RAFT_CONF, 0x0119, raft_conf)                       \
	M(RPC_HELLO, 0x011A, rpc_hello)                       \
	M(RPC_REQ, 0x011B, rpc_req)                           \
	M(RPC_RESP, 0x011C, rpc_resp)                         \
	M(OP_RAFT_CONF_REQ, 0x0120, op_raft_conf_req)         \
	M(OP_RAFT_CONF, 0x0121, op_raft_conf)                 \
	M(OP_RAFT_SERVER, 0x0122, op_raft_server)             \
	M(OP_RAFT_REMOVE_REQ, 0x0123, op_raft_remove_req)     \
	M(OP_RAFT_TRANSFER_REQ, 0x0124, op_raft_transfer_req) \
	M(AUTOPILOT_CONF_REQ, 0x0125, autopilot_conf_req)     \
	M(AUTOPILOT_CONF, 0x0126, autopilot_conf)             \
	M(AUTOPILOT_SET_REQ, 0x0127, autopilot_set_req)       \
	M(AUTOPILOT_HEALTH_REQ, 0x0128, autopilot_health_req) \
	M(AUTOPILOT_HEALTH, 0x0129, autopilot_health)         \
	M(AUTOPILOT_SERVER, 0x012A, autopilot_server)         \
	M(DATACENTERS_REQ, 0x012B, datacenters_req)           \
	M(DATACENTERS, 0x012C, datacenters)

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

/*
 * The server port (workers/store/rpc.h).  A Raft stream (protocol byte
 * 0x01) opens with RPC_HELLO: who is connecting, and where its own Raft
 * listener is, so that answers reach a server not yet in our
 * configuration.  The muster RPC stream (0x02) carries RPC_REQ / RPC_RESP:
 * a store request forwarded from a follower or a client agent (type and
 * body as over IPC from the http worker) and its answer.  hops counts
 * forwards so far.
 */
#define PROTO_F_rpc_hello(F)                                        \
	F(u64, id) F(str, addr) F(str, node_id) F(str, dc)
#define PROTO_F_rpc_req(F)                                          \
	F(u32, reqid) F(u16, type) F(u8, hops) F(str, body)
#define PROTO_F_rpc_resp(F) F(u32, reqid) F(u16, type) F(str, body)

/*
 * Raft operator (reference/consul.md 1.11), http -> store (forwarded to
 * the leader unless stale).  OP_RAFT_CONF lists OP_RAFT_SERVERs; id is
 * the node ID (the Raft server ID), node the node name from gossip,
 * protocol the Raft protocol ("3"), last_index the server's log as the
 * leader knows it (0 when unknown).  Removal and transfer answer RESULT.
 */
#define PROTO_F_op_raft_conf_req(F) F(bool, stale)
#define PROTO_F_op_raft_conf(F) F(strv, servers) F(u64, index)
#define PROTO_F_op_raft_server(F)                                   \
	F(str, id) F(str, node) F(str, addr) F(bool, leader)         \
	F(str, protocol) F(bool, voter) F(u64, last_index)
#define PROTO_F_op_raft_remove_req(F) F(str, id) F(str, addr)
#define PROTO_F_op_raft_transfer_req(F) F(str, id)

/*
 * Autopilot (reference/consul.md 9.3).  Durations are milliseconds.  A
 * set is a Raft command; with cas, it applies only when modify_index
 * still equals cas_index (RESULT message "true" / "false").
 */
#define PROTO_F_autopilot_conf_req(F) F(bool, stale)
#define PROTO_F_autopilot_conf(F)                                   \
	F(bool, cleanup_dead_servers) F(u64, last_contact_threshold_ms) \
	F(u64, max_trailing_logs) F(u64, min_quorum)                 \
	F(u64, server_stabilization_time_ms) F(str, redundancy_zone_tag) \
	F(bool, disable_upgrade_migration) F(str, upgrade_version_tag) \
	F(u64, create_index) F(u64, modify_index)
/* conf is an AUTOPILOT_CONF. */
#define PROTO_F_autopilot_set_req(F)                                \
	F(str, conf) F(bool, cas) F(u64, cas_index)
#define PROTO_F_autopilot_health_req(F)
/* servers are AUTOPILOT_SERVERs; leader is the leader's node ID. */
#define PROTO_F_autopilot_health(F)                                 \
	F(bool, healthy) F(u32, failure_tolerance) F(str, leader)    \
	F(strv, servers)
/* status: leader, voter or non-voter; serf_status alive, failed, left,
 * leaving, none; stable_since is wall-clock ms since the epoch. */
#define PROTO_F_autopilot_server(F)                                 \
	F(str, id) F(str, name) F(str, addr) F(str, serf_status)     \
	F(str, version) F(bool, leader) F(u64, last_contact_ms)      \
	F(u64, last_term) F(u64, last_index) F(bool, healthy)        \
	F(bool, voter) F(u64, stable_since_ms) F(str, status)

/*
 * http -> store: the known datacenters (Catalog.ListDatacenters).  A
 * server answers from its WAN pool, this datacenter first; a client agent
 * asks a server of its own.
 */
#define PROTO_F_datacenters_req(F)
#define PROTO_F_datacenters(F) F(strv, dcs)

#endif
