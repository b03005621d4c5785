/* Test helper: see sim.h. */
#include "tests/unit/gossip/sim.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum msg_kind { MSG_PACKET, MSG_STREAM_REPLY, MSG_STREAM_FAIL };

struct sim_msg {
	uint64_t at;
	uint64_t seq;		/* ties keep send order */
	enum msg_kind kind;
	int to;			/* node index */
	struct gossip_addr from;
	uint64_t stream;
	struct buf data;
};

static uint64_t
rnd(struct sim *sim)
{
	uint64_t z = (sim->rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void
sim_init(struct sim *sim, uint64_t seed)
{
	memset(sim, 0, sizeof(*sim));
	sim->rng = seed;
	sim->now = 1000000;	/* any origin works; not zero */
	sim->lat_min = 1;
	sim->lat_max = 5;
}

void
sim_free(struct sim *sim)
{
	for (int i = 0; i < sim->n; i++)
		gossip_serf_free(sim->nodes[i].s);
	for (size_t i = 0; i < sim->nq; i++)
		buf_free(&sim->q[i].data);
	free(sim->q);
	free(sim->log);
}

int
sim_add(struct sim *sim, const char *name, const struct gossip_serf_config *c)
{
	struct gossip_serf_config cfg;
	int i = sim->n++;
	struct sim_node *n = &sim->nodes[i];
	char ip[32];

	ck_assert_int_lt(i, SIM_MAX);
	if (c)
		cfg = *c;
	else
		gossip_serf_config_default(&cfg);
	snprintf(n->name, sizeof(n->name), "%s", name);
	snprintf(ip, sizeof(ip), "10.0.0.%d", i + 1);
	ck_assert_int_eq(gossip_addr_parse(ip, 7946, &n->addr), 0);
	snprintf(cfg.ml.name, sizeof(cfg.ml.name), "%s", name);
	cfg.ml.addr = n->addr;
	cfg.ml.seed = rnd(sim);
	gossip_keyring_init(&n->kr);
	if (c && c->keyring) {
		n->kr = *c->keyring;
	}
	cfg.keyring = &n->kr;
	static const char *const tags[] = { "role", "node", "dc", "dc1" };
	if (cfg.ntags == 0) {
		cfg.tags = tags;
		cfg.ntags = 4;
	}
	n->cfg = cfg;
	n->s = gossip_serf_new(&cfg, sim->now);
	n->up = true;
	n->auto_respond = true;
	return i;
}

static int
node_at(struct sim *sim, const struct gossip_addr *a)
{
	for (int i = 0; i < sim->n; i++)
		if (gossip_addr_eq(&sim->nodes[i].addr, a))
			return i;
	return -1;
}

static bool
reachable(struct sim *sim, int from, int to)
{
	return to >= 0 && sim->nodes[to].up && (from < 0 ||
	    (sim->nodes[from].up &&
	    sim->nodes[from].group == sim->nodes[to].group));
}

static void
enqueue(struct sim *sim, enum msg_kind kind, int to, uint64_t at,
    const struct gossip_addr *from, uint64_t stream, struct buf *data)
{
	static uint64_t seq;
	if (sim->nq == sim->capq) {
		sim->capq = sim->capq ? 2 * sim->capq : 256;
		sim->q = xrealloc(sim->q, sim->capq * sizeof(*sim->q));
	}
	struct sim_msg *m = &sim->q[sim->nq++];
	memset(m, 0, sizeof(*m));
	m->at = at;
	m->seq = ++seq;
	m->kind = kind;
	m->to = to;
	if (from)
		m->from = *from;
	m->stream = stream;
	if (data) {
		m->data = *data;
		buf_init(data);
	} else {
		buf_init(&m->data);
	}
}

static uint64_t
latency(struct sim *sim)
{
	return sim->lat_min + rnd(sim) % (sim->lat_max - sim->lat_min + 1);
}

/* A stream: the peer's answer comes back after a round trip; a dead peer
 * refuses at once; a partitioned one never answers (deadline). */
static void
do_stream(struct sim *sim, int from, struct gossip_out *o)
{
	int to = node_at(sim, &o->to);
	struct buf reply;

	sim->streams++;
	if (to < 0 || !sim->nodes[to].up) {
		enqueue(sim, MSG_STREAM_FAIL, from, sim->now + 1, NULL,
		    o->stream_id, NULL);
		return;
	}
	if (!reachable(sim, from, to)) {
		enqueue(sim, MSG_STREAM_FAIL, from, MAX(o->deadline, sim->now),
		    NULL, o->stream_id, NULL);
		return;
	}
	buf_init(&reply);
	int rc = gossip_serf_stream_in(sim->nodes[to].s, sim->now + 1,
	    o->data.data, o->data.len, &reply);
	ck_assert_msg(rc != 0, "stream request incomplete");
	if (reply.len > 0)
		enqueue(sim, MSG_STREAM_REPLY, from,
		    sim->now + 2 * latency(sim), NULL, o->stream_id, &reply);
	else
		enqueue(sim, MSG_STREAM_FAIL, from, sim->now + 2, NULL,
		    o->stream_id, NULL);
	buf_free(&reply);
}

static void
record(struct sim *sim, int node, struct gossip_event *e)
{
	if (sim->nlog == sim->caplog) {
		sim->caplog = sim->caplog ? 2 * sim->caplog : 256;
		sim->log = xrealloc(sim->log, sim->caplog * sizeof(*sim->log));
	}
	struct sim_log *l = &sim->log[sim->nlog++];
	memset(l, 0, sizeof(*l));
	l->t = sim->now;
	l->node = node;
	l->type = e->type;
	l->join = e->join;
	l->count = e->count;
	const char *subj = e->member.name ? e->member.name :
	    e->name ? e->name : e->from ? e->from : "";
	snprintf(l->subject, sizeof(l->subject), "%s", subj);
	if (e->payload)
		snprintf(l->payload, sizeof(l->payload), "%.*s",
		    (int)MIN(e->payload_len, 60), (const char *)e->payload);
}

static void
drain(struct sim *sim, int i)
{
	struct sim_node *n = &sim->nodes[i];
	struct gossip_out o;
	struct gossip_event e;

	while (gossip_serf_pop_out(n->s, &o)) {
		if (o.kind == GOSSIP_OUT_STREAM) {
			do_stream(sim, i, &o);
		} else {
			int to = node_at(sim, &o.to);
			if (reachable(sim, i, to) &&
			    rnd(sim) % 1000 >= sim->loss_permille) {
				enqueue(sim, MSG_PACKET, to,
				    sim->now + latency(sim), &n->addr, 0,
				    &o.data);
				sim->delivered++;
			} else {
				sim->dropped++;
			}
		}
		buf_free(&o.data);
	}
	while (gossip_serf_pop_event(n->s, &e)) {
		record(sim, i, &e);
		if (e.type == GOSSIP_EV_QUERY && n->auto_respond) {
			char r[64];
			const char *why;
			snprintf(r, sizeof(r), "r:%s", n->name);
			gossip_serf_respond(n->s, sim->now, e.query,
			    (const uint8_t *)r, strlen(r), &why);
		}
		if (e.type == GOSSIP_EV_JOIN_DONE) {
			if (e.count > 0)
				n->joined++;
			else
				n->join_failed++;
		}
		if (e.type == GOSSIP_EV_LEAVE_DONE)
			n->left = true;
		gossip_event_free(&e);
	}
}

void
sim_join(struct sim *sim, int node, int seed_node)
{
	gossip_serf_join(sim->nodes[node].s, sim->now,
	    &sim->nodes[seed_node].addr, 1, true);
	drain(sim, node);
}

static void
deliver(struct sim *sim, struct sim_msg *m)
{
	struct sim_node *n = &sim->nodes[m->to];
	if (!n->up)
		return;
	switch (m->kind) {
	case MSG_PACKET:
		if (node_at(sim, &m->from) >= 0 &&
		    !reachable(sim, node_at(sim, &m->from), m->to))
			return;		/* partitioned while in flight */
		gossip_serf_recv_packet(n->s, sim->now, &m->from, m->data.data,
		    m->data.len);
		break;
	case MSG_STREAM_REPLY:
		gossip_serf_stream_reply(n->s, sim->now, m->stream,
		    m->data.data, m->data.len);
		break;
	case MSG_STREAM_FAIL:
		gossip_serf_stream_fail(n->s, sim->now, m->stream, -ECONNREFUSED);
		break;
	}
	drain(sim, m->to);
}

/* One step: the earliest message or timer; false when past `end`. */
static bool
step(struct sim *sim, uint64_t end)
{
	uint64_t next = UINT64_MAX;
	size_t qi = SIZE_MAX;
	for (size_t i = 0; i < sim->nq; i++)
		if (sim->q[i].at < next || (sim->q[i].at == next &&
		    qi != SIZE_MAX && sim->q[i].seq < sim->q[qi].seq)) {
			next = sim->q[i].at;
			qi = i;
		}
	int ti = -1;
	for (int i = 0; i < sim->n; i++) {
		if (!sim->nodes[i].up)
			continue;
		uint64_t d = gossip_serf_next_deadline(sim->nodes[i].s);
		if (d < next) {
			next = d;
			ti = i;
			qi = SIZE_MAX;
		}
	}
	if (next > end)
		return false;
	if (next > sim->now)
		sim->now = next;
	if (ti >= 0) {
		gossip_serf_tick(sim->nodes[ti].s, sim->now);
		drain(sim, ti);
		return true;
	}
	struct sim_msg m = sim->q[qi];
	sim->q[qi] = sim->q[--sim->nq];
	deliver(sim, &m);
	buf_free(&m.data);
	return true;
}

void
sim_run(struct sim *sim, uint64_t ms)
{
	uint64_t end = sim->now + ms;
	unsigned guard = 0;
	uint64_t last = sim->now;
	while (step(sim, end)) {
		if (sim->now == last) {
			ck_assert_msg(++guard < 200000,
			    "simulation stuck at t=%llu",
			    (unsigned long long)sim->now);
		} else {
			guard = 0;
			last = sim->now;
		}
	}
	sim->now = end;
}

bool
sim_run_until(struct sim *sim, uint64_t ms, bool (*pred)(struct sim *, void *),
    void *arg)
{
	uint64_t end = sim->now + ms;
	while (sim->now < end) {
		if (pred(sim, arg))
			return true;
		sim_run(sim, MIN(50, end - sim->now));
	}
	return pred(sim, arg);
}

void
sim_kill(struct sim *sim, int node)
{
	sim->nodes[node].up = false;
}

void
sim_restart(struct sim *sim, int node, int addr_last)
{
	struct sim_node *n = &sim->nodes[node];
	char ip[32];
	gossip_serf_free(n->s);
	if (addr_last > 0) {
		snprintf(ip, sizeof(ip), "10.0.0.%d", addr_last);
		ck_assert_int_eq(gossip_addr_parse(ip, 7946, &n->addr), 0);
		n->cfg.ml.addr = n->addr;
	}
	n->cfg.ml.seed = rnd(sim);
	n->cfg.keyring = &n->kr;
	n->s = gossip_serf_new(&n->cfg, sim->now);
	n->up = true;
	n->left = false;
	n->joined = n->join_failed = 0;
}

void
sim_inject(struct sim *sim, int node, const uint8_t *p, size_t n)
{
	struct gossip_addr from;
	struct buf b;
	gossip_addr_parse("192.0.2.1", 9999, &from);
	buf_init(&b);
	buf_add(&b, p, n);
	enqueue(sim, MSG_PACKET, node, sim->now, &from, 0, &b);
	buf_free(&b);
}

enum gossip_member_status
sim_status(struct sim *sim, int observer, const char *subject)
{
	struct gossip_member *ms;
	size_t n = gossip_serf_members(sim->nodes[observer].s, &ms);
	enum gossip_member_status st = GOSSIP_MEMBER_NONE;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(ms[i].name, subject) == 0)
			st = ms[i].status;
		gossip_member_free(&ms[i]);
	}
	free(ms);
	return st;
}

