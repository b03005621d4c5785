/*
 * Catalog rows to and from their IPC messages (proto/schema_catalog.h),
 * and the catalog's records in the store's snapshots.
 *
 * Maps are kept sorted by key (byte order, as Go prints map keys) with
 * unique keys: decoding sorts and keeps the last value of a repeated key,
 * as Go's decoder does.  Rows decoded from untrusted bytes are checked
 * (no NUL inside a string, whole key/value pairs) and dropped otherwise.
 */
#include "workers/store/catalog.h"
#include "workers/store/catalog_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- lists of encoded items ------------------------------------------- */

void
cat_list_init(struct cat_list *l)
{
	memset(l, 0, sizeof(*l));
	buf_init(&l->data);
}

struct buf *
cat_list_add(struct cat_list *l)
{
	if (l->n + 1 >= l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		l->offs = xrealloc(l->offs, l->cap * sizeof(*l->offs));
	}
	l->offs[l->n++] = l->data.len;
	return &l->data;
}

struct proto_strv
cat_list_strv(struct cat_list *l)
{
	free(l->strs);
	l->strs = xcalloc(l->n + 1, sizeof(*l->strs));
	for (uint32_t i = 0; i < l->n; i++) {
		size_t end = i + 1 < l->n ? l->offs[i + 1] : l->data.len;
		l->strs[i].p = (const char *)l->data.data + l->offs[i];
		l->strs[i].len = (uint32_t)(end - l->offs[i]);
	}
	return (struct proto_strv){ .n = l->n, .strs = l->strs };
}

void
cat_list_free(struct cat_list *l)
{
	buf_free(&l->data);
	free(l->offs);
	free(l->strs);
	memset(l, 0, sizeof(*l));
}

/* ---- strings and maps ---------------------------------------------------- */

/* A view as a fresh string; "" and *ok false when it holds a NUL. */
static char *
dup(struct proto_str s, bool *ok)
{
	char *r = proto_str_dup(s);
	if (r == NULL) {
		*ok = false;
		return xstrdup("");
	}
	return r;
}

static char **
dec_strs(const struct proto_strv *v, uint32_t *n, bool *ok)
{
	struct proto_strv_iter it;
	struct proto_str s;
	char **out = xcalloc(v->n + 1, sizeof(*out));
	*n = 0;
	proto_strv_iter_init(&it, v);
	while (*n < v->n && proto_strv_next(&it, &s))
		out[(*n)++] = dup(s, ok);
	return out;
}

struct kv_pos {
	struct cat_kv kv;
	uint32_t pos;
};

static int
kv_pos_cmp(const void *a, const void *b)
{
	const struct kv_pos *x = a, *y = b;
	int c = strcmp(x->kv.key, y->kv.key);
	return c ? c : (x->pos > y->pos) - (x->pos < y->pos);
}

/* Sort by key, the last of a repeated key winning. */
static uint32_t
kv_normalize(struct kv_pos *p, uint32_t n, struct cat_kv *out)
{
	uint32_t m = 0;
	qsort(p, n, sizeof(*p), kv_pos_cmp);
	for (uint32_t i = 0; i < n; i++) {
		if (i + 1 < n && strcmp(p[i].kv.key, p[i + 1].kv.key) == 0) {
			free(p[i].kv.key);
			free(p[i].kv.val);
			continue;
		}
		out[m++] = p[i].kv;
	}
	return m;
}

static struct cat_kv *
dec_kv(const struct proto_strv *v, uint32_t *n, bool *ok)
{
	struct proto_strv_iter it;
	struct proto_str k, val;
	uint32_t pairs = v->n / 2, i = 0;
	struct kv_pos *p = xcalloc(pairs + 1, sizeof(*p));
	struct cat_kv *out = xcalloc(pairs + 1, sizeof(*out));
	if (v->n % 2)
		*ok = false;
	proto_strv_iter_init(&it, v);
	while (i < pairs && proto_strv_next(&it, &k) &&
	    proto_strv_next(&it, &val)) {
		p[i].kv.key = dup(k, ok);
		p[i].kv.val = dup(val, ok);
		p[i].pos = i;
		i++;
	}
	*n = kv_normalize(p, i, out);
	free(p);
	return out;
}

