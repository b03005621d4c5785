/*
 * Forwarding a store request to another server (Consul's ForwardRPC): a
 * follower sends writes and leader reads to the leader; a client agent,
 * which runs no Raft, sends everything to a server of its datacenter and
 * tries another one when a server cannot be reached.  The answer (or the
 * remote error, a RESULT) is relayed to the original waiter unchanged;
 * when there is none, the waiter gets an error that says why.  Nothing is
 * dropped silently: every path ends in store_reply or store_reply_error.
 *
 * A write is retried on another server only when it provably never left
 * this process (-ENOTCONN); a read is retried on any transport failure.
 * Blocking reads keep their wait: the request's deadline is the wait plus
 * a margin, so the server answers before we give up on it.
 */
#include "workers/store/rpc_int.h"
#include "workers/store/store.h"
#include "workers/store/cluster.h"
#include "workers/common/worker.h"
#include "supervisor/config.h"
#include "proto/proto.h"
#include "lib/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FWD_TRIES 3

struct fwd {
	struct store *st;
	struct store_waiter w;
	bool any;			/* a client agent: any server */
	unsigned hops;
	unsigned tries;
	uint64_t deadline;		/* of the hold it came from, or 0 */
	char addr[RFT_ADDR_MAX];
	char tried[FWD_TRIES][RFT_ADDR_MAX];
};

static bool
read_only(uint16_t type)
{
	switch (type) {
	case PROTO_KV_READ_REQ:
	case PROTO_KV_TXN_READ_REQ:
	case PROTO_CAT_READ_REQ:
	case PROTO_STATUS_LEADER_REQ:
	case PROTO_STATUS_PEERS_REQ:
	case PROTO_OP_RAFT_CONF_REQ:
	case PROTO_AUTOPILOT_CONF_REQ:
	case PROTO_AUTOPILOT_HEALTH_REQ:
	case PROTO_DATACENTERS_REQ:
	case PROTO_SNAPSHOT_SAVE_REQ:
		return true;
	}
	return false;
}

/* Under the asker's own deadline, less for each hop already taken. */
static unsigned
fwd_timeout(const struct fwd *f)
{
	unsigned t = RPC_CALL_TIMEOUT_MS - 500 * f->hops;
	uint64_t wait = 0;
	struct proto_kv_read_req q;
	struct proto_cat_read_req cq;
	if (f->w.type == PROTO_KV_READ_REQ &&
	    proto_dec_kv_read_req(f->w.req.data, f->w.req.len, &q) == 0 &&
	    q.min_index > 0)
		wait = q.wait_ms;
	else if (f->w.type == PROTO_CAT_READ_REQ &&
	    proto_dec_cat_read_req(f->w.req.data, f->w.req.len, &cq) == 0 &&
	    cq.min_index > 0)
		wait = cq.wait_ms;
	if (wait > 0)
		t = (unsigned)MIN(wait, 3600000u) + RPC_BLOCKING_MARGIN_MS -
		    500 * f->hops;
	/* The whole state, serialized or replicated: the http worker waits
	 * 60 s for these. */
	if (f->w.type == PROTO_SNAPSHOT_SAVE_REQ ||
	    f->w.type == PROTO_STATE_RESTORE)
		return RPC_SNAPSHOT_TIMEOUT_MS - 500 * f->hops;
	/* After a hold, what is left of the asker's patience. */
	uint64_t now = mono_ms();
	if (f->deadline && wait == 0)
		t = (unsigned)MIN(t, (f->deadline > now ? f->deadline - now :
		    0) + 1000);
	return t;
}

static void
fwd_free(struct fwd *f)
{
	store_waiter_free(&f->w);
	free(f);
}

static void
fwd_fail(struct fwd *f, int err, const char *addr)
{
	char msg[256];
	if (err == -ETIMEDOUT)
		snprintf(msg, sizeof(msg), "rpc error: timed out waiting for "
		    "server %s", addr);
	else if (err == -ECONNRESET)
		snprintf(msg, sizeof(msg), "rpc error: connection to server "
		    "%s lost; the request may or may not have been applied",
		    addr);
	else
		snprintf(msg, sizeof(msg), "rpc error: failed to reach server "
		    "%s: %s", addr, strerror(-err));
	store_reply_error(f->st, &f->w, err, msg);
	fwd_free(f);
}

static void fwd_send(struct fwd *f);
static void hold_add(struct store *st, struct store_waiter *w,
    uint64_t deadline, const char *msg);

static void
fwd_done(void *arg, int err, uint16_t type, const uint8_t *body, size_t len)
{
	struct fwd *f = arg;
	const char *addr = f->tried[(f->tries - 1) % FWD_TRIES];
	if (err == 0) {
		struct buf b = { (uint8_t *)body, len, len };
		store_reply(f->st, &f->w, type, &b);
		fwd_free(f);
		return;
	}
	log_debug("rpc: forwarding 0x%04x to %s: %s", f->w.type, addr,
	    strerror(-err));
	/* The leader we knew is gone (or going): wait for the next one. */
	if (!f->any && err != -ECANCELED && err != -ETIMEDOUT &&
	    (err == -ENOTCONN || read_only(f->w.type))) {
		char msg[200];
		snprintf(msg, sizeof(msg), "rpc error: failed to reach the "
		    "leader at %s: %s", addr, strerror(-err));
		hold_add(f->st, &f->w, f->deadline, msg);
		fwd_free(f);
		return;
	}
	if (f->any && f->tries < FWD_TRIES && err != -ECANCELED &&
	    (err == -ENOTCONN || read_only(f->w.type))) {
		cluster_server_failed(f->st, addr);
		fwd_send(f);
		return;
	}
	fwd_fail(f, err, addr);
}

