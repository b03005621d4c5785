/*
 * The serf layer over the memberlist core (gossip-protocol.md §9), also a
 * deterministic state machine: member status (alive, leaving, left,
 * failed), tags in node meta, three Lamport clocks, join/leave intents,
 * user events with the 512-slot recent-event buffer and optional
 * coalescing, queries with acks, responses, filters and relays, internal
 * queries (_serf_ping, _serf_conflict, keyring rotation), reaping,
 * tombstones and reconnects.
 *
 * Like gossip_ml it takes the time as an argument everywhere and queues
 * its outputs: datagrams/streams through gossip_serf_pop_out(), events
 * for the application through gossip_serf_pop_event().
 */
#ifndef MUSTER_GOSSIP_SERF_H
#define MUSTER_GOSSIP_SERF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "workers/gossip/keyring.h"
#include "workers/gossip/ml.h"
#include "workers/gossip/serf_wire.h"

enum gossip_member_status {
	GOSSIP_MEMBER_NONE = 0,
	GOSSIP_MEMBER_ALIVE = 1,
	GOSSIP_MEMBER_LEAVING = 2,
	GOSSIP_MEMBER_LEFT = 3,
	GOSSIP_MEMBER_FAILED = 4,
};
const char *gossip_member_status_name(enum gossip_member_status s);

#define GOSSIP_MAX_TAGS_KV 128	/* strings: 64 tags */

/* A member as the application sees it (an owned copy). */
struct gossip_member {
	char *name;
	struct gossip_addr addr;
	char **tags;		/* alternating key, value */
	size_t ntags;		/* number of strings */
	enum gossip_member_status status;
	uint8_t pmin, pmax, pcur, dmin, dmax, dcur;
};
void gossip_member_free(struct gossip_member *m);
const char *gossip_member_tag(const struct gossip_member *m, const char *key);

enum gossip_event_type {
	GOSSIP_EV_MEMBER_JOIN = 1,
	GOSSIP_EV_MEMBER_LEAVE,
	GOSSIP_EV_MEMBER_FAILED,
	GOSSIP_EV_MEMBER_UPDATE,
	GOSSIP_EV_MEMBER_REAP,
	GOSSIP_EV_USER,		/* a user event */
	GOSSIP_EV_QUERY,	/* a query to answer (gossip_serf_respond) */
	GOSSIP_EV_QUERY_ACK,	/* an ack for a query we sent */
	GOSSIP_EV_QUERY_RESPONSE,
	GOSSIP_EV_QUERY_DONE,	/* our query's timeout passed */
	GOSSIP_EV_JOIN_DONE,	/* gossip_serf_join finished */
	GOSSIP_EV_LEAVE_DONE,	/* graceful leave complete */
	GOSSIP_EV_KEYRING,	/* keyring changed by a key query: persist it */
};

struct gossip_event {
	enum gossip_event_type type;
	struct gossip_member member;	/* member events */
	uint64_t ltime;
	char *name;			/* user event / query name */
	uint8_t *payload;		/* user event / query / response */
	size_t payload_len;
	bool coalesce;
	uint64_t query;			/* handle of a query (ours or theirs) */
	char *from;			/* ack/response sender; query source */
	uint64_t deadline;		/* QUERY: respond before (ms) */
	unsigned count;			/* JOIN_DONE: nodes joined */
	uint64_t join;			/* JOIN_DONE: gossip_serf_join's id */
	char *error;			/* JOIN_DONE / LEAVE_DONE error, or NULL */
};
void gossip_event_free(struct gossip_event *e);

/*
 * A merge check (Consul's LAN/WAN merge delegates): called with the
 * members of a joining cluster and with every node an alive message
 * announces.  Return <0 with why filled to refuse.
 */
typedef int gossip_merge_fn(void *arg, const struct gossip_member *members,
    size_t n, char *why, size_t whylen);

struct gossip_serf_config {
	struct gossip_ml_config ml;	/* name, address, timing, wire */
	const char *const *tags;	/* alternating key, value; copied */
	size_t ntags;
	struct gossip_keyring *keyring;	/* may be NULL; edited by key queries */
	uint32_t reap_interval;		/* ms, 15 s */
	uint32_t reconnect_interval;	/* 30 s */
	uint64_t reconnect_timeout;	/* 24 h (Consul: 72 h) */
	uint64_t tombstone_timeout;	/* 24 h */
	uint32_t recent_intent_timeout;	/* 5 min */
	uint32_t broadcast_timeout;	/* 5 s */
	uint32_t leave_propagate_delay;	/* 1 s (Consul: 3 s) */
	uint32_t queue_check_interval;	/* 30 s */
	unsigned min_queue_depth;	/* 0 (Consul: 4096) */
	unsigned max_queue_depth;	/* 4096 */
	unsigned query_timeout_mult;	/* 16 */
	size_t query_size_limit;	/* 1024 */
	size_t query_response_size_limit; /* 1024 */
	size_t user_event_size_limit;	/* 512 */
	uint32_t coalesce_period;	/* member events; 0 = off */
	uint32_t quiescent_period;
	uint32_t user_coalesce_period;	/* user events flagged CC; 0 = off */
	uint32_t user_quiescent_period;
	bool enable_reconnect_override;	/* honour the rc_tm tag (Consul) */
	gossip_merge_fn *merge;
	void *merge_arg;
};

