/*
 * More of the serf/memberlist core in the simulated cluster: encrypted
 * pools and key rotation by key queries, restart under the same name,
 * coalescing, reaping, force-leave, name conflicts and dead node
 * reclaim, labels, tag filters.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/gossip/gossip_test.h"
#include "tests/unit/gossip/sim.h"
#include "workers/gossip/consul_merge.h"

static const char *key_a = "CDxNaqeo1HKF9kIaRDrjHHZ6OacHsMHGdcG+8ZZ3KYU=";
static const char *key_b = "h/8XUpUJTkkBxDMFpB8dZDnZFLRL+qPoiPdyNYeZ7DY=";

static void
ring(struct gossip_keyring *kr, const char *b64)
{
	uint8_t k[32];
	size_t len;
	gossip_keyring_init(kr);
	ck_assert_int_eq(gossip_key_from_base64(b64, k, &len), 0);
	ck_assert_int_eq(gossip_keyring_add(kr, k, len), 0);
}

static void
build_cfg(struct sim *sim, int n, uint64_t seed,
    const struct gossip_serf_config *cfg)
{
	char name[32];
	sim_init(sim, seed);
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "node%02d", i);
		sim_add(sim, name, cfg);
	}
	for (int i = 1; i < n; i++) {
		sim_join(sim, i, 0);
		sim_run(sim, 20);
	}
}

static bool
converged(struct sim *sim, void *arg)
{
	return sim_converged(sim, GOSSIP_MEMBER_FAILED);
}

/* Count responses to query h at node `at` whose key response says ok. */
static unsigned
key_ok(struct sim *sim, int at)
{
	unsigned ok = 0;
	for (size_t i = 0; i < sim->nlog; i++) {
		struct sim_log *l = &sim->log[i];
		if (l->node == at && l->type == GOSSIP_EV_QUERY_RESPONSE)
			ok++;
	}
	return ok;
}

/* An encrypted pool rotates its key with install/use/remove key queries
 * (what `consul keyring` does): every node answers, ends up with only
 * the new key, and the pool stays whole; the old key no longer gets in. */
START_TEST(sim_key_rotation)
{
	struct gossip_serf_config cfg;
	struct gossip_keyring kr, newring;
	const char *why;
	struct sim sim;

	gossip_serf_config_default(&cfg);
	ring(&kr, key_a);
	ring(&newring, key_b);
	cfg.keyring = &kr;
	build_cfg(&sim, 6, 21, &cfg);
	ck_assert(sim_run_until(&sim, 20000, converged, NULL));
	static const char *const ops[] = { "install", "use", "remove" };
	for (int k = 0; k < 3; k++) {
		size_t before = key_ok(&sim, 0);
		const uint8_t *key = k < 2 ? newring.key[0] : kr.key[0];
		ck_assert_int_gt(gossip_serf_key_query(sim.nodes[0].s, sim.now,
		    ops[k], key, 32, &why), 0);
		sim_run(&sim, 4000);
		ck_assert_uint_eq(key_ok(&sim, 0) - before, 6);
		ck_assert(sim_converged(&sim, GOSSIP_MEMBER_FAILED));
	}
	for (int i = 0; i < 6; i++) {
		ck_assert_uint_eq(sim.nodes[i].kr.n, 1);
		ck_assert(memcmp(sim.nodes[i].kr.key[0], newring.key[0], 32) ==
		    0);
	}
	ck_assert_uint_ge(sim_count(&sim, -1, GOSSIP_EV_KEYRING, NULL), 18);
	/* the responses carry serf's key response */
	for (size_t i = 0; i < sim.nlog; i++)
		if (sim.log[i].type == GOSSIP_EV_QUERY_RESPONSE)
			ck_assert_uint_eq((uint8_t)sim.log[i].payload[0],
			    GOSSIP_SERF_KEY_RESPONSE);
	/* a newcomer with the old key cannot join */
	int late = sim_add(&sim, "late", &cfg);
	sim_join(&sim, late, 0);
	sim_run(&sim, 12000);
	ck_assert_uint_eq(sim.nodes[late].join_failed, 1);
	ck_assert_int_eq(sim_status(&sim, 0, "late"), GOSSIP_MEMBER_NONE);
	sim_free(&sim);
}
END_TEST

