/* 0x00xx: supervisor <-> worker control.  Append-only. */
#ifndef MUSTER_PROTO_SCHEMA_CONTROL_H
#define MUSTER_PROTO_SCHEMA_CONTROL_H

#define PROTO_MSGS_CONTROL(M)                       \
	M(RESULT, 0x0001, result)                   \
	M(CONFIG, 0x0002, config)                   \
	M(CONFIG_ACK, 0x0003, config_ack)           \
	M(LISTEN_FD, 0x0004, listen_fd)             \
	M(PEER_FD, 0x0005, peer_fd)                 \
	M(STARTUP, 0x0006, startup)                 \
	M(READY, 0x0007, ready)                     \
	M(SHUTDOWN, 0x0008, shutdown)               \
	M(AGENT_RELOAD, 0x0009, agent_reload)       \
	M(AGENT_LEAVE, 0x000a, agent_leave)         \
	M(AGENT_INFO_REQ, 0x000b, agent_info_req)   \
	M(STATS, 0x000c, stats)                     \
	M(PING, 0x000d, ping)

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
/* Any -> any: ask a process for one Stats section (reply STATS). */
#define PROTO_F_agent_info_req(F) F(str, section)
/* Key/value pairs, alternating, all strings (Consul's Stats are strings). */
#define PROTO_F_stats(F) F(str, section) F(strv, pairs)
/* Liveness probe between processes; echoed back. */
#define PROTO_F_ping(F) F(u64, nonce)

#endif
