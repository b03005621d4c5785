/*
 * The Raft core in a simulated cluster (raft_fixture.h): one test per
 * behaviour the dissertation's figures describe, then many seeded random
 * histories with faults, each checked for election safety, log matching,
 * leader completeness, state machine safety, linearizable reads, no lost
 * acknowledged write, and liveness once the faults heal.
 *
 *   MUSTER_RAFT_SEEDS=N   random histories per cluster size (default 300)
 *   MUSTER_RAFT_SEED=S MUSTER_RAFT_SIZE=K   replay one history
 */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/raft/raft_fixture.h"
#include "lib/util.h"

#define ASSERT_OK(f) ck_assert_msg(!fx_failed(f), "%s", (f)->failure)

static struct fx F;

static void
teardown(void)
{
	fx_free(&F);
}

#define CONVERGED(ms)                                                  \
	ck_assert_msg(fx_converged(&F, ms), "no convergence: %s",      \
	    F.failure)

static uint64_t
leader_ok(struct fx *f)
{
	uint64_t l = fx_wait_leader(f, 3000);
	ASSERT_OK(f);
	ck_assert_msg(l != 0, "no leader");
	return l;
}

static bool
leader_is_not(struct fx *f, void *arg)
{
	uint64_t l = fx_leader(f), no = *(uint64_t *)arg;
	return l && l != no && rft_commit_index(fx_node(f, l)->r) >=
	    rft_last_index(fx_node(f, l)->r);
}

/* Wait for a working leader other than `no`. */
static uint64_t
new_leader(struct fx *f, uint64_t no)
{
	ck_assert(fx_run_until_pred(f, 3000, leader_is_not, &no));
	ASSERT_OK(f);
	return fx_leader(f);
}

static struct rft *
R(uint64_t id)
{
	return fx_node(&F, id)->r;
}

static void
propose_n(uint64_t l, unsigned n)
{
	char buf[32];
	for (unsigned i = 0; i < n; i++) {
		snprintf(buf, sizeof(buf), "v%u-%" PRIu64, i, F.now);
		ck_assert_int_eq(fx_propose(&F, l, buf), 0);
	}
}

START_TEST(elect_and_replicate)
{
	fx_init(&F, 3, 1);
	uint64_t l = leader_ok(&F);
	propose_n(l, 20);
	CONVERGED(3000);
	ASSERT_OK(&F);
	for (uint64_t i = 1; i <= 3; i++)
		ck_assert_uint_eq(rft_applied_index(R(i)),
		    rft_commit_index(R(l)));
	/* A non-leader refuses and names the leader. */
	uint64_t other = l == 1 ? 2 : 1;
	ck_assert_int_eq(rft_propose(R(other), "x", 1, 0, NULL),
	    -RFT_ENOTLEADER);
	ck_assert_uint_eq(rft_leader(R(other)), l);
}
END_TEST

/* Figure 3.7 (paper Figure 8), §3.6.2: a leader may not commit an entry
 * of an earlier term by counting replicas; only its own term's entries
 * commit that way. */
struct fig8 {
	uint64_t from_index;	/* drop AppendEntries reaching this index */
};

static bool
drop_from(struct fx *f, const struct rft_msg *m, void *arg)
{
	struct fig8 *a = arg;
	return m->type == RFT_APPEND && m->append.n &&
	    m->append.prev_index + m->append.n >= a->from_index;
}

static bool
leader_in(struct fx *f, void *arg)
{
	const bool *set = arg;
	for (unsigned i = 1; i <= f->n; i++)
		if (set[i] && fx_node(f, i)->up &&
		    rft_role(fx_node(f, i)->r) == RFT_LEADER)
			return true;
	return false;
}

static uint64_t
leader_of(struct fx *f, const bool *set)
{
	for (unsigned i = 1; i <= f->n; i++)
		if (set[i] && fx_node(f, i)->up &&
		    rft_role(fx_node(f, i)->r) == RFT_LEADER)
			return i;
	return 0;
}

static void
one_entry_per_append(struct fx *f)
{
	f->cfg.max_append_entries = 1;
}

