#include "workers/store/kv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- ordering ------------------------------------------------------- */

static int
bytes_cmp(const char *a, uint32_t al, const char *b, uint32_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);
	if (c)
		return c;
	return (al > bl) - (al < bl);
}

struct kv_key {
	const char *p;
	uint32_t len;
};

static int
entry_cmp(const struct avl_node *a, const struct avl_node *b)
{
	const struct kv_entry *x = avl_entry(a, struct kv_entry, node);
	const struct kv_entry *y = avl_entry(b, struct kv_entry, node);
	return bytes_cmp(x->key, x->keylen, y->key, y->keylen);
}

static int
entry_key_cmp(const void *k, const struct avl_node *n)
{
	const struct kv_key *key = k;
	const struct kv_entry *e = avl_entry(n, struct kv_entry, node);
	return bytes_cmp(key->p, key->len, e->key, e->keylen);
}

static int
tomb_cmp(const struct avl_node *a, const struct avl_node *b)
{
	const struct kv_tomb *x = avl_entry(a, struct kv_tomb, node);
	const struct kv_tomb *y = avl_entry(b, struct kv_tomb, node);
	return bytes_cmp(x->key, x->keylen, y->key, y->keylen);
}

static int
tomb_key_cmp(const void *k, const struct avl_node *n)
{
	const struct kv_key *key = k;
	const struct kv_tomb *e = avl_entry(n, struct kv_tomb, node);
	return bytes_cmp(key->p, key->len, e->key, e->keylen);
}

void
kv_init(struct kv_table *t)
{
	memset(t, 0, sizeof(*t));
	avl_init(&t->entries, entry_cmp);
	avl_init(&t->tombs, tomb_cmp);
}

/* The entry with its key and value in one allocation: one malloc header
 * and one rounding per key instead of three (100k keys of 256 B hold
 * about 3 MB less). */
struct kv_entry *
kv_entry_new(const char *key, uint32_t keylen, const uint8_t *value,
    uint32_t vlen)
{
	struct kv_entry *e = xmalloc(sizeof(*e) + keylen + 1 + vlen);
	memset(e, 0, sizeof(*e));
	memcpy(e->key, key, keylen);
	e->key[keylen] = '\0';
	e->keylen = keylen;
	e->vlen = vlen;
	if (vlen) {
		e->value = (uint8_t *)e->key + keylen + 1;
		memcpy(e->value, value, vlen);
	}
	return e;
}

struct kv_tomb *
kv_tomb_new(const char *key, uint32_t keylen, uint64_t index)
{
	struct kv_tomb *tb = xmalloc(sizeof(*tb) + keylen + 1);
	memset(tb, 0, sizeof(*tb));
	memcpy(tb->key, key, keylen);
	tb->key[keylen] = '\0';
	tb->keylen = keylen;
	tb->index = index;
	return tb;
}

void
kv_entry_free(struct kv_entry *e)
{
	if (e == NULL)
		return;
	free(e->session);
	free(e);
}

static void
entry_free(struct kv_entry *e)
{
	kv_entry_free(e);
}

void
kv_free(struct kv_table *t)
{
	struct avl_node *n;
	while ((n = avl_first(&t->entries)) != NULL) {
		avl_remove(&t->entries, n);
		entry_free(avl_entry(n, struct kv_entry, node));
	}
	while ((n = avl_first(&t->tombs)) != NULL) {
		avl_remove(&t->tombs, n);
		free(avl_entry(n, struct kv_tomb, node));
	}
	kv_init(t);
}

struct kv_entry *
kv_get(const struct kv_table *t, const char *key, uint32_t keylen)
{
	struct kv_key k = { key, keylen };
	struct avl_node *n = avl_find(&t->entries, &k, entry_key_cmp);
	return n ? avl_entry(n, struct kv_entry, node) : NULL;
}

struct kv_entry *
kv_seek(const struct kv_table *t, const char *key, uint32_t keylen)
{
	struct kv_key k = { key, keylen };
	struct avl_node *n = avl_seek(&t->entries, &k, entry_key_cmp);
	return n ? avl_entry(n, struct kv_entry, node) : NULL;
}

