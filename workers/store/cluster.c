/*
 * Discovery from gossip, bootstrap_expect and the cluster tick (see
 * cluster.h).  The member table holds every LAN member gossip reported,
 * this agent included (from the configuration until gossip's own record
 * arrives); reaped members stay as CL_REAPED so that the leader can tell
 * "gone for good" from "never heard of".
 */
#include "workers/store/cluster.h"
#include "workers/store/cluster_reconcile.h"
#include "workers/store/rpc.h"
#include "workers/store/store.h"
#include "workers/common/worker.h"
#include "supervisor/config.h"
#include "proto/proto.h"
#include "lib/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CL_TICK_S 0.5
#define CL_FAILED_SKIP_MS 10000
#define CL_BOOT_QUERY_MS 2000

uint64_t
cluster_raft_id(const char *node_id)
{
	uint64_t id = 0;
	for (const char *p = node_id; p && *p && id >> 60 == 0; p++) {
		int c = *p;
		if (c == '-')
			continue;
		int v = c >= '0' && c <= '9' ? c - '0' :
		    c >= 'a' && c <= 'f' ? c - 'a' + 10 :
		    c >= 'A' && c <= 'F' ? c - 'A' + 10 : 0;
		id = id << 4 | (uint64_t)v;
	}
	return id ? id : 1;
}

const char *
cluster_status_name(uint8_t status)
{
	static const char *const names[] = { "none", "alive", "leaving",
		"left", "failed", "reaped" };
	return status < nitems(names) ? names[status] : "none";
}

static struct cl_member *
member_find(const struct store_cluster *cl, const char *name)
{
	for (size_t i = 0; i < cl->n; i++)
		if (strcmp(cl->m[i].name, name) == 0)
			return &cl->m[i];
	return NULL;
}

static struct cl_member *
member_add(struct store_cluster *cl, const char *name)
{
	if (cl->n == cl->cap) {
		cl->cap = cl->cap ? cl->cap * 2 : 16;
		cl->m = xrealloc(cl->m, cl->cap * sizeof(*cl->m));
	}
	struct cl_member *m = &cl->m[cl->n++];
	memset(m, 0, sizeof(*m));
	strlcpy_m(m->name, name, sizeof(m->name));
	return m;
}

const struct cl_member *
cluster_member_by_raft_id(const struct store *st, uint64_t id)
{
	const struct store_cluster *cl = st->cl;
	for (size_t i = 0; cl && i < cl->n; i++)
		if (cl->m[i].server && cl->m[i].raft_id == id)
			return &cl->m[i];
	return NULL;
}

const struct cl_member *
cluster_member_by_addr(const struct store *st, const char *rpc_addr)
{
	const struct store_cluster *cl = st->cl;
	for (size_t i = 0; cl && i < cl->n; i++)
		if (cl->m[i].server && strcmp(cl->m[i].rpc_addr, rpc_addr) == 0)
			return &cl->m[i];
	return NULL;
}

static void
tags_apply(struct cl_member *m, const struct proto_member *pm)
{
	struct proto_strv_iter it;
	struct proto_str k, v;
	char buf[64];
	unsigned port = 0;
	m->server = false;
	m->expect = 0;
	m->bootstrap = false;
	proto_strv_iter_init(&it, &pm->tags);
	while (proto_strv_next(&it, &k) && proto_strv_next(&it, &v)) {
		if (proto_str_eq(k, "role"))
			m->server = proto_str_eq(v, "consul");
		else if (proto_str_eq(k, "dc"))
			proto_str_copy(v, m->dc, sizeof(m->dc));
		else if (proto_str_eq(k, "id"))
			proto_str_copy(v, m->node_id, sizeof(m->node_id));
		else if (proto_str_eq(k, "build"))
			proto_str_copy(v, m->build, sizeof(m->build));
		else if (proto_str_eq(k, "bootstrap"))
			m->bootstrap = proto_str_eq(v, "1");
		else if (proto_str_eq(k, "port") &&
		    proto_str_copy(v, buf, sizeof(buf)) == 0)
			port = (unsigned)strtoul(buf, NULL, 10);
		else if (proto_str_eq(k, "expect") &&
		    proto_str_copy(v, buf, sizeof(buf)) == 0)
			m->expect = atoi(buf);
	}
	m->raft_id = m->node_id[0] ? cluster_raft_id(m->node_id) : 0;
	m->rpc_addr[0] = '\0';
	if (m->server && port > 0 && port < 65536 && m->ip[0])
		snprintf(m->rpc_addr, sizeof(m->rpc_addr),
		    strchr(m->ip, ':') ? "[%s]:%u" : "%s:%u", m->ip, port);
}

