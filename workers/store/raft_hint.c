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
 * leader is elected while the old one may still answer reads alone.
 *
 * All the followers see the close at once, so their deadlines must be
 * far enough apart that the first one's pre-vote and vote arrive before
 * the next one starts its own: a random stagger alone let two of them
 * land within one store tick often enough to split the vote (and then
 * the election waits a whole election timeout).  So after half a
 * heartbeat interval of margin, a fifth of the heartbeat timeout is cut
 * into one slot per voter, in configuration order (the same on every
 * server), and each follower campaigns at a random point in the first
 * half of its own slot.
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
	unsigned pos = 0, voters = MAX(rft_conf_voters(&r->conf), 1u);
	for (unsigned i = 0; i < r->conf.n && r->conf.s[i].id != r->cfg.id;
	    i++)
		pos += r->conf.s[i].role == RFT_VOTER;
	uint64_t margin = MAX(r->cfg.heartbeat_interval_ms / 2, 1u);
	uint64_t slot = MAX(r->cfg.heartbeat_timeout_ms / 5 / voters, 2u);
	uint64_t lease_end = r->last_leader_ms + r->cfg.lease_timeout_ms;
	uint64_t at = lease_end + margin + pos * slot +
	    rft_rand(r) % (slot / 2);
	if (at < r->election_deadline)
		r->election_deadline = at;
	if (lease_end < r->sticky_until)
		r->sticky_until = lease_end;
}
