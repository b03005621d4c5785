/*
 * The Raft consensus core: a pure, deterministic state machine with
 * pluggable I/O (after canonical/raft).  It opens no socket, reads no
 * clock, starts no thread and touches no file.  The host (the store
 * worker, or the simulation fixture in tests/unit/raft/) feeds it inputs
 *
 *   rft_tick(now)        the passing of time (monotonic milliseconds)
 *   rft_step(msg)        an RPC from a peer (decoded by raft_wire.c)
 *   rft_propose(...)     a client write       rft_read_index(...)  a read
 *   rft_persisted(...)   a log batch is durable
 *   rft_snapshot_*(...)  a snapshot was written / received
 *
 * and carries out what the core asks through struct rft_cbs.  References
 * are to Ongaro's dissertation "Consensus: Bridging Theory and Practice"
 * (2014), written §N.N, and to the Raft paper (Ongaro & Ousterhout, 2014),
 * written "paper §N" / "Figure N".
 *
 * Threading: one thread drives one struct rft.  Callbacks run inside the
 * call that caused them and must not call back into the core; a host that
 * wants to answer (say, persistence done) queues the answer and delivers
 * it from its loop.
 */
#ifndef MUSTER_STORE_RAFT_H
#define MUSTER_STORE_RAFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Core errors outside errno's range; returned negated like errno. */
#define RFT_ENOTLEADER 1001	/* not the leader: ask rft_leader() */
#define RFT_ELEADERLOST 1002	/* leadership lost, outcome unknown */
const char *rft_strerror(int err);

#define RFT_SERVERS_MAX 16
#define RFT_NAME_MAX 64
#define RFT_ADDR_MAX 128

enum rft_role {
	RFT_FOLLOWER = 0,
	RFT_CANDIDATE,		/* also the pre-vote phase (§9.6) */
	RFT_LEADER,
};

/* Server roles in a configuration (§4.2.1: non-voting members). */
enum rft_suffrage {
	RFT_VOTER = 1,
	RFT_NONVOTER = 2,
};

struct rft_server {
	uint64_t id;			/* non-zero, unique in the cluster */
	uint8_t role;			/* enum rft_suffrage */
	char name[RFT_NAME_MAX];	/* node name or ID, opaque to the core */
	char addr[RFT_ADDR_MAX];	/* host:port, opaque to the core */
};

struct rft_conf {
	unsigned n;
	struct rft_server s[RFT_SERVERS_MAX];
};

enum rft_entry_type {
	RFT_ENTRY_NORMAL = 1,	/* client command for the state machine */
	RFT_ENTRY_NOOP = 2,	/* a new leader's first entry (§3.6.2, §6.4) */
	RFT_ENTRY_CONF = 3,	/* an encoded struct rft_conf (§4.1) */
};

struct rft_entry {
	uint64_t index;
	uint64_t term;
	uint8_t type;		/* enum rft_entry_type */
	uint32_t len;
	const uint8_t *data;
	uint64_t cookie;	/* local: the proposer's, never stored or sent */
};

/* RPCs (Figure 3.1, plus pre-vote §9.6, TimeoutNow §3.10 and chunked
 * InstallSnapshot §5.3).  Pointers inside are valid only for the call. */
enum rft_msg_type {
	RFT_APPEND = 1,
	RFT_APPEND_RESP,
	RFT_VOTE,
	RFT_VOTE_RESP,
	RFT_SNAP,
	RFT_SNAP_RESP,
	RFT_TIMEOUT_NOW,
	RFT_MSG_MAX,
};

struct rft_append {
	uint64_t prev_index, prev_term, commit;
	uint64_t seq, ts;	/* echoed: ReadIndex rounds and the lease */
	const struct rft_entry *ents;
	size_t n;
};

