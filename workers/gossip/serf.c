/*
 * serf core: members and their status, tags, Lamport clocks, join/leave
 * intents, push/pull state, graceful leave, reaping and reconnects
 * (gossip-protocol.md §9).  User events and queries are in serf_query.c.
 */
#include "workers/gossip/serf_priv.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/duration.h"
#include "lib/log.h"

const char *
gossip_member_status_name(enum gossip_member_status s)
{
	static const char *const names[] = { "none", "alive", "leaving",
		"left", "failed" };
	return (unsigned)s < nitems(names) ? names[s] : "unknown";
}

void
gossip_serf_config_default(struct gossip_serf_config *c)
{
	memset(c, 0, sizeof(*c));
	gossip_ml_config_lan(&c->ml);
	c->ml.vsn[5] = 5;	/* serf speaks its newest protocol */
	c->reap_interval = 15000;
	c->reconnect_interval = 30000;
	c->reconnect_timeout = 24ull * 3600 * 1000;
	c->tombstone_timeout = 24ull * 3600 * 1000;
	c->recent_intent_timeout = 5 * 60 * 1000;
	c->broadcast_timeout = 5000;
	c->leave_propagate_delay = 1000;
	c->queue_check_interval = 30000;
	c->max_queue_depth = 4096;
	c->query_timeout_mult = 16;
	c->query_size_limit = 1024;
	c->query_response_size_limit = 1024;
	c->user_event_size_limit = 512;
}

static void
consul_common(struct gossip_serf_config *c)
{
	c->ml.vsn[5] = 4;	/* Consul runs serf protocol 4 */
	c->reconnect_timeout = 72ull * 3600 * 1000;
	c->min_queue_depth = 4096;
	c->leave_propagate_delay = 3000;
	c->coalesce_period = 3000;
	c->quiescent_period = 1000;
	c->user_coalesce_period = 3000;
	c->user_quiescent_period = 1000;
	c->enable_reconnect_override = true;
	c->ml.dead_node_reclaim = 30000;
}

void
gossip_serf_config_consul_lan(struct gossip_serf_config *c)
{
	gossip_serf_config_default(c);
	consul_common(c);
}

void
gossip_serf_config_consul_wan(struct gossip_serf_config *c)
{
	struct gossip_ml_config ml;
	gossip_serf_config_default(c);
	gossip_ml_config_wan(&ml);
	memcpy(ml.vsn, c->ml.vsn, sizeof(ml.vsn));
	c->ml = ml;
	consul_common(c);
}

/* ------------------------------------------------------------ members */

void
gossip_member_free(struct gossip_member *m)
{
	free(m->name);
	for (size_t i = 0; i < m->ntags; i++)
		free(m->tags[i]);
	free(m->tags);
	memset(m, 0, sizeof(*m));
}

const char *
gossip_member_tag(const struct gossip_member *m, const char *key)
{
	for (size_t i = 0; i + 1 < m->ntags; i += 2)
		if (strcmp(m->tags[i], key) == 0)
			return m->tags[i + 1];
	return NULL;
}

void
serf_member_copy(const struct gossip_member *src, struct gossip_member *dst)
{
	*dst = *src;
	dst->name = xstrdup(src->name);
	dst->tags = xcalloc(src->ntags ? src->ntags : 1, sizeof(char *));
	for (size_t i = 0; i < src->ntags; i++)
		dst->tags[i] = xstrdup(src->tags[i]);
}

static size_t
shash(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
	return (size_t)h;
}

struct smember *
serf_find_slice(const struct gossip_serf *s, struct gossip_slice name)
{
	size_t b = shash((const char *)name.p, name.n) % s->nbuckets;
	for (struct smember *m = s->buckets[b]; m; m = m->hnext)
		if (gossip_slice_eq(name, m->m.name))
			return m;
	return NULL;
}

struct smember *
serf_find(const struct gossip_serf *s, const char *name)
{
	return serf_find_slice(s, gossip_slice_c(name));
}

static void
bucket_insert(struct gossip_serf *s, struct smember *m)
{
	size_t b = shash(m->m.name, strlen(m->m.name)) % s->nbuckets;
	m->hnext = s->buckets[b];
	s->buckets[b] = m;
}

static struct smember *
member_add(struct gossip_serf *s, const char *name)
{
	struct smember *m = xcalloc(1, sizeof(*m));
	m->m.name = xstrdup(name);
	m->m.tags = xcalloc(1, sizeof(char *));
	if (s->nmembers == s->capmembers) {
		s->capmembers = s->capmembers ? 2 * s->capmembers : 16;
		s->members = xrealloc(s->members,
		    s->capmembers * sizeof(*s->members));
	}
	s->members[s->nmembers++] = m;
	bucket_insert(s, m);
	if (s->nmembers > 2 * s->nbuckets) {
		free(s->buckets);
		s->nbuckets *= 4;
		s->buckets = xcalloc(s->nbuckets, sizeof(*s->buckets));
		for (size_t i = 0; i < s->nmembers; i++)
			bucket_insert(s, s->members[i]);
	}
	return m;
}

static void coord_forget(struct gossip_serf *s, const char *name);

static void
member_erase(struct gossip_serf *s, uint64_t now, struct smember *m)
{
	size_t b = shash(m->m.name, strlen(m->m.name)) % s->nbuckets;
	for (struct smember **pp = &s->buckets[b]; *pp; pp = &(*pp)->hnext)
		if (*pp == m) {
			*pp = m->hnext;
			break;
		}
	for (size_t i = 0; i < s->nmembers; i++)
		if (s->members[i] == m) {
			s->members[i] = s->members[--s->nmembers];
			break;
		}
	log_info("serf: EventMemberReap: %s", m->m.name);
	coord_forget(s, m->m.name);
	serf_emit_member(s, now, GOSSIP_EV_MEMBER_REAP, &m->m);
	gossip_member_free(&m->m);
	free(m);
}

