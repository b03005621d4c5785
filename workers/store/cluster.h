/*
 * Servers and clients of one datacenter, as the store worker sees them
 * (Consul's agent/consul/leader.go, server_serf.go and autopilot):
 *
 *   discovery   gossip sends every LAN member change (MEMBER_EVENT); a
 *               member tagged role=consul is a server, reachable for RPC
 *               and Raft at its address and its port tag, with the Raft
 *               ID derived from its id tag (the node ID).
 *   bootstrap   -bootstrap-expect=N (maybeBootstrap): once N servers of
 *               our datacenter are alive, all expecting N and none in
 *               -bootstrap mode, and none of them reports Raft peers,
 *               bootstrap with all of them as voters, sorted by Raft ID,
 *               so every server writes the same first entry.
 *   reconcile   the leader adds alive servers of its datacenter that are
 *               not in the configuration as nonvoters and removes the
 *               ones that left gracefully or were reaped.
 *   autopilot   the leader promotes a nonvoter that stayed healthy for
 *               server_stabilization_time, and removes failed servers
 *               (cleanup_dead_servers) without going under min_quorum or
 *               removing more than (voters-1)/2 at a time.
 *   clients     a client agent forwards every request to an alive server
 *               of its datacenter (round robin, skipping recent failures).
 *   WAN         a server also hears its WAN pool's member events: the
 *               servers of every datacenter (cluster_wan.c), for
 *               Catalog.ListDatacenters and requests for another one.
 *
 * The autopilot configuration is replicated: a change is a Raft command
 * (AUTOPILOT_SET_REQ), applied by cluster_apply() on every server.
 */
#ifndef MUSTER_STORE_CLUSTER_H
#define MUSTER_STORE_CLUSTER_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#include "workers/store/raft.h"

struct store;
struct store_waiter;
struct worker;
struct ipc_chan;
struct ipc_msg;
struct buf;

/* Serf member status, as MEMBER carries it; REAPED is ours. */
enum cl_status {
	CL_NONE = 0, CL_ALIVE = 1, CL_LEAVING = 2, CL_LEFT = 3,
	CL_FAILED = 4, CL_REAPED = 5,
};

struct cl_member {
	char name[RFT_NAME_MAX];
	char node_id[40];
	char ip[48];
	char rpc_addr[RFT_ADDR_MAX];	/* servers: ip:port */
	char dc[64];
	char build[64];
	uint64_t raft_id;		/* servers with an id tag */
	int expect;			/* bootstrap_expect, 0 when untagged */
	bool server, bootstrap, self;
	bool warned;			/* its bootstrap mode was reported */
	uint8_t status;			/* enum cl_status */
	uint64_t failed_until;		/* clients: skip until (mono ms) */
};

/* A server of the WAN pool (named node.dc). */
struct cl_wan {
	char name[RFT_NAME_MAX + 64];
	char dc[64];
	char rpc_addr[RFT_ADDR_MAX];
	uint8_t status;			/* enum cl_status */
};

#define CL_DCS_MAX 256

struct cl_autopilot {
	bool cleanup_dead_servers;
	uint64_t last_contact_threshold_ms;
	uint64_t max_trailing_logs;
	uint64_t min_quorum;
	uint64_t server_stabilization_time_ms;
	char redundancy_zone_tag[64];
	bool disable_upgrade_migration;
	char upgrade_version_tag[64];
	uint64_t create_index, modify_index;
};

/* A server's own graceful leave (Consul's Server.Leave). */
enum cl_leave { CL_LEAVE_NONE = 0, CL_LEAVE_RUNNING, CL_LEAVE_DONE };

/* The leader's view of one server's health (autopilot). */
struct cl_health {
	uint64_t id;
	bool healthy;
	uint64_t last_contact_ms;	/* age of its latest answer */
	uint64_t last_index;
	uint64_t stable_since;		/* mono ms of the last change */
	uint64_t stable_since_wall;	/* the same, wall-clock ms */
};

struct store_cluster {
	struct store *st;
	struct cl_member *m;
	size_t n, cap;
	unsigned rr;			/* clients: next server to try */
	struct cl_wan *wan;		/* servers: the WAN pool's servers */
	size_t nwan, capwan;
	unsigned wan_rr;
	ev_timer tick;
	uint64_t hb_interval_ms;	/* Raft heartbeat period */
	uint64_t hb_timeout_ms;