struct rft_append_resp {
	bool success;
	uint64_t last;		/* log matches the leader's through here */
	uint64_t match;		/* ... and is durable through here */
	uint64_t reject;	/* on failure: the prev_index refused */
	uint64_t conflict_term, conflict_index;	/* fast backtracking hint */
	uint64_t seq, ts;
};

struct rft_vote {
	uint64_t last_index, last_term;
	bool pre;		/* pre-vote: nobody changes term (§9.6) */
	bool transfer;		/* after TimeoutNow: ignore leader stickiness */
};

struct rft_vote_resp {
	bool granted, pre;
};

struct rft_snap {
	uint64_t index, term;	/* last entry the snapshot covers */
	uint64_t offset;
	uint64_t seq, ts;
	const uint8_t *conf;	/* encoded configuration as of index */
	size_t conf_len;
	const uint8_t *data;
	size_t len;
	bool done;		/* last chunk */
};

struct rft_snap_resp {
	uint64_t index;
	uint64_t next_offset;	/* resume here (0: start over) */
	uint64_t seq, ts;
	bool done;		/* installed and durable */
	bool have;		/* not needed: already committed past index */
};

struct rft_msg {
	uint8_t type;		/* enum rft_msg_type */
	uint64_t from, to, term;
	union {
		struct rft_append append;
		struct rft_append_resp append_resp;
		struct rft_vote vote;
		struct rft_vote_resp vote_resp;
		struct rft_snap snap;
		struct rft_snap_resp snap_resp;
	};
};

/*
 * What the core asks of its host.  "async" callbacks are answered later
 * through the named rft_* call; "sync" ones are complete when they return.
 */
struct rft_cbs {
	/* Send m to m->to; best effort, may drop.  Copy what you keep. */
	void (*send)(void *ud, const struct rft_msg *m);
	/* async, FIFO: delete stored entries from e[0].index on, then append
	 * e[0..n) and make them durable (one fsync for the batch).  Answer
	 * once per call with rft_persisted(last index, last term).  At most
	 * one batch is outstanding: the core gathers the next meanwhile, so
	 * one fsync covers every entry proposed during the previous one. */
	void (*persist)(void *ud, const struct rft_entry *e, size_t n);
	/* sync, optional: read back entry index, durable in the log store,
	 * whose data the core released (out->data malloc'd; the core frees
	 * it).  With it the core keeps in memory only the data of entries
	 * not yet applied or persisted, plus a short window for followers;
	 * without it, every entry's data until compaction. */
	int (*fetch)(void *ud, uint64_t index, struct rft_entry *out);
	/* sync: make current term and vote durable before returning; the
	 * core sends nothing that depends on them first (Figure 3.1). */
	int (*save_term)(void *ud, uint64_t term, uint64_t vote);
	/* async, FIFO with persist, no answer: entries <= upto may go. */
	void (*compact)(void *ud, uint64_t upto);
	/* sync: apply a committed entry (all types, in index order). */
	void (*apply)(void *ud, const struct rft_entry *e);
	/* A proposal whose fate this server will not learn (it lost
	 * leadership before the entry was applied here). */
	void (*abandon)(void *ud, uint64_t cookie, int err);
	/* async: write a snapshot of the state machine as it is now (at
	 * index, everything applied), then rft_snapshot_taken(). */
	void (*take_snapshot)(void *ud, uint64_t index, uint64_t term,
	    const struct rft_conf *conf);
	/* sync: read body bytes of the local snapshot at index; returns the
	 * number read (< len only at its end) or -errno. */
	int (*snapshot_read)(void *ud, uint64_t index, uint64_t off,
	    void *buf, size_t len);
	/* sync: a received chunk; off 0 starts a new snapshot. */
	int (*snapshot_write)(void *ud, uint64_t index, uint64_t term,
	    uint64_t off, const void *p, size_t len);
	/* async, FIFO with persist: the received snapshot is complete; make
	 * it durable, drop the whole stored log, restore the state machine
	 * from it, then rft_snapshot_installed(). */
	void (*snapshot_install)(void *ud, uint64_t index, uint64_t term,
	    const struct rft_conf *conf);
	/* A ReadIndex request is ready (err 0): the state machine has
	 * applied index and leadership was confirmed after the request. */
	void (*read_done)(void *ud, uint64_t cookie, int err, uint64_t index);
	void (*role_changed)(void *ud, enum rft_role role, uint64_t term,
	    uint64_t leader);
	/* The latest configuration in the log changed (§4.1: in effect as
	 * soon as appended, committed or not). */
	void (*conf_changed)(void *ud, const struct rft_conf *conf,
	    uint64_t index);
};

