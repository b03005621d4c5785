/*
 * The one list of muster's message types.  APPEND-ONLY within each area:
 * numbers are never reused or renumbered.  Each message has a field list
 * PROTO_F_<name>(F) of F(type, field) entries; proto.h and proto.c turn the
 * two lists into the structs and one encode/decode pair per message.
 *
 * Field types: u8 u16 u32 u64 i32 i64 bool str strv (see codec.h).  A list
 * of nested messages is a strv whose items are encoded messages.
 *
 * Areas: 0x00xx supervisor <-> worker control, 0x01xx status and Raft,
 * 0x02xx KV and txn, 0x03xx gossip, 0x04xx catalog and health, 0x05xx
 * agent-local services and checks, 0x06xx DNS.
 */
#ifndef MUSTER_PROTO_SCHEMA_H
#define MUSTER_PROTO_SCHEMA_H

#define PROTO_MESSAGES(M)                                   \
	M(RESULT, 0x0001, result)                           \
	M(CONFIG, 0x0002, config)                           \
	M(CONFIG_ACK, 0x0003, config_ack)                   \
	M(LISTEN_FD, 0x0004, listen_fd)                     \
	M(PEER_FD, 0x0005, peer_fd)                         \
	M(STARTUP, 0x0006, startup)                         \
	M(READY, 0x0007, ready)                             \
	M(SHUTDOWN, 0x0008, shutdown)                       \
	M(AGENT_RELOAD, 0x0009, agent_reload)               \
	M(AGENT_LEAVE, 0x000a, agent_leave)                 \
	M(AGENT_INFO_REQ, 0x000b, agent_info_req)           \
	M(STATS, 0x000c, stats)                             \
	M(PING, 0x000d, ping)                               \
	M(STATUS_LEADER_REQ, 0x0101, status_leader_req)     \
	M(STATUS_LEADER, 0x0102, status_leader)             \
	M(STATUS_PEERS_REQ, 0x0103, status_peers_req)       \
	M(STATUS_PEERS, 0x0104, status_peers)               \
	M(MEMBERS_REQ, 0x0301, members_req)                 \
	M(MEMBERS, 0x0302, members)                         \
	M(MEMBER, 0x0303, member)

/* Generic reply: code 0 or a negative errno, and a message for the user. */
#define PROTO_F_result(F) F(i32, code) F(str, message)

/*
 * Supervisor -> worker: the whole normalised agent configuration (the JSON
 * that `muster validate -dump` prints), tagged with a generation.  Workers
 * answer CONFIG_ACK; a reload is applied by every worker or reported failed.
 */
#define PROTO_F_config(F) F(u64, generation) F(str, json)
#define PROTO_F_config_ack(F) F(u64, generation) F(i32, code) F(str, message)

/* Supervisor -> worker, with one descriptor: a listening socket. */
#define PROTO_F_listen_fd(F) F(u8, kind) F(str, address)
/* Supervisor -> worker, with one descriptor: a channel to another worker. */
#define PROTO_F_peer_fd(F) F(u8, peer) F(u32, epoch)
/* Supervisor -> worker: every descriptor and the config have been sent. */
#define PROTO_F_startup(F) F(u64, generation)
/* Worker -> supervisor: serving. */
#define PROTO_F_ready(F) F(u8, proc) F(u32, pid)
/* Supervisor -> worker: stop now (reason: 0 stop, 1 leave). */
#define PROTO_F_shutdown(F) F(u8, reason)
/* http -> supervisor: reload the config files (reply RESULT). */
#define PROTO_F_agent_reload(F)
/* http -> supervisor: leave the cluster and stop (reply RESULT). */
#define PROTO_F_agent_leave(F)
/* Any -> any: ask a process for its Stats section (reply STATS). */
#define PROTO_F_agent_info_req(F) F(str, section)
/* Key/value pairs, alternating, all strings (Consul's Stats are strings). */
#define PROTO_F_stats(F) F(str, section) F(strv, pairs)
/* Liveness probe between processes; echoed back. */
#define PROTO_F_ping(F) F(u64, nonce)

/* http -> store: who leads (reply STATUS_LEADER). */
#define PROTO_F_status_leader_req(F)
#define PROTO_F_status_leader(F)                                    \
	F(str, leader) F(bool, known_leader) F(u64, last_contact_ms) \
	F(u64, index)
/* http -> store: Raft voters (reply STATUS_PEERS). */
#define PROTO_F_status_peers_req(F)
#define PROTO_F_status_peers(F) F(strv, peers) F(u64, index)

/* http -> gossip: members of the LAN or WAN pool (reply MEMBERS). */
#define PROTO_F_members_req(F) F(bool, wan)
/* items are encoded MEMBER messages */
#define PROTO_F_members(F) F(strv, members)
/* One pool member, as /v1/agent/members shows it; tags alternate k, v. */
#define PROTO_F_member(F)                                                \
	F(str, name) F(str, addr) F(u16, port) F(strv, tags) F(u8, status) \
	F(u8, protocol_min) F(u8, protocol_max) F(u8, protocol_cur)       \
	F(u8, delegate_min) F(u8, delegate_max) F(u8, delegate_cur)

#endif
