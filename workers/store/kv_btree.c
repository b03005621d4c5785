#include "workers/store/kv_btree.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

/* Below this an inner node borrows from or merges with a sibling; merging
 * a node of KV_BT_MIN - 1 items with one of KV_BT_MIN fits in one node. */
#define KV_BT_MIN (KV_BT_MAX / 2)

struct kv_bt_node {
	uint16_t n;
	uint8_t leaf;
	void *item[KV_BT_MAX];
	struct kv_bt_node *child[];	/* inner nodes only: n + 1 */
};

struct split {
	void *item;		/* goes up to the parent */
	struct kv_bt_node *right;	/* NULL: no split */
};

static struct kv_bt_node *
node_new(int leaf)
{
	size_t sz = offsetof(struct kv_bt_node, child);
	if (!leaf)
		sz += (KV_BT_MAX + 1) * sizeof(struct kv_bt_node *);
	struct kv_bt_node *n = xmalloc(sz);
	n->n = 0;
	n->leaf = (uint8_t)leaf;
	return n;
}

void
kv_bt_init(struct kv_bt *t, kv_bt_key_fn *key)
{
	t->root = NULL;
	t->key = key;
	t->count = 0;
}

static void
node_free(struct kv_bt_node *n, void (*free_item)(void *))
{
	for (unsigned i = 0; free_item && i < n->n; i++)
		free_item(n->item[i]);
	for (unsigned i = 0; !n->leaf && i <= n->n; i++)
		node_free(n->child[i], free_item);
	free(n);
}

void
kv_bt_free(struct kv_bt *t, void (*free_item)(void *))
{
	if (t->root)
		node_free(t->root, free_item);
	t->root = NULL;
	t->count = 0;
}

static int
cmp_item(const struct kv_bt *t, const void *item, const char *k, uint32_t kl)
{
	const char *p;
	uint32_t l;
	t->key(item, &p, &l);
	int c = memcmp(p, k, l < kl ? l : kl);
	if (c)
		return c;
	return (l > kl) - (l < kl);
}

/* The first index whose item is >= key; *eq says whether it is equal. */
static unsigned
lower(const struct kv_bt *t, const struct kv_bt_node *n, const char *k,
    uint32_t kl, int *eq)
{
	unsigned lo = 0, hi = n->n;
	*eq = 0;
	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		int c = cmp_item(t, n->item[mid], k, kl);
		if (c < 0)
			lo = mid + 1;
		else if (c > 0)
			hi = mid;
		else {
			*eq = 1;
			return mid;
		}
	}
	return lo;
}

void *
kv_bt_get(const struct kv_bt *t, const char *key, uint32_t len)
{
	struct kv_bt_node *n = t->root;
	while (n) {
		int eq;
		unsigned pos = lower(t, n, key, len, &eq);
		if (eq)
			return n->item[pos];
		n = n->leaf ? NULL : n->child[pos];
	}
	return NULL;
}

void *
kv_bt_replace(struct kv_bt *t, void *item)
{
	const char *k;
	uint32_t kl;
	t->key(item, &k, &kl);
	struct kv_bt_node *n = t->root;
	while (n) {
		int eq;
		unsigned pos = lower(t, n, k, kl, &eq);
		if (eq) {
			void *old = n->item[pos];
			n->item[pos] = item;
			return old;
		}
		n = n->leaf ? NULL : n->child[pos];
	}
	return NULL;
}

/* ---- insert ---------------------------------------------------------- */

/* Room in n: item at pos, right (inner nodes) as the child after it. */
static void
node_put(struct kv_bt_node *n, unsigned pos, void *item,
    struct kv_bt_node *right)
{
	memmove(&n->item[pos + 1], &n->item[pos],
	    (n->n - pos) * sizeof(n->item[0]));
	n->item[pos] = item;
	if (!n->leaf) {
		memmove(&n->child[pos + 2], &n->child[pos + 1],
		    (n->n - pos) * sizeof(n->child[0]));
		n->child[pos + 1] = right;
	}
	n->n++;
}

/*
 * n is full: its items plus the new one are cut in a left part (stays in
 * n), one item that goes up and a right part (a new node).  Inner nodes
 * cut in halves.  A leaf that grows at its end (keys written in order,
 * the usual case: bench/kv-load.py, time-stamped or numbered keys) keeps
 * all but one in the left node, so such a load leaves its leaves nearly
 * full instead of half full; at its start, the mirror image.
 */
