/*
 * The catalog in the store worker: requests from http (and checks, whose
 * anti-entropy writes the same way; and dns, which reads), Raft commands,
 * reads, blocking, snapshots.  Tables: catalog.c; reads: catalog_query.c.
 *
 * Writes are validated here (Consul's Catalog.Register checks), proposed,
 * applied by every server in log order (store_catalog_apply) and answered
 * when applied.  Reads: ?stale from local state (unless max_stale is
 * exceeded); default ones by the leader while its lease holds; the others
 * go through the log as a CAT_READ_REQ command and are answered when it
 * is applied - linearizable like a ReadIndex round, at the price of a log
 * entry (the store's ReadIndex completion serves KV reads only).
 *
 * A read with ?index parks on its watch key (catalog_query.c) in the
 * catalog's own watch set, so no KV write ever wakes it; after a write
 * the changed keys are fired once the write is complete.
 */
#include "workers/store/store.h"
#include "workers/store/catalog_store.h"
#include "workers/store/catalog_query.h"
#include "workers/store/raft_store.h"
#include "workers/store/rpc.h"
#include "workers/common/worker.h"
#include "lib/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define CAT_MAX_PARKED 20000
#define CAT_MAX_OBSERVERS 8

static struct {
	bool ready;
	struct cat_db db;
	struct watch_set watches;
	struct {
		store_catalog_observer_fn *fn;
		void *arg;
	} obs[CAT_MAX_OBSERVERS];
	unsigned nobs;
	bool abandon;	/* a restore wakes everyone: answer, never re-park */
} cat;

static void notify_watchers(void *arg, uint64_t index, enum cat_change what,
    const char *name);

struct cat_db *
store_catalog(struct store *st)
{
	if (!cat.ready) {
		cat.ready = true;
		cat_db_init(&cat.db);
		watch_set_init(&cat.watches, st->w->loop, CAT_MAX_PARKED);
		store_catalog_observe(st, notify_watchers, NULL);
	}
	return &cat.db;
}

int
store_catalog_observe(struct store *st, store_catalog_observer_fn *fn,
    void *arg)
{
	store_catalog(st);
	if (cat.nobs == CAT_MAX_OBSERVERS)
		return -ENOSPC;
	cat.obs[cat.nobs].fn = fn;
	cat.obs[cat.nobs++].arg = arg;
	return 0;
}

/* ---- changes: collected while a write applies, told once it is done --- */

struct change {
	enum cat_change what;
	char *name;
};

struct changes {
	struct change *v;
	unsigned n, cap;
};

static void
collect(void *arg, enum cat_change what, const char *name)
{
	struct changes *c = arg;
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 16;
		c->v = xrealloc(c->v, c->cap * sizeof(*c->v));
	}
	c->v[c->n].what = what;
	c->v[c->n++].name = name ? xstrdup(name) : NULL;
}

static int
change_cmp(const void *a, const void *b)
{
	const struct change *x = a, *y = b;
	if (x->what != y->what)
		return x->what < y->what ? -1 : 1;
	return cat_keycmp(x->name ? x->name : "", y->name ? y->name : "");
}

static void
flush(uint64_t index, struct changes *c)
{
	if (c->n)
		qsort(c->v, c->n, sizeof(*c->v), change_cmp);
	for (unsigned i = 0; i < c->n; i++) {
		if (i == 0 || change_cmp(&c->v[i - 1], &c->v[i]) != 0)
			for (unsigned o = 0; o < cat.nobs; o++)
				cat.obs[o].fn(cat.obs[o].arg, index, c->v[i].what,
				    c->v[i].name);
	}
	for (unsigned i = 0; i < c->n; i++)
		free(c->v[i].name);
	free(c->v);
	memset(c, 0, sizeof(*c));
}

/* The first observer: wake the blocking queries on what changed.  Every
 * write moves a table index, so "*" (anything) rides on those. */
