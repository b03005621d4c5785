/*
 * Log replication (§3.5, Figure 3.1), commitment (§3.6.2), application,
 * ReadIndex and the leader lease (§6.4), and the leader's side of
 * snapshots (§5.1-5.3).
 */
#include "workers/store/raft_int.h"
#include "lib/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct rft_progress *
rft_prog(struct rft *r, uint64_t id)
{
	for (unsigned i = 0; i < r->nprog; i++)
		if (r->prog[i].id == id)
			return &r->prog[i];
	return NULL;
}

static void
prog_init(struct rft *r, struct rft_progress *p, uint64_t id)
{
	memset(p, 0, sizeof(*p));
	p->id = id;
	p->state = RFT_P_PROBE;
	p->next = rft_log_last(r) + 1;
	/* A fresh leader grants every peer one election timeout of grace
	 * before CheckQuorum counts it as silent. */
	p->last_recv_ms = r->now;
}

/* One progress record per other server in the latest configuration,
 * keeping what is known about servers that stay (§4.1). */
void
rft_prog_rebuild(struct rft *r)
{
	struct rft_progress old[RFT_SERVERS_MAX];
	unsigned nold = r->nprog;
	memcpy(old, r->prog, sizeof(old[0]) * nold);
	r->nprog = 0;
	for (unsigned i = 0; i < r->conf.n; i++) {
		uint64_t id = r->conf.s[i].id;
		if (id == r->cfg.id)
			continue;
		struct rft_progress *p = &r->prog[r->nprog++];
		unsigned k;
		for (k = 0; k < nold && old[k].id != id; k++)
			;
		if (k < nold)
			*p = old[k];
		else
			prog_init(r, p, id);
	}
	if (r->transfer_to && !rft_prog(r, r->transfer_to))
		r->transfer_to = 0;
}

/* §3.6.2 / §6.4: a new leader appends a no-op so that entries of earlier
 * terms commit, and so that it learns the commit index for reads. */
void
rft_become_leader(struct rft *r)
{
	r->role = RFT_LEADER;
	r->pre = false;
	r->leader = r->cfg.id;
	r->nprog = 0;
	r->seq = 0;
	r->transfer_to = 0;
	r->read_round = false;
	rft_prog_rebuild(r);
	rft_log_append(r, r->term, RFT_ENTRY_NOOP, NULL, 0, 0);
	r->term_start = rft_log_last(r);
	if (r->cb.role_changed)
		r->cb.role_changed(r->ud, r->role, r->term, r->leader);
	rft_flush_persist(r);
	r->hb_due = r->now + r->cfg.heartbeat_interval_ms;
	rft_replicate_all(r);
}

/* Hand the next batch to the host.  One batch at a time: what arrives
 * while it is being written goes out with the next one (group commit). */
void
rft_flush_persist(struct rft *r)
{
	uint64_t last = rft_log_last(r);
	/* While a received snapshot is being installed the stored log is
	 * about to be replaced: nothing may be queued behind it. */
	if (r->persist_busy || r->rx_installing || r->next_persist > last ||
	    !r->cb.persist)
		return;
	if (r->next_persist < r->first)
		r->next_persist = r->first;
	struct rft_entry *e = rft_log_get(r, r->next_persist);
	size_t n = last - r->next_persist + 1;
	r->next_persist = last + 1;
	r->persist_busy = true;
	r->cb.persist(r->ud, e, n);
}

void
rft_persisted(struct rft *r, uint64_t index, uint64_t term)
{
	uint64_t t;
	r->persist_busy = false;
	/* The batch may have been overtaken by a truncation (same index,
	 * other term): then it proves nothing about the current log. */
	if (rft_log_term(r, index, &t) && t == term && index > r->persisted)
		r->persisted = index;
	rft_log_release(r);
	rft_flush_persist(r);
	if (r->role == RFT_LEADER)
		rft_maybe_commit(r);
	else
		rft_ack_leader(r);
}