/* Something changed: act now rather than at the next tick. */
static void
kick(struct store *st)
{
	ev_feed_event(st->w->loop, &st->cl->tick, EV_TIMER);
}

/*
 * Gossip may report members before this worker started (its channel is
 * up, and gossip replays its members on it, before STARTUP runs
 * cluster_init): those events are kept, in order, and applied by the
 * first tick.  Dropping them lost every member already alive when a
 * restarted server's store worker came up late: list-peers named them
 * "(unknown)" and autopilot could not see them fail, for good, since
 * gossip sends nothing more for members that do not change.
 */
static struct buf early_events;	/* u32 length, then the event */
static bool cluster_started;

static void
early_keep(const void *p, size_t len)
{
	uint32_t n = (uint32_t)len;
	buf_add(&early_events, &n, sizeof(n));
	buf_add(&early_events, p, len);
}

static void
early_apply(struct store *st)
{
	struct buf b = early_events;
	uint32_t n;
	buf_init(&early_events);
	for (size_t off = 0; off + sizeof(n) <= b.len; off += n) {
		memcpy(&n, b.data + off, sizeof(n));
		off += sizeof(n);
		if (n > b.len - off)
			break;
		if (cluster_member_event(st, b.data + off, n) == -EBADMSG)
			log_warnx("cluster: malformed member event from gossip");
	}
	buf_free(&b);
}

int
cluster_member_event(struct store *st, const void *p, size_t len)
{
	struct store_cluster *cl = st->cl;
	struct proto_member_event ev;
	struct proto_member pm;
	char name[RFT_NAME_MAX];
	if (cl == NULL && !cluster_started && len < (1u << 20))
		early_keep(p, len);
	if (cl == NULL)
		return -ENOTCONN;
	if (proto_dec_member_event(p, len, &ev) < 0 ||
	    proto_dec_member(ev.member.p, ev.member.len, &pm) < 0 ||
	    proto_str_copy(pm.name, name, sizeof(name)) < 0 || name[0] == '\0')
		return -EBADMSG;
	if (ev.pool != 0) {	/* WAN: every datacenter's servers */
		cluster_wan_event(st, ev.kind, &pm, name);
		return 0;
	}
	struct cl_member *m = member_find(cl, name);
	if (m == NULL && ev.kind == 5)
		return 0;
	if (m == NULL)
		m = member_add(cl, name);
	if (proto_str_copy(pm.addr, m->ip, sizeof(m->ip)) < 0)
		m->ip[0] = '\0';
	tags_apply(m, &pm);
	switch (ev.kind) {
	case 3: m->status = CL_LEFT; break;
	case 4: m->status = CL_FAILED; break;
	case 5: m->status = CL_REAPED; break;
	default: m->status = pm.status ? pm.status : CL_ALIVE; break;
	}
	if (m->server && m->raft_id && m->rpc_addr[0])
		rpc_raft_learn(st, m->raft_id, m->rpc_addr);
	/* This agent left the pool (muster leave): leave Raft too. */
	if (m->self && m->status == CL_LEFT && st->server)
		cluster_leave(st);
	log_debug("cluster: %s %s (%s%s%s)", m->server ? "server" : "client",
	    m->name, cluster_status_name(m->status), m->rpc_addr[0] ? " " : "",
	    m->rpc_addr);
	cluster_reconcile_event(st, m, &pm);
	kick(st);
	return 0;
}

