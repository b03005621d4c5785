/*
 * Raft core: life cycle, time, message dispatch, roles and elections
 * (§3.3, §3.4, Figure 3.1), pre-vote and leader stickiness (§9.6, §4.2.3).
 */
#include "workers/store/raft_int.h"
#include "lib/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct rft *
rft_new(const struct rft_config *c, const struct rft_cbs *cb, void *ud)
{
	struct rft *r = xcalloc(1, sizeof(*r));
	r->cfg = *c;
	if (r->cfg.heartbeat_interval_ms == 0)
		r->cfg.heartbeat_interval_ms =
		    MAX(1u, r->cfg.heartbeat_timeout_ms / 10);
	if (r->cfg.max_append_entries == 0)
		r->cfg.max_append_entries = 64;
	if (r->cfg.max_inflight == 0)
		r->cfg.max_inflight = 1;
	if (r->cfg.max_inflight > RFT_INFLIGHT_MAX)
		r->cfg.max_inflight = RFT_INFLIGHT_MAX;
	if (r->cfg.snapshot_chunk == 0)
		r->cfg.snapshot_chunk = 256 * 1024;
	if (r->cfg.max_append_bytes == 0)
		r->cfg.max_append_bytes = 1 << 20;
	r->cb = *cb;
	r->ud = ud;
	r->rng = c->seed;
	r->first = 1;
	r->next_persist = 1;
	return r;
}

void
rft_free(struct rft *r)
{
	if (!r)
		return;
	rft_log_free(r);
	free(r->reads);
	free(r->chunk);
	free(r);
}

/* Randomized timeouts in [base, 2*base) keep split votes rare (§3.4). */
void
rft_reset_election(struct rft *r)
{
	uint64_t base = r->role == RFT_CANDIDATE ?
	    r->cfg.election_timeout_ms : r->cfg.heartbeat_timeout_ms;
	r->election_deadline = r->now + base + rft_rand(r) % MAX(base, 1);
}

bool
rft_self_voter(const struct rft *r)
{
	return rft_conf_is_voter(&r->conf, r->cfg.id);
}

unsigned
rft_quorum(const struct rft *r)
{
	return rft_conf_voters(&r->conf) / 2 + 1;
}

static void
notify_role(struct rft *r)
{
	if (r->cb.role_changed)
		r->cb.role_changed(r->ud, r->role, r->term, r->leader);
}

static void
save_term(struct rft *r, uint64_t term, uint64_t vote)
{
	if (r->cb.save_term && r->cb.save_term(r->ud, term, vote) < 0) {
		/* Nothing may be sent that relies on state we failed to
		 * store; keep the old values and let the timer retry. */
		return;
	}
	r->term = term;
	r->vote = vote;
}

/* Load the stored log: it must connect to the snapshot; entries that
 * end before the snapshot or disagree with it at its index are older
 * than the snapshot and are dropped (and deleted from storage). */
static int
load_log(struct rft *r, const struct rft_boot *b)
{
	size_t n = b->n;
	const struct rft_entry *e = b->ents;
	bool stale = false;
	if (n && e[0].index > b->snap_index + 1)
		return -EINVAL;
	if (n && e[n - 1].index < b->snap_index)
		stale = true;
	for (size_t k = 0; k < n && !stale; k++)
		if (e[k].index == b->snap_index && e[k].term != b->snap_term)
			stale = true;
	if (stale) {
		if (r->cb.compact)
			r->cb.compact(r->ud, e[n - 1].index);
		return 0;
	}
	if (n)
		r->first = e[0].index;
	for (size_t k = 0; k < n; k++) {
		if (e[k].index != r->first + r->nents ||
		    e[k].type < RFT_ENTRY_NORMAL || e[k].type > RFT_ENTRY_CONF)
			return -EINVAL;
		rft_log_append(r, e[k].term, e[k].type, e[k].data, e[k].len, 0);
	}
	return 0;
}