struct kv_entry *
kv_next(const struct kv_entry *e)
{
	struct avl_node *n = avl_next(&e->node);
	return n ? avl_entry(n, struct kv_entry, node) : NULL;
}

bool
kv_has_prefix(const struct kv_entry *e, const char *prefix, uint32_t plen)
{
	return e->keylen >= plen && memcmp(e->key, prefix, plen) == 0;
}

uint64_t
kv_index_key(const struct kv_table *t)
{
	return t->max_index ? t->max_index : 1;
}

uint64_t
kv_index_prefix(const struct kv_table *t, const char *prefix, uint32_t plen)
{
	uint64_t max = 0;
	struct kv_key k = { prefix, plen };
	for (struct kv_entry *e = kv_seek(t, prefix, plen);
	    e && kv_has_prefix(e, prefix, plen); e = kv_next(e))
		max = MAX(max, e->modify_index);
	for (struct avl_node *n = avl_seek(&t->tombs, &k, tomb_key_cmp); n;
	    n = avl_next(n)) {
		struct kv_tomb *tb = avl_entry(n, struct kv_tomb, node);
		if (tb->keylen < plen || memcmp(tb->key, prefix, plen) != 0)
			break;
		max = MAX(max, tb->index);
	}
	return max ? max : kv_index_key(t);
}

/* ---- transactions: copy-on-write with an undo log -------------------- */

struct undo {
	struct kv_entry *old;	/* replaced or removed (NULL: key was new) */
	struct kv_entry *new;	/* now in the tree (NULL: removed) */
	struct kv_tomb *tomb;	/* tombstone written, if any */
	uint64_t tomb_old;	/* its previous index; 0 = created */
};

struct txn {
	struct kv_table *t;
	uint64_t index;
	const struct kv_hooks *hooks;
	struct undo *u;
	unsigned n, cap;
};

static struct undo *
undo_push(struct txn *tx)
{
	if (tx->n == tx->cap) {
		tx->cap = tx->cap ? tx->cap * 2 : 8;
		tx->u = xrealloc(tx->u, tx->cap * sizeof(*tx->u));
	}
	struct undo *u = &tx->u[tx->n++];
	memset(u, 0, sizeof(*u));
	return u;
}

static size_t
entry_size(const struct kv_entry *e)
{
	return e ? e->keylen + e->vlen : 0;
}

/* Write key with the given contents, replacing cur (may be NULL). */
static struct kv_entry *
put(struct txn *tx, struct kv_entry *cur, const struct kv_op *op,
    uint64_t lock_index, const char *session)
{
	struct kv_entry *e = kv_entry_new(op->key, op->keylen, op->value,
	    op->vlen);
	e->flags = op->flags;
	e->create_index = cur ? cur->create_index : tx->index;
	e->modify_index = tx->index;
	e->lock_index = lock_index;
	e->session = session ? xstrdup(session) : NULL;
	if (cur)
		avl_remove(&tx->t->entries, &cur->node);
	avl_insert(&tx->t->entries, &e->node);
	struct undo *u = undo_push(tx);
	u->old = cur;
	u->new = e;
	return e;
}

static void
tombstone(struct txn *tx, struct undo *u, const char *key, uint32_t keylen)
{
	struct kv_key k = { key, keylen };
	struct avl_node *n = avl_find(&tx->t->tombs, &k, tomb_key_cmp);
	struct kv_tomb *tb;
	if (n) {
		tb = avl_entry(n, struct kv_tomb, node);
		u->tomb_old = tb->index;
	} else {
		tb = kv_tomb_new(key, keylen, 0);
		avl_insert(&tx->t->tombs, &tb->node);
	}
	tb->index = tx->index;
	u->tomb = tb;
}

static void
del(struct txn *tx, struct kv_entry *cur)
{
	avl_remove(&tx->t->entries, &cur->node);
	struct undo *u = undo_push(tx);
	u->old = cur;
	tombstone(tx, u, cur->key, cur->keylen);
}

