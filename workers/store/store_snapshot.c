/*
 * Snapshot body of the replicated state: a sequence of records
 *
 *   u8 kind | u32 len | len bytes
 *
 * kind 1 a KV entry (KV_ENTRY encoding plus nothing else), kind 2 a KV
 * tombstone (str key, u64 index), kind 3 the KV table's max index (u64),
 * kind 4 the autopilot configuration once it has been set through Raft
 * (an AUTOPILOT_CONF with its indexes: Consul's snapshot carries it as
 * its state store does, so a restore or an InstallSnapshot brings it
 * back; a server that never saw a set keeps its agent config's values);
 * kinds CAT_SNAP_FIRST..CAT_SNAP_LAST are the catalog's (catalog.h).
 * Readers reject unknown kinds and short records: a snapshot is checked
 * (CRC32C) by raft_snapshot.c before it gets here, so a bad record means
 * a bug, and restoring fails rather than guess.
 */
#include "workers/store/store.h"
#include "workers/store/catalog.h"
#include "workers/store/catalog_store.h"
#include "workers/store/cluster.h"
#include "workers/store/raft_store.h"
#include "proto/proto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum { SNAP_KV_ENTRY = 1, SNAP_KV_TOMB = 2, SNAP_KV_META = 3,
	SNAP_AUTOPILOT = 4 };

/* What a body restores into, complete before it replaces anything. */
struct snap_state {
	struct kv_table kv;
	struct cat_db *cat;
	struct cl_autopilot ap;
	bool have_ap;
};

/* Where a body goes: a snapshot file, or memory (/v1/snapshot). */
struct snap_out {
	struct rft_snap_writer *w;
	struct buf *mem;
};

static int
out_write(struct snap_out *o, const void *p, size_t n)
{
	if (o->w)
		return rft_snap_write(o->w, p, n);
	buf_add(o->mem, p, n);
	return 0;
}

static int
put_record(struct snap_out *o, struct buf *scratch, uint8_t kind,
    const struct buf *rec)
{
	uint8_t hdr[5] = { kind };
	proto_wle32(hdr + 1, (uint32_t)rec->len);
	buf_reset(scratch);
	buf_add(scratch, hdr, sizeof(hdr));
	buf_add(scratch, rec->data, rec->len);
	return out_write(o, scratch->data, scratch->len);
}

struct cat_sink {
	struct snap_out *o;
	struct buf *scratch;
};

static int
cat_record(void *arg, uint8_t kind, const struct buf *rec)
{
	struct cat_sink *cs = arg;
	return put_record(cs->o, cs->scratch, kind, rec);
}

static int
write_body(struct store *st, struct snap_out *o)
{
	struct buf rec, scratch;
	int r = 0;
	buf_init(&rec);
	buf_init(&scratch);
	proto_put_u64(&rec, st->kv.max_index);
	r = put_record(o, &scratch, SNAP_KV_META, &rec);
	struct kv_iter it;
	for (const struct kv_entry *e = kv_seek(&st->kv, &it, "", 0);
	    r == 0 && e; e = kv_next(&it)) {
		buf_reset(&rec);
		store_kv_entry_encode(&rec, e);
		r = put_record(o, &scratch, SNAP_KV_ENTRY, &rec);
	}
	for (const struct kv_tomb *tb = kv_tomb_seek(&st->kv, &it, "", 0);
	    r == 0 && tb; tb = kv_tomb_next(&it)) {
		buf_reset(&rec);
		proto_put_str(&rec, (struct proto_str){ tb->key, tb->keylen });
		proto_put_u64(&rec, tb->index);
		r = put_record(o, &scratch, SNAP_KV_TOMB, &rec);
	}
	if (r == 0 && st->cl && st->cl->ap.modify_index) {
		buf_reset(&rec);
		cluster_autopilot_encode(&st->cl->ap, &rec);
		r = put_record(o, &scratch, SNAP_AUTOPILOT, &rec);
	}
	struct cat_sink cs = { o, &scratch };
	if (r == 0)
		r = cat_snapshot_write(store_catalog(st), cat_record, &cs);
	buf_free(&rec);
	buf_free(&scratch);
	return r;
}

int
store_snapshot_write(struct store *st, struct rft_snap_writer *w)
{
	struct snap_out o = { w, NULL };
	return write_body(st, &o);
}

void
store_snapshot_body(struct store *st, struct buf *out)
{
	struct snap_out o = { NULL, out };
	write_body(st, &o);
}

