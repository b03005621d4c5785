/*
 * The SWIM/Lifeguard + serf core in a simulated cluster (sim.c): joins
 * converge, a crashed node is declared failed within the SWIM bound and
 * nobody else is, suspicion is refuted, graceful leaves show as left,
 * user events and queries reach everyone exactly once, partitions heal,
 * encrypted pools rotate keys, and a seeded run replays exactly.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/gossip/gossip_test.h"
#include "tests/unit/gossip/sim.h"
#include "workers/gossip/vivaldi.h"

static void
build(struct sim *sim, int n, uint64_t seed, unsigned loss)
{
	char name[32];
	sim_init(sim, seed);
	sim->loss_permille = loss;
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "node%02d", i);
		sim_add(sim, name, NULL);
	}
	for (int i = 1; i < n; i++) {
		sim_join(sim, i, (i - 1) / 2);	/* a tree of seeds */
		sim_run(sim, 50);
	}
}

static bool
converged_alive(struct sim *sim, void *arg)
{
	return sim_converged(sim, GOSSIP_MEMBER_FAILED);
}

/* 16 nodes joining through different seeds, 5% datagram loss: everyone
 * sees everyone alive, and every join reported success. */
START_TEST(sim_converges)
{
	struct sim sim;
	build(&sim, 16, 42, 50);
	ck_assert(sim_run_until(&sim, 20000, converged_alive, NULL));
	for (int i = 1; i < sim.n; i++)
		ck_assert_uint_eq(sim.nodes[i].joined, 1);
	/* acks carried coordinates: after a minute of probes every node
	 * estimates its RTT to the others near the simulated 2-10 ms */
	sim_run(&sim, 60000);
	struct gossip_coord c3, c9;
	ck_assert_int_eq(gossip_serf_coordinate(sim.nodes[3].s, NULL, &c3), 0);
	ck_assert_int_eq(gossip_serf_coordinate(sim.nodes[9].s, NULL, &c9), 0);
	double rtt = gossip_coord_distance(&c3, &c9);
	ck_assert_msg(rtt > 0.001 && rtt < 0.015, "rtt %f", rtt);
	ck_assert(c3.error < 1.5);
	ck_assert_int_eq(gossip_serf_coordinate(sim.nodes[3].s, "node09", &c9),
	    0);
	/* tags from Meta are visible */
	struct gossip_member *ms;
	size_t n = gossip_serf_members(sim.nodes[3].s, &ms);
	ck_assert_uint_eq(n, 16);
	for (size_t i = 0; i < n; i++) {
		ck_assert_str_eq(gossip_member_tag(&ms[i], "dc"), "dc1");
		ck_assert_uint_eq(ms[i].dcur, 5);
		gossip_member_free(&ms[i]);
	}
	free(ms);
	sim_free(&sim);
}
END_TEST

struct dead_arg {
	const char *name;
};

static bool
all_see_failed(struct sim *sim, void *arg)
{
	const char *victim = arg;
	for (int i = 0; i < sim->n; i++)
		if (sim->nodes[i].up &&
		    sim_status(sim, i, victim) != GOSSIP_MEMBER_FAILED)
			return false;
	return true;
}

/*
 * Crash one of 12 nodes.  Bound (LAN defaults): it is probed within about
 * one interval (every node probes one member per second), declared
 * suspect by ~1 s later, and the Lifeguard timer runs from max = 6 * 4 s
 * * log10(12) down to min with confirmations: at most ~1 + 1 + 24 s.
 * Nobody else is ever suspected dead.
 */
START_TEST(sim_detects_failure)
{
	struct sim sim;
	build(&sim, 12, 7, 20);
	ck_assert(sim_run_until(&sim, 20000, converged_alive, NULL));
	uint64_t t0 = sim.now;
	sim_kill(&sim, 5);
	ck_assert(sim_run_until(&sim, 30000, all_see_failed, "node05"));
	uint64_t took = sim.now - t0;
	ck_assert_uint_le(took, 27000);
	/* typical case: confirmations shrink the timeout well below max */
	ck_assert_uint_le(sim_first(&sim, -1, GOSSIP_EV_MEMBER_FAILED,
	    "node05") - t0, 15000);
	ck_assert_uint_eq(sim_count(&sim, -1, GOSSIP_EV_MEMBER_FAILED, NULL),
	    11);
	sim_run(&sim, 10000);
	for (int i = 0; i < sim.n; i++)
		if (i != 5)
			ck_assert_uint_eq(sim_count(&sim, -1,
			    GOSSIP_EV_MEMBER_FAILED, sim.nodes[i].name), 0);
	sim_free(&sim);
}
END_TEST

/* A node cut off for 2 s is suspected but refutes with a higher
 * incarnation once it hears about it; it is never declared failed. */