static void
enc_kv(const struct cat_kv *kv, uint32_t n, const char ***items,
    struct proto_strv *out)
{
	*items = xcalloc(2 * (size_t)n + 1, sizeof(**items));
	for (uint32_t i = 0; i < n; i++) {
		(*items)[2 * i] = kv[i].key;
		(*items)[2 * i + 1] = kv[i].val;
	}
	*out = (struct proto_strv){ .n = 2 * n, .items = *items };
}

/* ---- nodes ------------------------------------------------------------- */

void
cat_enc_node(struct buf *out, const struct cat_node *n)
{
	const char **t, **m;
	struct proto_cat_node msg = {
		.id = proto_str_c(n->id), .node = proto_str_c(n->name),
		.address = proto_str_c(n->address),
		.datacenter = proto_str_c(n->dc), .has_tagged = n->has_tagged,
		.has_meta = n->has_meta, .create_index = n->create_index,
		.modify_index = n->modify_index,
	};
	enc_kv(n->tagged, n->ntagged, &t, &msg.tagged_addresses);
	enc_kv(n->meta, n->nmeta, &m, &msg.meta);
	proto_enc_cat_node(out, &msg);
	free(t);
	free(m);
}

struct cat_node *
cat_dec_node(const void *p, size_t len)
{
	struct proto_cat_node m;
	bool ok = true;
	if (proto_dec_cat_node(p, len, &m) < 0)
		return NULL;
	struct cat_node *n = xcalloc(1, sizeof(*n));
	n->id = dup(m.id, &ok);
	n->name = dup(m.node, &ok);
	n->address = dup(m.address, &ok);
	n->dc = dup(m.datacenter, &ok);
	n->has_tagged = m.has_tagged || m.tagged_addresses.n;
	n->tagged = dec_kv(&m.tagged_addresses, &n->ntagged, &ok);
	n->has_meta = m.has_meta || m.meta.n;
	n->meta = dec_kv(&m.meta, &n->nmeta, &ok);
	n->create_index = m.create_index;
	n->modify_index = m.modify_index;
	cat_node_init_trees(n);
	if (!ok) {
		cat_node_free(n);
		return NULL;
	}
	return n;
}

/* ---- services ---------------------------------------------------------- */

static int
addr_cmp(const void *a, const void *b)
{
	return strcmp(((const struct cat_addr *)a)->key,
	    ((const struct cat_addr *)b)->key);
}

static struct cat_addr *
dec_addrs(const struct proto_strv *v, uint32_t *n, bool *ok)
{
	struct proto_strv_iter it;
	struct proto_str item;
	struct cat_addr *out = xcalloc(v->n + 1, sizeof(*out));
	uint32_t m = 0;
	proto_strv_iter_init(&it, v);
	while (m < v->n && proto_strv_next(&it, &item)) {
		struct proto_cat_svc_addr a;
		if (proto_dec_cat_svc_addr(item.p, item.len, &a) < 0) {
			*ok = false;
			break;
		}
		out[m].key = dup(a.key, ok);
		out[m].address = dup(a.address, ok);
		out[m++].port = a.port;
	}
	/* Unique keys, sorted: the encoder (http) sends them so; a
	 * repeated key from anyone else is refused. */
	qsort(out, m, sizeof(*out), addr_cmp);
	for (uint32_t i = 1; i < m; i++)
		if (strcmp(out[i - 1].key, out[i].key) == 0)
			*ok = false;
	*n = m;
	return out;
}

