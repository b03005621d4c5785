/*
 * Transmit-limited broadcast queue; ordering and replacement rules of
 * memberlist's queue.go as described in gossip-protocol.md §6.4.
 */
#include "workers/gossip/bq.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct gossip_bq_item {
	char *name;
	struct buf msg;
	unsigned transmits;
	uint64_t id;
	uint64_t token;
	int picked;
};

void
gossip_msgs_init(struct gossip_msgs *m)
{
	memset(m, 0, sizeof(*m));
}

void
gossip_msgs_add(struct gossip_msgs *m, const void *p, size_t n)
{
	if (m->n == m->cap) {
		m->cap = m->cap ? 2 * m->cap : 8;
		m->v = xrealloc(m->v, m->cap * sizeof(*m->v));
	}
	buf_init(&m->v[m->n]);
	buf_add(&m->v[m->n], p, n);
	m->n++;
}

void
gossip_msgs_free(struct gossip_msgs *m)
{
	for (size_t i = 0; i < m->n; i++)
		buf_free(&m->v[i]);
	free(m->v);
	gossip_msgs_init(m);
}

size_t
gossip_msgs_bytes(const struct gossip_msgs *m, size_t overhead)
{
	size_t total = 0;
	for (size_t i = 0; i < m->n; i++)
		total += overhead + m->v[i].len;
	return total;
}

void
gossip_bq_init(struct gossip_bq *q)
{
	memset(q, 0, sizeof(*q));
}

static void
item_free(struct gossip_bq_item *it)
{
	free(it->name);
	buf_free(&it->msg);
	free(it);
}

static void
remove_at(struct gossip_bq *q, size_t i, int notify)
{
	struct gossip_bq_item *it = q->items[i];
	q->items[i] = q->items[--q->n];
	if (notify && it->token && q->on_finish)
		q->on_finish(q->arg, it->token);
	item_free(it);
}

void
gossip_bq_free(struct gossip_bq *q)
{
	for (size_t i = 0; i < q->n; i++)
		item_free(q->items[i]);
	free(q->items);
	gossip_bq_init(q);
}

void
gossip_bq_push(struct gossip_bq *q, const char *name, const void *msg,
    size_t n, uint64_t token)
{
	if (name != NULL) {
		for (size_t i = 0; i < q->n; i++) {
			if (q->items[i]->name &&
			    strcmp(q->items[i]->name, name) == 0) {
				remove_at(q, i, 1);
				break;
			}
		}
	}
	struct gossip_bq_item *it = xcalloc(1, sizeof(*it));
	it->name = name ? xstrdup(name) : NULL;
	buf_init(&it->msg);
	buf_add(&it->msg, msg, n);
	it->id = ++q->next_id;
	it->token = token;
	if (q->n == q->cap) {
		q->cap = q->cap ? 2 * q->cap : 16;
		q->items = xrealloc(q->items, q->cap * sizeof(*q->items));
	}
	q->items[q->n++] = it;
}

/* memberlist's order: fewer transmits, then longer, then newer first */
static int
item_cmp(const void *a, const void *b)
{
	const struct gossip_bq_item *x = *(struct gossip_bq_item *const *)a;
	const struct gossip_bq_item *y = *(struct gossip_bq_item *const *)b;
	if (x->transmits != y->transmits)
		return x->transmits < y->transmits ? -1 : 1;
	if (x->msg.len != y->msg.len)
		return x->msg.len > y->msg.len ? -1 : 1;
	return x->id > y->id ? -1 : x->id < y->id;
}

void
gossip_bq_fetch(struct gossip_bq *q, size_t overhead, size_t limit,
    unsigned transmit_limit, struct gossip_msgs *out)
{
	size_t used = 0;

	if (q->n == 0)
		return;
	qsort(q->items, q->n, sizeof(*q->items), item_cmp);
	for (size_t i = 0; i < q->n; i++) {
		struct gossip_bq_item *it = q->items[i];
		if (used + overhead >= limit)
			break;
		size_t free_bytes = limit - used - overhead;
		if (it->msg.len > free_bytes)
			continue;
		gossip_msgs_add(out, it->msg.data, it->msg.len);
		used += overhead + it->msg.len;
		it->picked = 1;
	}
	for (size_t i = 0; i < q->n;) {
		struct gossip_bq_item *it = q->items[i];
		if (!it->picked) {
			i++;
			continue;
		}
		it->picked = 0;
		if (it->transmits + 1 >= transmit_limit) {
			remove_at(q, i, 1);
			continue;
		}
		it->transmits++;
		i++;
	}
}

void
gossip_bq_prune(struct gossip_bq *q, size_t max)
{
	if (q->n <= max)
		return;
	qsort(q->items, q->n, sizeof(*q->items), item_cmp);
	while (q->n > max) {
		struct gossip_bq_item *it = q->items[--q->n];
		if (it->token && q->on_finish)
			q->on_finish(q->arg, it->token);
		item_free(it);
	}
}

size_t
gossip_bq_len(const struct gossip_bq *q)
{
	return q->n;
}

int
gossip_bq_has_token(const struct gossip_bq *q, uint64_t token)
{
	for (size_t i = 0; i < q->n; i++)
		if (q->items[i]->token == token)
			return 1;
	return 0;
}

unsigned
gossip_retransmit_limit(unsigned mult, size_t n)
{
	double scale = ceil(log10((double)n + 1.0));
	return (unsigned)(mult * scale);
}
