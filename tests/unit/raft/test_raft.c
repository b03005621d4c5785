/*
 * Raft pieces on their own: the wire codec (round trips, malformed input
 * rejected), the log stores (LevelDB and memory: same contract, reopen
 * restores), snapshot files (keep two, corrupt or truncated ones skipped,
 * interrupted writes cleaned), and a single server driven through the
 * LevelDB store and snapshot files across a restart.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "workers/store/raft.h"
#include "workers/store/raft_store.h"
#include "workers/store/raft_wire.h"
#include "proto/proto.h"
#include "lib/util.h"

static char tmpdir[64];

static void
mk_tmp(void)
{
	strcpy(tmpdir, "/tmp/muster-raft-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void
rm_tmp(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

static struct rft_conf
conf3(void)
{
	struct rft_conf c = { 0 };
	rft_conf_add(&c, 1, RFT_VOTER, "n1", "127.0.0.1:8301");
	rft_conf_add(&c, 2, RFT_VOTER, "n2", "127.0.0.1:8302");
	rft_conf_add(&c, 3, RFT_NONVOTER, "n3", "127.0.0.1:8303");
	return c;
}

/* ---- wire ---- */

static void
roundtrip(const struct rft_msg *m, struct rft_msg *out, struct buf *b)
{
	buf_init(b);
	int type = rft_wire_encode(b, m);
	ck_assert_int_gt(type, 0);
	ck_assert_int_eq(rft_wire_decode((unsigned)type, b->data, b->len, out),
	    0);
	ck_assert_uint_eq(out->type, m->type);
	ck_assert_uint_eq(out->from, m->from);
	ck_assert_uint_eq(out->to, m->to);
	ck_assert_uint_eq(out->term, m->term);
	/* Every strict prefix and any trailing byte is refused. */
	struct rft_msg bad;
	for (size_t k = 0; k < b->len; k++)
		ck_assert_int_eq(rft_wire_decode((unsigned)type, b->data, k,
		    &bad), -EBADMSG);
	struct buf longer;
	buf_init(&longer);
	buf_add(&longer, b->data, b->len);
	buf_addch(&longer, 0);
	ck_assert_int_eq(rft_wire_decode((unsigned)type, longer.data,
	    longer.len, &bad), -EBADMSG);
	buf_free(&longer);
}

START_TEST(wire_append_roundtrip)
{
	struct rft_entry e[3] = {
		{ 11, 4, RFT_ENTRY_NORMAL, 5, (const uint8_t *)"hello", 0 },
		{ 12, 5, RFT_ENTRY_NOOP, 0, NULL, 0 },
		{ 13, 5, RFT_ENTRY_NORMAL, 3, (const uint8_t *)"a\0b", 0 },
	};
	struct rft_msg m = { .type = RFT_APPEND, .from = 1, .to = 2, .term = 5 };
	m.append = (struct rft_append){ 10, 4, 9, 77, 123456, e, 3 };
	struct rft_msg d;
	struct buf b;
	roundtrip(&m, &d, &b);
	ck_assert_uint_eq(d.append.prev_index, 10);
	ck_assert_uint_eq(d.append.prev_term, 4);
	ck_assert_uint_eq(d.append.commit, 9);
	ck_assert_uint_eq(d.append.seq, 77);
	ck_assert_uint_eq(d.append.ts, 123456);
	ck_assert_uint_eq(d.append.n, 3);
	for (int i = 0; i < 3; i++) {
		ck_assert_uint_eq(d.append.ents[i].index, e[i].index);
		ck_assert_uint_eq(d.append.ents[i].term, e[i].term);
		ck_assert_uint_eq(d.append.ents[i].type, e[i].type);
		ck_assert_uint_eq(d.append.ents[i].len, e[i].len);
		ck_assert(e[i].len == 0 ||
		    memcmp(d.append.ents[i].data, e[i].data, e[i].len) == 0);
	}
	rft_wire_release(&d);
	buf_free(&b);
}
END_TEST

