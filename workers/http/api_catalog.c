/*
 * /v1/catalog/... (reference/consul.md sections 1.2, 2, 0.2-0.5; Consul's
 * agent/catalog_endpoint.go) and the plumbing the health endpoints share
 * (api_health.c): catalog reads as CAT_READ_REQ to the store with every
 * Consul read option, ?filter evaluated here on bexpr value trees built
 * from the rows, and the JSON of nodes and services exactly as Consul's
 * structs print (PascalCase, null for absent maps, [] for absent tags).
 *
 * Writes: PUT /v1/catalog/register and /v1/catalog/deregister decode the
 * body as Go's encoding/json would decode a structs.RegisterRequest
 * (keys case-insensitive, snake_case spellings accepted too, type errors
 * in Go's words), and send it to the store, which validates it as
 * Catalog.Register does and applies it through Raft.
 */
#include "workers/http/api.h"
#include "supervisor/config.h"
#include "lib/duration.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CAT_BLOCK_MARGIN_MS 5000

/* ---- value trees for ?filter --------------------------------------------- */

void *
api_vals_alloc(struct api_vals *v, size_t size)
{
	if (v->n == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 64;
		v->p = xrealloc(v->p, v->cap * sizeof(*v->p));
	}
	return v->p[v->n++] = xcalloc(1, size ? size : 1);
}

void
api_vals_reset(struct api_vals *v)
{
	for (size_t i = 0; i < v->n; i++)
		free(v->p[i]);
	v->n = 0;
}

void
api_vals_free(struct api_vals *v)
{
	api_vals_reset(v);
	free(v->p);
	memset(v, 0, sizeof(*v));
}

struct bexpr_member *
api_val_struct(struct api_vals *v, struct bexpr_value *out, size_t n)
{
	struct bexpr_member *m = api_vals_alloc(v, n * sizeof(*m));
	out->kind = BEXPR_STRUCT;
	out->map.members = m;
	out->map.n = n;
	return m;
}

static void
mem_key(struct bexpr_member *m, const char *key)
{
	m->key = key;
	m->keylen = strlen(key);
}

void
api_mem_str(struct bexpr_member *m, const char *key, struct proto_str s)
{
	mem_key(m, key);
	m->val.kind = BEXPR_STRING;
	m->val.s.ptr = s.p;
	m->val.s.len = s.len;
}

void
api_mem_int(struct bexpr_member *m, const char *key, int64_t i)
{
	mem_key(m, key);
	m->val.kind = BEXPR_INT;
	m->val.i = i;
}

void
api_mem_bool(struct bexpr_member *m, const char *key, bool b)
{
	mem_key(m, key);
	m->val.kind = BEXPR_BOOL;
	m->val.b = b;
}

void
api_mem_list(struct api_vals *v, struct bexpr_member *m, const char *key,
    const struct proto_strv *items)
{
	struct proto_strv_iter it;
	struct proto_str s;
	struct bexpr_value *vals = api_vals_alloc(v, items->n * sizeof(*vals));
	size_t n = 0;
	mem_key(m, key);
	proto_strv_iter_init(&it, items);
	while (n < items->n && proto_strv_next(&it, &s)) {
		vals[n].kind = BEXPR_STRING;
		vals[n].s.ptr = s.p;
		vals[n++].s.len = s.len;
	}
	m->val.kind = BEXPR_LIST;
	m->val.list.items = vals;
	m->val.list.n = n;
}

/* A map[string]string; absent (null) when !has. */
void
api_mem_map(struct api_vals *v, struct bexpr_member *m, const char *key,
    const struct proto_strv *kv, bool has)
{
	struct proto_strv_iter it;
	struct proto_str k, s;
	mem_key(m, key);
	if (!has) {
		m->val.kind = BEXPR_NULL;
		return;
	}
	struct bexpr_member *e = api_vals_alloc(v, kv->n / 2 * sizeof(*e));
	size_t n = 0;
	proto_strv_iter_init(&it, kv);
	while (n < kv->n / 2 && proto_strv_next(&it, &k) &&
	    proto_strv_next(&it, &s)) {
		e[n].key = k.p;
		e[n].keylen = k.len;
		e[n].val.kind = BEXPR_STRING;
		e[n].val.s.ptr = s.p;
		e[n++].val.s.len = s.len;
	}
	m->val.kind = BEXPR_MAP;
	m->val.map.members = e;
	m->val.map.n = n;
}

/* structs.Node */
void
api_val_node(struct api_vals *v, struct bexpr_value *out,
    const struct proto_cat_node *n)
{
	struct bexpr_member *m = api_val_struct(v, out, 6);
	api_mem_str(&m[0], "ID", n->id);
	api_mem_str(&m[1], "Node", n->node);
	api_mem_str(&m[2], "Address", n->address);
	api_mem_str(&m[3], "Datacenter", n->datacenter);
	api_mem_map(v, &m[4], "TaggedAddresses", &n->tagged_addresses,
	    n->has_tagged);
	api_mem_map(v, &m[5], "Meta", &n->meta, n->has_meta);
}

/* map[string]ServiceAddress */
static void
mem_svc_addrs(struct api_vals *v, struct bexpr_member *m, const char *key,
    const struct proto_strv *items)
{
	struct proto_strv_iter it;
	struct proto_str item;
	struct bexpr_member *e = api_vals_alloc(v, items->n * sizeof(*e));
	size_t n = 0;
	mem_key(m, key);
	proto_strv_iter_init(&it, items);
	while (n < items->n && proto_strv_next(&it, &item)) {
		struct proto_cat_svc_addr a;
		if (proto_dec_cat_svc_addr(item.p, item.len, &a) < 0)
			break;
		e[n].key = a.key.p;
		e[n].keylen = a.key.len;
		struct bexpr_member *f = api_val_struct(v, &e[n].val, 2);
		api_mem_str(&f[0], "Address", a.address);
		api_mem_int(&f[1], "Port", a.port);
		n++;
	}
	m->val.kind = BEXPR_MAP;
	m->val.map.members = e;
	m->val.map.n = n;
}

static void
mem_weights(struct api_vals *v, struct bexpr_member *m, const char *key,
    const struct proto_cat_service *s)
{
	mem_key(m, key);
	struct bexpr_member *f = api_val_struct(v, &m->val, 2);
	api_mem_int(&f[0], "Passing", s->weights_passing);
	api_mem_int(&f[1], "Warning", s->weights_warning);
}

static void
mem_connect(struct api_vals *v, struct bexpr_member *m, const char *key,
    bool native)
{
	mem_key(m, key);
	api_mem_bool(api_val_struct(v, &m->val, 1), "Native", native);
}

/* structs.NodeService */
void
api_val_node_service(struct api_vals *v, struct bexpr_value *out,
    const struct proto_cat_service *s)
{
	struct bexpr_member *m = api_val_struct(v, out, 11);
	api_mem_str(&m[0], "Kind", s->kind);
	api_mem_str(&m[1], "ID", s->id);
	api_mem_str(&m[2], "Service", s->service);
	api_mem_list(v, &m[3], "Tags", &s->tags);
	api_mem_str(&m[4], "Address", s->address);
	mem_svc_addrs(v, &m[5], "TaggedAddresses", &s->tagged_addresses);
	api_mem_map(v, &m[6], "Meta", &s->meta, s->has_meta);
	api_mem_int(&m[7], "Port", s->port);
	mem_weights(v, &m[8], "Weights", s);
	api_mem_bool(&m[9], "EnableTagOverride", s->enable_tag_override);
	mem_connect(v, &m[10], "Connect", s->connect_native);
}

