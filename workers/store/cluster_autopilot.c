/*
 * The leader's side of membership (Consul's leader reconcile and
 * hashicorp/raft-autopilot): server health, adding joined servers as
 * nonvoters, promoting stable ones, removing departed and dead ones; the
 * replicated autopilot configuration; and a server's graceful leave.
 *
 * Health (raft-autopilot isHealthy): gossip says alive, the leader heard
 * from it recently, and its log trails the leader's by at most
 * max_trailing_logs.  "Recently" is last_contact_threshold plus one
 * heartbeat interval: the leader only hears from an idle follower once
 * per heartbeat (100 ms x raft_multiplier), which at the default
 * multiplier is longer than the default 200 ms threshold.
 *
 * One membership change is in flight at a time (the core refuses the
 * next with -EBUSY until the previous one commits), so each tick makes at
 * most one, in this order: remove departed, replace moved, add joined,
 * promote stable, remove dead.
 */
#include "workers/store/cluster.h"
#include "workers/store/rpc.h"
#include "workers/store/store.h"
#include "workers/common/worker.h"
#include "supervisor/config.h"
#include "proto/proto.h"
#include "lib/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define CL_LEAVE_DRAIN_S 5.0

void
cluster_autopilot_defaults(struct store *st)
{
	const struct agent_config *c = st->w->cfg;
	struct cl_autopilot *ap = &st->cl->ap;
	ap->cleanup_dead_servers = c->autopilot.cleanup_dead_servers;
	ap->last_contact_threshold_ms =
	    (uint64_t)(c->autopilot.last_contact_threshold / 1000000);
	ap->max_trailing_logs = c->autopilot.max_trailing_logs > 0 ?
	    (uint64_t)c->autopilot.max_trailing_logs : 0;
	ap->min_quorum = c->autopilot.min_quorum > 0 ?
	    (uint64_t)c->autopilot.min_quorum : 0;
	ap->server_stabilization_time_ms =
	    (uint64_t)(c->autopilot.server_stabilization_time / 1000000);
}

const struct cl_health *
cluster_health(const struct store *st, uint64_t id)
{
	const struct store_cluster *cl = st->cl;
	for (unsigned i = 0; cl && i < cl->nh; i++)
		if (cl->h[i].id == id)
			return &cl->h[i];
	return NULL;
}

static struct cl_health *
health_slot(struct store_cluster *cl, struct cl_health *old, unsigned nold,
    uint64_t id, uint64_t now)
{
	struct cl_health *h = &cl->h[cl->nh++];
	for (unsigned i = 0; i < nold; i++)
		if (old[i].id == id) {
			*h = old[i];
			return h;
		}
	memset(h, 0, sizeof(*h));
	h->id = id;
	h->stable_since = now;
	h->stable_since_wall = wall_ns() / 1000000;
	return h;
}

/* Measure every server of the configuration (leader only). */
void
cluster_health_update(struct store *st)
{
	struct store_cluster *cl = st->cl;
	const struct rft_conf *c = rft_conf(st->raft);
	struct cl_health old[RFT_SERVERS_MAX];
	unsigned nold = cl->nh;
	uint64_t now = mono_ms(), last = rft_last_index(st->raft);
	uint64_t limit = cl->ap.last_contact_threshold_ms + cl->hb_interval_ms;
	memcpy(old, cl->h, sizeof(old));
	cl->nh = 0;
	for (unsigned i = 0; i < c->n; i++) {
		const struct cl_member *m = cluster_member_by_raft_id(st,
		    c->s[i].id);
		struct cl_health *h = health_slot(cl, old, nold, c->s[i].id, now);
		uint64_t match = 0, recv = 0;
		bool alive = m && m->status == CL_ALIVE, ok;
		if (c->s[i].id == st->raft_id) {
			h->last_contact_ms = 0;
			h->last_index = last;
			ok = true;
		} else if (rft_peer_progress(st->raft, c->s[i].id, &match,
		    &recv) && recv > 0) {
			h->last_contact_ms = now > recv ? now - recv : 0;
			h->last_index = match;
			ok = h->last_contact_ms <= limit;
		} else {
			h->last_contact_ms = UINT64_MAX;
			h->last_index = 0;
			ok = false;
		}
		if (last > cl->ap.max_trailing_logs &&
		    h->last_index < last - cl->ap.max_trailing_logs)
			ok = false;
		ok = ok && alive;
		if (ok != h->healthy) {
			h->healthy = ok;
			h->stable_since = now;
			h->stable_since_wall = wall_ns() / 1000000;
		}
	}
}