START_TEST(wire_other_roundtrips)
{
	struct rft_msg d;
	struct buf b;
	struct rft_msg m = { .type = RFT_APPEND_RESP, .from = 2, .to = 1,
	    .term = 7 };
	m.append_resp = (struct rft_append_resp){ true, 40, 38, 0, 0, 0, 9, 99 };
	roundtrip(&m, &d, &b);
	ck_assert(d.append_resp.success);
	ck_assert_uint_eq(d.append_resp.last, 40);
	ck_assert_uint_eq(d.append_resp.match, 38);
	ck_assert_uint_eq(d.append_resp.ts, 99);
	buf_free(&b);

	m = (struct rft_msg){ .type = RFT_VOTE, .from = 3, .to = 1, .term = 8 };
	m.vote = (struct rft_vote){ 100, 7, true, true };
	roundtrip(&m, &d, &b);
	ck_assert(d.vote.pre && d.vote.transfer);
	ck_assert_uint_eq(d.vote.last_index, 100);
	buf_free(&b);

	m = (struct rft_msg){ .type = RFT_VOTE_RESP, .from = 1, .to = 3,
	    .term = 8 };
	m.vote_resp = (struct rft_vote_resp){ true, false };
	roundtrip(&m, &d, &b);
	ck_assert(d.vote_resp.granted && !d.vote_resp.pre);
	buf_free(&b);

	struct rft_conf c = conf3();
	struct buf cb;
	buf_init(&cb);
	rft_conf_encode(&cb, &c);
	m = (struct rft_msg){ .type = RFT_SNAP, .from = 1, .to = 2, .term = 9 };
	m.snap = (struct rft_snap){ 500, 8, 4096, 3, 4, cb.data, cb.len,
	    (const uint8_t *)"chunk", 5, true };
	roundtrip(&m, &d, &b);
	ck_assert_uint_eq(d.snap.index, 500);
	ck_assert_uint_eq(d.snap.offset, 4096);
	ck_assert_uint_eq(d.snap.len, 5);
	ck_assert(d.snap.done);
	struct rft_conf c2;
	ck_assert_int_eq(rft_conf_decode(d.snap.conf, d.snap.conf_len, &c2), 0);
	ck_assert_uint_eq(c2.n, 3);
	ck_assert_str_eq(c2.s[2].addr, "127.0.0.1:8303");
	ck_assert_uint_eq(c2.s[2].role, RFT_NONVOTER);
	buf_free(&b);
	buf_free(&cb);

	m = (struct rft_msg){ .type = RFT_SNAP_RESP, .from = 2, .to = 1,
	    .term = 9 };
	m.snap_resp = (struct rft_snap_resp){ 500, 8192, 1, 2, false, false };
	roundtrip(&m, &d, &b);
	ck_assert_uint_eq(d.snap_resp.next_offset, 8192);
	buf_free(&b);

	m = (struct rft_msg){ .type = RFT_TIMEOUT_NOW, .from = 1, .to = 2,
	    .term = 9 };
	roundtrip(&m, &d, &b);
	buf_free(&b);
}
END_TEST