/* structs.ServiceNode: the node's fields and the service's, flattened. */
static void
val_service_node(struct api_vals *v, struct bexpr_value *out,
    const struct proto_cat_node *n, const struct proto_cat_service *s)
{
	struct bexpr_member *m = api_val_struct(v, out, 17);
	api_mem_str(&m[0], "ID", n->id);
	api_mem_str(&m[1], "Node", n->node);
	api_mem_str(&m[2], "Address", n->address);
	api_mem_str(&m[3], "Datacenter", n->datacenter);
	api_mem_map(v, &m[4], "TaggedAddresses", &n->tagged_addresses,
	    n->has_tagged);
	api_mem_map(v, &m[5], "NodeMeta", &n->meta, n->has_meta);
	api_mem_str(&m[6], "ServiceKind", s->kind);
	api_mem_str(&m[7], "ServiceID", s->id);
	api_mem_str(&m[8], "ServiceName", s->service);
	api_mem_list(v, &m[9], "ServiceTags", &s->tags);
	api_mem_str(&m[10], "ServiceAddress", s->address);
	mem_svc_addrs(v, &m[11], "ServiceTaggedAddresses", &s->tagged_addresses);
	mem_weights(v, &m[12], "ServiceWeights", s);
	/* PartialClone makes ServiceMeta a map even when none was given. */
	api_mem_map(v, &m[13], "ServiceMeta", &s->meta, true);
	api_mem_int(&m[14], "ServicePort", s->port);
	api_mem_bool(&m[15], "ServiceEnableTagOverride", s->enable_tag_override);
	mem_connect(v, &m[16], "ServiceConnect", s->connect_native);
}

/* ---- JSON of rows ---------------------------------------------------------- */

void
api_json_strv(struct json_w *jw, const struct proto_strv *v)
{
	struct proto_strv_iter it;
	struct proto_str s;
	json_w_arr_open(jw);
	proto_strv_iter_init(&it, v);
	while (proto_strv_next(&it, &s))
		json_w_strn(jw, s.p, s.len);
	json_w_arr_close(jw);
}

/* map[string]string: null when absent (Go's nil map). */
void
api_json_map(struct json_w *jw, const struct proto_strv *kv, bool has)
{
	struct proto_strv_iter it;
	struct proto_str k, v;
	if (!has) {
		json_w_null(jw);
		return;
	}
	json_w_obj_open(jw);
	proto_strv_iter_init(&it, kv);
	while (proto_strv_next(&it, &k) && proto_strv_next(&it, &v)) {
		json_w_strn(jw, k.p, k.len);
		json_w_strn(jw, v.p, v.len);
	}
	json_w_obj_close(jw);
}

static void
key_str(struct json_w *jw, const char *k, struct proto_str s)
{
	json_w_key(jw, k);
	json_w_strn(jw, s.p, s.len);
}

static void
key_uint(struct json_w *jw, const char *k, uint64_t v)
{
	json_w_key(jw, k);
	json_w_uint(jw, v);
}

/* structs.Node */
void
api_json_node(struct json_w *jw, const struct proto_cat_node *n)
{
	json_w_obj_open(jw);
	key_str(jw, "ID", n->id);
	key_str(jw, "Node", n->node);
	key_str(jw, "Address", n->address);
	key_str(jw, "Datacenter", n->datacenter);
	json_w_key(jw, "TaggedAddresses");
	api_json_map(jw, &n->tagged_addresses, n->has_tagged);
	json_w_key(jw, "Meta");
	api_json_map(jw, &n->meta, n->has_meta);
	key_uint(jw, "CreateIndex", n->create_index);
	key_uint(jw, "ModifyIndex", n->modify_index);
	json_w_obj_close(jw);
}

/* map[string]structs.ServiceAddress (no JSON tags: Address, Port). */
static void
json_svc_addrs(struct json_w *jw, const struct proto_strv *items)
{
	struct proto_strv_iter it;
	struct proto_str item;
	json_w_obj_open(jw);
	proto_strv_iter_init(&it, items);
	while (proto_strv_next(&it, &item)) {
		struct proto_cat_svc_addr a;
		if (proto_dec_cat_svc_addr(item.p, item.len, &a) < 0)
			break;
		json_w_strn(jw, a.key.p, a.key.len);
		json_w_obj_open(jw);
		key_str(jw, "Address", a.address);
		json_w_key(jw, "Port");
		json_w_int(jw, a.port);
		json_w_obj_close(jw);
	}
	json_w_obj_close(jw);
}

static void
json_weights(struct json_w *jw, const struct proto_cat_service *s)
{
	json_w_obj_open(jw);
	json_w_key(jw, "Passing");
	json_w_int(jw, s->weights_passing);
	json_w_key(jw, "Warning");
	json_w_int(jw, s->weights_warning);
	json_w_obj_close(jw);
}

/* A typical service's ConnectProxyConfig and ServiceConnect as Consul's
 * MarshalJSON prints them (only the struct-valued fields survive
 * omitempty). */
static void
json_mesh(struct json_w *jw, const char *proxy, const char *connect,
    bool native)
{
	json_w_key(jw, proxy);
	json_w_obj_open(jw);
	json_w_key(jw, "MeshGateway");
	json_w_obj_open(jw);
	json_w_obj_close(jw);
	json_w_key(jw, "Expose");
	json_w_obj_open(jw);
	json_w_obj_close(jw);
	json_w_obj_close(jw);
	json_w_key(jw, connect);
	json_w_obj_open(jw);
	if (native) {
		json_w_key(jw, "Native");
		json_w_bool(jw, true);
	}
	json_w_obj_close(jw);
}

/* structs.NodeService (Kind, TaggedAddresses, Port, SocketPath omitted
 * when empty; Tags [] rather than null, as every endpoint fixes up). */
void
api_json_node_service(struct json_w *jw, const struct proto_cat_service *s)
{
	json_w_obj_open(jw);
	if (s->kind.len)
		key_str(jw, "Kind", s->kind);
	key_str(jw, "ID", s->id);
	key_str(jw, "Service", s->service);
	json_w_key(jw, "Tags");
	api_json_strv(jw, &s->tags);
	key_str(jw, "Address", s->address);
	if (s->tagged_addresses.n) {
		json_w_key(jw, "TaggedAddresses");
		json_svc_addrs(jw, &s->tagged_addresses);
	}
	json_w_key(jw, "Meta");
	api_json_map(jw, &s->meta, s->has_meta);
	if (s->port) {
		json_w_key(jw, "Port");
		json_w_int(jw, s->port);
	}
	if (s->socket_path.len)
		key_str(jw, "SocketPath", s->socket_path);
	json_w_key(jw, "Weights");
	json_weights(jw, s);
	json_w_key(jw, "EnableTagOverride");
	json_w_bool(jw, s->enable_tag_override);
	json_mesh(jw, "Proxy", "Connect", s->connect_native);
	key_uint(jw, "CreateIndex", s->create_index);
	key_uint(jw, "ModifyIndex", s->modify_index);
	json_w_obj_close(jw);
}

/* structs.ServiceNode, as /v1/catalog/service/:name lists it. */
static void
json_service_node(struct json_w *jw, const struct proto_cat_node *n,
    const struct proto_cat_service *s)
{
	json_w_obj_open(jw);
	key_str(jw, "ID", n->id);
	key_str(jw, "Node", n->node);
	key_str(jw, "Address", n->address);
	key_str(jw, "Datacenter", n->datacenter);
	json_w_key(jw, "TaggedAddresses");
	api_json_map(jw, &n->tagged_addresses, n->has_tagged);
	json_w_key(jw, "NodeMeta");
	api_json_map(jw, &n->meta, n->has_meta);
	key_str(jw, "ServiceKind", s->kind);
	key_str(jw, "ServiceID", s->id);
	key_str(jw, "ServiceName", s->service);
	json_w_key(jw, "ServiceTags");
	api_json_strv(jw, &s->tags);
	key_str(jw, "ServiceAddress", s->address);
	if (s->tagged_addresses.n) {
		json_w_key(jw, "ServiceTaggedAddresses");
		json_svc_addrs(jw, &s->tagged_addresses);
	}
	json_w_key(jw, "ServiceWeights");
	json_weights(jw, s);
	json_w_key(jw, "ServiceMeta");
	api_json_map(jw, &s->meta, true);
	json_w_key(jw, "ServicePort");
	json_w_int(jw, s->port);
	key_str(jw, "ServiceSocketPath", s->socket_path);
	json_w_key(jw, "ServiceEnableTagOverride");
	json_w_bool(jw, s->enable_tag_override);
	json_mesh(jw, "ServiceProxy", "ServiceConnect", s->connect_native);
	key_uint(jw, "CreateIndex", s->create_index);
	key_uint(jw, "ModifyIndex", s->modify_index);
	json_w_obj_close(jw);
}

/* ---- reads -------------------------------------------------------------- */

/* The read's options, kept for the answer (freed with the request). */
struct cat_ctx {
	uint8_t consistency;
	const struct bexpr_type *ftype;
	char filter[];
};