/* Restore one entry exactly as it was (indexes included). */
static int
restore_entry(struct kv_table *t, const uint8_t *p, size_t len)
{
	struct proto_kv_entry m;
	if (proto_dec_kv_entry(p, len, &m) < 0)
		return -EBADMSG;
	/* kv_entry_new copies the session: it must be a C string here. */
	char *session = m.session.len ? xstrndup(m.session.p, m.session.len) :
	    NULL;
	struct kv_row r = {
		.key = m.key.p, .keylen = m.key.len,
		.value = (const uint8_t *)m.value.p, .vlen = m.value.len,
		.flags = m.flags, .create_index = m.create_index,
		.modify_index = m.modify_index, .lock_index = m.lock_index,
		.session = session,
	};
	int rc = kv_restore_entry(t, &r);
	free(session);
	return rc < 0 ? -EBADMSG : 0;
}

static int
restore_tomb(struct kv_table *t, const uint8_t *p, size_t len)
{
	struct proto_cur c = { p, len };
	struct proto_str key;
	uint64_t index;
	if (proto_get_str(&c, &key) < 0 || proto_get_u64(&c, &index) < 0 ||
	    c.left)
		return -EBADMSG;
	return kv_restore_tomb(t, key.p, key.len, index) < 0 ? -EBADMSG : 0;
}

static int parse_body(struct snap_state *ss, const uint8_t *p, size_t len);

static void
state_begin(struct snap_state *ss)
{
	memset(ss, 0, sizeof(*ss));
	kv_init(&ss->kv);
	ss->cat = store_catalog_restore_begin();
}

static void
state_abort(struct snap_state *ss)
{
	store_catalog_restore_abort(ss->cat);
	kv_free(&ss->kv);
}

int
store_snapshot_validate(const uint8_t *p, size_t len)
{
	struct snap_state ss;
	state_begin(&ss);
	int r = parse_body(&ss, p, len);
	state_abort(&ss);
	return r;
}

int
store_snapshot_restore(struct store *st, const uint8_t *p, size_t len)
{
	struct snap_state ss;
	state_begin(&ss);
	int r = parse_body(&ss, p, len);
	if (r < 0) {
		state_abort(&ss);
		return r;
	}
	kv_free(&st->kv);
	st->kv = ss.kv;	/* nodes do not point at the table struct */
	store_catalog_restore_commit(st, ss.cat);
	if (ss.have_ap && st->cl)
		st->cl->ap = ss.ap;
	return 0;
}

/* Records into ss (fresh); -EBADMSG on anything malformed. */
static int
parse_body(struct snap_state *ss, const uint8_t *p, size_t len)
{
	int r = 0;
	while (r == 0 && len > 0) {
		if (len < 5) {
			r = -EBADMSG;
			break;
		}
		uint8_t kind = p[0];
		uint32_t rl = proto_le32(p + 1);
		if (rl > len - 5) {
			r = -EBADMSG;
			break;
		}
		const uint8_t *rec = p + 5;
		if (kind == SNAP_KV_ENTRY)
			r = restore_entry(&ss->kv, rec, rl);
		else if (kind == SNAP_KV_TOMB)
			r = restore_tomb(&ss->kv, rec, rl);
		else if (kind == SNAP_KV_META && rl == 8)
			ss->kv.max_index = proto_le64(rec);
		else if (kind == SNAP_AUTOPILOT && !ss->have_ap) {
			r = cluster_autopilot_decode(&ss->ap, rec, rl);
			ss->have_ap = r == 0;
		} else if (kind >= CAT_SNAP_FIRST && kind <= CAT_SNAP_LAST)
			r = cat_snapshot_record(ss->cat, kind, rec, rl);
		else
			r = -EBADMSG;
		p += 5 + rl;
		len -= 5 + rl;
	}
	return r;
}

/*
 * -dev keeps no files, yet must snapshot and compact like any server
 * (Raft paper section 7): otherwise its in-memory log grows with every
 * write.  Its newest snapshot is this body in memory, also what a
 * follower that fell behind is sent (InstallSnapshot reads it).  One
 * store per process, hence one slot.
 */
static struct {
	struct buf body;
	uint64_t index;
} mem_snap;

int
store_snapshot_take_mem(struct store *st, uint64_t index)
{
	struct snap_out o = { NULL, &mem_snap.body };
	buf_reset(&mem_snap.body);
	int r = write_body(st, &o);
	mem_snap.index = r == 0 ? index : 0;
	return r;
}

int
store_snapshot_read_mem(uint64_t index, uint64_t off, void *p, size_t len)
{
	if (mem_snap.index == 0 || index != mem_snap.index)
		return -ENOENT;
	if (off >= mem_snap.body.len)
		return 0;
	size_t n = mem_snap.body.len - off;
	if (n > len)
		n = len;
	memcpy(p, mem_snap.body.data + off, n);
	return (int)n;
}

void
store_snapshot_free_mem(void)
{
	buf_free(&mem_snap.body);
	mem_snap.index = 0;
}
