/*
 * Rendered answers of catalog and health reads, kept for reuse.
 *
 * A catalog read's body is a pure function of the handler that renders it,
 * ?pretty, ?filter and what the store sent besides the read headers
 * (X-Consul-Index and the leader status are headers, never part of the
 * body).  So when the store's rows come back byte for byte as last time,
 * the JSON made from them last time is the answer, without decoding every
 * row and encoding it again.  The store is still asked for every request:
 * blocking queries, consistency modes and the headers are untouched; only
 * the rendering is skipped.
 *
 * A few entries, the least recently used replaced, each at most
 * API_CACHE_MAX bytes of key and body: the memory stays bounded whatever
 * clients ask for.
 */
#include "workers/http/api.h"

#include <stdlib.h>
#include <string.h>

#define API_CACHE_SLOTS	8
#define API_CACHE_MAX	(256u * 1024)

struct api_cache_ent {
	api_done_fn *kind;
	unsigned flags;
	char *filter;
	struct buf key;		/* aux, then rows */
	size_t auxlen;
	struct buf body;
	uint64_t used;		/* api_cache_clock when last put or hit */
};

static struct api_cache_ent api_cache[API_CACHE_SLOTS];
static uint64_t api_cache_clock;

static bool
api_cache_eq(const void *a, const void *b, size_t n)
{
	return n == 0 || memcmp(a, b, n) == 0;	/* either may be NULL at 0 */
}

static bool
api_cache_same(const struct api_cache_ent *e, const struct api_cache_key *k)
{
	return e->kind == k->kind && e->flags == k->flags &&
	    e->auxlen == k->auxlen && e->key.len == k->auxlen + k->rowslen &&
	    strcmp(e->filter, k->filter) == 0 &&
	    api_cache_eq(e->key.data, k->aux, k->auxlen) &&
	    api_cache_eq(e->key.data + k->auxlen, k->rows, k->rowslen);
}

const struct buf *
api_cache_get(const struct api_cache_key *k)
{
	for (unsigned i = 0; i < API_CACHE_SLOTS; i++) {
		struct api_cache_ent *e = &api_cache[i];
		if (e->kind != NULL && api_cache_same(e, k)) {
			e->used = ++api_cache_clock;
			return &e->body;
		}
	}
	return NULL;
}

static void
api_cache_clear(struct api_cache_ent *e)
{
	free(e->filter);
	buf_free(&e->key);
	buf_free(&e->body);
	memset(e, 0, sizeof(*e));
}

void
api_cache_put(const struct api_cache_key *k, const void *body, size_t len)
{
	size_t flen = strlen(k->filter);
	if (k->auxlen + k->rowslen + flen + len > API_CACHE_MAX)
		return;
	struct api_cache_ent *e = &api_cache[0];
	for (unsigned i = 1; i < API_CACHE_SLOTS; i++)
		if (api_cache[i].used < e->used)
			e = &api_cache[i];
	api_cache_clear(e);
	e->used = ++api_cache_clock;
	e->kind = k->kind;
	e->flags = k->flags;
	e->filter = xstrdup(k->filter);
	buf_init(&e->key);
	buf_add(&e->key, k->aux, k->auxlen);
	buf_add(&e->key, k->rows, k->rowslen);
	e->auxlen = k->auxlen;
	buf_init(&e->body);
	buf_add(&e->body, body, len);
}