void
cat_enc_service(struct buf *out, const struct cat_service *s)
{
	const char **m;
	struct cat_list addrs;
	cat_list_init(&addrs);
	for (uint32_t i = 0; i < s->ntagged; i++) {
		struct proto_cat_svc_addr a = {
			.key = proto_str_c(s->tagged[i].key),
			.address = proto_str_c(s->tagged[i].address),
			.port = s->tagged[i].port,
		};
		proto_enc_cat_svc_addr(cat_list_add(&addrs), &a);
	}
	struct proto_cat_service msg = {
		.node = proto_str_c(s->node ? s->node->name : ""),
		.kind = proto_str_c(s->kind), .id = proto_str_c(s->id),
		.service = proto_str_c(s->name),
		.tags = { .n = s->ntags, .items = (const char *const *)s->tags },
		.address = proto_str_c(s->address),
		.tagged_addresses = cat_list_strv(&addrs),
		.has_meta = s->has_meta, .port = s->port,
		.socket_path = proto_str_c(s->socket_path),
		.weights_passing = s->w_passing, .weights_warning = s->w_warning,
		.enable_tag_override = s->enable_tag_override,
		.connect_native = s->connect_native,
		.create_index = s->create_index, .modify_index = s->modify_index,
	};
	enc_kv(s->meta, s->nmeta, &m, &msg.meta);
	proto_enc_cat_service(out, &msg);
	free(m);
	cat_list_free(&addrs);
}

struct cat_service *
cat_dec_service(const void *p, size_t len, char **node)
{
	struct proto_cat_service m;
	bool ok = true;
	if (proto_dec_cat_service(p, len, &m) < 0)
		return NULL;
	struct cat_service *s = xcalloc(1, sizeof(*s));
	s->kind = dup(m.kind, &ok);
	s->id = dup(m.id, &ok);
	s->name = dup(m.service, &ok);
	s->tags = dec_strs(&m.tags, &s->ntags, &ok);
	s->address = dup(m.address, &ok);
	s->tagged = dec_addrs(&m.tagged_addresses, &s->ntagged, &ok);
	s->has_meta = m.has_meta || m.meta.n;
	s->meta = dec_kv(&m.meta, &s->nmeta, &ok);
	s->port = m.port;
	s->socket_path = dup(m.socket_path, &ok);
	s->w_passing = m.weights_passing;
	s->w_warning = m.weights_warning;
	s->enable_tag_override = m.enable_tag_override;
	s->connect_native = m.connect_native;
	s->create_index = m.create_index;
	s->modify_index = m.modify_index;
	if (node)
		*node = dup(m.node, &ok);
	if (!ok) {
		cat_service_free(s);
		if (node) {
			free(*node);
			*node = NULL;
		}
		return NULL;
	}
	return s;
}

/* ---- checks ------------------------------------------------------------- */

void
cat_enc_check(struct buf *out, const struct cat_check *c)
{
	struct proto_cat_check msg = {
		.node = proto_str_c(c->node_name),
		.check_id = proto_str_c(c->check_id),
		.name = proto_str_c(c->name), .status = proto_str_c(c->status),
		.notes = proto_str_c(c->notes), .output = proto_str_c(c->output),
		.service_id = proto_str_c(c->service_id),
		.service_name = proto_str_c(c->service_name),
		.service_tags = { .n = c->nservice_tags,
			.items = (const char *const *)c->service_tags },
		.type = proto_str_c(c->type), .interval = proto_str_c(c->interval),
		.timeout = proto_str_c(c->timeout),
		.exposed_port = c->exposed_port,
		.definition = proto_str_c(c->definition),
		.create_index = c->create_index, .modify_index = c->modify_index,
	};
	proto_enc_cat_check(out, &msg);
}