/* ?passing as Consul's getBoolQueryParam: bare is true, else ParseBool. */
static int
parse_passing(const struct http_request *req, bool *out)
{
	static const char *const yes[] = { "1", "t", "T", "TRUE", "true", "True" };
	static const char *const no[] = { "0", "f", "F", "FALSE", "false", "False" };
	bool present = false;
	const char *v = http_query(req, "passing", &present);
	*out = false;
	if (!present)
		return 0;
	if (v[0] == '\0') {
		*out = true;
		return 0;
	}
	for (size_t i = 0; i < nitems(yes); i++) {
		if (strcmp(v, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcmp(v, no[i]) == 0)
			return 0;
	}
	return -EINVAL;
}

/* ?node-meta=k:v (repeatable; the last value of a key wins), as
 * alternating key, value; pointers into req or into *keep. */
static uint32_t
parse_node_meta(const struct http_request *req, const char ***out,
    char ***keep)
{
	size_t n = http_query_all(req, "node-meta", NULL, 0);
	const char **raw = xcalloc(n + 1, sizeof(*raw));
	const char **kv = xcalloc(2 * n + 1, sizeof(*kv));
	char **own = xcalloc(n + 1, sizeof(*own));
	uint32_t m = 0;
	http_query_all(req, "node-meta", raw, n);
	for (size_t i = 0; i < n; i++) {
		const char *colon = strchr(raw[i], ':');
		char *key = own[i] = colon ? xstrndup(raw[i],
		    (size_t)(colon - raw[i])) : xstrdup(raw[i]);
		const char *val = colon ? colon + 1 : "";
		uint32_t j = 0;
		while (j < m && strcmp(kv[2 * j], key) != 0)
			j++;
		kv[2 * j] = key;
		kv[2 * j + 1] = val;
		if (j == m)
			m++;
	}
	free(raw);
	*out = kv;
	*keep = own;
	return m;
}

/* Compile ?filter for type; false when it is bad (500 sent, as Consul's
 * RPC error). */
static bool
check_filter(struct http_ctx *c, const char *expr,
    const struct bexpr_type *type)
{
	struct buf err;
	if (expr == NULL || expr[0] == '\0')
		return true;
	buf_init(&err);
	struct bexpr *e = bexpr_compile_typed(expr, type, &err);
	if (e == NULL)
		http_reply_error(c, 500, "%s", (char *)err.data);
	bexpr_free(e);
	buf_free(&err);
	return e != NULL;
}

void
api_cat_read(struct http_ctx *c, const struct http_request *req,
    const struct api_cat_read *rd)
{
	struct api_read_opts o;
	struct http_query_opts qo;
	struct buf err, b;
	bool passing = false;
	const char **meta = NULL, **tags = NULL;
	char **keep = NULL;
	uint32_t nmeta = 0, ntags = 0;

	if (!api_read_opts(c, req, &o))
		return;
	buf_init(&err);
	http_query_opts(req, &qo, &err);	/* api_read_opts checked it */
	buf_free(&err);
	if ((rd->flags & API_CAT_PASSING) && parse_passing(req, &passing) < 0) {
		http_reply_error(c, 400, "Invalid value for ?passing");
		return;
	}
	if (!check_filter(c, qo.filter, rd->ftype))
		return;
	if (rd->flags & API_CAT_META)
		nmeta = parse_node_meta(req, &meta, &keep);
	if (rd->flags & API_CAT_TAGS) {
		ntags = (uint32_t)http_query_all(req, "tag", NULL, 0);
		tags = xcalloc(ntags + 1, sizeof(*tags));
		http_query_all(req, "tag", tags, ntags);
	}
	size_t flen = qo.filter ? strlen(qo.filter) : 0;
	struct cat_ctx *k = xcalloc(1, sizeof(*k) + flen + 1);
	k->consistency = o.consistency;
	k->ftype = rd->ftype;
	memcpy(k->filter, qo.filter ? qo.filter : "", flen);
	struct proto_cat_read_req q = { .what = rd->what,
		.name = proto_str_c(rd->name),
		.tags = { .n = ntags, .items = tags },
		.node_meta = { .n = 2 * nmeta, .items = meta },
		.passing = passing, .min_index = o.min_index,
		.wait_ms = o.wait_ms, .consistency = o.consistency,
		.max_stale_ms = o.max_stale_ms };
	buf_init(&b);
	proto_enc_cat_read_req(&b, &q);
	struct api_req *r = api_req_new(c, rd->done);
	r->arg = k;
	api_ask_timeout(r, PROC_STORE, PROTO_CAT_READ_REQ, &b,
	    (unsigned)(o.wait_ms + CAT_BLOCK_MARGIN_MS));
	buf_free(&b);
	free(tags);
	free(meta);
	for (uint32_t i = 0; keep && keep[i]; i++)
		free(keep[i]);
	free(keep);
	api_go(r);
}

bool
api_cat_answer(struct api_req *r, struct proto_cat_read *rd)
{
	struct cat_ctx *k = r->arg;
	if (api_failed(r, 0, PROTO_CAT_READ))
		return false;
	if (proto_dec_cat_read(r->ans[0].data.data, r->ans[0].data.len,
	    rd) < 0) {
		http_reply_error(r->ctx, 500, "malformed catalog answer");
		return false;
	}
	api_read_headers(r->ctx, rd->index, rd->known_leader,
	    rd->last_contact_ms, k->consistency);
	http_reply_header(r->ctx, "X-Consul-Query-Backend", "blocking-query");
	return true;
}

struct bexpr *
api_cat_filter(struct api_req *r)
{
	struct cat_ctx *k = r->arg;
	struct buf err;
	if (k->filter[0] == '\0')
		return NULL;
	buf_init(&err);
	struct bexpr *e = bexpr_compile_typed(k->filter, k->ftype, &err);
	buf_free(&err);
	return e;	/* checked when the request came in */
}

/* Whether the item passes; -1 with a 500 sent when evaluation fails. */
int
api_cat_match(struct api_req *r, const struct bexpr *f,
    const struct bexpr_value *v)
{
	struct buf err;
	bool match = false;
	if (f == NULL)
		return 1;
	buf_init(&err);
	if (bexpr_eval(f, v, &match, &err) < 0) {
		http_reply_error(r->ctx, 500, "%s", (char *)err.data);
		buf_free(&err);
		return -1;
	}
	buf_free(&err);
	return match;
}

/* What a catalog body is made from besides the renderer (api_cache.c). */
static void
cat_cache_key(struct api_req *r, const struct proto_cat_read *rd,
    struct api_cache_key *key)
{
	struct cat_ctx *k = r->arg;
	key->kind = r->done;
	key->flags = (http_pretty(r->ctx) ? API_CACHE_PRETTY : 0) |
	    (rd->found ? API_CACHE_FOUND : 0);
	key->filter = k->filter;
	key->aux = rd->node.p;
	key->auxlen = rd->node.len;
	key->rows = rd->items.raw;
	key->rowslen = rd->items.rawlen;
}

bool
api_cat_cached(struct api_req *r, const struct proto_cat_read *rd)
{
	struct api_cache_key key;
	cat_cache_key(r, rd, &key);
	const struct buf *body = api_cache_get(&key);
	if (body == NULL)
		return false;
	http_reply(r->ctx, 200, "application/json", body->data, body->len);
	return true;
}

void
api_cat_json_end(struct api_req *r, const struct proto_cat_read *rd,
    struct json_w *jw, struct buf *out)
{
	struct api_cache_key key;
	if (!api_json_close(r->ctx, jw, out))
		return;
	cat_cache_key(r, rd, &key);
	api_cache_put(&key, out->data, out->len);
	http_reply_json(r->ctx, 200, out);
}

/* One CAT_ENTRY, its node and service decoded (either may be absent). */
bool
api_cat_entry(struct proto_str item, struct proto_cat_entry *e,
    struct proto_cat_node *n, struct proto_cat_service *s)
{
	if (proto_dec_cat_entry(item.p, item.len, e) < 0)
		return false;
	if (n && proto_dec_cat_node(e->node.p, e->node.len, n) < 0)
		return false;
	return s == NULL ||
	    proto_dec_cat_service(e->service.p, e->service.len, s) == 0;
}

/* ---- GET /v1/catalog/datacenters, nodes ------------------------------- */

/* Catalog.ListDatacenters: the store knows them from its WAN pool (a
 * client agent's store asks a server), this datacenter first. */
static void
datacenters_done(struct api_req *r)
{
	struct proto_datacenters d;
	struct proto_strv_iter it;
	struct proto_str s;
	struct json_w jw;
	struct buf out;
	if (api_failed(r, 0, PROTO_DATACENTERS))
		return;
	if (proto_dec_datacenters(r->ans[0].data.data, r->ans[0].data.len,
	    &d) < 0) {
		http_reply_error(r->ctx, 500, "malformed datacenter list");
		return;
	}
	api_json_begin(r->ctx, &jw, &out);
	json_w_arr_open(&jw);
	proto_strv_iter_init(&it, &d.dcs);
	while (proto_strv_next(&it, &s))
		json_w_strn(&jw, s.p, s.len);
	json_w_arr_close(&jw);
	api_json_end(r->ctx, &jw, &out);
}

void
api_catalog_datacenters(struct http_ctx *c, const struct http_request *req)
{
	struct api_req *r = api_req_new(c, datacenters_done);
	api_ask(r, PROC_STORE, PROTO_DATACENTERS_REQ, NULL);
	api_go(r);
}

static void
nodes_done(struct api_req *r)
{
	struct proto_cat_read rd;
	struct proto_strv_iter it;
	struct proto_str item;
	struct api_vals vals = { 0 };
	struct json_w jw;
	struct buf out;
	if (!api_cat_answer(r, &rd))
		return;
	struct bexpr *f = api_cat_filter(r);
	api_json_begin(r->ctx, &jw, &out);
	json_w_arr_open(&jw);
	proto_strv_iter_init(&it, &rd.items);
	while (proto_strv_next(&it, &item)) {
		struct proto_cat_node n;
		struct bexpr_value v;
		if (proto_dec_cat_node(item.p, item.len, &n) < 0)
			continue;
		api_vals_reset(&vals);
		if (f)
			api_val_node(&vals, &v, &n);
		int m = api_cat_match(r, f, &v);
		if (m < 0)
			goto fail;
		if (m)
			api_json_node(&jw, &n);
	}
	json_w_arr_close(&jw);
	api_json_end(r->ctx, &jw, &out);
	goto done;
fail:
	json_w_finish(&jw);
	buf_free(&out);
done:
	bexpr_free(f);
	api_vals_free(&vals);
}

void
api_catalog_nodes(struct http_ctx *c, const struct http_request *req)
{
	struct api_cat_read rd = { CAT_Q_NODES, "", API_CAT_META,
		&bexpr_consul_node, nodes_done };
	api_cat_read(c, req, &rd);
}

/* ---- GET /v1/catalog/services -------------------------------------------- */

struct svc_tags {
	struct proto_str name;
	struct proto_str *tags;
	uint32_t ntags;
};

static int
pstr_cmp(const void *a, const void *b)
{
	const struct proto_str *x = a, *y = b;
	int c = memcmp(x->p, y->p, MIN(x->len, y->len));
	return c ? c : (x->len > y->len) - (x->len < y->len);
}

static int
svc_tags_cmp(const void *a, const void *b)
{
	return pstr_cmp(&((const struct svc_tags *)a)->name,
	    &((const struct svc_tags *)b)->name);
}

/* Add s's tags under its name (a new name when not seen yet). */
static void
svc_tags_add(struct svc_tags **v, uint32_t *n, const struct proto_str name,
    const struct proto_strv *tags)
{
	struct proto_strv_iter it;
	struct proto_str t;
	uint32_t i = 0;
	while (i < *n && pstr_cmp(&(*v)[i].name, &name) != 0)
		i++;
	if (i == *n) {
		*v = xrealloc(*v, (*n + 1) * sizeof(**v));
		memset(&(*v)[i], 0, sizeof(**v));
		(*v)[i].name = name;
		(*n)++;
	}
	struct svc_tags *st = &(*v)[i];
	st->tags = xrealloc(st->tags, (st->ntags + tags->n + 1) * sizeof(*st->tags));
	proto_strv_iter_init(&it, tags);
	while (proto_strv_next(&it, &t))
		st->tags[st->ntags++] = t;
}

/* {"name": [tags...]}: names and tags sorted, tags unique. */
static void
write_services(struct api_req *r, struct svc_tags *v, uint32_t n)
{
	struct json_w jw;
	struct buf out;
	if (n)
		qsort(v, n, sizeof(*v), svc_tags_cmp);
	api_json_begin(r->ctx, &jw, &out);
	json_w_obj_open(&jw);
	for (uint32_t i = 0; i < n; i++) {
		json_w_strn(&jw, v[i].name.p, v[i].name.len);
		json_w_arr_open(&jw);
		qsort(v[i].tags, v[i].ntags, sizeof(*v[i].tags), pstr_cmp);
		for (uint32_t t = 0; t < v[i].ntags; t++)
			if (t == 0 || pstr_cmp(&v[i].tags[t - 1], &v[i].tags[t]))
				json_w_strn(&jw, v[i].tags[t].p, v[i].tags[t].len);
		json_w_arr_close(&jw);
	}
	json_w_obj_close(&jw);
	api_json_end(r->ctx, &jw, &out);
}

static void
services_done(struct api_req *r)
{
	struct proto_cat_read rd;
	struct proto_strv_iter it;
	struct proto_str item;
	struct api_vals vals = { 0 };
	struct svc_tags *v = NULL;
	uint32_t n = 0;
	if (!api_cat_answer(r, &rd))
		return;
	struct bexpr *f = api_cat_filter(r);
	proto_strv_iter_init(&it, &rd.items);
	while (proto_strv_next(&it, &item)) {
		struct proto_cat_entry e;
		struct proto_cat_node nd;
		struct proto_cat_service s;
		struct bexpr_value bv;
		if (f == NULL) {	/* CAT_Q_SERVICES: name + tag union */
			if (proto_dec_cat_service(item.p, item.len, &s) == 0)
				svc_tags_add(&v, &n, s.service, &s.tags);
			continue;
		}
		if (!api_cat_entry(item, &e, &nd, &s))
			continue;
		api_vals_reset(&vals);
		val_service_node(&vals, &bv, &nd, &s);
		int m = api_cat_match(r, f, &bv);
		if (m < 0)
			goto out;
		if (m)
			svc_tags_add(&v, &n, s.service, &s.tags);
	}
	write_services(r, v, n);
out:
	for (uint32_t i = 0; i < n; i++)
		free(v[i].tags);
	free(v);
	bexpr_free(f);
	api_vals_free(&vals);
}

void
api_catalog_services(struct http_ctx *c, const struct http_request *req)
{
	/* With ?filter the rows are needed (the filter sees ServiceNodes). */
	const char *f = http_query(req, "filter", NULL);
	struct api_cat_read rd = { f && f[0] ? CAT_Q_SERVICES_FULL :
		CAT_Q_SERVICES, "", API_CAT_META, &bexpr_consul_service_node,
		services_done };
	api_cat_read(c, req, &rd);
}

/* ---- GET /v1/catalog/service/:name ---------------------------------------- */

static void
service_done(struct api_req *r)
{
	struct proto_cat_read rd;
	struct proto_strv_iter it;
	struct proto_str item;
	struct api_vals vals = { 0 };
	struct json_w jw;
	struct buf out;
	if (!api_cat_answer(r, &rd) || api_cat_cached(r, &rd))
		return;
	struct bexpr *f = api_cat_filter(r);
	api_json_begin(r->ctx, &jw, &out);
	json_w_arr_open(&jw);
	proto_strv_iter_init(&it, &rd.items);
	while (proto_strv_next(&it, &item)) {
		struct proto_cat_entry e;
		struct proto_cat_node n;
		struct proto_cat_service s;
		struct bexpr_value v;
		if (!api_cat_entry(item, &e, &n, &s))
			continue;
		api_vals_reset(&vals);
		if (f)
			val_service_node(&vals, &v, &n, &s);
		int m = api_cat_match(r, f, &v);
		if (m < 0) {
			json_w_finish(&jw);
			buf_free(&out);
			goto out;
		}
		if (m)
			json_service_node(&jw, &n, &s);
	}
	json_w_arr_close(&jw);
	api_cat_json_end(r, &rd, &jw, &out);
out:
	bexpr_free(f);
	api_vals_free(&vals);
}

void
api_catalog_service(struct http_ctx *c, const struct http_request *req)
{
	const char *name = http_path_rest(c);
	if (name[0] == '\0') {
		http_reply_error(c, 400, "Missing service name");
		return;
	}
	struct api_cat_read rd = { CAT_Q_SERVICE_NODES, name,
		API_CAT_META | API_CAT_TAGS, &bexpr_consul_service_node,
		service_done };
	api_cat_read(c, req, &rd);
}

/* ---- GET /v1/catalog/node/:node and /v1/catalog/node-services/:node ---- */

static int
svc_id_cmp(const void *a, const void *b)
{
	return pstr_cmp(&((const struct proto_cat_service *)a)->id,
	    &((const struct proto_cat_service *)b)->id);
}

/* Services (filtered); -1 when the filter failed (500 sent). */
static int
node_services(struct api_req *r, const struct proto_cat_read *rd,
    struct proto_cat_service **out)
{
	struct proto_strv_iter it;
	struct proto_str item;
	struct api_vals vals = { 0 };
	struct bexpr *f = api_cat_filter(r);
	int n = 0;
	*out = xcalloc(rd->items.n + 1, sizeof(**out));
	proto_strv_iter_init(&it, &rd->items);
	while (proto_strv_next(&it, &item)) {
		struct proto_cat_service *s = &(*out)[n];
		struct bexpr_value v;
		if (proto_dec_cat_service(item.p, item.len, s) < 0)
			continue;
		api_vals_reset(&vals);
		if (f)
			api_val_node_service(&vals, &v, s);
		int m = api_cat_match(r, f, &v);
		if (m < 0) {
			n = -1;
			break;
		}
		n += m;
	}
	bexpr_free(f);
	api_vals_free(&vals);
	return n;
}

/* {"Node": {...}, "Services": {id: {...}}}, or null without the node. */
static void
node_done(struct api_req *r)
{
	struct proto_cat_read rd;
	struct proto_cat_node n;
	struct proto_cat_service *svcs = NULL;
	struct json_w jw;
	struct buf out;
	int ns;
	if (!api_cat_answer(r, &rd))
		return;
	if (!rd.found || proto_dec_cat_node(rd.node.p, rd.node.len, &n) < 0) {
		http_reply(r->ctx, 200, "application/json", "null", 4);
		return;
	}
	if ((ns = node_services(r, &rd, &svcs)) < 0)
		goto out;
	qsort(svcs, (size_t)ns, sizeof(*svcs), svc_id_cmp);	/* Go map order */
	api_json_begin(r->ctx, &jw, &out);
	json_w_obj_open(&jw);
	json_w_key(&jw, "Node");
	api_json_node(&jw, &n);
	json_w_key(&jw, "Services");
	json_w_obj_open(&jw);
	for (int i = 0; i < ns; i++) {
		json_w_strn(&jw, svcs[i].id.p, svcs[i].id.len);
		api_json_node_service(&jw, &svcs[i]);
	}
	json_w_obj_close(&jw);
	json_w_obj_close(&jw);
	api_json_end(r->ctx, &jw, &out);
out:
	free(svcs);
}

/* {"Node": {...}, "Services": [...]}: both null without the node, and
 * Services null for a node without any (Consul's NodeServiceList). */
static void
node_services_done(struct api_req *r)
{
	struct proto_cat_read rd;
	struct proto_cat_node n;
	struct proto_cat_service *svcs = NULL;
	struct json_w jw;
	struct buf out;
	int ns = 0;
	if (!api_cat_answer(r, &rd))
		return;
	bool found = rd.found &&
	    proto_dec_cat_node(rd.node.p, rd.node.len, &n) == 0;
	if (found && (ns = node_services(r, &rd, &svcs)) < 0)
		goto out;
	api_json_begin(r->ctx, &jw, &out);
	json_w_obj_open(&jw);
	json_w_key(&jw, "Node");
	if (found)
		api_json_node(&jw, &n);
	else
		json_w_null(&jw);
	json_w_key(&jw, "Services");
	if (rd.items.n == 0)
		json_w_null(&jw);
	else {
		json_w_arr_open(&jw);
		for (int i = 0; i < ns; i++)
			api_json_node_service(&jw, &svcs[i]);
		json_w_arr_close(&jw);
	}
	json_w_obj_close(&jw);
	api_json_end(r->ctx, &jw, &out);
out:
	free(svcs);
}

static void
catalog_node(struct http_ctx *c, const struct http_request *req,
    api_done_fn *done)
{
	const char *name = http_path_rest(c);
	if (name[0] == '\0') {
		http_reply_error(c, 400, "Missing node name");
		return;
	}
	struct api_cat_read rd = { CAT_Q_NODE_SERVICES, name, 0,
		&bexpr_consul_node_service, done };
	api_cat_read(c, req, &rd);
}

void
api_catalog_node(struct http_ctx *c, const struct http_request *req)
{
	catalog_node(c, req, node_done);
}

void
api_catalog_node_services(struct http_ctx *c, const struct http_request *req)
{
	catalog_node(c, req, node_services_done);
}


/* ---- PUT /v1/catalog/register and /v1/catalog/deregister ----------- */

/*
 * The body is decoded as Go's encoding/json decodes a structs.Register-
 * Request: a member matches a field case-insensitively (snake_case too,
 * as Consul's service definitions allow), null leaves the zero value, a
 * value of another type fails the whole decode in Go's words ("json:
 * cannot unmarshal string into Go struct field RegisterRequest.Service.
 * Port of type int"), unknown members are ignored.  Rows are encoded as
 * they are decoded; strings stay views into the tree until then.
 */

/* Encoded items, one after another, handed over as a strv. */
struct enc_list {
	struct buf data;
	size_t *offs;
	uint32_t n, cap;
	struct proto_str *strs;
};

static struct buf *
list_add(struct enc_list *l)
{
	if (l->n + 1 >= l->cap) {
		l->cap = l->cap ? l->cap * 2 : 8;
		l->offs = xrealloc(l->offs, l->cap * sizeof(*l->offs));
	}
	l->offs[l->n++] = l->data.len;
	return &l->data;
}

static struct proto_strv
list_strv(struct enc_list *l)
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

static void
list_free(struct enc_list *l)
{
	buf_free(&l->data);
	free(l->offs);
	free(l->strs);
	memset(l, 0, sizeof(*l));
}

struct dec {
	const char *type;	/* "RegisterRequest" or "DeregisterRequest" */
	struct buf err;		/* the first failure; empty while none */
	struct api_vals keep;	/* arrays the encoders read */
};

static const char *
go_type(yajl_val v)
{
	if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v))
		return "bool";
	return json_type_name(v);
}