static uint64_t
kth_largest(uint64_t *v, unsigned n, unsigned k)
{
	/* Insertion sort, descending: n is a handful of voters. */
	for (unsigned i = 1; i < n; i++)
		for (unsigned j = i; j > 0 && v[j] > v[j - 1]; j--) {
			uint64_t x = v[j];
			v[j] = v[j - 1];
			v[j - 1] = x;
		}
	return k >= 1 && k <= n ? v[k - 1] : 0;
}

/* The value a quorum of voters has reached; self counts as `mine`. */
static uint64_t
quorum_value(struct rft *r, size_t off, uint64_t mine)
{
	uint64_t v[RFT_SERVERS_MAX];
	unsigned n = 0;
	for (unsigned i = 0; i < r->conf.n; i++) {
		const struct rft_server *s = &r->conf.s[i];
		if (s->role != RFT_VOTER)
			continue;
		if (s->id == r->cfg.id) {
			v[n++] = mine;
			continue;
		}
		struct rft_progress *p = rft_prog(r, s->id);
		v[n++] = p ? *(const uint64_t *)((const char *)p + off) : 0;
	}
	return kth_largest(v, n, rft_quorum(r));
}

/* §3.6.2: the leader commits an index once a majority stores it, but
 * only by counting replicas of an entry of its own term (Figure 3.7). */
void
rft_maybe_commit(struct rft *r)
{
	if (r->role != RFT_LEADER)
		return;
	uint64_t n = quorum_value(r, offsetof(struct rft_progress, match),
	    r->persisted);
	uint64_t t;
	if (n > r->commit && rft_log_term(r, n, &t) && t == r->term) {
		r->commit = n;
		rft_apply_committed(r);
		if (r->role == RFT_LEADER) {
			rft_reads_check(r);
			rft_replicate_all(r);
		}
	}
}

void
rft_apply_committed(struct rft *r)
{
	bool step_down = false;
	while (r->applied < r->commit) {
		struct rft_entry *e = rft_log_get(r, r->applied + 1);
		if (!e)
			break;
		uint64_t cookie = e->cookie;
		e->cookie = 0;
		r->applied++;
		if (r->cb.apply) {
			struct rft_entry copy = *e;
			copy.cookie = cookie;
			r->cb.apply(r->ud, &copy);
		}
		/* §4.2.2: a leader removed by a committed configuration
		 * steps down once it is committed. */
		if (e->type == RFT_ENTRY_CONF && r->role == RFT_LEADER &&
		    e->index >= r->conf_index && !rft_self_voter(r))
			step_down = true;
	}
	if (step_down)
		rft_become_follower(r, r->term, 0);
	rft_maybe_snapshot(r);
	rft_log_release(r);
}

/* Entries that will not be applied with their cookie any more. */
void
rft_abandon_all(struct rft *r)
{
	for (uint64_t i = r->applied + 1; i <= rft_log_last(r); i++) {
		struct rft_entry *e = rft_log_get(r, i);
		if (e && e->cookie) {
			uint64_t c = e->cookie;
			e->cookie = 0;
			if (r->cb.abandon)
				r->cb.abandon(r->ud, c, -RFT_ELEADERLOST);
		}
	}
}

static void
inflight_push(struct rft_progress *p, uint64_t last)
{
	unsigned i = (p->in_head + p->in_count) % RFT_INFLIGHT_MAX;
	p->inflight[i] = last;
	p->in_count++;
}

static void
inflight_free_to(struct rft_progress *p, uint64_t last)
{
	while (p->in_count && p->inflight[p->in_head] <= last) {
		p->in_head = (p->in_head + 1) % RFT_INFLIGHT_MAX;
		p->in_count--;
	}
}

static void
to_probe(struct rft_progress *p, uint64_t next)
{
	p->state = RFT_P_PROBE;
	p->next = MAX(next, p->match + 1);
	p->in_count = p->in_head = 0;
	p->probe_sent = false;
	p->chunk_out = false;
}

static void send_chunk(struct rft *r, struct rft_progress *p);

