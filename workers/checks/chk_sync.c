/*
 * The seam between the agent-local state and the catalog sync that
 * consumes it (chk_ae.c; anti-entropy, reference/consul.md section 6.4).
 * The registry calls these whenever a service or check changes; they
 * keep Consul's "in sync" bookkeeping (agent/local/state.go) so the sync
 * walks what is out of sync, pushes it, and marks it in sync again.
 * Every change takes a fresh st->sync_seq, so a push answered after a
 * newer change does not mark that change in sync (local.State's
 * version counters).
 *
 * The one policy decided here is local.State.UpdateCheck's: a change of
 * output alone on a check whose status is steady is not pushed at once
 * but after check_update_interval/2 + a random stagger up to
 * check_update_interval; a status change, or any change with the
 * interval at 0, is pending immediately.  The local state itself (what
 * /v1/agent/checks shows) always has the latest output.
 */
#include "workers/checks/chk.h"

#include <stdlib.h>
#include <string.h>

static void
kick(struct chk_state *st)
{
	if (st->sync_kick)
		st->sync_kick(st);
}

/* ---- tombstones (local.State's Deleted entries) ---- */

static int
tomb_cmp(const struct avl_node *a, const struct avl_node *b)
{
	return strcmp(avl_entry(a, struct chk_tomb, node)->id,
	    avl_entry(b, struct chk_tomb, node)->id);
}

static int
tomb_key_cmp(const void *key, const struct avl_node *n)
{
	return strcmp(key, avl_entry(n, struct chk_tomb, node)->id);
}

static struct avl_tree *
tombs(struct chk_state *st, bool service)
{
	struct avl_tree *t = service ? &st->svc_tombs : &st->chk_tombs;
	if (t->cmp == NULL)
		avl_init(t, tomb_cmp);
	return t;
}

struct chk_tomb *
chk_sync_tomb(const struct chk_state *st, bool service, const char *id)
{
	const struct avl_tree *t = service ? &st->svc_tombs : &st->chk_tombs;
	struct avl_node *n;
	if (t->cmp == NULL)
		return NULL;
	n = avl_find(t, id, tomb_key_cmp);
	return n ? avl_entry(n, struct chk_tomb, node) : NULL;
}

void
chk_sync_tomb_drop(struct chk_state *st, bool service, struct chk_tomb *t)
{
	avl_remove(tombs(st, service), &t->node);
	free(t->id);
	free(t->service_id);
	free(t);
}

/* Registered again: whatever deregistration was pending is moot (the
 * registration replaces the catalog's entry). */
static void
untomb(struct chk_state *st, bool service, const char *id)
{
	struct chk_tomb *t = chk_sync_tomb(st, service, id);
	if (t)
		chk_sync_tomb_drop(st, service, t);
}

void
chk_sync_deleted(struct chk_state *st, bool service, const char *id,
    const char *service_id)
{
	struct chk_tomb *t = chk_sync_tomb(st, service, id);
	if (t == NULL) {
		t = xcalloc(1, sizeof(*t));
		t->id = xstrdup(id);
		t->service_id = xstrdup(service_id ? service_id : "");
		avl_insert(tombs(st, service), &t->node);
	}
	t->sync_seq = ++st->sync_seq;
	kick(st);
}

void
chk_sync_tombs_free(struct chk_state *st)
{
	struct avl_node *n;
	for (int i = 0; i < 2; i++)
		while ((n = avl_first(tombs(st, i == 0))) != NULL)
			chk_sync_tomb_drop(st, i == 0,
			    avl_entry(n, struct chk_tomb, node));
}

/* ---- out of sync ---- */

void
chk_sync_service(struct chk_state *st, struct chk_service *s)
{
	s->in_sync = false;
	s->sync_seq = ++st->sync_seq;
	untomb(st, true, s->id);
	kick(st);
}

static void
check_dirty(struct chk_state *st, struct chk_check *c)
{
	c->in_sync = false;
	c->sync_seq = ++st->sync_seq;
	untomb(st, false, c->id);
	kick(st);
}

static void
defer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct chk_check *c = t->data;
	c->defer_armed = false;
	check_dirty(c->st, c);
}

