#include "workers/store/kv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the packed entry ------------------------------------------------ */

/* Which optional fields follow the indexes (struct kv_entry's first byte). */
#define HAS_FLAGS	0x01
#define HAS_LOCK	0x02
#define HAS_SESSION	0x04

struct kv_entry {
	uint8_t has;
	uint8_t b[];	/* keylen, key, vlen, create, modify, [flags],
			 * [lock index], [session NUL], value */
};

static size_t
uv_len(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static uint8_t *
uv_put(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

/* Only ever reads what uv_put wrote. */
static const uint8_t *
uv_get(const uint8_t *p, uint64_t *v)
{
	uint64_t x = 0;
	unsigned sh = 0;
	while (*p & 0x80) {
		x |= (uint64_t)(*p++ & 0x7f) << sh;
		sh += 7;
	}
	*v = x | (uint64_t)*p++ << sh;
	return p;
}

struct kv_entry *
kv_entry_new(const struct kv_row *r)
{
	uint8_t has = (r->flags ? HAS_FLAGS : 0) |
	    (r->lock_index ? HAS_LOCK : 0) | (r->session ? HAS_SESSION : 0);
	size_t slen = r->session ? strlen(r->session) + 1 : 0;
	size_t sz = sizeof(struct kv_entry) + uv_len(r->keylen) + r->keylen +
	    uv_len(r->vlen) + uv_len(r->create_index) +
	    uv_len(r->modify_index) + (r->flags ? uv_len(r->flags) : 0) +
	    (r->lock_index ? uv_len(r->lock_index) : 0) + slen + r->vlen;
	struct kv_entry *e = xmalloc(sz);
	e->has = has;
	uint8_t *p = uv_put(e->b, r->keylen);
	memcpy(p, r->key, r->keylen);
	p = uv_put(p + r->keylen, r->vlen);
	p = uv_put(p, r->create_index);
	p = uv_put(p, r->modify_index);
	if (has & HAS_FLAGS)
		p = uv_put(p, r->flags);
	if (has & HAS_LOCK)
		p = uv_put(p, r->lock_index);
	if (slen) {
		memcpy(p, r->session, slen);
		p += slen;
	}
	if (r->vlen)
		memcpy(p, r->value, r->vlen);
	return e;
}

void
kv_entry_free(struct kv_entry *e)
{
	free(e);
}

const char *
kv_entry_key(const struct kv_entry *e, uint32_t *keylen)
{
	uint64_t kl;
	const uint8_t *p = uv_get(e->b, &kl);
	*keylen = (uint32_t)kl;
	return (const char *)p;
}

void
kv_entry_row(const struct kv_entry *e, struct kv_row *r)
{
	uint64_t v;
	memset(r, 0, sizeof(*r));
	r->key = kv_entry_key(e, &r->keylen);
	const uint8_t *p = uv_get((const uint8_t *)r->key + r->keylen, &v);
	r->vlen = (uint32_t)v;
	p = uv_get(p, &r->create_index);
	p = uv_get(p, &r->modify_index);
	if (e->has & HAS_FLAGS)
		p = uv_get(p, &r->flags);
	if (e->has & HAS_LOCK)
		p = uv_get(p, &r->lock_index);
	if (e->has & HAS_SESSION) {
		r->session = (const char *)p;
		p += strlen(r->session) + 1;
	}
	r->value = r->vlen ? p : NULL;
}

/* ---- the tables ------------------------------------------------------ */

static void
entry_key(const void *item, const char **key, uint32_t *len)
{
	*key = kv_entry_key(item, len);
}

static void
tomb_key(const void *item, const char **key, uint32_t *len)
{
	const struct kv_tomb *tb = item;
	*key = tb->key;
	*len = tb->keylen;
}

void
kv_init(struct kv_table *t)
{
	memset(t, 0, sizeof(*t));
	kv_bt_init(&t->entries, entry_key);
	kv_bt_init(&t->tombs, tomb_key);
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
kv_free(struct kv_table *t)
{
	kv_bt_free(&t->entries, free);
	kv_bt_free(&t->tombs, free);
	kv_init(t);
}

struct kv_entry *
kv_get(const struct kv_table *t, const char *key, uint32_t keylen)
{
	return kv_bt_get(&t->entries, key, keylen);
}

const struct kv_entry *
kv_seek(const struct kv_table *t, struct kv_iter *it, const char *key,
    uint32_t keylen)
{
	return kv_bt_seek(&t->entries, &it->bt, key, keylen);
}

const struct kv_entry *
kv_next(struct kv_iter *it)
{
	return kv_bt_next(&it->bt);
}

const struct kv_tomb *
kv_tomb_seek(const struct kv_table *t, struct kv_iter *it, const char *key,
    uint32_t keylen)
{
	return kv_bt_seek(&t->tombs, &it->bt, key, keylen);
}

const struct kv_tomb *
kv_tomb_next(struct kv_iter *it)
{
	return kv_bt_next(&it->bt);
}

bool
kv_has_prefix(const struct kv_entry *e, const char *prefix, uint32_t plen)
{
	uint32_t kl;
	const char *k = kv_entry_key(e, &kl);
	return kl >= plen && memcmp(k, prefix, plen) == 0;
}

int
kv_restore_entry(struct kv_table *t, const struct kv_row *r)
{
	struct kv_entry *e = kv_entry_new(r);
	if (kv_bt_insert(&t->entries, e) != NULL) {
		free(e);
		return -EEXIST;
	}
	t->bytes += r->keylen + r->vlen;
	return 0;
}

int
kv_restore_tomb(struct kv_table *t, const char *key, uint32_t keylen,
    uint64_t index)
{
	struct kv_tomb *tb = kv_tomb_new(key, keylen, index);
	if (kv_bt_insert(&t->tombs, tb) != NULL) {
		free(tb);
		return -EEXIST;
	}
	return 0;
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
	struct kv_iter it;
	struct kv_row r;
	for (const struct kv_entry *e = kv_seek(t, &it, prefix, plen);
	    e && kv_has_prefix(e, prefix, plen); e = kv_next(&it)) {
		kv_entry_row(e, &r);
		max = MAX(max, r.modify_index);
	}
	for (const struct kv_tomb *tb = kv_tomb_seek(t, &it, prefix, plen);
	    tb; tb = kv_tomb_next(&it)) {
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
	struct kv_row r;
	if (e == NULL)
		return 0;
	kv_entry_row(e, &r);
	return r.keylen + r.vlen;
}

/* Write key with the given contents, replacing cur (may be NULL; cr is its
 * row).  cur stays allocated until commit or rollback. */
static struct kv_entry *
put(struct txn *tx, struct kv_entry *cur, const struct kv_row *cr,
    const struct kv_op *op, uint64_t lock_index, const char *session)
{
	struct kv_row r = {
		.key = op->key, .keylen = op->keylen,
		.value = op->value, .vlen = op->vlen, .flags = op->flags,
		.create_index = cur ? cr->create_index : tx->index,
		.modify_index = tx->index, .lock_index = lock_index,
		.session = session,
	};
	struct kv_entry *e = kv_entry_new(&r);
	if (cur)
		kv_bt_replace(&tx->t->entries, e);
	else
		kv_bt_insert(&tx->t->entries, e);
	struct undo *u = undo_push(tx);
	u->old = cur;
	u->new = e;
	return e;
}

static void
tombstone(struct txn *tx, struct undo *u, const char *key, uint32_t keylen)
{
	struct kv_tomb *tb = kv_bt_get(&tx->t->tombs, key, keylen);
	if (tb)
		u->tomb_old = tb->index;
	else {
		tb = kv_tomb_new(key, keylen, 0);
		kv_bt_insert(&tx->t->tombs, tb);
	}
	tb->index = tx->index;
	u->tomb = tb;
}

static void
del(struct txn *tx, struct kv_entry *cur)
{
	uint32_t kl;
	const char *k = kv_entry_key(cur, &kl);
	kv_bt_remove(&tx->t->entries, k, kl);
	struct undo *u = undo_push(tx);
	u->old = cur;
	tombstone(tx, u, k, kl);
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
				kv_bt_remove(&tx->t->tombs, u->tomb->key,
				    u->tomb->keylen);
				free(u->tomb);
			}
		}
		if (u->new && u->old)
			kv_bt_replace(&tx->t->entries, u->old);
		else if (u->new) {
			uint32_t kl;
			const char *k = kv_entry_key(u->new, &kl);
			kv_bt_remove(&tx->t->entries, k, kl);
		} else if (u->old)
			kv_bt_insert(&tx->t->entries, u->old);
		free(u->new);
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
		if (h && h->changed) {
			uint32_t kl;
			const char *k = kv_entry_key(any, &kl);
			h->changed(h->arg, k, kl);
		}
		free(u->old);
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
    struct kv_entry *cur, const struct kv_row *cr, struct kv_result *r)
{
	if (!session_valid(tx, op->session))
		return fail(r, "invalid session \"%s\"",
		    op->session ? op->session : "");
	uint64_t li = cur ? cr->lock_index : 0;
	if (cur && cr->session) {
		if (strcmp(cr->session, op->session) != 0)
			return fail(r, "failed to lock key " KEYF
			    ", lock is already held", KEYA(op));
	} else
		li++;
	report(tx, i, put(tx, cur, cr, op, li, op->session));
	return true;
}

static bool
op_unlock(struct txn *tx, unsigned i, const struct kv_op *op,
    struct kv_entry *cur, const struct kv_row *cr, struct kv_result *r)
{
	if (cur == NULL || cr->session == NULL || op->session == NULL ||
	    strcmp(cr->session, op->session) != 0)
		return fail(r, "failed to unlock key " KEYF ", lock isn't held,"
		    " or is held by another session", KEYA(op));
	report(tx, i, put(tx, cur, cr, op, cr->lock_index, NULL));
	return true;
}

/* Seeks again after every delete: removing from the tree invalidates
 * iterators (the removed entries live on in the undo log). */
static bool
op_delete_tree(struct txn *tx, const struct kv_op *op)
{
	struct kv_bt_iter it;
	struct kv_entry *e;
	while ((e = kv_bt_seek(&tx->t->entries, &it, op->key, op->keylen)) &&
	    kv_has_prefix(e, op->key, op->keylen))
		del(tx, e);
	return true;
}

static void
op_get_tree(struct txn *tx, unsigned i, const struct kv_op *op)
{
	struct kv_iter it;
	for (const struct kv_entry *e = kv_seek(tx->t, &it, op->key, op->keylen);
	    e && kv_has_prefix(e, op->key, op->keylen); e = kv_next(&it))
		report(tx, i, e);
}

/* Ops that only read or check the current entry (no change). */
static bool
run_check(struct txn *tx, unsigned i, const struct kv_op *op,
    const struct kv_entry *cur, const struct kv_row *cr, struct kv_result *r)
{
	if (op->verb == KV_CHECK_NOT_EXISTS) {
		if (cur != NULL)
			return fail(r, "key " KEYF " exists", KEYA(op));
		return true;
	}
	if (cur == NULL)
		return fail(r, "key " KEYF " doesn't exist", KEYA(op));
	if (op->verb == KV_CHECK_INDEX && cr->modify_index != op->index)
		return fail(r, "current modify index %llu != %llu",
		    (unsigned long long)cr->modify_index,
		    (unsigned long long)op->index);
	if (op->verb == KV_CHECK_SESSION && strcmp(cr->session ?
	    cr->session : "", op->session ? op->session : "") != 0)
		return fail(r, "current session \"%s\" != \"%s\"",
		    cr->session ? cr->session : "",
		    op->session ? op->session : "");
	report(tx, i, cur);
	return true;
}

static bool
run_op(struct txn *tx, unsigned i, const struct kv_op *op,
    struct kv_result *r)
{
	struct kv_entry *cur = kv_get(tx->t, op->key, op->keylen);
	struct kv_row cr;
	if (cur)
		kv_entry_row(cur, &cr);
	r->ok = true;
	r->why[0] = '\0';
	switch (op->verb) {
	case KV_SET:
		report(tx, i, put(tx, cur, &cr, op, cur ? cr.lock_index : 0,
		    cur ? cr.session : NULL));
		return true;
	case KV_CAS:
		if (op->index == 0 ? cur != NULL :
		    (cur == NULL || cr.modify_index != op->index))
			return fail(r, "failed to set key " KEYF
			    ", index is stale", KEYA(op));
		report(tx, i, put(tx, cur, &cr, op, cur ? cr.lock_index : 0,
		    cur ? cr.session : NULL));
		return true;
	case KV_LOCK:
		return op_lock(tx, i, op, cur, &cr, r);
	case KV_UNLOCK:
		return op_unlock(tx, i, op, cur, &cr, r);
	case KV_GET:
	case KV_CHECK_INDEX:
	case KV_CHECK_SESSION:
	case KV_CHECK_NOT_EXISTS:
		return run_check(tx, i, op, cur, &cr, r);
	case KV_GET_TREE:
		op_get_tree(tx, i, op);
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
		if (cur != NULL && cr.modify_index != op->index)
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

/* Seeks again past every removed tombstone (removal invalidates the
 * iterator; the tombstone is freed after the seek). */
void
kv_reap(struct kv_table *t, uint64_t index)
{
	struct kv_bt_iter it;
	struct kv_tomb *tb = kv_bt_seek(&t->tombs, &it, "", 0);
	while (tb) {
		if (tb->index > index) {
			tb = kv_bt_next(&it);
			continue;
		}
		kv_bt_remove(&t->tombs, tb->key, tb->keylen);
		struct kv_tomb *next = kv_bt_seek(&t->tombs, &it, tb->key,
		    tb->keylen);
		free(tb);
		tb = next;
	}
}

/* put replaces entries in place (same key), which keeps the iterator. */
void
kv_release_session(struct kv_table *t, uint64_t index, const char *session,
    const struct kv_hooks *hooks)
{
	struct txn tx = { .t = t, .index = index, .hooks = hooks };
	struct kv_bt_iter it;
	struct kv_row r;
	for (struct kv_entry *e = kv_bt_seek(&t->entries, &it, "", 0); e;
	    e = kv_bt_next(&it)) {
		kv_entry_row(e, &r);
		if (r.session && strcmp(r.session, session) == 0) {
			struct kv_op op = { .key = r.key, .keylen = r.keylen,
				.value = r.value, .vlen = r.vlen,
				.flags = r.flags };
			put(&tx, e, &r, &op, r.lock_index, NULL);
		}
	}
	commit(&tx);
	free(tx.u);
}