static bool
all_see_alive(struct sim *sim, void *arg)
{
	const char *who = arg;
	for (int i = 0; i < sim->n; i++)
		if (sim->nodes[i].up &&
		    sim_status(sim, i, who) != GOSSIP_MEMBER_ALIVE)
			return false;
	return true;
}

static bool
all_see_failed(struct sim *sim, void *arg)
{
	const char *who = arg;
	/* a node that has left hears no more gossip: its view is stale */
	for (int i = 0; i < sim->n; i++)
		if (sim->nodes[i].up && !sim->nodes[i].left &&
		    sim_status(sim, i, who) != GOSSIP_MEMBER_FAILED)
			return false;
	return true;
}

/* A node restarted under the same name starts at incarnation 1 while the
 * pool remembers it dead at 1: its join reply tells it so, it refutes
 * with a higher incarnation and is alive again everywhere (gossip, or at
 * worst the next push/pull, 30 s, for a node the gossip missed). */
START_TEST(sim_restart_refutes)
{
	struct sim sim;
	build_cfg(&sim, 6, 31, NULL);
	ck_assert(sim_run_until(&sim, 20000, converged, NULL));
	sim_kill(&sim, 4);
	ck_assert(sim_run_until(&sim, 40000, all_see_failed, "node04"));
	uint32_t dead_inc = sim_incarnation(&sim, 0, "node04");
	sim_restart(&sim, 4, 0);
	sim_join(&sim, 4, 0);
	ck_assert(sim_run_until(&sim, 40000, all_see_alive, "node04"));
	ck_assert_uint_gt(sim_incarnation(&sim, 1, "node04"), dead_inc);
	ck_assert_uint_eq(sim.nodes[4].joined, 1);
	sim_free(&sim);
}
END_TEST

/* Consul's coalescing: events flagged coalescable collapse to the newest
 * LTime per name; member events settle to their net change. */
START_TEST(sim_coalescing)
{
	struct gossip_serf_config cfg;
	struct sim sim;
	const char *why;

	gossip_serf_config_consul_lan(&cfg);
	build_cfg(&sim, 4, 41, &cfg);
	ck_assert(sim_run_until(&sim, 20000, converged, NULL));
	sim_run(&sim, 5000);
	/* each node reported each member's join once, after the flush */
	for (int i = 0; i < 4; i++)
		ck_assert_uint_eq(sim_count(&sim, i, GOSSIP_EV_MEMBER_JOIN,
		    NULL), 4);
	for (int k = 0; k < 3; k++) {
		char p[8];
		snprintf(p, sizeof(p), "v%d", k);
		ck_assert_int_eq(gossip_serf_user_event(sim.nodes[1].s, sim.now,
		    "deploy", (const uint8_t *)p, 2, true, &why), 0);
		sim_run(&sim, 100);
	}
	ck_assert_int_eq(gossip_serf_user_event(sim.nodes[1].s, sim.now,
	    "plain", (const uint8_t *)"x", 1, false, &why), 0);
	sim_run(&sim, 400);
	/* not coalescable: delivered at once */
	ck_assert_uint_eq(sim_count(&sim, 3, GOSSIP_EV_USER, "plain"), 1);
	ck_assert_uint_eq(sim_count(&sim, 3, GOSSIP_EV_USER, "deploy"), 0);
	sim_run(&sim, 5000);
	ck_assert_uint_eq(sim_count(&sim, 3, GOSSIP_EV_USER, "deploy"), 1);
	for (size_t i = 0; i < sim.nlog; i++)
		if (sim.log[i].type == GOSSIP_EV_USER &&
		    strcmp(sim.log[i].subject, "deploy") == 0)
			ck_assert_str_eq(sim.log[i].payload, "v2");
	sim_free(&sim);
}
END_TEST

/* Failed members are reaped after the reconnect timeout, left ones after
 * the tombstone timeout (shortened here), with a reap event. */
