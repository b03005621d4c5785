/*
 * KV requests from the http worker.  Reads: stale ones are served from
 * this server's state; default ones by the leader while its lease holds
 * (else after a ReadIndex round); consistent ones after a ReadIndex round.
 * A read with min_index parks on the key (or prefix) until a write there
 * moves the result's index past min_index or the wait ends.  Writes are
 * proposed to Raft and answered when applied.
 */
#include "workers/store/store.h"
#include "workers/store/rpc.h"
#include "workers/common/worker.h"
#include "lib/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void
store_waiter_free(struct store_waiter *w)
{
	buf_free(&w->req);
}

void
store_reply(struct store *st, const struct store_waiter *w, uint16_t type,
    const struct buf *payload)
{
	struct worker *wk = st->w;
	/* From another server (clustering): back over the server port. */
	if (rpc_waiter(w)) {
		rpc_reply(st, w, type, payload);
		return;
	}
	if (w->peer >= PROC_MAX)
		return;
	struct ipc_chan *ch = wk->peer[w->peer];
	/* The asker was restarted meanwhile: nobody waits for this answer. */
	if (ch == NULL || wk->peer_epoch[w->peer] != w->epoch || w->reqid == 0)
		return;
	struct ipc_msg req = { .hdr = { .reqid = w->reqid } };
	ipc_reply(ch, &req, type, payload->data, payload->len);
}

void
store_reply_error(struct store *st, const struct store_waiter *w, int code,
    const char *msg)
{
	struct buf b;
	buf_init(&b);
	proto_enc_result_msg(&b, code, msg);
	store_reply(st, w, PROTO_RESULT, &b);
	buf_free(&b);
}

/* ---- reads ------------------------------------------------------------ */

struct parked {
	struct store *st;
	struct store_waiter w;
	uint64_t deadline_ms;
};

/* The items of a KV_READ: concatenated bytes plus where each starts. */
struct items {
	struct buf data;
	size_t *offs;
	uint32_t n, cap;
};

static void
item_start(struct items *it)
{
	if (it->n + 1 >= it->cap) {
		it->cap = it->cap ? it->cap * 2 : 64;
		it->offs = xrealloc(it->offs, it->cap * sizeof(*it->offs));
	}
	it->offs[it->n++] = it->data.len;
}

/* Keys mode: each key once, cut after the separator past the prefix. */
static void
collect_keys(struct store *st, const struct proto_kv_read_req *q,
    struct items *it)
{
	const char *prev = NULL;
	uint32_t prevlen = 0;
	struct kv_iter iter;
	for (const struct kv_entry *e = kv_seek(&st->kv, &iter, q->key.p,
	    q->key.len); e && kv_has_prefix(e, q->key.p, q->key.len);
	    e = kv_next(&iter)) {
		uint32_t keylen;
		const char *key = kv_entry_key(e, &keylen);
		uint32_t len = keylen;
		if (q->separator.len) {
			const char *rest = key + q->key.len;
			uint32_t restlen = keylen - q->key.len;
			const char *hit = memmem(rest, restlen, q->separator.p,
			    q->separator.len);
			if (hit)
				len = (uint32_t)(hit - key) + q->separator.len;
		}
		if (prev && len == prevlen && memcmp(prev, key, len) == 0)
			continue;
		prev = key;
		prevlen = len;
		item_start(it);
		buf_add(&it->data, key, len);
	}
}

static void
collect_entries(struct store *st, const struct proto_kv_read_req *q,
    struct items *it)
{
	if (q->mode == 0) {
		struct kv_entry *e = kv_get(&st->kv, q->key.p, q->key.len);
		if (e) {
			item_start(it);
			store_kv_entry_encode(&it->data, e);
		}
		return;
	}
	struct kv_iter iter;
	for (const struct kv_entry *e = kv_seek(&st->kv, &iter, q->key.p,
	    q->key.len); e && kv_has_prefix(e, q->key.p, q->key.len);
	    e = kv_next(&iter)) {
		item_start(it);
		store_kv_entry_encode(&it->data, e);
	}
}

static uint64_t
result_index(struct store *st, const struct proto_kv_read_req *q)
{
	if (q->mode == 0)
		return kv_index_key(&st->kv);
	return kv_index_prefix(&st->kv, q->key.p, q->key.len);
}

