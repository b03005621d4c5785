/*
 * Internals of the memberlist core shared by ml.c (membership state,
 * messages) and ml_probe.c (probe round, gossip, push/pull, streams).
 */
#ifndef MUSTER_GOSSIP_ML_PRIV_H
#define MUSTER_GOSSIP_ML_PRIV_H

#include "workers/gossip/ml.h"

/* Lifeguard dynamic suspicion timer of one node (§6.2). */
struct gossip_suspicion {
	unsigned n, k;		/* confirmations so far / wanted */
	uint64_t start;		/* ms */
	uint64_t min, max;	/* ms */
	uint64_t deadline;	/* absolute ms */
	uint64_t change_time;	/* the node's state_change it belongs to */
	char **from;		/* who accused, first one included */
	size_t nfrom;
};

enum ack_kind {
	ACK_PROBE = 1,		/* our own probe round */
	ACK_RELAY,		/* indirect ping we run for someone else */
};

struct ack_handler {
	uint32_t seq;
	enum ack_kind kind;
	uint64_t deadline;
	/* relay: answer the requester with its sequence number */
	uint32_t their_seq;
	struct gossip_addr requester;
	bool nack;
};

enum stream_kind {
	STREAM_PUSH_PULL = 1,
	STREAM_PING,
};

struct ml_stream {
	uint64_t id;
	enum stream_kind kind;
	bool join;
	uint64_t op;		/* join operation, 0 for periodic sync */
	uint32_t seq;		/* ping */
	struct gossip_addr to;
};

struct join_op {
	uint64_t id;
	unsigned pending, ok;
	char err[200];
};

struct probe {
	bool active;
	int phase;		/* 0 direct, 1 indirect + TCP */
	char *target;
	uint32_t incarnation;	/* snapshot when the probe started */
	enum gossip_state state;
	struct gossip_addr addr;
	uint8_t pmax;
	uint32_t seq;
	uint64_t start, timeout_at, deadline;
	uint64_t start_us;		/* for the RTT */
	unsigned expected_nacks, nacks;
	int tcp;		/* 0 none, 1 pending, 2 ok, 3 failed */
	uint64_t tcp_id;
};

struct gossip_ml {
	struct gossip_ml_config cfg;
	const struct gossip_ml_delegate *d;
	void *darg;
	uint64_t rng;

	struct gossip_node **nodes;	/* probe order */
	size_t nnodes, capnodes;
	struct gossip_node **buckets;
	size_t nbuckets;
	struct gossip_node *self;
	size_t probe_index;
	size_t nsuspect;		/* nodes with a suspicion timer */

	uint32_t seq;
	uint32_t incarnation;
	unsigned health;		/* Lifeguard awareness score */
	bool leaving;
	uint64_t leave_token;
	bool leave_pending;

	struct gossip_bq bq;
	struct ack_handler *acks;
	size_t nacks, capacks;
	struct probe probe;
	struct ml_stream *streams;
	size_t nstreams, capstreams;
	uint64_t next_stream_id;
	struct join_op *joins;
	size_t njoins, capjoins;
	uint64_t next_op;

	uint64_t next_probe, next_gossip, next_push_pull;

	struct gossip_out *out;
	size_t nout, capout, outhead;
	struct gossip_ml_stats stats;
};

/* ml.c */
struct gossip_node *ml_find(const struct gossip_ml *ml, const char *name);
struct gossip_node *ml_find_slice(const struct gossip_ml *ml,
    struct gossip_slice name);
void ml_out_packet(struct gossip_ml *ml, const struct gossip_addr *to,
    struct buf *data);
void ml_out_stream(struct gossip_ml *ml, const struct gossip_addr *to,
    struct buf *data, uint64_t id, uint64_t deadline);
void ml_raw_send(struct gossip_ml *ml, const struct gossip_addr *to,
    const struct gossip_node *node, const uint8_t *msg, size_t n);
void ml_send_msg(struct gossip_ml *ml, const struct gossip_addr *to,
    const uint8_t *msg, size_t n);
void ml_get_broadcasts(struct gossip_ml *ml, size_t overhead, size_t limit,
    struct gossip_msgs *out);
size_t ml_bytes_avail(const struct gossip_ml *ml);
void ml_suspect_node(struct gossip_ml *ml, uint64_t now,
    const struct gossip_suspect *s);
void ml_dead_node(struct gossip_ml *ml, uint64_t now,
    const struct gossip_suspect *d);
void ml_alive_node(struct gossip_ml *ml, uint64_t now,
    const struct gossip_alive *a, bool bootstrap, uint64_t token);
void ml_reset_nodes(struct gossip_ml *ml, uint64_t now);
void ml_suspicion_tick(struct gossip_ml *ml, uint64_t now);
uint64_t ml_suspicion_next(const struct gossip_ml *ml);
size_t ml_random_nodes(struct gossip_ml *ml, size_t k,
    bool (*exclude)(const struct gossip_ml *, const struct gossip_node *,
    const void *), const void *ctx, struct gossip_node **out);
uint64_t ml_rand(struct gossip_ml *ml);
void ml_health_delta(struct gossip_ml *ml, int delta);
bool ml_addr_from_slice(struct gossip_slice ip, uint16_t port,
    struct gossip_addr *a);
void ml_self_addr(const struct gossip_ml *ml, struct gossip_slice *ip);

/* ml_probe.c */
void ml_probe_tick(struct gossip_ml *ml, uint64_t now);
void ml_probe_ack(struct gossip_ml *ml, uint64_t now, uint32_t seq,
    const struct gossip_slice *payload);
void ml_probe_nack(struct gossip_ml *ml, uint32_t seq);
void ml_acks_tick(struct gossip_ml *ml, uint64_t now);
void ml_gossip(struct gossip_ml *ml, uint64_t now);
void ml_push_pull_tick(struct gossip_ml *ml, uint64_t now);
struct ml_stream *ml_stream_new(struct gossip_ml *ml, enum stream_kind kind,
    const struct gossip_addr *to);
void ml_local_state(struct gossip_ml *ml, bool join, struct buf *out);
int ml_merge_remote(struct gossip_ml *ml, uint64_t now,
    const struct gossip_push_pull *pp, char *why, size_t whylen);
void ml_handle_ping(struct gossip_ml *ml, const struct gossip_addr *from,
    const uint8_t *p, size_t n);
void ml_handle_indirect(struct gossip_ml *ml, uint64_t now,
    const struct gossip_addr *from, const uint8_t *p, size_t n);
void ml_handle_ack(struct gossip_ml *ml, uint64_t now, const uint8_t *p,
    size_t n);

#endif