bool
sim_converged(struct sim *sim, enum gossip_member_status dead_as)
{
	for (int i = 0; i < sim->n; i++) {
		if (!sim->nodes[i].up)
			continue;
		for (int j = 0; j < sim->n; j++) {
			enum gossip_member_status want = sim->nodes[j].up &&
			    !sim->nodes[j].left ? GOSSIP_MEMBER_ALIVE : dead_as;
			if (sim_status(sim, i, sim->nodes[j].name) != want)
				return false;
		}
	}
	return true;
}

uint32_t
sim_incarnation(struct sim *sim, int observer, const char *subject)
{
	const struct gossip_node *n = gossip_ml_node(
	    gossip_serf_ml(sim->nodes[observer].s), subject);
	return n ? n->incarnation : 0;
}

size_t
sim_count(struct sim *sim, int node, enum gossip_event_type type,
    const char *subject)
{
	size_t c = 0;
	for (size_t i = 0; i < sim->nlog; i++)
		if ((node < 0 || sim->log[i].node == node) &&
		    sim->log[i].type == type && (subject == NULL ||
		    strcmp(sim->log[i].subject, subject) == 0))
			c++;
	return c;
}

uint64_t
sim_first(struct sim *sim, int node, enum gossip_event_type type,
    const char *subject)
{
	for (size_t i = 0; i < sim->nlog; i++)
		if ((node < 0 || sim->log[i].node == node) &&
		    sim->log[i].type == type && (subject == NULL ||
		    strcmp(sim->log[i].subject, subject) == 0))
			return sim->log[i].t;
	return 0;
}
