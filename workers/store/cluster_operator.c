/*
 * Raft and autopilot operator requests (reference/consul.md 1.11; Consul's
 * operator_raft_endpoint.go and operator_autopilot_endpoint.go), from the
 * local http worker or forwarded over the server port.  Reads of the
 * configuration are the leader's unless ?stale; changes are the leader's;
 * a client agent forwards everything to a server.
 */
#include "workers/store/cluster.h"
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

static void
reply_buf(struct store *st, struct store_waiter *w, uint16_t type,
    struct buf *b)
{
	store_reply(st, w, type, b);
	buf_free(b);
	store_waiter_free(w);
}

static void
fail(struct store *st, struct store_waiter *w, int err, const char *msg)
{
	store_reply_error(st, w, err, msg);
	store_waiter_free(w);
}

static void
to_leader(struct store *st, struct store_waiter *w)
{
	const char *leader = store_leader_addr(st);
	if (leader[0] && !store_is_leader(st))
		rpc_forward(st, w, leader);
	else
		rpc_hold(st, w);
}

static void
answer_conf(struct store *st, struct store_waiter *w)
{
	const struct rft_conf *c = rft_conf(st->raft);
	struct buf items, one, out;
	struct proto_str strs[RFT_SERVERS_MAX];
	size_t offs[RFT_SERVERS_MAX + 1];
	buf_init(&items);
	buf_init(&one);
	buf_init(&out);
	for (unsigned i = 0; i < c->n; i++) {
		const struct cl_member *m = cluster_member_by_raft_id(st,
		    c->s[i].id);
		const struct cl_health *h = cluster_health(st, c->s[i].id);
		if (m == NULL)
			m = cluster_member_by_addr(st, c->s[i].addr);
		struct proto_op_raft_server s = {
			.id = proto_str_c(c->s[i].name),
			.node = proto_str_c(m ? m->name : "(unknown)"),
			.addr = proto_str_c(c->s[i].addr),
			.leader = c->s[i].id == rft_leader(st->raft),
			.protocol = PROTO_STR("3"),
			.voter = c->s[i].role == RFT_VOTER,
			.last_index = c->s[i].id == st->raft_id ?
			    rft_last_index(st->raft) : h ? h->last_index : 0,
		};
		offs[i] = items.len;
		proto_enc_op_raft_server(&items, &s);
	}
	offs[c->n] = items.len;
	for (unsigned i = 0; i < c->n; i++)
		strs[i] = (struct proto_str){ (const char *)items.data + offs[i],
		    (uint32_t)(offs[i + 1] - offs[i]) };
	struct proto_op_raft_conf r = { .servers = { .n = c->n, .strs = strs },
		.index = st->cl->conf_index ? st->cl->conf_index :
		    rft_snapshot_index(st->raft) };
	proto_enc_op_raft_conf(&out, &r);
	buf_free(&items);
	buf_free(&one);
	reply_buf(st, w, PROTO_OP_RAFT_CONF, &out);
}

static const struct rft_server *
find_server(const struct rft_conf *c, const struct proto_op_raft_remove_req *q)
{
	for (unsigned i = 0; i < c->n; i++)
		if (q->id.len ? proto_str_eq(q->id, c->s[i].name) :
		    proto_str_eq(q->addr, c->s[i].addr))
			return &c->s[i];
	return NULL;
}

static void
op_remove(struct store *st, struct store_waiter *w)
{
	struct proto_op_raft_remove_req q;
	char msg[256];
	if (proto_dec_op_raft_remove_req(w->req.data, w->req.len, &q) < 0) {
		fail(st, w, -EBADMSG, "malformed request");
		return;
	}
	const struct rft_server *s = find_server(rft_conf(st->raft), &q);
	if (s == NULL) {
		snprintf(msg, sizeof(msg), "%s \"%.*s\" was not found in the "
		    "Raft configuration", q.id.len ? "id" : "address",
		    (int)(q.id.len ? q.id.len : q.addr.len),
		    q.id.len ? q.id.p : q.addr.p);
		fail(st, w, -ENOENT, msg);
		return;
	}
	uint64_t id = s->id;
	char addr[RFT_ADDR_MAX];
	strlcpy_m(addr, s->addr, sizeof(addr));	/* s moves on change */
	uint64_t cookie = store_pending_add(st, w);
	int r = rft_remove_server(st->raft, id, cookie);
	if (r == 0) {
		log_info("cluster: removing server %s on request", addr);
		return;		/* answered when the change is applied */
	}
	store_pending_take(st, cookie, w);
	if (r == -EBUSY)
		fail(st, w, r, "rpc error: a Raft configuration change is "
		    "in progress; try again");
	else if (r == -RFT_ENOTLEADER)
		to_leader(st, w);
	else
		fail(st, w, r, rft_strerror(-r));
}