/* Semantically malformed messages the codec alone would accept. */
START_TEST(wire_rejects_malformed)
{
	struct rft_msg d, m;
	struct buf b;
	struct rft_entry e[2] = {
		{ 2, 5, RFT_ENTRY_NORMAL, 1, (const uint8_t *)"x", 0 },
		{ 3, 4, RFT_ENTRY_NORMAL, 1, (const uint8_t *)"y", 0 },
	};
	/* Terms going back along the log. */
	m = (struct rft_msg){ .type = RFT_APPEND, .from = 1, .to = 2,
	    .term = 5 };
	m.append = (struct rft_append){ 1, 1, 0, 1, 1, e, 2 };
	buf_init(&b);
	int t = rft_wire_encode(&b, &m);
	ck_assert_int_eq(rft_wire_decode((unsigned)t, b.data, b.len, &d),
	    -EBADMSG);
	buf_free(&b);
	/* An entry newer than the message's term; an unknown entry type. */
	e[1].term = 6;
	buf_init(&b);
	rft_wire_encode(&b, &m);
	ck_assert_int_eq(rft_wire_decode((unsigned)t, b.data, b.len, &d),
	    -EBADMSG);
	buf_free(&b);
	e[1].term = 5;
	e[1].type = 9;
	buf_init(&b);
	rft_wire_encode(&b, &m);
	ck_assert_int_eq(rft_wire_decode((unsigned)t, b.data, b.len, &d),
	    -EBADMSG);
	buf_free(&b);
	/* No sender, no term, sender == receiver. */
	struct rft_msg v = { .type = RFT_VOTE, .from = 0, .to = 2, .term = 1 };
	buf_init(&b);
	t = rft_wire_encode(&b, &v);
	ck_assert_int_eq(rft_wire_decode((unsigned)t, b.data, b.len, &d),
	    -EBADMSG);
	buf_free(&b);
	v.from = 2;
	buf_init(&b);
	rft_wire_encode(&b, &v);
	ck_assert_int_eq(rft_wire_decode((unsigned)t, b.data, b.len, &d),
	    -EBADMSG);
	buf_free(&b);
	/* A configuration with a duplicate id; a zero id. */
	struct proto_raft_server s = { .id = 4, .role = RFT_VOTER,
	    .name = PROTO_STR("a"), .addr = PROTO_STR("b") };
	struct buf one, list, conf;
	buf_init(&one);
	buf_init(&list);
	buf_init(&conf);
	proto_enc_raft_server(&one, &s);
	for (int i = 0; i < 2; i++) {
		proto_put_u32(&list, (uint32_t)one.len);
		buf_add(&list, one.data, one.len);
	}
	struct proto_raft_conf pc = { .servers = { .n = 2, .raw = list.data,
	    .rawlen = (uint32_t)list.len } };
	proto_enc_raft_conf(&conf, &pc);
	struct rft_conf c;
	ck_assert_int_eq(rft_conf_decode(conf.data, conf.len, &c), -EBADMSG);
	s.id = 0;
	buf_reset(&one);
	proto_enc_raft_server(&one, &s);
	buf_reset(&conf);
	pc.servers = (struct proto_strv){ .n = 1, .raw = NULL };
	buf_reset(&list);
	proto_put_u32(&list, (uint32_t)one.len);
	buf_add(&list, one.data, one.len);
	pc.servers.raw = list.data;
	pc.servers.rawlen = (uint32_t)list.len;
	proto_enc_raft_conf(&conf, &pc);
	ck_assert_int_eq(rft_conf_decode(conf.data, conf.len, &c), -EBADMSG);
	buf_free(&one);
	buf_free(&list);
	buf_free(&conf);
	/* A type that is not a Raft RPC. */
	ck_assert_int_eq(rft_wire_decode(PROTO_STATUS_LEADER_REQ, "", 0, &d),
	    -EBADMSG);
}
END_TEST