/* serf.DefaultConfig() on memberlist's LAN defaults. */
void gossip_serf_config_default(struct gossip_serf_config *c);
/* Consul's LAN and WAN pools: serf defaults + SerfDefaultConfig (min
 * queue depth 4096, 3 s leave propagation), 72 h reconnect timeout,
 * gossip_lan/gossip_wan timing, serf protocol 4 (consul.md §9.4). */
void gossip_serf_config_consul_lan(struct gossip_serf_config *c);
void gossip_serf_config_consul_wan(struct gossip_serf_config *c);

struct gossip_serf;

struct gossip_serf *gossip_serf_new(const struct gossip_serf_config *cfg,
    uint64_t now);
void gossip_serf_free(struct gossip_serf *s);

/* Inputs (see gossip_ml for the stream contracts). */
void gossip_serf_recv_packet(struct gossip_serf *s, uint64_t now,
    const struct gossip_addr *from, const uint8_t *p, size_t n);
int gossip_serf_stream_in(struct gossip_serf *s, uint64_t now,
    const uint8_t *in, size_t n, struct buf *reply);
int gossip_serf_stream_reply(struct gossip_serf *s, uint64_t now, uint64_t id,
    const uint8_t *in, size_t n);
void gossip_serf_stream_fail(struct gossip_serf *s, uint64_t now, uint64_t id,
    int err);
void gossip_serf_tick(struct gossip_serf *s, uint64_t now);
uint64_t gossip_serf_next_deadline(const struct gossip_serf *s);

/* Outputs. */
int gossip_serf_pop_out(struct gossip_serf *s, struct gossip_out *out);
int gossip_serf_pop_event(struct gossip_serf *s, struct gossip_event *ev);

/*
 * Commands.  join: push/pull with each address, then a join intent;
 * ignore_old drops user events older than the join (serf -replay off).
 * Returns an id (> 0) that the JOIN_DONE event carries in `join`; joins
 * may run concurrently.  With no address, 0 and an immediate JOIN_DONE
 * (join 0) with an error.
 */
uint64_t gossip_serf_join(struct gossip_serf *s, uint64_t now,
    const struct gossip_addr *addrs, size_t n, bool ignore_old);
/* Graceful leave: leave intent, memberlist dead-from-self, propagation
 * delay; LEAVE_DONE when finished.  -EALREADY if leaving or left. */
int gossip_serf_leave(struct gossip_serf *s, uint64_t now);
/* New tags (copied), announced with a fresh incarnation.  -E2BIG when
 * the encoded tags exceed 512 bytes. */
int gossip_serf_set_tags(struct gossip_serf *s, uint64_t now,
    const char *const *kv, size_t n);
/* -E2BIG past the size limits (message in *why). */
int gossip_serf_user_event(struct gossip_serf *s, uint64_t now,
    const char *name, const uint8_t *payload, size_t len, bool coalesce,
    const char **why);

struct gossip_query_params {
	const char *const *filter_nodes;	/* only these nodes answer */
	size_t nfilter_nodes;
	const char *const *filter_tags;		/* alternating tag, regexp */
	size_t nfilter_tags;
	bool request_ack;
	uint8_t relay_factor;
	uint64_t timeout_ms;			/* 0: the default */
};
/* Returns the query handle (>0) or <0; ACK/RESPONSE/DONE events follow. */
int64_t gossip_serf_query(struct gossip_serf *s, uint64_t now,
    const char *name, const uint8_t *payload, size_t len,
    const struct gossip_query_params *params, const char **why);
/* Answer a QUERY event (once, before its deadline). */
int gossip_serf_respond(struct gossip_serf *s, uint64_t now, uint64_t query,
    const uint8_t *payload, size_t len, const char **why);
/* Remove a failed member now (force-leave); prune erases it at once. */
int gossip_serf_force_leave(struct gossip_serf *s, uint64_t now,
    const char *node, bool prune);
/*
 * Keyring rotation across the pool: sends _serf_install-key, _serf_use-key,
 * _serf_remove-key or _serf_list-keys (op "install", "use", "remove",
 * "list") to every member; responses arrive as QUERY_RESPONSE events
 * whose payload is 08 + a key response (gossip_serf_dec_key_response).
 */
int64_t gossip_serf_key_query(struct gossip_serf *s, uint64_t now,
    const char *op, const uint8_t *key, size_t keylen, const char **why);

/* Snapshot of the members (owned copies; free each then the array). */
size_t gossip_serf_members(const struct gossip_serf *s,
    struct gossip_member **out);
const struct gossip_node *gossip_serf_local(const struct gossip_serf *s);
size_t gossip_serf_num_members(const struct gossip_serf *s);	/* alive */
uint64_t gossip_serf_default_query_timeout(const struct gossip_serf *s);
struct gossip_ml *gossip_serf_ml(struct gossip_serf *s);

/* Our network coordinate (node NULL or our name), or the last one heard
 * from node in an ack; -ENOENT if none. */
int gossip_serf_coordinate(const struct gossip_serf *s, const char *node,
    struct gossip_coord *out);

struct gossip_serf_stats {
	uint64_t member_time, event_time, query_time;
	size_t members, failed, left;
	size_t intent_queue, event_queue, query_queue;
	unsigned health_score;
	bool encrypted;
	uint64_t coordinate_resets;
};
void gossip_serf_stats(const struct gossip_serf *s,
    struct gossip_serf_stats *st);

#endif