START_TEST(sim_refutes)
{
	struct sim sim;
	build(&sim, 8, 99, 0);
	ck_assert(sim_run_until(&sim, 20000, converged_alive, NULL));
	uint32_t inc0 = sim_incarnation(&sim, 0, "node03");
	sim.nodes[3].group = 1;
	sim_run(&sim, 2500);
	sim.nodes[3].group = 0;
	sim_run(&sim, 15000);
	ck_assert(sim_converged(&sim, GOSSIP_MEMBER_FAILED));
	ck_assert_uint_gt(sim_incarnation(&sim, 0, "node03"), inc0);
	ck_assert_uint_eq(sim_count(&sim, -1, GOSSIP_EV_MEMBER_FAILED,
	    "node03"), 0);
	const struct gossip_ml_stats *st = gossip_ml_stats(
	    gossip_serf_ml(sim.nodes[3].s));
	ck_assert_uint_gt(st->refutes, 0);
	/* the suspicions were real: someone suspected it */
	uint64_t suspects = 0;
	for (int i = 0; i < sim.n; i++)
		suspects += gossip_ml_stats(gossip_serf_ml(sim.nodes[i].s))
		    ->suspects;
	ck_assert_uint_gt(suspects, 0);
	sim_free(&sim);
}
END_TEST

static bool
all_see_left(struct sim *sim, void *arg)
{
	const char *who = arg;
	for (int i = 0; i < sim->n; i++)
		if (sim->nodes[i].up && !sim->nodes[i].left &&
		    sim_status(sim, i, who) != GOSSIP_MEMBER_LEFT)
			return false;
	return true;
}

/* A graceful leave shows as left (not failed) everywhere, after which
 * the node may stop. */
START_TEST(sim_leave_propagates)
{
	struct sim sim;
	build(&sim, 10, 5, 20);
	ck_assert(sim_run_until(&sim, 20000, converged_alive, NULL));
	ck_assert_int_eq(gossip_serf_leave(sim.nodes[4].s, sim.now), 0);
	ck_assert_int_eq(gossip_serf_leave(sim.nodes[4].s, sim.now), -EALREADY);
	uint64_t t0 = sim.now;
	ck_assert(sim_run_until(&sim, 10000, all_see_left, "node04"));
	ck_assert_uint_le(sim.now - t0, 5000);
	sim_run(&sim, 5000);
	ck_assert(sim.nodes[4].left);
	sim_kill(&sim, 4);
	sim_run(&sim, 20000);
	ck_assert_uint_eq(sim_count(&sim, -1, GOSSIP_EV_MEMBER_FAILED,
	    "node04"), 0);
	/* the nine others, and node04 about itself */
	ck_assert_uint_eq(sim_count(&sim, -1, GOSSIP_EV_MEMBER_LEAVE,
	    "node04"), 10);
	ck_assert_uint_eq(sim_count(&sim, 4, GOSSIP_EV_MEMBER_LEAVE,
	    "node04"), 1);
	sim_free(&sim);
}
END_TEST

static bool
all_got_event(struct sim *sim, void *arg)
{
	for (int i = 0; i < sim->n; i++)
		if (sim_count(sim, i, GOSSIP_EV_USER, arg) == 0)
			return false;
	return true;
}

/* A user event reaches all 20 nodes exactly once despite 10% loss,
 * re-gossip from every node and replays in push/pull. */
START_TEST(sim_user_event)
{
	struct sim sim;
	const char *why;
	build(&sim, 20, 11, 100);
	ck_assert(sim_run_until(&sim, 30000, converged_alive, NULL));
	ck_assert_int_eq(gossip_serf_user_event(sim.nodes[7].s, sim.now,
	    "deploy", (const uint8_t *)"v1.2.3", 6, false, &why), 0);
	/* gossip reaches nearly everyone at once; a node every gossip
	 * missed (a fraction of a percent) gets it from the event buffer
	 * in the next push/pull (30 s) */
	sim_run(&sim, 5000);
	size_t got = 0;
	for (int i = 0; i < sim.n; i++)
		got += sim_count(&sim, i, GOSSIP_EV_USER, "deploy");
	ck_assert_uint_ge(got, 18);
	ck_assert(sim_run_until(&sim, 40000, all_got_event, "deploy"));
	sim_run(&sim, 10000);
	for (int i = 0; i < sim.n; i++)
		ck_assert_uint_eq(sim_count(&sim, i, GOSSIP_EV_USER, "deploy"),
		    1);
	/* over-size events are refused with serf's reason */
	static uint8_t big[600];
	ck_assert_int_eq(gossip_serf_user_event(sim.nodes[0].s, sim.now, "x",
	    big, sizeof(big), false, &why), -E2BIG);
	ck_assert(strstr(why, "exceeds") != NULL);
	sim_free(&sim);
}
END_TEST

/* A query with acks: every node acks and answers once; a node filter
 * limits it to the named nodes. */
