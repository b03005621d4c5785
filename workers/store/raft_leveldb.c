/*
 * The LevelDB log and stable store.  Keys:
 *   'L' + big-endian u64 index   a log entry (value: RAFT_ENTRY)
 *   "Sterm", "Svote"             current term and vote (u64 LE)
 *   "Sconf"                      latest configuration (RAFT_CONF)
 * Every call is one leveldb_write of one batch, atomic on crash; with
 * sync set LevelDB fsyncs its log before returning, which is what makes
 * one persist batch cost one fsync.  Entries deleted by compaction need
 * no sync: a crash brings them back and the core drops them again.
 *
 * The writer thread (rft_store_append_async): one batch at a time, built
 * and accounted for (first, last) on the owner's thread; the thread only
 * runs the synced leveldb_write, which LevelDB serializes with the
 * owner's own writes (term, vote, configuration, compaction deletes).
 * Those touch other keys than a batch in flight (compaction only deletes
 * durable entries below it), so their order against it does not matter.
 */
#include "workers/store/raft_store_int.h"
#include "workers/store/raft_wire.h"
#include "proto/codec.h"
#include "lib/util.h"

#include <errno.h>
#include <leveldb/c.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

/* Read cache for entries read back (followers that lag, start-up); the
 * hot entries are in the core's memory.  LevelDB's default is 8 MiB. */
#define LDB_CACHE_BYTES (1u << 20)
/* The memtable: LevelDB's default is 4 MiB, twice over while one is
 * being flushed.  A log is written once and read rarely: flushing more
 * often costs little. */
#define LDB_WRITE_BUFFER (1u << 20)

struct ldbstore {
	struct rft_store base;
	leveldb_t *db;
	leveldb_options_t *opt;
	leveldb_readoptions_t *ropt;
	leveldb_writeoptions_t *wopt;	/* sync as asked */
	leveldb_writeoptions_t *wopt_lazy;
	leveldb_readoptions_t *ropt_scan;	/* no cache fill */
	leveldb_cache_t *cache;
	uint64_t first, last;		/* stored entries, 0 when none */

	/* The writer thread; job and busy under mu. */
	pthread_t thr;
	bool thr_started, stop, busy;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	leveldb_writebatch_t *job;
	rft_store_done_fn *done;
	void *done_arg;
};

static void
key_of(uint8_t k[9], uint64_t index)
{
	k[0] = 'L';
	for (int i = 0; i < 8; i++)
		k[1 + i] = (uint8_t)(index >> (56 - 8 * i));
}

static bool
key_index(const char *k, size_t len, uint64_t *index)
{
	if (len != 9 || k[0] != 'L')
		return false;
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | (uint8_t)k[1 + i];
	*index = v;
	return true;
}

static int
ldb_err(char *err)
{
	if (!err)
		return 0;
	leveldb_free(err);
	return -EIO;
}

static int
ldb_write(struct ldbstore *l, leveldb_writebatch_t *b, bool sync)
{
	char *err = NULL;
	leveldb_write(l->db, sync ? l->wopt : l->wopt_lazy, b, &err);
	leveldb_writebatch_destroy(b);
	return ldb_err(err);
}

/* Add deletes for stored entries in [from, to] to b. */
static void
batch_delete_range(struct ldbstore *l, leveldb_writebatch_t *b,
    uint64_t from, uint64_t to)
{
	uint8_t k[9];
	leveldb_iterator_t *it = leveldb_create_iterator(l->db, l->ropt_scan);
	key_of(k, from);
	for (leveldb_iter_seek(it, (const char *)k, sizeof(k));
	    leveldb_iter_valid(it); leveldb_iter_next(it)) {
		size_t klen;
		const char *key = leveldb_iter_key(it, &klen);
		uint64_t idx;
		if (!key_index(key, klen, &idx) || idx > to)
			break;
		leveldb_writebatch_delete(b, key, klen);
	}
	leveldb_iter_destroy(it);
}