/* Tags from node Meta as owned strings (up to 64 tags). */
static void
set_tags(struct gossip_member *m, const uint8_t *meta, size_t n)
{
	struct gossip_slice kv[GOSSIP_MAX_TAGS_KV];
	size_t cnt = 0;
	for (size_t i = 0; i < m->ntags; i++)
		free(m->tags[i]);
	free(m->tags);
	if (gossip_tags_decode(meta, n, kv, nitems(kv), &cnt) < 0)
		cnt = 0;
	m->tags = xcalloc(cnt ? cnt : 1, sizeof(char *));
	m->ntags = 0;
	for (size_t i = 0; i < cnt; i++) {
		char *t = gossip_slice_strdup(kv[i]);
		m->tags[m->ntags++] = t ? t : xstrdup("");
	}
}

static void
from_node(struct gossip_member *m, const struct gossip_node *n)
{
	m->addr = n->addr;
	set_tags(m, n->meta, n->metalen);
	m->pmin = n->vsn[0];
	m->pmax = n->vsn[1];
	m->pcur = n->vsn[2];
	m->dmin = n->vsn[3];
	m->dmax = n->vsn[4];
	m->dcur = n->vsn[5];
}

void
serf_witness(uint64_t *clock, uint64_t v)
{
	if (v >= *clock)
		*clock = v + 1;
}

bool
serf_has_alive_members(const struct gossip_serf *s)
{
	const char *me = s->cfg.ml.name;
	for (size_t i = 0; i < s->nmembers; i++)
		if (s->members[i]->m.status == GOSSIP_MEMBER_ALIVE &&
		    strcmp(s->members[i]->m.name, me) != 0)
			return true;
	return false;
}

/* ------------------------------------------------------------ events */

void
gossip_event_free(struct gossip_event *e)
{
	gossip_member_free(&e->member);
	free(e->name);
	free(e->payload);
	free(e->from);
	free(e->error);
	memset(e, 0, sizeof(*e));
}

void
serf_push_event(struct gossip_serf *s, struct gossip_event *e)
{
	if (s->evhead > 0 && s->evhead == s->nevq)
		s->evhead = s->nevq = 0;
	if (s->nevq == s->capevq) {
		s->capevq = s->capevq ? 2 * s->capevq : 32;
		s->evq = xrealloc(s->evq, s->capevq * sizeof(*s->evq));
	}
	s->evq[s->nevq++] = *e;
	memset(e, 0, sizeof(*e));
}

int
gossip_serf_pop_event(struct gossip_serf *s, struct gossip_event *ev)
{
	if (s->evhead >= s->nevq)
		return 0;
	*ev = s->evq[s->evhead++];
	if (s->evhead == s->nevq)
		s->evhead = s->nevq = 0;
	return 1;
}

/* ------------------------------------------------------------ intents */

static struct intent *
intent_find(struct gossip_serf *s, struct gossip_slice node)
{
	for (size_t i = 0; i < s->nintents; i++)
		if (gossip_slice_eq(node, s->intents[i].node))
			return &s->intents[i];
	return NULL;
}

/* Remember the newest intent about a node we do not know yet; true if it
 * was news (then it is re-gossiped). */
static bool
intent_upsert(struct gossip_serf *s, uint64_t now, struct gossip_slice node,
    enum intent_type type, uint64_t ltime)
{
	struct intent *it = intent_find(s, node);
	if (it != NULL && ltime <= it->ltime)
		return false;
	if (it == NULL) {
		s->intents = xrealloc(s->intents,
		    (s->nintents + 1) * sizeof(*s->intents));
		it = &s->intents[s->nintents++];
		it->node = gossip_slice_dup(node);
	}
	it->type = type;
	it->ltime = ltime;
	it->wall = now;
	return true;
}

static bool
intent_recent(struct gossip_serf *s, const char *node, enum intent_type type,
    uint64_t *ltime)
{
	struct intent *it = intent_find(s, gossip_slice_c(node));
	if (it == NULL || it->type != type)
		return false;
	*ltime = it->ltime;
	return true;
}

static void
intents_reap(struct gossip_serf *s, uint64_t now)
{
	for (size_t i = 0; i < s->nintents;) {
		if (now - s->intents[i].wall > s->cfg.recent_intent_timeout) {
			free(s->intents[i].node);
			s->intents[i] = s->intents[--s->nintents];
		} else {
			i++;
		}
	}
}

void
serf_broadcast(struct gossip_serf *s, struct gossip_bq *q,
    const struct buf *msg, uint64_t token)
{
	gossip_bq_push(q, NULL, msg->data, msg->len, token);
}

static void
broadcast_join(struct gossip_serf *s, uint64_t now, uint64_t ltime)
{
	struct gossip_serf_join j = { ltime, gossip_slice_c(s->cfg.ml.name) };
	struct buf m;
	serf_witness(&s->clock, ltime);
	serf_handle_join_intent(s, now, &j);
	buf_init(&m);
	gossip_serf_enc_join(&m, &j);
	serf_broadcast(s, &s->intents_q, &m, 0);
	buf_free(&m);
}

static void
prune_member(struct gossip_serf *s, uint64_t now, struct smember *m)
{
	/* a node still leaving gets the time to finish first */
	m->prune_at = m->m.status == GOSSIP_MEMBER_LEAVING ? now +
	    s->cfg.broadcast_timeout + s->cfg.leave_propagate_delay : now;
}