int
rft_start(struct rft *r, const struct rft_boot *b, uint64_t now)
{
	r->now = now;
	if (b) {
		r->term = b->term;
		r->vote = b->vote;
		r->snap_index = b->snap_index;
		r->snap_term = b->snap_term;
		r->snap_conf = b->snap_conf;
		r->first = b->snap_index + 1;
		int e = load_log(r, b);
		if (e < 0) {
			rft_log_reset(r, r->snap_index, r->snap_term);
			return e;
		}
	}
	r->persisted = rft_log_last(r);
	r->next_persist = r->persisted + 1;
	r->commit = r->applied = r->verified = r->snap_index;
	r->role = RFT_FOLLOWER;
	r->started = true;
	/* A restarted server does not help depose a leader it may have
	 * acknowledged just before crashing: that keeps leases safe. */
	r->sticky_until = now + r->cfg.heartbeat_timeout_ms;
	rft_conf_refresh(r);
	rft_reset_election(r);
	if (rft_self_voter(r) && rft_conf_voters(&r->conf) == 1)
		rft_campaign(r, false, false);
	return 0;
}

int
rft_bootstrap(struct rft *r, const struct rft_conf *c)
{
	if (r->term != 0 || rft_log_last(r) != 0)
		return -EEXIST;
	if (c->n == 0 || rft_conf_voters(c) == 0)
		return -EINVAL;
	struct buf b;
	buf_init(&b);
	rft_conf_encode(&b, c);
	save_term(r, 1, 0);
	rft_log_append(r, 1, RFT_ENTRY_CONF, b.data, b.len, 0);
	buf_free(&b);
	rft_conf_refresh(r);
	rft_flush_persist(r);
	if (rft_self_voter(r) && rft_conf_voters(&r->conf) == 1)
		rft_campaign(r, false, false);
	return 0;
}

void
rft_send(struct rft *r, struct rft_msg *m)
{
	m->from = r->cfg.id;
	m->term = m->term ? m->term : r->term;
	r->cb.send(r->ud, m);
}

void
rft_become_follower(struct rft *r, uint64_t term, uint64_t leader)
{
	uint8_t old_role = r->role;
	uint64_t old_leader = r->leader, old_term = r->term;
	if (term > r->term)
		save_term(r, term, 0);
	if (old_role == RFT_LEADER) {
		rft_abandon_all(r);
		rft_reads_fail(r, -RFT_ENOTLEADER);
		r->transfer_to = 0;
		r->nprog = 0;
	}
	r->role = RFT_FOLLOWER;
	r->pre = false;
	r->leader = leader;
	if (r->term != old_term || leader != old_leader) {
		/* What matched an old leader's log says nothing about the
		 * new one's; committed entries match every leader's. */
		r->verified = r->commit;
		r->last_seq = r->last_ts = 0;
	}
	if (leader) {
		r->last_leader_ms = r->now;
		r->sticky_until = r->now + r->cfg.heartbeat_timeout_ms;
	}
	rft_reset_election(r);
	if (old_role != r->role || old_leader != leader || old_term != r->term)
		notify_role(r);
}

static bool
granted_has(struct rft *r, uint64_t id)
{
	for (unsigned i = 0; i < r->ngranted; i++)
		if (r->granted[i] == id)
			return true;
	return false;
}

static unsigned
granted_voters(struct rft *r)
{
	unsigned n = 0;
	for (unsigned i = 0; i < r->ngranted; i++)
		n += rft_conf_is_voter(&r->conf, r->granted[i]);
	return n;
}

static void
election_won(struct rft *r)
{
	if (r->pre)
		rft_campaign(r, false, false);
	else
		rft_become_leader(r);
}

/*
 * Start an election (§3.4), or its pre-vote phase (§9.6) in which the
 * would-be candidate asks whether it could win before disturbing anyone
 * with a higher term.
 */
void
rft_campaign(struct rft *r, bool pre, bool transfer)
{
	if (!rft_self_voter(r) || r->rx_installing)
		return;
	uint64_t old_leader = r->leader;
	r->role = RFT_CANDIDATE;
	r->pre = pre;
	r->leader = 0;
	if (!pre)
		save_term(r, r->term + 1, r->cfg.id);
	r->ngranted = 0;
	r->granted[r->ngranted++] = r->cfg.id;
	rft_reset_election(r);
	if (!pre || old_leader)
		notify_role(r);
	if (granted_voters(r) >= rft_quorum(r)) {
		election_won(r);
		return;
	}
	uint64_t lt = 0;
	rft_log_term(r, rft_log_last(r), &lt);
	for (unsigned i = 0; i < r->conf.n; i++) {
		const struct rft_server *s = &r->conf.s[i];
		if (s->id == r->cfg.id || s->role != RFT_VOTER)
			continue;
		struct rft_msg m = { .type = RFT_VOTE, .to = s->id };
		m.term = pre ? r->term + 1 : r->term;
		m.vote.last_index = rft_log_last(r);
		m.vote.last_term = lt;
		m.vote.pre = pre;
		m.vote.transfer = transfer;
		rft_send(r, &m);
	}
}

