/*
 * An ordered set of pointers, kept in a B-tree (Cormen et al., "Introduction
 * to Algorithms", ch. 18; items in inner nodes too): the KV table's keys in
 * byte order for prefix, keys and separator reads.  The items are the
 * caller's blocks; the tree learns an item's key through the key function
 * and never frees an item.
 *
 * Why not lib/avl.h: an intrusive AVL node is 32 bytes in every entry; a
 * B-tree node holds up to KV_BT_MAX item pointers, about 8 bytes per key
 * when keys arrive in order (a split at a node's end leaves the left node
 * full) and 12 at random (~70% fill), docs/performance.md.
 *
 * Insert and remove invalidate every iterator of the tree; replace (same
 * key, another item) does not.
 */
#ifndef MUSTER_STORE_KV_BTREE_H
#define MUSTER_STORE_KV_BTREE_H

#include <stddef.h>
#include <stdint.h>

/* Items per node: a leaf is 8 + 62 * 8 = 504 bytes, one 512-byte malloc
 * chunk. */
#define KV_BT_MAX 62
/* Inner nodes split in halves and are kept at >= KV_BT_MAX / 2 items by
 * remove, so a tree of 2^64 items is at most 14 levels deep. */
#define KV_BT_DEPTH 16

struct kv_bt_node;

/* The key of an item: bytes and length, compared as memcmp then length. */
typedef void kv_bt_key_fn(const void *item, const char **key, uint32_t *len);

struct kv_bt {
	struct kv_bt_node *root;	/* NULL when empty */
	kv_bt_key_fn *key;
	size_t count;
};

struct kv_bt_iter {
	unsigned depth;		/* 0: past the end */
	struct {
		struct kv_bt_node *n;
		unsigned i;	/* item index at the top, child index above */
	} path[KV_BT_DEPTH];
};

void kv_bt_init(struct kv_bt *t, kv_bt_key_fn *key);
/* Frees the nodes; calls free_item (if not NULL) on every item. */
void kv_bt_free(struct kv_bt *t, void (*free_item)(void *));

void *kv_bt_get(const struct kv_bt *t, const char *key, uint32_t len);
/* Adds item; if an item with the same key is there, nothing changes and
 * that item is returned, else NULL. */
void *kv_bt_insert(struct kv_bt *t, void *item);
/* Puts item in the place of the one with the same key and returns that
 * one; NULL (nothing done) if there is none. */
void *kv_bt_replace(struct kv_bt *t, void *item);
/* Takes out the item with this key and returns it; NULL if none. */
void *kv_bt_remove(struct kv_bt *t, const char *key, uint32_t len);

/* The first item whose key is >= key, NULL if none; kv_bt_next moves on
 * in key order. */
void *kv_bt_seek(const struct kv_bt *t, struct kv_bt_iter *it,
    const char *key, uint32_t len);
void *kv_bt_next(struct kv_bt_iter *it);

#endif