static void
start_snapshot(struct rft *r, struct rft_progress *p)
{
	p->state = RFT_P_SNAPSHOT;
	p->snap_index = r->snap_index;
	p->snap_term = r->snap_term;
	p->snap_off = 0;
	p->in_count = p->in_head = 0;
	p->chunk_out = false;
	send_chunk(r, p);
}

static void
send_chunk(struct rft *r, struct rft_progress *p)
{
	if (p->snap_index != r->snap_index) {
		/* A newer snapshot replaced the one being sent. */
		p->snap_index = r->snap_index;
		p->snap_term = r->snap_term;
		p->snap_off = 0;
	}
	if (!r->chunk)
		r->chunk = xmalloc(r->cfg.snapshot_chunk);
	int n = r->cb.snapshot_read(r->ud, p->snap_index, p->snap_off,
	    r->chunk, r->cfg.snapshot_chunk);
	if (n < 0) {
		/* Retried at the next heartbeat. */
		p->chunk_out = true;
		p->sent_ms = r->now;
		return;
	}
	struct buf cb;
	buf_init(&cb);
	rft_conf_encode(&cb, &r->snap_conf);
	struct rft_msg m = { .type = RFT_SNAP, .to = p->id };
	m.snap.index = p->snap_index;
	m.snap.term = p->snap_term;
	m.snap.offset = p->snap_off;
	m.snap.seq = ++r->seq;
	m.snap.ts = r->now;
	m.snap.conf = cb.data;
	m.snap.conf_len = cb.len;
	m.snap.data = r->chunk;
	m.snap.len = (size_t)n;
	m.snap.done = (size_t)n < r->cfg.snapshot_chunk;
	p->chunk_out = true;
	p->sent_ms = r->now;
	rft_send(r, &m);
	buf_free(&cb);
}

/* Send one AppendEntries from p->next (or a heartbeat: no entries, a
 * consistency check at what the peer is known to hold). */
static void
send_append(struct rft *r, struct rft_progress *p, bool heartbeat)
{
	uint64_t prev = heartbeat ? p->acc : p->next - 1, pt;
	if (!rft_log_term(r, prev, &pt) || (!heartbeat && p->next < r->first)) {
		if (!heartbeat) {
			/* §5.3: the entries it needs were compacted. */
			start_snapshot(r, p);
			return;
		}
		prev = pt = 0;
	}
	struct rft_msg m = { .type = RFT_APPEND, .to = p->id };
	m.append.prev_index = prev;
	m.append.prev_term = pt;
	m.append.commit = r->commit;
	m.append.seq = ++r->seq;
	m.append.ts = r->now;
	uint64_t last = rft_log_last(r);
	bool copy = false;
	if (!heartbeat && p->next <= last) {
		size_t n = 0, bytes = 0;
		const struct rft_entry *e = rft_log_get(r, p->next);
		while (p->next + n <= last && n < r->cfg.max_append_entries &&
		    (n == 0 || bytes + e[n].len <= r->cfg.max_append_bytes)) {
			bytes += e[n].len;
			n++;
		}
		e = rft_log_borrow(r, p->next, &n, &copy);
		if (n == 0) {
			/* The log store could not give them back: retry at
			 * the next timeout, as after a lost probe. */
			rft_log_put_back(e, n, copy);
			to_probe(p, p->acc + 1);
			p->probe_sent = true;
			p->sent_ms = r->now;
			return;
		}
		m.append.ents = e;
		m.append.n = n;
	}
	if (!heartbeat) {
		if (p->state == RFT_P_PIPELINE && m.append.n) {
			if (p->in_count == 0)
				p->sent_ms = r->now;
			p->next += m.append.n;
			inflight_push(p, p->next - 1);
		} else if (p->state == RFT_P_PROBE) {
			p->probe_sent = true;
			p->sent_ms = r->now;
		}
	}
	rft_send(r, &m);
	rft_log_put_back(m.append.ents, m.append.n, copy);
}