static void
node_split(struct kv_bt_node *n, unsigned pos, void *item,
    struct kv_bt_node *right, struct split *up)
{
	void *it[KV_BT_MAX + 1];
	struct kv_bt_node *ch[KV_BT_MAX + 2];
	const unsigned total = KV_BT_MAX + 1;
	memcpy(it, n->item, pos * sizeof(it[0]));
	it[pos] = item;
	memcpy(&it[pos + 1], &n->item[pos], (KV_BT_MAX - pos) * sizeof(it[0]));
	if (!n->leaf) {
		memcpy(ch, n->child, (pos + 1) * sizeof(ch[0]));
		ch[pos + 1] = right;
		memcpy(&ch[pos + 2], &n->child[pos + 1],
		    (KV_BT_MAX - pos) * sizeof(ch[0]));
	}
	unsigned l = KV_BT_MAX / 2;
	if (n->leaf && pos == KV_BT_MAX)
		l = KV_BT_MAX - 1;
	else if (n->leaf && pos == 0)
		l = 1;
	struct kv_bt_node *r = node_new(n->leaf);
	r->n = (uint16_t)(total - l - 1);
	memcpy(r->item, &it[l + 1], r->n * sizeof(it[0]));
	n->n = (uint16_t)l;
	memcpy(n->item, it, l * sizeof(it[0]));
	if (!n->leaf) {
		memcpy(n->child, ch, (l + 1) * sizeof(ch[0]));
		memcpy(r->child, &ch[l + 1], (r->n + 1u) * sizeof(ch[0]));
	}
	up->item = it[l];
	up->right = r;
}

/* Returns the item with key k if there is one (nothing inserted);
 * up->right is set when n split. */
static void *
ins(struct kv_bt *t, struct kv_bt_node *n, void *item, const char *k,
    uint32_t kl, struct split *up)
{
	int eq;
	unsigned pos = lower(t, n, k, kl, &eq);
	up->right = NULL;
	if (eq)
		return n->item[pos];
	struct kv_bt_node *right = NULL;
	if (!n->leaf) {
		struct split s;
		void *old = ins(t, n->child[pos], item, k, kl, &s);
		if (old || s.right == NULL)
			return old;
		item = s.item;
		right = s.right;
	}
	if (n->n < KV_BT_MAX)
		node_put(n, pos, item, right);
	else
		node_split(n, pos, item, right, up);
	return NULL;
}

void *
kv_bt_insert(struct kv_bt *t, void *item)
{
	const char *k;
	uint32_t kl;
	t->key(item, &k, &kl);
	if (t->root == NULL)
		t->root = node_new(1);
	struct split s;
	void *old = ins(t, t->root, item, k, kl, &s);
	if (old)
		return old;
	if (s.right) {
		struct kv_bt_node *r = node_new(0);
		r->n = 1;
		r->item[0] = s.item;
		r->child[0] = t->root;
		r->child[1] = s.right;
		t->root = r;
	}
	t->count++;
	return NULL;
}

/* ---- remove ---------------------------------------------------------- */

/* Drops item i and the child after it (inner nodes). */
static void
node_cut(struct kv_bt_node *n, unsigned i)
{
	memmove(&n->item[i], &n->item[i + 1], (n->n - i - 1) * sizeof(n->item[0]));
	if (!n->leaf)
		memmove(&n->child[i + 1], &n->child[i + 2],
		    (n->n - i - 1) * sizeof(n->child[0]));
	n->n--;
}

/* Children j and j + 1 of n, with the item between them, become one. */
static void
merge(struct kv_bt_node *n, unsigned j)
{
	struct kv_bt_node *l = n->child[j], *r = n->child[j + 1];
	l->item[l->n] = n->item[j];
	memcpy(&l->item[l->n + 1], r->item, r->n * sizeof(r->item[0]));
	if (!l->leaf)
		memcpy(&l->child[l->n + 1], r->child,
		    (r->n + 1u) * sizeof(r->child[0]));
	l->n = (uint16_t)(l->n + 1 + r->n);
	free(r);
	node_cut(n, j);
}

