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
#include "workers/store/rpc.h"
#include "workers/store/store.h"
#include "workers/store/cluster.h"
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
	char addr[RFT_ADDR_MAX];
	char tried[FWD_TRIES][RFT_ADDR_MAX];
};

static bool
read_only(uint16_t type)
{
	switch (type) {
	case PROTO_KV_READ_REQ:
	case PROTO_STATUS_LEADER_REQ:
	case PROTO_STATUS_PEERS_REQ:
	case PROTO_OP_RAFT_CONF_REQ:
	case PROTO_AUTOPILOT_CONF_REQ:
	case PROTO_AUTOPILOT_HEALTH_REQ:
		return true;
	}
	return false;
}

/* Under the asker's own deadline, less for each hop already taken. */
static unsigned
fwd_timeout(const struct fwd *f)
{
	unsigned t = RPC_CALL_TIMEOUT_MS - 500 * f->hops;
	struct proto_kv_read_req q;
	if (f->w.type == PROTO_KV_READ_REQ &&
	    proto_dec_kv_read_req(f->w.req.data, f->w.req.len, &q) == 0 &&
	    q.min_index > 0 && q.wait_ms > 0)
		t = (unsigned)MIN(q.wait_ms, 3600000u) +
		    RPC_BLOCKING_MARGIN_MS - 500 * f->hops;
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
	if (addr)
		strlcpy_m(f->addr, addr, sizeof(f->addr));
	fwd_send(f);
}