static void
answer_read(struct store *st, const struct store_waiter *w,
    const struct proto_kv_read_req *q, uint64_t index)
{
	struct items it = { 0 };
	struct buf out;
	buf_init(&it.data);
	buf_init(&out);
	if (q->mode == 2)
		collect_keys(st, q, &it);
	else
		collect_entries(st, q, &it);
	struct proto_str *strs = xcalloc(it.n + 1, sizeof(*strs));
	for (uint32_t i = 0; i < it.n; i++) {
		size_t end = i + 1 < it.n ? it.offs[i + 1] : it.data.len;
		strs[i].p = (const char *)it.data.data + it.offs[i];
		strs[i].len = (uint32_t)(end - it.offs[i]);
	}
	struct proto_kv_read r = { .index = index,
		.known_leader = st->raft && rft_leader(st->raft) != 0,
		.last_contact_ms = store_last_contact_ms(st),
		.items = { .n = it.n, .strs = strs } };
	proto_enc_kv_read(&out, &r);
	store_reply(st, w, PROTO_KV_READ, &out);
	free(strs);
	free(it.offs);
	buf_free(&it.data);
	buf_free(&out);
}

static void park_read(struct store *st, struct store_waiter *w,
    const struct proto_kv_read_req *q, uint64_t deadline_ms);

static void
parked_cb(void *arg, int why)
{
	struct parked *pk = arg;
	struct proto_kv_read_req q;
	struct store *st = pk->st;
	if (why == -ECANCELED ||
	    proto_dec_kv_read_req(pk->w.req.data, pk->w.req.len, &q) < 0) {
		store_waiter_free(&pk->w);
		free(pk);
		return;
	}
	uint64_t index = result_index(st, &q);
	if (why == 0 && index <= q.min_index && mono_ms() < pk->deadline_ms) {
		/* Woken, but the result has not moved past min_index. */
		park_read(st, &pk->w, &q, pk->deadline_ms);
	} else
		answer_read(st, &pk->w, &q, index);
	store_waiter_free(&pk->w);
	free(pk);
}

static void
park_read(struct store *st, struct store_waiter *w,
    const struct proto_kv_read_req *q, uint64_t deadline_ms)
{
	struct parked *pk = xcalloc(1, sizeof(*pk));
	pk->st = st;
	pk->w = *w;
	pk->deadline_ms = deadline_ms;
	buf_init(&pk->w.req);
	buf_add(&pk->w.req, w->req.data, w->req.len);
	uint64_t now = mono_ms();
	double left = deadline_ms > now ? (double)(deadline_ms - now) / 1000 : 0;
	/* q points into w->req: re-decode from the copy for the key. */
	struct proto_kv_read_req qq;
	proto_dec_kv_read_req(pk->w.req.data, pk->w.req.len, &qq);
	if (watch_park(&st->watches, q->mode == 0 ? WATCH_KEY : WATCH_PREFIX,
	    qq.key.p, qq.key.len, left, parked_cb, pk) == NULL) {
		store_reply_error(st, w, -EBUSY,
		    "too many blocking queries in progress");
		store_waiter_free(&pk->w);
		free(pk);
	}
}

/* Serve a read from local state now (consistency already settled). */
void
store_kv_read(struct store *st, struct store_waiter *w)
{
	struct proto_kv_read_req q;
	if (proto_dec_kv_read_req(w->req.data, w->req.len, &q) < 0) {
		store_reply_error(st, w, -EBADMSG, "malformed KV read");
		return;
	}
	uint64_t index = result_index(st, &q);
	if (q.min_index > 0 && index <= q.min_index && q.wait_ms > 0) {
		park_read(st, w, &q, mono_ms() + q.wait_ms);
		return;
	}
	answer_read(st, w, &q, index);
}

/* ---- the IPC handlers ------------------------------------------------- */

void
store_waiter_from(struct worker *wk, unsigned from, const struct ipc_msg *m,
    struct store_waiter *w)
{
	w->peer = from;
	w->epoch = wk->peer_epoch[from];
	w->reqid = m->hdr.reqid;
	w->type = m->hdr.type;
	buf_init(&w->req);
	buf_add(&w->req, m->data, m->len);
}

/*
 * Clustering (workers/store/rpc.h): a request this server cannot serve
 * goes to the leader (-EREMOTE: one is known) or waits for one; a client
 * agent, which runs no Raft, sends everything to a server.  Takes w.
 */
static void
route(struct store *st, struct store_waiter *w, int r)
{
	if (!st->server) {
		rpc_forward(st, w, NULL);
		return;
	}
	if (r == -EREMOTE) {
		rpc_forward(st, w, store_leader_addr(st));
		return;
	}
	rpc_hold(st, w);	/* until a leader is elected, briefly */
}