void
rft_replicate(struct rft *r, struct rft_progress *p)
{
	switch (p->state) {
	case RFT_P_PROBE:
		if (!p->probe_sent)
			send_append(r, p, false);
		break;
	case RFT_P_PIPELINE:
		while (p->state == RFT_P_PIPELINE &&
		    p->in_count < r->cfg.max_inflight &&
		    p->next <= rft_log_last(r))
			send_append(r, p, false);
		break;
	case RFT_P_SNAPSHOT:
		if (!p->chunk_out)
			send_chunk(r, p);
		break;
	}
}

void
rft_replicate_all(struct rft *r)
{
	for (unsigned i = 0; i < r->nprog && r->role == RFT_LEADER; i++)
		rft_replicate(r, &r->prog[i]);
}

void
rft_heartbeat_all(struct rft *r)
{
	for (unsigned i = 0; i < r->nprog; i++)
		send_append(r, &r->prog[i], true);
}

/* Retransmission: lost probes, stalled pipelines and chunks. */
static void
prog_tick(struct rft *r, struct rft_progress *p)
{
	uint64_t retry = 2 * (uint64_t)r->cfg.heartbeat_interval_ms;
	if (r->now - p->sent_ms < retry)
		return;
	if (p->state == RFT_P_PROBE && p->probe_sent)
		p->probe_sent = false;
	else if (p->state == RFT_P_PIPELINE && p->in_count)
		to_probe(p, p->acc + 1);
	else if (p->state == RFT_P_SNAPSHOT && p->chunk_out)
		p->chunk_out = false;
	rft_replicate(r, p);
}

void
rft_leader_tick(struct rft *r)
{
	/* CheckQuorum: a leader that has not heard from a quorum within an
	 * election timeout steps down (§6.2), so that clients find the
	 * real leader and its lease cannot outlive its authority. */
	uint64_t q = quorum_value(r, offsetof(struct rft_progress,
	    last_recv_ms), r->now);
	if (r->now - q >= r->cfg.election_timeout_ms) {
		rft_become_follower(r, r->term, 0);
		return;
	}
	if (r->transfer_to && r->now >= r->transfer_deadline) {
		/* §3.10: give up and serve again.  A TimeoutNow still in the
		 * network lets its target bypass stickiness, so no lease
		 * until it can no longer arrive. */
		r->transfer_to = 0;
		r->lease_block_until = r->now + r->cfg.election_timeout_ms;
	}
	if (r->now >= r->hb_due) {
		r->hb_due = r->now + r->cfg.heartbeat_interval_ms;
		rft_heartbeat_all(r);
	}
	for (unsigned i = 0; i < r->nprog && r->role == RFT_LEADER; i++)
		prog_tick(r, &r->prog[i]);
}

/* Follower: report progress to the leader (after a persist, too). */
static void
send_append_ok(struct rft *r, uint64_t to)
{
	struct rft_msg resp = { .type = RFT_APPEND_RESP, .to = to };
	resp.append_resp.success = true;
	resp.append_resp.last = r->verified;
	resp.append_resp.match = MIN(r->persisted, r->verified);
	resp.append_resp.seq = r->last_seq;
	resp.append_resp.ts = r->last_ts;
	rft_send(r, &resp);
}

void
rft_ack_leader(struct rft *r)
{
	if (r->role == RFT_FOLLOWER && r->leader && r->last_seq)
		send_append_ok(r, r->leader);
}

static void
append_reject(struct rft *r, const struct rft_msg *m)
{
	const struct rft_append *a = &m->append;
	struct rft_msg resp = { .type = RFT_APPEND_RESP, .to = m->from };
	struct rft_append_resp *ar = &resp.append_resp;
	uint64_t last = rft_log_last(r), t;
	ar->reject = a->prev_index;
	ar->seq = a->seq;
	ar->ts = a->ts;
	if (a->prev_index > last) {
		ar->conflict_index = last + 1;
	} else if (rft_log_term(r, a->prev_index, &t)) {
		/* Fast backtracking: skip the whole conflicting term. */
		uint64_t i = a->prev_index;
		while (i > r->first && rft_log_get(r, i - 1)->term == t)
			i--;
		ar->conflict_term = t;
		ar->conflict_index = i;
	} else {
		ar->conflict_index = r->snap_index + 1;
	}
	rft_send(r, &resp);
}