START_TEST(wire_framing)
{
	struct rft_msg m = { .type = RFT_TIMEOUT_NOW, .from = 1, .to = 2,
	    .term = 3 };
	struct buf b;
	buf_init(&b);
	ck_assert_int_eq(rft_wire_frame(&b, &m), 0);
	ck_assert_int_eq(rft_wire_frame(&b, &m), 0);
	unsigned type;
	const uint8_t *body;
	size_t blen;
	ssize_t n = rft_wire_unframe(b.data, b.len, &type, &body, &blen);
	ck_assert_int_eq(n, (ssize_t)b.len / 2);
	ck_assert_uint_eq(type, PROTO_RAFT_TIMEOUT_NOW);
	struct rft_msg d;
	ck_assert_int_eq(rft_wire_decode(type, body, blen, &d), 0);
	ck_assert_uint_eq(d.term, 3);
	/* Incomplete: wait for more bytes. */
	for (size_t k = 0; k < (size_t)n; k++)
		ck_assert_int_eq(rft_wire_unframe(b.data, k, &type, &body,
		    &blen), 0);
	/* A foreign type or an absurd length is refused at the header. */
	uint8_t h[RFT_WIRE_HDR];
	proto_wle32(h, 4);
	proto_wle16(h + 4, PROTO_STATUS_LEADER);
	ck_assert_int_eq(rft_wire_unframe(h, sizeof(h), &type, &body, &blen),
	    -EBADMSG);
	proto_wle32(h, RFT_WIRE_MAX_FRAME + 1);
	proto_wle16(h + 4, PROTO_RAFT_APPEND);
	ck_assert_int_eq(rft_wire_unframe(h, sizeof(h), &type, &body, &blen),
	    -EBADMSG);
	buf_free(&b);
}
END_TEST

/* ---- log stores ---- */

static void
ents(struct rft_entry *e, uint64_t first, size_t n, uint64_t term,
    char (*bufs)[16])
{
	for (size_t i = 0; i < n; i++) {
		snprintf(bufs[i], 16, "e%llu-%llu",
		    (unsigned long long)(first + i), (unsigned long long)term);
		e[i] = (struct rft_entry){ first + i, term, RFT_ENTRY_NORMAL,
		    (uint32_t)strlen(bufs[i]), (const uint8_t *)bufs[i], 0 };
	}
}

static struct rft_store *
store_open(bool leveldb)
{
	if (!leveldb)
		return rft_store_open_memory();
	struct rft_store *s;
	char path[128];
	snprintf(path, sizeof(path), "%s/log", tmpdir);
	ck_assert_int_eq(rft_store_open_leveldb(path, true, &s), 0);
	return s;
}

static void
expect_log(struct rft_store *s, uint64_t first, uint64_t last,
    uint64_t split, uint64_t t1, uint64_t t2)
{
	struct rft_stored st;
	ck_assert_int_eq(rft_store_load(s, &st), 0);
	ck_assert_uint_eq(st.n, last - first + 1);
	for (size_t i = 0; i < st.n; i++) {
		uint64_t idx = first + i, t = idx < split ? t1 : t2;
		char want[16];
		snprintf(want, sizeof(want), "e%llu-%llu",
		    (unsigned long long)idx, (unsigned long long)t);
		ck_assert_uint_eq(st.ents[i].index, idx);
		ck_assert_uint_eq(st.ents[i].term, t);
		ck_assert_uint_eq(st.ents[i].len, strlen(want));
		ck_assert(memcmp(st.ents[i].data, want, strlen(want)) == 0);
	}
	rft_stored_free(&st);
}