static int
change(struct store *st, int r, const char *what, const char *name)
{
	if (r == 0)
		log_info("autopilot: %s %s", what, name);
	else if (r != -EBUSY)
		log_warnx("autopilot: %s %s: %s", what, name,
		    rft_strerror(r < 0 ? -r : r));
	return 1;	/* one attempt per tick either way */
}

/* Servers that left gracefully or were reaped (Consul's handleLeftMember
 * and handleReapMember): out of the configuration. */
static int
remove_departed(struct store *st, const struct rft_conf *c)
{
	for (unsigned i = 0; i < c->n; i++) {
		const struct cl_member *m = cluster_member_by_raft_id(st,
		    c->s[i].id);
		if (m == NULL || m->self ||
		    (m->status != CL_LEFT && m->status != CL_REAPED))
			continue;
		return change(st, rft_remove_server(st->raft, c->s[i].id, 0),
		    "removing departed server", m->name);
	}
	return 0;
}

/* Alive servers of our datacenter that are not in the configuration
 * join as nonvoters (Consul's joinConsulServer, Raft protocol 3).  A
 * configuration entry at the same address with another ID is a server
 * that restarted with a new node ID: it goes first. */
static int
add_joined(struct store *st, const struct rft_conf *c)
{
	const struct store_cluster *cl = st->cl;
	const char *dc = st->w->cfg->datacenter;
	for (size_t i = 0; i < cl->n; i++) {
		const struct cl_member *m = &cl->m[i];
		if (!m->server || m->status != CL_ALIVE || !m->raft_id ||
		    !m->rpc_addr[0] || strcmp(m->dc, dc) != 0 ||
		    rft_conf_find(c, m->raft_id))
			continue;
		if (m->bootstrap && !m->self) {
			if (!m->warned)
				log_warnx("autopilot: %s is in bootstrap mode; "
				    "only one server should be: not adding it",
				    m->name);
			((struct cl_member *)m)->warned = true;
			continue;
		}
		for (unsigned k = 0; k < c->n; k++)
			if (strcmp(c->s[k].addr, m->rpc_addr) == 0)
				return change(st, rft_remove_server(st->raft,
				    c->s[k].id, 0), "removing stale entry for",
				    m->rpc_addr);
		if (c->n >= RFT_SERVERS_MAX)
			return 0;
		return change(st, rft_add_nonvoter(st->raft, m->raft_id,
		    m->node_id, m->rpc_addr, 0), "adding nonvoter", m->name);
	}
	return 0;
}

static int
promote_stable(struct store *st, const struct rft_conf *c, uint64_t now)
{
	const struct store_cluster *cl = st->cl;
	for (unsigned i = 0; i < c->n; i++) {
		const struct cl_health *h = cluster_health(st, c->s[i].id);
		if (c->s[i].role != RFT_NONVOTER || h == NULL || !h->healthy ||
		    now - h->stable_since < cl->ap.server_stabilization_time_ms)
			continue;
		return change(st, rft_add_voter(st->raft, c->s[i].id,
		    c->s[i].name, c->s[i].addr, 0), "promoting",
		    c->s[i].addr);
	}
	return 0;
}

/* raft-autopilot's pruneDeadServers: failed nonvoters always; failed
 * voters while the voters left stay at or above min_quorum and no more
 * than (voters-1)/2 of them go. */
static int
remove_dead(struct store *st, const struct rft_conf *c)
{
	const struct store_cluster *cl = st->cl;
	unsigned voters = rft_conf_voters(c);
	if (!cl->ap.cleanup_dead_servers)
		return 0;
	for (int pass = 0; pass < 2; pass++)
		for (unsigned i = 0; i < c->n; i++) {
			const struct cl_member *m = cluster_member_by_raft_id(st,
			    c->s[i].id);
			bool voter = c->s[i].role == RFT_VOTER;
			if (m == NULL || m->self || m->status != CL_FAILED ||
			    voter != (pass == 1))
				continue;
			if (voter && (voters - 1 < cl->ap.min_quorum ||
			    (voters - 1) / 2 < 1))
				return 0;
			return change(st, rft_remove_server(st->raft,
			    c->s[i].id, 0), "removing dead server", m->name);
		}
	return 0;
}