START_TEST(figure8_commit_rule)
{
	fx_init_with(&F, 5, 5, 8, one_entry_per_append);
	uint64_t s1 = leader_ok(&F);
	CONVERGED(2000);
	uint64_t o[4], k = 0;
	for (uint64_t i = 1; i <= 5; i++)
		if (i != s1)
			o[k++] = i;
	uint64_t s2 = o[0], s3 = o[1], s4 = o[2], s5 = o[3];
	/* (a) s1 replicates x only to s2. */
	fx_heal(&F);
	for (uint64_t i = 1; i <= 5; i++)
		if (i != s1 && i != s2) {
			fx_cut(&F, s1, i);
			fx_cut(&F, s2, i);
		}
	ck_assert_int_eq(fx_propose(&F, s1, "x-old-term"), 0);
	uint64_t x = rft_last_index(R(s1));
	fx_run_for(&F, 40);
	ck_assert_ptr_nonnull(rft_entry_at(R(s2), x));
	uint64_t xterm = rft_entry_at(R(s2), x)->term;
	ck_assert_uint_lt(rft_commit_index(R(s1)), x);
	/* (b) s1 crashes; s3, s4, s5 elect a leader whose no-op takes
	 * index x in a newer term; it crashes before replicating it. */
	fx_crash(&F, s1);
	fx_isolate(&F, s2);
	bool set[FX_MAX + 1] = { false };
	set[s3] = set[s4] = set[s5] = true;
	ck_assert(fx_run_until_pred(&F, 3000, leader_in, set));
	uint64_t l5 = leader_of(&F, set);
	fx_isolate(&F, l5);
	ck_assert_ptr_nonnull(rft_entry_at(R(l5), x));
	ck_assert_uint_gt(rft_entry_at(R(l5), x)->term, xterm);
	fx_crash(&F, l5);
	fx_run_for(&F, 50);	/* what it sent before dying is dropped */
	/* (c) s1 restarts and leads again; x reaches a majority but the
	 * entries after it (this term's) are dropped: x must stay
	 * uncommitted. */
	fx_heal(&F);
	fx_restart(&F, s1);
	struct fig8 a = { x + 1 };
	F.drop = drop_from;
	F.drop_arg = &a;
	memset(set, 0, sizeof(set));
	set[s1] = set[s2] = true;
	ck_assert(fx_run_until_pred(&F, 3000, leader_in, set));
	uint64_t lc = leader_of(&F, set);
	fx_run_for(&F, 300);
	ASSERT_OK(&F);
	unsigned holders = 0;
	for (uint64_t i = 1; i <= 5; i++) {
		struct fx_node *n = fx_node(&F, i);
		const struct rft_entry *e = n->up ? rft_entry_at(n->r, x) : NULL;
		holders += e && e->term == xterm;
	}
	ck_assert_uint_ge(holders, 3);		/* on a majority ... */
	ck_assert_uint_lt(rft_commit_index(R(lc)), x);	/* ... not committed */
	/* (d/e) whatever happens next, everyone agrees (the checker fails
	 * the test if x was applied and then replaced). */
	F.drop = NULL;
	fx_restart(&F, l5);
	CONVERGED(5000);
	ASSERT_OK(&F);
	(void)s4;
}
END_TEST

/* §3.6 / Figure 3.1: a leader cut off from the majority cannot commit;
 * once back it learns the newer term and its entry is replaced. */
START_TEST(stale_leader_cannot_commit)
{
	fx_init(&F, 5, 3);
	uint64_t l = leader_ok(&F);
	propose_n(l, 5);
	CONVERGED(2000);
	uint64_t before = rft_commit_index(R(l));
	fx_isolate(&F, l);
	ck_assert_int_eq(fx_propose(&F, l, "lost-write"), 0);
	uint64_t idx = rft_last_index(R(l));
	fx_run_for(&F, 1000);
	ck_assert_uint_eq(rft_commit_index(R(l)), before);
	ck_assert_int_ne(rft_role(R(l)), RFT_LEADER);	/* CheckQuorum */
	uint64_t l2 = fx_leader(&F);
	ck_assert(l2 != 0 && l2 != l);
	propose_n(l2, 5);
	fx_heal(&F);
	CONVERGED(3000);
	ASSERT_OK(&F);
	const struct rft_entry *e = rft_entry_at(R(l), idx);
	ck_assert(!e || e->len != strlen("lost-write") ||
	    memcmp(e->data, "lost-write", e->len) != 0);
	ck_assert_uint_ge(fx_node(&F, l)->abandoned, 1);
}
END_TEST

