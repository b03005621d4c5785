/*
 * The store worker's Raft host: drives the deterministic core in raft*.c
 * with real time (a 10 ms tick), persistence, the state machine and the
 * waiters of proposals and ReadIndex rounds.
 *
 * Persistence here is the in-memory log of `-dev` (Consul's dev mode keeps
 * Raft in memory and never fsyncs): a batch is "durable" at the next loop
 * iteration, so proposals arriving meanwhile join the next batch.
 */
#include "workers/store/store.h"
#include "workers/common/worker.h"
#include "supervisor/config.h"
#include "lib/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static void
cb_send(void *ud, const struct rft_msg *m)
{
	/* Peers are reached over the server port once the cluster transport
	 * is wired (gossip issue); a single server has none to reach. */
	log_debug("raft: no transport to %llu yet; message dropped",
	    (unsigned long long)m->to);
}

static void
persist_idle_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
	struct store *st = w->data;
	ev_idle_stop(loop, w);
	if (!st->persist_due)
		return;
	st->persist_due = false;
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
	st->persist_due = true;
	ev_idle_start(st->w->loop, &st->persist_idle);
}

static int
cb_save_term(void *ud, uint64_t term, uint64_t vote)
{
	return 0;	/* in memory */
}

static void
cb_compact(void *ud, uint64_t upto)
{
}

static void
cb_apply(void *ud, const struct rft_entry *e)
{
	struct store *st = ud;
	struct store_waiter w;
	bool have = e->cookie && store_pending_take(st, e->cookie, &w);
	if (e->type == RFT_ENTRY_NORMAL)
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

static void
cb_take_snapshot(void *ud, uint64_t index, uint64_t term,
    const struct rft_conf *conf)
{
	struct store *st = ud;
	/* The in-memory log keeps every entry: nothing to compact into. */
	rft_snapshot_taken(st->raft, index, term, -ENOTSUP);
}

static int
cb_snapshot_read(void *ud, uint64_t index, uint64_t off, void *buf, size_t len)
{
	return -ENOTSUP;
}

static int
cb_snapshot_write(void *ud, uint64_t index, uint64_t term, uint64_t off,
    const void *p, size_t len)
{
	return -ENOTSUP;
}

static void
cb_snapshot_install(void *ud, uint64_t index, uint64_t term,
    const struct rft_conf *conf)
{
	struct store *st = ud;
	rft_snapshot_installed(st->raft, index, term, -ENOTSUP);
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
	else
		store_kv_read(st, &w);
	store_waiter_free(&w);
}

static void
cb_role_changed(void *ud, enum rft_role role, uint64_t term, uint64_t leader)
{
	static const char *const names[] = { "follower", "candidate", "leader" };
	log_info("raft: %s in term %llu", names[role], (unsigned long long)term);
}

static void
cb_conf_changed(void *ud, const struct rft_conf *conf, uint64_t index)
{
	log_debug("raft: configuration at %llu has %u servers",
	    (unsigned long long)index, conf->n);
}

static const struct rft_cbs store_rft_cbs = {
	.send = cb_send,
	.persist = cb_persist,
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

/* The Raft id: the node id's first 64 bits (node ids are random UUIDs). */
static uint64_t
raft_id_of(const char *node_id)
{
	uint64_t id = 0;
	for (const char *p = node_id; *p && id >> 60 == 0; p++) {
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

int
store_raft_init(struct store *st)
{
	const struct agent_config *c = st->w->cfg;
	struct rft_config rc;

	/* A durable server needs the LevelDB log; until a server has one it
	 * runs no Raft rather than acknowledge writes it could lose. */
	if (!c->server || !c->dev)
		return 0;
	st->raft_id = raft_id_of(c->node_id);
	rft_config_default(&rc, st->raft_id,
	    (unsigned)c->performance.raft_multiplier);
	rc.snapshot_threshold = (uint64_t)c->raft_snapshot_threshold;
	rc.trailing_logs = (uint64_t)c->raft_trailing_logs;
	if (random_bytes(&rc.seed, sizeof(rc.seed)) < 0)
		rc.seed = mono_ns();
	st->raft = rft_new(&rc, &store_rft_cbs, st);
	if (st->raft == NULL || rft_start(st->raft, NULL, mono_ms()) < 0)
		return -1;
	ev_idle_init(&st->persist_idle, persist_idle_cb);
	st->persist_idle.data = st;
	ev_timer_init(&st->tick, tick_cb, STORE_TICK_S, STORE_TICK_S);
	st->tick.data = st;
	ev_timer_start(st->w->loop, &st->tick);
	if (c->dev || c->bootstrap || c->bootstrap_expect == 1) {
		struct rft_conf conf = { 0 };
		rft_conf_add(&conf, st->raft_id, RFT_VOTER, c->node_name,
		    st->self_addr);
		int r = rft_bootstrap(st->raft, &conf);
		if (r < 0 && r != -EEXIST)
			log_warnx("raft bootstrap: %s", rft_strerror(r));
	}
	return 0;
}

void
store_raft_stop(struct store *st)
{
	if (st->raft == NULL)
		return;
	ev_timer_stop(st->w->loop, &st->tick);
	ev_idle_stop(st->w->loop, &st->persist_idle);
	rft_free(st->raft);
	st->raft = NULL;
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
	return rft_last_contact(st->raft);
}

static int
not_leader_error(const struct store *st)
{
	return st->raft && rft_leader(st->raft) ? -EREMOTE : -ENOTCONN;
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