	bool boot_wait;			/* bootstrap_expect pending */
	unsigned boot_round, boot_asked, boot_answers;
	bool boot_failed, boot_existing;
	char boot_warned[RFT_NAME_MAX];

	uint64_t conf_index;
	struct cl_health h[RFT_SERVERS_MAX];
	unsigned nh;
	struct cl_autopilot ap;

	bool transfer_busy;
	uint64_t transfer_deadline;
	struct store_waiter *transfer_w;

	uint8_t leave;			/* enum cl_leave */
	bool leave_asked;		/* removal proposed or requested */
	ev_timer leave_timer;
};

/* cluster.c */
int cluster_init(struct store *st);
void cluster_stop(struct store *st);
/* Gossip's MEMBER_EVENT (IPC handler) and its payload. */
void cluster_on_member_event(struct worker *wk, unsigned from,
    struct ipc_chan *ch, struct ipc_msg *m);
int cluster_member_event(struct store *st, const void *p, size_t len);
const struct cl_member *cluster_member_by_raft_id(const struct store *st,
    uint64_t id);
const struct cl_member *cluster_member_by_addr(const struct store *st,
    const char *rpc_addr);
/* A server to forward to, not among exclude; NULL when none is known. */
const char *cluster_pick_server(struct store *st,
    const char *const *exclude, size_t nexclude);
void cluster_server_failed(struct store *st, const char *addr);
/* The Raft host's notifications. */
void cluster_role_changed(struct store *st, enum rft_role role);
void cluster_conf_changed(struct store *st, const struct rft_conf *c,
    uint64_t index);
/* The Raft ID of a node ID: its first 64 bits (node IDs are UUIDs). */
uint64_t cluster_raft_id(const char *node_id);
const char *cluster_status_name(uint8_t status);

/* cluster_wan.c: a WAN MEMBER_EVENT (kind as schema_gossip.h). */
struct proto_member;
void cluster_wan_event(struct store *st, unsigned kind,
    const struct proto_member *pm, const char *name);
/* This datacenter, then the others by name; returns how many (<= max). */
size_t cluster_datacenters(const struct store *st, const char **out,
    size_t max);
size_t cluster_known_datacenters(const struct store *st);
/* A server of datacenter dc (alive preferred), NULL when none is known. */
const char *cluster_dc_server(struct store *st, const char *dc);
/* DATACENTERS_REQ: answered by a server, forwarded by a client (takes w). */
void cluster_datacenters_req(struct store *st, struct store_waiter *w);
void cluster_on_datacenters(struct worker *wk, unsigned from,
    struct ipc_chan *ch, struct ipc_msg *m);

/* cluster_autopilot.c */
void cluster_autopilot_defaults(struct store *st);
void cluster_autopilot_tick(struct store *st);
void cluster_health_update(struct store *st);
const struct cl_health *cluster_health(const struct store *st, uint64_t id);
/* The replicated configuration to and from an AUTOPILOT_CONF message
 * (the operator API's answer and the state snapshot's record, which keep
 * create_index and modify_index); decode: 0 or -EBADMSG. */
void cluster_autopilot_encode(const struct cl_autopilot *ap, struct buf *out);
int cluster_autopilot_decode(struct cl_autopilot *ap, const uint8_t *p,
    size_t len);
/* Apply a committed AUTOPILOT_SET_REQ command; false if e is not one. */
bool cluster_apply(struct store *st, const struct rft_entry *e,
    struct store_waiter *w);
/*
 * Leave the Raft configuration gracefully: started when gossip reports
 * this agent left (muster leave) or the store stops with reason 1.
 * Returns true while it runs: a stopping store drains until it is done.
 */
bool cluster_leave(struct store *st);
void cluster_leave_step(struct store *st);
void cluster_leave_finished(struct store *st, const char *how);

/* cluster_operator.c: OP_RAFT_* and AUTOPILOT_* requests (takes w). */
void cluster_op_request(struct store *st, struct store_waiter *w);
void cluster_on_op(struct worker *wk, unsigned from, struct ipc_chan *ch,
    struct ipc_msg *m);
void cluster_transfer_check(struct store *st);

#endif
