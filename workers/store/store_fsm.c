/*
 * The replicated state machine: every committed command is
 * u16 type | encoded message, applied in log order on every server.
 * Applying is deterministic (it depends only on the state and the entry),
 * so every server computes the same tables and indexes.
 */
#include "workers/store/store.h"
#include "workers/store/catalog_store.h"
#include "workers/common/worker.h"
#include "lib/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define FSM_MAX_OPS 128

struct txn_out {
	struct buf results;	/* concatenated KV_ENTRY encodings */
	size_t offs[4096];
	unsigned n;
	bool want;
};

void
store_kv_entry_encode(struct buf *out, const struct kv_entry *e)
{
	struct kv_row r;
	kv_entry_row(e, &r);
	struct proto_kv_entry m = {
		.key = { r.key, r.keylen },
		.value = { r.value ? (const char *)r.value : "", r.vlen },
		.flags = r.flags, .create_index = r.create_index,
		.modify_index = r.modify_index, .lock_index = r.lock_index,
		.session = proto_str_c(r.session ? r.session : ""),
	};
	proto_enc_kv_entry(out, &m);
}

struct fsm_ctx {
	struct store *st;
	struct txn_out *out;
};

/* Called by kv_apply for every key a committed transaction changed. */
static void
on_changed(void *arg, const char *key, uint32_t keylen)
{
	struct fsm_ctx *fc = arg;
	watch_notify(&fc->st->watches, key, keylen);
}

static void
on_read(void *arg, unsigned op, const struct kv_entry *e)
{
	struct fsm_ctx *fc = arg;
	struct txn_out *o = fc->out;
	if (!o->want || o->n >= nitems(o->offs) - 1)
		return;
	o->offs[o->n++] = o->results.len;
	store_kv_entry_encode(&o->results, e);
}

/* Decode the ops of a KV_TXN_REQ; -EBADMSG on a malformed one. */
static int
decode_ops(const struct proto_kv_txn_req *t, struct kv_op *ops, unsigned *n)
{
	struct proto_strv_iter it;
	struct proto_str item;
	*n = 0;
	proto_strv_iter_init(&it, &t->ops);
	while (proto_strv_next(&it, &item)) {
		struct proto_kv_op m;
		if (*n >= FSM_MAX_OPS || proto_dec_kv_op(item.p, item.len, &m) < 0)
			return -EBADMSG;
		if (m.verb == 0 || m.verb >= KV_VERB_MAX ||
		    memchr(m.session.p, '\0', m.session.len))
			return -EBADMSG;
		struct kv_op *o = &ops[(*n)++];
		o->verb = (enum kv_verb)m.verb;
		o->key = m.key.p;
		o->keylen = m.key.len;
		o->value = (const uint8_t *)m.value.p;
		o->vlen = m.value.len;
		o->flags = m.flags;
		o->index = m.index;
		o->session = m.session.len ? xstrndup(m.session.p, m.session.len) : NULL;
	}
	return 0;
}

static void
reply_txn(struct store *st, struct store_waiter *w, uint64_t index,
    struct txn_out *o, const struct kv_result *res, unsigned n, bool ok)
{
	struct proto_str *items = xcalloc(o->n + 1, sizeof(*items));
	struct buf errs, reply;
	size_t eoffs[FSM_MAX_OPS + 1];
	unsigned ne = 0;
	buf_init(&errs);
	buf_init(&reply);
	o->offs[o->n] = o->results.len;
	for (unsigned i = 0; i < o->n; i++) {
		items[i].p = (const char *)o->results.data + o->offs[i];
		items[i].len = (uint32_t)(o->offs[i + 1] - o->offs[i]);
	}
	for (unsigned i = 0; !ok && i < n; i++) {
		if (res[i].ok)
			continue;
		struct proto_kv_txn_err e = { .op_index = i,
			.what = proto_str_c(res[i].why) };
		eoffs[ne++] = errs.len;
		proto_enc_kv_txn_err(&errs, &e);
	}
	eoffs[ne] = errs.len;
	struct proto_str eitems[FSM_MAX_OPS + 1];
	for (unsigned i = 0; i < ne; i++) {
		eitems[i].p = (const char *)errs.data + eoffs[i];
		eitems[i].len = (uint32_t)(eoffs[i + 1] - eoffs[i]);
	}
	struct proto_kv_txn t = { .index = index,
		.results = { .n = ok ? o->n : 0, .strs = items },
		.errors = { .n = ne, .strs = eitems },
		.known_leader = st->raft && rft_leader(st->raft) != 0,
		.last_contact_ms = store_last_contact_ms(st) };
	proto_enc_kv_txn(&reply, &t);
	store_reply(st, w, PROTO_KV_TXN, &reply);
	free(items);
	buf_free(&errs);
	buf_free(&reply);
}