static int
get_u64(struct ldbstore *l, const char *key, uint64_t *v)
{
	char *err = NULL;
	size_t len;
	char *val = leveldb_get(l->db, l->ropt, key, strlen(key), &len, &err);
	if (err)
		return ldb_err(err);
	*v = 0;
	if (!val)
		return 0;
	int r = len == 8 ? 0 : -EBADMSG;
	if (r == 0)
		*v = proto_le64((const uint8_t *)val);
	leveldb_free(val);
	return r;
}

static int
load_conf(struct ldbstore *l, struct rft_stored *out)
{
	char *err = NULL;
	size_t len;
	char *val = leveldb_get(l->db, l->ropt, "Sconf", 5, &len, &err);
	if (err)
		return ldb_err(err);
	int r = 0;
	if (val) {
		r = rft_conf_decode(val, len, &out->conf);
		out->has_conf = r == 0;
		leveldb_free(val);
	}
	return r < 0 ? -EBADMSG : 0;
}

static int
ldb_load(struct rft_store *s, struct rft_stored *out)
{
	struct ldbstore *l = (struct ldbstore *)s;
	size_t cap = 0;
	int r;
	memset(out, 0, sizeof(*out));
	if ((r = get_u64(l, "Sterm", &out->term)) < 0 ||
	    (r = get_u64(l, "Svote", &out->vote)) < 0 ||
	    (r = load_conf(l, out)) < 0)
		return r;
	leveldb_iterator_t *it = leveldb_create_iterator(l->db, l->ropt_scan);
	for (leveldb_iter_seek(it, "L", 1); leveldb_iter_valid(it);
	    leveldb_iter_next(it)) {
		size_t klen, vlen;
		const char *key = leveldb_iter_key(it, &klen);
		const char *val = leveldb_iter_value(it, &vlen);
		uint64_t idx;
		struct rft_entry e;
		if (!key_index(key, klen, &idx))
			break;
		if (rft_wire_entry_decode(val, vlen, idx, &e) < 0) {
			r = -EBADMSG;
			break;
		}
		rft_stored_push(out, &cap, &e);
	}
	leveldb_iter_destroy(it);
	if (r < 0)
		rft_stored_free(out);
	return r;
}

/* The batch for an append; the bookkeeping assumes it will be written
 * (a failed write is fatal to the caller). */
static leveldb_writebatch_t *
append_batch(struct ldbstore *l, const struct rft_entry *e, size_t n)
{
	leveldb_writebatch_t *b = leveldb_writebatch_create();
	if (l->last && e[0].index <= l->last)
		batch_delete_range(l, b, e[0].index, l->last);
	struct buf v;
	buf_init(&v);
	for (size_t i = 0; i < n; i++) {
		uint8_t k[9];
		key_of(k, e[i].index);
		buf_reset(&v);
		rft_wire_entry_encode(&v, &e[i]);
		leveldb_writebatch_put(b, (const char *)k, sizeof(k),
		    (const char *)v.data, v.len);
	}
	buf_free(&v);
	if (!l->first || e[0].index < l->first)
		l->first = e[0].index;
	l->last = e[n - 1].index;
	return b;
}

static int
ldb_append(struct rft_store *s, const struct rft_entry *e, size_t n)
{
	struct ldbstore *l = (struct ldbstore *)s;
	rft_store_drain(s);
	return ldb_write(l, append_batch(l, e, n), true);
}

