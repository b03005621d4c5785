#include "workers/store/watch.h"
#include "lib/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct watch_point {
	struct avl_node node;
	enum watch_kind kind;
	uint32_t keylen;
	struct watch_waiter *head;
	char key[];
};

struct watch_waiter {
	struct watch_waiter *prev, *next;
	struct watch_point *pt;
	struct watch_set *ws;
	ev_timer timer;
	watch_fn *fn;
	void *arg;
};

struct point_key {
	enum watch_kind kind;
	const char *key;
	uint32_t keylen;
};

static int
cmp_parts(enum watch_kind ka, const char *a, uint32_t al, enum watch_kind kb,
    const char *b, uint32_t bl)
{
	if (ka != kb)
		return ka < kb ? -1 : 1;
	int c = memcmp(a, b, al < bl ? al : bl);
	return c ? c : (al > bl) - (al < bl);
}

static int
point_cmp(const struct avl_node *a, const struct avl_node *b)
{
	const struct watch_point *x = avl_entry(a, struct watch_point, node);
	const struct watch_point *y = avl_entry(b, struct watch_point, node);
	return cmp_parts(x->kind, x->key, x->keylen, y->kind, y->key, y->keylen);
}

static int
point_key_cmp(const void *k, const struct avl_node *n)
{
	const struct point_key *pk = k;
	const struct watch_point *p = avl_entry(n, struct watch_point, node);
	return cmp_parts(pk->kind, pk->key, pk->keylen, p->kind, p->key,
	    p->keylen);
}

void
watch_set_init(struct watch_set *ws, struct ev_loop *loop, unsigned max_parked)
{
	ws->loop = loop;
	avl_init(&ws->points, point_cmp);
	ws->parked = 0;
	ws->max_parked = max_parked;
}

/* Unlink w; frees its point when that was the last waiter. */
static void
unlink_waiter(struct watch_set *ws, struct watch_waiter *w)
{
	struct watch_point *pt = w->pt;
	ev_timer_stop(ws->loop, &w->timer);
	if (w->prev)
		w->prev->next = w->next;
	else
		pt->head = w->next;
	if (w->next)
		w->next->prev = w->prev;
	ws->parked--;
	if (pt->head == NULL) {
		avl_remove(&ws->points, &pt->node);
		free(pt);
	}
}

static void
fire(struct watch_set *ws, struct watch_waiter *w, int why)
{
	watch_fn *fn = w->fn;
	void *arg = w->arg;
	unlink_waiter(ws, w);
	free(w);
	fn(arg, why);
}

static void
timeout_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct watch_waiter *w = t->data;
	fire(w->ws, w, -ETIMEDOUT);
}

struct watch_waiter *
watch_park(struct watch_set *ws, enum watch_kind kind, const char *key,
    uint32_t keylen, double timeout_s, watch_fn *fn, void *arg)
{
	if (ws->parked >= ws->max_parked) {
		errno = EBUSY;
		return NULL;
	}
	struct point_key pk = { kind, key, keylen };
	struct avl_node *n = avl_find(&ws->points, &pk, point_key_cmp);
	struct watch_point *pt;
	if (n)
		pt = avl_entry(n, struct watch_point, node);
	else {
		pt = xcalloc(1, sizeof(*pt) + keylen + 1);
		pt->kind = kind;
		pt->keylen = keylen;
		memcpy(pt->key, key, keylen);
		avl_insert(&ws->points, &pt->node);
	}
	struct watch_waiter *w = xcalloc(1, sizeof(*w));
	w->pt = pt;
	w->ws = ws;
	w->fn = fn;
	w->arg = arg;
	w->next = pt->head;
	if (pt->head)
		pt->head->prev = w;
	pt->head = w;
	ev_timer_init(&w->timer, timeout_cb, timeout_s > 0 ? timeout_s : 0, 0);
	w->timer.data = w;
	ev_timer_start(ws->loop, &w->timer);
	ws->parked++;
	return w;
}

void
watch_cancel(struct watch_set *ws, struct watch_waiter *w)
{
	unlink_waiter(ws, w);
	free(w);
}

/* Fire every waiter of one point (the point goes away with the last). */
static void
fire_point(struct watch_set *ws, enum watch_kind kind, const char *key,
    uint32_t keylen)
{
	struct point_key pk = { kind, key, keylen };
	struct avl_node *n = avl_find(&ws->points, &pk, point_key_cmp);
	if (n == NULL)
		return;
	struct watch_point *pt = avl_entry(n, struct watch_point, node);
	/* Detach the list first: callbacks may park again on this point. */
	struct watch_waiter *list = pt->head;
	pt->head = NULL;
	avl_remove(&ws->points, &pt->node);
	free(pt);
	while (list) {
		struct watch_waiter *w = list;
		list = w->next;
		ev_timer_stop(ws->loop, &w->timer);
		ws->parked--;
		watch_fn *fn = w->fn;
		void *arg = w->arg;
		free(w);
		fn(arg, 0);
	}
}

void
watch_notify(struct watch_set *ws, const char *key, uint32_t keylen)
{
	if (ws->parked == 0)
		return;
	fire_point(ws, WATCH_KEY, key, keylen);
	for (uint32_t l = 0; l <= keylen && ws->parked; l++)
		fire_point(ws, WATCH_PREFIX, key, l);
}

void
watch_set_free(struct watch_set *ws)
{
	struct avl_node *n;
	while ((n = avl_first(&ws->points)) != NULL) {
		struct watch_point *pt = avl_entry(n, struct watch_point, node);
		fire(ws, pt->head, -ECANCELED);
	}
}

void
watch_notify_all(struct watch_set *ws)
{
	/* Detach every point first: a woken query that parks again lands in
	 * a fresh point and is not woken a second time by this call. */
	struct avl_tree old = ws->points;
	struct avl_node *n;
	avl_init(&ws->points, point_cmp);
	while ((n = avl_first(&old)) != NULL) {
		struct watch_point *pt = avl_entry(n, struct watch_point, node);
		struct watch_waiter *list = pt->head;
		avl_remove(&old, n);
		free(pt);
		while (list) {
			struct watch_waiter *w = list;
			list = w->next;
			ev_timer_stop(ws->loop, &w->timer);
			ws->parked--;
			watch_fn *fn = w->fn;
			void *arg = w->arg;
			free(w);
			fn(arg, 0);
		}
	}
}
