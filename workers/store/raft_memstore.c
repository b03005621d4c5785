/*
 * The in-memory log store (-dev: nothing survives the process) and the
 * dispatch shared with the LevelDB one.  Same contract: append deletes
 * from the first new index on, then adds.
 */
#include "workers/store/raft_store_int.h"
#include "lib/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int rft_store_load(struct rft_store *s, struct rft_stored *o) { return s->ops->load(s, o); }
int rft_store_compact(struct rft_store *s, uint64_t upto) { return s->ops->compact(s, upto); }
int rft_store_reset(struct rft_store *s) { return s->ops->reset(s); }
int rft_store_set_conf(struct rft_store *s, const struct rft_conf *c) { return s->ops->set_conf(s, c); }

int
rft_store_append(struct rft_store *s, const struct rft_entry *e, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 1; i < n; i++)
		if (e[i].index != e[i - 1].index + 1)
			return -EINVAL;
	return s->ops->append(s, e, n);
}

int
rft_store_append_async(struct rft_store *s, const struct rft_entry *e,
    size_t n, rft_store_done_fn *done, void *arg)
{
	if (n == 0)
		return -EINVAL;
	for (size_t i = 1; i < n; i++)
		if (e[i].index != e[i - 1].index + 1)
			return -EINVAL;
	return s->ops->append_async(s, e, n, done, arg);
}

void
rft_store_drain(struct rft_store *s)
{
	s->ops->drain(s);
}

int
rft_store_get(struct rft_store *s, uint64_t index, struct rft_entry *out)
{
	return s->ops->get(s, index, out);
}

int
rft_store_set_term(struct rft_store *s, uint64_t term, uint64_t vote)
{
	return s->ops->set_term(s, term, vote);
}

void
rft_store_close(struct rft_store *s)
{
	if (s)
		s->ops->close(s);
}

void
rft_stored_push(struct rft_stored *st, size_t *cap, const struct rft_entry *e)
{
	if (st->n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		st->ents = xrealloc(st->ents, *cap * sizeof(*st->ents));
	}
	struct rft_entry *d = &st->ents[st->n++];
	*d = *e;
	d->cookie = 0;
	uint8_t *p = xmalloc(e->len ? e->len : 1);
	if (e->len)
		memcpy(p, e->data, e->len);
	d->data = p;
}

void
rft_stored_free(struct rft_stored *st)
{
	for (size_t i = 0; i < st->n; i++)
		free((void *)st->ents[i].data);
	free(st->ents);
	memset(st, 0, sizeof(*st));
}

struct memstore {
	struct rft_store base;
	struct rft_stored st;
	size_t cap;
};

static void
mem_drop_from(struct memstore *m, uint64_t index)
{
	while (m->st.n && m->st.ents[m->st.n - 1].index >= index)
		free((void *)m->st.ents[--m->st.n].data);
}

static int
mem_load(struct rft_store *s, struct rft_stored *out)
{
	struct memstore *m = (struct memstore *)s;
	size_t cap = 0;
	memset(out, 0, sizeof(*out));
	out->term = m->st.term;
	out->vote = m->st.vote;
	out->has_conf = m->st.has_conf;
	out->conf = m->st.conf;
	for (size_t i = 0; i < m->st.n; i++)
		rft_stored_push(out, &cap, &m->st.ents[i]);
	return 0;
}

static int
mem_append(struct rft_store *s, const struct rft_entry *e, size_t n)
{
	struct memstore *m = (struct memstore *)s;
	mem_drop_from(m, e[0].index);
	if (m->st.n && e[0].index != m->st.ents[m->st.n - 1].index + 1)
		return -EINVAL;	/* a gap: the caller lost track */
	for (size_t i = 0; i < n; i++)
		rft_stored_push(&m->st, &m->cap, &e[i]);
	return 0;
}

/* Memory needs no thread: done runs before this returns. */
static int
mem_append_async(struct rft_store *s, const struct rft_entry *e, size_t n,
    rft_store_done_fn *done, void *arg)
{
	done(arg, mem_append(s, e, n));
	return 0;
}

static void
mem_drain(struct rft_store *s)
{
	(void)s;
}

static int
mem_get(struct rft_store *s, uint64_t index, struct rft_entry *out)
{
	struct memstore *m = (struct memstore *)s;
	if (m->st.n == 0 || index < m->st.ents[0].index ||
	    index > m->st.ents[m->st.n - 1].index)
		return -ENOENT;
	const struct rft_entry *e = &m->st.ents[index - m->st.ents[0].index];
	*out = *e;
	uint8_t *d = xmalloc(e->len ? e->len : 1);
	if (e->len)
		memcpy(d, e->data, e->len);
	out->data = d;
	return 0;
}

static int
mem_compact(struct rft_store *s, uint64_t upto)
{
	struct memstore *m = (struct memstore *)s;
	size_t k = 0;
	while (k < m->st.n && m->st.ents[k].index <= upto)
		free((void *)m->st.ents[k++].data);
	memmove(m->st.ents, m->st.ents + k,
	    (m->st.n - k) * sizeof(*m->st.ents));
	m->st.n -= k;
	return 0;
}

static int
mem_reset(struct rft_store *s)
{
	mem_drop_from((struct memstore *)s, 0);
	return 0;
}

static int
mem_set_term(struct rft_store *s, uint64_t term, uint64_t vote)
{
	struct memstore *m = (struct memstore *)s;
	m->st.term = term;
	m->st.vote = vote;
	return 0;
}

static int
mem_set_conf(struct rft_store *s, const struct rft_conf *c)
{
	struct memstore *m = (struct memstore *)s;
	m->st.conf = *c;
	m->st.has_conf = true;
	return 0;
}

static void
mem_close(struct rft_store *s)
{
	struct memstore *m = (struct memstore *)s;
	rft_stored_free(&m->st);
	free(m);
}

static const struct rft_store_ops mem_ops = {
	mem_load, mem_append, mem_compact, mem_reset, mem_set_term,
	mem_set_conf, mem_close, mem_append_async, mem_drain, mem_get,
};

struct rft_store *
rft_store_open_memory(void)
{
	struct memstore *m = xcalloc(1, sizeof(*m));
	m->base.ops = &mem_ops;
	return &m->base;
}
