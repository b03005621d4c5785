/*
 * An intrusive AVL tree: ordered maps for the store's tables (KV must
 * answer prefix and separator queries in key order) and anything else
 * that needs ordered lookup.  The node lives inside the caller's struct;
 * the tree never allocates.  O(log n) insert, delete, find and seek;
 * in-order iteration with avl_next/avl_prev.
 */
#ifndef MUSTER_AVL_H
#define MUSTER_AVL_H

#include <stddef.h>

struct avl_node {
	struct avl_node *left, *right, *parent;
	int height;
};

/* <0, 0, >0 like strcmp; key is whatever the caller's find passes. */
typedef int avl_cmp_fn(const struct avl_node *a, const struct avl_node *b);
typedef int avl_key_cmp_fn(const void *key, const struct avl_node *n);

struct avl_tree {
	struct avl_node *root;
	avl_cmp_fn *cmp;
	size_t count;
};

#define avl_entry(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

void avl_init(struct avl_tree *t, avl_cmp_fn *cmp);
/* Insert n; if an equal node exists, nothing changes and it is returned. */
struct avl_node *avl_insert(struct avl_tree *t, struct avl_node *n);
void avl_remove(struct avl_tree *t, struct avl_node *n);
struct avl_node *avl_find(const struct avl_tree *t, const void *key,
    avl_key_cmp_fn *cmp);
/* The first node >= key (NULL if none). */
struct avl_node *avl_seek(const struct avl_tree *t, const void *key,
    avl_key_cmp_fn *cmp);
struct avl_node *avl_first(const struct avl_tree *t);
struct avl_node *avl_last(const struct avl_tree *t);
struct avl_node *avl_next(const struct avl_node *n);
struct avl_node *avl_prev(const struct avl_node *n);

#endif
