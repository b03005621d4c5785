/*
 * Deterministic in-memory cluster for the gossip core: N serf nodes on
 * simulated time, datagrams with latency and seeded loss, TCP streams
 * that connect instantly to live nodes, fail fast to dead ones and time
 * out across partitions.  Same seed, same run.
 */
#ifndef MUSTER_TEST_GOSSIP_SIM_H
#define MUSTER_TEST_GOSSIP_SIM_H

#include <stdbool.h>
#include <stdint.h>

#include "workers/gossip/serf.h"

#define SIM_MAX 48

struct sim_log {
	uint64_t t;
	int node;
	enum gossip_event_type type;
	char subject[64];	/* member name, event name or sender */
	char payload[64];
	uint64_t join;		/* JOIN_DONE: id and nodes joined */
	unsigned count;
};

struct sim_node {
	struct gossip_serf *s;
	struct gossip_serf_config cfg;	/* as created, for restarts */
	struct gossip_addr addr;
	struct gossip_keyring kr;
	char name[32];
	bool up;
	int group;		/* partitions: only equal groups talk */
	bool auto_respond;	/* answer QUERY events with "r:<name>" */
	unsigned joined;	/* JOIN_DONE with count > 0 */
	unsigned join_failed;
	bool left;		/* LEAVE_DONE seen */
};

struct sim_msg;

struct sim {
	uint64_t now;
	uint64_t rng;
	int n;
	struct sim_node nodes[SIM_MAX];
	unsigned loss_permille;
	unsigned lat_min, lat_max;	/* ms */
	struct sim_msg *q;		/* in flight, unsorted */
	size_t nq, capq;
	struct sim_log *log;
	size_t nlog, caplog;
	uint64_t delivered, dropped, streams;
};

void sim_init(struct sim *sim, uint64_t seed);
void sim_free(struct sim *sim);
/* Adds a node at 10.0.0.(i+1):7946 with cfg (NULL: memberlist LAN +
 * serf defaults, no coalescing); returns its index. */
int sim_add(struct sim *sim, const char *name,
    const struct gossip_serf_config *cfg);
void sim_join(struct sim *sim, int node, int seed_node);
void sim_run(struct sim *sim, uint64_t ms);
/* Runs until pred is true or ms pass; returns whether it became true. */
bool sim_run_until(struct sim *sim, uint64_t ms,
    bool (*pred)(struct sim *, void *), void *arg);
/* Crash (no leave): the node stops and drops everything. */
void sim_kill(struct sim *sim, int node);
/* A fresh process under the same name and address (incarnation 1, empty
 * member list, same keyring); addr_last changes the address if > 0. */
void sim_restart(struct sim *sim, int node, int addr_last);
/* Deliver raw bytes as a datagram from an unknown address. */
void sim_inject(struct sim *sim, int node, const uint8_t *p, size_t n);

/* Status of `subject` in `observer`'s member list (NONE if unknown). */
enum gossip_member_status sim_status(struct sim *sim, int observer,
    const char *subject);
/* Every live node sees every live node alive and every other as want. */
bool sim_converged(struct sim *sim, enum gossip_member_status dead_as);
uint32_t sim_incarnation(struct sim *sim, int observer, const char *subject);
/* Log queries. */
size_t sim_count(struct sim *sim, int node, enum gossip_event_type type,
    const char *subject);
uint64_t sim_first(struct sim *sim, int node, enum gossip_event_type type,
    const char *subject);

#endif