/* §9.6: a partitioned server's pre-votes fail, so its term stays and it
 * does not depose the leader when it returns.  Without pre-vote it
 * does. */
static void
no_prevote(struct fx *f)
{
	f->cfg.pre_vote = false;
}

static void
prevote_case(bool prevote, uint64_t *term_growth, bool *same_leader)
{
	fx_init_with(&F, 3, 3, 4, prevote ? NULL : no_prevote);
	uint64_t l = leader_ok(&F);
	uint64_t t0 = rft_term(R(l));
	uint64_t f = l == 1 ? 2 : 1;
	fx_isolate(&F, f);
	fx_run_for(&F, 2000);
	*term_growth = rft_term(R(f)) - t0;
	fx_heal(&F);
	fx_run_for(&F, 1000);
	ASSERT_OK(&F);
	*same_leader = fx_leader(&F) == l && rft_term(R(l)) == t0;
	fx_free(&F);
}

START_TEST(prevote_prevents_disruption)
{
	uint64_t growth;
	bool same;
	prevote_case(true, &growth, &same);
	ck_assert_uint_eq(growth, 0);
	ck_assert(same);
	prevote_case(false, &growth, &same);
	ck_assert_uint_gt(growth, 5);
	ck_assert(!same);
	memset(&F, 0, sizeof(F));
}
END_TEST

/* §5.3: a follower whose next entries were compacted away receives the
 * snapshot in chunks while the leader keeps taking writes, then catches
 * up from the log. */
START_TEST(snapshot_install_mid_replication)
{
	fx_init(&F, 3, 5);
	uint64_t l = leader_ok(&F);
	uint64_t f = l == 1 ? 2 : 1;
	fx_crash(&F, f);
	for (int i = 0; i < 10; i++) {
		propose_n(l, 20);
		fx_run_for(&F, 20);
	}
	ck_assert_uint_gt(rft_snapshot_index(R(l)), 64);
	ck_assert_uint_gt(rft_first_index(R(l)), 1);
	fx_restart(&F, f);
	F.faults.loss_pm = 100;	/* lose some chunks: resume works */
	for (int i = 0; i < 10; i++) {
		propose_n(l, 5);
		fx_run_for(&F, 15);
	}
	F.faults.loss_pm = 0;
	CONVERGED(5000);
	ASSERT_OK(&F);
	ck_assert_uint_ge(fx_node(&F, f)->snaps_installed, 1);
	ck_assert_uint_ge(fx_node(&F, f)->chunks_received, 3);
}
END_TEST

static bool
caught_up(struct fx *f, void *arg)
{
	uint64_t id = *(uint64_t *)arg, l = fx_leader(f);
	return l && fx_node(f, id)->fsm_index >= rft_commit_index(
	    fx_node(f, l)->r);
}

/* §4.1-4.2: add a nonvoter, promote it, lose a voter meanwhile, remove
 * it; then remove the leader itself, which steps down (§4.2.2). */