void
cluster_on_member_event(struct worker *wk, unsigned from, struct ipc_chan *ch,
    struct ipc_msg *m)
{
	struct store *st = wk->app;
	if (cluster_member_event(st, m->data, m->len) == -EBADMSG) {
		log_warnx("cluster: malformed member event from gossip");
		wk->bad_messages++;
	}
}

const char *
cluster_pick_server(struct store *st, const char *const *exclude,
    size_t nexclude)
{
	struct store_cluster *cl = st->cl;
	const char *dc = st->w->cfg->datacenter;
	const char *fallback = NULL;
	uint64_t now = mono_ms();
	if (cl == NULL || cl->n == 0)
		return NULL;
	for (size_t k = 0; k < cl->n; k++) {
		struct cl_member *m = &cl->m[(cl->rr + k) % cl->n];
		bool skip = !m->server || m->status != CL_ALIVE ||
		    !m->rpc_addr[0] || (dc && strcmp(m->dc, dc) != 0);
		for (size_t i = 0; !skip && i < nexclude; i++)
			skip = strcmp(exclude[i], m->rpc_addr) == 0;
		if (skip)
			continue;
		if (m->failed_until > now) {
			if (fallback == NULL)
				fallback = m->rpc_addr;
			continue;
		}
		cl->rr = (unsigned)((cl->rr + k + 1) % cl->n);
		return m->rpc_addr;
	}
	return fallback;
}

void
cluster_server_failed(struct store *st, const char *addr)
{
	struct store_cluster *cl = st->cl;
	for (size_t i = 0; cl && i < cl->n; i++)
		if (strcmp(cl->m[i].rpc_addr, addr) == 0)
			cl->m[i].failed_until = mono_ms() + CL_FAILED_SKIP_MS;
}

/* ---- bootstrap_expect (Consul's maybeBootstrap) ---------------------- */

static bool
raft_fresh(const struct store *st)
{
	return st->raft && rft_term(st->raft) == 0 &&
	    rft_last_index(st->raft) == 0 && rft_snapshot_index(st->raft) == 0;
}

static int
id_cmp(const void *a, const void *b)
{
	const struct cl_member *const *x = a, *const *y = b;
	return (*x)->raft_id < (*y)->raft_id ? -1 :
	    (*x)->raft_id > (*y)->raft_id;
}

/* The alive servers of our datacenter, sorted by Raft ID; -1 (logged)
 * when one of them forbids bootstrapping by expect. */
static int
boot_servers(struct store *st, struct cl_member **out)
{
	struct store_cluster *cl = st->cl;
	const struct agent_config *c = st->w->cfg;
	int n = 0;
	for (size_t i = 0; i < cl->n && n < RFT_SERVERS_MAX; i++) {
		struct cl_member *m = &cl->m[i];
		if (!m->server || m->status != CL_ALIVE ||
		    strcmp(m->dc, c->datacenter) != 0)
			continue;
		const char *why = m->bootstrap ? "has bootstrap mode; expect "
		    "disabled" : m->expect != c->bootstrap_expect ? "has a "
		    "conflicting expect value; all servers should expect the "
		    "same number" : !m->raft_id || !m->rpc_addr[0] ? "has no "
		    "node ID or server port tag" : NULL;
		if (why) {
			if (strcmp(cl->boot_warned, m->name) != 0)
				log_warnx("cluster: member %s %s", m->name, why);
			strlcpy_m(cl->boot_warned, m->name,
			    sizeof(cl->boot_warned));
			return -1;
		}
		out[n++] = m;
	}
	qsort(out, (size_t)n, sizeof(*out), id_cmp);
	for (int i = 1; i < n; i++)
		if (out[i]->raft_id == out[i - 1]->raft_id) {
			log_warnx("cluster: servers %s and %s have the same "
			    "Raft ID; not bootstrapping", out[i - 1]->name,
			    out[i]->name);
			return -1;
		}
	return n;
}

