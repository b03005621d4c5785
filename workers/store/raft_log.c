/*
 * The core's in-memory copy of the log (every entry since the trailing
 * part kept behind the latest snapshot, §5.1), configurations, and small
 * helpers.  The entries' metadata (index, term, type, length) stay for
 * snapshot_threshold + trailing_logs entries; with a fetch callback the
 * data of an entry both applied and durable is released and read back
 * from the log store when a follower needs it, so that the data held is
 * only the unapplied or unpersisted tail and a short window behind the
 * slowest follower's next index.
 */
#include "workers/store/raft_int.h"
#include "lib/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const char *
rft_strerror(int err)
{
	if (err < 0)
		err = -err;
	switch (err) {
	case RFT_ENOTLEADER:
		return "not the leader";
	case RFT_ELEADERLOST:
		return "leadership lost while committing";
	case 0:
		return "ok";
	}
	return strerror(err);
}

void
rft_config_default(struct rft_config *c, uint64_t id, unsigned multiplier)
{
	if (multiplier == 0)
		multiplier = 5;
	memset(c, 0, sizeof(*c));
	c->id = id;
	c->seed = id * 0x9e3779b97f4a7c15ULL + 1;
	c->heartbeat_timeout_ms = 1000 * multiplier;
	c->election_timeout_ms = 1000 * multiplier;
	c->lease_timeout_ms = 500 * multiplier;
	c->heartbeat_interval_ms = c->heartbeat_timeout_ms / 10;
	c->snapshot_threshold = 16384;
	c->trailing_logs = 10000;
	c->max_append_entries = 64;
	c->max_append_bytes = 1 << 20;
	c->max_inflight = 8;
	c->snapshot_chunk = 256 * 1024;
	c->pre_vote = true;
}