START_TEST(membership_with_failure)
{
	fx_init_partial(&F, 5, 3, 6);
	uint64_t l = leader_ok(&F);
	propose_n(l, 30);
	fx_run_for(&F, 100);
	ck_assert_int_eq(rft_add_nonvoter(R(l), 4, "n4", "127.0.0.1:8304", 0),
	    0);
	ck_assert_int_eq(rft_add_nonvoter(R(l), 5, "n5", "x", 0), -EBUSY);
	uint64_t four = 4;
	ck_assert(fx_run_until_pred(&F, 3000, caught_up, &four));
	ck_assert(!rft_conf_is_voter(rft_conf(R(4)), 4));
	uint64_t victim = l == 1 ? 2 : 1;
	fx_crash(&F, victim);
	ck_assert_int_eq(rft_add_voter(R(l), 4, "n4", "127.0.0.1:8304", 0), 0);
	fx_run_for(&F, 200);
	ck_assert(rft_conf_is_voter(rft_conf(R(l)), 4));
	ck_assert_uint_eq(rft_conf_voters(rft_conf(R(l))), 4);
	propose_n(l, 5);	/* 3 of 4 voters up: still commits */
	fx_run_for(&F, 200);
	ck_assert_uint_eq(rft_commit_index(R(l)), rft_last_index(R(l)));
	ck_assert_int_eq(rft_remove_server(R(l), victim, 0), 0);
	fx_run_for(&F, 200);
	ck_assert_uint_eq(rft_conf_voters(rft_conf(R(l))), 3);
	ck_assert_ptr_null(rft_conf_find(rft_conf(R(4)), victim));
	/* The leader removes itself and steps down once committed. */
	ck_assert_int_eq(rft_remove_server(R(l), l, 0), 0);
	fx_run_for(&F, 100);
	ck_assert_int_ne(rft_role(R(l)), RFT_LEADER);
	fx_crash(&F, l);
	uint64_t l2 = leader_ok(&F);
	ck_assert(l2 != l && l2 != victim);
	CONVERGED(3000);
	ASSERT_OK(&F);
	ck_assert_uint_eq(rft_conf_voters(rft_conf(R(l2))), 2);
}
END_TEST

/* §3.10: the leader brings the target up to date and sends TimeoutNow;
 * the target wins at once, well before any election timeout. */
START_TEST(leadership_transfer)
{
	fx_init(&F, 3, 7);
	uint64_t l = leader_ok(&F);
	propose_n(l, 10);
	uint64_t target = l == 3 ? 1 : l + 1;
	uint64_t t0 = F.now;
	ck_assert_int_eq(rft_transfer(R(l), target), 0);
	ck_assert_int_eq(fx_propose(&F, l, "during"), -EBUSY);
	ck_assert(!rft_lease_valid(R(l), F.now));
	uint64_t l2 = new_leader(&F, l);
	ck_assert_uint_eq(l2, target);
	ck_assert_uint_lt(F.now - t0, F.cfg.heartbeat_timeout_ms);
	CONVERGED(2000);
	ASSERT_OK(&F);
}
END_TEST

/* §6.4: ReadIndex confirms leadership with a quorum; a leader cut off
 * cannot answer, the new one answers with every acknowledged write. */
START_TEST(read_index_under_partition)
{
	fx_init(&F, 5, 9);
	uint64_t l = leader_ok(&F);
	propose_n(l, 10);
	CONVERGED(2000);
	ck_assert_int_eq(fx_read(&F, l), 0);
	fx_run_for(&F, 50);
	ck_assert_uint_eq(fx_node(&F, l)->reads_done, 1);
	fx_isolate(&F, l);
	ck_assert_int_eq(fx_read(&F, l), 0);
	fx_run_for(&F, 50);
	ck_assert_uint_eq(fx_node(&F, l)->reads_done, 1);
	uint64_t l2 = new_leader(&F, l);
	propose_n(l2, 3);
	fx_run_for(&F, 50);
	ck_assert_int_eq(fx_read(&F, l2), 0);
	fx_run_for(&F, 50);
	ASSERT_OK(&F);
	ck_assert_uint_eq(fx_node(&F, l2)->reads_done, 1);
	ck_assert_uint_ge(fx_node(&F, l2)->last_read_index, F.acked_max);
	ck_assert_uint_eq(fx_node(&F, l)->reads_done, 1);
	ck_assert_uint_eq(fx_node(&F, l)->reads_failed, 1);	/* stepped down */
}
END_TEST

/* §6.4.1: the lease holds for lease_timeout after the last quorum
 * acknowledgement and no other leader is elected before it ends. */