static void
boot_now(struct store *st)
{
	struct cl_member *s[RFT_SERVERS_MAX];
	struct rft_conf conf = { 0 };
	int n = boot_servers(st, s);
	if (n < st->w->cfg->bootstrap_expect)
		return;
	for (int i = 0; i < n; i++)
		rft_conf_add(&conf, s[i]->raft_id, RFT_VOTER, s[i]->node_id,
		    s[i]->rpc_addr);
	int r = rft_bootstrap(st->raft, &conf);
	st->cl->boot_wait = false;
	if (r < 0 && r != -EEXIST)
		log_warnx("cluster: bootstrap: %s", rft_strerror(-r));
	else if (r == 0)
		log_info("cluster: found %d servers expecting %d; bootstrapped "
		    "the Raft configuration", n, st->w->cfg->bootstrap_expect);
}

struct boot_q {
	struct store *st;
	unsigned round;
	char addr[RFT_ADDR_MAX];
};

static void
boot_answer(void *arg, int err, uint16_t type, const uint8_t *p, size_t len)
{
	struct boot_q *q = arg;
	struct store *st = q->st;
	struct store_cluster *cl = st->cl;
	struct proto_status_peers ps;
	if (err == -ECANCELED || cl == NULL || q->round != cl->boot_round) {
		free(q);
		return;
	}
	cl->boot_answers++;
	if (err < 0 || type != PROTO_STATUS_PEERS ||
	    proto_dec_status_peers(p, len, &ps) < 0) {
		log_info("cluster: failed to confirm peer status for %s; "
		    "retrying", q->addr);
		cl->boot_failed = true;
	} else if (ps.peers.n > 0 && !cl->boot_existing) {
		log_info("cluster: existing Raft peers reported by %s, "
		    "disabling bootstrap mode", q->addr);
		cl->boot_existing = true;
	}
	free(q);
	if (cl->boot_answers < cl->boot_asked || !cl->boot_wait)
		return;
	if (cl->boot_existing)
		cl->boot_wait = false;
	else if (!cl->boot_failed && raft_fresh(st))
		boot_now(st);
}

/* Enough servers seen: ask each whether it already has Raft peers (a
 * cluster formed without us must not be split by a second bootstrap). */
static void
maybe_bootstrap(struct store *st)
{
	struct store_cluster *cl = st->cl;
	struct cl_member *s[RFT_SERVERS_MAX];
	if (!cl->boot_wait)
		return;
	if (!raft_fresh(st)) {
		cl->boot_wait = false;
		return;
	}
	if (cl->boot_answers < cl->boot_asked)
		return;		/* a round is out */
	int n = boot_servers(st, s);
	if (n < st->w->cfg->bootstrap_expect)
		return;
	cl->boot_round++;
	cl->boot_asked = cl->boot_answers = 0;
	cl->boot_failed = cl->boot_existing = false;
	for (int i = 0; i < n; i++) {
		if (s[i]->raft_id == st->raft_id)
			continue;
		struct boot_q *q = xcalloc(1, sizeof(*q));
		q->st = st;
		q->round = cl->boot_round;
		strlcpy_m(q->addr, s[i]->rpc_addr, sizeof(q->addr));
		cl->boot_asked++;
		if (rpc_call(st, q->addr, PROTO_STATUS_PEERS_REQ, NULL, 0, 0,
		    CL_BOOT_QUERY_MS, boot_answer, q) < 0) {
			cl->boot_asked--;
			free(q);
		}
	}
	if (cl->boot_asked == 0)
		boot_now(st);
}

/* ---- the tick --------------------------------------------------------- */

static void
tick_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct store *st = t->data;
	if (early_events.len > 0)
		early_apply(st);
	if (st->raft == NULL)
		return;
	rpc_hold_tick(st);
	cluster_leave_step(st);
	maybe_bootstrap(st);
	cluster_transfer_check(st);
	if (store_is_leader(st))
		cluster_autopilot_tick(st);
	cluster_reconcile_tick(st);
}