static void
op_transfer(struct store *st, struct store_waiter *w)
{
	struct proto_op_raft_transfer_req q;
	struct store_cluster *cl = st->cl;
	const struct rft_conf *c = rft_conf(st->raft);
	uint64_t target = 0;
	char msg[160];
	if (proto_dec_op_raft_transfer_req(w->req.data, w->req.len, &q) < 0) {
		fail(st, w, -EBADMSG, "malformed request");
		return;
	}
	for (unsigned i = 0; q.id.len && i < c->n; i++)
		if (proto_str_eq(q.id, c->s[i].name))
			target = c->s[i].id;
	if (q.id.len && target == 0) {
		snprintf(msg, sizeof(msg), "cannot find replica with id %.*s",
		    (int)q.id.len, q.id.p);
		fail(st, w, -ENOENT, msg);
		return;
	}
	if (cl->transfer_w) {
		fail(st, w, -EBUSY, "a leadership transfer is in progress");
		return;
	}
	int r = rft_transfer(st->raft, target);
	if (r == -ENOENT) {
		fail(st, w, r, "no voter to transfer leadership to");
		return;
	}
	if (r == -EINVAL) {
		fail(st, w, r, "cannot transfer leadership to itself "
		    "or to a nonvoter");
		return;
	}
	if (r < 0) {
		fail(st, w, r, rft_strerror(-r));
		return;
	}
	cl->transfer_w = xmalloc(sizeof(*cl->transfer_w));
	*cl->transfer_w = *w;
	cl->transfer_deadline = mono_ms() + 2 * cl->hb_timeout_ms + 1000;
}

/* A transfer succeeds when this server is no longer the leader. */
void
cluster_transfer_check(struct store *st)
{
	struct store_cluster *cl = st->cl;
	struct store_waiter *w = cl ? cl->transfer_w : NULL;
	if (w == NULL)
		return;
	if (store_is_leader(st) && mono_ms() < cl->transfer_deadline)
		return;
	cl->transfer_w = NULL;
	if (store_is_leader(st))
		store_reply_error(st, w, -ETIMEDOUT,
		    "leadership transfer timed out");
	else
		store_reply_error(st, w, 0, "");
	store_waiter_free(w);
	free(w);
}

static void
answer_autopilot(struct store *st, struct store_waiter *w)
{
	struct buf out;
	buf_init(&out);
	cluster_autopilot_encode(&st->cl->ap, &out);
	reply_buf(st, w, PROTO_AUTOPILOT_CONF, &out);
}

static void
op_autopilot_set(struct store *st, struct store_waiter *w)
{
	struct proto_autopilot_set_req q;
	struct proto_autopilot_conf m;
	if (proto_dec_autopilot_set_req(w->req.data, w->req.len, &q) < 0 ||
	    proto_dec_autopilot_conf(q.conf.p, q.conf.len, &m) < 0) {
		fail(st, w, -EBADMSG, "malformed request");
		return;
	}
	int r = store_propose(st, PROTO_AUTOPILOT_SET_REQ, &w->req, w);
	if (r == 0)
		return;		/* answered by cluster_apply */
	if (r == -EREMOTE || r == -ENOTCONN) {
		to_leader(st, w);
		return;
	}
	fail(st, w, r, strerror(-r));
}

