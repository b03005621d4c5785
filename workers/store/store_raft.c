/*
 * The store worker's Raft host: drives the deterministic core in raft*.c
 * with real time (a 10 ms tick), persistence, the state machine and the
 * waiters of proposals and ReadIndex rounds.
 *
 * Persistence: a server with a data dir keeps its log and stable state in
 * LevelDB (data_dir/raft/log, synced writes; log batches on the store's
 * writer thread) and snapshots in data_dir/raft/snapshots (written by a
 * thread); `-dev` keeps them in memory, unsynced, as
 * Consul's dev mode does.  After the privilege drop the store's working
 * directory is data_dir/raft (its chroot as root), so paths are relative.
 */
#include "workers/store/store.h"
#include "workers/store/cluster.h"
#include "workers/store/rpc.h"
#include "workers/store/raft_store.h"
#include "workers/store/catalog_store.h"
#include "workers/common/worker.h"
#include "supervisor/config.h"
#include "lib/log.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define STORE_TICK_S 0.01

/* ---- waiters ------------------------------------------------------- */

static void
pending_put(struct store *st, uint64_t cookie, struct store_waiter *w)
{
	struct store_pending *p = xcalloc(1, sizeof(*p));
	p->cookie = cookie;
	p->w = *w;
	buf_init(&w->req);	/* ownership moved */
	struct store_pending **b = &st->pending[cookie % STORE_PENDING_BUCKETS];
	p->next = *b;
	*b = p;
}

uint64_t
store_pending_add(struct store *st, struct store_waiter *w)
{
	uint64_t cookie = ++st->next_cookie;
	pending_put(st, cookie, w);
	return cookie;
}

bool
store_pending_take(struct store *st, uint64_t cookie, struct store_waiter *out)
{
	struct store_pending **pp = &st->pending[cookie % STORE_PENDING_BUCKETS];
	for (; *pp; pp = &(*pp)->next) {
		if ((*pp)->cookie != cookie)
			continue;
		struct store_pending *p = *pp;
		*pp = p->next;
		*out = p->w;
		free(p);
		return true;
	}
	return false;
}

/* ---- core callbacks --------------------------------------------------- */

/* The cluster transport: workers/store/rpc_raft.c. */
static void
cb_send(void *ud, const struct rft_msg *m)
{
	rpc_raft_send(ud, m);
}

/*
 * The core's asynchronous callbacks are answered from an idle watcher,
 * never from inside the callback (the core forbids re-entry).
 */
static void
deferred_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
	struct store *st = w->data;
	ev_idle_stop(loop, w);
	if (st->raft == NULL)
		return;
	if (st->snap_due) {
		st->snap_due = false;
		rft_snapshot_taken(st->raft, st->snap_index, st->snap_term,
		    st->snap_err);
	}
	if (st->install_due) {
		st->install_due = false;
		rft_snapshot_installed(st->raft, st->install_index,
		    st->install_term, st->install_err);
	}
}

static void
defer(struct store *st)
{
	ev_idle_start(st->w->loop, &st->deferred);
}

/* Losing the log is losing acknowledged writes: stop, let the supervisor
 * restart us, and recover from what is durable. */
static void
storage_failed(const char *what, int r)
{
	fatalx("raft storage: %s: %s", what, strerror(-r));
}

/*
 * Group commit (raft_store.h): the batch is written and fsynced on the
 * log store's writer thread while this loop goes on reading requests;
 * the core gathers them into the next batch, handed over once this one
 * is durable.  Writes are answered only after their batch is durable
 * (apply follows commit, which follows rft_persisted).
 */
static void
persist_done(void *arg, int err)
{
	struct store *st = arg;
	atomic_store(&st->persist_err, err);
	ev_async_send(st->w->loop, &st->persisted);
}

static void
persisted_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	struct store *st = w->data;
	int r = atomic_load(&st->persist_err);
	if (r < 0)
		storage_failed("append", r);
	if (st->raft)
		rft_persisted(st->raft, st->persist_upto, st->persist_term);
}

static void
cb_persist(void *ud, const struct rft_entry *e, size_t n)
{
	struct store *st = ud;
	if (n == 0)
		return;
	st->persist_upto = e[n - 1].index;
	st->persist_term = e[n - 1].term;
	int r = rft_store_append_async(st->log, e, n, persist_done, st);
	if (r < 0)
		storage_failed("append", r);
}