/* Store the entries of an AppendEntries whose consistency check passed;
 * an existing entry that conflicts (same index, other term) is deleted
 * with all that follow it (Figure 3.1, receiver step 3). */
static bool
append_entries(struct rft *r, const struct rft_append *a)
{
	for (size_t k = 0; k < a->n; k++) {
		const struct rft_entry *e = &a->ents[k];
		uint64_t idx = a->prev_index + 1 + k, t;
		if (idx <= r->snap_index)
			continue;
		if (rft_log_term(r, idx, &t)) {
			if (t == e->term)
				continue;
			if (idx <= r->commit)
				return false;	/* never undo a commit */
			rft_log_truncate(r, idx);
			rft_conf_refresh(r);
		}
		if (e->type < RFT_ENTRY_NORMAL || e->type > RFT_ENTRY_CONF)
			return false;
		rft_log_append(r, e->term, e->type, e->data, e->len, 0);
		if (e->type == RFT_ENTRY_CONF)
			rft_conf_refresh(r);
	}
	return true;
}

void
rft_recv_append(struct rft *r, const struct rft_msg *m)
{
	const struct rft_append *a = &m->append;
	if (r->role != RFT_FOLLOWER || r->leader != m->from)
		rft_become_follower(r, r->term, m->from);
	r->last_leader_ms = r->now;
	r->sticky_until = r->now + r->cfg.heartbeat_timeout_ms;
	rft_reset_election(r);
	if (r->rx_installing)
		return;	/* the log is about to be replaced */
	if (a->seq > r->last_seq) {
		r->last_seq = a->seq;
		r->last_ts = a->ts;
	}
	uint64_t t;
	uint64_t end = a->prev_index + a->n;
	if (a->prev_index < r->snap_index) {
		/* Our snapshot holds committed entries, which match any
		 * leader's; check from there. */
		if (end <= r->snap_index) {
			r->verified = MAX(r->verified, r->snap_index);
			send_append_ok(r, m->from);
			return;
		}
		if (a->ents[r->snap_index - a->prev_index - 1].term !=
		    r->snap_term) {
			append_reject(r, m);
			return;
		}
	} else if (!rft_log_term(r, a->prev_index, &t) ||
	    t != a->prev_term) {
		append_reject(r, m);
		return;
	}
	if (!append_entries(r, a))
		return;
	r->verified = MAX(r->verified, end);
	rft_flush_persist(r);
	uint64_t c = MIN(a->commit, r->verified);
	if (c > r->commit) {
		r->commit = c;
		rft_apply_committed(r);
	}
	send_append_ok(r, m->from);
}

/* §3.5 with fast backtracking: use the follower's conflict hint to skip
 * a term per round trip instead of an entry. */
static uint64_t
backtrack(struct rft *r, const struct rft_append_resp *ar)
{
	uint64_t next = ar->conflict_index;
	if (ar->conflict_term) {
		uint64_t i = MIN(ar->reject, rft_log_last(r));
		for (; i >= r->first && i > 0; i--) {
			uint64_t t = rft_log_get(r, i)->term;
			if (t == ar->conflict_term) {
				next = i + 1;
				break;
			}
			if (t < ar->conflict_term)
				break;
		}
	}
	if (next > ar->reject)
		next = ar->reject;
	return MAX(next, 1);
}

static void
note_contact(struct rft *r, struct rft_progress *p, uint64_t seq,
    uint64_t ts)
{
	p->last_recv_ms = r->now;
	if (seq > p->acked_seq)
		p->acked_seq = seq;
	if (ts > p->acked_ts)
		p->acked_ts = ts;
}