START_TEST(lease_expiry)
{
	fx_init(&F, 3, 10);
	uint64_t l = leader_ok(&F);
	propose_n(l, 3);
	CONVERGED(2000);
	fx_run_for(&F, 30);
	ck_assert(rft_lease_valid(R(l), F.now));
	uint64_t cut = F.now;
	fx_isolate(&F, l);
	uint64_t expired = 0;
	while (F.now < cut + 500) {
		fx_step(&F);
		if (!expired && !rft_lease_valid(R(l), F.now))
			expired = F.now;
		fx_lease_read(&F, l);
		uint64_t o = fx_leader(&F);
		if (o && o != l)
			ck_assert_msg(expired, "new leader while lease held");
		ASSERT_OK(&F);
	}
	ck_assert(expired > cut);
	ck_assert_uint_le(expired - cut, F.cfg.lease_timeout_ms + 1);
	ck_assert_uint_ne(fx_leader(&F), l);
}
END_TEST

/* §6.4.1 with a partial partition: a follower that lost the leader but
 * still reaches the other follower cannot be elected while the leader's
 * lease, kept alive by that other follower, holds (leader stickiness,
 * §4.2.3); so reads from the lease stay linearizable. */
START_TEST(lease_partial_partition)
{
	fx_init(&F, 3, 13);
	uint64_t l = leader_ok(&F);
	propose_n(l, 3);
	CONVERGED(2000);
	uint64_t a = l == 1 ? 2 : 1, t0 = rft_term(R(l));
	fx_cut(&F, l, a);
	uint64_t end = F.now + 2000;
	unsigned served = 0;
	while (F.now < end) {
		fx_step(&F);
		bool lease = fx_lease_read(&F, l);
		served += lease;
		for (uint64_t i = 1; i <= 3; i++)
			ck_assert_msg(!lease || i == l ||
			    rft_role(R(i)) != RFT_LEADER,
			    "node %" PRIu64 " leads during the lease", i);
		ASSERT_OK(&F);
	}
	ck_assert_uint_gt(served, 100);
	ck_assert_uint_eq(fx_leader(&F), l);
	ck_assert_uint_eq(rft_term(R(l)), t0);
	ck_assert_uint_eq(rft_term(R(a)), t0);	/* pre-votes failed */
}
END_TEST

/* Group commit: proposals made while a write is in progress share the
 * next one (one fsync per batch), and replication pipelines. */
START_TEST(group_commit)
{
	fx_init(&F, 3, 11);
	F.faults.disk_min = F.faults.disk_max = 4;
	uint64_t l = leader_ok(&F);
	fx_run_for(&F, 50);
	unsigned calls = fx_node(&F, l)->persist_calls;
	propose_n(l, 100);
	CONVERGED(2000);
	ASSERT_OK(&F);
	unsigned used = fx_node(&F, l)->persist_calls - calls;
	/* 100 proposals + the final one of fx_converged. */
	ck_assert_uint_le(used, 3);
	ck_assert_uint_ge(fx_node(&F, l)->persisted_entries, 101);
	ck_assert_uint_gt(fx_node(&F, l)->max_inflight_seen, 1);
}
END_TEST

/* Every server restarts from its disk: nothing acknowledged is lost. */
START_TEST(full_restart_recovers)
{
	fx_init(&F, 3, 12);
	uint64_t l = leader_ok(&F);
	for (int i = 0; i < 8; i++) {
		propose_n(l, 20);
		fx_run_for(&F, 30);
	}
	CONVERGED(2000);
	uint64_t acked = F.acked_max;
	for (uint64_t i = 1; i <= 3; i++)
		fx_crash(&F, i);
	for (uint64_t i = 1; i <= 3; i++) {
		fx_restart(&F, i);
		ck_assert_uint_gt(rft_term(R(i)), 0);
		ck_assert_uint_gt(rft_snapshot_index(R(i)), 0);
	}
	CONVERGED(3000);
	ASSERT_OK(&F);
	ck_assert_uint_gt(rft_commit_index(R(fx_leader(&F))), acked);
}
END_TEST

/* ---- seeded random histories ---- */

static uint64_t
pick_up(struct fx *f, bool up)
{
	uint64_t c[FX_MAX];
	unsigned n = 0;
	for (unsigned i = 1; i <= f->n; i++)
		if (fx_node(f, i)->up == up)
			c[n++] = i;
	return n ? c[fx_rand(f) % n] : 0;
}

