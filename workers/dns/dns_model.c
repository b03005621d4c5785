/*
 * The read model (dns_model.h): two AVL trees per table set, nodes by
 * name and instances by (service name, node, ID) so a service lookup is
 * one seek plus a walk.  A node's row is replaced whole by every update
 * naming it; its instances go with it.
 */
#include "workers/dns/dns_model.h"
#include "lib/avl.h"
#include "proto/proto.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct m_node;

struct m_svc {
	struct avl_node by_name;
	struct m_svc *prev, *next;	/* the node's instances */
	struct m_node *node;
	char *id, *name, *kind, *address;
	char **tags;
	uint32_t ntags;
	uint16_t port, w_passing, w_warning;
	bool connect_native;
	enum dns_health health;
};

struct m_node {
	struct avl_node by_name;
	char *name, *address, *dc;
	struct dns_meta *meta;
	size_t nmeta;
	enum dns_health health;
	struct m_svc *svcs;
	uint32_t nsvcs;
};

struct m_tables {
	struct avl_tree nodes;
	struct avl_tree insts;
};

struct dns_model {
	struct m_tables cur, next;
	bool building;		/* a reset began: next is being filled */
	bool in_stream;		/* seq is meaningful */
	bool synced;
	uint64_t seq, index, next_index;
	char *dc;
};

/* ---- keys --------------------------------------------------------------- */

static int
node_cmp(const struct avl_node *a, const struct avl_node *b)
{
	return strcasecmp(avl_entry(a, struct m_node, by_name)->name,
	    avl_entry(b, struct m_node, by_name)->name);
}

static int
node_key(const void *k, const struct avl_node *n)
{
	return strcasecmp(k, avl_entry(n, struct m_node, by_name)->name);
}

/* (service, node, ID); a NULL part sorts before every value, so a key
 * with a NULL tail seeks to the first instance of its prefix. */
struct inst_key {
	const char *name, *node, *id;
};

static int
inst_keycmp(const struct inst_key *k, const struct m_svc *s)
{
	int c = strcasecmp(k->name, s->name);
	if (c == 0)
		c = k->node ? strcasecmp(k->node, s->node->name) : -1;
	if (c == 0)
		c = k->id ? strcasecmp(k->id, s->id) : -1;
	return c;
}

static int
inst_cmp(const struct avl_node *a, const struct avl_node *b)
{
	const struct m_svc *x = avl_entry(a, struct m_svc, by_name);
	struct inst_key k = { x->name, x->node->name, x->id };
	return inst_keycmp(&k, avl_entry(b, struct m_svc, by_name));
}

static int
inst_key(const void *k, const struct avl_node *n)
{
	return inst_keycmp(k, avl_entry(n, struct m_svc, by_name));
}

/* ---- table sets --------------------------------------------------------- */

static void
tables_init(struct m_tables *t)
{
	avl_init(&t->nodes, node_cmp);
	avl_init(&t->insts, inst_cmp);
}

/* An instance is one allocation (svc_dec): its strings and tag vector
 * live in the same block. */
static void
svc_free(struct m_svc *s)
{
	free(s);
}

static void
svcs_free(struct m_svc *s)
{
	while (s) {
		struct m_svc *next = s->next;
		svc_free(s);
		s = next;
	}
}

static void
header_free(struct m_node *n)
{
	for (size_t i = 0; i < n->nmeta; i++) {
		free((char *)n->meta[i].key);
		free((char *)n->meta[i].value);
	}
	free(n->meta);
	free(n->name);
	free(n->address);
	free(n->dc);
}

static void
node_free(struct m_node *n)
{
	svcs_free(n->svcs);
	header_free(n);
	free(n);
}

static void
svc_unlink(struct m_tables *t, struct m_node *n, struct m_svc *s)
{
	avl_remove(&t->insts, &s->by_name);
	if (s->prev)
		s->prev->next = s->next;
	else
		n->svcs = s->next;
	if (s->next)
		s->next->prev = s->prev;
	n->nsvcs--;
	svc_free(s);
}

