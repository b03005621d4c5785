/*
 * rft_hint_leader_gone (raft_hint.h) in the simulated cluster: a crashed
 * leader's followers, told its connection closed, elect a successor
 * before a heartbeat timeout could have passed, yet never while the old
 * leader may still answer reads from its lease; a wrong hint disturbs
 * nobody.
 */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "tests/unit/raft/raft_fixture.h"
#include "workers/store/raft_hint.h"

#define ASSERT_OK(f) ck_assert_msg(!fx_failed(f), "%s", (f)->failure)

static struct fx F;

static void
teardown(void)
{
	fx_free(&F);
}

static struct rft *
R(uint64_t id)
{
	return fx_node(&F, id)->r;
}

static uint64_t
settled_leader(uint64_t seed)
{
	fx_init(&F, 3, seed);
	uint64_t l = fx_wait_leader(&F, 3000);
	ck_assert_msg(l != 0, "no leader");
	ck_assert_int_eq(fx_propose(&F, l, "x"), 0);
	ck_assert(fx_converged(&F, 2000));
	fx_run_for(&F, 37);
	ASSERT_OK(&F);
	return l;
}

static void
hint_followers(uint64_t l)
{
	for (uint64_t i = 1; i <= 3; i++)
		if (i != l)
			rft_hint_leader_gone(R(i), l, F.now);
}

/* A new leader that has committed in its term, or 0. */
static uint64_t
working_leader(uint64_t not)
{
	uint64_t o = fx_leader(&F);
	return o && o != not && rft_commit_index(R(o)) >= rft_last_index(R(o))
	    ? o : 0;
}

static bool
campaigning(void)
{
	for (uint64_t i = 1; i <= 3; i++)
		if (fx_node(&F, i)->up && rft_role(R(i)) == RFT_CANDIDATE)
			return true;
	return false;
}

/* Without the hint nobody campaigns before heartbeat_timeout after the
 * last heartbeat, sent at most heartbeat_interval before the crash.  The
 * close is seen after the messages in flight land, as over TCP. */
START_TEST(crash_replaced_before_heartbeat_timeout)
{
	for (uint64_t seed = 1; seed <= 20; seed++) {
		uint64_t l = settled_leader(seed);
		uint64_t t0 = F.now, first = 0;
		fx_crash(&F, l);
		fx_run_for(&F, F.faults.delay_max);
		hint_followers(l);
		while (!working_leader(l) && F.now < t0 + 1000) {
			fx_step(&F);
			if (!first && campaigning())
				first = F.now;
		}
		ASSERT_OK(&F);
		ck_assert_msg(working_leader(l), "seed %" PRIu64 ": none",
		    seed);
		ck_assert_msg(first - t0 < F.cfg.heartbeat_timeout_ms -
		    F.cfg.heartbeat_interval_ms, "seed %" PRIu64 ": campaign "
		    "after %" PRIu64 " ms", seed, first - t0);
		fx_free(&F);
		memset(&F, 0, sizeof(F));
	}
}
END_TEST

/* The leader is alive but cut off and both followers were told its
 * connection closed: its lease reads must still never overlap a new
 * leader (the checker also verifies every read it served). */
START_TEST(hint_respects_the_lease)
{
	for (uint64_t seed = 1; seed <= 20; seed++) {
		uint64_t l = settled_leader(seed);
		uint64_t t0 = F.now;
		fx_isolate(&F, l);
		hint_followers(l);
		uint64_t expired = 0;
		while (F.now < t0 + 500) {
			fx_step(&F);
			bool lease = fx_lease_read(&F, l);
			if (!expired && !lease)
				expired = F.now;
			if (working_leader(l) || fx_leader(&F) != l)
				ck_assert_msg(expired, "seed %" PRIu64 ": new "
				    "leader during the lease", seed);
			ASSERT_OK(&F);
		}
		ck_assert(working_leader(l));
		fx_free(&F);
		memset(&F, 0, sizeof(F));
	}
}
END_TEST

/* A close the leader survived, seen by one follower: the other still
 * hears the leader, so the pre-vote fails and the term stays. */
START_TEST(wrong_hint_is_harmless)
{
	uint64_t l = settled_leader(7);
	uint64_t a = l == 1 ? 2 : 1, term = rft_term(R(l));
	for (int i = 0; i < 10; i++) {
		rft_hint_leader_gone(R(a), l, F.now);
		fx_run_for(&F, 150);
		ASSERT_OK(&F);
	}
	ck_assert_uint_eq(fx_leader(&F), l);
	ck_assert_uint_eq(rft_term(R(l)), term);
	ck_assert_uint_eq(rft_term(R(a)), term);
	/* Not the leader, or not following anyone: nothing to do. */
	uint64_t b = 6 - l - a;
	rft_hint_leader_gone(R(a), b, F.now);
	rft_hint_leader_gone(R(l), a, F.now);
	fx_run_for(&F, 300);
	ck_assert_uint_eq(fx_leader(&F), l);
	ck_assert_uint_eq(rft_term(R(l)), term);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("raft-hint");
	TCase *t = tcase_create("hint");
	tcase_set_timeout(t, 60);
	tcase_add_checked_fixture(t, NULL, teardown);
	tcase_add_test(t, crash_replaced_before_heartbeat_timeout);
	tcase_add_test(t, hint_respects_the_lease);
	tcase_add_test(t, wrong_hint_is_harmless);
	suite_add_tcase(s, t);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf ? 1 : 0;
}