static bool
bad_type(struct dec *d, yajl_val v, const char *path, const char *type)
{
	if (d->err.len)
		return false;
	buf_printf(&d->err, "json: cannot unmarshal %s", go_type(v));
	if (YAJL_IS_NUMBER(v) && strcmp(type, "string") != 0)
		buf_printf(&d->err, " %s", YAJL_GET_NUMBER(v));
	buf_printf(&d->err, " into Go struct field %s.%s of type %s", d->type,
	    path, type);
	return false;
}

static bool
fail_text(struct dec *d, const char *msg)
{
	if (d->err.len == 0)
		buf_addstr(&d->err, msg);
	return false;
}

static yajl_val
member(yajl_val obj, const char *key)
{
	yajl_val v = json_get_loose(obj, key);
	return v && YAJL_IS_NULL(v) ? NULL : v;
}

static bool
d_str(struct dec *d, yajl_val obj, const char *key, const char *path,
    struct proto_str *out)
{
	yajl_val v = member(obj, key);
	*out = proto_str_c("");
	if (v == NULL)
		return true;
	if (!YAJL_IS_STRING(v))
		return bad_type(d, v, path, "string");
	*out = proto_str_c(YAJL_GET_STRING(v));
	return true;
}

static bool
d_bool(struct dec *d, yajl_val obj, const char *key, const char *path,
    bool *out)
{
	yajl_val v = member(obj, key);
	*out = false;
	if (v == NULL)
		return true;
	if (!YAJL_IS_TRUE(v) && !YAJL_IS_FALSE(v))
		return bad_type(d, v, path, "bool");
	*out = YAJL_IS_TRUE(v);
	return true;
}