START_TEST(sim_query)
{
	struct sim sim;
	const char *why;
	build(&sim, 8, 3, 0);
	ck_assert(sim_run_until(&sim, 20000, converged_alive, NULL));
	struct gossip_query_params p = { .request_ack = true };
	int64_t h = gossip_serf_query(sim.nodes[2].s, sim.now, "whoami",
	    (const uint8_t *)"hello", 5, &p, &why);
	ck_assert_int_gt(h, 0);
	sim_run(&sim, 5000);
	ck_assert_uint_eq(sim_count(&sim, 2, GOSSIP_EV_QUERY_ACK, NULL), 8);
	ck_assert_uint_eq(sim_count(&sim, 2, GOSSIP_EV_QUERY_RESPONSE, NULL),
	    8);
	ck_assert_uint_eq(sim_count(&sim, 2, GOSSIP_EV_QUERY_DONE, NULL), 1);
	ck_assert_uint_eq(sim_count(&sim, -1, GOSSIP_EV_QUERY, "whoami"), 8);
	/* filtered to two nodes, relayed through two others */
	static const char *const only[] = { "node01", "node06" };
	struct gossip_query_params f = { .filter_nodes = only,
		.nfilter_nodes = 2, .request_ack = true, .relay_factor = 2 };
	ck_assert_int_gt(gossip_serf_query(sim.nodes[0].s, sim.now, "picky",
	    NULL, 0, &f, &why), 0);
	sim_run(&sim, 5000);
	ck_assert_uint_eq(sim_count(&sim, -1, GOSSIP_EV_QUERY, "picky"), 2);
	ck_assert_uint_eq(sim_count(&sim, 0, GOSSIP_EV_QUERY_RESPONSE, NULL),
	    2);
	sim_free(&sim);
}
END_TEST

static bool
halves_apart(struct sim *sim, void *arg)
{
	for (int i = 0; i < sim->n; i++)
		for (int j = 0; j < sim->n; j++)
			if (sim->nodes[i].group != sim->nodes[j].group &&
			    sim_status(sim, i, sim->nodes[j].name) !=
			    GOSSIP_MEMBER_FAILED)
				return false;
	return true;
}

/* Split 10 nodes 5/5: each half declares the other failed; after the
 * partition heals, serf's reconnect (and push/pull) merges them again. */
START_TEST(sim_partition_heals)
{
	struct sim sim;
	build(&sim, 10, 1234, 10);
	ck_assert(sim_run_until(&sim, 20000, converged_alive, NULL));
	for (int i = 5; i < 10; i++)
		sim.nodes[i].group = 1;
	ck_assert(sim_run_until(&sim, 60000, halves_apart, NULL));
	for (int i = 0; i < 10; i++)
		sim.nodes[i].group = 0;
	ck_assert(sim_run_until(&sim, 300000, converged_alive, NULL));
	sim_free(&sim);
}
END_TEST

/* Same seed, same events at the same times. */
START_TEST(sim_deterministic)
{
	struct sim a, b;
	build(&a, 8, 77, 30);
	build(&b, 8, 77, 30);
	sim_kill(&a, 2);
	sim_kill(&b, 2);
	sim_run(&a, 40000);
	sim_run(&b, 40000);
	ck_assert_uint_eq(a.nlog, b.nlog);
	ck_assert_uint_gt(a.nlog, 50);
	for (size_t i = 0; i < a.nlog; i++) {
		ck_assert_uint_eq(a.log[i].t, b.log[i].t);
		ck_assert_uint_eq(a.log[i].type, b.log[i].type);
		ck_assert_str_eq(a.log[i].subject, b.log[i].subject);
	}
	ck_assert_uint_eq(a.delivered, b.delivered);
	sim_free(&a);
	sim_free(&b);
}
END_TEST

/* Garbage datagrams are counted and dropped; the pool keeps working. */
START_TEST(sim_garbage)
{
	struct sim sim;
	uint8_t junk[300];
	uint64_t r = 5;
	build(&sim, 4, 8, 0);
	ck_assert(sim_run_until(&sim, 20000, converged_alive, NULL));
	for (int k = 0; k < 2000; k++) {
		size_t len = 1 + r % sizeof(junk);
		for (size_t i = 0; i < len; i++) {
			r = r * 6364136223846793005ull + 1442695040888963407ull;
			junk[i] = (uint8_t)(r >> 56);
		}
		junk[0] %= 14;	/* mostly valid type bytes */
		sim_inject(&sim, k % 4, junk, len);
		if (k % 100 == 0)
			sim_run(&sim, 10);
	}
	sim_run(&sim, 5000);
	ck_assert(sim_converged(&sim, GOSSIP_MEMBER_FAILED));
	uint64_t bad = 0;
	for (int i = 0; i < 4; i++)
		bad += gossip_ml_stats(gossip_serf_ml(sim.nodes[i].s))->udp_bad;
	ck_assert_uint_gt(bad, 1000);
	sim_free(&sim);
}
END_TEST

TCase *
gt_sim_tcase(void)
{
	TCase *tc = tcase_create("sim");
	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, sim_converges);
	tcase_add_test(tc, sim_detects_failure);
	tcase_add_test(tc, sim_refutes);
	tcase_add_test(tc, sim_leave_propagates);
	tcase_add_test(tc, sim_user_event);
	tcase_add_test(tc, sim_query);
	tcase_add_test(tc, sim_partition_heals);
	tcase_add_test(tc, sim_deterministic);
	tcase_add_test(tc, sim_garbage);
	return tc;
}