void
rft_recv_append_resp(struct rft *r, const struct rft_msg *m)
{
	const struct rft_append_resp *ar = &m->append_resp;
	struct rft_progress *p;
	if (r->role != RFT_LEADER || !(p = rft_prog(r, m->from)))
		return;
	note_contact(r, p, ar->seq, ar->ts);
	if (ar->success && p->state != RFT_P_SNAPSHOT) {
		uint64_t last = MIN(ar->last, rft_log_last(r));
		p->acc = MAX(p->acc, last);
		p->match = MAX(p->match, MIN(ar->match, last));
		unsigned before = p->in_count;
		inflight_free_to(p, p->acc);
		/* Only progress restarts the stall timer: heartbeats are
		 * answered even while every pipelined message was lost. */
		if (p->in_count < before)
			p->sent_ms = r->now;
		if (p->state == RFT_P_PROBE) {
			p->state = RFT_P_PIPELINE;
			p->probe_sent = false;
			p->in_count = p->in_head = 0;
			p->next = p->acc + 1;
		} else {
			p->next = MAX(p->next, p->acc + 1);
		}
		rft_maybe_commit(r);
		rft_transfer_check(r, p);
	} else if (!ar->success && p->state != RFT_P_SNAPSHOT) {
		if (p->state == RFT_P_PIPELINE && ar->reject > p->match) {
			to_probe(p, backtrack(r, ar));
			p->acc = p->match;
		} else if (p->state == RFT_P_PROBE &&
		    ar->reject == p->next - 1) {
			to_probe(p, backtrack(r, ar));
			p->acc = MIN(p->acc, p->next - 1);
		}
	}
	rft_reads_check(r);
	if (r->role == RFT_LEADER)
		rft_replicate(r, p);
}

/* Follower side of InstallSnapshot, in chunks (§5.3, Figure 5.3). */
static void
snap_reply(struct rft *r, uint64_t to, uint64_t index, uint64_t next,
    bool done, bool have)
{
	struct rft_msg resp = { .type = RFT_SNAP_RESP, .to = to };
	resp.snap_resp.index = index;
	resp.snap_resp.next_offset = next;
	resp.snap_resp.done = done;
	resp.snap_resp.have = have;
	resp.snap_resp.seq = r->last_seq;
	resp.snap_resp.ts = r->last_ts;
	rft_send(r, &resp);
}

/* Figure 5.3 step 6: a log that already holds the snapshot's last entry
 * keeps what follows it.  We go further and skip the install: entries we
 * acknowledged as durable must never be dropped for a snapshot. */
static bool
snap_not_needed(const struct rft *r, const struct rft_snap *s)
{
	uint64_t t;
	return s->index <= r->commit || s->index <= r->snap_index ||
	    (rft_log_term(r, s->index, &t) && t == s->term);
}

void
rft_recv_snap(struct rft *r, const struct rft_msg *m)
{
	const struct rft_snap *s = &m->snap;
	if (r->role != RFT_FOLLOWER || r->leader != m->from)
		rft_become_follower(r, r->term, m->from);
	r->last_leader_ms = r->now;
	r->sticky_until = r->now + r->cfg.heartbeat_timeout_ms;
	rft_reset_election(r);
	if (r->rx_installing)
		return;
	if (s->seq > r->last_seq) {
		r->last_seq = s->seq;
		r->last_ts = s->ts;
	}
	if (snap_not_needed(r, s)) {
		snap_reply(r, m->from, s->index, 0, true, true);
		return;
	}
	if (s->offset == 0) {
		if (rft_conf_decode(s->conf, s->conf_len, &r->rx_conf) < 0)
			return;
		r->rx_index = s->index;
		r->rx_term = s->term;
		r->rx_off = 0;
		r->rx_active = true;
	}
	if (!r->rx_active || s->index != r->rx_index ||
	    s->term != r->rx_term || s->offset != r->rx_off) {
		snap_reply(r, m->from, s->index,
		    r->rx_active && s->index == r->rx_index ? r->rx_off : 0,
		    false, false);
		return;
	}
	if (r->cb.snapshot_write(r->ud, s->index, s->term, s->offset,
	    s->data, s->len) < 0) {
		r->rx_active = false;
		snap_reply(r, m->from, s->index, 0, false, false);
		return;
	}
	r->rx_off += s->len;
	if (!s->done) {
		snap_reply(r, m->from, s->index, r->rx_off, false, false);
		return;
	}
	r->rx_installing = true;
	r->cb.snapshot_install(r->ud, s->index, s->term, &r->rx_conf);
}

