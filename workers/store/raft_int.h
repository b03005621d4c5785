/* The Raft core's internals, shared by raft_core.c, raft_replicate.c,
 * raft_membership.c and raft_log.c.  Not for the host. */
#ifndef MUSTER_STORE_RAFT_INT_H
#define MUSTER_STORE_RAFT_INT_H

#include "workers/store/raft.h"

#define RFT_INFLIGHT_MAX 64
/* snapshot_interval waits at most this many thresholds of log. */
#define RFT_SNAP_BOUND 16

/* Leader's view of one peer (§3.5, with etcd-style probe/pipeline). */
enum rft_pstate {
	RFT_P_PROBE = 0,	/* one AppendEntries at a time, find next */
	RFT_P_PIPELINE,		/* many in flight, next advanced on send */
	RFT_P_SNAPSHOT,		/* streaming InstallSnapshot chunks */
};

struct rft_progress {
	uint64_t id;
	uint8_t state;
	uint64_t next;		/* next index to send */
	uint64_t acc;		/* accepted (in the peer's memory) through */
	uint64_t match;		/* durable on the peer through */
	bool probe_sent;
	uint64_t sent_ms;	/* last probe/chunk, or pipeline progress */
	uint64_t inflight[RFT_INFLIGHT_MAX];	/* last index per message */
	unsigned in_head, in_count;
	uint64_t acked_seq, acked_ts, last_recv_ms;
	uint64_t snap_index, snap_term, snap_off;
	bool chunk_out;
};

struct rft_read {
	uint64_t cookie;
	uint64_t seq;		/* quorum must ack a message with seq >= this */
	uint64_t index;		/* commit index at request, 0: not yet known */
};

struct rft {
	struct rft_config cfg;
	struct rft_cbs cb;
	void *ud;
	uint64_t rng;
	bool started;

	uint8_t role;
	bool pre;		/* candidate in the pre-vote phase */
	uint64_t term, vote, leader;
	uint64_t now;
	uint64_t election_deadline;
	uint64_t sticky_until;	/* refuse to depose a leader until then */
	uint64_t last_leader_ms;

	/* Log: ents[0] has index first; empty when nents == 0. */
	struct rft_entry *ents;
	size_t nents, cap;
	uint64_t first;
	uint64_t snap_index, snap_term;
	struct rft_conf snap_conf;
	uint64_t commit, applied, persisted, next_persist;
	uint64_t released;	/* NORMAL entries <= this may lack data */
	bool persist_busy;
	uint64_t verified;	/* follower: matches the leader through */
	uint64_t last_seq, last_ts;	/* follower: latest from the leader */

	struct rft_conf conf;	/* latest in the log */
	uint64_t conf_index;

	/* Candidate. */
	uint64_t granted[RFT_SERVERS_MAX];
	unsigned ngranted;

	/* Leader. */
	struct rft_progress prog[RFT_SERVERS_MAX];
	unsigned nprog;
	uint64_t term_start;	/* index of this term's no-op */
	uint64_t seq;
	uint64_t hb_due;
	struct rft_read *reads;
	size_t nreads, capreads;
	bool read_round;	/* a confirmation round is out */
	uint64_t read_round_seq;
	uint64_t transfer_to, transfer_deadline;
	uint64_t lease_block_until;	/* after an aborted transfer */

	/* Snapshots. */
	bool snap_taking;
	uint64_t snap_check_at;	/* snapshot_interval: next look */
	uint64_t snap_retry_applied;	/* after a failed snapshot */
	uint64_t take_index, take_term;
	struct rft_conf take_conf;
	uint8_t *chunk;		/* leader: one chunk read buffer */
	uint64_t rx_index, rx_term, rx_off;
	struct rft_conf rx_conf;
	bool rx_active, rx_installing;
};

/* raft_log.c: the in-memory log. */
uint64_t rft_log_last(const struct rft *r);
bool rft_log_term(const struct rft *r, uint64_t index, uint64_t *term);
struct rft_entry *rft_log_get(const struct rft *r, uint64_t index);
void rft_log_append(struct rft *r, uint64_t term, uint8_t type,
    const void *data, size_t len, uint64_t cookie);
void rft_log_truncate(struct rft *r, uint64_t from);
void rft_log_compact(struct rft *r, uint64_t upto);
void rft_log_reset(struct rft *r, uint64_t snap_index, uint64_t snap_term);
void rft_log_free(struct rft *r);
void rft_log_release(struct rft *r);
/* Entries [index, index + *n) for sending, the released ones read back
 * through fetch; *n shrinks to the complete prefix.  Return them with
 * rft_log_put_back. */
const struct rft_entry *rft_log_borrow(struct rft *r, uint64_t index,
    size_t *n, bool *copy);
void rft_log_put_back(const struct rft_entry *e, size_t n, bool copy);
/* Configuration in effect at index (latest CONF entry <= index). */
void rft_conf_at(const struct rft *r, uint64_t index, struct rft_conf *out,
    uint64_t *conf_index);
void rft_conf_refresh(struct rft *r);
uint64_t rft_rand(struct rft *r);

/* raft_core.c */
void rft_send(struct rft *r, struct rft_msg *m);
void rft_become_follower(struct rft *r, uint64_t term, uint64_t leader);
void rft_campaign(struct rft *r, bool pre, bool transfer);
void rft_reset_election(struct rft *r);
unsigned rft_quorum(const struct rft *r);
bool rft_self_voter(const struct rft *r);

/* raft_replicate.c */
void rft_become_leader(struct rft *r);
void rft_flush_persist(struct rft *r);
void rft_replicate_all(struct rft *r);
void rft_replicate(struct rft *r, struct rft_progress *p);
void rft_heartbeat_all(struct rft *r);
void rft_leader_tick(struct rft *r);
void rft_maybe_commit(struct rft *r);
void rft_apply_committed(struct rft *r);
void rft_recv_append(struct rft *r, const struct rft_msg *m);
void rft_recv_append_resp(struct rft *r, const struct rft_msg *m);
void rft_recv_snap(struct rft *r, const struct rft_msg *m);
void rft_recv_snap_resp(struct rft *r, const struct rft_msg *m);
void rft_ack_leader(struct rft *r);
void rft_reads_check(struct rft *r);
void rft_reads_fail(struct rft *r, int err);
void rft_abandon_all(struct rft *r);
struct rft_progress *rft_prog(struct rft *r, uint64_t id);
void rft_prog_rebuild(struct rft *r);
void rft_maybe_snapshot(struct rft *r);

/* raft_membership.c */
void rft_send_timeout_now(struct rft *r, struct rft_progress *p);
void rft_transfer_check(struct rft *r, struct rft_progress *p);

#endif