static void
random_partition(struct fx *f)
{
	fx_heal(f);
	unsigned kind = (unsigned)(fx_rand(f) % 3);
	if (kind == 0) {
		fx_isolate(f, 1 + fx_rand(f) % f->n);
		return;
	}
	if (kind == 1) {	/* one link: the others still see both */
		uint64_t a = 1 + fx_rand(f) % f->n, b = 1 + fx_rand(f) % f->n;
		if (a != b)
			fx_cut(f, a, b);
		return;
	}
	bool side[FX_MAX + 1];
	for (unsigned i = 1; i <= f->n; i++)
		side[i] = fx_rand(f) % 2;
	for (unsigned i = 1; i <= f->n; i++)
		for (unsigned j = i + 1; j <= f->n; j++)
			if (side[i] != side[j])
				fx_cut(f, i, j);
}

/* One membership step through the leader: remove a server, add a
 * missing one back as a nonvoter, or promote a nonvoter (§4.1). */
static void
membership_churn(struct fx *f)
{
	uint64_t l = fx_leader(f);
	if (!l)
		return;
	struct rft *r = fx_node(f, l)->r;
	const struct rft_conf *c = rft_conf(r);
	uint64_t id = 1 + fx_rand(f) % f->n;
	const struct rft_server *s = rft_conf_find(c, id);
	char name[16];
	snprintf(name, sizeof(name), "n%" PRIu64, id);
	if (!s)
		rft_add_nonvoter(r, id, name, "127.0.0.1:0", 0);
	else if (s->role == RFT_NONVOTER)
		rft_add_voter(r, id, name, "127.0.0.1:0", 0);
	else if (rft_conf_voters(c) > 2)
		rft_remove_server(r, id, 0);
}

/* After the faults: bring every server back as a voter. */
static void
restore_membership(struct fx *f)
{
	for (int round = 0; round < 4 * FX_MAX && !fx_failed(f); round++) {
		uint64_t l = fx_wait_leader(f, 3000);
		if (!l)
			return;
		struct rft *r = fx_node(f, l)->r;
		const struct rft_conf *c = rft_conf(r);
		if (rft_conf_voters(c) == f->n)
			return;
		for (uint64_t id = 1; id <= f->n; id++) {
			const struct rft_server *s = rft_conf_find(c, id);
			char name[16];
			snprintf(name, sizeof(name), "n%" PRIu64, id);
			if (!s) {
				rft_add_nonvoter(r, id, name, "127.0.0.1:0", 0);
				break;
			}
			if (s->role == RFT_NONVOTER) {
				rft_add_voter(r, id, name, "127.0.0.1:0", 0);
				break;
			}
		}
		fx_run_for(f, 100);
	}
}

static void
random_action(struct fx *f, unsigned *counter)
{
	unsigned a = (unsigned)(fx_rand(f) % 100);
	char buf[32];
	uint64_t id;
	if (a < 45) {
		id = fx_rand(f) % 4 ? fx_leader(f) : pick_up(f, true);
		unsigned burst = 1 + (unsigned)(fx_rand(f) % 12);
		for (unsigned i = 0; id && i < burst; i++) {
			snprintf(buf, sizeof(buf), "w%u", (*counter)++);
			fx_propose(f, id, buf);
		}
	} else if (a < 55) {
		if ((id = fx_rand(f) % 2 ? fx_leader(f) : pick_up(f, true)))
			fx_read(f, id);
	} else if (a < 63) {
		for (unsigned i = 1; i <= f->n; i++)
			fx_lease_read(f, i);
	} else if (a < 68) {
		fx_crash(f, pick_up(f, true));
	} else if (a < 76) {
		fx_restart(f, pick_up(f, false));
	} else if (a < 81) {
		random_partition(f);
	} else if (a < 88) {
		fx_heal(f);
	} else if (a < 90) {
		if ((id = fx_leader(f)))
			rft_transfer(fx_node(f, id)->r, 0);
	} else if (a < 93) {
		membership_churn(f);
	}
}

