/*
 * The gossip worker's glue around the serf/memberlist pools (pool.h):
 * what main.c, gossip_self.c and the worker_*.c files share.
 *
 *   worker_pool.c     the LAN pool (and WAN pool on servers) from the
 *                     agent config: Consul's timing, tags, merge checks,
 *                     keyring; serf events into MEMBER_EVENT notifications
 *                     for the store and checks workers; members, stats,
 *                     graceful leave
 *   worker_join.c     -join / -retry-join (and _wan), the snapshot rejoin,
 *                     PUT /v1/agent/join and force-leave; joins of a pool
 *                     run one at a time
 *   worker_persist.c  data_dir/serf: keyring files (local.keyring,
 *                     remote.keyring) and member snapshots
 *                     (local.snapshot, remote.snapshot)
 *   worker_event.c    Consul user events: fire, filter, the agent's
 *                     256-event buffer and /v1/event/list blocking
 *   worker_keyring.c  /v1/operator/keyring through serf key queries
 *
 * Host names in -join / -retry-join are resolved in ops->init, before the
 * privilege drop: afterwards the worker sits in an empty chroot with no
 * resolver configuration and a seccomp filter that refuses file opens.
 * Runtime joins (the HTTP API, the snapshot) take IP addresses, or a
 * name that was resolved at start.
 */
#ifndef MUSTER_GOSSIP_WORKER_GOSSIP_H
#define MUSTER_GOSSIP_WORKER_GOSSIP_H

#include <ev.h>

#include "workers/common/worker.h"
#include "workers/gossip/consul_merge.h"
#include "workers/gossip/gossip_self.h"
#include "workers/gossip/pool.h"

enum { GW_LAN = 0, GW_WAN = 1, GW_NPOOLS };

/*
 * A request answered later.  The channel is looked up again by peer and
 * epoch when the answer is ready, so an answer never goes to a channel
 * that closed or was replaced meanwhile (the asker got -EPIPE then).
 */
struct gw_pending {
	unsigned proc;
	uint32_t epoch;
	struct ipc_msg req;	/* header only: the reqid to answer */
};

/* A join waiting its turn: one per pool runs at a time, because the
 * core's JOIN_DONE does not say which join finished. */
struct gw_join;
typedef void gw_join_done_fn(struct gw_join *j, unsigned joined,
    const char *err);
struct gw_pool;
struct gw_join {
	struct gw_join *next;
	struct gw_pool *pool;
	struct gossip_addr *addrs;
	size_t n;
	gw_join_done_fn *done;
	struct gw_pending reply;	/* HTTP joins */
	char what[300];			/* the address as asked, for errors */
};

/* A name or address to join, resolved at start. */
struct gw_target {
	char *spec;			/* as configured */
	struct gossip_addr *addrs;
	size_t n;			/* 0: did not resolve */
};

/* Previous members from a snapshot (serf's snapshot.go format). */
struct gw_snapshot {
	char **names, **addrs;
	size_t n;
	uint64_t clock, event_clock, query_clock;
	bool leave;
};

struct gw;
struct gw_keyop;

struct gw_pool {
	struct gw *g;
	unsigned idx;			/* GW_LAN / GW_WAN (MEMBER_EVENT pool) */
	const char *label;		/* "LAN" / "WAN" */
	struct gossip_pool *pool;	/* NULL until started */
	int udp, tcp;			/* handed over, until the pool owns them */
	struct gossip_keyring ring;
	struct gossip_consul_merge merge;
	uint16_t port;			/* default port for joins */
	/* persistence (worker_persist.c) */
	const char *ring_file, *snap_file;	/* NULL: not persisted */
	bool ring_write;		/* write the keyring file once started */
	struct gw_snapshot prev;	/* loaded at init */
	bool snap_dirty;
	ev_timer snap_timer;
	/* joins (worker_join.c) */
	struct gw_join *jq, **jtail;
	bool jbusy;
	struct gw_target *start, *retry;
	size_t nstart, nretry;
	int retry_max, retry_attempts;
	double retry_interval;		/* s */
	ev_timer retry_timer;
	bool retry_done;
	/* leave */
	bool leaving, left;
	/* keyring queries (worker_keyring.c) */
	struct gw_keyop *keyops;
};

struct gw_events;

struct gw {
	struct worker *w;
	struct gossip_self self;
	struct gw_pool pools[GW_NPOOLS];
	unsigned npools;		/* 1, or 2 on servers */
	/* graceful leave */
	bool leave_asked;
	unsigned leaves_pending;
	struct gw_pending leave_req;	/* AGENT_LEAVE from the supervisor */
	bool leave_reply, stop_after_leave;
	struct gw_events *ev;
};

extern struct gw gw;

/* main.c */
void gw_pending_init(struct gw_pending *p, struct worker *w, unsigned from,
    const struct ipc_msg *m);
/* false when the asker's channel is gone. */
bool gw_pending_reply(struct worker *w, const struct gw_pending *p,
    uint16_t type, const struct buf *payload);
bool gw_pending_result(struct worker *w, const struct gw_pending *p,
    int code, const char *msg);

/* worker_pool.c */
int gw_pools_init(struct gw *g, const struct agent_config *c);
int gw_pools_start(struct gw *g);
void gw_pools_free(struct gw *g);
void gw_members_reply(struct gw *g, bool wan, struct ipc_chan *ch,
    const struct ipc_msg *m);
void gw_replay_members(struct gw *g, unsigned peer);
void gw_pool_stats(struct gw *g, bool wan, struct buf *out);
/* Leave every pool; gw_leave_done() when all are done. */
void gw_leave(struct gw *g);
void gw_set_tags(struct gw *g);
struct gw_pool *gw_pool_for(struct gw *g, bool wan, const char **why);

/* worker_join.c */
int gw_join_init(struct gw_pool *p, const struct agent_config *c);
void gw_join_start(struct gw_pool *p);
void gw_join_free(struct gw_pool *p);
void gw_join_on_done(struct gw_pool *p, const struct gossip_event *e);
worker_handler_fn gw_on_join, gw_on_force_leave;

/* worker_persist.c */
void gw_persist_init(struct gw_pool *p, const struct agent_config *c);
int gw_keyring_setup(struct gw_pool *p, const struct agent_config *c,
    struct buf *err);
void gw_keyring_save(struct gw_pool *p);
void gw_snapshot_start(struct gw_pool *p);
void gw_snapshot_touch(struct gw_pool *p);
void gw_snapshot_leave(struct gw_pool *p);
void gw_snapshot_free(struct gw_pool *p);
int gw_snapshot_parse(const char *text, size_t len, bool rejoin_after_leave,
    struct gw_snapshot *s);
void gw_snapshot_clear(struct gw_snapshot *s);

/* worker_event.c */
void gw_events_init(struct gw *g);
void gw_events_free(struct gw *g);
void gw_events_on_user(struct gw *g, const struct gossip_event *e);
worker_handler_fn gw_on_event_fire, gw_on_event_list;

/* worker_keyring.c */
void gw_keyring_on_event(struct gw_pool *p, const struct gossip_event *e);
void gw_keyring_free(struct gw_pool *p);
worker_handler_fn gw_on_keyring;

#endif