/* A follower that lags reads entries the core no longer holds. */
static int
cb_fetch(void *ud, uint64_t index, struct rft_entry *out)
{
	struct store *st = ud;
	return rft_store_get(st->log, index, out);
}

static int
cb_save_term(void *ud, uint64_t term, uint64_t vote)
{
	struct store *st = ud;
	int r = rft_store_set_term(st->log, term, vote);
	if (r < 0)
		storage_failed("term", r);
	return r;
}

static void
cb_compact(void *ud, uint64_t upto)
{
	struct store *st = ud;
	int r = rft_store_compact(st->log, upto);
	if (r < 0)
		log_warnx("raft storage: compact: %s", strerror(-r));
}

static void
cb_apply(void *ud, const struct rft_entry *e)
{
	struct store *st = ud;
	struct store_waiter w;
	bool have = e->cookie && store_pending_take(st, e->cookie, &w);
	/* The replicated autopilot configuration is cluster.c's. */
	if (e->type == RFT_ENTRY_NORMAL &&
	    cluster_apply(st, e, have ? &w : NULL))
		;
	else if (e->type == RFT_ENTRY_NORMAL)
		store_fsm_apply(st, e->index, e->data, e->len, have ? &w : NULL);
	else if (have)
		store_reply_error(st, &w, 0, "");
	if (have)
		store_waiter_free(&w);
	st->applied = e->index;
}

static void
cb_abandon(void *ud, uint64_t cookie, int err)
{
	struct store *st = ud;
	struct store_waiter w;
	if (!store_pending_take(st, cookie, &w))
		return;
	store_reply_error(st, &w, -EAGAIN, "leadership lost while committing");
	store_waiter_free(&w);
}

#define STORE_SNAP_DIR "snapshots"

/*
 * Snapshots are taken in two steps so that the loop is not held by the
 * disk: the state machine is serialized into memory here (a consistent
 * copy; it keeps changing once we return), then a thread writes, fsyncs
 * and publishes the file and records the configuration, and the loop
 * hears of it through an ev_async.  One at a time (the core asks for
 * the next only after rft_snapshot_taken).
 */
struct store_snapjob {
	struct store *st;
	ev_async done;
	pthread_t thr;
	bool running;
	uint64_t index, term;
	struct rft_conf conf;
	struct buf body;
	_Atomic int err;
};

static void *
snap_thread(void *arg)
{
	struct store_snapjob *j = arg;
	struct rft_snap_writer *sw;
	int r = rft_snap_create(STORE_SNAP_DIR, j->index, j->term, &j->conf,
	    true, &sw);
	if (r == 0) {
		r = rft_snap_write(sw, j->body.data, j->body.len);
		if (r == 0)
			r = rft_snap_commit(sw);
		else
			rft_snap_abort(sw);
	}
	if (r == 0)
		r = rft_store_set_conf(j->st->log, &j->conf);
	atomic_store(&j->err, r);
	ev_async_send(j->st->w->loop, &j->done);
	return NULL;
}

/* Wait for a snapshot being written (before install and at stop). */
static void
snap_join(struct store_snapjob *j)
{
	if (!j || !j->running)
		return;
	pthread_join(j->thr, NULL);
	j->running = false;
	buf_free(&j->body);
}

static void
snap_finish(struct store *st, uint64_t index, uint64_t term, int r)
{
	if (r < 0)
		log_warnx("raft snapshot at %llu: %s",
		    (unsigned long long)index, strerror(-r));
	st->snap_index = index;
	st->snap_term = term;
	st->snap_err = r;
	st->snap_due = true;
	defer(st);
}

/* Collect a finished (or finishing) write and tell the core. */
static void
snap_complete(struct store_snapjob *j)
{
	if (!j->running)
		return;
	snap_join(j);
	snap_finish(j->st, j->index, j->term, atomic_load(&j->err));
	/* The body was the size of the state: give its pages back. */
	malloc_trim(0);
}

static void
snap_done_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	snap_complete(w->data);
}

static int
snap_start(struct store *st, uint64_t index, uint64_t term,
    const struct rft_conf *conf)
{
	struct store_snapjob *j = st->snapjob;
	j->index = index;
	j->term = term;
	j->conf = *conf;
	buf_init(&j->body);
	store_snapshot_body(st, &j->body);
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int r = pthread_create(&j->thr, NULL, snap_thread, j);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		buf_free(&j->body);
		return -r;
	}
	j->running = true;
	return 0;
}