bool
serf_handle_leave_intent(struct gossip_serf *s, uint64_t now,
    const struct gossip_serf_leave *msg)
{
	serf_witness(&s->clock, msg->ltime);
	struct smember *m = serf_find_slice(s, msg->node);
	if (m == NULL)
		return intent_upsert(s, now, msg->node, INTENT_LEAVE,
		    msg->ltime);
	if (msg->ltime <= m->status_ltime)
		return false;
	/* an old leave about us while we are alive: refute with a join */
	if (gossip_slice_eq(msg->node, s->cfg.ml.name) &&
	    s->state == SERF_ALIVE) {
		log_debug("serf: refuting an older leave intent");
		broadcast_join(s, now, s->clock);
		return false;
	}
	m->status_ltime = msg->ltime;
	switch (m->m.status) {
	case GOSSIP_MEMBER_ALIVE:
		m->m.status = GOSSIP_MEMBER_LEAVING;
		break;
	case GOSSIP_MEMBER_FAILED:
		/* force-leave: failed becomes left */
		m->m.status = GOSSIP_MEMBER_LEFT;
		log_info("serf: EventMemberLeave (forced): %s", m->m.name);
		serf_emit_member(s, now, GOSSIP_EV_MEMBER_LEAVE, &m->m);
		break;
	case GOSSIP_MEMBER_LEAVING:
	case GOSSIP_MEMBER_LEFT:
		break;
	default:
		return false;
	}
	if (msg->prune)
		prune_member(s, now, m);
	return true;
}

bool
serf_handle_join_intent(struct gossip_serf *s, uint64_t now,
    const struct gossip_serf_join *msg)
{
	serf_witness(&s->clock, msg->ltime);
	struct smember *m = serf_find_slice(s, msg->node);
	if (m == NULL)
		return intent_upsert(s, now, msg->node, INTENT_JOIN, msg->ltime);
	if (msg->ltime <= m->status_ltime)
		return false;
	m->status_ltime = msg->ltime;
	/* the leave it may be in must have been older */
	if (m->m.status == GOSSIP_MEMBER_LEAVING)
		m->m.status = GOSSIP_MEMBER_ALIVE;
	return true;
}

/* ------------------------------------------------------------ delegate */

static void
d_node_meta(void *arg, struct buf *out)
{
	struct gossip_serf *s = arg;
	gossip_tags_encode(out, (const char *const *)s->tags, s->ntags);
}

static void
rebroadcast(struct gossip_serf *s, struct gossip_bq *q, const uint8_t *p,
    size_t n)
{
	struct buf m;
	buf_init(&m);
	buf_add(&m, p, n);
	serf_broadcast(s, q, &m, 0);
	buf_free(&m);
}

static void
d_notify_msg(void *arg, uint64_t now, const uint8_t *p, size_t n)
{
	struct gossip_serf *s = arg;
	union {
		struct gossip_serf_leave l;
		struct gossip_serf_join j;
		struct gossip_serf_user_event e;
		struct gossip_serf_query q;
		struct gossip_serf_query_response r;
	} u;

	if (n < 1)
		return;
	const uint8_t *b = p + 1;
	size_t bn = n - 1;
	switch (p[0]) {
	case GOSSIP_SERF_LEAVE:
		if (gossip_serf_dec_leave(b, bn, &u.l) == 0 &&
		    serf_handle_leave_intent(s, now, &u.l))
			rebroadcast(s, &s->intents_q, p, n);
		break;
	case GOSSIP_SERF_JOIN:
		if (gossip_serf_dec_join(b, bn, &u.j) == 0 &&
		    serf_handle_join_intent(s, now, &u.j))
			rebroadcast(s, &s->intents_q, p, n);
		break;
	case GOSSIP_SERF_USER_EVENT:
		if (gossip_serf_dec_user_event(b, bn, &u.e) == 0 &&
		    serf_handle_user_event(s, now, &u.e))
			rebroadcast(s, &s->events_q, p, n);
		break;
	case GOSSIP_SERF_QUERY:
		if (gossip_serf_dec_query(b, bn, &u.q) == 0 &&
		    serf_handle_query(s, now, &u.q))
			rebroadcast(s, &s->queries_q, p, n);
		break;
	case GOSSIP_SERF_QUERY_RESPONSE:
		if (gossip_serf_dec_query_response(b, bn, &u.r) == 0)
			serf_handle_query_response(s, now, &u.r);
		break;
	case GOSSIP_SERF_RELAY:
		serf_handle_relay(s, b, bn);
		break;
	default:
		log_debug("serf: unknown message type %u", p[0]);
		break;
	}
}

static void
d_get_broadcasts(void *arg, size_t overhead, size_t limit,
    struct gossip_msgs *out)
{
	struct gossip_serf *s = arg;
	unsigned tl = gossip_retransmit_limit(s->cfg.ml.retransmit_mult,
	    s->nmembers);
	struct gossip_bq *qs[3] = { &s->intents_q, &s->queries_q,
		&s->events_q };
	for (int i = 0; i < 3; i++) {
		size_t used = gossip_msgs_bytes(out, overhead);
		if (used >= limit)
			return;
		gossip_bq_fetch(qs[i], overhead, limit - used, tl, out);
	}
}