static void *
writer_main(void *arg)
{
	struct ldbstore *l = arg;
	pthread_mutex_lock(&l->mu);
	for (;;) {
		while (!l->job && !l->stop)
			pthread_cond_wait(&l->cv, &l->mu);
		if (!l->job)
			break;
		leveldb_writebatch_t *b = l->job;
		rft_store_done_fn *done = l->done;
		void *done_arg = l->done_arg;
		l->job = NULL;
		pthread_mutex_unlock(&l->mu);
		int r = ldb_write(l, b, true);
		done(done_arg, r);
		pthread_mutex_lock(&l->mu);
		l->busy = false;
		pthread_cond_broadcast(&l->cv);
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

/* The writer takes no signals: the owner's loop handles them. */
static int
writer_start(struct ldbstore *l)
{
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int r = pthread_create(&l->thr, NULL, writer_main, l);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0)
		return -r;
	l->thr_started = true;
	return 0;
}

static int
ldb_append_async(struct rft_store *s, const struct rft_entry *e, size_t n,
    rft_store_done_fn *done, void *arg)
{
	struct ldbstore *l = (struct ldbstore *)s;
	int r;
	if (!l->thr_started && (r = writer_start(l)) < 0)
		return r;
	rft_store_drain(s);
	leveldb_writebatch_t *b = append_batch(l, e, n);
	pthread_mutex_lock(&l->mu);
	l->job = b;
	l->done = done;
	l->done_arg = arg;
	l->busy = true;
	pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->mu);
	return 0;
}

static void
ldb_drain(struct rft_store *s)
{
	struct ldbstore *l = (struct ldbstore *)s;
	if (!l->thr_started)
		return;
	pthread_mutex_lock(&l->mu);
	while (l->busy)
		pthread_cond_wait(&l->cv, &l->mu);
	pthread_mutex_unlock(&l->mu);
}

static int
ldb_get(struct rft_store *s, uint64_t index, struct rft_entry *out)
{
	struct ldbstore *l = (struct ldbstore *)s;
	uint8_t k[9];
	char *err = NULL;
	size_t len;
	key_of(k, index);
	char *val = leveldb_get(l->db, l->ropt, (const char *)k, sizeof(k),
	    &len, &err);
	if (err)
		return ldb_err(err);
	if (!val)
		return -ENOENT;
	struct rft_entry e;
	int r = rft_wire_entry_decode(val, len, index, &e) < 0 ? -EBADMSG : 0;
	if (r == 0) {
		*out = e;
		out->cookie = 0;
		uint8_t *d = xmalloc(e.len ? e.len : 1);
		if (e.len)
			memcpy(d, e.data, e.len);
		out->data = d;
	}
	leveldb_free(val);
	return r;
}

static int
ldb_compact(struct rft_store *s, uint64_t upto)
{
	struct ldbstore *l = (struct ldbstore *)s;
	if (!l->first || upto < l->first)
		return 0;
	leveldb_writebatch_t *b = leveldb_writebatch_create();
	batch_delete_range(l, b, 0, upto);
	int r = ldb_write(l, b, false);
	if (r == 0) {
		l->first = upto + 1;
		if (l->first > l->last)
			l->first = l->last = 0;
	}
	return r;
}

static int
ldb_reset(struct rft_store *s)
{
	struct ldbstore *l = (struct ldbstore *)s;
	rft_store_drain(s);
	leveldb_writebatch_t *b = leveldb_writebatch_create();
	batch_delete_range(l, b, 0, UINT64_MAX);
	int r = ldb_write(l, b, true);
	if (r == 0)
		l->first = l->last = 0;
	return r;
}

static int
ldb_set_term(struct rft_store *s, uint64_t term, uint64_t vote)
{
	struct ldbstore *l = (struct ldbstore *)s;
	uint8_t t[8], v[8];
	proto_wle64(t, term);
	proto_wle64(v, vote);
	leveldb_writebatch_t *b = leveldb_writebatch_create();
	leveldb_writebatch_put(b, "Sterm", 5, (const char *)t, 8);
	leveldb_writebatch_put(b, "Svote", 5, (const char *)v, 8);
	return ldb_write(l, b, true);
}