struct cat_check *
cat_dec_check(const void *p, size_t len)
{
	struct proto_cat_check m;
	bool ok = true;
	if (proto_dec_cat_check(p, len, &m) < 0)
		return NULL;
	struct cat_check *c = xcalloc(1, sizeof(*c));
	c->node_name = dup(m.node, &ok);
	c->check_id = dup(m.check_id, &ok);
	c->name = dup(m.name, &ok);
	c->status = dup(m.status, &ok);
	c->notes = dup(m.notes, &ok);
	c->output = dup(m.output, &ok);
	c->service_id = dup(m.service_id, &ok);
	c->service_name = dup(m.service_name, &ok);
	c->service_tags = dec_strs(&m.service_tags, &c->nservice_tags, &ok);
	c->type = dup(m.type, &ok);
	c->interval = dup(m.interval, &ok);
	c->timeout = dup(m.timeout, &ok);
	c->exposed_port = m.exposed_port;
	c->definition = m.definition.len ? dup(m.definition, &ok) :
	    xstrdup("{}");
	c->create_index = m.create_index;
	c->modify_index = m.modify_index;
	if (!ok) {
		cat_check_free(c);
		return NULL;
	}
	return c;
}

/* ---- registrations -------------------------------------------------------- */

int
cat_dec_register(const void *p, size_t len, struct cat_reg *r)
{
	struct proto_cat_register m;
	struct proto_strv_iter it;
	struct proto_str item;
	memset(r, 0, sizeof(*r));
	if (proto_dec_cat_register(p, len, &m) < 0 ||
	    (r->node = cat_dec_node(m.node.p, m.node.len)) == NULL)
		return -EBADMSG;
	r->skip_node_update = m.skip_node_update;
	if (m.service.len &&
	    (r->service = cat_dec_service(m.service.p, m.service.len,
	    NULL)) == NULL)
		goto bad;
	r->checks = xcalloc(m.checks.n + 1, sizeof(*r->checks));
	proto_strv_iter_init(&it, &m.checks);
	while (r->nchecks < m.checks.n && proto_strv_next(&it, &item)) {
		struct cat_check *c = cat_dec_check(item.p, item.len);
		if (c == NULL)
			goto bad;
		r->checks[r->nchecks++] = c;
	}
	return 0;
bad:
	cat_reg_free(r);
	return -EBADMSG;
}

void
cat_enc_register(struct buf *out, const struct cat_reg *r)
{
	struct buf node, svc;
	struct cat_list checks;
	buf_init(&node);
	buf_init(&svc);
	cat_list_init(&checks);
	cat_enc_node(&node, r->node);
	if (r->service)
		cat_enc_service(&svc, r->service);
	for (uint32_t i = 0; i < r->nchecks; i++)
		cat_enc_check(cat_list_add(&checks), r->checks[i]);
	struct proto_cat_register m = {
		.node = { (const char *)node.data, (uint32_t)node.len },
		.skip_node_update = r->skip_node_update,
		.service = { (const char *)svc.data, (uint32_t)svc.len },
		.checks = cat_list_strv(&checks),
	};
	proto_enc_cat_register(out, &m);
	buf_free(&node);
	buf_free(&svc);
	cat_list_free(&checks);
}

/* ---- snapshots ------------------------------------------------------------ */

static int
put_index(cat_record_fn *fn, void *arg, struct buf *rec, const char *scope,
    const char *name, uint64_t v)
{
	buf_reset(rec);
	char *key = xasprintf("%s%s", scope, name ? name : "");
	proto_put_str(rec, proto_str_c(key));
	proto_put_u64(rec, v);
	free(key);
	return fn(arg, CAT_SNAP_INDEX, rec);
}

static int
write_indexes(const struct cat_db *db, cat_record_fn *fn, void *arg,
    struct buf *rec)
{
	int r = put_index(fn, arg, rec, "nodes", NULL, db->idx_nodes);
	if (r == 0)
		r = put_index(fn, arg, rec, "services", NULL, db->idx_services);
	if (r == 0)
		r = put_index(fn, arg, rec, "checks", NULL, db->idx_checks);
	if (r == 0)
		r = put_index(fn, arg, rec, "services_gone", NULL,
		    db->services_gone);
	if (r == 0)
		r = put_index(fn, arg, rec, "nodes_gone", NULL, db->nodes_gone);
	for (struct cat_node *n = cat_node_first(db); r == 0 && n;
	    n = cat_node_next(n))
		r = put_index(fn, arg, rec, "n:", n->name, n->index);
	for (struct avl_node *a = avl_first(&db->names); r == 0 && a;
	    a = avl_next(a)) {
		struct cat_name *nm = avl_entry(a, struct cat_name, node);
		r = put_index(fn, arg, rec, "s:", nm->name, nm->index);
	}
	return r;
}