START_TEST(sim_reap)
{
	struct gossip_serf_config cfg;
	struct sim sim;

	gossip_serf_config_default(&cfg);
	cfg.reap_interval = 1000;
	cfg.reconnect_timeout = 20000;
	cfg.tombstone_timeout = 10000;
	build_cfg(&sim, 5, 51, &cfg);
	ck_assert(sim_run_until(&sim, 20000, converged, NULL));
	sim_kill(&sim, 2);
	ck_assert_int_eq(gossip_serf_leave(sim.nodes[3].s, sim.now), 0);
	ck_assert(sim_run_until(&sim, 40000, all_see_failed, "node02"));
	ck_assert_int_eq(sim_status(&sim, 0, "node03"), GOSSIP_MEMBER_LEFT);
	sim_kill(&sim, 3);
	sim_run(&sim, 25000);
	ck_assert_int_eq(sim_status(&sim, 0, "node03"), GOSSIP_MEMBER_NONE);
	ck_assert_int_eq(sim_status(&sim, 0, "node02"), GOSSIP_MEMBER_NONE);
	ck_assert_uint_eq(sim_count(&sim, 0, GOSSIP_EV_MEMBER_REAP, "node02"),
	    1);
	ck_assert_uint_eq(sim_count(&sim, 0, GOSSIP_EV_MEMBER_REAP, "node03"),
	    1);
	sim_free(&sim);
}
END_TEST

static bool
all_see_left(struct sim *sim, void *arg)
{
	for (int i = 0; i < sim->n; i++)
		if (sim->nodes[i].up &&
		    sim_status(sim, i, arg) != GOSSIP_MEMBER_LEFT)
			return false;
	return true;
}

/* force-leave turns a failed member into left everywhere; with prune it
 * is erased. */
START_TEST(sim_force_leave)
{
	struct sim sim;
	build_cfg(&sim, 5, 61, NULL);
	ck_assert(sim_run_until(&sim, 20000, converged, NULL));
	sim_kill(&sim, 1);
	ck_assert(sim_run_until(&sim, 40000, all_see_failed, "node01"));
	ck_assert_int_eq(gossip_serf_force_leave(sim.nodes[0].s, sim.now,
	    "node01", false), 0);
	ck_assert(sim_run_until(&sim, 5000, all_see_left, "node01"));
	ck_assert_uint_eq(sim_count(&sim, -1, GOSSIP_EV_MEMBER_LEAVE, "node01"),
	    4);
	ck_assert_int_eq(gossip_serf_force_leave(sim.nodes[0].s, sim.now,
	    "nobody", false), -ENOENT);
	ck_assert_int_eq(gossip_serf_force_leave(sim.nodes[2].s, sim.now,
	    "node01", true), 0);
	ck_assert_int_eq(sim_status(&sim, 2, "node01"), GOSSIP_MEMBER_LEFT);
	sim_run(&sim, 3000);
	/* the prune is a gossiped intent: no anti-entropy repairs a miss
	 * (serf keeps such a tombstone until it times out), so allow one */
	int erased = 0;
	for (int i = 0; i < 5; i++)
		if (i != 1)
			erased += sim_status(&sim, i, "node01") ==
			    GOSSIP_MEMBER_NONE;
	ck_assert_int_ge(erased, 3);
	ck_assert_int_eq(sim_status(&sim, 2, "node01"), GOSSIP_MEMBER_NONE);
	sim_free(&sim);
}
END_TEST

/* Another node claiming a live member's name from another address is
 * ignored (conflict); once the member has been dead longer than the
 * reclaim time (Consul: 30 s), the new address takes over. */
START_TEST(sim_conflict_and_reclaim)
{
	struct sim sim;
	build_cfg(&sim, 4, 71, NULL);
	ck_assert(sim_run_until(&sim, 20000, converged, NULL));
	int dup = sim_add(&sim, "node02", NULL);	/* same name, new address */
	sim_join(&sim, dup, 0);
	sim_run(&sim, 5000);
	const struct gossip_node *n = gossip_ml_node(
	    gossip_serf_ml(sim.nodes[0].s), "node02");
	ck_assert(gossip_addr_eq(&n->addr, &sim.nodes[2].addr));
	ck_assert_uint_gt(gossip_ml_stats(gossip_serf_ml(sim.nodes[0].s))
	    ->conflicts, 0);
	sim_kill(&sim, dup);
	sim_kill(&sim, 2);
	ck_assert(sim_run_until(&sim, 40000, all_see_failed, "node02"));
	sim_run(&sim, 31000);
	sim_restart(&sim, dup, 0);	/* node02 again, at the new address */
	sim_join(&sim, dup, 0);
	sim_run(&sim, 8000);
	n = gossip_ml_node(gossip_serf_ml(sim.nodes[0].s), "node02");
	ck_assert(gossip_addr_eq(&n->addr, &sim.nodes[dup].addr));
	ck_assert_int_eq(sim_status(&sim, 1, "node02"), GOSSIP_MEMBER_ALIVE);
	sim_free(&sim);
}
END_TEST

