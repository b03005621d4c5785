#include "lib/avl.h"

static int
height(const struct avl_node *n)
{
	return n ? n->height : 0;
}

static void
update(struct avl_node *n)
{
	int l = height(n->left), r = height(n->right);
	n->height = (l > r ? l : r) + 1;
}

static void
replace_child(struct avl_tree *t, struct avl_node *parent,
    struct avl_node *old, struct avl_node *new)
{
	if (parent == NULL)
		t->root = new;
	else if (parent->left == old)
		parent->left = new;
	else
		parent->right = new;
	if (new)
		new->parent = parent;
}

/* Rotate x's right child y up: x becomes y's left child. */
static struct avl_node *
rotate_left(struct avl_tree *t, struct avl_node *x)
{
	struct avl_node *y = x->right;
	replace_child(t, x->parent, x, y);
	x->right = y->left;
	if (x->right)
		x->right->parent = x;
	y->left = x;
	x->parent = y;
	update(x);
	update(y);
	return y;
}

static struct avl_node *
rotate_right(struct avl_tree *t, struct avl_node *x)
{
	struct avl_node *y = x->left;
	replace_child(t, x->parent, x, y);
	x->left = y->right;
	if (x->left)
		x->left->parent = x;
	y->right = x;
	x->parent = y;
	update(x);
	update(y);
	return y;
}

/* Restore the AVL balance from n up to the root. */
static void
rebalance(struct avl_tree *t, struct avl_node *n)
{
	while (n) {
		update(n);
		int bal = height(n->left) - height(n->right);
		if (bal > 1) {
			if (height(n->left->left) < height(n->left->right))
				rotate_left(t, n->left);
			n = rotate_right(t, n);
		} else if (bal < -1) {
			if (height(n->right->right) < height(n->right->left))
				rotate_right(t, n->right);
			n = rotate_left(t, n);
		}
		n = n->parent;
	}
}

void
avl_init(struct avl_tree *t, avl_cmp_fn *cmp)
{
	t->root = NULL;
	t->cmp = cmp;
	t->count = 0;
}

struct avl_node *
avl_insert(struct avl_tree *t, struct avl_node *n)
{
	struct avl_node *parent = NULL, **link = &t->root;
	int c = 0;
	while (*link) {
		parent = *link;
		c = t->cmp(n, parent);
		if (c == 0)
			return parent;
		link = c < 0 ? &parent->left : &parent->right;
	}
	n->left = n->right = NULL;
	n->parent = parent;
	n->height = 1;
	*link = n;
	t->count++;
	rebalance(t, parent);
	return n;
}

static struct avl_node *
leftmost(struct avl_node *n)
{
	while (n && n->left)
		n = n->left;
	return n;
}

static struct avl_node *
rightmost(struct avl_node *n)
{
	while (n && n->right)
		n = n->right;
	return n;
}

void
avl_remove(struct avl_tree *t, struct avl_node *n)
{
	struct avl_node *fix;
	if (n->left && n->right) {
		/* Swap n with its successor s, which has no left child. */
		struct avl_node *s = leftmost(n->right);
		struct avl_node *sp = s->parent, *sr = s->right;
		replace_child(t, n->parent, n, s);
		s->left = n->left;
		s->left->parent = s;
		s->height = n->height;
		if (sp == n) {
			fix = s;
		} else {
			fix = sp;
			sp->left = sr;
			if (sr)
				sr->parent = sp;
			s->right = n->right;
			s->right->parent = s;
		}
	} else {
		struct avl_node *child = n->left ? n->left : n->right;
		fix = n->parent;
		replace_child(t, n->parent, n, child);
	}
	t->count--;
	rebalance(t, fix);
}

struct avl_node *
avl_find(const struct avl_tree *t, const void *key, avl_key_cmp_fn *cmp)
{
	struct avl_node *n = t->root;
	while (n) {
		int c = cmp(key, n);
		if (c == 0)
			return n;
		n = c < 0 ? n->left : n->right;
	}
	return NULL;
}

struct avl_node *
avl_seek(const struct avl_tree *t, const void *key, avl_key_cmp_fn *cmp)
{
	struct avl_node *n = t->root, *best = NULL;
	while (n) {
		int c = cmp(key, n);
		if (c == 0)
			return n;
		if (c < 0) {
			best = n;
			n = n->left;
		} else
			n = n->right;
	}
	return best;
}

struct avl_node *avl_first(const struct avl_tree *t) { return leftmost(t->root); }
struct avl_node *avl_last(const struct avl_tree *t) { return rightmost(t->root); }

struct avl_node *
avl_next(const struct avl_node *n)
{
	if (n->right)
		return leftmost(n->right);
	while (n->parent && n->parent->right == n)
		n = n->parent;
	return n->parent;
}

struct avl_node *
avl_prev(const struct avl_node *n)
{
	if (n->left)
		return rightmost(n->left);
	while (n->parent && n->parent->left == n)
		n = n->parent;
	return n->parent;
}