int
cat_snapshot_write(const struct cat_db *db, cat_record_fn *fn, void *arg)
{
	struct buf rec;
	int r = 0;
	buf_init(&rec);
	for (struct cat_node *n = cat_node_first(db); r == 0 && n;
	    n = cat_node_next(n)) {
		buf_reset(&rec);
		cat_enc_node(&rec, n);
		r = fn(arg, CAT_SNAP_NODE, &rec);
	}
	for (struct cat_service *s = cat_instance_any_first(db); r == 0 && s;
	    s = cat_instance_next(s)) {
		buf_reset(&rec);
		cat_enc_service(&rec, s);
		r = fn(arg, CAT_SNAP_SERVICE, &rec);
	}
	for (struct cat_node *n = cat_node_first(db); r == 0 && n;
	    n = cat_node_next(n))
		for (struct cat_check *c = cat_node_check_first(n); r == 0 && c;
		    c = cat_node_check_next(c)) {
			buf_reset(&rec);
			cat_enc_check(&rec, c);
			r = fn(arg, CAT_SNAP_CHECK, &rec);
		}
	if (r == 0)
		r = write_indexes(db, fn, arg, &rec);
	buf_free(&rec);
	return r;
}

static int
restore_index(struct cat_db *db, const uint8_t *p, size_t len)
{
	struct proto_cur c = { p, len };
	struct proto_str key;
	uint64_t v;
	char *name;
	int r = 0;
	if (proto_get_str(&c, &key) < 0 || proto_get_u64(&c, &v) < 0 || c.left ||
	    (name = proto_str_dup(key)) == NULL)
		return -EBADMSG;
	if (strcmp(name, "nodes") == 0)
		db->idx_nodes = v;
	else if (strcmp(name, "services") == 0)
		db->idx_services = v;
	else if (strcmp(name, "checks") == 0)
		db->idx_checks = v;
	else if (strcmp(name, "services_gone") == 0)
		db->services_gone = v;
	else if (strcmp(name, "nodes_gone") == 0)
		db->nodes_gone = v;
	else if (strncmp(name, "n:", 2) == 0 && cat_node_get(db, name + 2))
		cat_node_get(db, name + 2)->index = v;
	else if (strncmp(name, "s:", 2) == 0 && cat_name_get(db, name + 2))
		cat_name_get(db, name + 2)->index = v;
	else
		r = -EBADMSG;
	free(name);
	return r;
}

int
cat_snapshot_record(struct cat_db *db, uint8_t kind, const uint8_t *p,
    size_t len)
{
	char *node = NULL;
	int r = -EBADMSG;
	if (kind == CAT_SNAP_NODE) {
		struct cat_node *n = cat_dec_node(p, len);
		if (n && (r = cat_restore_node(db, n)) < 0)
			cat_node_free(n);
	} else if (kind == CAT_SNAP_SERVICE) {
		struct cat_service *s = cat_dec_service(p, len, &node);
		if (s && (r = cat_restore_service(db, s, node)) < 0)
			cat_service_free(s);
		free(node);
	} else if (kind == CAT_SNAP_CHECK) {
		struct cat_check *c = cat_dec_check(p, len);
		if (c && (r = cat_restore_check(db, c)) < 0)
			cat_check_free(c);
	} else if (kind == CAT_SNAP_INDEX)
		r = restore_index(db, p, len);
	return r < 0 ? -EBADMSG : 0;
}