void
cluster_autopilot_tick(struct store *st)
{
	const struct rft_conf *c = rft_conf(st->raft);
	if (st->cl->leave != CL_LEAVE_NONE)
		return;
	cluster_health_update(st);
	if (remove_departed(st, c) || add_joined(st, c) ||
	    promote_stable(st, c, mono_ms()))
		return;
	remove_dead(st, c);
}

/* ---- the replicated configuration -------------------------------------- */

static void
ap_from_msg(struct cl_autopilot *ap, const struct proto_autopilot_conf *m)
{
	ap->cleanup_dead_servers = m->cleanup_dead_servers;
	ap->last_contact_threshold_ms = m->last_contact_threshold_ms;
	ap->max_trailing_logs = m->max_trailing_logs;
	ap->min_quorum = m->min_quorum;
	ap->server_stabilization_time_ms = m->server_stabilization_time_ms;
	proto_str_copy(m->redundancy_zone_tag, ap->redundancy_zone_tag,
	    sizeof(ap->redundancy_zone_tag));
	ap->disable_upgrade_migration = m->disable_upgrade_migration;
	proto_str_copy(m->upgrade_version_tag, ap->upgrade_version_tag,
	    sizeof(ap->upgrade_version_tag));
}

/* The replicated configuration as an AUTOPILOT_CONF message. */
void
cluster_autopilot_encode(const struct cl_autopilot *ap, struct buf *out)
{
	struct proto_autopilot_conf m = {
		.cleanup_dead_servers = ap->cleanup_dead_servers,
		.last_contact_threshold_ms = ap->last_contact_threshold_ms,
		.max_trailing_logs = ap->max_trailing_logs,
		.min_quorum = ap->min_quorum,
		.server_stabilization_time_ms = ap->server_stabilization_time_ms,
		.redundancy_zone_tag = proto_str_c(ap->redundancy_zone_tag),
		.disable_upgrade_migration = ap->disable_upgrade_migration,
		.upgrade_version_tag = proto_str_c(ap->upgrade_version_tag),
		.create_index = ap->create_index,
		.modify_index = ap->modify_index,
	};
	proto_enc_autopilot_conf(out, &m);
}

int
cluster_autopilot_decode(struct cl_autopilot *ap, const uint8_t *p,
    size_t len)
{
	struct proto_autopilot_conf m;
	if (proto_dec_autopilot_conf(p, len, &m) < 0)
		return -EBADMSG;
	ap_from_msg(ap, &m);
	ap->create_index = m.create_index;
	ap->modify_index = m.modify_index;
	return 0;
}

/* Deterministic on every server: the CAS is decided by the log. */
bool
cluster_apply(struct store *st, const struct rft_entry *e,
    struct store_waiter *w)
{
	struct proto_autopilot_set_req q;
	struct proto_autopilot_conf m;
	if (st->cl == NULL || e->len < 2 ||
	    (e->data[0] | e->data[1] << 8) != PROTO_AUTOPILOT_SET_REQ)
		return false;
	struct cl_autopilot *ap = &st->cl->ap;
	bool ok = proto_dec_autopilot_set_req(e->data + 2, e->len - 2, &q) == 0 &&
	    proto_dec_autopilot_conf(q.conf.p, q.conf.len, &m) == 0;
	if (!ok) {
		log_warnx("raft entry %llu: malformed autopilot configuration "
		    "skipped", (unsigned long long)e->index);
		if (w)
			store_reply_error(st, w, -EBADMSG, "malformed request");
		return true;
	}
	bool set = !q.cas || q.cas_index == ap->modify_index;
	if (set) {
		ap_from_msg(ap, &m);
		if (ap->create_index == 0)
			ap->create_index = e->index;
		ap->modify_index = e->index;
	}
	if (w)
		store_reply_error(st, w, 0, set ? "true" : "false");
	return true;
}