/* The same contract for both stores; LevelDB also across reopen. */
static void
store_contract(bool leveldb)
{
	struct rft_store *s = store_open(leveldb);
	struct rft_entry e[20];
	char bufs[20][16];
	struct rft_stored st;
	ck_assert_int_eq(rft_store_load(s, &st), 0);
	ck_assert_uint_eq(st.n, 0);
	ck_assert_uint_eq(st.term, 0);
	ck_assert(!st.has_conf);
	rft_stored_free(&st);
	ents(e, 1, 20, 1, bufs);
	ck_assert_int_eq(rft_store_append(s, e, 20), 0);
	/* A conflicting suffix replaces everything from 15 on. */
	ents(e, 15, 3, 2, bufs);
	ck_assert_int_eq(rft_store_append(s, e, 3), 0);
	expect_log(s, 1, 17, 15, 1, 2);
	ck_assert_int_eq(rft_store_compact(s, 9), 0);
	expect_log(s, 10, 17, 15, 1, 2);
	ck_assert_int_eq(rft_store_set_term(s, 7, 3), 0);
	struct rft_conf c = conf3();
	ck_assert_int_eq(rft_store_set_conf(s, &c), 0);
	if (leveldb) {
		rft_store_close(s);
		s = store_open(true);
		expect_log(s, 10, 17, 15, 1, 2);
	}
	ck_assert_int_eq(rft_store_load(s, &st), 0);
	ck_assert_uint_eq(st.term, 7);
	ck_assert_uint_eq(st.vote, 3);
	ck_assert(st.has_conf);
	ck_assert_uint_eq(st.conf.n, 3);
	ck_assert_str_eq(st.conf.s[1].name, "n2");
	rft_stored_free(&st);
	/* Appending past the end after reopen still truncates right. */
	ents(e, 17, 2, 3, bufs);
	ck_assert_int_eq(rft_store_append(s, e, 2), 0);
	ck_assert_int_eq(rft_store_load(s, &st), 0);
	ck_assert_uint_eq(st.n, 9);
	ck_assert_uint_eq(st.ents[8].index, 18);
	ck_assert_uint_eq(st.ents[7].term, 3);
	rft_stored_free(&st);
	ck_assert_int_eq(rft_store_reset(s), 0);
	ck_assert_int_eq(rft_store_load(s, &st), 0);
	ck_assert_uint_eq(st.n, 0);
	ck_assert_uint_eq(st.term, 7);
	rft_stored_free(&st);
	ents(e, 101, 2, 4, bufs);	/* after a snapshot at 100 */
	ck_assert_int_eq(rft_store_append(s, e, 2), 0);
	expect_log(s, 101, 102, 0, 4, 4);
	rft_store_close(s);
}

START_TEST(store_memory) { store_contract(false); }
END_TEST

START_TEST(store_leveldb)
{
	mk_tmp();
	store_contract(true);
	rm_tmp();
}
END_TEST

START_TEST(store_leveldb_corrupt_value)
{
	mk_tmp();
	struct rft_store *s = store_open(true);
	struct rft_entry e[2];
	char bufs[2][16];
	ents(e, 1, 2, 1, bufs);
	e[1].type = 0;	/* stored as is, refused when loaded */
	ck_assert_int_eq(rft_store_append(s, e, 2), 0);
	struct rft_stored st;
	ck_assert_int_eq(rft_store_load(s, &st), -EBADMSG);
	rft_store_close(s);
	rm_tmp();
}
END_TEST

/* ---- snapshots ---- */

static void
snap_make(uint64_t index, uint64_t term, size_t size, uint8_t seed)
{
	struct rft_conf c = conf3();
	struct rft_snap_writer *w;
	ck_assert_int_eq(rft_snap_create(tmpdir, index, term, &c, true, &w), 0);
	uint8_t buf[1000];
	for (size_t off = 0; off < size; off += sizeof(buf)) {
		size_t k = MIN(sizeof(buf), size - off);
		for (size_t i = 0; i < k; i++)
			buf[i] = (uint8_t)(seed + off + i);
		ck_assert_int_eq(rft_snap_write(w, buf, k), 0);
	}
	ck_assert_int_eq(rft_snap_commit(w), 0);
}

static void
snap_expect(struct rft_snap_reader *r, uint64_t index, size_t size,
    uint8_t seed)
{
	const struct rft_snap_meta *m = rft_snap_meta(r);
	ck_assert_uint_eq(m->index, index);
	ck_assert_uint_eq(m->size, size);
	ck_assert_uint_eq(m->conf.n, 3);
	uint8_t buf[777];
	uint64_t off = 0;
	for (;;) {
		int n = rft_snap_read(r, off, buf, sizeof(buf));
		ck_assert_int_ge(n, 0);
		for (int i = 0; i < n; i++)
			ck_assert_uint_eq(buf[i], (uint8_t)(seed + off + i));
		off += (uint64_t)n;
		if ((size_t)n < sizeof(buf))
			break;
	}
	ck_assert_uint_eq(off, size);
}