static void
d_local_state(void *arg, bool join, struct buf *out)
{
	struct gossip_serf *s = arg;
	struct gossip_serf_push_pull pp;
	size_t nev = 0;

	memset(&pp, 0, sizeof(pp));
	pp.ltime = s->clock;
	pp.event_ltime = s->event_clock;
	pp.query_ltime = s->query_clock;
	pp.status = xcalloc(s->nmembers + 1, sizeof(*pp.status));
	pp.left = xcalloc(s->nmembers + 1, sizeof(*pp.left));
	for (size_t i = 0; i < s->nmembers; i++) {
		const struct smember *m = s->members[i];
		pp.status[pp.nstatus].name = gossip_slice_c(m->m.name);
		pp.status[pp.nstatus++].ltime = m->status_ltime;
		if (m->m.status == GOSSIP_MEMBER_LEFT)
			pp.left[pp.nleft++] = gossip_slice_c(m->m.name);
	}
	/* the recent-event ring as serf sends it: nil or {Events, LTime} */
	pp.events = xcalloc(SERF_EVENT_BUFFER, sizeof(*pp.events));
	pp.nevents = SERF_EVENT_BUFFER;
	for (size_t i = 0; i < SERF_EVENT_BUFFER; i++)
		nev += s->events[i].used ? s->events[i].n : 0;
	pp.ev = xcalloc(nev + 1, sizeof(*pp.ev));
	for (size_t i = 0; i < SERF_EVENT_BUFFER; i++) {
		const struct ev_slot *sl = &s->events[i];
		pp.events[i].nil = !sl->used;
		if (!sl->used)
			continue;
		pp.events[i].ltime = sl->ltime;
		pp.events[i].first = pp.nev;
		pp.events[i].count = sl->n;
		for (size_t k = 0; k < sl->n; k++) {
			struct gossip_serf_pp_event *e = &pp.ev[pp.nev++];
			e->name = gossip_slice_c(sl->ev[k].name);
			e->payload = (struct gossip_slice){ sl->ev[k].payload_nil ?
				NULL : (sl->ev[k].payload ? sl->ev[k].payload :
				(const uint8_t *)""), sl->ev[k].len };
		}
	}
	gossip_serf_enc_push_pull(out, &pp);
	free(pp.status);
	free(pp.left);
	free(pp.events);
	free(pp.ev);
}

static void
d_merge_remote_state(void *arg, uint64_t now, const uint8_t *p, size_t n,
    bool join)
{
	struct gossip_serf *s = arg;
	struct gossip_serf_push_pull pp;

	if (n < 1 || p[0] != GOSSIP_SERF_PUSH_PULL ||
	    gossip_serf_dec_push_pull(p + 1, n - 1, &pp) < 0) {
		log_warnx("serf: remote state is not a valid push/pull");
		return;
	}
	if (pp.ltime > 0)
		serf_witness(&s->clock, pp.ltime - 1);
	if (pp.event_ltime > 0)
		serf_witness(&s->event_clock, pp.event_ltime - 1);
	if (pp.query_ltime > 0)
		serf_witness(&s->query_clock, pp.query_ltime - 1);
	/* left members first, one past their join time: the leave must
	 * have come after it */
	for (size_t i = 0; i < pp.nleft; i++) {
		struct gossip_serf_leave l = { 1, pp.left[i], false };
		for (size_t k = 0; k < pp.nstatus; k++)
			if (gossip_slice_same(pp.status[k].name, pp.left[i]))
				l.ltime = pp.status[k].ltime + 1;
		serf_handle_leave_intent(s, now, &l);
	}
	for (size_t k = 0; k < pp.nstatus; k++) {
		bool left = false;
		for (size_t i = 0; i < pp.nleft && !left; i++)
			left = gossip_slice_same(pp.status[k].name, pp.left[i]);
		if (left)
			continue;
		struct gossip_serf_join j = { pp.status[k].ltime,
			pp.status[k].name };
		serf_handle_join_intent(s, now, &j);
	}
	if (join && s->join_ignore_pending > 0 &&
	    pp.event_ltime > s->event_min_time)
		s->event_min_time = pp.event_ltime;
	for (size_t i = 0; i < pp.nevents; i++) {
		const struct gossip_serf_pp_events *sl = &pp.events[i];
		if (sl->nil)
			continue;
		for (size_t k = 0; k < sl->count; k++) {
			struct gossip_serf_user_event e = { sl->ltime,
				pp.ev[sl->first + k].name,
				pp.ev[sl->first + k].payload, false };
			serf_handle_user_event(s, now, &e);
		}
	}
	gossip_serf_push_pull_free(&pp);
}

static void
d_notify_join(void *arg, uint64_t now, const struct gossip_node *n)
{
	struct gossip_serf *s = arg;
	struct smember *m = serf_find(s, n->name);
	enum gossip_member_status old = GOSSIP_MEMBER_NONE;
	uint64_t lt;

	if (m == NULL) {
		m = member_add(s, n->name);
		m->m.status = GOSSIP_MEMBER_ALIVE;
		if (intent_recent(s, n->name, INTENT_JOIN, &lt))
			m->status_ltime = lt;
		if (intent_recent(s, n->name, INTENT_LEAVE, &lt)) {
			m->m.status = GOSSIP_MEMBER_LEAVING;
			m->status_ltime = lt;
		}
	} else {
		old = m->m.status;
		m->m.status = GOSSIP_MEMBER_ALIVE;
		m->leave_time = 0;
	}
	from_node(&m->m, n);
	(void)old;
	char a[64];
	gossip_addr_fmt(&n->addr, a);
	log_info("serf: EventMemberJoin: %s %s", n->name, a);
	serf_emit_member(s, now, GOSSIP_EV_MEMBER_JOIN, &m->m);
}