static bool
d_int(struct dec *d, yajl_val obj, const char *key, const char *path,
    int32_t *out)
{
	yajl_val v = member(obj, key);
	int64_t i;
	*out = 0;
	if (v == NULL)
		return true;
	if (!YAJL_IS_NUMBER(v) || !json_as_int(v, &i) || i < INT32_MIN ||
	    i > INT32_MAX)
		return bad_type(d, v, path, "int");
	*out = (int32_t)i;
	return true;
}

/* An object's members sorted by key, the last of a repeated key kept
 * (Go decodes a map member by member). */
struct pair {
	const char *key;
	yajl_val val;
	size_t pos;
};

static int
pair_cmp(const void *a, const void *b)
{
	const struct pair *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	return c ? c : (x->pos > y->pos) - (x->pos < y->pos);
}

static size_t
sorted_members(struct dec *d, yajl_val obj, struct pair **out)
{
	size_t n = YAJL_GET_OBJECT(obj)->len, m = 0;
	struct pair *p = api_vals_alloc(&d->keep, (n + 1) * sizeof(*p));
	for (size_t i = 0; i < n; i++)
		p[i] = (struct pair){ YAJL_GET_OBJECT(obj)->keys[i],
			YAJL_GET_OBJECT(obj)->values[i], i };
	qsort(p, n, sizeof(*p), pair_cmp);
	for (size_t i = 0; i < n; i++)
		if (i + 1 == n || strcmp(p[i].key, p[i + 1].key) != 0)
			p[m++] = p[i];
	*out = p;
	return m;
}

