/* 0x01xx: status, Raft RPC and Raft operator.  Append-only. */
#ifndef MUSTER_PROTO_SCHEMA_STATUS_H
#define MUSTER_PROTO_SCHEMA_STATUS_H

#define PROTO_MSGS_STATUS(M)                              \
	M(STATUS_LEADER_REQ, 0x0101, status_leader_req)   \
	M(STATUS_LEADER, 0x0102, status_leader)           \
	M(STATUS_PEERS_REQ, 0x0103, status_peers_req)     \
	M(STATUS_PEERS, 0x0104, status_peers)

/* http -> store: who leads (reply STATUS_LEADER). */
#define PROTO_F_status_leader_req(F)
#define PROTO_F_status_leader(F)                                    \
	F(str, leader) F(bool, known_leader) F(u64, last_contact_ms) \
	F(u64, index)
/* http -> store: Raft voters (reply STATUS_PEERS). */
#define PROTO_F_status_peers_req(F)
#define PROTO_F_status_peers(F) F(strv, peers) F(u64, index)

#endif