static void
rollback(struct txn *tx)
{
	while (tx->n > 0) {
		struct undo *u = &tx->u[--tx->n];
		if (u->tomb) {
			if (u->tomb_old)
				u->tomb->index = u->tomb_old;
			else {
				avl_remove(&tx->t->tombs, &u->tomb->node);
				free(u->tomb);
			}
		}
		if (u->new) {
			avl_remove(&tx->t->entries, &u->new->node);
			entry_free(u->new);
		}
		if (u->old)
			avl_insert(&tx->t->entries, &u->old->node);
	}
}

static void
commit(struct txn *tx)
{
	const struct kv_hooks *h = tx->hooks;
	/* The index first: a woken watcher re-reads the table right away. */
	if (tx->n)
		tx->t->max_index = MAX(tx->t->max_index, tx->index);
	for (unsigned i = 0; i < tx->n; i++) {
		struct undo *u = &tx->u[i];
		struct kv_entry *any = u->new ? u->new : u->old;
		tx->t->bytes += entry_size(u->new);
		tx->t->bytes -= entry_size(u->old);
		if (h && h->changed)
			h->changed(h->arg, any->key, any->keylen);
		entry_free(u->old);
	}
}

static bool __attribute__((format(printf, 2, 3)))
fail(struct kv_result *r, const char *fmt, ...)
{
	va_list ap;
	r->ok = false;
	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
	return false;
}

static void
report(struct txn *tx, unsigned i, const struct kv_entry *e)
{
	if (tx->hooks && tx->hooks->read && e)
		tx->hooks->read(tx->hooks->arg, i, e);
}

#define KEYF "\"%.*s\""
#define KEYA(op) (int)(op)->keylen, (op)->key

static bool
session_valid(struct txn *tx, const char *s)
{
	if (s == NULL || s[0] == '\0')
		return false;
	if (tx->hooks && tx->hooks->session)
		return tx->hooks->session(tx->hooks->arg, s);
	return true;
}

/* Consul's lock semantics (state/kvs.go kvsLockTxn / kvsUnlockTxn). */
static bool
op_lock(struct txn *tx, unsigned i, const struct kv_op *op,
    struct kv_entry *cur, struct kv_result *r)
{
	if (!session_valid(tx, op->session))
		return fail(r, "invalid session \"%s\"",
		    op->session ? op->session : "");
	uint64_t li = cur ? cur->lock_index : 0;
	if (cur && cur->session) {
		if (strcmp(cur->session, op->session) != 0)
			return fail(r, "failed to lock key " KEYF
			    ", lock is already held", KEYA(op));
	} else
		li++;
	report(tx, i, put(tx, cur, op, li, op->session));
	return true;
}

static bool
op_unlock(struct txn *tx, unsigned i, const struct kv_op *op,
    struct kv_entry *cur, struct kv_result *r)
{
	if (cur == NULL || cur->session == NULL || op->session == NULL ||
	    strcmp(cur->session, op->session) != 0)
		return fail(r, "failed to unlock key " KEYF ", lock isn't held,"
		    " or is held by another session", KEYA(op));
	report(tx, i, put(tx, cur, op, cur->lock_index, NULL));
	return true;
}

static bool
op_delete_tree(struct txn *tx, const struct kv_op *op)
{
	struct kv_entry *e = kv_seek(tx->t, op->key, op->keylen);
	while (e && kv_has_prefix(e, op->key, op->keylen)) {
		struct kv_entry *next = kv_next(e);
		del(tx, e);
		e = next;
	}
	return true;
}

static void
op_get_tree(struct txn *tx, unsigned i, const struct kv_op *op)
{
	for (struct kv_entry *e = kv_seek(tx->t, op->key, op->keylen);
	    e && kv_has_prefix(e, op->key, op->keylen); e = kv_next(e))
		report(tx, i, e);
}