struct rft_config {
	uint64_t id;
	uint64_t seed;			/* the election timer's PRNG */
	/* Follower: no contact with a leader for a random time in
	 * [heartbeat_timeout, 2*heartbeat_timeout) starts an election. */
	unsigned heartbeat_timeout_ms;
	/* Candidate: retry after a random time in [et, 2*et).  Leader:
	 * steps down without a quorum's contact for this long (CheckQuorum). */
	unsigned election_timeout_ms;
	/* Reads served on leadership alone for this long after a quorum
	 * acknowledged a message; must stay below heartbeat_timeout. */
	unsigned lease_timeout_ms;
	unsigned heartbeat_interval_ms;	/* leader's heartbeat period */
	uint64_t snapshot_threshold;	/* snapshot every this many applies */
	/* After a snapshot the next waits a random [i, 2i) ms at least
	 * (Consul's raft_snapshot_interval, 30 s, after hashicorp/raft's
	 * SnapshotInterval, which looks at the threshold that often): a
	 * burst of writes is not held up by snapshot after snapshot; but
	 * never beyond 16 thresholds of log.  0: snapshot_threshold alone. */
	unsigned snapshot_interval_ms;
	uint64_t trailing_logs;		/* entries kept behind a snapshot */
	unsigned max_append_entries;	/* per AppendEntries */
	size_t max_append_bytes;	/* per AppendEntries (soft) */
	unsigned max_inflight;		/* pipelined AppendEntries per peer */
	size_t snapshot_chunk;		/* InstallSnapshot chunk size */
	bool pre_vote;
};

/*
 * Consul's defaults (reference/consul.md §9.1, hashicorp/raft's config):
 * heartbeat and election timeout 1000 ms, leader lease 500 ms, each times
 * raft_multiplier (Consul's default 5); snapshots every 16384 commits
 * keeping 10000 trailing logs; 64 entries per AppendEntries; heartbeats
 * at a tenth of the heartbeat timeout.  A multiplier of 0 means 5.
 */
void rft_config_default(struct rft_config *c, uint64_t id, unsigned multiplier);

/* State restored from storage at start. */
struct rft_boot {
	uint64_t term, vote;
	uint64_t snap_index, snap_term;	/* 0 when there is no snapshot */
	struct rft_conf snap_conf;	/* as of snap_index */
	const struct rft_entry *ents;	/* contiguous, ascending */
	size_t n;
};

struct rft;

struct rft *rft_new(const struct rft_config *c, const struct rft_cbs *cb,
    void *ud);
void rft_free(struct rft *r);
/* Load the durable state (boot may be NULL for a fresh server); the host
 * has already restored its state machine from the snapshot.  -EINVAL if
 * the log does not connect to the snapshot. */
int rft_start(struct rft *r, const struct rft_boot *boot, uint64_t now);
/* A fresh server (no term, no log) writes the cluster's first
 * configuration as entry 1 of term 1; every bootstrapping server must
 * pass the same one.  -EEXIST when state exists, -EINVAL on a bad conf. */
int rft_bootstrap(struct rft *r, const struct rft_conf *c);

void rft_tick(struct rft *r, uint64_t now_ms);
/* -EINVAL for a message that is not ours or breaks the protocol's
 * invariants (logged by the caller as bad network input). */