void
rft_snapshot_installed(struct rft *r, uint64_t index, uint64_t term, int err)
{
	if (!r->rx_installing || index != r->rx_index || term != r->rx_term)
		return;
	r->rx_installing = false;
	r->rx_active = false;
	if (err < 0) {
		rft_flush_persist(r);
		return;
	}
	/* Nothing changed since the install was asked for (AppendEntries
	 * and elections wait for it), and the host has replaced log and
	 * state machine: follow. */
	rft_log_reset(r, index, term);
	r->snap_conf = r->rx_conf;
	r->commit = r->applied = r->persisted = r->verified = index;
	r->next_persist = index + 1;
	rft_conf_refresh(r);
	rft_flush_persist(r);
	if (r->role == RFT_FOLLOWER && r->leader)
		snap_reply(r, r->leader, index, 0, true, false);
}

void
rft_recv_snap_resp(struct rft *r, const struct rft_msg *m)
{
	const struct rft_snap_resp *sr = &m->snap_resp;
	struct rft_progress *p;
	if (r->role != RFT_LEADER || !(p = rft_prog(r, m->from)))
		return;
	note_contact(r, p, sr->seq, sr->ts);
	if (p->state != RFT_P_SNAPSHOT || sr->index != p->snap_index) {
		rft_reads_check(r);
		return;
	}
	if (sr->done) {
		p->acc = MAX(p->acc, sr->index);
		if (!sr->have)
			p->match = MAX(p->match, sr->index);
		to_probe(p, p->acc + 1);
		rft_maybe_commit(r);
	} else {
		p->snap_off = sr->next_offset;
		p->chunk_out = false;
	}
	rft_reads_check(r);
	if (r->role == RFT_LEADER)
		rft_replicate(r, p);
}

/* Take a snapshot every snapshot_threshold applied entries (§5.1), and
 * with a snapshot_interval no sooner than a random [i, 2i) after the
 * previous one unless the log grew past RFT_SNAP_BOUND thresholds. */
void
rft_maybe_snapshot(struct rft *r)
{
	uint64_t iv = r->cfg.snapshot_interval_ms;
	uint64_t since = r->applied - r->snap_index;
	if (r->snap_taking || r->cfg.snapshot_threshold == 0 ||
	    since < r->cfg.snapshot_threshold ||
	    r->applied < r->snap_retry_applied || !r->cb.take_snapshot)
		return;
	/* The interval yields to RFT_SNAP_BOUND thresholds' worth of log:
	 * the log's memory (metadata) and disk stay bounded. */
	if (iv && r->now < r->snap_check_at &&
	    since < RFT_SNAP_BOUND * r->cfg.snapshot_threshold)
		return;
	if (iv)
		r->snap_check_at = r->now + iv + rft_rand(r) % iv;
	uint64_t ci;
	r->snap_taking = true;
	r->take_index = r->applied;
	rft_log_term(r, r->applied, &r->take_term);
	rft_conf_at(r, r->applied, &r->take_conf, &ci);
	r->cb.take_snapshot(r->ud, r->take_index, r->take_term,
	    &r->take_conf);
}

void
rft_snapshot_taken(struct rft *r, uint64_t index, uint64_t term, int err)
{
	if (!r->snap_taking || index != r->take_index)
		return;
	r->snap_taking = false;
	if (err < 0) {
		/* Try again after a few more entries, not on every one. */
		r->snap_retry_applied = r->applied +
		    MAX(1, r->cfg.snapshot_threshold / 8);
		return;
	}
	if (index <= r->snap_index)
		return;
	r->snap_index = index;
	r->snap_term = term;
	r->snap_conf = r->take_conf;
	/* Keep trailing_logs entries so that a slightly lagging follower
	 * catches up from the log, not with a whole snapshot; never drop
	 * what is not yet durable in the log store. */
	if (index > r->cfg.trailing_logs) {
		uint64_t upto = MIN(index - r->cfg.trailing_logs, r->persisted);
		if (upto >= r->first) {
			rft_log_compact(r, upto);
			if (r->cb.compact)
				r->cb.compact(r->ud, upto);
		}
	}
}