/* Drop the node's instances of name (all of them when name is NULL):
 * one seek in the instance tree, never a walk over all of n's. */
static void
svcs_remove(struct m_tables *t, struct m_node *n, const char *name)
{
	if (name == NULL) {
		while (n->svcs)
			svc_unlink(t, n, n->svcs);
		return;
	}
	struct inst_key k = { name, n->name, NULL };
	struct avl_node *a = avl_seek(&t->insts, &k, inst_key);
	while (a) {
		struct m_svc *s = avl_entry(a, struct m_svc, by_name);
		a = avl_next(a);
		if (s->node != n || strcasecmp(s->name, name) != 0)
			break;
		svc_unlink(t, n, s);
	}
}

static void
node_unlink(struct m_tables *t, struct m_node *n)
{
	svcs_remove(t, n, NULL);
	avl_remove(&t->nodes, &n->by_name);
	node_free(n);
}

static void
tables_free(struct m_tables *t)
{
	struct avl_node *a;
	while ((a = avl_first(&t->nodes)) != NULL)
		node_unlink(t, avl_entry(a, struct m_node, by_name));
}

static void
node_remove(struct m_tables *t, const char *name)
{
	struct avl_node *a = avl_find(&t->nodes, name, node_key);
	if (a)
		node_unlink(t, avl_entry(a, struct m_node, by_name));
}

/* ---- decoding ----------------------------------------------------------- */

/* One DNS_NODE: the header in node (its svcs not linked anywhere yet),
 * and which of the node's instances it replaces. */
struct m_row {
	struct m_node *node;
	bool all;
	char **names;
	uint32_t nnames;
};

enum dns_health
dns_health_of(const char *status, size_t len)
{
	if (len == 7 && memcmp(status, "passing", 7) == 0)
		return DNS_HEALTH_PASSING;
	if (len == 7 && memcmp(status, "warning", 7) == 0)
		return DNS_HEALTH_WARNING;
	return DNS_HEALTH_CRITICAL;
}

static char **
strv_dup(const struct proto_strv *v, uint32_t *n)
{
	struct proto_strv_iter it;
	struct proto_str s;
	char **out = xcalloc(v->n + 1, sizeof(*out));
	*n = 0;
	proto_strv_iter_init(&it, v);
	while (proto_strv_next(&it, &s)) {
		if ((out[*n] = proto_str_dup(s)) == NULL)
			break;
		(*n)++;
	}
	return out;
}