/* map[string]string as alternating key, value; has: given at all. */
static bool
d_map(struct dec *d, yajl_val obj, const char *key, const char *path,
    struct proto_strv *out, bool *has)
{
	yajl_val v = member(obj, key);
	struct pair *p;
	*out = (struct proto_strv){ 0 };
	*has = v != NULL;
	if (v == NULL)
		return true;
	if (!YAJL_IS_OBJECT(v))
		return bad_type(d, v, path, "map[string]string");
	size_t n = sorted_members(d, v, &p);
	const char **kv = api_vals_alloc(&d->keep, (2 * n + 1) * sizeof(*kv));
	for (size_t i = 0; i < n; i++) {
		if (p[i].val && !YAJL_IS_NULL(p[i].val) &&
		    !YAJL_IS_STRING(p[i].val))
			return bad_type(d, p[i].val, path, "string");
		kv[2 * i] = p[i].key;
		kv[2 * i + 1] = p[i].val && YAJL_IS_STRING(p[i].val) ?
		    YAJL_GET_STRING(p[i].val) : "";
	}
	*out = (struct proto_strv){ .n = (uint32_t)(2 * n), .items = kv };
	return true;
}

static bool
d_list(struct dec *d, yajl_val obj, const char *key, const char *path,
    struct proto_strv *out)
{
	yajl_val v = member(obj, key);
	*out = (struct proto_strv){ 0 };
	if (v == NULL)
		return true;
	if (!YAJL_IS_ARRAY(v))
		return bad_type(d, v, path, "[]string");
	size_t n = YAJL_GET_ARRAY(v)->len;
	const char **items = api_vals_alloc(&d->keep, (n + 1) * sizeof(*items));
	for (size_t i = 0; i < n; i++) {
		yajl_val x = YAJL_GET_ARRAY(v)->values[i];
		if (!YAJL_IS_NULL(x) && !YAJL_IS_STRING(x))
			return bad_type(d, x, path, "string");
		items[i] = YAJL_IS_STRING(x) ? YAJL_GET_STRING(x) : "";
	}
	*out = (struct proto_strv){ .n = (uint32_t)n, .items = items };
	return true;
}

/* Service.TaggedAddresses: map[string]structs.ServiceAddress. */
static bool
d_svc_addrs(struct dec *d, yajl_val svc, struct enc_list *out)
{
	yajl_val v = member(svc, "TaggedAddresses");
	struct pair *p;
	if (v == NULL)
		return true;
	if (!YAJL_IS_OBJECT(v))
		return bad_type(d, v, "Service.TaggedAddresses",
		    "map[string]structs.ServiceAddress");
	size_t n = sorted_members(d, v, &p);
	for (size_t i = 0; i < n; i++) {
		struct proto_cat_svc_addr a = { .key = proto_str_c(p[i].key) };
		yajl_val x = p[i].val;
		if (!YAJL_IS_NULL(x) && !YAJL_IS_OBJECT(x))
			return bad_type(d, x, "Service.TaggedAddresses",
			    "structs.ServiceAddress");
		if (YAJL_IS_OBJECT(x) &&
		    (!d_str(d, x, "Address", "Service.TaggedAddresses.Address",
		    &a.address) ||
		    !d_int(d, x, "Port", "Service.TaggedAddresses.Port",
		    &a.port)))
			return false;
		proto_enc_cat_svc_addr(list_add(out), &a);
	}
	return true;
}

/* NodeService.Weights; ToServiceNode keeps only valid ones, else 1/1. */
static bool
d_weights(struct dec *d, yajl_val svc, struct proto_cat_service *s)
{
	yajl_val v = member(svc, "Weights");
	int32_t p, w;
	s->weights_passing = s->weights_warning = 1;
	if (v == NULL)
		return true;
	if (!YAJL_IS_OBJECT(v))
		return bad_type(d, v, "Service.Weights", "structs.Weights");
	if (!d_int(d, v, "Passing", "Service.Weights.Passing", &p) ||
	    !d_int(d, v, "Warning", "Service.Weights.Warning", &w))
		return false;
	if (p >= 1 && w >= 0 && p <= 65535 && w <= 65535) {
		s->weights_passing = p;
		s->weights_warning = w;
	}
	return true;
}

/* RegisterRequest.Service, encoded into out. */
static bool
d_service(struct dec *d, yajl_val v, struct buf *out)
{
	struct proto_cat_service s = { 0 };
	struct enc_list addrs = { 0 };
	yajl_val conn;
	bool ok;
	if (!YAJL_IS_OBJECT(v))
		return bad_type(d, v, "Service", "structs.NodeService");
	conn = member(v, "Connect");
	if (conn && !YAJL_IS_OBJECT(conn))
		return bad_type(d, conn, "Service.Connect",
		    "structs.ServiceConnect");
	buf_init(&addrs.data);
	ok = d_str(d, v, "Kind", "Service.Kind", &s.kind) &&
	    d_str(d, v, "ID", "Service.ID", &s.id) &&
	    d_str(d, v, "Service", "Service.Service", &s.service) &&
	    d_list(d, v, "Tags", "Service.Tags", &s.tags) &&
	    d_str(d, v, "Address", "Service.Address", &s.address) &&
	    d_svc_addrs(d, v, &addrs) &&
	    d_map(d, v, "Meta", "Service.Meta", &s.meta, &s.has_meta) &&
	    d_int(d, v, "Port", "Service.Port", &s.port) &&
	    d_str(d, v, "SocketPath", "Service.SocketPath", &s.socket_path) &&
	    d_weights(d, v, &s) &&
	    d_bool(d, v, "EnableTagOverride", "Service.EnableTagOverride",
	    &s.enable_tag_override) &&
	    (conn == NULL || d_bool(d, conn, "Native", "Service.Connect.Native",
	    &s.connect_native));
	if (ok) {
		s.tagged_addresses = list_strv(&addrs);
		proto_enc_cat_service(out, &s);
	}
	list_free(&addrs);
	return ok;
}

/*
 * HealthCheck.Definition as Consul prints a HealthCheckDefinition: its
 * MarshalJSON puts Interval, OutputMaxSize, Timeout and
 * DeregisterCriticalServiceAfter (durations as text) first, then the
 * other fields in struct order, every one omitempty; TTL, not converted,
 * stays integer nanoseconds.
 */
enum def_kind { DEF_STR, DEF_BOOL, DEF_DUR, DEF_DUR_NS, DEF_UINT, DEF_STRS,
	DEF_HEADER };

