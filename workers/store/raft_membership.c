/*
 * Client requests to the leader: proposals, membership changes one
 * server at a time (§4.1, nonvoters §4.2.1) and leadership transfer
 * (§3.10).
 */
#include "workers/store/raft_int.h"
#include "lib/util.h"

#include <errno.h>
#include <string.h>

static void
append_local(struct rft *r, uint8_t type, const void *data, size_t len,
    uint64_t cookie)
{
	rft_log_append(r, r->term, type, data, len, cookie);
	rft_flush_persist(r);
	rft_replicate_all(r);
}

int
rft_propose(struct rft *r, const void *data, size_t len, uint64_t cookie,
    uint64_t *index)
{
	if (r->role != RFT_LEADER)
		return -RFT_ENOTLEADER;
	if (r->transfer_to)
		return -EBUSY;
	if (len > UINT32_MAX)
		return -EMSGSIZE;
	append_local(r, RFT_ENTRY_NORMAL, data, len, cookie);
	if (index)
		*index = rft_log_last(r);
	return 0;
}

/*
 * §4.1: one change at a time, each appended only once the previous one
 * is committed; and (the correction to the single-server algorithm,
 * §4.1 "a leader may not append a new configuration entry until it has
 * committed an entry from its current term") only after this leader's
 * no-op committed.
 */
static int
change_ok(const struct rft *r)
{
	if (r->role != RFT_LEADER)
		return -RFT_ENOTLEADER;
	if (r->transfer_to || r->conf_index > r->commit ||
	    r->term_start > r->commit)
		return -EBUSY;
	return 0;
}

static int
propose_conf(struct rft *r, const struct rft_conf *c, uint64_t cookie)
{
	if (rft_conf_voters(c) == 0)
		return -EINVAL;
	struct buf b;
	buf_init(&b);
	rft_conf_encode(&b, c);
	rft_log_append(r, r->term, RFT_ENTRY_CONF, b.data, b.len, cookie);
	buf_free(&b);
	/* In effect from now on, committed or not (§4.1). */
	rft_conf_refresh(r);
	rft_flush_persist(r);
	rft_replicate_all(r);
	rft_maybe_commit(r);
	return 0;
}

int
rft_add_nonvoter(struct rft *r, uint64_t id, const char *name,
    const char *addr, uint64_t cookie)
{
	int e = change_ok(r);
	if (e < 0)
		return e;
	struct rft_conf c = r->conf;
	if ((e = rft_conf_add(&c, id, RFT_NONVOTER, name, addr)) < 0)
		return e;
	return propose_conf(r, &c, cookie);
}

int
rft_add_voter(struct rft *r, uint64_t id, const char *name,
    const char *addr, uint64_t cookie)
{
	int e = change_ok(r);
	if (e < 0)
		return e;
	struct rft_conf c = r->conf;
	for (unsigned i = 0; i < c.n; i++) {
		if (c.s[i].id != id)
			continue;
		if (c.s[i].role == RFT_VOTER)
			return -EEXIST;
		c.s[i].role = RFT_VOTER;	/* promotion */
		return propose_conf(r, &c, cookie);
	}
	if ((e = rft_conf_add(&c, id, RFT_VOTER, name, addr)) < 0)
		return e;
	return propose_conf(r, &c, cookie);
}

int
rft_remove_server(struct rft *r, uint64_t id, uint64_t cookie)
{
	int e = change_ok(r);
	if (e < 0)
		return e;
	struct rft_conf c = r->conf;
	unsigned i;
	for (i = 0; i < c.n && c.s[i].id != id; i++)
		;
	if (i == c.n)
		return -ENOENT;
	memmove(&c.s[i], &c.s[i + 1], (c.n - i - 1) * sizeof(c.s[0]));
	c.n--;
	return propose_conf(r, &c, cookie);
}

void
rft_send_timeout_now(struct rft *r, struct rft_progress *p)
{
	struct rft_msg m = { .type = RFT_TIMEOUT_NOW, .to = p->id };
	rft_send(r, &m);
}

/* §3.10: once the target's log is complete, tell it to start an
 * election now. */
void
rft_transfer_check(struct rft *r, struct rft_progress *p)
{
	if (r->role == RFT_LEADER && r->transfer_to == p->id &&
	    p->match == rft_log_last(r))
		rft_send_timeout_now(r, p);
}

int
rft_transfer(struct rft *r, uint64_t target)
{
	if (r->role != RFT_LEADER)
		return -RFT_ENOTLEADER;
	if (r->transfer_to)
		return -EBUSY;
	if (target == 0) {
		uint64_t best = 0;
		for (unsigned i = 0; i < r->nprog; i++) {
			struct rft_progress *p = &r->prog[i];
			if (rft_conf_is_voter(&r->conf, p->id) &&
			    (target == 0 || p->match > best)) {
				target = p->id;
				best = p->match;
			}
		}
		if (target == 0)
			return -ENOENT;
	}
	struct rft_progress *p = rft_prog(r, target);
	if (target == r->cfg.id || !p || !rft_conf_is_voter(&r->conf, target))
		return -EINVAL;
	/* New proposals wait: the target must be able to catch up. */
	r->transfer_to = target;
	r->transfer_deadline = r->now + r->cfg.election_timeout_ms;
	rft_replicate(r, p);
	rft_transfer_check(r, p);
	return 0;
}
