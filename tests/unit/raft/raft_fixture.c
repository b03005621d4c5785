/* The simulated cluster; see raft_fixture.h. */
#include "tests/unit/raft/raft_fixture.h"
#include "workers/store/raft_wire.h"
#include "lib/util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum io_kind { IO_PERSIST, IO_COMPACT, IO_SNAP_TAKE, IO_INSTALL };

struct fx_io {
	struct fx_io *next;
	enum io_kind kind;
	uint64_t ready;
	struct fx_ent *ents;
	size_t n;
	uint64_t upto;
	struct fx_snapfile snap;
};

struct fx_msg {
	uint64_t at, seq, from, to;
	size_t len;
	uint8_t data[];
};

static void fail(struct fx *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
fail(struct fx *f, const char *fmt, ...)
{
	if (f->failure[0])
		return;
	int k = snprintf(f->failure, sizeof(f->failure), "t=%llu: ",
	    (unsigned long long)f->now);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(f->failure + k, sizeof(f->failure) - (size_t)k, fmt, ap);
	va_end(ap);
}

bool fx_failed(const struct fx *f) { return f->failure[0] != 0; }

uint64_t
fx_rand(struct fx *f)
{
	uint64_t z = (f->rng += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t
rand_between(struct fx *f, unsigned lo, unsigned hi)
{
	return hi > lo ? lo + fx_rand(f) % (hi - lo + 1) : lo;
}

static uint64_t
hash_bytes(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

static uint64_t
mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
	return h * 0xff51afd7ed558ccdULL;
}

struct fx_node *
fx_node(struct fx *f, uint64_t id)
{
	return id >= 1 && id <= f->n ? &f->nodes[id - 1] : NULL;
}

/* ---- network ---- */

static bool
msg_less(const struct fx_msg *a, const struct fx_msg *b)
{
	return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static void
heap_push(struct fx *f, struct fx_msg *m)
{
	if (f->nheap == f->capheap) {
		f->capheap = f->capheap ? f->capheap * 2 : 256;
		f->heap = xrealloc(f->heap, f->capheap * sizeof(*f->heap));
	}
	size_t i = f->nheap++;
	f->heap[i] = m;
	while (i && msg_less(f->heap[i], f->heap[(i - 1) / 2])) {
		struct fx_msg *t = f->heap[i];
		f->heap[i] = f->heap[(i - 1) / 2];
		f->heap[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
}

static struct fx_msg *
heap_pop(struct fx *f)
{
	struct fx_msg *top = f->heap[0];
	f->heap[0] = f->heap[--f->nheap];
	size_t i = 0;
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < f->nheap && msg_less(f->heap[l], f->heap[m]))
			m = l;
		if (r < f->nheap && msg_less(f->heap[r], f->heap[m]))
			m = r;
		if (m == i)
			break;
		struct fx_msg *t = f->heap[i];
		f->heap[i] = f->heap[m];
		f->heap[m] = t;
		i = m;
	}
	return top;
}

static void
net_enqueue(struct fx *f, uint64_t from, uint64_t to, const struct buf *b)
{
	struct fx_msg *m = xmalloc(sizeof(*m) + b->len);
	m->at = f->now + rand_between(f, f->faults.delay_min,
	    f->faults.delay_max);
	m->seq = f->evseq++;
	m->from = from;
	m->to = to;
	m->len = b->len;
	memcpy(m->data, b->data, b->len);
	heap_push(f, m);
}

static const struct fx_snapfile *snap_latest(const struct fx_node *n);

/* A follower's claim that its log is durable through `match` (counted
 * towards commitment) must hold on its disk right now. */
static void
check_durable_ack(struct fx_node *n, uint64_t match)
{
	const struct fx_snapfile *s = snap_latest(n);
	if (match == 0 || (s && s->index >= match))
		return;
	for (size_t i = 0; i < n->nlog; i++)
		if (n->log[i].index == match)
			return;
	fail(n->fx, "node %llu acknowledged %llu as durable but its disk "
	    "does not hold it", (unsigned long long)n->id,
	    (unsigned long long)match);
}

static void
cb_send(void *ud, const struct rft_msg *m)
{
	struct fx_node *n = ud;
	struct fx *f = n->fx;
	struct buf b;
	f->sent++;
	if (m->to < 1 || m->to > f->n || f->cut[m->from][m->to] ||
	    fx_rand(f) % 1000 < f->faults.loss_pm ||
	    (f->drop && f->drop(f, m, f->drop_arg))) {
		f->dropped++;
		return;
	}
	if (m->type == RFT_APPEND && m->append.n) {
		/* Pipelining: count AppendEntries with entries in flight. */
		unsigned k = 0;
		for (size_t i = 0; i < f->nheap; i++)
			k += f->heap[i]->from == n->id &&
			    f->heap[i]->to == m->to;
		if (k + 1 > n->max_inflight_seen)
			n->max_inflight_seen = k + 1;
	}
	if (m->type == RFT_APPEND_RESP && m->append_resp.success)
		check_durable_ack(n, m->append_resp.match);
	buf_init(&b);
	if (rft_wire_frame(&b, m) < 0)
		fail(f, "node %llu: cannot encode message type %u",
		    (unsigned long long)n->id, m->type);
	else {
		net_enqueue(f, n->id, m->to, &b);
		if (fx_rand(f) % 1000 < f->faults.dup_pm)
			net_enqueue(f, n->id, m->to, &b);
	}
	buf_free(&b);
}

/* ---- disks ---- */

static void
io_queue(struct fx_node *n, struct fx_io *io)
{
	struct fx *f = n->fx;
	if (getenv("MUSTER_RAFT_TRACE"))
		fprintf(stderr, "%6llu node %llu io %d: %llu..%llu upto %llu "
		    "snap %llu\n", (unsigned long long)f->now,
		    (unsigned long long)n->id, io->kind,
		    (unsigned long long)(io->n ? io->ents[0].index : 0),
		    (unsigned long long)(io->n ? io->ents[io->n - 1].index : 0),
		    (unsigned long long)io->upto,
		    (unsigned long long)io->snap.index);
	io->ready = f->now + rand_between(f, f->faults.disk_min,
	    f->faults.disk_max);
	if (n->io_tail && io->ready < n->io_tail->ready)
		io->ready = n->io_tail->ready;	/* FIFO */
	io->next = NULL;
	if (n->io_tail)
		n->io_tail->next = io;
	else
		n->io_head = io;
	n->io_tail = io;
}

static void
ent_copy(struct fx_ent *d, const struct rft_entry *e)
{
	d->index = e->index;
	d->term = e->term;
	d->type = e->type;
	d->len = e->len;
	d->data = NULL;
	if (e->len) {
		d->data = xmalloc(e->len);
		memcpy(d->data, e->data, e->len);
	}
}

static void
snap_free(struct fx_snapfile *s)
{
	free(s->data);
	s->data = NULL;
}

static void
io_free(struct fx_io *io)
{
	for (size_t i = 0; i < io->n; i++)
		free(io->ents[i].data);
	free(io->ents);
	snap_free(&io->snap);
	free(io);
}

static void
cb_persist(void *ud, const struct rft_entry *e, size_t n)
{
	struct fx_node *nd = ud;
	struct fx_io *io = xcalloc(1, sizeof(*io));
	io->kind = IO_PERSIST;
	io->ents = xcalloc(n, sizeof(*io->ents));
	io->n = n;
	for (size_t i = 0; i < n; i++) {
		ent_copy(&io->ents[i], &e[i]);
		if (i && e[i].index != e[i - 1].index + 1)
			fail(nd->fx, "persist batch not contiguous");
	}
	nd->persist_calls++;
	nd->persisted_entries += (unsigned)n;
	io_queue(nd, io);
}

static int
cb_save_term(void *ud, uint64_t term, uint64_t vote)
{
	struct fx_node *n = ud;
	if (term < n->term)
		fail(n->fx, "node %llu: term went back",
		    (unsigned long long)n->id);
	n->term = term;
	n->vote = vote;
	return 0;
}

static void
cb_compact(void *ud, uint64_t upto)
{
	struct fx_io *io = xcalloc(1, sizeof(*io));
	io->kind = IO_COMPACT;
	io->upto = upto;
	io_queue(ud, io);
}

static void
dlog_truncate(struct fx_node *n, uint64_t from)
{
	while (n->nlog && n->log[n->nlog - 1].index >= from)
		free(n->log[--n->nlog].data);
}

static void
dlog_compact(struct fx_node *n, uint64_t upto)
{
	size_t k = 0;
	while (k < n->nlog && n->log[k].index <= upto)
		free(n->log[k++].data);
	memmove(n->log, n->log + k, (n->nlog - k) * sizeof(*n->log));
	n->nlog -= k;
}

static void
dlog_append(struct fx_node *n, struct fx_ent *e)
{
	if (n->nlog && e->index != n->log[n->nlog - 1].index + 1)
		fail(n->fx, "node %llu: durable log gap at %llu",
		    (unsigned long long)n->id, (unsigned long long)e->index);
	if (n->nlog == n->caplog) {
		n->caplog = n->caplog ? n->caplog * 2 : 64;
		n->log = xrealloc(n->log, n->caplog * sizeof(*n->log));
	}
	n->log[n->nlog++] = *e;
	e->data = NULL;
}

static void
snaps_add(struct fx_node *n, struct fx_snapfile *s)
{
	/* Keep the two newest, like raft_snapshot.c. */
	if (n->nsnaps == 2) {
		unsigned old = n->snaps[0].index <= n->snaps[1].index ? 0 : 1;
		if (s->index < n->snaps[old].index) {
			snap_free(s);
			return;
		}
		snap_free(&n->snaps[old]);
		n->snaps[old] = *s;
	} else {
		n->snaps[n->nsnaps++] = *s;
	}
	s->data = NULL;
}

static const struct fx_snapfile *
snap_latest(const struct fx_node *n)
{
	const struct fx_snapfile *b = NULL;
	for (unsigned i = 0; i < n->nsnaps; i++)
		if (!b || n->snaps[i].index > b->index)
			b = &n->snaps[i];
	return b;
}

/* Apply a completed write to the durable state. */
static void
io_apply(struct fx_node *n, struct fx_io *io)
{
	switch (io->kind) {
	case IO_PERSIST:
		dlog_truncate(n, io->ents[0].index);
		for (size_t i = 0; i < io->n; i++)
			dlog_append(n, &io->ents[i]);
		break;
	case IO_COMPACT:
		dlog_compact(n, io->upto);
		break;
	case IO_SNAP_TAKE:
		snaps_add(n, &io->snap);
		break;
	case IO_INSTALL:
		dlog_truncate(n, 0);
		snaps_add(n, &io->snap);
		break;
	}
}

/* ---- state machine ---- */

static void
fsm_serialize(struct fx_node *n, struct fx_snapfile *s)
{
	size_t pad = n->fx->pad;
	s->len = 24 + pad;
	s->data = xmalloc(s->len);
	memcpy(s->data, &n->fsm_index, 8);
	memcpy(s->data + 8, &n->fsm_hash, 8);
	uint64_t p64 = pad;
	memcpy(s->data + 16, &p64, 8);
	for (size_t i = 0; i < pad; i++)
		s->data[24 + i] =
		    (uint8_t)(n->fsm_hash >> ((i & 7) * 8)) ^ (uint8_t)i;
}

static void
fsm_restore(struct fx_node *n, const struct fx_snapfile *s)
{
	struct fx *f = n->fx;
	uint64_t idx, h, pad;
	if (s->len < 24) {
		fail(f, "snapshot too short");
		return;
	}
	memcpy(&idx, s->data, 8);
	memcpy(&h, s->data + 8, 8);
	memcpy(&pad, s->data + 16, 8);
	if (pad != s->len - 24 || idx != s->index) {
		fail(f, "node %llu: snapshot header corrupt",
		    (unsigned long long)n->id);
		return;
	}
	for (size_t i = 0; i < pad; i++)
		if (s->data[24 + i] !=
		    ((uint8_t)(h >> ((i & 7) * 8)) ^ (uint8_t)i)) {
			fail(f, "node %llu: snapshot body corrupt",
			    (unsigned long long)n->id);
			return;
		}
	if (idx < f->nrec && f->rec[idx].set && f->rec[idx].fsm != h)
		fail(f, "node %llu: snapshot at %llu disagrees with history",
		    (unsigned long long)n->id, (unsigned long long)idx);
	n->fsm_index = idx;
	n->fsm_hash = h;
}

static struct fx_rec *
rec_at(struct fx *f, uint64_t index)
{
	if (index >= f->nrec) {
		size_t nn = MAX(index + 1, f->nrec * 2);
		f->rec = xrealloc(f->rec, nn * sizeof(*f->rec));
		memset(f->rec + f->nrec, 0, (nn - f->nrec) * sizeof(*f->rec));
		f->nrec = nn;
	}
	return &f->rec[index];
}

static struct fx_pending *
prop_find(struct fx *f, uint64_t cookie)
{
	return cookie && cookie <= f->nprops ? &f->props[cookie - 1] : NULL;
}

static void
cb_apply(void *ud, const struct rft_entry *e)
{
	struct fx_node *n = ud;
	struct fx *f = n->fx;
	if (e->index != n->fsm_index + 1) {
		fail(f, "node %llu: applied %llu after %llu",
		    (unsigned long long)n->id, (unsigned long long)e->index,
		    (unsigned long long)n->fsm_index);
		return;
	}
	uint64_t dh = hash_bytes(e->data, e->len);
	n->fsm_index = e->index;
	n->fsm_hash = mix(mix(n->fsm_hash, e->index), mix(e->type, dh));
	struct fx_rec *r = rec_at(f, e->index);
	if (!r->set) {
		*r = (struct fx_rec){ e->term, dh, n->fsm_hash, e->type, true };
	} else if (r->term != e->term || r->hash != dh ||
	    r->fsm != n->fsm_hash || r->type != e->type) {
		/* State machine safety (§3.6.3, Figure 3.2). */
		fail(f, "node %llu applied a different entry at %llu "
		    "(term %llu vs %llu)", (unsigned long long)n->id,
		    (unsigned long long)e->index, (unsigned long long)e->term,
		    (unsigned long long)r->term);
	}
	if (e->index > f->max_applied)
		f->max_applied = e->index;
	struct fx_pending *p = prop_find(f, e->cookie);
	if (e->cookie && !p)
		fail(f, "unknown cookie");
	if (p) {
		if (p->index != e->index || p->hash != dh)
			fail(f, "cookie applied with another entry");
		p->acked = true;
		if (e->index > f->acked_max)
			f->acked_max = e->index;
	}
}

static void
cb_abandon(void *ud, uint64_t cookie, int err)
{
	struct fx_node *n = ud;
	n->abandoned++;
	(void)cookie;
	(void)err;
}

static void
cb_take_snapshot(void *ud, uint64_t index, uint64_t term,
    const struct rft_conf *conf)
{
	struct fx_node *n = ud;
	if (n->fsm_index != index) {
		fail(n->fx, "snapshot at %llu but state machine at %llu",
		    (unsigned long long)index,
		    (unsigned long long)n->fsm_index);
		return;
	}
	struct fx_io *io = xcalloc(1, sizeof(*io));
	io->kind = IO_SNAP_TAKE;
	io->snap.index = index;
	io->snap.term = term;
	io->snap.conf = *conf;
	fsm_serialize(n, &io->snap);
	io_queue(n, io);
}

static int
cb_snapshot_read(void *ud, uint64_t index, uint64_t off, void *buf,
    size_t len)
{
	struct fx_node *n = ud;
	for (unsigned i = 0; i < n->nsnaps; i++) {
		const struct fx_snapfile *s = &n->snaps[i];
		if (s->index != index)
			continue;
		if (off > s->len)
			return -EINVAL;
		size_t k = MIN(len, s->len - off);
		memcpy(buf, s->data + off, k);
		return (int)k;
	}
	return -ENOENT;
}

static int
cb_snapshot_write(void *ud, uint64_t index, uint64_t term, uint64_t off,
    const void *p, size_t len)
{
	struct fx_node *n = ud;
	if (off == 0)
		n->rxlen = 0;
	if (off != n->rxlen)
		return -EINVAL;
	if (n->rxlen + len > n->rxcap) {
		n->rxcap = MAX(n->rxlen + len, n->rxcap * 2);
		n->rx = xrealloc(n->rx, n->rxcap);
	}
	memcpy(n->rx + n->rxlen, p, len);
	n->rxlen += len;
	n->chunks_received++;
	return 0;
}

static void
cb_snapshot_install(void *ud, uint64_t index, uint64_t term,
    const struct rft_conf *conf)
{
	struct fx_node *n = ud;
	struct fx_io *io = xcalloc(1, sizeof(*io));
	io->kind = IO_INSTALL;
	io->snap.index = index;
	io->snap.term = term;
	io->snap.conf = *conf;
	io->snap.len = n->rxlen;
	io->snap.data = xmalloc(n->rxlen ? n->rxlen : 1);
	memcpy(io->snap.data, n->rx, n->rxlen);
	io_queue(n, io);
}

static struct fx_read *
read_take(struct fx *f, uint64_t cookie)
{
	for (size_t i = 0; i < f->nreads; i++)
		if (f->reads[i].cookie == cookie) {
			static struct fx_read r;
			r = f->reads[i];
			f->reads[i] = f->reads[--f->nreads];
			return &r;
		}
	return NULL;
}

static void
cb_read_done(void *ud, uint64_t cookie, int err, uint64_t index)
{
	struct fx_node *n = ud;
	struct fx *f = n->fx;
	struct fx_read *rd = read_take(f, cookie);
	if (!rd) {
		fail(f, "read completed twice or never asked");
		return;
	}
	if (err) {
		n->reads_failed++;
		return;
	}
	n->reads_done++;
	n->last_read_index = index;
	/* Linearizability: a read sees every write acknowledged before it
	 * was asked, and is served from a state that has them. */
	if (index < rd->need || n->fsm_index < index)
		fail(f, "node %llu: stale ReadIndex %llu (needed %llu, "
		    "applied %llu)", (unsigned long long)n->id,
		    (unsigned long long)index, (unsigned long long)rd->need,
		    (unsigned long long)n->fsm_index);
}

static void
check_new_leader(struct fx_node *n, uint64_t term)
{
	struct fx *f = n->fx;
	if (term >= f->nterms) {
		size_t nn = MAX(term + 1, f->nterms * 2);
		f->leader_of_term = xrealloc(f->leader_of_term,
		    nn * sizeof(uint64_t));
		memset(f->leader_of_term + f->nterms, 0,
		    (nn - f->nterms) * sizeof(uint64_t));
		f->nterms = nn;
	}
	/* Election safety (§3.4): at most one leader per term. */
	if (f->leader_of_term[term] && f->leader_of_term[term] != n->id)
		fail(f, "two leaders in term %llu: %llu and %llu",
		    (unsigned long long)term,
		    (unsigned long long)f->leader_of_term[term],
		    (unsigned long long)n->id);
	f->leader_of_term[term] = n->id;
	/* Leader completeness (§3.6.3): every applied (so committed)
	 * entry is in the new leader's log or snapshot. */
	uint64_t s = rft_snapshot_index(n->r);
	for (uint64_t i = s + 1; i <= f->max_applied; i++) {
		const struct rft_entry *e = rft_entry_at(n->r, i);
		const struct fx_rec *r = &f->rec[i];
		if (!e || e->term != r->term ||
		    hash_bytes(e->data, e->len) != r->hash) {
			fail(f, "leader %llu of term %llu lacks committed "
			    "entry %llu", (unsigned long long)n->id,
			    (unsigned long long)term, (unsigned long long)i);
			return;
		}
	}
}

static void
cb_role_changed(void *ud, enum rft_role role, uint64_t term, uint64_t leader)
{
	struct fx_node *n = ud;
	if (getenv("MUSTER_RAFT_TRACE"))
		fprintf(stderr, "%6llu node %llu role %d term %llu leader "
		    "%llu\n", (unsigned long long)n->fx->now,
		    (unsigned long long)n->id, role, (unsigned long long)term,
		    (unsigned long long)leader);
	if (role == RFT_LEADER)
		check_new_leader(ud, term);
}

static const struct rft_cbs fx_cbs = {
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
};

/* ---- nodes ---- */

static void
node_boot(struct fx *f, struct fx_node *n)
{
	struct rft_config c = f->cfg;
	c.id = n->id;
	c.seed = f->seed * 1000003 + n->id * 7919 + f->now;
	n->r = rft_new(&c, &fx_cbs, n);
	struct rft_boot b = { .term = n->term, .vote = n->vote };
	const struct fx_snapfile *s = snap_latest(n);
	n->fsm_index = n->fsm_hash = 0;
	if (s) {
		b.snap_index = s->index;
		b.snap_term = s->term;
		b.snap_conf = s->conf;
		fsm_restore(n, s);
	}
	struct rft_entry *ents = xcalloc(n->nlog + 1, sizeof(*ents));
	for (size_t i = 0; i < n->nlog; i++)
		ents[i] = (struct rft_entry){ n->log[i].index, n->log[i].term,
		    n->log[i].type, n->log[i].len, n->log[i].data, 0 };
	b.ents = ents;
	b.n = n->nlog;
	n->up = true;
	n->next_tick = f->now + 1 + fx_rand(f) % f->tick_ms;
	if (rft_start(n->r, &b, f->now) < 0)
		fail(f, "node %llu: restart refused its durable state "
		    "(snapshot %llu, log %llu..%llu)",
		    (unsigned long long)n->id, (unsigned long long)b.snap_index,
		    (unsigned long long)(n->nlog ? n->log[0].index : 0),
		    (unsigned long long)(n->nlog ? n->log[n->nlog - 1].index :
		    0));
	free(ents);
}

void
fx_init_partial(struct fx *f, unsigned n, unsigned voters, uint64_t seed)
{
	fx_init_with(f, n, voters, seed, NULL);
}

void
fx_init_with(struct fx *f, unsigned n, unsigned voters, uint64_t seed,
    void (*tune)(struct fx *f))
{
	memset(f, 0, sizeof(*f));
	f->n = n;
	f->seed = seed;
	f->rng = seed * 0x2545f4914f6cdd1dULL + 17;
	rft_config_default(&f->cfg, 0, 1);
	f->cfg.heartbeat_timeout_ms = 100;
	f->cfg.election_timeout_ms = 100;
	f->cfg.lease_timeout_ms = 50;
	f->cfg.heartbeat_interval_ms = 10;
	f->cfg.snapshot_threshold = 64;
	f->cfg.trailing_logs = 16;
	f->cfg.max_append_entries = 8;
	f->cfg.max_append_bytes = 4096;
	f->cfg.max_inflight = 4;
	f->cfg.snapshot_chunk = 512;
	f->tick_ms = 5;
	f->pad = 1500;
	f->faults = (struct fx_faults){ 0, 0, 1, 5, 1, 3 };
	if (tune)
		tune(f);
	if (getenv("MUSTER_RAFT_TRACE"))
		fprintf(stderr, "=== cluster of %u, seed %llu\n", n,
		    (unsigned long long)seed);
	struct rft_conf conf = { 0 };
	for (unsigned i = 0; i < voters; i++) {
		char name[16], addr[32];
		snprintf(name, sizeof(name), "n%u", i + 1);
		snprintf(addr, sizeof(addr), "127.0.0.1:%u", 8300 + i + 1);
		rft_conf_add(&conf, i + 1, RFT_VOTER, name, addr);
	}
	for (unsigned i = 0; i < n; i++) {
		struct fx_node *nd = &f->nodes[i];
		nd->fx = f;
		nd->id = i + 1;
		node_boot(f, nd);
		if (i < voters && rft_bootstrap(nd->r, &conf) < 0)
			fail(f, "bootstrap failed");
	}
}

void
fx_init(struct fx *f, unsigned n, uint64_t seed)
{
	fx_init_partial(f, n, n, seed);
}

static void
node_volatile_free(struct fx_node *n)
{
	while (n->io_head) {
		struct fx_io *io = n->io_head;
		n->io_head = io->next;
		io_free(io);
	}
	n->io_tail = NULL;
	rft_free(n->r);
	n->r = NULL;
	free(n->rx);
	n->rx = NULL;
	n->rxlen = n->rxcap = 0;
	n->up = false;
}

void
fx_free(struct fx *f)
{
	for (unsigned i = 0; i < f->n; i++) {
		struct fx_node *n = &f->nodes[i];
		node_volatile_free(n);
		dlog_truncate(n, 0);
		free(n->log);
		for (unsigned k = 0; k < n->nsnaps; k++)
			snap_free(&n->snaps[k]);
	}
	while (f->nheap)
		free(heap_pop(f));
	free(f->heap);
	free(f->leader_of_term);
	free(f->rec);
	free(f->props);
	free(f->reads);
}

/* A crash loses what was not reported durable, except that a random
 * prefix of the pending writes may have reached the disk already. */
void
fx_crash(struct fx *f, uint64_t id)
{
	struct fx_node *n = fx_node(f, id);
	if (!n || !n->up)
		return;
	if (getenv("MUSTER_RAFT_TRACE"))
		fprintf(stderr, "%6llu node %llu CRASH\n",
		    (unsigned long long)f->now, (unsigned long long)id);
	unsigned pending = 0;
	for (struct fx_io *io = n->io_head; io; io = io->next)
		pending++;
	unsigned keep = (unsigned)(fx_rand(f) % (pending + 1));
	for (struct fx_io *io = n->io_head; io && keep; io = io->next, keep--)
		io_apply(n, io);
	node_volatile_free(n);
}

void
fx_restart(struct fx *f, uint64_t id)
{
	struct fx_node *n = fx_node(f, id);
	if (!n || n->up)
		return;
	node_boot(f, n);
}

void
fx_cut(struct fx *f, uint64_t a, uint64_t b)
{
	f->cut[a][b] = f->cut[b][a] = true;
}

void
fx_isolate(struct fx *f, uint64_t id)
{
	for (unsigned i = 1; i <= f->n; i++)
		if (i != id)
			fx_cut(f, id, i);
}

void
fx_heal(struct fx *f)
{
	memset(f->cut, 0, sizeof(f->cut));
}

/* ---- events ---- */

static void
deliver(struct fx *f, struct fx_msg *m)
{
	struct fx_node *n = fx_node(f, m->to);
	unsigned type;
	const uint8_t *body;
	size_t blen;
	struct rft_msg rm;
	if (!n || !n->up || f->cut[m->from][m->to]) {
		f->dropped++;
		return;
	}
	if (rft_wire_unframe(m->data, m->len, &type, &body, &blen) !=
	    (ssize_t)m->len || rft_wire_decode(type, body, blen, &rm) < 0) {
		fail(f, "message from %llu does not decode",
		    (unsigned long long)m->from);
		return;
	}
	f->delivered++;
	if (getenv("MUSTER_RAFT_TRACE"))
		fprintf(stderr, "%6llu %llu->%llu type %u term %llu "
		    "[%llu %llu %llu n=%zu] node term %llu role %d\n",
		    (unsigned long long)f->now, (unsigned long long)m->from,
		    (unsigned long long)m->to, rm.type,
		    (unsigned long long)rm.term,
		    (unsigned long long)rm.append.prev_index,
		    (unsigned long long)rm.append.prev_term,
		    (unsigned long long)rm.append.commit, rm.append.n,
		    (unsigned long long)rft_term(n->r), rft_role(n->r));
	if (getenv("MUSTER_RAFT_TRACE") && rm.type == RFT_APPEND_RESP)
		fprintf(stderr, "       resp ok=%d last %llu match %llu reject "
		    "%llu cterm %llu cindex %llu; leader last %llu first %llu "
		    "snap %llu\n", rm.append_resp.success,
		    (unsigned long long)rm.append_resp.last,
		    (unsigned long long)rm.append_resp.match,
		    (unsigned long long)rm.append_resp.reject,
		    (unsigned long long)rm.append_resp.conflict_term,
		    (unsigned long long)rm.append_resp.conflict_index,
		    (unsigned long long)rft_last_index(n->r),
		    (unsigned long long)rft_first_index(n->r),
		    (unsigned long long)rft_snapshot_index(n->r));
	rft_tick(n->r, f->now);
	if (rft_step(n->r, &rm) < 0)
		fail(f, "node %llu refused a message of type %u",
		    (unsigned long long)n->id, rm.type);
	rft_wire_release(&rm);
}

static void
io_complete(struct fx *f, struct fx_node *n)
{
	struct fx_io *io = n->io_head;
	n->io_head = io->next;
	if (!n->io_head)
		n->io_tail = NULL;
	io_apply(n, io);
	rft_tick(n->r, f->now);
	switch (io->kind) {
	case IO_PERSIST:
		rft_persisted(n->r, io->ents[io->n - 1].index,
		    io->ents[io->n - 1].term);
		break;
	case IO_SNAP_TAKE:
		n->snaps_taken++;
		rft_snapshot_taken(n->r, io->snap.index, io->snap.term, 0);
		break;
	case IO_INSTALL: {
		const struct fx_snapfile *s = snap_latest(n);
		if (s && s->index == io->snap.index)
			fsm_restore(n, s);
		n->snaps_installed++;
		rft_snapshot_installed(n->r, io->snap.index, io->snap.term, 0);
		break;
	}
	case IO_COMPACT:
		break;
	}
	io_free(io);
}

bool
fx_step(struct fx *f)
{
	uint64_t best = UINT64_MAX;
	int kind = -1;
	unsigned who = 0;
	if (f->nheap) {
		best = f->heap[0]->at;
		kind = 0;
	}
	for (unsigned i = 0; i < f->n; i++) {
		struct fx_node *n = &f->nodes[i];
		if (!n->up)
			continue;
		if (n->io_head && n->io_head->ready < best) {
			best = n->io_head->ready;
			kind = 1;
			who = i;
		}
		if (n->next_tick < best) {
			best = n->next_tick;
			kind = 2;
			who = i;
		}
	}
	if (kind < 0)
		return false;
	if (best > f->now)
		f->now = best;
	f->steps++;
	if (kind == 0) {
		struct fx_msg *m = heap_pop(f);
		deliver(f, m);
		free(m);
	} else if (kind == 1) {
		io_complete(f, &f->nodes[who]);
	} else {
		struct fx_node *n = &f->nodes[who];
		n->next_tick += f->tick_ms;
		rft_tick(n->r, f->now);
	}
	if (f->steps % 512 == 0)
		fx_check(f);
	return true;
}

static uint64_t
next_event_time(struct fx *f)
{
	uint64_t t = f->nheap ? f->heap[0]->at : UINT64_MAX;
	for (unsigned i = 0; i < f->n; i++) {
		struct fx_node *n = &f->nodes[i];
		if (!n->up)
			continue;
		if (n->io_head)
			t = MIN(t, n->io_head->ready);
		t = MIN(t, n->next_tick);
	}
	return t;
}

void
fx_run_until(struct fx *f, uint64_t t)
{
	while (!fx_failed(f) && next_event_time(f) <= t)
		fx_step(f);
	if (f->now < t)
		f->now = t;
}

void
fx_run_for(struct fx *f, uint64_t ms)
{
	fx_run_until(f, f->now + ms);
}

bool
fx_run_until_pred(struct fx *f, uint64_t max_ms,
    bool (*pred)(struct fx *f, void *arg), void *arg)
{
	uint64_t end = f->now + max_ms;
	while (!fx_failed(f)) {
		if (pred(f, arg))
			return true;
		if (next_event_time(f) > end)
			break;
		fx_step(f);
	}
	return pred(f, arg);
}

uint64_t
fx_leader(struct fx *f)
{
	uint64_t best = 0, term = 0;
	unsigned count = 0;
	for (unsigned i = 0; i < f->n; i++) {
		struct fx_node *n = &f->nodes[i];
		if (!n->up || rft_role(n->r) != RFT_LEADER)
			continue;
		if (rft_term(n->r) > term) {
			term = rft_term(n->r);
			best = n->id;
			count = 1;
		}
	}
	(void)count;
	/* Every up node that can hear the leader agrees on it. */
	return best;
}

static bool
pred_leader(struct fx *f, void *arg)
{
	uint64_t l = fx_leader(f);
	if (!l)
		return false;
	struct fx_node *ln = fx_node(f, l);
	/* A leader that has committed its no-op is a working one. */
	return rft_commit_index(ln->r) >= rft_last_index(ln->r) ||
	    rft_lease_valid(ln->r, f->now);
}

uint64_t
fx_wait_leader(struct fx *f, uint64_t max_ms)
{
	return fx_run_until_pred(f, max_ms, pred_leader, NULL) ?
	    fx_leader(f) : 0;
}

int
fx_propose(struct fx *f, uint64_t id, const char *data)
{
	struct fx_node *n = fx_node(f, id);
	if (!n || !n->up)
		return -ENOENT;
	if (f->nprops == f->capprops) {
		f->capprops = f->capprops ? f->capprops * 2 : 64;
		f->props = xrealloc(f->props, f->capprops * sizeof(*f->props));
	}
	uint64_t cookie = f->nprops + 1, index;
	rft_tick(n->r, f->now);
	int r = rft_propose(n->r, data, strlen(data), cookie, &index);
	if (r < 0)
		return r;
	f->props[f->nprops++] = (struct fx_pending){ cookie, index,
	    hash_bytes(data, strlen(data)), false };
	return 0;
}

int
fx_read(struct fx *f, uint64_t id)
{
	struct fx_node *n = fx_node(f, id);
	if (!n || !n->up)
		return -ENOENT;
	if (f->nreads == f->capreads) {
		f->capreads = f->capreads ? f->capreads * 2 : 64;
		f->reads = xrealloc(f->reads, f->capreads * sizeof(*f->reads));
	}
	uint64_t cookie = ++f->ncookie;
	f->reads[f->nreads++] = (struct fx_read){ cookie, f->acked_max };
	rft_tick(n->r, f->now);
	int r = rft_read_index(n->r, cookie);
	if (r < 0)
		read_take(f, cookie);
	return r;
}

bool
fx_lease_read(struct fx *f, uint64_t id)
{
	struct fx_node *n = fx_node(f, id);
	if (!n || !n->up || !rft_lease_valid(n->r, f->now))
		return false;
	if (n->fsm_index < f->acked_max)
		fail(f, "node %llu: lease read at %llu misses acknowledged "
		    "write %llu", (unsigned long long)n->id,
		    (unsigned long long)n->fsm_index,
		    (unsigned long long)f->acked_max);
	return true;
}

/* Log matching (§3.5): two logs with an entry of the same index and term
 * are identical up to it. */
static void
check_pair(struct fx *f, struct rft *a, struct rft *b)
{
	uint64_t lo = MAX(rft_first_index(a), rft_first_index(b));
	uint64_t hi = MIN(rft_last_index(a), rft_last_index(b));
	uint64_t i;
	for (i = hi; i >= lo && i > 0; i--) {
		const struct rft_entry *x = rft_entry_at(a, i);
		const struct rft_entry *y = rft_entry_at(b, i);
		if (x && y && x->term == y->term)
			break;
	}
	for (; i >= lo && i > 0; i--) {
		const struct rft_entry *x = rft_entry_at(a, i);
		const struct rft_entry *y = rft_entry_at(b, i);
		if (!x || !y || x->term != y->term || x->type != y->type ||
		    x->len != y->len ||
		    (x->len && memcmp(x->data, y->data, x->len) != 0)) {
			fail(f, "log matching violated at %llu between %llu "
			    "and %llu", (unsigned long long)i,
			    (unsigned long long)rft_id(a),
			    (unsigned long long)rft_id(b));
			return;
		}
	}
}

void
fx_check(struct fx *f)
{
	for (unsigned i = 0; i < f->n; i++)
		for (unsigned j = i + 1; j < f->n; j++)
			if (f->nodes[i].up && f->nodes[j].up)
				check_pair(f, f->nodes[i].r, f->nodes[j].r);
	for (unsigned i = 0; i < f->n; i++) {
		struct fx_node *n = &f->nodes[i];
		if (n->up && rft_commit_index(n->r) > rft_last_index(n->r))
			fail(f, "node %llu commit past its log",
			    (unsigned long long)n->id);
	}
}

struct conv_arg {
	uint64_t index;
};

static bool
pred_converged(struct fx *f, void *arg)
{
	struct conv_arg *c = arg;
	uint64_t l = fx_leader(f);
	if (!l)
		return false;
	struct fx_node *ln = fx_node(f, l);
	uint64_t ci = rft_commit_index(ln->r);
	if (ci < c->index || ci < rft_last_index(ln->r))
		return false;
	for (unsigned i = 0; i < f->n; i++) {
		struct fx_node *n = &f->nodes[i];
		if (!n->up || !rft_conf_find(rft_conf(ln->r), n->id))
			continue;
		if (n->fsm_index != ci || rft_leader(n->r) != l)
			return false;
	}
	return true;
}

/* Liveness after heal: a leader emerges, a new write commits, and every
 * member applies everything up to it. */
bool
fx_converged(struct fx *f, uint64_t max_ms)
{
	uint64_t end = f->now + max_ms;
	uint64_t l = 0;
	while (!fx_failed(f) && f->now < end) {
		l = fx_wait_leader(f, end - f->now);
		if (!l)
			return false;
		if (fx_propose(f, l, "final") == 0)
			break;
		fx_run_for(f, 10);
	}
	struct conv_arg c = { f->nprops ? f->props[f->nprops - 1].index : 0 };
	if (f->now >= end)
		return false;
	bool ok = fx_run_until_pred(f, end - f->now, pred_converged, &c);
	if (ok) {
		fx_check(f);
		for (size_t i = 0; i < f->nprops; i++) {
			const struct fx_pending *p = &f->props[i];
			/* Nothing acknowledged is lost. */
			if (p->acked && (p->index >= f->nrec ||
			    f->rec[p->index].hash != p->hash))
				fail(f, "acknowledged write %llu lost",
				    (unsigned long long)p->index);
		}
	}
	return ok && !fx_failed(f);
}