static void
d_notify_leave(void *arg, uint64_t now, const struct gossip_node *n)
{
	struct gossip_serf *s = arg;
	struct smember *m = serf_find(s, n->name);
	if (m == NULL)
		return;
	switch (m->m.status) {
	case GOSSIP_MEMBER_LEAVING:
		m->m.status = GOSSIP_MEMBER_LEFT;
		break;
	case GOSSIP_MEMBER_ALIVE:
		m->m.status = GOSSIP_MEMBER_FAILED;
		break;
	default:
		log_warnx("serf: bad state when leave: %d", m->m.status);
		return;
	}
	m->leave_time = now;
	bool left = m->m.status == GOSSIP_MEMBER_LEFT;
	log_info("serf: %s: %s", left ? "EventMemberLeave" :
	    "EventMemberFailed", m->m.name);
	serf_emit_member(s, now, left ? GOSSIP_EV_MEMBER_LEAVE :
	    GOSSIP_EV_MEMBER_FAILED, &m->m);
}

static void
d_notify_update(void *arg, uint64_t now, const struct gossip_node *n)
{
	struct gossip_serf *s = arg;
	struct smember *m = serf_find(s, n->name);
	if (m == NULL)
		return;
	from_node(&m->m, n);
	log_info("serf: EventMemberUpdate: %s", n->name);
	serf_emit_member(s, now, GOSSIP_EV_MEMBER_UPDATE, &m->m);
}

static int
merge_nodes(struct gossip_serf *s, const struct gossip_node *nodes, size_t n,
    char *why, size_t whylen)
{
	struct gossip_member *ms = xcalloc(n ? n : 1, sizeof(*ms));
	for (size_t i = 0; i < n; i++) {
		ms[i].name = xstrdup(nodes[i].name);
		ms[i].tags = NULL;
		ms[i].ntags = 0;
		from_node(&ms[i], &nodes[i]);
		ms[i].status = GOSSIP_MEMBER_NONE;
	}
	int rc = s->cfg.merge(s->cfg.merge_arg, ms, n, why, whylen);
	for (size_t i = 0; i < n; i++)
		gossip_member_free(&ms[i]);
	free(ms);
	return rc;
}

static int
d_notify_merge(void *arg, const struct gossip_node *nodes, size_t n,
    char *why, size_t whylen)
{
	struct gossip_serf *s = arg;
	return s->cfg.merge ? merge_nodes(s, nodes, n, why, whylen) : 0;
}

static int
d_notify_alive(void *arg, const struct gossip_node *n)
{
	struct gossip_serf *s = arg;
	char why[256] = "";
	if (s->cfg.merge == NULL)
		return 0;
	int rc = merge_nodes(s, n, 1, why, sizeof(why));
	if (rc < 0)
		log_warnx("serf: ignoring alive message for %s: %s", n->name,
		    why);
	return rc;
}

static void
d_notify_conflict(void *arg, const struct gossip_node *mine,
    const struct gossip_node *theirs)
{
	char a[64], b[64];
	gossip_addr_fmt(&mine->addr, a);
	gossip_addr_fmt(&theirs->addr, b);
	log_warnx("serf: name conflict for '%s' both %s and %s are claiming",
	    mine->name, a, b);
}

static void
d_ack_payload(void *arg, struct buf *out)
{
	struct gossip_serf *s = arg;
	gossip_coord_encode(out, &s->viv.coord);
}

static double
viv_rand(void *arg)
{
	struct gossip_serf *s = arg;
	return (double)gossip_ml_rand(s->ml, 1ull << 53) / (double)(1ull << 53);
}

static void
coord_cache(struct gossip_serf *s, const char *name,
    const struct gossip_coord *c)
{
	for (size_t i = 0; i < s->ncoords; i++)
		if (strcmp(s->coords[i].name, name) == 0) {
			s->coords[i].c = *c;
			return;
		}
	s->coords = xrealloc(s->coords, (s->ncoords + 1) * sizeof(*s->coords));
	s->coords[s->ncoords].name = xstrdup(name);
	s->coords[s->ncoords++].c = *c;
}

static void
coord_forget(struct gossip_serf *s, const char *name)
{
	gossip_vivaldi_forget(&s->viv, name);
	for (size_t i = 0; i < s->ncoords; i++)
		if (strcmp(s->coords[i].name, name) == 0) {
			free(s->coords[i].name);
			s->coords[i] = s->coords[--s->ncoords];
			return;
		}
}

/* An ack to our ping carried the peer's coordinate: one Vivaldi step. */
static void
d_notify_ping_complete(void *arg, uint64_t now, const struct gossip_node *n,
    uint64_t rtt_us, const uint8_t *p, size_t len)
{
	struct gossip_serf *s = arg;
	struct gossip_coord other;
	if (len == 0)
		return;
	if (p[0] != 1) {
		log_warnx("serf: unsupported ping version: %u", p[0]);
		return;
	}
	if (gossip_coord_decode(p, len, &other) < 0) {
		log_warnx("serf: failed to decode coordinate from ping");
		return;
	}
	if (gossip_vivaldi_update(&s->viv, n->name, &other,
	    (double)rtt_us / 1e6, viv_rand, s) < 0) {
		log_debug("serf: rejected coordinate from %s", n->name);
		return;
	}
	coord_cache(s, n->name, &other);
}

int
gossip_serf_coordinate(const struct gossip_serf *s, const char *node,
    struct gossip_coord *out)
{
	if (node == NULL || strcmp(node, s->cfg.ml.name) == 0) {
		*out = s->viv.coord;
		return 0;
	}
	for (size_t i = 0; i < s->ncoords; i++)
		if (strcmp(s->coords[i].name, node) == 0) {
			*out = s->coords[i].c;
			return 0;
		}
	return -ENOENT;
}