/* ReadIndex (§6.4): remember the commit index, confirm leadership with
 * a quorum round started after the request, answer once applied. */
int
rft_read_index(struct rft *r, uint64_t cookie)
{
	if (r->role != RFT_LEADER)
		return -RFT_ENOTLEADER;
	if (r->nreads == r->capreads) {
		r->capreads = r->capreads ? r->capreads * 2 : 16;
		r->reads = xrealloc(r->reads, r->capreads * sizeof(*r->reads));
	}
	struct rft_read *rd = &r->reads[r->nreads++];
	rd->cookie = cookie;
	rd->seq = r->seq + 1;
	rd->index = r->commit >= r->term_start ? r->commit : 0;
	if (!r->read_round && rft_conf_voters(&r->conf) > 1) {
		r->read_round = true;
		r->read_round_seq = r->seq + 1;
		rft_heartbeat_all(r);
	}
	rft_reads_check(r);
	return 0;
}

void
rft_reads_check(struct rft *r)
{
	if (r->role != RFT_LEADER || r->nreads == 0)
		return;
	uint64_t q = quorum_value(r, offsetof(struct rft_progress, acked_seq),
	    UINT64_MAX);
	size_t k = 0;
	for (size_t i = 0; i < r->nreads; i++) {
		struct rft_read *rd = &r->reads[i];
		if (rd->index == 0 && r->commit >= r->term_start)
			rd->index = r->commit;
		if (rd->index && rd->seq <= q && r->applied >= rd->index) {
			if (r->cb.read_done)
				r->cb.read_done(r->ud, rd->cookie, 0,
				    rd->index);
			continue;
		}
		r->reads[k++] = *rd;
	}
	r->nreads = k;
	if (r->read_round && q >= r->read_round_seq)
		r->read_round = false;
	if (!r->read_round && r->nreads && rft_conf_voters(&r->conf) > 1 &&
	    r->reads[r->nreads - 1].seq > q) {
		r->read_round = true;
		r->read_round_seq = r->seq + 1;
		rft_heartbeat_all(r);
	}
}

void
rft_reads_fail(struct rft *r, int err)
{
	size_t n = r->nreads;
	r->nreads = 0;
	r->read_round = false;
	for (size_t i = 0; i < n; i++)
		if (r->cb.read_done)
			r->cb.read_done(r->ud, r->reads[i].cookie, err, 0);
}

/*
 * §6.4.1: a leader may answer reads alone while no other leader can
 * exist.  Followers refuse to elect anyone for heartbeat_timeout after
 * they last heard from us (leader stickiness, also after a restart), so
 * a message a quorum acknowledged, sent at ts, keeps us the only leader
 * until ts + heartbeat_timeout; lease_timeout is shorter to absorb clock
 * drift and the tick granularity.
 */
bool
rft_lease_valid(const struct rft *r, uint64_t now)
{
	if (r->role != RFT_LEADER || r->transfer_to ||
	    r->commit < r->term_start || now < r->lease_block_until)
		return false;
	uint64_t ts = quorum_value((struct rft *)r,
	    offsetof(struct rft_progress, acked_ts), UINT64_MAX);
	if (ts == UINT64_MAX)
		return true;	/* a single voter */
	return ts && now < ts + r->cfg.lease_timeout_ms;
}

bool
rft_peer_progress(const struct rft *r, uint64_t id, uint64_t *match,
    uint64_t *last_contact_ms)
{
	if (r->role != RFT_LEADER)
		return false;
	struct rft_progress *p = rft_prog((struct rft *)r, id);
	if (!p)
		return false;
	*match = p->match;
	*last_contact_ms = p->last_recv_ms;
	return true;
}