/* ---- graceful leave ----------------------------------------------------- */

void
cluster_leave_finished(struct store *st, const char *how)
{
	struct store_cluster *cl = st->cl;
	if (cl == NULL || cl->leave != CL_LEAVE_RUNNING)
		return;
	cl->leave = CL_LEAVE_DONE;
	ev_timer_stop(st->w->loop, &cl->leave_timer);
	log_info("cluster: %s", how);
	if (st->w->stopping)
		worker_stopped(st->w);
}

static void
leave_timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	cluster_leave_finished(t->data, "leave: not removed from the Raft "
	    "configuration in time; going anyway");
}

/* The leader's configuration, as a leaving follower polls it. */
static void
leave_conf_answer(void *arg, int err, uint16_t type, const uint8_t *p,
    size_t len)
{
	struct store *st = arg;
	struct proto_op_raft_conf rc;
	struct proto_strv_iter it;
	struct proto_str item;
	bool in = false;
	if (err == -ECANCELED || st->cl == NULL)
		return;
	st->cl->leave_asked = false;
	if (err < 0 || type != PROTO_OP_RAFT_CONF ||
	    proto_dec_op_raft_conf(p, len, &rc) < 0)
		return;
	proto_strv_iter_init(&it, &rc.servers);
	while (proto_strv_next(&it, &item)) {
		struct proto_op_raft_server s;
		in |= proto_dec_op_raft_server(item.p, item.len, &s) == 0 &&
		    proto_str_eq(s.id, st->w->cfg->node_id);
	}
	if (!in)
		cluster_leave_finished(st, "left the Raft configuration");
}

static int
poll_leader(struct store *st)
{
	const char *leader = store_leader_addr(st);
	struct proto_op_raft_conf_req q = { .stale = false };
	struct buf b;
	if (!leader[0])
		return -ENOTCONN;
	buf_init(&b);
	proto_enc_op_raft_conf_req(&b, &q);
	int r = rpc_call(st, leader, PROTO_OP_RAFT_CONF_REQ, b.data, b.len, 0,
	    1000, leave_conf_answer, st);
	buf_free(&b);
	return r;
}

/* One step, repeated by the cluster tick.  As Consul's Server.Leave: a
 * leader removes itself (and steps down once that commits, which
 * cluster_role_changed sees); a follower waits for the leader to remove
 * it, which it does on gossip's leave event (asking it would race with
 * that event: the leader could re-add a server gossip still calls
 * alive).  A removed follower hears nothing more from the leader, so it
 * asks for the leader's configuration to see that it is out. */
void
cluster_leave_step(struct store *st)
{
	struct store_cluster *cl = st->cl;
	if (cl->leave != CL_LEAVE_RUNNING || cl->leave_asked)
		return;
	if (!rft_conf_find(rft_conf(st->raft), st->raft_id)) {
		cluster_leave_finished(st, "left the Raft configuration");
		return;
	}
	if (store_is_leader(st))
		cl->leave_asked = rft_remove_server(st->raft, st->raft_id,
		    0) == 0;
	else
		cl->leave_asked = poll_leader(st) == 0;
}

/*
 * Consul's Server.Leave, bounded by CL_LEAVE_DRAIN_S.  Not for the last
 * server (nobody would be left to serve).
 */
bool
cluster_leave(struct store *st)
{
	struct store_cluster *cl = st->cl;
	if (cl == NULL || cl->leave == CL_LEAVE_DONE)
		return false;
	if (cl->leave == CL_LEAVE_RUNNING)
		return true;
	if (st->raft == NULL || rft_conf(st->raft)->n < 2 ||
	    !rft_conf_find(rft_conf(st->raft), st->raft_id))
		return false;
	log_info("cluster: leaving the Raft configuration");
	cl->leave = CL_LEAVE_RUNNING;
	cl->leave_asked = false;
	ev_timer_init(&cl->leave_timer, leave_timer_cb, CL_LEAVE_DRAIN_S, 0);
	cl->leave_timer.data = st;
	ev_timer_start(st->w->loop, &cl->leave_timer);
	cluster_leave_step(st);
	return true;
}