static unsigned nskipped;
static void
count_skipped(void *arg, const char *name, int err)
{
	nskipped++;
	ck_assert_int_eq(err, -EBADMSG);
}

static unsigned
count_files(void)
{
	DIR *d = opendir(tmpdir);
	ck_assert_ptr_nonnull(d);
	unsigned n = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static void
corrupt(uint64_t index, uint64_t term, bool truncate)
{
	char path[160];
	snprintf(path, sizeof(path), "%s/snap-%016llx-%016llx.snap", tmpdir,
	    (unsigned long long)index, (unsigned long long)term);
	int fd = open(path, O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	struct stat st;
	ck_assert_int_eq(fstat(fd, &st), 0);
	if (truncate) {
		ck_assert_int_eq(ftruncate(fd, st.st_size - 7), 0);
	} else {
		uint8_t b;
		ck_assert_int_eq(pread(fd, &b, 1, st.st_size / 2), 1);
		b ^= 0x20;
		ck_assert_int_eq(pwrite(fd, &b, 1, st.st_size / 2), 1);
	}
	close(fd);
}

START_TEST(snapshots_keep_two_and_skip_corrupt)
{
	mk_tmp();
	struct rft_snap_reader *r;
	ck_assert_int_eq(rft_snap_open_latest(tmpdir, &r, NULL, NULL), -ENOENT);
	snap_make(100, 2, 5000, 1);
	snap_make(200, 3, 70000, 2);
	snap_make(300, 3, 12345, 3);
	ck_assert_uint_eq(count_files(), 2);
	ck_assert_int_eq(rft_snap_open_latest(tmpdir, &r, count_skipped, NULL),
	    0);
	snap_expect(r, 300, 12345, 3);
	rft_snap_close(r);
	ck_assert_int_eq(rft_snap_open_index(tmpdir, 200, &r), 0);
	snap_expect(r, 200, 70000, 2);
	rft_snap_close(r);
	ck_assert_int_eq(rft_snap_open_index(tmpdir, 100, &r), -ENOENT);
	/* A bit flip in the newest: skipped, the older one is used. */
	nskipped = 0;
	corrupt(300, 3, false);
	ck_assert_int_eq(rft_snap_open_latest(tmpdir, &r, count_skipped, NULL),
	    0);
	ck_assert_uint_eq(nskipped, 1);
	snap_expect(r, 200, 70000, 2);
	rft_snap_close(r);
	/* Torn write of the other as well: nothing valid left. */
	corrupt(200, 3, true);
	nskipped = 0;
	ck_assert_int_eq(rft_snap_open_latest(tmpdir, &r, count_skipped, NULL),
	    -ENOENT);
	ck_assert_uint_eq(nskipped, 2);
	rm_tmp();
}
END_TEST

START_TEST(snapshot_interrupted_write)
{
	mk_tmp();
	snap_make(50, 1, 100, 9);
	struct rft_conf c = conf3();
	struct rft_snap_writer *w;
	ck_assert_int_eq(rft_snap_create(tmpdir, 60, 2, &c, true, &w), 0);
	ck_assert_int_eq(rft_snap_write(w, "partial", 7), 0);
	/* The process dies here: the temporary file stays behind. */
	ck_assert_uint_eq(count_files(), 2);
	struct rft_snap_reader *r;
	ck_assert_int_eq(rft_snap_open_latest(tmpdir, &r, NULL, NULL), 0);
	snap_expect(r, 50, 100, 9);
	rft_snap_close(r);
	ck_assert_uint_eq(count_files(), 1);	/* temporary removed */
	rft_snap_abort(w);
	rm_tmp();
}
END_TEST

START_TEST(crc32c_known_value)
{
	/* RFC 3720 B.4: 32 bytes of zeros. */
	uint8_t z[32] = { 0 };
	ck_assert_uint_eq(rft_crc32c(0, z, sizeof(z)), 0x8a9136aa);
	ck_assert_uint_eq(rft_crc32c(0, "123456789", 9), 0xe3069283);
}
END_TEST

/* ---- a server on real storage, across a restart ---- */

struct host {
	struct rft *r;
	struct rft_store *log;
	uint64_t applied;
	uint64_t state;		/* the state machine: a running sum */
	bool pending_persist;
	uint64_t pi, pt;
	bool pending_snap;
	uint64_t si, st;
	unsigned persists;
	bool fail_snap;
	unsigned takes;
};

static void h_send(void *ud, const struct rft_msg *m) { ck_abort_msg("single server sends"); }

static void
h_persist(void *ud, const struct rft_entry *e, size_t n)
{
	struct host *h = ud;
	ck_assert_int_eq(rft_store_append(h->log, e, n), 0);
	h->pending_persist = true;
	h->pi = e[n - 1].index;
	h->pt = e[n - 1].term;
	h->persists++;
}

static int
h_save_term(void *ud, uint64_t term, uint64_t vote)
{
	return rft_store_set_term(((struct host *)ud)->log, term, vote);
}

static void
h_compact(void *ud, uint64_t upto)
{
	ck_assert_int_eq(rft_store_compact(((struct host *)ud)->log, upto), 0);
}

static void
h_apply(void *ud, const struct rft_entry *e)
{
	struct host *h = ud;
	char num[32];
	h->applied = e->index;
	if (e->type != RFT_ENTRY_NORMAL)
		return;
	/* Entry data is not NUL-terminated (it may come from LevelDB). */
	ck_assert_uint_lt(e->len, sizeof(num));
	memcpy(num, e->data, e->len);
	num[e->len] = '\0';
	h->state += strtoull(num, NULL, 10);
}

static void
h_take(void *ud, uint64_t index, uint64_t term, const struct rft_conf *c)
{
	struct host *h = ud;
	struct rft_snap_writer *w;
	h->takes++;
	h->pending_snap = true;
	h->si = index;
	h->st = term;
	if (h->fail_snap)
		return;
	ck_assert_int_eq(rft_snap_create(tmpdir, index, term, c, true, &w), 0);
	ck_assert_int_eq(rft_snap_write(w, &h->state, sizeof(h->state)), 0);
	ck_assert_int_eq(rft_snap_commit(w), 0);
}

static const struct rft_cbs host_cbs = {
	.send = h_send, .persist = h_persist, .save_term = h_save_term,
	.compact = h_compact, .apply = h_apply, .take_snapshot = h_take,
};

static void
host_drain(struct host *h)
{
	while (h->pending_persist || h->pending_snap) {
		if (h->pending_persist) {
			h->pending_persist = false;
			rft_persisted(h->r, h->pi, h->pt);
		}
		if (h->pending_snap) {
			h->pending_snap = false;
			rft_snapshot_taken(h->r, h->si, h->st,
			    h->fail_snap ? -EIO : 0);
		}
	}
}

static void
host_start(struct host *h, bool fresh)
{
	char path[128];
	struct rft_config c;
	rft_config_default(&c, 1, 1);
	c.snapshot_threshold = 50;
	c.trailing_logs = 10;
	memset(h, 0, sizeof(*h));
	snprintf(path, sizeof(path), "%s/log", tmpdir);
	ck_assert_int_eq(rft_store_open_leveldb(path, true, &h->log), 0);
	struct rft_stored st;
	ck_assert_int_eq(rft_store_load(h->log, &st), 0);
	struct rft_boot b = { .term = st.term, .vote = st.vote,
	    .ents = st.ents, .n = st.n };
	struct rft_snap_reader *sr;
	if (rft_snap_open_latest(tmpdir, &sr, NULL, NULL) == 0) {
		const struct rft_snap_meta *m = rft_snap_meta(sr);
		b.snap_index = m->index;
		b.snap_term = m->term;
		b.snap_conf = m->conf;
		ck_assert_int_eq(rft_snap_read(sr, 0, &h->state,
		    sizeof(h->state)), (int)sizeof(h->state));
		h->applied = m->index;
		rft_snap_close(sr);
	}
	h->r = rft_new(&c, &host_cbs, h);
	ck_assert_int_eq(rft_start(h->r, &b, 1000), 0);
	rft_stored_free(&st);
	if (fresh) {
		struct rft_conf one = { 0 };
		rft_conf_add(&one, 1, RFT_VOTER, "n1", "127.0.0.1:8300");
		ck_assert_int_eq(rft_bootstrap(h->r, &one), 0);
	}
	host_drain(h);
}

static void
host_stop(struct host *h)
{
	rft_free(h->r);
	rft_store_close(h->log);
}

/* A failing snapshot is retried every threshold/8 entries, not on every
 * applied entry; the log is not compacted meanwhile. */
START_TEST(snapshot_failure_backoff)
{
	mk_tmp();
	struct host h;
	host_start(&h, true);
	h.fail_snap = true;
	for (unsigned i = 1; i <= 120; i++) {
		ck_assert_int_eq(rft_propose(h.r, "1", 1, 0, NULL), 0);
		host_drain(&h);
	}
	ck_assert_uint_ge(h.takes, 5);
	ck_assert_uint_le(h.takes, 15);
	ck_assert_uint_eq(rft_snapshot_index(h.r), 0);
	ck_assert_uint_eq(rft_first_index(h.r), 1);
	host_stop(&h);
	rm_tmp();
}
END_TEST

START_TEST(single_server_restart)
{
	mk_tmp();
	struct host h;
	host_start(&h, true);
	ck_assert_int_eq(rft_role(h.r), RFT_LEADER);
	uint64_t sum = 0;
	for (unsigned i = 1; i <= 120; i++) {
		char v[16];
		snprintf(v, sizeof(v), "%u", i);
		ck_assert_int_eq(rft_propose(h.r, v, strlen(v), i, NULL), 0);
		sum += i;
		if (i % 10 == 0)
			host_drain(&h);	/* group commit: one write per 10 */
	}
	host_drain(&h);
	ck_assert_uint_eq(h.state, sum);
	ck_assert_uint_le(h.persists, 3 + 120 / 10 * 2);
	ck_assert_uint_gt(rft_snapshot_index(h.r), 0);
	uint64_t commit = rft_commit_index(h.r), term = rft_term(h.r);
	host_stop(&h);
	/* Restart from disk: snapshot + trailing log give back the state. */
	host_start(&h, false);
	ck_assert_int_eq(rft_role(h.r), RFT_LEADER);
	ck_assert_uint_eq(rft_term(h.r), term + 1);
	ck_assert_uint_ge(rft_commit_index(h.r), commit);
	ck_assert_uint_eq(h.state, sum);
	ck_assert_uint_gt(rft_first_index(h.r), 1);	/* compacted */
	host_stop(&h);
	rm_tmp();
}
END_TEST

static Suite *
raft_suite(void)
{
	Suite *s = suite_create("raft");
	TCase *w = tcase_create("wire");
	tcase_add_test(w, wire_append_roundtrip);
	tcase_add_test(w, wire_other_roundtrips);
	tcase_add_test(w, wire_rejects_malformed);
	tcase_add_test(w, wire_framing);
	suite_add_tcase(s, w);
	TCase *st = tcase_create("storage");
	tcase_set_timeout(st, 30);
	tcase_add_test(st, store_memory);
	tcase_add_test(st, store_leveldb);
	tcase_add_test(st, store_leveldb_corrupt_value);
	tcase_add_test(st, crc32c_known_value);
	tcase_add_test(st, snapshots_keep_two_and_skip_corrupt);
	tcase_add_test(st, snapshot_interrupted_write);
	tcase_add_test(st, single_server_restart);
	tcase_add_test(st, snapshot_failure_backoff);
	suite_add_tcase(s, st);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(raft_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