void
cluster_role_changed(struct store *st, enum rft_role role)
{
	struct store_cluster *cl = st->cl;
	if (cl == NULL)
		return;
	cl->nh = 0;	/* health is the leader's, measured afresh by each */
	/* From the loop, not inside the core's callback: held requests
	 * may have a leader now, a new leader reconciles. */
	kick(st);
	cluster_transfer_check(st);
	/* A leader that removed itself steps down once that commits. */
	if (cl->leave == CL_LEAVE_RUNNING && role != RFT_LEADER &&
	    !rft_conf_find(rft_conf(st->raft), st->raft_id))
		cluster_leave_finished(st, "left the Raft configuration");
}

void
cluster_conf_changed(struct store *st, const struct rft_conf *c,
    uint64_t index)
{
	struct store_cluster *cl = st->cl;
	if (cl)
		cl->conf_index = index;
	rpc_raft_conf_changed(st, c);
	/* A follower out of the configuration has left (a leader waits for
	 * its removal to commit: cluster_role_changed). */
	if (cl && cl->leave == CL_LEAVE_RUNNING && !store_is_leader(st) &&
	    !rft_conf_find(c, st->raft_id))
		cluster_leave_finished(st, "left the Raft configuration");
}

static void
add_self(struct store *st)
{
	const struct agent_config *c = st->w->cfg;
	struct cl_member *m = member_add(st->cl, c->node_name);
	m->self = true;
	m->server = c->server;
	m->status = CL_ALIVE;
	strlcpy_m(m->node_id, c->node_id ? c->node_id : "", sizeof(m->node_id));
	strlcpy_m(m->ip, c->advertise_addr ? c->advertise_addr : "",
	    sizeof(m->ip));
	strlcpy_m(m->dc, c->datacenter ? c->datacenter : "", sizeof(m->dc));
	snprintf(m->build, sizeof(m->build), "%s", MUSTER_VERSION);
	m->expect = c->bootstrap_expect;
	m->bootstrap = c->bootstrap || c->dev;
	if (c->server) {
		m->raft_id = st->raft_id;
		strlcpy_m(m->rpc_addr, st->self_addr, sizeof(m->rpc_addr));
	}
}

int
cluster_init(struct store *st)
{
	const struct agent_config *c = st->w->cfg;
	struct rft_config rc;
	struct store_cluster *cl = xcalloc(1, sizeof(*cl));
	st->cl = cl;
	cl->st = st;
	rft_config_default(&rc, 1, (unsigned)c->performance.raft_multiplier);
	cl->hb_interval_ms = rc.heartbeat_interval_ms;
	cl->hb_timeout_ms = rc.heartbeat_timeout_ms;
	if (c->server)	/* as store_raft_init will */
		st->raft_id = cluster_raft_id(c->node_id);
	add_self(st);
	cluster_autopilot_defaults(st);
	cl->boot_wait = c->server && c->bootstrap_expect > 1 && !c->bootstrap &&
	    !c->dev;
	ev_timer_init(&cl->tick, tick_cb, CL_TICK_S, CL_TICK_S);
	cl->tick.data = st;
	ev_timer_start(st->w->loop, &cl->tick);
	cluster_started = true;
	if (early_events.len > 0)	/* after store_start, from the loop */
		kick(st);
	return 0;
}

void
cluster_stop(struct store *st)
{
	struct store_cluster *cl = st->cl;
	if (cl == NULL)
		return;
	ev_timer_stop(st->w->loop, &cl->tick);
	if (cl->leave == CL_LEAVE_RUNNING)
		ev_timer_stop(st->w->loop, &cl->leave_timer);
	ev_clear_pending(st->w->loop, &cl->tick);
	if (cl->transfer_w) {
		store_waiter_free(cl->transfer_w);
		free(cl->transfer_w);
	}
	cluster_reconcile_stop(st);
	buf_free(&early_events);
	free(cl->wan);
	free(cl->m);
	free(cl);
	st->cl = NULL;
}