static const struct {
	const char *name;
	enum def_kind kind;
} def_fields[] = {
	{ "Interval", DEF_DUR }, { "OutputMaxSize", DEF_UINT },
	{ "Timeout", DEF_DUR }, { "DeregisterCriticalServiceAfter", DEF_DUR },
	{ "HTTP", DEF_STR }, { "TLSServerName", DEF_STR },
	{ "TLSSkipVerify", DEF_BOOL }, { "Header", DEF_HEADER },
	{ "Method", DEF_STR }, { "Body", DEF_STR },
	{ "DisableRedirects", DEF_BOOL }, { "TCP", DEF_STR },
	{ "TCPUseTLS", DEF_BOOL }, { "UDP", DEF_STR },
	{ "H2PING", DEF_STR }, { "OSService", DEF_STR },
	{ "H2PingUseTLS", DEF_BOOL }, { "ScriptArgs", DEF_STRS },
	{ "DockerContainerID", DEF_STR }, { "Shell", DEF_STR },
	{ "GRPC", DEF_STR }, { "GRPCUseTLS", DEF_BOOL },
	{ "AliasNode", DEF_STR }, { "AliasService", DEF_STR },
	{ "TTL", DEF_DUR_NS },
};

/* What CheckType.Type() looks at. */
struct def_sum {
	int64_t interval, ttl;
	bool set[nitems(def_fields)];
	size_t nargs;
};

