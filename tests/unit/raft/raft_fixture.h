/*
 * A deterministic in-memory cluster for the Raft core (after
 * canonical/raft's fixture): simulated clock, network and disks.
 *
 * Everything is driven by fx_step(), which runs the single earliest event
 * (a message delivery, a disk write completing, a node's tick); ties are
 * broken by a sequence number, so one seed always gives one history.
 * Messages travel encoded with raft_wire.c.  Faults: per-message loss,
 * duplication and random delay (hence reordering), partitions, crashes
 * (writes not yet reported durable may be lost: a random prefix of a
 * node's pending writes survives) and restarts from what was durable.
 *
 * A checker runs over every history and records the first violation of
 * election safety, log matching, leader completeness, state machine
 * safety, and linearizable reads (ReadIndex and lease).
 */
#ifndef MUSTER_TEST_RAFT_FIXTURE_H
#define MUSTER_TEST_RAFT_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "workers/store/raft.h"

#define FX_MAX 7

struct fx_ent {
	uint64_t index, term;
	uint8_t type;
	uint32_t len;
	uint8_t *data;
};

struct fx_snapfile {
	uint64_t index, term;
	struct rft_conf conf;
	uint8_t *data;
	size_t len;
};

struct fx_io;
struct fx;

struct fx_node {
	struct fx *fx;
	uint64_t id;
	bool up;
	struct rft *r;
	/* Durable: survives crashes. */
	uint64_t term, vote;
	struct fx_ent *log;
	size_t nlog, caplog;
	struct fx_snapfile snaps[2];
	unsigned nsnaps;
	/* Volatile. */
	struct fx_io *io_head, *io_tail;
	uint64_t next_tick;
	uint64_t fsm_index, fsm_hash;
	uint8_t *rx;
	size_t rxlen, rxcap;
	/* Counters for targeted tests. */
	unsigned persist_calls, persisted_entries, snaps_taken, snaps_installed;
	unsigned chunks_received, abandoned, reads_done, reads_failed;
	unsigned max_inflight_seen;
	uint64_t last_read_index;
};

struct fx_faults {
	unsigned loss_pm;	/* per-mille of messages dropped */
	unsigned dup_pm;	/* per-mille duplicated */
	unsigned delay_min, delay_max;	/* ms */
	unsigned disk_min, disk_max;	/* ms for a write to complete */
};

struct fx_msg;

struct fx {
	unsigned n;
	struct fx_node nodes[FX_MAX];
	uint64_t now;
	uint64_t seed, rng;
	uint64_t evseq;
	struct rft_config cfg;	/* template; id and seed set per node */
	struct fx_faults faults;
	bool cut[FX_MAX + 1][FX_MAX + 1];	/* cut[from][to] */
	unsigned tick_ms;
	size_t pad;		/* snapshot payload padding */
	/* Network: a binary heap ordered by (at, seq). */
	struct fx_msg **heap;
	size_t nheap, capheap;
	uint64_t sent, delivered, dropped;
	/* Checker. */
	char failure[512];
	uint64_t *leader_of_term;
	size_t nterms;
	struct fx_rec {
		uint64_t term, hash, fsm;
		uint8_t type;
		bool set;
	} *rec;
	size_t nrec;
	uint64_t max_applied;
	uint64_t acked_max;	/* highest index acknowledged to a client */
	uint64_t ncookie;
	struct fx_pending {
		uint64_t cookie, index, hash;
		bool acked;
	} *props;
	size_t nprops, capprops;
	struct fx_read {
		uint64_t cookie, need;
	} *reads;
	size_t nreads, capreads;
	unsigned long steps;
	/* Optional: return true to drop a message at send time. */
	bool (*drop)(struct fx *f, const struct rft_msg *m, void *arg);
	void *drop_arg;
};

void fx_init(struct fx *f, unsigned n, uint64_t seed);
/* Like fx_init but only the first `voters` servers are in the
 * bootstrap configuration; the others start empty (to be added). */
void fx_init_partial(struct fx *f, unsigned n, unsigned voters,
    uint64_t seed);
/* Same, with tune(f) called on the defaults before any node starts. */
void fx_init_with(struct fx *f, unsigned n, unsigned voters, uint64_t seed,
    void (*tune)(struct fx *f));
void fx_free(struct fx *f);
uint64_t fx_rand(struct fx *f);

/* Run the earliest event; false when nothing is scheduled. */
bool fx_step(struct fx *f);
/* Run events until time t (inclusive). */
void fx_run_until(struct fx *f, uint64_t t);
void fx_run_for(struct fx *f, uint64_t ms);
/* Run until pred holds or time runs out; returns pred's last value. */
bool fx_run_until_pred(struct fx *f, uint64_t max_ms,
    bool (*pred)(struct fx *f, void *arg), void *arg);

/* The unique leader among up nodes with the highest term, or 0. */
uint64_t fx_leader(struct fx *f);
uint64_t fx_wait_leader(struct fx *f, uint64_t max_ms);
struct fx_node *fx_node(struct fx *f, uint64_t id);

/* Client operations through node id; cookie tracked by the checker. */
int fx_propose(struct fx *f, uint64_t id, const char *data);
int fx_read(struct fx *f, uint64_t id);
/* Lease check: if id holds a lease now, its state must be up to date. */
bool fx_lease_read(struct fx *f, uint64_t id);

void fx_crash(struct fx *f, uint64_t id);
void fx_restart(struct fx *f, uint64_t id);
void fx_isolate(struct fx *f, uint64_t id);
void fx_cut(struct fx *f, uint64_t a, uint64_t b);	/* both ways */
void fx_heal(struct fx *f);

/* Full checks (log matching across nodes); sets failure. */
void fx_check(struct fx *f);
/* Wait until every up node applied the same, latest commit. */
bool fx_converged(struct fx *f, uint64_t max_ms);
bool fx_failed(const struct fx *f);

#endif
