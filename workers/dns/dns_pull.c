/*
 * The client agent's DNS feed (dns_pull.h).  The three reads wake on the
 * same write (one Raft index moves every table it touched), so their
 * answers arrive together; the model is rebuilt a moment after the last
 * one (PULL_SETTLE) rather than once per answer, which keeps an instance
 * from being served between its registration and its critical check's
 * arrival.  Errors retry after PULL_RETRY, like Consul's watch backoff;
 * an index that goes backwards (a restored snapshot, another server)
 * restarts that read from 0, as Consul's blocking clients do.
 */
#include "workers/dns/dns_pull.h"
#include "workers/dns/dns_model.h"
#include "workers/common/worker.h"
#include "lib/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PULL_WAIT_MS (5 * 60 * 1000)	/* Consul's default wait */
#define PULL_RETRY 1.0			/* seconds */
#define PULL_SETTLE 0.02

enum { P_NODES, P_SVCS, P_CHECKS, P_N };

struct pull_slot {
	struct dns_pull *p;
	uint8_t what;
	int64_t reqid;			/* 0: none in flight */
	uint64_t index;
	struct buf data;		/* the last CAT_READ */
	bool have;
};

struct dns_pull {
	struct worker *w;
	struct dns_model *m;
	struct pull_slot s[P_N];
	ev_timer retry, settle;
	uint64_t rebuilds;
};

static void issue(struct pull_slot *s);

/* Start a one-shot timer unless it is pending.  A one-shot timer that has
 * fired keeps a spent due time, so it is set again before each start
 * (else it would fire at once, forever). */
static void
arm(struct ev_loop *loop, ev_timer *t, double after)
{
	if (ev_is_active(t))
		return;
	ev_timer_set(t, after, 0);
	ev_timer_start(loop, t);
}

static void
reply_cb(void *arg, struct ipc_msg *m, int err)
{
	struct pull_slot *s = arg;
	struct dns_pull *p = s->p;
	struct proto_cat_read r;
	s->reqid = 0;
	if (err < 0 || m == NULL || m->hdr.type != PROTO_CAT_READ ||
	    proto_dec_cat_read(m->data, m->len, &r) < 0) {
		log_debug("dns pull: catalog read %u failed (%d)", s->what, err);
		arm(p->w->loop, &p->retry, PULL_RETRY);
		return;
	}
	if (r.index < s->index)
		s->index = 0;
	else if (!s->have || r.index != s->index) {
		buf_reset(&s->data);
		buf_add(&s->data, m->data, m->len);
		s->have = true;
		s->index = r.index;
		arm(p->w->loop, &p->settle, PULL_SETTLE);
	}
	issue(s);
}

static void
issue(struct pull_slot *s)
{
	struct proto_cat_read_req q = { .what = s->what,
		.name = s->what == CAT_Q_HEALTH_STATE ? PROTO_STR("any") :
		    PROTO_STR(""),
		.min_index = s->index, .wait_ms = s->index ? PULL_WAIT_MS : 0,
		.consistency = 1 };
	struct buf b;
	if (s->reqid > 0)
		return;
	buf_init(&b);
	proto_enc_cat_read_req(&b, &q);
	int64_t r = worker_request(s->p->w, PROC_STORE, PROTO_CAT_READ_REQ, &b,
	    PULL_WAIT_MS + 30000, reply_cb, s);
	buf_free(&b);
	s->reqid = r > 0 ? r : 0;
	if (r < 0)
		arm(s->p->w->loop, &s->p->retry, PULL_RETRY);
}

static void
retry_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	dns_pull_start(t->data);
}

/* ---- rebuilding the model from the three answers ----------------------- */

struct b_svc {
	struct proto_cat_service s;
	uint8_t health;
};

struct b_node {
	struct proto_cat_node n;
	uint8_t health;
	struct b_svc *svcs;
	uint32_t nsvcs, cap;
};