static void
cb_take_snapshot(void *ud, uint64_t index, uint64_t term,
    const struct rft_conf *conf)
{
	struct store *st = ud;
	/* -dev keeps its snapshot in memory, and compacts its log as well. */
	int r = st->durable ? snap_start(st, index, term, conf) :
	    store_snapshot_take_mem(st, index);
	if (r < 0 || !st->durable)
		snap_finish(st, index, term, r);
}

static int
cb_snapshot_read(void *ud, uint64_t index, uint64_t off, void *buf, size_t len)
{
	struct store *st = ud;
	if (!st->durable)
		return store_snapshot_read_mem(index, off, buf, len);
	if (st->outgoing && rft_snap_meta(st->outgoing)->index != index) {
		rft_snap_close(st->outgoing);
		st->outgoing = NULL;
	}
	if (st->outgoing == NULL) {
		int r = rft_snap_open_index(STORE_SNAP_DIR, index, &st->outgoing);
		if (r < 0)
			return r;
	}
	return rft_snap_read(st->outgoing, off, buf, len);
}

static int
cb_snapshot_write(void *ud, uint64_t index, uint64_t term, uint64_t off,
    const void *p, size_t len)
{
	struct store *st = ud;
	if (off == 0)
		buf_reset(&st->incoming);
	if (off != st->incoming.len)
		return -EINVAL;
	buf_add(&st->incoming, p, len);
	return 0;
}

/* A received snapshot replaces the state machine and the whole log. */
static void
cb_snapshot_install(void *ud, uint64_t index, uint64_t term,
    const struct rft_conf *conf)
{
	struct store *st = ud;
	struct rft_snap_writer *sw = NULL;
	int r = 0;
	snap_complete(st->snapjob);
	if (st->durable) {
		r = rft_snap_create(STORE_SNAP_DIR, index, term, conf, true, &sw);
		if (r == 0 && (r = rft_snap_write(sw, st->incoming.data,
		    st->incoming.len)) == 0)
			r = rft_snap_commit(sw);
		else if (sw)
			rft_snap_abort(sw);
	}
	if (r == 0)
		r = store_snapshot_restore(st, st->incoming.data, st->incoming.len);
	if (r == 0 && (r = rft_store_reset(st->log)) == 0)
		r = rft_store_set_conf(st->log, conf);
	if (r == 0) {
		st->applied = index;
		watch_notify_all(&st->watches);
	} else
		log_warnx("raft: installing snapshot %llu: %s",
		    (unsigned long long)index, strerror(-r));
	buf_free(&st->incoming);
	st->install_index = index;
	st->install_term = term;
	st->install_err = r;
	st->install_due = true;
	defer(st);
}

static void
cb_read_done(void *ud, uint64_t cookie, int err, uint64_t index)
{
	struct store *st = ud;
	struct store_waiter w;
	if (!store_pending_take(st, cookie, &w))
		return;
	if (err < 0)
		store_reply_error(st, &w, err, "No cluster leader");
	else if (w.type == PROTO_CAT_READ_REQ)
		store_catalog_read(st, &w);
	else if (w.type == PROTO_KV_TXN_READ_REQ)
		store_kv_txn_read(st, &w);
	else
		store_kv_read(st, &w);
	store_waiter_free(&w);
}

static void
cb_role_changed(void *ud, enum rft_role role, uint64_t term, uint64_t leader)
{
	static const char *const names[] = { "follower", "candidate", "leader" };
	log_info("raft: %s in term %llu", names[role], (unsigned long long)term);
	cluster_role_changed(ud, role);
}

static void
cb_conf_changed(void *ud, const struct rft_conf *conf, uint64_t index)
{
	log_debug("raft: configuration at %llu has %u servers",
	    (unsigned long long)index, conf->n);
	cluster_conf_changed(ud, conf, index);
}

static const struct rft_cbs store_rft_cbs = {
	.send = cb_send,
	.persist = cb_persist,
	.fetch = cb_fetch,
	.save_term = cb_save_term,
	.compact = cb_compact,
	.apply = cb_apply,
	.abandon = cb_abandon,
	.take_snapshot = cb_take_snapshot,
	.snapshot_read = cb_snapshot_read,
	.snapshot_write = cb_snapshot_write,
	.snapshot_install = cb_snapshot_install,
	.read_done = cb_read_done,
	.role_changed = cb_role_changed,
	.conf_changed = cb_conf_changed,
};