/* Only reads and checks: nothing to replicate (Consul serves those as
 * reads). */
bool
store_kv_txn_read_only(const uint8_t *p, size_t len)
{
	struct proto_kv_txn_req t;
	struct proto_strv_iter it;
	struct proto_str item;
	if (proto_dec_kv_txn_req(p, len, &t) < 0)
		return false;
	proto_strv_iter_init(&it, &t.ops);
	while (proto_strv_next(&it, &item)) {
		struct proto_kv_op m;
		if (proto_dec_kv_op(item.p, item.len, &m) < 0)
			return false;
		if (m.verb != KV_GET && m.verb != KV_GET_TREE &&
		    m.verb != KV_CHECK_INDEX && m.verb != KV_CHECK_SESSION &&
		    m.verb != KV_CHECK_NOT_EXISTS)
			return false;
	}
	return true;
}

void
store_fsm_kv_txn(struct store *st, uint64_t index, const uint8_t *p,
    size_t len, struct store_waiter *w)
{
	struct proto_kv_txn_req t;
	struct kv_op ops[FSM_MAX_OPS];
	struct kv_result res[FSM_MAX_OPS];
	struct txn_out *o = xcalloc(1, sizeof(*o));
	unsigned n = 0;

	buf_init(&o->results);
	o->want = w != NULL;
	if (proto_dec_kv_txn_req(p, len, &t) < 0 || decode_ops(&t, ops, &n) < 0) {
		/* The leader validated it: a broken entry is a bug, not input. */
		log_warnx("raft entry %llu: malformed KV transaction skipped",
		    (unsigned long long)index);
		if (w)
			store_reply_error(st, w, -EBADMSG, "malformed transaction");
		goto out;
	}
	struct fsm_ctx fc = { st, o };
	struct kv_hooks hooks = { .changed = on_changed, .read = on_read,
		.arg = &fc };
	int r = kv_apply(&st->kv, index, ops, n, res, &hooks);
	if (w)
		reply_txn(st, w, index, o, res, n, r == 0);
out:
	for (unsigned i = 0; i < n; i++)
		free((char *)ops[i].session);
	buf_free(&o->results);
	free(o);
}

void
store_fsm_apply(struct store *st, uint64_t index, const uint8_t *p,
    size_t len, struct store_waiter *w)
{
	if (len < 2) {
		log_warnx("raft entry %llu: empty command skipped",
		    (unsigned long long)index);
		return;
	}
	uint16_t type = (uint16_t)(p[0] | p[1] << 8);
	switch (type) {
	case PROTO_KV_TXN_REQ:
		store_fsm_kv_txn(st, index, p + 2, len - 2, w);
		return;
	case PROTO_STATE_RESTORE:
		store_apply_restore(st, index, p + 2, len - 2, w);
		return;
	case PROTO_CAT_REGISTER:
	case PROTO_CAT_DEREGISTER:
	case PROTO_CAT_READ_REQ:
		store_catalog_apply(st, index, type, p + 2, len - 2, w);
		return;
	}
	log_warnx("raft entry %llu: unknown command 0x%04x skipped",
	    (unsigned long long)index, type);
	if (w)
		store_reply_error(st, w, -ENOSYS, "unknown command");
}
