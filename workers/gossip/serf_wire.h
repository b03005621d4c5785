/*
 * serf's messages (gossip-protocol.md §9): carried in memberlist user
 * messages (08 + serf type + msgpack) and in push/pull user state.
 * Decoded structs hold views into the input, as in wire.h.
 */
#ifndef MUSTER_GOSSIP_SERF_WIRE_H
#define MUSTER_GOSSIP_SERF_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/util.h"
#include "workers/gossip/msgpack.h"

enum gossip_serf_msg {
	GOSSIP_SERF_LEAVE = 0,
	GOSSIP_SERF_JOIN = 1,
	GOSSIP_SERF_PUSH_PULL = 2,
	GOSSIP_SERF_USER_EVENT = 3,
	GOSSIP_SERF_QUERY = 4,
	GOSSIP_SERF_QUERY_RESPONSE = 5,
	GOSSIP_SERF_CONFLICT_RESPONSE = 6,
	GOSSIP_SERF_KEY_REQUEST = 7,
	GOSSIP_SERF_KEY_RESPONSE = 8,
	GOSSIP_SERF_RELAY = 9,
};

#define GOSSIP_QUERY_FLAG_ACK 1u
#define GOSSIP_QUERY_FLAG_NOBROADCAST 2u
#define GOSSIP_FILTER_NODE 0
#define GOSSIP_FILTER_TAG 1
#define GOSSIP_MAX_FILTERS 32
/* the magic byte in front of the tags map in node Meta (§9.2) */
#define GOSSIP_TAG_MAGIC 0xff

struct gossip_serf_join {
	uint64_t ltime;
	struct gossip_slice node;
};

struct gossip_serf_leave {
	uint64_t ltime;
	struct gossip_slice node;
	bool prune;
};

struct gossip_serf_user_event {
	uint64_t ltime;
	struct gossip_slice name;
	struct gossip_slice payload;
	bool cc;		/* may coalesce */
};

struct gossip_serf_query {
	uint64_t ltime;
	uint32_t id;
	struct gossip_slice addr;
	uint16_t port;
	struct gossip_slice source_node;
	bool filters_nil;
	size_t nfilters;
	struct gossip_slice filters[GOSSIP_MAX_FILTERS];
	uint32_t flags;
	uint8_t relay_factor;
	int64_t timeout_ns;
	struct gossip_slice name;
	struct gossip_slice payload;
};

struct gossip_serf_query_response {
	uint64_t ltime;
	uint32_t id;
	struct gossip_slice from;
	uint32_t flags;
	struct gossip_slice payload;
};

/* One recent-events slot of the push/pull state: nil, or events at ltime */
struct gossip_serf_pp_events {
	bool nil;
	uint64_t ltime;
	size_t first, count;	/* into gossip_serf_push_pull.ev */
};

struct gossip_serf_pp_event {
	struct gossip_slice name;
	struct gossip_slice payload;
};

struct gossip_serf_pp_status {
	struct gossip_slice name;
	uint64_t ltime;
};

/* serf push/pull state; the arrays are allocated by the decoder. */
struct gossip_serf_push_pull {
	uint64_t ltime;
	struct gossip_serf_pp_status *status;	/* map, wire order */
	size_t nstatus;
	struct gossip_slice *left;
	size_t nleft;
	uint64_t event_ltime;
	struct gossip_serf_pp_events *events;
	size_t nevents;
	struct gossip_serf_pp_event *ev;
	size_t nev;
	uint64_t query_ltime;
};

struct gossip_serf_key_response {
	bool result;
	struct gossip_slice message;
	size_t nkeys;
	struct gossip_slice keys[16];	/* base64 */
	bool keys_nil;
	struct gossip_slice primary_key;
};

/* serf.Member as the conflict response carries it */
struct gossip_serf_member_wire {
	struct gossip_slice name;
	struct gossip_slice addr;
	uint16_t port;
	size_t ntags;
	struct gossip_slice tags[64];	/* alternating key, value */
	uint64_t status;
	uint8_t pmin, pmax, pcur, dmin, dmax, dcur;
};

struct gossip_serf_relay {
	struct gossip_slice dest_ip;
	uint64_t dest_port;
	struct gossip_slice dest_zone;
	struct gossip_slice dest_name;
	struct gossip_slice inner;	/* 05 + query response */
};