static int
pstr_casecmp(struct proto_str a, struct proto_str b)
{
	uint32_t n = MIN(a.len, b.len);
	int c = n ? strncasecmp(a.p, b.p, n) : 0;
	if (c == 0 && a.len != b.len)
		c = a.len < b.len ? -1 : 1;
	return c;
}

static int
node_cmp(const void *a, const void *b)
{
	return pstr_casecmp(((const struct b_node *)a)->n.node,
	    ((const struct b_node *)b)->n.node);
}

static int
svc_cmp(const void *a, const void *b)
{
	return pstr_casecmp(((const struct b_svc *)a)->s.id,
	    ((const struct b_svc *)b)->s.id);
}

static struct b_node *
find_node(struct b_node *v, size_t n, struct proto_str name)
{
	struct b_node k = { .n = { .node = name } };
	return bsearch(&k, v, n, sizeof(*v), node_cmp);
}

static size_t
load_nodes(const struct proto_cat_read *r, struct b_node **out)
{
	struct proto_strv_iter it;
	struct proto_str s;
	struct b_node *v = xcalloc(r->items.n + 1, sizeof(*v));
	size_t n = 0;
	proto_strv_iter_init(&it, &r->items);
	while (proto_strv_next(&it, &s))
		if (proto_dec_cat_node(s.p, s.len, &v[n].n) == 0)
			n++;
	qsort(v, n, sizeof(*v), node_cmp);
	*out = v;
	return n;
}

static void
load_services(const struct proto_cat_read *r, struct b_node *v, size_t n)
{
	struct proto_strv_iter it;
	struct proto_str s;
	struct proto_cat_entry e;
	struct b_svc bs = { 0 };
	struct b_node *bn;
	proto_strv_iter_init(&it, &r->items);
	while (proto_strv_next(&it, &s)) {
		if (proto_dec_cat_entry(s.p, s.len, &e) < 0 ||
		    proto_dec_cat_service(e.service.p, e.service.len,
		    &bs.s) < 0 || (bn = find_node(v, n, bs.s.node)) == NULL)
			continue;
		if (bn->nsvcs == bn->cap) {
			bn->cap = bn->cap ? 2 * bn->cap : 4;
			bn->svcs = xrealloc(bn->svcs, bn->cap * sizeof(*bn->svcs));
		}
		bn->svcs[bn->nsvcs++] = bs;
	}
	for (size_t i = 0; i < n; i++)
		if (v[i].nsvcs > 1)
			qsort(v[i].svcs, v[i].nsvcs, sizeof(*v[i].svcs), svc_cmp);
}

static void
load_checks(const struct proto_cat_read *r, struct b_node *v, size_t n)
{
	struct proto_strv_iter it;
	struct proto_str s;
	struct proto_cat_check c;
	struct b_node *bn;
	struct b_svc k, *bs;
	proto_strv_iter_init(&it, &r->items);
	while (proto_strv_next(&it, &s)) {
		if (proto_dec_cat_check(s.p, s.len, &c) < 0 ||
		    (bn = find_node(v, n, c.node)) == NULL)
			continue;
		uint8_t h = (uint8_t)dns_health_of(c.status.p, c.status.len);
		k.s.id = c.service_id;
		if (c.service_id.len == 0)
			bn->health = MAX(bn->health, h);
		else if ((bs = bsearch(&k, bn->svcs, bn->nsvcs,
		    sizeof(*bn->svcs), svc_cmp)) != NULL)
			bs->health = MAX(bs->health, h);
	}
}

/* Views of n messages encoded back to back in b at offs. */
static struct proto_str *
views(const struct buf *b, const size_t *offs, uint32_t n)
{
	struct proto_str *v = xcalloc(n + 1, sizeof(*v));
	for (uint32_t i = 0; i < n; i++)
		v[i] = (struct proto_str){ (const char *)b->data + offs[i],
		    (uint32_t)((i + 1 < n ? offs[i + 1] : b->len) - offs[i]) };
	return v;
}