static void
strv_free(char **v, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static uint16_t
clamp16(int32_t v)
{
	return v < 0 ? 0 : v > 65535 ? 65535 : (uint16_t)v;
}

/* Copy p NUL-terminated to *at; false if p holds a NUL. */
static bool
pack_str(char **at, struct proto_str p, char **out)
{
	if (p.len && memchr(p.p, '\0', p.len) != NULL)
		return false;
	if (p.len)
		memcpy(*at, p.p, p.len);
	(*at)[p.len] = '\0';
	*out = *at;
	*at += p.len + 1;
	return true;
}

/*
 * One allocation per instance: struct, tag vector, then the strings.
 * With 10,000 instances on a node, eight small blocks each cost more in
 * malloc headers and rounding than the data (docs/performance.md, DNS
 * feed per-service deltas).
 */
static struct m_svc *
svc_dec(struct proto_str p)
{
	struct proto_dns_svc m;
	struct proto_strv_iter it;
	struct proto_str t;
	if (proto_dec_dns_svc(p.p, p.len, &m) < 0 || m.health > 2)
		return NULL;
	size_t len = m.id.len + m.service.len + m.kind.len + m.address.len +
	    4 + (size_t)m.tags.n * (sizeof(char *) + 1);
	uint32_t ntags = 0;
	proto_strv_iter_init(&it, &m.tags);
	while (proto_strv_next(&it, &t) && ntags < m.tags.n) {
		len += t.len;
		ntags++;
	}
	if (ntags != m.tags.n)
		return NULL;
	struct m_svc *s = xcalloc(1, sizeof(*s) + len);
	s->tags = (char **)(s + 1);
	char *at = (char *)(s->tags + ntags);
	bool ok = pack_str(&at, m.id, &s->id) &&
	    pack_str(&at, m.service, &s->name) &&
	    pack_str(&at, m.kind, &s->kind) &&
	    pack_str(&at, m.address, &s->address);
	proto_strv_iter_init(&it, &m.tags);
	while (ok && s->ntags < ntags && proto_strv_next(&it, &t))
		ok = pack_str(&at, t, &s->tags[s->ntags++]);
	if (!ok || s->ntags != ntags) {
		free(s);
		return NULL;
	}
	s->port = clamp16(m.port);
	s->w_passing = clamp16(m.weights_passing);
	s->w_warning = clamp16(m.weights_warning);
	s->connect_native = m.connect_native;
	s->health = (enum dns_health)m.health;
	return s;
}

static int
meta_dec(const struct proto_strv *v, struct m_node *n)
{
	uint32_t k;
	char **kv = strv_dup(v, &k);
	int r = k == v->n && k % 2 == 0 ? 0 : -EBADMSG;
	n->meta = xcalloc(k / 2 + 1, sizeof(*n->meta));
	for (uint32_t i = 0; i + 1 < k; i += 2) {
		n->meta[n->nmeta].key = kv[i];
		n->meta[n->nmeta++].value = kv[i + 1];
	}
	if (k % 2)
		free(kv[k - 1]);
	free(kv);
	return r;
}

static int
svcs_dec(const struct proto_strv *v, struct m_node *n)
{
	struct proto_strv_iter it;
	struct proto_str s;
	struct m_svc **tail = &n->svcs;
	proto_strv_iter_init(&it, v);
	while (proto_strv_next(&it, &s)) {
		if ((*tail = svc_dec(s)) == NULL)
			return -EBADMSG;
		tail = &(*tail)->next;
	}
	return 0;
}

static void
row_free(struct m_row *r)
{
	if (r->node)
		node_free(r->node);
	strv_free(r->names, r->nnames);
	memset(r, 0, sizeof(*r));
}

static int
row_dec(struct proto_str p, struct m_row *r)
{
	struct proto_dns_node m;
	memset(r, 0, sizeof(*r));
	if (proto_dec_dns_node(p.p, p.len, &m) < 0 || m.health > 2)
		return -EBADMSG;
	struct m_node *n = r->node = xcalloc(1, sizeof(*n));
	n->name = proto_str_dup(m.name);
	n->address = proto_str_dup(m.address);
	n->dc = proto_str_dup(m.datacenter);
	n->health = (enum dns_health)m.health;
	r->all = m.all_services;
	r->names = strv_dup(&m.service_names, &r->nnames);
	if (meta_dec(&m.meta, n) < 0 || svcs_dec(&m.services, n) < 0 ||
	    r->nnames != m.service_names.n || !n->name || !n->address ||
	    !n->dc || *n->name == '\0') {
		row_free(r);
		return -EBADMSG;
	}
	return 0;
}

/* Upsert the row's node: header replaced, then the instances it names
 * (or all) replaced by the row's.  An instance whose key is taken
 * already (listed twice) is dropped. */
static void
row_apply(struct m_tables *t, struct m_row *r)
{
	struct avl_node *a = avl_find(&t->nodes, r->node->name, node_key);
	struct m_node *n, *h = r->node;
	struct m_svc *s = h->svcs, *next;
	h->svcs = NULL;
	if (a == NULL) {
		n = h;
		avl_insert(&t->nodes, &n->by_name);
	} else {
		n = avl_entry(a, struct m_node, by_name);
		if (r->all)
			svcs_remove(t, n, NULL);
		for (uint32_t i = 0; i < r->nnames; i++)
			svcs_remove(t, n, r->names[i]);
		/* Same key case-insensitively: the tree order holds. */
		header_free(n);
		n->name = h->name;
		n->address = h->address;
		n->dc = h->dc;
		n->meta = h->meta;
		n->nmeta = h->nmeta;
		n->health = h->health;
		free(h);
	}
	r->node = NULL;
	for (; s; s = next) {
		next = s->next;
		s->node = n;
		s->prev = NULL;
		if (avl_insert(&t->insts, &s->by_name) != &s->by_name) {
			svc_free(s);
			continue;
		}
		s->next = n->svcs;
		if (n->svcs)
			n->svcs->prev = s;
		n->svcs = s;
		n->nsvcs++;
	}
}

/* ---- the stream --------------------------------------------------------- */

struct dns_model *
dns_model_new(const char *dc)
{
	struct dns_model *m = xcalloc(1, sizeof(*m));
	tables_init(&m->cur);
	tables_init(&m->next);
	m->dc = xstrdup(dc ? dc : "dc1");
	return m;
}

void
dns_model_free(struct dns_model *m)
{
	if (m == NULL)
		return;
	tables_free(&m->cur);
	tables_free(&m->next);
	free(m->dc);
	free(m);
}

void
dns_model_set_dc(struct dns_model *m, const char *dc)
{
	free(m->dc);
	m->dc = xstrdup(dc ? dc : "dc1");
}

void
dns_model_desync(struct dns_model *m)
{
	m->in_stream = false;
	m->building = false;
	tables_free(&m->next);
}

/* Decode every row first: a malformed message changes nothing. */
static int
apply_rows(struct m_tables *t, const struct proto_dns_update *u)
{
	struct proto_strv_iter it;
	struct proto_str s;
	struct m_row *rows = xcalloc(u->nodes.n + 1, sizeof(*rows));
	uint32_t n = 0;
	int r = 0;
	proto_strv_iter_init(&it, &u->nodes);
	while (r == 0 && proto_strv_next(&it, &s))
		if ((r = row_dec(s, &rows[n])) == 0)
			n++;
	proto_strv_iter_init(&it, &u->gone);
	while (r == 0 && proto_strv_next(&it, &s))
		if (memchr(s.p, '\0', s.len))
			r = -EBADMSG;
	for (uint32_t i = 0; i < n; i++) {
		if (r == 0)
			row_apply(t, &rows[i]);
		row_free(&rows[i]);
	}
	free(rows);
	proto_strv_iter_init(&it, &u->gone);
	while (r == 0 && proto_strv_next(&it, &s)) {
		char *name = proto_str_dup(s);
		node_remove(t, name);
		free(name);
	}
	return r;
}

int
dns_model_update(struct dns_model *m, const void *p, size_t len)
{
	struct proto_dns_update u;
	if (proto_dec_dns_update(p, len, &u) < 0)
		return -EBADMSG;
	if (u.reset) {
		tables_free(&m->next);
		m->building = true;
		m->in_stream = true;
		m->next_index = 0;
	} else if (!m->in_stream || u.seq != m->seq + 1)
		return -ESTALE;
	m->seq = u.seq;
	if (m->building) {
		int r = apply_rows(&m->next, &u);
		if (r < 0) {
			dns_model_desync(m);
			return r;
		}
		m->next_index = MAX(m->next_index, u.index);
		if (u.complete) {
			tables_free(&m->cur);
			m->cur = m->next;
			tables_init(&m->next);
			m->building = false;
			m->synced = true;
			m->index = m->next_index;
		}
		return 0;
	}
	/* A delta older than the rows held would undo newer ones. */
	if (u.index < m->index)
		return 0;
	m->index = u.index;
	return apply_rows(&m->cur, &u);
}

bool
dns_model_synced(const struct dns_model *m)
{
	return m->synced;
}

uint64_t
dns_model_index(const struct dns_model *m)
{
	return m->index;
}

void
dns_model_counts(const struct dns_model *m, size_t *nodes, size_t *instances)
{
	*nodes = m->cur.nodes.count;
	*instances = m->cur.insts.count;
}

/* ---- lookups (struct dns_lookup) ---------------------------------------- */

static bool
dc_ok(const struct dns_model *m, const char *dc)
{
	return dc == NULL || *dc == '\0' || strcasecmp(dc, m->dc) == 0;
}

static void
node_view(const struct m_node *n, struct dns_node *out)
{
	out->name = n->name;
	out->dc = n->dc;
	out->address = n->address;
	out->meta = n->meta;
	out->nmeta = n->nmeta;
}

static int
lk_node(void *ctx, const char *dc, const char *name, struct dns_node *out)
{
	struct dns_model *m = ctx;
	if (!dc_ok(m, dc))
		return -ENOENT;
	struct avl_node *a = avl_find(&m->cur.nodes, name, node_key);
	if (a == NULL)
		return 0;
	node_view(avl_entry(a, struct m_node, by_name), out);
	return 1;
}

static bool
has_tag(const struct m_svc *s, const char *tag)
{
	for (uint32_t i = 0; i < s->ntags; i++)
		if (strcasecmp(s->tags[i], tag) == 0)
			return true;
	return false;
}

/* <svc>.connect: Consul returns mesh proxies and connect-native
 * services; the catalog accepts no proxy kinds, so only the latter.
 * <svc>.ingress: ingress gateways, which the catalog cannot hold. */
static bool
kind_ok(const struct m_svc *s, enum dns_service_kind kind)
{
	switch (kind) {
	case DNS_SVC_PLAIN:
		return true;
	case DNS_SVC_CONNECT:
		return s->connect_native;
	default:
		return false;
	}
}

static int
lk_service(void *ctx, const struct dns_service_query *q, dns_instance_fn *fn,
    void *arg)
{
	struct dns_model *m = ctx;
	struct inst_key k = { q->service, NULL, NULL };
	int found = 0;
	if (!dc_ok(m, q->dc))
		return -ENOENT;
	for (struct avl_node *a = avl_seek(&m->cur.insts, &k, inst_key); a;
	    a = avl_next(a)) {
		const struct m_svc *s = avl_entry(a, struct m_svc, by_name);
		if (strcasecmp(s->name, q->service) != 0)
			break;
		if (!kind_ok(s, q->kind) || (q->tag && !has_tag(s, q->tag)))
			continue;
		struct dns_instance in = { .service = s->name,
			.address = s->address, .port = s->port,
			.health = MAX(s->health, s->node->health),
			.weight_passing = s->w_passing,
			.weight_warning = s->w_warning };
		node_view(s->node, &in.node);
		fn(arg, &in);
		found = 1;
	}
	return found;
}

static bool
same_ip(const char *text, int af, const uint8_t *ip)
{
	uint8_t b[16];
	size_t len = af == AF_INET ? 4 : 16;
	return text && *text && inet_pton(af, text, b) == 1 &&
	    memcmp(b, ip, len) == 0;
}

/* Rare enough (PTR queries) to walk the tables rather than keep an
 * address index up to date on every update. */
static int
lk_reverse(void *ctx, const char *ip, struct dns_ptr *out)
{
	struct dns_model *m = ctx;
	uint8_t want[16];
	int af = strchr(ip, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(af, ip, want) != 1)
		return 0;
	for (struct avl_node *a = avl_first(&m->cur.nodes); a; a = avl_next(a)) {
		const struct m_node *n = avl_entry(a, struct m_node, by_name);
		if (same_ip(n->address, af, want)) {
			*out = (struct dns_ptr){ false, n->name, n->dc };
			return 1;
		}
	}
	for (struct avl_node *a = avl_first(&m->cur.insts); a; a = avl_next(a)) {
		const struct m_svc *s = avl_entry(a, struct m_svc, by_name);
		if (same_ip(s->address, af, want)) {
			*out = (struct dns_ptr){ true, s->name, s->node->dc };
			return 1;
		}
	}
	return 0;
}

void
dns_model_lookup(struct dns_model *m, struct dns_lookup *out)
{
	*out = (struct dns_lookup){ .ctx = m, .node = lk_node,
		.service = lk_service, .reverse = lk_reverse, .query = NULL };
}