/* Encoders append serf type byte + msgpack (no memberlist 08 prefix). */
void gossip_serf_enc_join(struct buf *b, const struct gossip_serf_join *m);
void gossip_serf_enc_leave(struct buf *b, const struct gossip_serf_leave *m);
void gossip_serf_enc_user_event(struct buf *b,
    const struct gossip_serf_user_event *m);
void gossip_serf_enc_query(struct buf *b, const struct gossip_serf_query *m);
void gossip_serf_enc_query_response(struct buf *b,
    const struct gossip_serf_query_response *m);
void gossip_serf_enc_push_pull(struct buf *b,
    const struct gossip_serf_push_pull *m);
/* 07 + {Key} */
void gossip_serf_enc_key_request(struct buf *b, const uint8_t *key,
    size_t len);
void gossip_serf_enc_key_response(struct buf *b,
    const struct gossip_serf_key_response *m);
/* 06 + Member, or 06 + nil when m is NULL */
void gossip_serf_enc_conflict_response(struct buf *b,
    const struct gossip_serf_member_wire *m);
/* 09 + header + inner message */
void gossip_serf_enc_relay(struct buf *b, const struct gossip_serf_relay *m);
/* Filters: 00 + [names] and 01 + {Expr, Tag} */
void gossip_serf_enc_filter_nodes(struct buf *b,
    const struct gossip_slice *names, size_t n);
void gossip_serf_enc_filter_tag(struct buf *b, const char *tag,
    const char *expr);

/* Decoders take the bytes after the serf type byte. */
int gossip_serf_dec_join(const uint8_t *p, size_t n,
    struct gossip_serf_join *m);
int gossip_serf_dec_leave(const uint8_t *p, size_t n,
    struct gossip_serf_leave *m);
int gossip_serf_dec_user_event(const uint8_t *p, size_t n,
    struct gossip_serf_user_event *m);
int gossip_serf_dec_query(const uint8_t *p, size_t n,
    struct gossip_serf_query *m);
int gossip_serf_dec_query_response(const uint8_t *p, size_t n,
    struct gossip_serf_query_response *m);
int gossip_serf_dec_push_pull(const uint8_t *p, size_t n,
    struct gossip_serf_push_pull *m);
void gossip_serf_push_pull_free(struct gossip_serf_push_pull *m);
int gossip_serf_dec_key_request(const uint8_t *p, size_t n,
    struct gossip_slice *key);
int gossip_serf_dec_key_response(const uint8_t *p, size_t n,
    struct gossip_serf_key_response *m);
/* *present false for a nil member */
int gossip_serf_dec_conflict_response(const uint8_t *p, size_t n,
    struct gossip_serf_member_wire *m, bool *present);
int gossip_serf_dec_relay(const uint8_t *p, size_t n,
    struct gossip_serf_relay *m);
/* A node filter's names (view into the filter, after its type byte). */
int gossip_serf_dec_filter_nodes(const uint8_t *p, size_t n,
    struct gossip_slice *names, size_t max, size_t *count);
int gossip_serf_dec_filter_tag(const uint8_t *p, size_t n,
    struct gossip_slice *tag, struct gossip_slice *expr);

/*
 * Tags in node Meta: ff + msgpack map[string]string.  kv alternates key,
 * value.  Encoding writes the pairs in the order given.  Decoding fills
 * up to max/2 pairs (views into meta); Meta without the magic byte is
 * serf < 3's single "role" tag.  -E2BIG when there are more tags.
 */
void gossip_tags_encode(struct buf *b, const char *const *kv, size_t n);
int gossip_tags_decode(const uint8_t *meta, size_t n, struct gossip_slice *kv,
    size_t max, size_t *count);

/* Vivaldi coordinate in serf's ack payload: 01 + msgpack Coordinate. */
#define GOSSIP_COORD_DIM 8
struct gossip_coord {
	double vec[GOSSIP_COORD_DIM];
	double error;
	double adjustment;
	double height;
};
void gossip_coord_encode(struct buf *b, const struct gossip_coord *c);
int gossip_coord_decode(const uint8_t *p, size_t n, struct gossip_coord *c);

#endif