/* ---- driving the core ------------------------------------------------- */

static void
tick_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct store *st = t->data;
	rft_tick(st->raft, mono_ms());
}

static void
skipped_snapshot(void *arg, const char *name, int err)
{
	log_warnx("raft: snapshot %s is unusable (%s); skipped", name,
	    strerror(-err));
}

/* The newest valid snapshot into the state machine; 0 if there is none. */
static int
restore_snapshot(struct store *st, struct rft_boot *boot)
{
	struct rft_snap_reader *rd;
	int r = rft_snap_open_latest(STORE_SNAP_DIR, &rd, skipped_snapshot, st);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	const struct rft_snap_meta *m = rft_snap_meta(rd);
	struct buf body;
	buf_init(&body);
	buf_reserve(&body, (size_t)m->size);
	r = rft_snap_read(rd, 0, body.data, (size_t)m->size);
	if (r >= 0 && (uint64_t)r == m->size) {
		body.len = (size_t)m->size;
		r = store_snapshot_restore(st, body.data, body.len);
	} else if (r >= 0)
		r = -EIO;
	if (r == 0) {
		boot->snap_index = m->index;
		boot->snap_term = m->term;
		boot->snap_conf = m->conf;
		st->applied = m->index;
		log_info("raft: restored snapshot at index %llu",
		    (unsigned long long)m->index);
	}
	buf_free(&body);
	rft_snap_close(rd);
	return r;
}

static int
open_log(struct store *st, const struct agent_config *c)
{
	/* No data dir (-dev, and in-process tests): nothing to keep. */
	if (c->dev || c->data_dir == NULL || c->data_dir[0] == '\0') {
		st->log = rft_store_open_memory();
		return st->log ? 0 : -ENOMEM;
	}
	st->durable = true;
	if (mkdir(STORE_SNAP_DIR, 0700) < 0 && errno != EEXIST)
		return -errno;
	return rft_store_open_leveldb("log", true, &st->log);
}

/* Boot from what is durable: snapshot, then the log after it. */
static int
boot_raft(struct store *st, struct rft_stored *stored)
{
	struct rft_boot boot = { 0 };
	int r = restore_snapshot(st, &boot);
	if (r < 0)
		return r;
	if ((r = rft_store_load(st->log, stored)) < 0)
		return r;
	boot.term = stored->term;
	boot.vote = stored->vote;
	if (boot.snap_index == 0 && stored->has_conf)
		boot.snap_conf = stored->conf;
	/* Entries the snapshot already covers are not replayed. */
	size_t skip = 0;
	while (skip < stored->n && stored->ents[skip].index <= boot.snap_index)
		skip++;
	boot.ents = stored->ents + skip;
	boot.n = stored->n - skip;
	return rft_start(st->raft, &boot, mono_ms());
}