int rft_step(struct rft *r, const struct rft_msg *m);

/* Append a client command; *index (may be NULL) gets its log index.
 * -RFT_ENOTLEADER (see rft_leader for a hint), -EBUSY during a
 * leadership transfer.  The outcome comes through apply (with cookie) or
 * abandon. */
int rft_propose(struct rft *r, const void *data, size_t len,
    uint64_t cookie, uint64_t *index);
/* ReadIndex (§6.4): completion through read_done. */
int rft_read_index(struct rft *r, uint64_t cookie);
/* Leader lease (§6.4.1): may the leader answer reads from its state
 * without a quorum round at time now? */
bool rft_lease_valid(const struct rft *r, uint64_t now);

/* Completions of async callbacks. */
void rft_persisted(struct rft *r, uint64_t index, uint64_t term);
void rft_snapshot_taken(struct rft *r, uint64_t index, uint64_t term,
    int err);
void rft_snapshot_installed(struct rft *r, uint64_t index, uint64_t term,
    int err);

/* Membership changes, one server at a time (§4.1, §4.2.1).  Leader only;
 * -EBUSY while a configuration change or the leader's first entry is
 * uncommitted or a transfer runs; -EEXIST/-ENOENT/-EINVAL on the conf. */
int rft_add_nonvoter(struct rft *r, uint64_t id, const char *name,
    const char *addr, uint64_t cookie);
int rft_add_voter(struct rft *r, uint64_t id, const char *name,
    const char *addr, uint64_t cookie);	/* add, or promote a nonvoter */
int rft_remove_server(struct rft *r, uint64_t id, uint64_t cookie);
/* Leadership transfer (§3.10); target 0 picks the most caught-up voter. */
int rft_transfer(struct rft *r, uint64_t target);

/* Accessors. */
enum rft_role rft_role(const struct rft *r);
uint64_t rft_id(const struct rft *r);
uint64_t rft_term(const struct rft *r);
uint64_t rft_vote(const struct rft *r);
uint64_t rft_leader(const struct rft *r);	/* 0 when unknown */
const struct rft_server *rft_leader_server(const struct rft *r);
uint64_t rft_commit_index(const struct rft *r);
uint64_t rft_applied_index(const struct rft *r);
uint64_t rft_persisted_index(const struct rft *r);
uint64_t rft_first_index(const struct rft *r);
uint64_t rft_last_index(const struct rft *r);
uint64_t rft_last_term(const struct rft *r);
uint64_t rft_snapshot_index(const struct rft *r);
uint64_t rft_snapshot_term(const struct rft *r);
const struct rft_conf *rft_conf(const struct rft *r);
/* Log index of the latest configuration (0: none yet). */
uint64_t rft_conf_index(const struct rft *r);
/* Entry at index if held in memory, else NULL.  Its data is NULL (with
 * len > 0) once released (see rft_cbs.fetch). */
const struct rft_entry *rft_entry_at(const struct rft *r, uint64_t index);
/* The peer's replication progress (leader only): false if unknown. */
bool rft_peer_progress(const struct rft *r, uint64_t id, uint64_t *match,
    uint64_t *last_contact_ms);
uint64_t rft_last_contact(const struct rft *r);	/* ms; leader: now */

/* Configuration helpers. */
const struct rft_server *rft_conf_find(const struct rft_conf *c,
    uint64_t id);
bool rft_conf_is_voter(const struct rft_conf *c, uint64_t id);
unsigned rft_conf_voters(const struct rft_conf *c);
int rft_conf_add(struct rft_conf *c, uint64_t id, uint8_t role,
    const char *name, const char *addr);
/* Encoding as a RAFT_CONF message (raft_wire.c). */
struct buf;
void rft_conf_encode(struct buf *out, const struct rft_conf *c);
int rft_conf_decode(const void *p, size_t len, struct rft_conf *c);

#endif