static bool
run_op(struct txn *tx, unsigned i, const struct kv_op *op,
    struct kv_result *r)
{
	struct kv_entry *cur = kv_get(tx->t, op->key, op->keylen);
	r->ok = true;
	r->why[0] = '\0';
	switch (op->verb) {
	case KV_SET:
		report(tx, i, put(tx, cur, op, cur ? cur->lock_index : 0,
		    cur ? cur->session : NULL));
		return true;
	case KV_CAS:
		if (op->index == 0 ? cur != NULL :
		    (cur == NULL || cur->modify_index != op->index))
			return fail(r, "failed to set key " KEYF
			    ", index is stale", KEYA(op));
		report(tx, i, put(tx, cur, op, cur ? cur->lock_index : 0,
		    cur ? cur->session : NULL));
		return true;
	case KV_LOCK:
		return op_lock(tx, i, op, cur, r);
	case KV_UNLOCK:
		return op_unlock(tx, i, op, cur, r);
	case KV_GET:
		if (cur == NULL)
			return fail(r, "key " KEYF " doesn't exist", KEYA(op));
		report(tx, i, cur);
		return true;
	case KV_GET_TREE:
		op_get_tree(tx, i, op);
		return true;
	case KV_CHECK_INDEX:
		if (cur == NULL)
			return fail(r, "key " KEYF " doesn't exist", KEYA(op));
		if (cur->modify_index != op->index)
			return fail(r, "current modify index %llu != %llu",
			    (unsigned long long)cur->modify_index,
			    (unsigned long long)op->index);
		report(tx, i, cur);
		return true;
	case KV_CHECK_SESSION:
		if (cur == NULL)
			return fail(r, "key " KEYF " doesn't exist", KEYA(op));
		if (strcmp(cur->session ? cur->session : "",
		    op->session ? op->session : "") != 0)
			return fail(r, "current session \"%s\" != \"%s\"",
			    cur->session ? cur->session : "",
			    op->session ? op->session : "");
		report(tx, i, cur);
		return true;
	case KV_CHECK_NOT_EXISTS:
		if (cur != NULL)
			return fail(r, "key " KEYF " exists", KEYA(op));
		return true;
	case KV_DELETE:
		if (cur)
			del(tx, cur);
		return true;
	case KV_DELETE_TREE:
		return op_delete_tree(tx, op);
	case KV_DELETE_CAS:
		/* Consul's kvsDeleteCASTxn: only an existing entry at
		 * another index fails; deleting a missing key succeeds. */
		if (cur != NULL && cur->modify_index != op->index)
			return fail(r, "failed to delete key " KEYF
			    ", index is stale", KEYA(op));
		if (cur)
			del(tx, cur);
		return true;
	default:
		return fail(r, "unknown KV verb %d", (int)op->verb);
	}
}

int
kv_apply(struct kv_table *t, uint64_t index, const struct kv_op *ops,
    unsigned nops, struct kv_result *results, const struct kv_hooks *hooks)
{
	struct txn tx = { .t = t, .index = index, .hooks = hooks };
	bool ok = true;
	for (unsigned i = 0; i < nops; i++)
		ok &= run_op(&tx, i, &ops[i], &results[i]);
	if (ok)
		commit(&tx);
	else
		rollback(&tx);
	free(tx.u);
	return ok ? 0 : -ECANCELED;
}

void
kv_reap(struct kv_table *t, uint64_t index)
{
	struct avl_node *n = avl_first(&t->tombs);
	while (n) {
		struct avl_node *next = avl_next(n);
		struct kv_tomb *tb = avl_entry(n, struct kv_tomb, node);
		if (tb->index <= index) {
			avl_remove(&t->tombs, n);
			free(tb);
		}
		n = next;
	}
}

void
kv_release_session(struct kv_table *t, uint64_t index, const char *session,
    const struct kv_hooks *hooks)
{
	struct txn tx = { .t = t, .index = index, .hooks = hooks };
	for (struct kv_entry *e = avl_first(&t->entries) ?
	    avl_entry(avl_first(&t->entries), struct kv_entry, node) : NULL;
	    e; ) {
		struct kv_entry *next = kv_next(e);
		if (e->session && strcmp(e->session, session) == 0) {
			struct kv_op op = { .key = e->key, .keylen = e->keylen,
				.value = e->value, .vlen = e->vlen,
				.flags = e->flags };
			put(&tx, e, &op, e->lock_index, NULL);
		}
		e = next;
	}
	commit(&tx);
	free(tx.u);
}