static int
ldb_set_conf(struct rft_store *s, const struct rft_conf *c)
{
	struct ldbstore *l = (struct ldbstore *)s;
	struct buf v;
	buf_init(&v);
	rft_conf_encode(&v, c);
	leveldb_writebatch_t *b = leveldb_writebatch_create();
	leveldb_writebatch_put(b, "Sconf", 5, (const char *)v.data, v.len);
	buf_free(&v);
	return ldb_write(l, b, true);
}

static void
ldb_close(struct rft_store *s)
{
	struct ldbstore *l = (struct ldbstore *)s;
	if (l->thr_started) {
		pthread_mutex_lock(&l->mu);
		l->stop = true;
		pthread_cond_broadcast(&l->cv);
		pthread_mutex_unlock(&l->mu);
		pthread_join(l->thr, NULL);
	}
	pthread_mutex_destroy(&l->mu);
	pthread_cond_destroy(&l->cv);
	if (l->db)
		leveldb_close(l->db);
	leveldb_options_destroy(l->opt);
	if (l->cache)
		leveldb_cache_destroy(l->cache);
	leveldb_readoptions_destroy(l->ropt);
	leveldb_readoptions_destroy(l->ropt_scan);
	leveldb_writeoptions_destroy(l->wopt);
	leveldb_writeoptions_destroy(l->wopt_lazy);
	free(l);
}

static const struct rft_store_ops ldb_ops = {
	ldb_load, ldb_append, ldb_compact, ldb_reset, ldb_set_term,
	ldb_set_conf, ldb_close, ldb_append_async, ldb_drain, ldb_get,
};

/* Find the first and last stored indexes. */
static void
ldb_bounds(struct ldbstore *l)
{
	leveldb_iterator_t *it = leveldb_create_iterator(l->db, l->ropt);
	size_t klen;
	uint64_t idx;
	leveldb_iter_seek(it, "L", 1);
	if (leveldb_iter_valid(it) &&
	    key_index(leveldb_iter_key(it, &klen), klen, &idx)) {
		l->first = idx;
		leveldb_iter_seek(it, "M", 1);
		if (leveldb_iter_valid(it))
			leveldb_iter_prev(it);
		else
			leveldb_iter_seek_to_last(it);
		if (leveldb_iter_valid(it) &&
		    key_index(leveldb_iter_key(it, &klen), klen, &idx))
			l->last = idx;
	}
	leveldb_iter_destroy(it);
}

int
rft_store_open_leveldb(const char *dir, bool sync, struct rft_store **out)
{
	struct ldbstore *l = xcalloc(1, sizeof(*l));
	char *err = NULL;
	l->base.ops = &ldb_ops;
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cv, NULL);
	l->opt = leveldb_options_create();
	leveldb_options_set_create_if_missing(l->opt, 1);
	leveldb_options_set_paranoid_checks(l->opt, 1);
	l->cache = leveldb_cache_create_lru(LDB_CACHE_BYTES);
	leveldb_options_set_cache(l->opt, l->cache);
	leveldb_options_set_write_buffer_size(l->opt, LDB_WRITE_BUFFER);
	l->ropt = leveldb_readoptions_create();
	leveldb_readoptions_set_verify_checksums(l->ropt, 1);
	l->ropt_scan = leveldb_readoptions_create();
	leveldb_readoptions_set_verify_checksums(l->ropt_scan, 1);
	leveldb_readoptions_set_fill_cache(l->ropt_scan, 0);
	l->wopt = leveldb_writeoptions_create();
	leveldb_writeoptions_set_sync(l->wopt, sync);
	l->wopt_lazy = leveldb_writeoptions_create();
	leveldb_writeoptions_set_sync(l->wopt_lazy, 0);
	l->db = leveldb_open(l->opt, dir, &err);
	if (err) {
		leveldb_free(err);
		l->db = NULL;
		ldb_close(&l->base);
		return -EIO;
	}
	ldb_bounds(l);
	*out = &l->base;
	return 0;
}