static const char *
random_run(unsigned size, uint64_t seed)
{
	static char why[1024];
	struct fx *f = &F;
	fx_init(f, size, seed);
	f->faults.loss_pm = (unsigned)(fx_rand(f) % 150);
	f->faults.dup_pm = (unsigned)(fx_rand(f) % 50);
	f->faults.delay_max = 1 + (unsigned)(fx_rand(f) % 25);
	f->faults.disk_max = 1 + (unsigned)(fx_rand(f) % 10);
	uint64_t end = 1500 + fx_rand(f) % 1500;
	unsigned counter = 0;
	while (f->now < end && !fx_failed(f)) {
		fx_run_for(f, 1 + fx_rand(f) % 8);
		random_action(f, &counter);
		for (unsigned i = 1; i <= size; i++)
			fx_lease_read(f, i);
	}
	/* Heal everything: a leader must emerge and all must converge. */
	fx_heal(f);
	f->faults.loss_pm = f->faults.dup_pm = 0;
	for (unsigned i = 1; i <= size; i++)
		fx_restart(f, i);
	restore_membership(f);
	bool ok = fx_converged(f, 20000);
	if (ok && rft_conf_voters(rft_conf(fx_node(f, fx_leader(f))->r)) !=
	    size)
		ok = false;
	why[0] = 0;
	if (getenv("MUSTER_RAFT_STATS"))
		fprintf(stderr, "seed %" PRIu64 " size %u: %lu steps, "
		    "%zu proposals, applied %" PRIu64 ", acked %" PRIu64
		    ", sent %" PRIu64 " dropped %" PRIu64 ", now %" PRIu64
		    "\n", seed, size, f->steps, f->nprops, f->max_applied,
		    f->acked_max, f->sent, f->dropped, f->now);
	if (fx_failed(f))
		snprintf(why, sizeof(why), "%s", f->failure);
	else if (!ok)
		snprintf(why, sizeof(why), "no convergence after heal "
		    "(leader %" PRIu64 ")", fx_leader(f));
	fx_free(f);
	memset(f, 0, sizeof(*f));
	return why[0] ? why : NULL;
}

static unsigned long
env_num(const char *name, unsigned long dflt)
{
	const char *v = getenv(name);
	return v && *v ? strtoul(v, NULL, 10) : dflt;
}

static void
run_seeds(unsigned size)
{
	unsigned long seeds = env_num("MUSTER_RAFT_SEEDS", 300);
	const char *one = getenv("MUSTER_RAFT_SEED");
	unsigned long first = 1;
	if (one && *one) {
		if (env_num("MUSTER_RAFT_SIZE", size) != size)
			return;
		first = strtoul(one, NULL, 10);
		seeds = 1;
	}
	for (unsigned long s = first; s < first + seeds; s++) {
		const char *why = random_run(size, s);
		if (why)
			ck_abort_msg("seed %lu size %u: %s\nreplay: "
			    "MUSTER_RAFT_SEED=%lu MUSTER_RAFT_SIZE=%u "
			    "build/tests/unit/raft/test_raft_sim",
			    s, size, why, s, size);
	}
}

START_TEST(random_3) { run_seeds(3); }
END_TEST

START_TEST(random_5) { run_seeds(5); }
END_TEST

static Suite *
sim_suite(void)
{
	Suite *s = suite_create("raft-sim");
	TCase *t = tcase_create("figures");
	tcase_add_checked_fixture(t, NULL, teardown);
	tcase_set_timeout(t, 60);
	tcase_add_test(t, elect_and_replicate);
	tcase_add_test(t, figure8_commit_rule);
	tcase_add_test(t, stale_leader_cannot_commit);
	tcase_add_test(t, prevote_prevents_disruption);
	tcase_add_test(t, snapshot_install_mid_replication);
	tcase_add_test(t, membership_with_failure);
	tcase_add_test(t, leadership_transfer);
	tcase_add_test(t, read_index_under_partition);
	tcase_add_test(t, lease_expiry);
	tcase_add_test(t, lease_partial_partition);
	tcase_add_test(t, group_commit);
	tcase_add_test(t, full_restart_recovers);
	suite_add_tcase(s, t);
	TCase *r = tcase_create("random");
	tcase_set_timeout(r, 0);
	tcase_add_test(r, random_3);
	tcase_add_test(r, random_5);
	suite_add_tcase(s, r);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(sim_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
