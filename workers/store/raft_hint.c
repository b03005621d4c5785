/*
 * Hints from the transport (raft_hint.h).
 *
 * A follower learns of a dead leader only by its silence: after a
 * randomized [1, 2) heartbeat timeouts (hashicorp/raft, Consul at
 * raft_multiplier 1: 1-2 s).  But a crashed leader's kernel closes every
 * socket it had at once, so the connection it sent us AppendEntries on
 * ends with the crash.  We then move our election deadline and our
 * stickiness (§4.2.3) back to the earliest moment that is still safe:
 * lease_timeout after we last heard from the leader.  rft_lease_valid
 * counts the leader's lease from when it sent a message a quorum
 * acknowledged, which is no later than when we received it, so no other
 * leader is elected while the old one may still answer reads alone.  A
 * random stagger of a fifth of the heartbeat timeout (at least half a
 * heartbeat interval) keeps the followers that all saw the close from
 * splitting the vote.
 *
 * A close that was not a crash (the leader reconnecting, a middlebox) is
 * harmless: the next AppendEntries restores the deadline and stickiness,
 * and pre-vote (§9.6) lets nobody disturb the term while a quorum still
 * hears the leader, since the followers that did not see the close stay
 * sticky and refuse.
 */
#include "workers/store/raft_hint.h"
#include "workers/store/raft_int.h"
#include "lib/util.h"

void
rft_hint_leader_gone(struct rft *r, uint64_t id, uint64_t now)
{
	if (!r->started || r->role != RFT_FOLLOWER || id == 0 ||
	    r->leader != id)
		return;
	if (now > r->now)
		r->now = now;
	uint64_t margin = MAX(r->cfg.heartbeat_interval_ms / 2, 1u);
	uint64_t spread = MAX(r->cfg.heartbeat_timeout_ms / 5, 1u);
	uint64_t lease_end = r->last_leader_ms + r->cfg.lease_timeout_ms;
	uint64_t at = lease_end + margin + rft_rand(r) % spread;
	if (at < r->election_deadline)
		r->election_deadline = at;
	if (lease_end < r->sticky_until)
		r->sticky_until = lease_end;
}