/* §5.4.1's election restriction: is the candidate's log at least as
 * up to date as ours? */
static bool
log_ok(const struct rft *r, const struct rft_vote *v)
{
	uint64_t lt = 0;
	rft_log_term(r, rft_log_last(r), &lt);
	return v->last_term > lt ||
	    (v->last_term == lt && v->last_index >= rft_log_last(r));
}

static bool
in_lease(const struct rft *r)
{
	return r->role == RFT_LEADER || r->now < r->sticky_until;
}

static void
recv_vote(struct rft *r, const struct rft_msg *m)
{
	const struct rft_vote *v = &m->vote;
	struct rft_msg resp = { .type = RFT_VOTE_RESP, .to = m->from };
	resp.vote_resp.pre = v->pre;
	bool grant = false;
	/* §4.1: requests are handled without consulting the configuration,
	 * so that a server added by an entry we lack can still win; removed
	 * servers are kept out by stickiness instead (§4.2.3). */
	if (!log_ok(r, v))
		grant = false;
	else if (v->pre)
		/* Granting a pre-vote promises nothing and changes nothing. */
		grant = m->term > r->term;
	else
		grant = m->term == r->term &&
		    (r->vote == 0 || r->vote == m->from);
	if (grant && !v->pre) {
		save_term(r, r->term, m->from);
		grant = r->vote == m->from;
		if (grant)
			rft_reset_election(r);
	}
	resp.vote_resp.granted = grant;
	/* A granted pre-vote answers in the term it was asked about so that
	 * the pre-candidate can tell it from a stale reply. */
	resp.term = grant && v->pre ? m->term : r->term;
	rft_send(r, &resp);
}

static void
recv_vote_resp(struct rft *r, const struct rft_msg *m)
{
	if (r->role != RFT_CANDIDATE || m->vote_resp.pre != r->pre)
		return;
	uint64_t want = r->pre ? r->term + 1 : r->term;
	if (m->term != want || !m->vote_resp.granted)
		return;
	if (granted_has(r, m->from) || r->ngranted == RFT_SERVERS_MAX)
		return;
	r->granted[r->ngranted++] = m->from;
	if (granted_voters(r) >= rft_quorum(r))
		election_won(r);
}

static void
recv_timeout_now(struct rft *r, const struct rft_msg *m)
{
	/* §3.10: the leader hands over; start a real election at once. */
	if (r->role == RFT_FOLLOWER && m->from == r->leader)
		rft_campaign(r, false, true);
}

/* A message from a term older than ours: tell its sender (a deposed
 * leader or candidate learns of the newer term, Figure 3.1). */
static void
reject_stale(struct rft *r, const struct rft_msg *m)
{
	struct rft_msg resp = { .to = m->from };
	switch (m->type) {
	case RFT_APPEND:
		resp.type = RFT_APPEND_RESP;
		resp.append_resp.reject = m->append.prev_index;
		break;
	case RFT_SNAP:
		resp.type = RFT_SNAP_RESP;
		resp.snap_resp.index = m->snap.index;
		break;
	case RFT_VOTE:
		resp.type = RFT_VOTE_RESP;
		resp.vote_resp.pre = m->vote.pre;
		break;
	default:
		return;
	}
	rft_send(r, &resp);
}