/* Pools with different labels (memberlist >= 0.5) do not mix. */
START_TEST(sim_labels)
{
	struct gossip_serf_config a, b;
	struct sim sim;
	gossip_serf_config_default(&a);
	gossip_serf_config_default(&b);
	snprintf(a.ml.label, sizeof(a.ml.label), "dc1-lan");
	snprintf(b.ml.label, sizeof(b.ml.label), "dc2-lan");
	sim_init(&sim, 81);
	sim_add(&sim, "a0", &a);
	sim_add(&sim, "a1", &a);
	sim_add(&sim, "b0", &b);
	sim_join(&sim, 1, 0);
	sim_join(&sim, 2, 0);
	sim_run(&sim, 10000);
	ck_assert_int_eq(sim_status(&sim, 0, "a1"), GOSSIP_MEMBER_ALIVE);
	ck_assert_int_eq(sim_status(&sim, 0, "b0"), GOSSIP_MEMBER_NONE);
	ck_assert_uint_eq(sim.nodes[2].join_failed, 1);
	sim_free(&sim);
}
END_TEST

/* Tag filters are regular expressions over the node's tag value. */
START_TEST(sim_tag_filter)
{
	static const char *const web[] = { "role", "web", "dc", "dc1" };
	static const char *const db[] = { "role", "db", "dc", "dc1" };
	struct gossip_serf_config cw, cd;
	struct sim sim;
	const char *why;

	gossip_serf_config_default(&cw);
	gossip_serf_config_default(&cd);
	cw.tags = web;
	cw.ntags = 4;
	cd.tags = db;
	cd.ntags = 4;
	sim_init(&sim, 91);
	for (int i = 0; i < 6; i++) {
		char name[16];
		snprintf(name, sizeof(name), "n%d", i);
		sim_add(&sim, name, i % 2 ? &cd : &cw);
		if (i > 0)
			sim_join(&sim, i, 0);
	}
	ck_assert(sim_run_until(&sim, 20000, converged, NULL));
	static const char *const filt[] = { "role", "^w.b$" };
	struct gossip_query_params p = { .filter_tags = filt,
		.nfilter_tags = 2 };
	ck_assert_int_gt(gossip_serf_query(sim.nodes[1].s, sim.now, "tq", NULL,
	    0, &p, &why), 0);
	sim_run(&sim, 4000);
	ck_assert_uint_eq(sim_count(&sim, -1, GOSSIP_EV_QUERY, "tq"), 3);
	ck_assert_uint_eq(sim_count(&sim, 1, GOSSIP_EV_QUERY_RESPONSE, NULL),
	    3);
	/* a bad regular expression matches nothing */
	static const char *const badre[] = { "role", "([" };
	p.filter_tags = badre;
	ck_assert_int_gt(gossip_serf_query(sim.nodes[1].s, sim.now, "bad",
	    NULL, 0, &p, &why), 0);
	sim_run(&sim, 4000);
	ck_assert_uint_eq(sim_count(&sim, -1, GOSSIP_EV_QUERY, "bad"), 0);
	sim_free(&sim);
}
END_TEST

/* Consul's LAN merge checks: a node of another datacenter cannot join
 * and is never listed; a node reusing a member's node ID fails its own
 * join (as in Consul, the seed only sees the newcomer's own state, so
 * the seed's check cannot catch it). */