int
store_raft_init(struct store *st)
{
	const struct agent_config *c = st->w->cfg;
	struct rft_config rc;
	struct rft_stored stored = { 0 };
	int r;

	if (!c->server)
		return 0;
	if ((r = open_log(st, c)) < 0) {
		log_warnx("raft storage: %s", strerror(-r));
		return -1;
	}
	st->raft_id = cluster_raft_id(c->node_id);
	rft_config_default(&rc, st->raft_id,
	    (unsigned)c->performance.raft_multiplier);
	rc.snapshot_threshold = (uint64_t)c->raft_snapshot_threshold;
	rc.trailing_logs = (uint64_t)c->raft_trailing_logs;
	/* Consul's raft_snapshot_interval; 0 leaves the threshold alone. */
	rc.snapshot_interval_ms = c->raft_snapshot_interval > 0 ?
	    (unsigned)MIN(c->raft_snapshot_interval / 1000000, UINT32_MAX) : 0;
	if (random_bytes(&rc.seed, sizeof(rc.seed)) < 0)
		rc.seed = mono_ns();
	st->raft = rft_new(&rc, &store_rft_cbs, st);
	ev_idle_init(&st->deferred, deferred_cb);
	st->deferred.data = st;
	ev_async_init(&st->persisted, persisted_cb);
	st->persisted.data = st;
	ev_async_start(st->w->loop, &st->persisted);
	st->snapjob = xcalloc(1, sizeof(*st->snapjob));
	st->snapjob->st = st;
	ev_async_init(&st->snapjob->done, snap_done_cb);
	st->snapjob->done.data = st->snapjob;
	ev_async_start(st->w->loop, &st->snapjob->done);
	if (st->raft == NULL || (r = boot_raft(st, &stored)) < 0) {
		log_warnx("raft: cannot start from stored state: %s",
		    r < 0 ? strerror(-r) : "out of memory");
		rft_stored_free(&stored);
		return -1;
	}
	bool fresh = stored.term == 0 && stored.n == 0 && st->applied == 0;
	rft_stored_free(&stored);
	ev_timer_init(&st->tick, tick_cb, STORE_TICK_S, STORE_TICK_S);
	st->tick.data = st;
	ev_timer_start(st->w->loop, &st->tick);
	if (fresh && (c->dev || c->bootstrap || c->bootstrap_expect == 1)) {
		struct rft_conf conf = { 0 };
		/* Named by node ID, as Consul's Raft servers are: every server
		 * of a cluster names the others so (cluster.c). */
		rft_conf_add(&conf, st->raft_id, RFT_VOTER, c->node_id,
		    st->self_addr);
		r = rft_bootstrap(st->raft, &conf);
		if (r < 0 && r != -EEXIST)
			log_warnx("raft bootstrap: %s", rft_strerror(-r));
	}
	return 0;
}

void
store_raft_stop(struct store *st)
{
	if (st->raft == NULL)
		return;
	ev_timer_stop(st->w->loop, &st->tick);
	ev_idle_stop(st->w->loop, &st->deferred);
	rft_store_drain(st->log);
	ev_async_stop(st->w->loop, &st->persisted);
	snap_join(st->snapjob);
	ev_async_stop(st->w->loop, &st->snapjob->done);
	free(st->snapjob);
	st->snapjob = NULL;
	rft_free(st->raft);
	st->raft = NULL;
	if (st->outgoing)
		rft_snap_close(st->outgoing);
	rft_store_close(st->log);
	store_snapshot_free_mem();
	st->log = NULL;
}

bool
store_is_leader(const struct store *st)
{
	return st->raft && rft_role(st->raft) == RFT_LEADER;
}

const char *
store_leader_addr(const struct store *st)
{
	const struct rft_server *s = st->raft ? rft_leader_server(st->raft) : NULL;
	return s ? s->addr : "";
}

uint64_t
store_last_contact_ms(const struct store *st)
{
	if (st->raft == NULL || store_is_leader(st))
		return 0;
	/* rft_last_contact is a time; Consul reports the age. */
	uint64_t t = rft_last_contact(st->raft), now = mono_ms();
	return t && now > t ? now - t : 0;
}

static int
not_leader_error(const struct store *st)
{
	/* -EREMOTE: a leader we can forward to (cluster transport). */
	return st->raft && store_leader_addr(st)[0] ? -EREMOTE : -ENOTCONN;
}

int
store_propose(struct store *st, uint16_t type, const struct buf *msg,
    struct store_waiter *w)
{
	if (!store_is_leader(st))
		return not_leader_error(st);
	struct buf cmd;
	buf_init(&cmd);
	uint8_t t[2] = { (uint8_t)type, (uint8_t)(type >> 8) };
	buf_add(&cmd, t, 2);
	buf_add(&cmd, msg->data, msg->len);
	/* Registered first: the core may complete it before returning. */
	uint64_t cookie = ++st->next_cookie;
	pending_put(st, cookie, w);
	int r = rft_propose(st->raft, cmd.data, cmd.len, cookie, NULL);
	buf_free(&cmd);
	if (r < 0) {
		store_pending_take(st, cookie, w);
		return r == -RFT_ENOTLEADER ? not_leader_error(st) : r;
	}
	return 0;
}

int
store_read_index(struct store *st, struct store_waiter *w)
{
	if (!store_is_leader(st))
		return not_leader_error(st);
	uint64_t cookie = ++st->next_cookie;
	pending_put(st, cookie, w);
	int r = rft_read_index(st->raft, cookie);
	if (r < 0) {
		store_pending_take(st, cookie, w);
		return r == -RFT_ENOTLEADER ? not_leader_error(st) : r;
	}
	return 0;
}