/* Returns false when the message is to be dropped. */
static bool
check_term(struct rft *r, const struct rft_msg *m)
{
	if (m->term < r->term) {
		reject_stale(r, m);
		return false;
	}
	if (m->term == r->term)
		return true;
	switch (m->type) {
	case RFT_VOTE:
		/* §4.2.3: while we believe a leader is alive, ignore vote
		 * requests, so a server that was partitioned or removed
		 * cannot depose it; TimeoutNow-started elections pass. */
		if (in_lease(r) && !m->vote.transfer)
			return false;
		if (m->vote.pre)
			return true;
		rft_become_follower(r, m->term, 0);
		return true;
	case RFT_VOTE_RESP:
		if (m->vote_resp.pre && m->vote_resp.granted)
			return true;
		rft_become_follower(r, m->term, 0);
		return true;
	case RFT_APPEND:
	case RFT_SNAP:
	case RFT_TIMEOUT_NOW:
		rft_become_follower(r, m->term, m->from);
		return true;
	default:
		rft_become_follower(r, m->term, 0);
		return true;
	}
}

int
rft_step(struct rft *r, const struct rft_msg *m)
{
	if (!r->started || m->to != r->cfg.id || m->from == 0 ||
	    m->from == r->cfg.id || m->term == 0 || m->type == 0 ||
	    m->type >= RFT_MSG_MAX)
		return -EINVAL;
	if (m->type == RFT_APPEND && m->append.n &&
	    m->append.prev_index + m->append.n < m->append.prev_index)
		return -EINVAL;
	if (!check_term(r, m))
		return 0;
	switch (m->type) {
	case RFT_APPEND:
		rft_recv_append(r, m);
		break;
	case RFT_APPEND_RESP:
		rft_recv_append_resp(r, m);
		break;
	case RFT_VOTE:
		recv_vote(r, m);
		break;
	case RFT_VOTE_RESP:
		recv_vote_resp(r, m);
		break;
	case RFT_SNAP:
		rft_recv_snap(r, m);
		break;
	case RFT_SNAP_RESP:
		rft_recv_snap_resp(r, m);
		break;
	case RFT_TIMEOUT_NOW:
		recv_timeout_now(r, m);
		break;
	}
	return 0;
}

void
rft_tick(struct rft *r, uint64_t now)
{
	if (!r->started)
		return;
	if (now > r->now)
		r->now = now;
	if (r->cfg.snapshot_interval_ms)
		rft_maybe_snapshot(r);
	if (r->role == RFT_LEADER) {
		rft_leader_tick(r);
		return;
	}
	if (r->now < r->election_deadline)
		return;
	if (!rft_self_voter(r) || r->rx_installing) {
		/* Nonvoters and removed servers never campaign (§4.2.1);
		 * nor does a server whose log is being replaced. */
		rft_reset_election(r);
		return;
	}
	rft_campaign(r, r->cfg.pre_vote, false);
}

/* Accessors. */
enum rft_role rft_role(const struct rft *r) { return r->role; }
uint64_t rft_id(const struct rft *r) { return r->cfg.id; }
uint64_t rft_term(const struct rft *r) { return r->term; }
uint64_t rft_vote(const struct rft *r) { return r->vote; }
uint64_t rft_leader(const struct rft *r) { return r->leader; }
uint64_t rft_commit_index(const struct rft *r) { return r->commit; }
uint64_t rft_applied_index(const struct rft *r) { return r->applied; }
uint64_t rft_persisted_index(const struct rft *r) { return r->persisted; }
uint64_t rft_first_index(const struct rft *r) { return r->first; }
uint64_t rft_last_index(const struct rft *r) { return rft_log_last(r); }
uint64_t rft_snapshot_index(const struct rft *r) { return r->snap_index; }
uint64_t rft_snapshot_term(const struct rft *r) { return r->snap_term; }
uint64_t rft_conf_index(const struct rft *r) { return r->conf_index; }
const struct rft_conf *rft_conf(const struct rft *r) { return &r->conf; }

uint64_t
rft_last_term(const struct rft *r)
{
	uint64_t t = 0;
	rft_log_term(r, rft_log_last(r), &t);
	return t;
}

const struct rft_server *
rft_leader_server(const struct rft *r)
{
	return r->leader ? rft_conf_find(&r->conf, r->leader) : NULL;
}

const struct rft_entry *
rft_entry_at(const struct rft *r, uint64_t index)
{
	return rft_log_get(r, index);
}

uint64_t
rft_last_contact(const struct rft *r)
{
	return r->role == RFT_LEADER ? r->now : r->last_leader_ms;
}