static void
notify_watchers(void *arg, uint64_t index, enum cat_change what,
    const char *name)
{
	static const char *const table[] = { [CAT_CH_NODES] = "N",
		[CAT_CH_SERVICES] = "S", [CAT_CH_CHECKS] = "C" };
	if (what == CAT_CH_NODE || what == CAT_CH_SERVICE) {
		char *k = xasprintf("%s%s", what == CAT_CH_NODE ? "n:" : "s:",
		    name);
		for (char *p = k; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
		watch_notify(&cat.watches, k, (uint32_t)strlen(k));
		free(k);
		return;
	}
	watch_notify(&cat.watches, table[what], 1);
	watch_notify(&cat.watches, "*", 1);
}

/* ---- reads -------------------------------------------------------------- */

struct parked {
	struct store *st;
	struct store_waiter w;
	uint64_t deadline_ms;
};

static void
answer(struct store *st, const struct store_waiter *w,
    const struct proto_cat_read_req *q)
{
	struct cat_result r;
	struct buf out;
	if (cat_query(store_catalog(st), q, &r) < 0) {
		cat_result_free(&r);
		store_reply_error(st, w, -EINVAL, "malformed catalog query");
		return;
	}
	buf_init(&out);
	struct proto_cat_read m = { .index = r.index,
		.known_leader = st->raft && rft_leader(st->raft) != 0,
		.last_contact_ms = store_last_contact_ms(st), .found = r.found,
		.node = { (const char *)r.node.data, (uint32_t)r.node.len },
		.items = cat_list_strv(&r.items) };
	proto_enc_cat_read(&out, &m);
	store_reply(st, w, PROTO_CAT_READ, &out);
	buf_free(&out);
	cat_result_free(&r);
}

static void park(struct store *st, struct store_waiter *w, const char *key,
    uint64_t deadline_ms);

/* Index and watch key of the read in w; 0 when it is malformed. */
static uint64_t
read_index(struct store *st, const struct store_waiter *w,
    struct proto_cat_read_req *q, char **watch)
{
	*watch = NULL;
	if (proto_dec_cat_read_req(w->req.data, w->req.len, q) < 0 ||
	    q->what == 0 || q->what >= CAT_Q_MAX)
		return 0;
	char *name = proto_str_dup(q->name);
	if (name == NULL)
		return 0;
	uint64_t idx = cat_query_index(store_catalog(st), q, name, watch);
	free(name);
	return idx;
}

static void
parked_cb(void *arg, int why)
{
	struct parked *pk = arg;
	struct proto_cat_read_req q;
	char *watch;
	if (why != -ECANCELED) {
		uint64_t idx = read_index(pk->st, &pk->w, &q, &watch);
		if (idx == 0)
			store_reply_error(pk->st, &pk->w, -EINVAL,
			    "malformed catalog query");
		else if (why == 0 && !cat.abandon && idx <= q.min_index &&
		    mono_ms() < pk->deadline_ms)
			park(pk->st, &pk->w, watch, pk->deadline_ms);
		else
			answer(pk->st, &pk->w, &q);
		free(watch);
	}
	store_waiter_free(&pk->w);
	free(pk);
}

/* Copies w (the caller keeps and frees its own). */
static void
park(struct store *st, struct store_waiter *w, const char *key,
    uint64_t deadline_ms)
{
	struct parked *pk = xcalloc(1, sizeof(*pk));
	uint64_t now = mono_ms();
	pk->st = st;
	pk->w = *w;
	pk->deadline_ms = deadline_ms;
	buf_init(&pk->w.req);
	buf_add(&pk->w.req, w->req.data, w->req.len);
	double left = deadline_ms > now ? (double)(deadline_ms - now) / 1000 : 0;
	if (watch_park(&cat.watches, WATCH_KEY, key, (uint32_t)strlen(key),
	    left, parked_cb, pk) == NULL) {
		store_reply_error(st, w, -EBUSY,
		    "too many blocking queries in progress");
		store_waiter_free(&pk->w);
		free(pk);
	}
}

void
store_catalog_read(struct store *st, struct store_waiter *w)
{
	struct proto_cat_read_req q;
	char *watch;
	uint64_t idx = read_index(st, w, &q, &watch);
	if (idx == 0)
		store_reply_error(st, w, -EINVAL, "malformed catalog query");
	else if (q.min_index > 0 && idx <= q.min_index && q.wait_ms > 0)
		park(st, w, watch, mono_ms() + q.wait_ms);
	else
		answer(st, w, &q);
	free(watch);
}

/* ---- requests (from IPC, or forwarded by another server) -------------- */

/*
 * Clustering (rpc.h): what this server cannot serve goes to the leader
 * (-EREMOTE: one is known), and a client agent, which runs no Raft,
 * sends everything to a server.  Takes w.
 */
static void
route(struct store *st, struct store_waiter *w, int r)
{
	if (!st->server)
		rpc_forward(st, w, NULL);
	else if (r == -EREMOTE)
		rpc_forward(st, w, store_leader_addr(st));
	else {
		store_reply_error(st, w, r, "No cluster leader");
		store_waiter_free(w);
	}
}

static void
refuse(struct store *st, struct store_waiter *w, int code, const char *msg)
{
	store_reply_error(st, w, code, msg);
	store_waiter_free(w);
}

/* Propose msg as a command of type for w (taken), or route w. */
static void
propose(struct store *st, uint16_t type, const struct buf *msg,
    struct store_waiter *w)
{
	int r = store_propose(st, type, msg, w);
	if (r < 0)
		route(st, w, r);
	/* else the waiter went to the pending map */
}

void
store_catalog_register_req(struct store *st, struct store_waiter *w)
{
	struct cat_reg reg;
	char err[1024];
	if (st->raft == NULL) {
		route(st, w, -ENOTCONN);
		return;
	}
	if (cat_dec_register(w->req.data, w->req.len, &reg) < 0) {
		refuse(st, w, -EBADMSG, "malformed registration");
		return;
	}
	if (cat_reg_check(&reg, err, sizeof(err)) < 0) {
		cat_reg_free(&reg);
		refuse(st, w, -EINVAL, err);
		return;
	}
	struct buf cmd;
	buf_init(&cmd);
	cat_enc_register(&cmd, &reg);	/* with Consul's defaults filled */
	cat_reg_free(&reg);
	propose(st, PROTO_CAT_REGISTER, &cmd, w);
	buf_free(&cmd);
}

void
store_catalog_deregister_req(struct store *st, struct store_waiter *w)
{
	struct proto_cat_deregister d;
	if (st->raft == NULL) {
		route(st, w, -ENOTCONN);
		return;
	}
	if (proto_dec_cat_deregister(w->req.data, w->req.len, &d) < 0 ||
	    memchr(d.node.p, '\0', d.node.len) ||
	    memchr(d.service_id.p, '\0', d.service_id.len) ||
	    memchr(d.check_id.p, '\0', d.check_id.len)) {
		refuse(st, w, -EINVAL, "malformed deregistration");
		return;
	}
	if (d.node.len == 0) {
		refuse(st, w, -EINVAL, "Must provide node");
		return;
	}
	struct buf cmd;
	buf_init(&cmd);
	buf_add(&cmd, w->req.data, w->req.len);
	propose(st, PROTO_CAT_DEREGISTER, &cmd, w);
	buf_free(&cmd);
}

void
store_catalog_read_req(struct store *st, struct store_waiter *w)
{
	struct proto_cat_read_req q;
	if (proto_dec_cat_read_req(w->req.data, w->req.len, &q) < 0) {
		refuse(st, w, -EBADMSG, "malformed catalog query");
		return;
	}
	if (st->raft == NULL) {
		route(st, w, -ENOTCONN);
		return;
	}
	/* ?max_stale: too stale a server serves it as a default read. */
	bool stale = q.consistency == 1 && !(q.max_stale_ms &&
	    store_last_contact_ms(st) > q.max_stale_ms);
	if (stale || (q.consistency == 0 && store_is_leader(st) &&
	    rft_lease_valid(st->raft, mono_ms()))) {
		store_catalog_read(st, w);
		store_waiter_free(w);
		return;
	}
	struct buf cmd;
	buf_init(&cmd);
	buf_add(&cmd, w->req.data, w->req.len);
	propose(st, PROTO_CAT_READ_REQ, &cmd, w);
	buf_free(&cmd);
}

void
store_on_cat_register(struct worker *wk, unsigned from, struct ipc_chan *ch,
    struct ipc_msg *m)
{
	struct store_waiter w;
	store_waiter_from(wk, from, m, &w);
	store_catalog_register_req(wk->app, &w);
}

void
store_on_cat_deregister(struct worker *wk, unsigned from, struct ipc_chan *ch,
    struct ipc_msg *m)
{
	struct store_waiter w;
	store_waiter_from(wk, from, m, &w);
	store_catalog_deregister_req(wk->app, &w);
}

void
store_on_cat_read(struct worker *wk, unsigned from, struct ipc_chan *ch,
    struct ipc_msg *m)
{
	struct store_waiter w;
	store_waiter_from(wk, from, m, &w);
	store_catalog_read_req(wk->app, &w);
}

/* ---- the state machine ---------------------------------------------- */

static void
reply_written(struct store *st, struct store_waiter *w, uint64_t index)
{
	struct buf out;
	struct proto_cat_write m = { .index = index };
	buf_init(&out);
	proto_enc_cat_write(&out, &m);
	store_reply(st, w, PROTO_CAT_WRITE, &out);
	buf_free(&out);
}

static void
apply_register(struct store *st, uint64_t index, const uint8_t *p,
    size_t len, struct store_waiter *w)
{
	struct cat_reg reg;
	struct changes chg = { 0 };
	char err[1024];
	if (cat_dec_register(p, len, &reg) < 0) {
		/* The leader validated it: a broken entry is a bug. */
		log_warnx("raft entry %llu: malformed registration skipped",
		    (unsigned long long)index);
		if (w)
			store_reply_error(st, w, -EBADMSG, "malformed registration");
		return;
	}
	int r = cat_register(store_catalog(st), index, &reg, err, sizeof(err),
	    collect, &chg);
	cat_reg_free(&reg);
	flush(index, &chg);
	if (w && r < 0)
		store_reply_error(st, w, r, err);
	else if (w)
		reply_written(st, w, index);
}

static void
apply_deregister(struct store *st, uint64_t index, const uint8_t *p,
    size_t len, struct store_waiter *w)
{
	struct proto_cat_deregister d;
	struct changes chg = { 0 };
	char *node, *sid, *cid;
	if (proto_dec_cat_deregister(p, len, &d) < 0) {
		log_warnx("raft entry %llu: malformed deregistration skipped",
		    (unsigned long long)index);
		if (w)
			store_reply_error(st, w, -EBADMSG,
			    "malformed deregistration");
		return;
	}
	node = proto_str_dup(d.node);
	sid = proto_str_dup(d.service_id);
	cid = proto_str_dup(d.check_id);
	if (node && sid && cid)
		cat_deregister(store_catalog(st), index, node, sid, cid, collect,
		    &chg);
	flush(index, &chg);
	free(node);
	free(sid);
	free(cid);
	if (w)
		reply_written(st, w, index);
}

void
store_catalog_apply(struct store *st, uint64_t index, uint16_t type,
    const uint8_t *p, size_t len, struct store_waiter *w)
{
	switch (type) {
	case PROTO_CAT_REGISTER:
		apply_register(st, index, p, len, w);
		break;
	case PROTO_CAT_DEREGISTER:
		apply_deregister(st, index, p, len, w);
		break;
	case PROTO_CAT_READ_REQ:
		/* A read ordered by the log: no state change anywhere. */
		if (w)
			store_catalog_read(st, w);
		break;
	}
}

/* ---- snapshots ---------------------------------------------------------- */

/* Records framed as store_snapshot.c frames its own: u8 kind | u32 len. */
static int
put_record(void *arg, uint8_t kind, const struct buf *rec)
{
	struct rft_snap_writer *w = arg;
	uint8_t hdr[5] = { kind };
	proto_wle32(hdr + 1, (uint32_t)rec->len);
	int r = rft_snap_write(w, hdr, sizeof(hdr));
	return r < 0 ? r : rft_snap_write(w, rec->data, rec->len);
}

int
store_catalog_snapshot_write(struct store *st, struct rft_snap_writer *w)
{
	return cat_snapshot_write(store_catalog(st), put_record, w);
}

struct cat_db *
store_catalog_restore_begin(void)
{
	struct cat_db *fresh = xmalloc(sizeof(*fresh));
	cat_db_init(fresh);
	return fresh;
}

void
store_catalog_restore_commit(struct store *st, struct cat_db *fresh)
{
	struct cat_db *db = store_catalog(st);
	cat_db_free(db);
	*db = *fresh;	/* rows point at each other, never at the db */
	free(fresh);
	/* Everything may have changed, indexes may have gone back: every
	 * blocking query answers now (Consul closes its abandon channel),
	 * and none may park again, or waking all would never end. */
	cat.abandon = true;
	watch_notify_all(&cat.watches);
	cat.abandon = false;
	/* Index 0 tells the other observers (the DNS feed) the same. */
	for (unsigned o = 1; o < cat.nobs; o++)
		cat.obs[o].fn(cat.obs[o].arg, 0, CAT_CH_NODES, NULL);
}

void
store_catalog_restore_abort(struct cat_db *fresh)
{
	cat_db_free(fresh);
	free(fresh);
}