static double
defer_delay(int64_t interval_ns)
{
	uint64_t r = 0;
	random_bytes(&r, sizeof(r));
	return ((double)interval_ns / 2 + (double)(r % (uint64_t)interval_ns)) /
	    1e9;
}

void
chk_sync_check(struct chk_state *st, struct chk_check *c, bool output_only)
{
	int64_t iv = st->cfg.check_update_interval;
	if (output_only && iv > 0) {
		if (!c->defer_armed && c->in_sync) {
			ev_timer_init(&c->defer, defer_cb, defer_delay(iv), 0);
			c->defer.data = c;
			ev_timer_start(st->loop, &c->defer);
			c->defer_armed = true;
		}
		return;
	}
	check_dirty(st, c);
}

/* A check is going away: its deferred push with it. */
void
chk_sync_forget(struct chk_state *st, struct chk_check *c)
{
	if (c->defer_armed) {
		ev_timer_stop(st->loop, &c->defer);
		c->defer_armed = false;
	}
}

size_t
chk_sync_pending(const struct chk_state *st)
{
	size_t n = st->svc_tombs.count + st->chk_tombs.count;
	for (struct avl_node *a = avl_first(&st->services); a; a = avl_next(a))
		n += !avl_entry(a, struct chk_service, node)->in_sync;
	for (struct avl_node *a = avl_first(&st->checks); a; a = avl_next(a))
		n += !avl_entry(a, struct chk_check, node)->in_sync;
	return n;
}

void
chk_sync_all_done(struct chk_state *st)
{
	chk_sync_tombs_free(st);
	for (struct avl_node *a = avl_first(&st->services); a; a = avl_next(a))
		avl_entry(a, struct chk_service, node)->in_sync = true;
	for (struct avl_node *a = avl_first(&st->checks); a; a = avl_next(a)) {
		struct chk_check *c = avl_entry(a, struct chk_check, node);
		chk_sync_forget(st, c);
		c->in_sync = true;
	}
}

/* ---- the LAN pool's size ---- */

struct member {
	struct avl_node node;
	char *name;
};

static int
member_cmp(const struct avl_node *a, const struct avl_node *b)
{
	return strcmp(avl_entry(a, struct member, node)->name,
	    avl_entry(b, struct member, node)->name);
}

static int
member_key_cmp(const void *key, const struct avl_node *n)
{
	return strcmp(key, avl_entry(n, struct member, node)->name);
}

void
chk_sync_member(struct chk_state *st, const char *name, bool gone)
{
	struct avl_node *n;
	struct member *m;
	if (st->members.cmp == NULL)
		avl_init(&st->members, member_cmp);
	n = avl_find(&st->members, name, member_key_cmp);
	if (n && gone) {
		m = avl_entry(n, struct member, node);
		avl_remove(&st->members, n);
		free(m->name);
		free(m);
	} else if (n == NULL && !gone) {
		m = xcalloc(1, sizeof(*m));
		m->name = xstrdup(name);
		avl_insert(&st->members, &m->node);
	}
}

void
chk_sync_members_free(struct chk_state *st)
{
	struct avl_node *n;
	if (st->members.cmp == NULL)
		return;
	while ((n = avl_first(&st->members)) != NULL) {
		struct member *m = avl_entry(n, struct member, node);
		avl_remove(&st->members, n);
		free(m->name);
		free(m);
	}
}

size_t
chk_sync_members(const struct chk_state *st)
{
	return st->members.count;
}

/*
 * ae.scaleFactor times ae_interval: the span of the random part of the
 * full-sync delay (the delay is ae_interval + rand(this)).  The factor is
 * 1 up to 128 nodes, then ceil(log2(n) - log2(128)) + 1.
 */
int64_t
chk_sync_full_interval(const struct chk_state *st)
{
	size_t n = st->members.count;
	int64_t factor = 1;
	int64_t base = st->tun.ae_interval > 0 ? st->tun.ae_interval :
	    60 * 1000000000LL;
	for (size_t t = 128; n > t; t *= 2)
		factor++;
	return factor * base;
}