static int
def_index(const char *name)
{
	for (size_t i = 0; i < nitems(def_fields); i++)
		if (strcmp(def_fields[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* HealthCheckDefinition.UnmarshalJSON: text or nanoseconds; other types
 * are ignored. */
static bool
d_duration(struct dec *d, yajl_val v, int64_t *ns)
{
	*ns = 0;
	if (YAJL_IS_STRING(v)) {
		const char *s = YAJL_GET_STRING(v);
		if (duration_parse(s, strlen(s), ns) < 0) {
			char msg[256];
			snprintf(msg, sizeof(msg), "time: invalid duration \"%.200s\"",
			    s);
			return fail_text(d, msg);
		}
	} else if (YAJL_IS_NUMBER(v))
		*ns = (int64_t)YAJL_GET_DOUBLE(v);
	return true;
}

static bool
def_header(struct dec *d, struct json_w *jw, yajl_val v, const char *path)
{
	struct pair *p;
	if (!YAJL_IS_OBJECT(v))
		return bad_type(d, v, path, "map[string][]string");
	size_t n = sorted_members(d, v, &p);
	if (n == 0)
		return true;
	json_w_key(jw, "Header");
	json_w_obj_open(jw);
	for (size_t i = 0; i < n; i++) {
		if (!YAJL_IS_NULL(p[i].val) && !YAJL_IS_ARRAY(p[i].val))
			return bad_type(d, p[i].val, path, "[]string");
		json_w_str(jw, p[i].key);
		if (YAJL_IS_NULL(p[i].val)) {
			json_w_null(jw);
			continue;
		}
		json_w_arr_open(jw);
		for (size_t j = 0; j < YAJL_GET_ARRAY(p[i].val)->len; j++) {
			yajl_val s = YAJL_GET_ARRAY(p[i].val)->values[j];
			if (!YAJL_IS_STRING(s))
				return bad_type(d, s, path, "string");
			json_w_str(jw, YAJL_GET_STRING(s));
		}
		json_w_arr_close(jw);
	}
	json_w_obj_close(jw);
	return true;
}

/* A duration field: text (Go's form) but TTL, which stays nanoseconds. */
static bool
def_duration(struct dec *d, struct json_w *jw, size_t i, yajl_val v,
    struct def_sum *sum)
{
	const char *name = def_fields[i].name;
	int64_t ns;
	if (!d_duration(d, v, &ns))
		return false;
	if (ns == 0)
		return true;
	if (strcmp(name, "Interval") == 0)
		sum->interval = ns;
	if (strcmp(name, "TTL") == 0)
		sum->ttl = ns;
	json_w_key(jw, name);
	if (def_fields[i].kind == DEF_DUR_NS)
		json_w_int(jw, ns);
	else {
		char text[DURATION_STRLEN];
		duration_format(ns, text, sizeof(text));
		json_w_str(jw, text);
	}
	return true;
}

/* ScriptArgs */
static bool
def_strs(struct dec *d, struct json_w *jw, yajl_val v, const char *path,
    struct def_sum *sum)
{
	if (!YAJL_IS_ARRAY(v))
		return bad_type(d, v, path, "[]string");
	sum->nargs = YAJL_GET_ARRAY(v)->len;
	if (sum->nargs == 0)
		return true;
	json_w_key(jw, "ScriptArgs");
	json_w_arr_open(jw);
	for (size_t j = 0; j < sum->nargs; j++) {
		yajl_val s = YAJL_GET_ARRAY(v)->values[j];
		if (!YAJL_IS_STRING(s))
			return bad_type(d, s, path, "string");
		json_w_str(jw, YAJL_GET_STRING(s));
	}
	json_w_arr_close(jw);
	return true;
}

/* One Definition field: checked, and written unless empty. */
static bool
def_field(struct dec *d, struct json_w *jw, size_t i, yajl_val v,
    struct def_sum *sum)
{
	char path[96];
	int64_t u;
	const char *name = def_fields[i].name;
	snprintf(path, sizeof(path), "Check.Definition.%s", name);
	switch (def_fields[i].kind) {
	case DEF_STR:
		if (!YAJL_IS_STRING(v))
			return bad_type(d, v, path, "string");
		if ((sum->set[i] = YAJL_GET_STRING(v)[0] != '\0')) {
			json_w_key(jw, name);
			json_w_str(jw, YAJL_GET_STRING(v));
		}
		return true;
	case DEF_BOOL:
		if (!YAJL_IS_TRUE(v) && !YAJL_IS_FALSE(v))
			return bad_type(d, v, path, "bool");
		if (YAJL_IS_TRUE(v)) {
			json_w_key(jw, name);
			json_w_bool(jw, true);
		}
		return true;
	case DEF_DUR:
	case DEF_DUR_NS:
		return def_duration(d, jw, i, v, sum);
	case DEF_UINT:
		if (!YAJL_IS_NUMBER(v) || !json_as_int(v, &u) || u < 0)
			return bad_type(d, v, path, "uint");
		if (u) {
			json_w_key(jw, name);
			json_w_int(jw, u);
		}
		return true;
	case DEF_STRS:
		return def_strs(d, jw, v, path, sum);
	case DEF_HEADER:
		return def_header(d, jw, v, path);
	}
	return true;
}

static bool
d_definition(struct dec *d, yajl_val chk, struct buf *out,
    struct def_sum *sum)
{
	yajl_val v = member(chk, "Definition");
	struct json_w jw;
	bool ok = true;
	memset(sum, 0, sizeof(*sum));
	if (v == NULL) {
		buf_addstr(out, "{}");
		return true;
	}
	if (!YAJL_IS_OBJECT(v))
		return bad_type(d, v, "Check.Definition",
		    "structs.HealthCheckDefinition");
	json_w_init(&jw, out, false);
	json_w_obj_open(&jw);
	for (size_t i = 0; ok && i < nitems(def_fields); i++) {
		yajl_val x = member(v, def_fields[i].name);
		if (x)
			ok = def_field(d, &jw, i, x, sum);
	}
	json_w_obj_close(&jw);
	if (json_w_finish(&jw) < 0 && ok)
		ok = fail_text(d, "internal error encoding Definition");
	return ok;
}

/* CheckType.Type(): what the definition makes of the check (Consul's
 * checkPreApply fills Type in when the request left it empty). */
static const char *
def_type(const struct def_sum *s)
{
	static const struct {
		const char *field, *type;
		bool interval;
	} kinds[] = {
		{ "GRPC", "grpc", true }, { "HTTP", "http", true },
		{ "TTL", "ttl", false }, { "TCP", "tcp", true },
		{ "UDP", "udp", true }, { "AliasNode", "alias", false },
		{ "AliasService", "alias", false },
		{ "DockerContainerID", "docker", true },
		{ "ScriptArgs", "script", true }, { "H2PING", "h2ping", true },
		{ "OSService", "os_service", true },
	};
	for (size_t i = 0; i < nitems(kinds); i++) {
		int f = def_index(kinds[i].field);
		bool set = strcmp(kinds[i].field, "TTL") == 0 ? s->ttl > 0 :
		    strcmp(kinds[i].field, "ScriptArgs") == 0 ? s->nargs > 0 :
		    s->set[f];
		if (set && (!kinds[i].interval || s->interval > 0))
			return kinds[i].type;
	}
	return "";
}

/* One RegisterRequest.Check / Checks[i], encoded into the list. */
static bool
d_check(struct dec *d, yajl_val v, struct enc_list *out)
{
	struct proto_cat_check c = { 0 };
	struct def_sum sum;
	struct buf def;
	bool ok;
	if (!YAJL_IS_OBJECT(v))
		return bad_type(d, v, "Check", "structs.HealthCheck");
	buf_init(&def);
	ok = d_str(d, v, "Node", "Check.Node", &c.node) &&
	    d_str(d, v, "CheckID", "Check.CheckID", &c.check_id) &&
	    d_str(d, v, "Name", "Check.Name", &c.name) &&
	    d_str(d, v, "Status", "Check.Status", &c.status) &&
	    d_str(d, v, "Notes", "Check.Notes", &c.notes) &&
	    d_str(d, v, "Output", "Check.Output", &c.output) &&
	    d_str(d, v, "ServiceID", "Check.ServiceID", &c.service_id) &&
	    d_str(d, v, "ServiceName", "Check.ServiceName", &c.service_name) &&
	    d_list(d, v, "ServiceTags", "Check.ServiceTags", &c.service_tags) &&
	    d_str(d, v, "Type", "Check.Type", &c.type) &&
	    d_str(d, v, "Interval", "Check.Interval", &c.interval) &&
	    d_str(d, v, "Timeout", "Check.Timeout", &c.timeout) &&
	    d_int(d, v, "ExposedPort", "Check.ExposedPort", &c.exposed_port) &&
	    d_definition(d, v, &def, &sum);
	if (ok) {
		if (c.type.len == 0)
			c.type = proto_str_c(def_type(&sum));
		c.definition = (struct proto_str){ (const char *)def.data,
			(uint32_t)def.len };
		proto_enc_cat_check(list_add(out), &c);
	}
	buf_free(&def);
	return ok;
}

static bool
d_node(struct dec *d, yajl_val doc, const char *dc, struct buf *out)
{
	struct proto_cat_node n = { 0 };
	if (!d_str(d, doc, "ID", "ID", &n.id) ||
	    !d_str(d, doc, "Node", "Node", &n.node) ||
	    !d_str(d, doc, "Address", "Address", &n.address) ||
	    !d_map(d, doc, "TaggedAddresses", "TaggedAddresses",
	    &n.tagged_addresses, &n.has_tagged) ||
	    !d_map(d, doc, "NodeMeta", "NodeMeta", &n.meta, &n.has_meta))
		return false;
	n.datacenter = proto_str_c(dc);	/* checked and defaulted */
	proto_enc_cat_node(out, &n);
	return true;
}

/* Parse the body; NULL with the reply sent when it is not JSON. */
static yajl_val
body_json(struct http_ctx *c, const struct http_request *req,
    const char *gotype)
{
	struct buf err;
	if (req->body_len == 0) {
		http_reply_error(c, 400, "Request decode failed: EOF");
		return NULL;
	}
	buf_init(&err);
	yajl_val doc = json_parse((const char *)req->body, req->body_len, &err);
	if (doc == NULL)
		http_reply_error(c, 400, "Request decode failed: %s",
		    (char *)err.data);
	else if (!YAJL_IS_OBJECT(doc) && !YAJL_IS_NULL(doc)) {
		http_reply_error(c, 400, "Request decode failed: json: cannot "
		    "unmarshal %s into Go value of type %s", go_type(doc), gotype);
		yajl_tree_free(doc);
		doc = NULL;
	}
	buf_free(&err);
	return doc;
}

/* RegisterRequest.Datacenter: this one, or no path (Consul forwards to
 * other datacenters, muster has none). */
static bool
local_dc(struct http_ctx *c, struct dec *d, yajl_val doc, const char **dc)
{
	const struct agent_config *cfg =
	    ((struct http_app *)http_app(c))->w->cfg;
	struct proto_str s;
	*dc = cfg->datacenter;
	if (!d_str(d, doc, "Datacenter", "Datacenter", &s))
		return true;	/* reported with the other decode errors */
	if (s.len && strcasecmp(s.p, cfg->datacenter) != 0) {
		http_reply_error(c, 500, "No path to datacenter");
		return false;
	}
	return true;
}

static void
write_done(struct api_req *r)
{
	if (api_failed(r, 0, PROTO_CAT_WRITE))
		return;
	http_reply(r->ctx, 200, "application/json", "true", 4);
}

static void
send_write(struct http_ctx *c, uint16_t type, const struct buf *msg)
{
	struct api_req *r = api_req_new(c, write_done);
	api_ask(r, PROC_STORE, type, msg);
	api_go(r);
}

/* Checks, then Check (Consul appends the single one last). */
static bool
d_checks(struct dec *d, yajl_val doc, struct enc_list *checks)
{
	yajl_val list = member(doc, "Checks"), one = member(doc, "Check");
	if (list && !YAJL_IS_ARRAY(list))
		return bad_type(d, list, "Checks", "structs.HealthChecks");
	for (size_t i = 0; list && i < YAJL_GET_ARRAY(list)->len; i++) {
		yajl_val c = YAJL_GET_ARRAY(list)->values[i];
		if (!YAJL_IS_NULL(c) && !d_check(d, c, checks))
			return false;
	}
	return one == NULL || d_check(d, one, checks);
}

void
api_catalog_register(struct http_ctx *c, const struct http_request *req)
{
	struct dec d = { .type = "RegisterRequest" };
	struct buf node, svc, msg;
	struct enc_list checks = { 0 };
	const char *dc;
	yajl_val doc = body_json(c, req, "structs.RegisterRequest"), sv;
	if (doc == NULL)
		return;
	buf_init(&d.err);
	buf_init(&node);
	buf_init(&svc);
	buf_init(&msg);
	if (!local_dc(c, &d, doc, &dc))
		goto out;
	struct proto_cat_register reg = { 0 };
	sv = member(doc, "Service");
	bool ok = d_node(&d, doc, dc, &node) && d_bool(&d, doc, "SkipNodeUpdate", "SkipNodeUpdate",
	    &reg.skip_node_update) && (sv == NULL || d_service(&d, sv, &svc)) &&
	    d_checks(&d, doc, &checks);
	if (!ok || d.err.len) {
		http_reply_error(c, 400, "Request decode failed: %s",
		    (char *)d.err.data);
		goto out;
	}
	reg.node = (struct proto_str){ (const char *)node.data,
		(uint32_t)node.len };
	reg.service = (struct proto_str){ (const char *)svc.data,
		(uint32_t)svc.len };
	reg.checks = list_strv(&checks);
	proto_enc_cat_register(&msg, &reg);
	send_write(c, PROTO_CAT_REGISTER, &msg);
out:
	buf_free(&d.err);
	buf_free(&node);
	buf_free(&svc);
	buf_free(&msg);
	list_free(&checks);
	api_vals_free(&d.keep);
	yajl_tree_free(doc);
}

void
api_catalog_deregister(struct http_ctx *c, const struct http_request *req)
{
	struct dec d = { .type = "DeregisterRequest" };
	struct proto_cat_deregister m = { 0 };
	struct buf msg;
	const char *dc;
	yajl_val doc = body_json(c, req, "structs.DeregisterRequest");
	if (doc == NULL)
		return;
	buf_init(&d.err);
	buf_init(&msg);
	if (!local_dc(c, &d, doc, &dc))
		goto out;
	if (!d_str(&d, doc, "Node", "Node", &m.node) ||
	    !d_str(&d, doc, "ServiceID", "ServiceID", &m.service_id) ||
	    !d_str(&d, doc, "CheckID", "CheckID", &m.check_id) || d.err.len) {
		http_reply_error(c, 400, "Request decode failed: %s",
		    (char *)d.err.data);
		goto out;
	}
	proto_enc_cat_deregister(&msg, &m);
	send_write(c, PROTO_CAT_DEREGISTER, &msg);
out:
	buf_free(&d.err);
	buf_free(&msg);
	api_vals_free(&d.keep);
	yajl_tree_free(doc);
}