static void
put_server(struct store *st, const struct rft_server *s, struct buf *out)
{
	const struct cl_member *m = cluster_member_by_raft_id(st, s->id);
	const struct cl_health *h = cluster_health(st, s->id);
	bool leader = s->id == st->raft_id;
	char version[64] = "";
	if (m)
		snprintf(version, sizeof(version), "%.*s",
		    (int)strcspn(m->build, ":"), m->build);
	struct proto_autopilot_server a = {
		.id = proto_str_c(s->name),
		.name = proto_str_c(m ? m->name : ""),
		.addr = proto_str_c(s->addr),
		.serf_status = proto_str_c(cluster_status_name(m ? m->status :
		    CL_NONE)),
		.version = proto_str_c(version),
		.leader = leader,
		.last_contact_ms = h ? h->last_contact_ms : UINT64_MAX,
		.last_term = h && h->healthy ? rft_term(st->raft) : 0,
		.last_index = h ? h->last_index : 0,
		.healthy = h && h->healthy,
		.voter = s->role == RFT_VOTER,
		.stable_since_ms = h ? h->stable_since_wall : 0,
		.status = proto_str_c(leader ? "leader" : s->role == RFT_VOTER ?
		    "voter" : "non-voter"),
	};
	proto_enc_autopilot_server(out, &a);
}

/* raft-autopilot: healthy when every server is; the failure tolerance is
 * how many healthy voters can fail with a quorum left. */
static void
answer_health(struct store *st, struct store_waiter *w)
{
	const struct rft_conf *c = rft_conf(st->raft);
	struct proto_str strs[RFT_SERVERS_MAX];
	size_t offs[RFT_SERVERS_MAX + 1];
	unsigned voters = rft_conf_voters(c), hv = 0;
	bool healthy = true;
	struct buf items, out;
	buf_init(&items);
	buf_init(&out);
	cluster_health_update(st);
	for (unsigned i = 0; i < c->n; i++) {
		const struct cl_health *h = cluster_health(st, c->s[i].id);
		bool ok = h && h->healthy;
		healthy = healthy && ok;
		hv += ok && c->s[i].role == RFT_VOTER;
		offs[i] = items.len;
		put_server(st, &c->s[i], &items);
	}
	offs[c->n] = items.len;
	for (unsigned i = 0; i < c->n; i++)
		strs[i] = (struct proto_str){ (const char *)items.data + offs[i],
		    (uint32_t)(offs[i + 1] - offs[i]) };
	unsigned quorum = voters / 2 + 1;
	struct proto_autopilot_health r = { .healthy = healthy,
		.failure_tolerance = hv > quorum ? hv - quorum : 0,
		.leader = proto_str_c(st->w->cfg->node_id),
		.servers = { .n = c->n, .strs = strs } };
	proto_enc_autopilot_health(&out, &r);
	buf_free(&items);
	reply_buf(st, w, PROTO_AUTOPILOT_HEALTH, &out);
}

static bool
wants_stale(const struct store_waiter *w)
{
	struct proto_op_raft_conf_req q;	/* same layout as autopilot's */
	return proto_dec_op_raft_conf_req(w->req.data, w->req.len, &q) == 0 &&
	    q.stale;
}

void
cluster_op_request(struct store *st, struct store_waiter *w)
{
	bool leader = store_is_leader(st);
	if (!st->server || st->raft == NULL || st->cl == NULL) {
		rpc_forward(st, w, NULL);
		return;
	}
	switch (w->type) {
	case PROTO_OP_RAFT_CONF_REQ:
		if (leader || wants_stale(w))
			answer_conf(st, w);
		else
			to_leader(st, w);
		return;
	case PROTO_AUTOPILOT_CONF_REQ:
		if (leader || wants_stale(w))
			answer_autopilot(st, w);
		else
			to_leader(st, w);
		return;
	case PROTO_OP_RAFT_REMOVE_REQ:
		if (leader)
			op_remove(st, w);
		else
			to_leader(st, w);
		return;
	case PROTO_OP_RAFT_TRANSFER_REQ:
		if (leader)
			op_transfer(st, w);
		else
			to_leader(st, w);
		return;
	case PROTO_AUTOPILOT_SET_REQ:
		op_autopilot_set(st, w);
		return;
	case PROTO_AUTOPILOT_HEALTH_REQ:
		if (leader)
			answer_health(st, w);
		else
			to_leader(st, w);
		return;
	}
	fail(st, w, -ENOTSUP, "unknown operator request");
}

void
cluster_on_op(struct worker *wk, unsigned from, struct ipc_chan *ch,
    struct ipc_msg *m)
{
	struct store_waiter w;
	store_waiter_from(wk, from, m, &w);
	cluster_op_request(wk->app, &w);
}