/*
 * Whether this server answers a read from its own state: ?stale (unless
 * it has not heard from a leader within ?max_stale, when it is served as
 * a default read, as Consul's), or a default read on the leader's lease.
 */
static bool
serve_here(struct store *st, uint8_t consistency, uint64_t max_stale_ms)
{
	if (consistency == 1)
		return !(max_stale_ms &&
		    store_last_contact_ms(st) > max_stale_ms);
	return consistency == 0 && store_is_leader(st) &&
	    rft_lease_valid(st->raft, mono_ms());
}

typedef void store_read_fn(struct store *st, struct store_waiter *w);

/* Serve a read here when its consistency allows, after a ReadIndex round
 * on the leader, else forwarded (route); takes w. */
static void
serve_read(struct store *st, struct store_waiter *w, uint8_t consistency,
    uint64_t max_stale_ms, store_read_fn *fn)
{
	if (st->raft == NULL) {
		route(st, w, -ENOTCONN);
		return;
	}
	if (serve_here(st, consistency, max_stale_ms)) {
		fn(st, w);
		store_waiter_free(w);
		return;
	}
	int r = store_read_index(st, w);
	if (r < 0)
		route(st, w, r);
	/* else the waiter went to the pending map */
}

void
store_kv_read_req(struct store *st, struct store_waiter *w)
{
	struct proto_kv_read_req q;
	if (proto_dec_kv_read_req(w->req.data, w->req.len, &q) < 0) {
		store_reply_error(st, w, -EBADMSG, "malformed KV read");
		store_waiter_free(w);
		return;
	}
	serve_read(st, w, q.consistency, q.max_stale_ms, store_kv_read);
}

/* A read-only transaction from local state (consistency settled). */
void
store_kv_txn_read(struct store *st, struct store_waiter *w)
{
	struct proto_kv_txn_read_req q;
	if (proto_dec_kv_txn_read_req(w->req.data, w->req.len, &q) < 0) {
		store_reply_error(st, w, -EBADMSG, "malformed transaction");
		return;
	}
	store_fsm_kv_txn(st, st->applied, (const uint8_t *)q.txn.p,
	    q.txn.len, w);
}

/*
 * Consul's Txn.Read: a transaction of reads only changes nothing, so it
 * takes no log entry and is served like a KV read, ?stale included: here
 * when the consistency allows, after a ReadIndex round for ?consistent,
 * else by the leader.
 */
void
store_kv_txn_read_req(struct store *st, struct store_waiter *w)
{
	struct proto_kv_txn_read_req q;
	if (proto_dec_kv_txn_read_req(w->req.data, w->req.len, &q) < 0 ||
	    !store_kv_txn_read_only((const uint8_t *)q.txn.p, q.txn.len)) {
		store_reply_error(st, w, -EBADMSG,
		    "malformed read-only transaction");
		store_waiter_free(w);
		return;
	}
	serve_read(st, w, q.consistency, q.max_stale_ms, store_kv_txn_read);
}

void
store_kv_txn_req(struct store *st, struct store_waiter *w)
{
	if (st->raft == NULL) {
		route(st, w, -ENOTCONN);
		return;
	}
	/* A read-only transaction is a read (default consistency: the leader
	 * on its lease); it changes nothing, so it needs no log entry. */
	if (store_kv_txn_read_only(w->req.data, w->req.len) &&
	    store_is_leader(st) && rft_lease_valid(st->raft, mono_ms())) {
		store_fsm_kv_txn(st, st->applied, w->req.data, w->req.len, w);
		store_waiter_free(w);
		return;
	}
	int r = store_propose(st, PROTO_KV_TXN_REQ, &w->req, w);
	if (r < 0)
		route(st, w, r);
}

void
store_on_kv_read(struct worker *wk, unsigned from, struct ipc_chan *ch,
    struct ipc_msg *m)
{
	struct store_waiter w;
	store_waiter_from(wk, from, m, &w);
	store_kv_read_req(wk->app, &w);
}

void
store_on_kv_txn_read(struct worker *wk, unsigned from, struct ipc_chan *ch,
    struct ipc_msg *m)
{
	struct store_waiter w;
	store_waiter_from(wk, from, m, &w);
	store_kv_txn_read_req(wk->app, &w);
}

void
store_on_kv_txn(struct worker *wk, unsigned from, struct ipc_chan *ch,
    struct ipc_msg *m)
{
	struct store_waiter w;
	store_waiter_from(wk, from, m, &w);
	store_kv_txn_req(wk->app, &w);
}