static void
d_join_done(void *arg, uint64_t now, uint64_t op, unsigned ok, const char *err)
{
	struct gossip_serf *s = arg;
	for (size_t i = 0; i < s->njoin_ops; i++) {
		if (s->join_ops[i] != op)
			continue;
		if (s->join_ignore[i])
			s->join_ignore_pending--;
		s->join_ops[i] = s->join_ops[--s->njoin_ops];
		s->join_ignore[i] = s->join_ignore[s->njoin_ops];
		if (ok > 0)
			broadcast_join(s, now, s->clock);
		struct gossip_event e = { .type = GOSSIP_EV_JOIN_DONE,
			.count = ok, .join = op };
		if (ok == 0)
			e.error = xstrdup(err && err[0] ? err :
			    "no node could be joined");
		serf_push_event(s, &e);
		return;
	}
	/* a reconnect attempt: nothing to report */
}

/* ------------------------------------------------------------ life */

static void
copy_tags(struct gossip_serf *s, const char *const *kv, size_t n)
{
	for (size_t i = 0; i < s->ntags; i++)
		free(s->tags[i]);
	free(s->tags);
	s->tags = xcalloc(n ? n : 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		s->tags[i] = xstrdup(kv[i]);
	s->ntags = n;
}

static void
on_intent_finish(void *arg, uint64_t token)
{
	struct gossip_serf *s = arg;
	if (token == s->leave_token)
		s->leave_intent_pending = false;
}

struct gossip_serf *
gossip_serf_new(const struct gossip_serf_config *cfg, uint64_t now)
{
	struct gossip_serf *s = xcalloc(1, sizeof(*s));
	s->cfg = *cfg;
	s->nbuckets = 64;
	s->buckets = xcalloc(s->nbuckets, sizeof(*s->buckets));
	copy_tags(s, cfg->tags, cfg->ntags);
	s->cfg.tags = NULL;
	/* clocks start at 1 so a join LTime of 0 is always old */
	s->clock = s->event_clock = s->query_clock = 1;
	gossip_bq_init(&s->intents_q);
	gossip_bq_init(&s->events_q);
	gossip_bq_init(&s->queries_q);
	s->intents_q.on_finish = on_intent_finish;
	s->intents_q.arg = s;
	s->leave_token = 1;
	gossip_vivaldi_init(&s->viv);
	s->dlg = (struct gossip_ml_delegate){
		.node_meta = d_node_meta,
		.notify_msg = d_notify_msg,
		.get_broadcasts = d_get_broadcasts,
		.local_state = d_local_state,
		.merge_remote_state = d_merge_remote_state,
		.notify_join = d_notify_join,
		.notify_leave = d_notify_leave,
		.notify_update = d_notify_update,
		/* serf installs memberlist's merge and alive delegates only
		 * with a merge check configured */
		.notify_merge = cfg->merge ? d_notify_merge : NULL,
		.notify_alive = cfg->merge ? d_notify_alive : NULL,
		.notify_conflict = d_notify_conflict,
		.ack_payload = d_ack_payload,
		.notify_ping_complete = d_notify_ping_complete,
		.join_done = d_join_done,
	};
	s->cfg.ml.delegate = &s->dlg;
	s->cfg.ml.delegate_arg = s;
	if (cfg->keyring)
		s->cfg.ml.wire.keyring = cfg->keyring;
	s->ml = gossip_ml_new(&s->cfg.ml, now);
	s->next_reap = now + cfg->reap_interval;
	s->next_reconnect = now + cfg->reconnect_interval;
	s->next_queue_check = now + cfg->queue_check_interval;
	return s;
}

void
gossip_serf_free(struct gossip_serf *s)
{
	struct gossip_event e;
	if (s == NULL)
		return;
	gossip_ml_free(s->ml);
	for (size_t i = 0; i < s->nmembers; i++) {
		gossip_member_free(&s->members[i]->m);
		free(s->members[i]);
	}
	free(s->members);
	free(s->buckets);
	for (size_t i = 0; i < s->nintents; i++)
		free(s->intents[i].node);
	free(s->intents);
	for (size_t i = 0; i < s->ntags; i++)
		free(s->tags[i]);
	free(s->tags);
	gossip_bq_free(&s->intents_q);
	gossip_bq_free(&s->events_q);
	gossip_bq_free(&s->queries_q);
	serf_queries_free(s);
	while (gossip_serf_pop_event(s, &e))
		gossip_event_free(&e);
	free(s->evq);
	gossip_vivaldi_free(&s->viv);
	for (size_t i = 0; i < s->ncoords; i++)
		free(s->coords[i].name);
	free(s->coords);
	free(s->join_ops);
	free(s->join_ignore);
	free(s);
}

uint64_t
gossip_serf_join(struct gossip_serf *s, uint64_t now,
    const struct gossip_addr *addrs, size_t n, bool ignore_old)
{
	if (n == 0) {
		struct gossip_event e = { .type = GOSSIP_EV_JOIN_DONE,
			.error = xstrdup("no addresses to join") };
		serf_push_event(s, &e);
		return 0;
	}
	/* with addresses, memberlist reports the result later, never
	 * from inside this call */
	s->join_ops = xrealloc(s->join_ops,
	    (s->njoin_ops + 1) * sizeof(*s->join_ops));
	s->join_ignore = xrealloc(s->join_ignore,
	    (s->njoin_ops + 1) * sizeof(*s->join_ignore));
	s->join_ops[s->njoin_ops] = gossip_ml_join(s->ml, now, addrs, n);
	s->join_ignore[s->njoin_ops] = ignore_old;
	uint64_t id = s->join_ops[s->njoin_ops++];
	if (ignore_old)
		s->join_ignore_pending++;
	return id;
}

int
gossip_serf_leave(struct gossip_serf *s, uint64_t now)
{
	if (s->state != SERF_ALIVE)
		return -EALREADY;
	s->state = SERF_LEAVING;
	struct gossip_serf_leave l = { s->clock,
		gossip_slice_c(s->cfg.ml.name), false };
	s->clock++;
	serf_handle_leave_intent(s, now, &l);
	s->leave_phase = LEAVE_INTENT;
	s->leave_deadline = now + s->cfg.broadcast_timeout;
	s->leave_err[0] = '\0';
	s->leave_intent_pending = false;
	if (serf_has_alive_members(s)) {
		struct buf m;
		buf_init(&m);
		gossip_serf_enc_leave(&m, &l);
		s->leave_intent_pending = true;
		serf_broadcast(s, &s->intents_q, &m, s->leave_token);
		buf_free(&m);
	}
	return 0;
}

/* Graceful leave, step by step (serf Leave): our leave intent out (or
 * BroadcastTimeout), memberlist's dead-from-self out (or timeout), then
 * LeavePropagateDelay to answer probes while the news spreads. */
static void
leave_tick(struct gossip_serf *s, uint64_t now)
{
	switch (s->leave_phase) {
	case LEAVE_NONE:
		return;
	case LEAVE_INTENT:
		if (s->leave_intent_pending && now < s->leave_deadline)
			return;
		if (s->leave_intent_pending)
			snprintf(s->leave_err, sizeof(s->leave_err),
			    "timeout while waiting for graceful leave");
		gossip_ml_leave(s->ml, now);
		s->leave_phase = LEAVE_ML;
		s->leave_deadline = now + s->cfg.broadcast_timeout;
		/* FALLTHROUGH */
	case LEAVE_ML:
		if (gossip_ml_leave_pending(s->ml) && now < s->leave_deadline)
			return;
		s->leave_phase = LEAVE_PROPAGATE;
		s->leave_deadline = now + s->cfg.leave_propagate_delay;
		/* FALLTHROUGH */
	case LEAVE_PROPAGATE:
		if (now < s->leave_deadline)
			return;
		s->leave_phase = LEAVE_NONE;
		s->state = SERF_LEFT;
		struct gossip_event e = { .type = GOSSIP_EV_LEAVE_DONE };
		if (s->leave_err[0])
			e.error = xstrdup(s->leave_err);
		serf_push_event(s, &e);
	}
}

int
gossip_serf_set_tags(struct gossip_serf *s, uint64_t now,
    const char *const *kv, size_t n)
{
	struct buf meta;
	buf_init(&meta);
	gossip_tags_encode(&meta, kv, n);
	size_t len = meta.len;
	buf_free(&meta);
	if (len > GOSSIP_META_MAX)
		return -E2BIG;
	copy_tags(s, kv, n);
	gossip_ml_update_meta(s->ml, now);
	return 0;
}

int
gossip_serf_force_leave(struct gossip_serf *s, uint64_t now, const char *node,
    bool prune)
{
	struct gossip_serf_leave l = { s->clock, gossip_slice_c(node), prune };
	struct buf m;
	if (serf_find(s, node) == NULL)
		return -ENOENT;
	s->clock++;
	serf_handle_leave_intent(s, now, &l);
	if (!serf_has_alive_members(s))
		return 0;
	buf_init(&m);
	gossip_serf_enc_leave(&m, &l);
	serf_broadcast(s, &s->intents_q, &m, 0);
	buf_free(&m);
	return 0;
}

/* ------------------------------------------------------------ periodic */

/* Consul's rc_tm tag overrides the reconnect timeout of its member. */
static uint64_t
member_timeout(const struct gossip_serf *s, const struct smember *m,
    uint64_t dflt)
{
	const char *v;
	int64_t ns;
	if (s->cfg.enable_reconnect_override &&
	    (v = gossip_member_tag(&m->m, "rc_tm")) != NULL &&
	    duration_parse(v, strlen(v), &ns) == 0 && ns > 0)
		return (uint64_t)(ns / DURATION_MS);
	return dflt;
}

static void
reap(struct gossip_serf *s, uint64_t now)
{
	for (size_t i = 0; i < s->nmembers;) {
		struct smember *m = s->members[i];
		uint64_t t;
		if (m->m.status == GOSSIP_MEMBER_FAILED)
			t = member_timeout(s, m, s->cfg.reconnect_timeout);
		else if (m->m.status == GOSSIP_MEMBER_LEFT)
			t = member_timeout(s, m, s->cfg.tombstone_timeout);
		else
			t = UINT64_MAX;
		if (t != UINT64_MAX && now - m->leave_time > t) {
			member_erase(s, now, m);
			continue;	/* the slot now holds another member */
		}
		i++;
	}
	intents_reap(s, now);
}

static void
prunes_due(struct gossip_serf *s, uint64_t now)
{
	for (size_t i = 0; i < s->nmembers;) {
		struct smember *m = s->members[i];
		if (m->prune_at && now >= m->prune_at) {
			log_info("serf: EventMemberReap (forced): %s", m->m.name);
			member_erase(s, now, m);
			continue;
		}
		i++;
	}
}

/* With probability failed/alive, try to rejoin one random failed member:
 * a partition heals even when nobody on the other side remembers us. */
static void
reconnect(struct gossip_serf *s, uint64_t now)
{
	size_t failed = 0, left = 0;
	for (size_t i = 0; i < s->nmembers; i++) {
		failed += s->members[i]->m.status == GOSSIP_MEMBER_FAILED;
		left += s->members[i]->m.status == GOSSIP_MEMBER_LEFT;
	}
	if (failed == 0)
		return;
	double alive = (double)(s->nmembers - failed - left);
	if (alive <= 0)
		alive = 1;
	double prob = (double)failed / alive;
	double roll = (double)gossip_ml_rand(s->ml, 1u << 24) / (1u << 24);
	if (roll > prob)
		return;
	size_t pick = gossip_ml_rand(s->ml, failed);
	for (size_t i = 0; i < s->nmembers; i++) {
		struct smember *m = s->members[i];
		if (m->m.status != GOSSIP_MEMBER_FAILED || pick-- > 0)
			continue;
		log_info("serf: attempting reconnect to %s", m->m.name);
		gossip_ml_join(s->ml, now, &m->m.addr, 1);
		return;
	}
}

static void
check_queues(struct gossip_serf *s)
{
	size_t max = s->cfg.max_queue_depth;
	if (s->cfg.min_queue_depth > 0)
		max = MAX((size_t)s->cfg.min_queue_depth, 2 * s->nmembers);
	gossip_bq_prune(&s->intents_q, max);
	gossip_bq_prune(&s->events_q, max);
	gossip_bq_prune(&s->queries_q, max);
}

void
gossip_serf_tick(struct gossip_serf *s, uint64_t now)
{
	gossip_ml_tick(s->ml, now);
	leave_tick(s, now);
	prunes_due(s, now);
	if (now >= s->next_reap) {
		reap(s, now);
		s->next_reap = now + s->cfg.reap_interval;
	}
	if (now >= s->next_reconnect) {
		if (s->state == SERF_ALIVE)
			reconnect(s, now);
		s->next_reconnect = now + s->cfg.reconnect_interval;
	}
	if (now >= s->next_queue_check) {
		check_queues(s);
		s->next_queue_check = now + s->cfg.queue_check_interval;
	}
	serf_queries_tick(s, now);
	serf_coalesce_tick(s, now, false);
}

uint64_t
gossip_serf_next_deadline(const struct gossip_serf *s)
{
	uint64_t next = gossip_ml_next_deadline(s->ml);
	next = MIN(next, s->next_reap);
	next = MIN(next, s->next_reconnect);
	next = MIN(next, s->next_queue_check);
	next = MIN(next, serf_queries_next(s));
	next = MIN(next, serf_coalesce_next(s));
	if (s->leave_phase != LEAVE_NONE)
		next = MIN(next, s->leave_deadline);
	for (size_t i = 0; i < s->nmembers; i++)
		if (s->members[i]->prune_at)
			next = MIN(next, s->members[i]->prune_at);
	return next;
}

/* ------------------------------------------------------------ pass-through */

void
gossip_serf_recv_packet(struct gossip_serf *s, uint64_t now,
    const struct gossip_addr *from, const uint8_t *p, size_t n)
{
	gossip_ml_recv_packet(s->ml, now, from, p, n);
}

int
gossip_serf_stream_in(struct gossip_serf *s, uint64_t now, const uint8_t *in,
    size_t n, struct buf *reply)
{
	return gossip_ml_stream_in(s->ml, now, in, n, reply);
}

int
gossip_serf_stream_reply(struct gossip_serf *s, uint64_t now, uint64_t id,
    const uint8_t *in, size_t n)
{
	return gossip_ml_stream_reply(s->ml, now, id, in, n);
}

void
gossip_serf_stream_fail(struct gossip_serf *s, uint64_t now, uint64_t id,
    int err)
{
	gossip_ml_stream_fail(s->ml, now, id, err);
}

int
gossip_serf_pop_out(struct gossip_serf *s, struct gossip_out *out)
{
	return gossip_ml_pop_out(s->ml, out);
}

struct gossip_ml *
gossip_serf_ml(struct gossip_serf *s)
{
	return s->ml;
}

const struct gossip_node *
gossip_serf_local(const struct gossip_serf *s)
{
	return gossip_ml_self(s->ml);
}

size_t
gossip_serf_members(const struct gossip_serf *s, struct gossip_member **out)
{
	*out = xcalloc(s->nmembers ? s->nmembers : 1, sizeof(**out));
	for (size_t i = 0; i < s->nmembers; i++)
		serf_member_copy(&s->members[i]->m, &(*out)[i]);
	return s->nmembers;
}

size_t
gossip_serf_num_members(const struct gossip_serf *s)
{
	size_t n = 0;
	for (size_t i = 0; i < s->nmembers; i++)
		n += s->members[i]->m.status == GOSSIP_MEMBER_ALIVE;
	return n;
}

uint64_t
gossip_serf_default_query_timeout(const struct gossip_serf *s)
{
	size_t n = gossip_ml_num_alive(s->ml) + 1;
	double scale = ceil(log10((double)n + 1.0));
	return (uint64_t)((double)s->cfg.ml.gossip_interval *
	    s->cfg.query_timeout_mult * scale);
}

void
gossip_serf_stats(const struct gossip_serf *s, struct gossip_serf_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->member_time = s->clock;
	st->event_time = s->event_clock;
	st->query_time = s->query_clock;
	st->members = s->nmembers;
	for (size_t i = 0; i < s->nmembers; i++) {
		st->failed += s->members[i]->m.status == GOSSIP_MEMBER_FAILED;
		st->left += s->members[i]->m.status == GOSSIP_MEMBER_LEFT;
	}
	st->intent_queue = gossip_bq_len(&s->intents_q);
	st->event_queue = gossip_bq_len(&s->events_q);
	st->query_queue = gossip_bq_len(&s->queries_q);
	st->health_score = gossip_ml_health(s->ml);
	st->encrypted = gossip_wire_encrypting(gossip_ml_wire(s->ml));
	st->coordinate_resets = s->viv.resets;
}
