/*
 * /v1/snapshot on the store side.  Save: the state as this server has
 * applied it (the leader's for default consistency, any server's with
 * ?stale).  Restore: the body is checked first, then replicated as one
 * Raft command (STATE_RESTORE) that replaces the whole state on every
 * server at the same index, waking every parked query.  As Consul's
 * Snapshot RPC, an agent that cannot serve either (a follower, without
 * ?stale for a save; a client agent, always) forwards it to the leader
 * or a server over the server port (rpc_forward.c); both messages are
 * one frame each way, as over IPC (at most 16 MiB of state).
 */
#include "workers/store/store.h"
#include "workers/store/rpc.h"
#include "workers/common/worker.h"
#include "lib/log.h"

#include <errno.h>

/* Serve a save here (?stale on any server, else on the leader), or
 * forward it as Consul's Snapshot RPC does; takes w. */
void
store_snapshot_save_req(struct store *st, struct store_waiter *w)
{
	struct proto_snapshot_save_req q = { 0 };
	proto_dec_snapshot_save_req(w->req.data, w->req.len, &q);
	if (st->raft == NULL || (q.consistency != 1 && !store_is_leader(st))) {
		rpc_route(st, w, st->raft && store_leader_addr(st)[0] ?
		    -EREMOTE : -ENOTCONN);
		return;
	}
	struct buf body, out;
	buf_init(&body);
	buf_init(&out);
	store_snapshot_body(st, &body);
	struct proto_snapshot s = { .index = st->applied ? st->applied : 1,
		.term = rft_term(st->raft),
		.state = { (const char *)body.data, (uint32_t)body.len } };
	proto_enc_snapshot(&out, &s);
	store_reply(st, w, PROTO_SNAPSHOT, &out);
	store_waiter_free(w);
	buf_free(&body);
	buf_free(&out);
}

/* Check the state, then replicate it from the leader (forwarded there
 * by a follower or a client agent); takes w. */
void
store_state_restore_req(struct store *st, struct store_waiter *w)
{
	struct proto_state_restore q;
	if (proto_dec_state_restore(w->req.data, w->req.len, &q) < 0 ||
	    store_snapshot_validate((const uint8_t *)q.state.p,
	    q.state.len) < 0) {
		store_reply_error(st, w, -EBADMSG,
		    "Error restoring snapshot: the state in it is malformed");
		store_waiter_free(w);
		return;
	}
	int r = st->raft ? store_propose(st, PROTO_STATE_RESTORE, &w->req, w) :
	    -ENOTCONN;
	if (r == -EREMOTE || r == -ENOTCONN)
		rpc_route(st, w, r);
	else if (r < 0) {
		store_reply_error(st, w, r, "Error restoring snapshot");
		store_waiter_free(w);
	}
	/* else the waiter went to the pending map */
}

void
store_on_snapshot_save(struct worker *wk, unsigned from, struct ipc_chan *ch,
    struct ipc_msg *m)
{
	struct store_waiter w;
	store_waiter_from(wk, from, m, &w);
	store_snapshot_save_req(wk->app, &w);
}

void
store_on_state_restore(struct worker *wk, unsigned from, struct ipc_chan *ch,
    struct ipc_msg *m)
{
	struct store_waiter w;
	store_waiter_from(wk, from, m, &w);
	store_state_restore_req(wk->app, &w);
}

void
store_apply_restore(struct store *st, uint64_t index, const uint8_t *p,
    size_t len, struct store_waiter *w)
{
	struct proto_state_restore q;
	int r = proto_dec_state_restore(p, len, &q);
	if (r == 0)
		r = store_snapshot_restore(st, (const uint8_t *)q.state.p,
		    q.state.len);
	if (r == 0) {
		/* Indexes move forward past the restore, never backwards. */
		st->kv.max_index = index;
		watch_notify_all(&st->watches);
		log_info("state restored from a snapshot at index %llu",
		    (unsigned long long)index);
	} else
		log_warnx("raft entry %llu: snapshot restore failed: %s",
		    (unsigned long long)index, strerror(-r));
	if (w)
		store_reply_error(st, w, r, r ? "Error restoring snapshot" : "");
}