START_TEST(sim_consul_merge)
{
	static const char *const t0[] = { "role", "node", "dc", "dc1", "id",
		"11111111-0000-0000-0000-000000000000", "build", "1.17.0:abc" };
	static const char *const t1[] = { "role", "node", "dc", "dc1", "id",
		"22222222-0000-0000-0000-000000000000", "build", "1.17.0:abc" };
	static const char *const other_dc[] = { "role", "node", "dc", "dc2",
		"id", "33333333-0000-0000-0000-000000000000" };
	static const char *const dup_id[] = { "role", "node", "dc", "dc1",
		"id", "22222222-0000-0000-0000-000000000000", "build",
		"1.17.0:abc" };
	static struct gossip_consul_merge md[4];
	const char *const *tags[4] = { t0, t1, other_dc, dup_id };
	size_t ntags[4] = { 8, 8, 6, 8 };
	struct gossip_serf_config cfg;
	struct sim sim;

	sim_init(&sim, 101);
	for (int i = 0; i < 4; i++) {
		char name[16];
		snprintf(name, sizeof(name), "c%d", i);
		gossip_serf_config_consul_lan(&cfg);
		cfg.tags = tags[i];
		cfg.ntags = ntags[i];
		memset(&md[i], 0, sizeof(md[i]));
		snprintf(md[i].dc, sizeof(md[i].dc), "%s", i == 2 ? "dc2" : "dc1");
		snprintf(md[i].node_id, sizeof(md[i].node_id), "%s",
		    tags[i][5]);
		snprintf(md[i].node_name, sizeof(md[i].node_name), "%s", name);
		cfg.merge = gossip_consul_merge;
		cfg.merge_arg = &md[i];
		sim_add(&sim, name, &cfg);
	}
	sim_join(&sim, 1, 0);
	sim_run(&sim, 5000);
	ck_assert_uint_eq(sim.nodes[1].joined, 1);
	sim_join(&sim, 2, 0);
	sim_join(&sim, 3, 0);
	sim_run(&sim, 10000);
	ck_assert_uint_eq(sim.nodes[2].join_failed, 1);
	ck_assert_uint_eq(sim.nodes[3].join_failed, 1);
	ck_assert_int_eq(sim_status(&sim, 0, "c2"), GOSSIP_MEMBER_NONE);
	ck_assert_int_eq(sim_status(&sim, 0, "c1"), GOSSIP_MEMBER_ALIVE);
	sim_free(&sim);
}
END_TEST

/* Concurrent joins are told apart by the id JOIN_DONE carries. */
START_TEST(sim_join_ids)
{
	struct gossip_event e;
	struct gossip_addr bad;
	struct sim sim;

	sim_init(&sim, 111);
	sim_add(&sim, "a", NULL);
	sim_add(&sim, "b", NULL);
	sim.nodes[1].auto_respond = false;
	gossip_addr_parse("10.0.0.99", 7946, &bad);
	struct gossip_serf *s = sim.nodes[1].s;
	uint64_t good = gossip_serf_join(s, sim.now, &sim.nodes[0].addr, 1,
	    false);
	uint64_t fail = gossip_serf_join(s, sim.now, &bad, 1, false);
	ck_assert_uint_gt(good, 0);
	ck_assert_uint_ne(good, fail);
	ck_assert_uint_eq(gossip_serf_join(s, sim.now, NULL, 0, false), 0);
	sim_run(&sim, 15000);	/* sim.c drains events into its log */
	unsigned seen = 0;
	(void)e;
	for (size_t i = 0; i < sim.nlog; i++) {
		const struct sim_log *l = &sim.log[i];
		if (l->node != 1 || l->type != GOSSIP_EV_JOIN_DONE)
			continue;
		seen++;
		ck_assert(l->join == good || l->join == fail || l->join == 0);
		ck_assert_uint_eq(l->count, l->join == good ? 1 : 0);
	}
	ck_assert_uint_eq(seen, 3);
	ck_assert_uint_eq(sim.nodes[1].joined, 1);
	ck_assert_uint_eq(sim.nodes[1].join_failed, 2);
	sim_free(&sim);
}
END_TEST

TCase *
gt_sim2_tcase(void)
{
	TCase *tc = tcase_create("sim2");
	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, sim_key_rotation);
	tcase_add_test(tc, sim_restart_refutes);
	tcase_add_test(tc, sim_coalescing);
	tcase_add_test(tc, sim_reap);
	tcase_add_test(tc, sim_force_leave);
	tcase_add_test(tc, sim_conflict_and_reclaim);
	tcase_add_test(tc, sim_labels);
	tcase_add_test(tc, sim_tag_filter);
	tcase_add_test(tc, sim_consul_merge);
	tcase_add_test(tc, sim_join_ids);
	return tc;
}