/* splitmix64: small, seedable, deterministic. */
uint64_t
rft_rand(struct rft *r)
{
	uint64_t z = (r->rng += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

uint64_t
rft_log_last(const struct rft *r)
{
	return r->nents ? r->first + r->nents - 1 : r->snap_index;
}

bool
rft_log_term(const struct rft *r, uint64_t index, uint64_t *term)
{
	if (index == 0) {
		*term = 0;
		return true;
	}
	if (r->nents && index >= r->first && index <= rft_log_last(r)) {
		*term = r->ents[index - r->first].term;
		return true;
	}
	if (index == r->snap_index) {
		*term = r->snap_term;
		return true;
	}
	return false;
}

struct rft_entry *
rft_log_get(const struct rft *r, uint64_t index)
{
	if (r->nents == 0 || index < r->first || index > rft_log_last(r))
		return NULL;
	return &r->ents[index - r->first];
}

void
rft_log_append(struct rft *r, uint64_t term, uint8_t type, const void *data,
    size_t len, uint64_t cookie)
{
	if (r->nents == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 64;
		r->ents = xrealloc(r->ents, r->cap * sizeof(*r->ents));
	}
	/* Empty, the log's first index is the next one to append: every
	 * path that empties it (reset, compact, truncate) keeps that. */
	struct rft_entry *e = &r->ents[r->nents];
	e->index = r->first + r->nents;
	e->term = term;
	e->type = type;
	e->len = (uint32_t)len;
	e->cookie = cookie;
	uint8_t *d = NULL;
	if (len) {
		d = xmalloc(len);
		memcpy(d, data, len);
	}
	e->data = d;
	r->nents++;
}

static void
ent_free(struct rft_entry *e)
{
	free((void *)e->data);
	e->data = NULL;
}

/* Drop entries >= from (a conflicting suffix, §5.3 / Figure 3.1). */
void
rft_log_truncate(struct rft *r, uint64_t from)
{
	if (r->nents == 0 || from > rft_log_last(r))
		return;
	if (from < r->first)
		from = r->first;
	for (uint64_t i = from; i <= rft_log_last(r); i++)
		ent_free(&r->ents[i - r->first]);
	r->nents = from - r->first;
	if (r->persisted >= from)
		r->persisted = from - 1;
	if (r->next_persist > from)
		r->next_persist = from;
	if (r->verified >= from)
		r->verified = from - 1;
}

/*
 * Give back the array's spare room once most of it is free.  Between two
 * snapshots (raft_snapshot_interval, 30 s) a write burst grows the array
 * by doubling, to 262144 slots (10 MiB) after ~250k writes; compaction
 * keeps only trailing_logs of them, and without this the array, and its
 * pages, stayed at the burst's size for good.  A quarter, so that a
 * steady load does not shrink and regrow it at every snapshot.
 */
static void
rft_log_shrink(struct rft *r)
{
	size_t want = r->cap;
	while (want > 64 && r->nents < want / 4)
		want /= 2;
	if (want == r->cap)
		return;
	r->ents = xrealloc(r->ents, want * sizeof(*r->ents));
	r->cap = want;
}

/* Drop entries <= upto: they are covered by a durable snapshot (§5.1). */
void
rft_log_compact(struct rft *r, uint64_t upto)
{
	if (r->nents == 0 || upto < r->first)
		return;
	uint64_t last = rft_log_last(r);
	if (upto > last)
		upto = last;
	size_t k = upto - r->first + 1;
	for (size_t i = 0; i < k; i++)
		ent_free(&r->ents[i]);
	memmove(r->ents, r->ents + k, (r->nents - k) * sizeof(*r->ents));
	r->nents -= k;
	r->first = upto + 1;
	rft_log_shrink(r);
}

/* Discard the whole log for a snapshot (Figure 13's last step). */
void
rft_log_reset(struct rft *r, uint64_t snap_index, uint64_t snap_term)
{
	for (size_t i = 0; i < r->nents; i++)
		ent_free(&r->ents[i]);
	r->nents = 0;
	r->snap_index = snap_index;
	r->snap_term = snap_term;
	r->first = snap_index + 1;
	r->released = snap_index;
	if (r->ents)
		rft_log_shrink(r);
}

/* Entries this far behind the applied index are released even when a
 * follower still needs them: it reads them back from the log store. */
#define RFT_KEEP_FOR_PEERS 128

void
rft_log_release(struct rft *r)
{
	if (!r->cb.fetch || r->nents == 0)
		return;
	uint64_t upto = MIN(r->applied, r->persisted);
	if (r->role == RFT_LEADER) {
		uint64_t need = upto;
		for (unsigned i = 0; i < r->nprog; i++)
			need = MIN(need, r->prog[i].next - 1);
		uint64_t floor = upto > RFT_KEEP_FOR_PEERS ?
		    upto - RFT_KEEP_FOR_PEERS : 0;
		upto = MAX(need, floor);
	}
	upto = MIN(upto, rft_log_last(r));
	for (uint64_t i = MAX(r->released + 1, r->first); i <= upto; i++) {
		struct rft_entry *e = &r->ents[i - r->first];
		/* Configurations stay: rft_conf_at decodes them. */
		if (e->type == RFT_ENTRY_NORMAL)
			ent_free(e);
	}
	if (upto > r->released)
		r->released = upto;
}

const struct rft_entry *
rft_log_borrow(struct rft *r, uint64_t index, size_t *n, bool *copy)
{
	struct rft_entry *e = rft_log_get(r, index);
	*copy = false;
	if (index > r->released)
		return e;
	struct rft_entry *c = xmalloc(*n * sizeof(*c));
	size_t k;
	*copy = true;
	for (k = 0; k < *n; k++) {
		c[k] = e[k];
		c[k].cookie = 0;	/* here: 1 when the data is a copy */
		if (e[k].data || e[k].len == 0)
			continue;
		struct rft_entry f;
		if (r->cb.fetch(r->ud, e[k].index, &f) < 0)
			break;
		if (f.term != e[k].term || f.len != e[k].len ||
		    f.type != e[k].type) {
			free((void *)f.data);
			break;
		}
		c[k].data = f.data;
		c[k].cookie = 1;
	}
	*n = k;
	return c;
}

void
rft_log_put_back(const struct rft_entry *e, size_t n, bool copy)
{
	if (!copy)
		return;
	for (size_t i = 0; i < n; i++)
		if (e[i].cookie)
			free((void *)e[i].data);
	free((void *)e);
}

void
rft_log_free(struct rft *r)
{
	rft_log_reset(r, r->snap_index, r->snap_term);
	free(r->ents);
	r->ents = NULL;
	r->cap = 0;
}

void
rft_conf_at(const struct rft *r, uint64_t index, struct rft_conf *out,
    uint64_t *conf_index)
{
	uint64_t last = rft_log_last(r);
	if (index > last)
		index = last;
	for (uint64_t i = index; r->nents && i >= r->first; i--) {
		const struct rft_entry *e = &r->ents[i - r->first];
		if (e->type == RFT_ENTRY_CONF &&
		    rft_conf_decode(e->data, e->len, out) == 0) {
			*conf_index = i;
			return;
		}
		if (i == 0)
			break;
	}
	*out = r->snap_conf;
	*conf_index = r->snap_index;
}

static bool
conf_equal(const struct rft_conf *a, const struct rft_conf *b)
{
	if (a->n != b->n)
		return false;
	for (unsigned i = 0; i < a->n; i++)
		if (a->s[i].id != b->s[i].id || a->s[i].role != b->s[i].role ||
		    strcmp(a->s[i].name, b->s[i].name) != 0 ||
		    strcmp(a->s[i].addr, b->s[i].addr) != 0)
			return false;
	return true;
}

/* §4.1: a server uses the latest configuration in its log, committed or
 * not; after a truncation that may be an older one again. */
void
rft_conf_refresh(struct rft *r)
{
	struct rft_conf c;
	uint64_t ci;
	rft_conf_at(r, rft_log_last(r), &c, &ci);
	if (ci == r->conf_index && conf_equal(&c, &r->conf))
		return;
	r->conf = c;
	r->conf_index = ci;
	if (r->role == RFT_LEADER)
		rft_prog_rebuild(r);
	if (r->cb.conf_changed)
		r->cb.conf_changed(r->ud, &r->conf, ci);
}

const struct rft_server *
rft_conf_find(const struct rft_conf *c, uint64_t id)
{
	for (unsigned i = 0; i < c->n; i++)
		if (c->s[i].id == id)
			return &c->s[i];
	return NULL;
}

bool
rft_conf_is_voter(const struct rft_conf *c, uint64_t id)
{
	const struct rft_server *s = rft_conf_find(c, id);
	return s && s->role == RFT_VOTER;
}

unsigned
rft_conf_voters(const struct rft_conf *c)
{
	unsigned n = 0;
	for (unsigned i = 0; i < c->n; i++)
		n += c->s[i].role == RFT_VOTER;
	return n;
}

int
rft_conf_add(struct rft_conf *c, uint64_t id, uint8_t role, const char *name,
    const char *addr)
{
	if (id == 0 || (role != RFT_VOTER && role != RFT_NONVOTER))
		return -EINVAL;
	if (rft_conf_find(c, id))
		return -EEXIST;
	if (c->n == RFT_SERVERS_MAX)
		return -ENOSPC;
	if (strlen(name ? name : "") >= RFT_NAME_MAX ||
	    strlen(addr ? addr : "") >= RFT_ADDR_MAX)
		return -ENAMETOOLONG;
	struct rft_server *s = &c->s[c->n++];
	memset(s, 0, sizeof(*s));
	s->id = id;
	s->role = role;
	strlcpy_m(s->name, name ? name : "", sizeof(s->name));
	strlcpy_m(s->addr, addr ? addr : "", sizeof(s->addr));
	return 0;
}
