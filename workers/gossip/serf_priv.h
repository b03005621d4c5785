/* Internals of the serf core shared by serf.c and serf_query.c. */
#ifndef MUSTER_GOSSIP_SERF_PRIV_H
#define MUSTER_GOSSIP_SERF_PRIV_H

#include "workers/gossip/serf.h"
#include "workers/gossip/vivaldi.h"

#define SERF_EVENT_BUFFER 512
#define SERF_QUERY_BUFFER 512
#define SERF_USER_EVENT_HARD_LIMIT (9 * 1024)
#define SERF_INTERNAL_PREFIX "_serf_"

struct smember {
	struct gossip_member m;
	uint64_t status_ltime;
	uint64_t leave_time;	/* ms, when it failed or left */
	uint64_t prune_at;	/* force-leave with prune: erase then */
	struct smember *hnext;
};

enum intent_type { INTENT_LEAVE = 0, INTENT_JOIN = 1 };

struct intent {
	char *node;
	enum intent_type type;
	uint64_t ltime;
	uint64_t wall;
};

struct ev_entry {
	char *name;
	uint8_t *payload;
	size_t len;
	bool payload_nil;
};

struct ev_slot {
	bool used;
	uint64_t ltime;
	struct ev_entry *ev;
	size_t n;
};

struct q_slot {
	bool used;
	uint64_t ltime;
	uint32_t *ids;
	size_t n;
};

/* A query we sent: matches acks/responses by LTime and ID. */
struct out_query {
	uint64_t handle;
	uint64_t ltime;
	uint32_t id;
	uint64_t deadline;
	char **acks, **resps;
	size_t nacks, nresps;
};

/* A query delivered to the application, until it responds or expires. */
struct in_query {
	uint64_t handle;
	uint64_t ltime;
	uint32_t id;
	struct gossip_addr origin;
	char *source_node;
	uint8_t relay_factor;
	uint64_t deadline;
};

struct pending_member {
	char *name;
	enum gossip_event_type type;
	struct gossip_member m;
};

struct last_member {
	char *name;
	enum gossip_event_type type;
};

enum serf_state { SERF_ALIVE, SERF_LEAVING, SERF_LEFT };
enum leave_phase { LEAVE_NONE, LEAVE_INTENT, LEAVE_ML, LEAVE_PROPAGATE };

struct gossip_serf {
	struct gossip_serf_config cfg;
	char **tags;
	size_t ntags;
	struct gossip_ml *ml;
	struct gossip_ml_delegate dlg;

	struct smember **members;
	size_t nmembers, capmembers;
	struct smember **buckets;
	size_t nbuckets;

	struct intent *intents;
	size_t nintents;

	uint64_t clock, event_clock, query_clock;
	uint64_t event_min_time, query_min_time;
	struct ev_slot events[SERF_EVENT_BUFFER];
	struct q_slot queries[SERF_QUERY_BUFFER];

	struct gossip_bq intents_q, events_q, queries_q;
	uint64_t leave_token;
	bool leave_intent_pending;

	struct out_query *outq;
	size_t noutq;
	struct in_query *inq;
	size_t ninq;
	uint64_t next_handle;

	uint64_t *join_ops;		/* serf joins (not reconnects) */
	bool *join_ignore;
	size_t njoin_ops;
	unsigned join_ignore_pending;

	enum serf_state state;
	enum leave_phase leave_phase;
	uint64_t leave_deadline;
	char leave_err[128];

	uint64_t next_reap, next_reconnect, next_queue_check;

	struct gossip_event *evq;
	size_t nevq, capevq, evhead;

	/* coalescing */
	struct pending_member *pend;
	size_t npend;
	struct last_member *last;
	size_t nlast;
	uint64_t coalesce_end, quiesce_end;
	struct gossip_vivaldi viv;	/* our network coordinate */
	struct coord_entry {
		char *name;
		struct gossip_coord c;
	} *coords;			/* last coordinate heard per node */
	size_t ncoords;

	struct gossip_event *upend;	/* held user events */
	size_t nupend;
	uint64_t ucoalesce_end, uquiesce_end;
};

/* serf.c */
struct smember *serf_find(const struct gossip_serf *s, const char *name);
struct smember *serf_find_slice(const struct gossip_serf *s,
    struct gossip_slice name);
void serf_push_event(struct gossip_serf *s, struct gossip_event *e);
void serf_member_copy(const struct gossip_member *src,
    struct gossip_member *dst);
void serf_broadcast(struct gossip_serf *s, struct gossip_bq *q,
    const struct buf *msg, uint64_t token);
bool serf_handle_leave_intent(struct gossip_serf *s, uint64_t now,
    const struct gossip_serf_leave *m);
bool serf_handle_join_intent(struct gossip_serf *s, uint64_t now,
    const struct gossip_serf_join *m);
void serf_witness(uint64_t *clock, uint64_t v);
bool serf_has_alive_members(const struct gossip_serf *s);

/* serf_query.c */
bool serf_handle_user_event(struct gossip_serf *s, uint64_t now,
    const struct gossip_serf_user_event *m);
bool serf_handle_query(struct gossip_serf *s, uint64_t now,
    const struct gossip_serf_query *q);
void serf_handle_query_response(struct gossip_serf *s, uint64_t now,
    const struct gossip_serf_query_response *r);
void serf_handle_relay(struct gossip_serf *s, const uint8_t *p, size_t n);
void serf_queries_tick(struct gossip_serf *s, uint64_t now);
uint64_t serf_queries_next(const struct gossip_serf *s);
void serf_coalesce_tick(struct gossip_serf *s, uint64_t now, bool force);
uint64_t serf_coalesce_next(const struct gossip_serf *s);
void serf_emit_member(struct gossip_serf *s, uint64_t now,
    enum gossip_event_type type, const struct gossip_member *m);
void serf_emit_user(struct gossip_serf *s, uint64_t now,
    struct gossip_event *e);
void serf_queries_free(struct gossip_serf *s);

#endif