/* Child i of n got one item from its left sibling, through n. */
static void
borrow_left(struct kv_bt_node *n, unsigned i)
{
	struct kv_bt_node *c = n->child[i], *l = n->child[i - 1];
	memmove(&c->item[1], c->item, c->n * sizeof(c->item[0]));
	c->item[0] = n->item[i - 1];
	n->item[i - 1] = l->item[l->n - 1];
	if (!c->leaf) {
		memmove(&c->child[1], c->child, (c->n + 1u) * sizeof(c->child[0]));
		c->child[0] = l->child[l->n];
	}
	l->n--;
	c->n++;
}

static void
borrow_right(struct kv_bt_node *n, unsigned i)
{
	struct kv_bt_node *c = n->child[i], *r = n->child[i + 1];
	c->item[c->n] = n->item[i];
	n->item[i] = r->item[0];
	if (!c->leaf)
		c->child[c->n + 1] = r->child[0];
	c->n++;
	memmove(r->item, &r->item[1], (r->n - 1u) * sizeof(r->item[0]));
	if (!r->leaf)
		memmove(r->child, &r->child[1], r->n * sizeof(r->child[0]));
	r->n--;
}

/* After a removal under child i: keep it at >= KV_BT_MIN items.  A leaf
 * left short by an end split is topped up here too, the first time a key
 * under it goes. */
static void
fix(struct kv_bt_node *n, unsigned i)
{
	if (n->child[i]->n >= KV_BT_MIN)
		return;
	if (i > 0 && n->child[i - 1]->n > KV_BT_MIN)
		borrow_left(n, i);
	else if (i < n->n && n->child[i + 1]->n > KV_BT_MIN)
		borrow_right(n, i);
	else
		merge(n, i > 0 ? i - 1 : i);
}

static void *
del_max(struct kv_bt_node *n)
{
	if (n->leaf)
		return n->item[--n->n];
	void *out = del_max(n->child[n->n]);
	fix(n, n->n);
	return out;
}

static void *
del(struct kv_bt *t, struct kv_bt_node *n, const char *k, uint32_t kl)
{
	int eq;
	unsigned pos = lower(t, n, k, kl, &eq);
	void *out;
	if (n->leaf) {
		if (!eq)
			return NULL;
		out = n->item[pos];
		node_cut(n, pos);
		return out;
	}
	if (eq) {
		out = n->item[pos];
		n->item[pos] = del_max(n->child[pos]);
	} else if ((out = del(t, n->child[pos], k, kl)) == NULL)
		return NULL;
	fix(n, pos);
	return out;
}

void *
kv_bt_remove(struct kv_bt *t, const char *key, uint32_t len)
{
	if (t->root == NULL)
		return NULL;
	void *out = del(t, t->root, key, len);
	if (out == NULL)
		return NULL;
	t->count--;
	struct kv_bt_node *r = t->root;
	if (r->n == 0) {
		t->root = r->leaf ? NULL : r->child[0];
		free(r);
	}
	return out;
}

/* ---- iteration ------------------------------------------------------- */

/* The top of the path may be past its node's items: climb to the first
 * ancestor with an item left (its child index is that item's index). */
static void *
settle(struct kv_bt_iter *it)
{
	while (it->depth > 0) {
		struct kv_bt_node *n = it->path[it->depth - 1].n;
		unsigned i = it->path[it->depth - 1].i;
		if (i < n->n)
			return n->item[i];
		it->depth--;
	}
	return NULL;
}

static void
push(struct kv_bt_iter *it, struct kv_bt_node *n, unsigned i)
{
	assert(it->depth < KV_BT_DEPTH);
	it->path[it->depth].n = n;
	it->path[it->depth].i = i;
	it->depth++;
}

void *
kv_bt_seek(const struct kv_bt *t, struct kv_bt_iter *it, const char *key,
    uint32_t len)
{
	it->depth = 0;
	for (struct kv_bt_node *n = t->root; n; ) {
		int eq;
		unsigned pos = lower(t, n, key, len, &eq);
		push(it, n, pos);
		if (eq)
			return n->item[pos];
		n = n->leaf ? NULL : n->child[pos];
	}
	return settle(it);
}

void *
kv_bt_next(struct kv_bt_iter *it)
{
	if (it->depth == 0)
		return NULL;
	struct kv_bt_node *n = it->path[it->depth - 1].n;
	unsigned i = ++it->path[it->depth - 1].i;
	if (n->leaf)
		return settle(it);
	/* The successor of an inner item: the leftmost of the next child. */
	for (n = n->child[i]; !n->leaf; n = n->child[0])
		push(it, n, 0);
	push(it, n, 0);
	return n->item[0];
}