static void
fwd_send(struct fwd *f)
{
	const char *addr = f->addr;
	if (f->any) {
		const char *tried[FWD_TRIES];
		for (unsigned i = 0; i < f->tries; i++)
			tried[i] = f->tried[i];
		addr = cluster_pick_server(f->st, tried, f->tries);
		if (addr == NULL) {
			if (f->tries)
				fwd_fail(f, -ENOTCONN, f->tried[f->tries - 1]);
			else {
				store_reply_error(f->st, &f->w, -ENOTCONN,
				    "No known Consul servers");
				fwd_free(f);
			}
			return;
		}
	}
	strlcpy_m(f->tried[f->tries % FWD_TRIES], addr, RFT_ADDR_MAX);
	f->tries++;
	if (rpc_call(f->st, addr, f->w.type, f->w.req.data, f->w.req.len,
	    f->hops, fwd_timeout(f), fwd_done, f) < 0)
		fwd_fail(f, -EINVAL, addr);
}

void
rpc_forward(struct store *st, struct store_waiter *w, const char *addr)
{
	unsigned hops = rpc_waiter_hops(w) + 1;
	if (hops > RPC_MAX_HOPS) {
		store_reply_error(st, w, -ELOOP,
		    "rpc error: request forwarded too many times");
		store_waiter_free(w);
		return;
	}
	struct fwd *f = xcalloc(1, sizeof(*f));
	f->st = st;
	f->w = *w;
	buf_init(&w->req);	/* ownership moved */
	f->any = addr == NULL;
	f->hops = hops;
	f->deadline = st->rpc ? st->rpc->cur_deadline : 0;
	if (addr)
		strlcpy_m(f->addr, addr, sizeof(f->addr));
	fwd_send(f);
}

void
rpc_route(struct store *st, struct store_waiter *w, int r)
{
	if (!st->server)
		rpc_forward(st, w, NULL);
	else if (r == -EREMOTE)
		rpc_forward(st, w, store_leader_addr(st));
	else
		rpc_hold(st, w);	/* until a leader is elected, briefly */
}

/* ---- the hold ------------------------------------------------------------ */

struct rpc_held {
	struct store_waiter w;
	uint64_t deadline;
	char msg[200];
	struct rpc_held *next;
};

/* The deadline of a hold that starts now (Consul's rpc_hold_timeout,
 * capped by what the asker waits). */
static uint64_t
hold_deadline(struct store *st, const struct store_waiter *w)
{
	const struct agent_config *c = st->w->cfg;
	uint64_t budget = RPC_HOLD_MAX_MS - 500 * rpc_waiter_hops(w);
	uint64_t cfg = c && c->performance.rpc_hold_timeout > 0 ?
	    (uint64_t)(c->performance.rpc_hold_timeout / 1000000) : 0;
	return mono_ms() + MIN(budget, cfg);
}

/* deadline 0: the hold starts now. */
static void
hold_add(struct store *st, struct store_waiter *w, uint64_t deadline,
    const char *msg)
{
	if (deadline == 0)
		deadline = hold_deadline(st, w);
	if (st->rpc == NULL || mono_ms() >= deadline) {
		store_reply_error(st, w, -ENOTCONN, msg);
		store_waiter_free(w);
		return;
	}
	struct rpc_held *h = xcalloc(1, sizeof(*h));
	h->w = *w;
	buf_init(&w->req);	/* ownership moved */
	h->deadline = deadline;
	strlcpy_m(h->msg, msg, sizeof(h->msg));
	h->next = st->rpc->held;
	st->rpc->held = h;
}

void
rpc_hold(struct store *st, struct store_waiter *w)
{
	hold_add(st, w, st->rpc ? st->rpc->cur_deadline : 0,
	    "No cluster leader");
}

void
rpc_hold_tick(struct store *st)
{
	if (st->rpc == NULL || st->rpc->held == NULL)
		return;
	struct rpc_held *h = st->rpc->held, *next;
	bool leader = store_leader_addr(st)[0] != '\0';
	uint64_t now = mono_ms();
	st->rpc->held = NULL;	/* re-runs may hold again: a fresh list */
	for (; h; h = next) {
		next = h->next;
		if (now >= h->deadline) {
			store_reply_error(st, &h->w, -ENOTCONN, h->msg);
			store_waiter_free(&h->w);
		} else if (leader) {
			st->rpc->cur_deadline = h->deadline;
			rpc_dispatch(st, &h->w);
			st->rpc->cur_deadline = 0;
		} else {
			h->next = st->rpc->held;
			st->rpc->held = h;
			continue;
		}
		free(h);
	}
}

void
rpc_hold_stop(struct store *st)
{
	struct rpc_held *h, *next;
	for (h = st->rpc->held; h; h = next) {
		next = h->next;
		store_reply_error(st, &h->w, -ECANCELED, "the agent is stopping");
		store_waiter_free(&h->w);
		free(h);
	}
	st->rpc->held = NULL;
}