static void
enc_node(struct buf *out, const struct b_node *bn)
{
	struct buf svcs;
	size_t *offs = xcalloc(bn->nsvcs + 1, sizeof(*offs));
	buf_init(&svcs);
	for (uint32_t i = 0; i < bn->nsvcs; i++) {
		const struct proto_cat_service *s = &bn->svcs[i].s;
		struct proto_dns_svc m = { .id = s->id, .service = s->service,
			.kind = s->kind, .address = s->address, .port = s->port,
			.tags = s->tags, .weights_passing = s->weights_passing,
			.weights_warning = s->weights_warning,
			.connect_native = s->connect_native,
			.health = bn->svcs[i].health };
		offs[i] = svcs.len;
		proto_enc_dns_svc(&svcs, &m);
	}
	struct proto_str *items = views(&svcs, offs, bn->nsvcs);
	struct proto_dns_node m = { .name = bn->n.node,
		.address = bn->n.address, .datacenter = bn->n.datacenter,
		.meta = bn->n.meta, .health = bn->health, .all_services = true,
		.services = { .n = bn->nsvcs, .strs = items } };
	proto_enc_dns_node(out, &m);
	buf_free(&svcs);
	free(offs);
	free(items);
}

static void
rebuild(struct dns_pull *p)
{
	struct proto_cat_read r[P_N];
	struct b_node *v;
	struct buf rows, out;
	for (int i = 0; i < P_N; i++)
		if (!p->s[i].have || proto_dec_cat_read(p->s[i].data.data,
		    p->s[i].data.len, &r[i]) < 0)
			return;
	size_t n = load_nodes(&r[P_NODES], &v);
	load_services(&r[P_SVCS], v, n);
	load_checks(&r[P_CHECKS], v, n);
	size_t *offs = xcalloc(n + 1, sizeof(*offs));
	buf_init(&rows);
	for (size_t i = 0; i < n; i++) {
		offs[i] = rows.len;
		enc_node(&rows, &v[i]);
		free(v[i].svcs);
	}
	struct proto_str *items = views(&rows, offs, (uint32_t)n);
	struct proto_dns_update u = { .seq = 0, .reset = true,
		.complete = true, .index = MAX(MAX(r[0].index, r[1].index),
		    r[2].index), .nodes = { .n = (uint32_t)n, .strs = items } };
	buf_init(&out);
	proto_enc_dns_update(&out, &u);
	if (dns_model_update(p->m, out.data, out.len) < 0)
		log_warnx("dns pull: catalog answers do not make a model");
	p->rebuilds++;
	buf_free(&out);
	buf_free(&rows);
	free(items);
	free(offs);
	free(v);
}

static void
settle_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	rebuild(t->data);
}

/* ---- life cycle --------------------------------------------------------- */

struct dns_pull *
dns_pull_new(struct worker *w, struct dns_model *m)
{
	static const uint8_t what[P_N] = { CAT_Q_NODES, CAT_Q_SERVICES_FULL,
		CAT_Q_HEALTH_STATE };
	struct dns_pull *p = xcalloc(1, sizeof(*p));
	p->w = w;
	p->m = m;
	for (int i = 0; i < P_N; i++) {
		p->s[i].p = p;
		p->s[i].what = what[i];
		buf_init(&p->s[i].data);
	}
	ev_timer_init(&p->retry, retry_cb, PULL_RETRY, 0);
	p->retry.data = p;
	ev_timer_init(&p->settle, settle_cb, PULL_SETTLE, 0);
	p->settle.data = p;
	return p;
}

void
dns_pull_start(struct dns_pull *p)
{
	ev_timer_stop(p->w->loop, &p->retry);
	for (int i = 0; i < P_N; i++)
		issue(&p->s[i]);
}

void
dns_pull_free(struct dns_pull *p)
{
	if (p == NULL)
		return;
	for (int i = 0; i < P_N; i++) {
		if (p->s[i].reqid > 0)
			worker_request_cancel(p->w, PROC_STORE, p->s[i].reqid);
		buf_free(&p->s[i].data);
	}
	ev_timer_stop(p->w->loop, &p->retry);
	ev_timer_stop(p->w->loop, &p->settle);
	free(p);
}
