/*
 * /v1/kv/<key> and /v1/txn (reference/consul.md sections 1.4, 1.6, 2;
 * Consul's agent/kvs_endpoint.go and txn_endpoint.go).  Reads go to the
 * store as KV_READ_REQ (blocking and consistency options included); writes
 * as a KV_TXN_REQ, which the store applies through Raft; a transaction of
 * reads only as a KV_TXN_READ_REQ, served like a read (Txn.Read).
 *
 * Keys are taken as given (any bytes but NUL, not starting with '/'),
 * as Consul did before its 2025 key-character filter.
 */
#include "workers/http/api.h"
#include "workers/store/kv.h"
#include "supervisor/config.h"
#include "lib/base64.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define KV_TXN_MAX_OPS 128
#define KV_BLOCK_MARGIN_MS 5000

struct kv_ctx {
	uint8_t mode;		/* 0 get, 1 recurse, 2 keys */
	bool raw;
	bool key_empty;
	uint8_t consistency;
	enum kv_verb verb;	/* PUT/DELETE: what decides true/false */
};

static const struct agent_config *
cfg_of(struct http_ctx *c)
{
	return ((struct http_app *)http_app(c))->w->cfg;
}

static void
write_entry(struct json_w *jw, const struct proto_kv_entry *e)
{
	json_w_obj_open(jw);
	json_w_key(jw, "LockIndex");
	json_w_uint(jw, e->lock_index);
	json_w_key(jw, "Key");
	json_w_strn(jw, e->key.p, e->key.len);
	json_w_key(jw, "Flags");
	json_w_uint(jw, e->flags);
	json_w_key(jw, "Value");
	if (e->value.len == 0)
		json_w_null(jw);
	else {
		char *b = base64_encode(e->value.p, e->value.len);
		json_w_str(jw, b);
		free(b);
	}
	if (e->session.len) {
		json_w_key(jw, "Session");
		json_w_strn(jw, e->session.p, e->session.len);
	}
	json_w_key(jw, "CreateIndex");
	json_w_uint(jw, e->create_index);
	json_w_key(jw, "ModifyIndex");
	json_w_uint(jw, e->modify_index);
	json_w_obj_close(jw);
}

/* ---- reads ---------------------------------------------------------- */

static void
reply_raw(struct api_req *r, const struct proto_kv_read *rd)
{
	struct proto_strv_iter it;
	struct proto_str item;
	struct proto_kv_entry e;
	proto_strv_iter_init(&it, &rd->items);
	if (!proto_strv_next(&it, &item) ||
	    proto_dec_kv_entry(item.p, item.len, &e) < 0) {
		http_reply_error(r->ctx, 500, "malformed KV answer");
		return;
	}
	http_reply_header(r->ctx, "X-Content-Type-Options", "nosniff");
	http_reply_header(r->ctx, "Content-Security-Policy", "sandbox");
	http_reply(r->ctx, 200, "text/plain", e.value.p, e.value.len);
}

static void
read_done(struct api_req *r)
{
	struct kv_ctx *k = r->arg;
	struct proto_kv_read rd;
	struct proto_strv_iter it;
	struct proto_str item;
	struct json_w jw;
	struct buf out;

	if (api_failed(r, 0, PROTO_KV_READ))
		goto done;
	if (proto_dec_kv_read(r->ans[0].data.data, r->ans[0].data.len, &rd) < 0) {
		http_reply_error(r->ctx, 500, "malformed KV answer");
		goto done;
	}
	api_read_headers(r->ctx, rd.index, rd.known_leader,
	    rd.last_contact_ms, k->consistency);
	if (rd.items.n == 0 && !(k->mode == 2 && k->key_empty)) {
		http_reply(r->ctx, 404, NULL, "", 0);
		goto done;
	}
	if (k->raw && k->mode == 0) {
		reply_raw(r, &rd);
		goto done;
	}
	api_json_begin(r->ctx, &jw, &out);
	json_w_arr_open(&jw);
	proto_strv_iter_init(&it, &rd.items);
	while (proto_strv_next(&it, &item)) {
		struct proto_kv_entry e;
		if (k->mode == 2)
			json_w_strn(&jw, item.p, item.len);
		else if (proto_dec_kv_entry(item.p, item.len, &e) == 0)
			write_entry(&jw, &e);
	}
	json_w_arr_close(&jw);
	api_json_end(r->ctx, &jw, &out);
done:
	return;
}

static void
api_kv_get(struct http_ctx *c, const struct http_request *req, const char *key)
{
	struct api_read_opts o;
	bool recurse = false, keys = false, raw = false, has_sep = false;
	const char *sep;

	http_query(req, "recurse", &recurse);
	http_query(req, "keys", &keys);
	http_query(req, "raw", &raw);
	if (!recurse && !keys && key[0] == '\0') {
		http_reply_error(c, 400, "Missing key name");
		return;
	}
	if (!api_read_opts(c, req, &o))
		return;
	sep = http_query(req, "separator", &has_sep);
	if (!has_sep)
		sep = http_query(req, "seperator", NULL);	/* Consul's old spelling */
	struct kv_ctx *k = xcalloc(1, sizeof(*k));
	k->mode = keys ? 2 : recurse ? 1 : 0;
	k->raw = raw;
	k->key_empty = key[0] == '\0';
	k->consistency = o.consistency;
	struct proto_kv_read_req q = { .key = proto_str_c(key), .mode = k->mode,
		.separator = proto_str_c(sep ? sep : ""),
		.min_index = o.min_index, .wait_ms = o.wait_ms,
		.consistency = o.consistency, .max_stale_ms = o.max_stale_ms };
	struct buf b;
	buf_init(&b);
	proto_enc_kv_read_req(&b, &q);
	struct api_req *r = api_req_new(c, read_done);
	r->arg = k;
	api_ask_timeout(r, PROC_STORE, PROTO_KV_READ_REQ, &b,
	    (unsigned)(o.wait_ms + KV_BLOCK_MARGIN_MS));
	buf_free(&b);
	api_go(r);
}

/* ---- writes ---------------------------------------------------------- */

static void
enc_op(struct buf *out, enum kv_verb verb, const char *key, const void *val,
    size_t vlen, uint64_t flags, uint64_t index, const char *session)
{
	struct proto_kv_op op = { .verb = (uint8_t)verb,
		.key = proto_str_c(key),
		.value = { val ? val : "", (uint32_t)vlen },
		.flags = flags, .index = index,
		.session = proto_str_c(session) };
	proto_enc_kv_op(out, &op);
}

static void
send_txn(struct http_ctx *c, const struct proto_str *ops, uint32_t n,
    api_done_fn *done, void *arg)
{
	struct proto_kv_txn_req t = { .ops = { .n = n, .strs = ops } };
	struct buf b;
	buf_init(&b);
	proto_enc_kv_txn_req(&b, &t);
	struct api_req *r = api_req_new(c, done);
	r->arg = arg;
	api_ask(r, PROC_STORE, PROTO_KV_TXN_REQ, &b);
	buf_free(&b);
	api_go(r);
}

/* "true"/"false" as Consul answers a KV write. */
static void
write_done(struct api_req *r)
{
	struct kv_ctx *k = r->arg;
	struct proto_kv_txn t;
	if (api_failed(r, 0, PROTO_KV_TXN))
		return;
	if (proto_dec_kv_txn(r->ans[0].data.data, r->ans[0].data.len, &t) < 0) {
		http_reply_error(r->ctx, 500, "malformed KV answer");
		return;
	}
	bool ok = t.errors.n == 0;
	if (k->verb == KV_SET || k->verb == KV_DELETE || k->verb == KV_DELETE_TREE)
		ok = true;
	const char *body = ok ? "true" : "false";
	http_reply(r->ctx, 200, "application/json", body, strlen(body));
}

/* strconv.ParseUint as Go reports it (Consul answers such errors 500). */
static bool
parse_u64(struct http_ctx *c, const char *s, uint64_t *v)
{
	char *end;
	errno = 0;
	unsigned long long x = strtoull(s, &end, 10);
	if (s[0] == '\0' || s[0] == '-' || s[0] == '+' || *end || errno) {
		http_reply_error(c, 500, "strconv.ParseUint: parsing \"%s\": %s",
		    s, errno == ERANGE ? "value out of range" : "invalid syntax");
		return false;
	}
	*v = x;
	return true;
}

/* Go's url.QueryEscape. */
static void
query_escape(struct buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || strchr("-_.~", ch))
			buf_addch(out, (char)ch);
		else if (ch == ' ')
			buf_addch(out, '+');
		else {
			buf_addch(out, '%');
			buf_addch(out, hex[ch >> 4]);
			buf_addch(out, hex[ch & 15]);
		}
	}
}

static int
param_cmp(const void *a, const void *b)
{
	const struct http_param *const *x = a, *const *y = b;
	int r = strcmp((*x)->name, (*y)->name);
	/* Go keeps a key's values in their order: stable by position. */
	return r ? r : (*x < *y ? -1 : *x > *y);
}

/* Go's url.Values.Encode() of the request's query: "k=v&..." sorted by
 * key, each value escaped, a bare flag as "k=". */
static void
query_encode(const struct http_request *req, struct buf *out)
{
	const struct http_param **ps = xcalloc(req->nparams + 1, sizeof(*ps));
	for (size_t i = 0; i < req->nparams; i++)
		ps[i] = &req->params[i];
	qsort(ps, req->nparams, sizeof(*ps), param_cmp);
	for (size_t i = 0; i < req->nparams; i++) {
		if (i)
			buf_addch(out, '&');
		query_escape(out, ps[i]->name);
		buf_addch(out, '=');
		query_escape(out, ps[i]->value ? ps[i]->value : "");
	}
	free(ps);
}

/* Consul's conflictingFlags: 400 "Conflicting flags: " + the query. */
static bool
conflicting(struct http_ctx *c, const struct http_request *req,
    const char *const *flags, size_t n)
{
	size_t found = 0;
	for (size_t i = 0; i < n; i++) {
		bool p = false;
		http_query(req, flags[i], &p);
		found += p;
	}
	if (found > 1) {
		struct buf b;
		buf_init(&b);
		buf_addstr(&b, "Conflicting flags: ");
		query_encode(req, &b);
		http_reply(c, 400, NULL, b.data, b.len);
		buf_free(&b);
		return true;
	}
	return false;
}

static void
api_kv_put(struct http_ctx *c, const struct http_request *req, const char *key)
{
	static const char *const excl[] = { "cas", "acquire", "release" };
	const struct agent_config *cfg = cfg_of(c);
	bool has;
	uint64_t flags = 0, cas = 0;
	const char *session = "";
	enum kv_verb verb = KV_SET;

	if (key[0] == '\0') {
		http_reply_error(c, 400, "Missing key name");
		return;
	}
	if (conflicting(c, req, excl, nitems(excl)))
		return;
	const char *v = http_query(req, "flags", &has);
	if (has && !parse_u64(c, v, &flags))
		return;
	v = http_query(req, "cas", &has);
	if (has) {
		if (!parse_u64(c, v, &cas))
			return;
		verb = KV_CAS;
	}
	if ((v = http_query(req, "acquire", &has)) && has) {
		verb = KV_LOCK;
		session = v;
	}
	if ((v = http_query(req, "release", &has)) && has) {
		verb = KV_UNLOCK;
		session = v;
	}
	if (req->body_len > (size_t)cfg->limits.kv_max_value_size) {
		http_reply_error(c, 413, "Request body(%zu bytes) too large, max "
		    "size: %d bytes. See https://developer.hashicorp.com/docs/"
		    "agent/config/config-files#kv_max_value_size.",
		    req->body_len, cfg->limits.kv_max_value_size);
		return;
	}
	struct buf op;
	buf_init(&op);
	enc_op(&op, verb, key, req->body, req->body_len, flags, cas, session);
	struct proto_str one = { (const char *)op.data, (uint32_t)op.len };
	struct kv_ctx *k = xcalloc(1, sizeof(*k));
	k->verb = verb;
	send_txn(c, &one, 1, write_done, k);
	buf_free(&op);
}

static void
api_kv_delete(struct http_ctx *c, const struct http_request *req, const char *key)
{
	static const char *const excl[] = { "recurse", "cas" };
	bool recurse = false, has = false;
	uint64_t cas = 0;
	enum kv_verb verb = KV_DELETE;

	if (conflicting(c, req, excl, nitems(excl)))
		return;
	http_query(req, "recurse", &recurse);
	if (recurse)
		verb = KV_DELETE_TREE;
	else if (key[0] == '\0') {
		http_reply_error(c, 400, "Missing key name");
		return;
	}
	const char *v = http_query(req, "cas", &has);
	if (has) {
		if (!parse_u64(c, v, &cas))
			return;
		verb = KV_DELETE_CAS;
	}
	struct buf op;
	buf_init(&op);
	enc_op(&op, verb, key, NULL, 0, 0, cas, "");
	struct proto_str one = { (const char *)op.data, (uint32_t)op.len };
	struct kv_ctx *k = xcalloc(1, sizeof(*k));
	k->verb = verb;
	send_txn(c, &one, 1, write_done, k);
	buf_free(&op);
}

void
api_kv(struct http_ctx *c, const struct http_request *req)
{
	const char *key = http_path_rest(c);
	if (key[0] == '/' ) {
		http_reply_error(c, 400, "Invalid key name, must not begin with a '/'");
		return;
	}
	if (req->method == HTTP_GET || req->method == HTTP_HEAD)
		api_kv_get(c, req, key);
	else if (req->method == HTTP_PUT)
		api_kv_put(c, req, key);
	else
		api_kv_delete(c, req, key);
}

/* ---- PUT /v1/txn ------------------------------------------------------ */

static const char *const verb_names[KV_VERB_MAX] = {
	[KV_SET] = "set", [KV_CAS] = "cas", [KV_LOCK] = "lock",
	[KV_UNLOCK] = "unlock", [KV_GET] = "get", [KV_GET_TREE] = "get-tree",
	[KV_CHECK_INDEX] = "check-index", [KV_CHECK_SESSION] = "check-session",
	[KV_CHECK_NOT_EXISTS] = "check-not-exists", [KV_DELETE] = "delete",
	[KV_DELETE_TREE] = "delete-tree", [KV_DELETE_CAS] = "delete-cas",
};

static enum kv_verb
verb_by_name(const char *s)
{
	for (int v = KV_SET; v < KV_VERB_MAX; v++)
		if (strcasecmp(s, verb_names[v]) == 0)
			return (enum kv_verb)v;
	return 0;
}

static bool
json_u64(yajl_val v, uint64_t *out)
{
	int64_t i;
	if (v == NULL)
		return true;
	if (!json_as_int(v, &i) || i < 0)
		return false;
	*out = (uint64_t)i;
	return true;
}

/* A verb that only reads: a transaction of these is Consul's Txn.Read. */
static bool
verb_reads(enum kv_verb v)
{
	return v == KV_GET || v == KV_GET_TREE || v == KV_CHECK_INDEX ||
	    v == KV_CHECK_SESSION || v == KV_CHECK_NOT_EXISTS;
}

/* The consistency a read-only transaction was served with (its arg). */
struct txn_read_ctx {
	uint8_t consistency;
};

/*
 * One {"KV": {...}} element -> an encoded KV_OP; NULL + message on error.
 * *reads is cleared when the op writes.
 */
static const char *
txn_op(yajl_val el, bool *reads, struct buf *out)
{
	const char *verb_s = NULL, *key = "", *val = NULL, *sess = "";
	uint64_t flags = 0, index = 0;
	yajl_val kv = YAJL_IS_OBJECT(el) ? json_get(el, "KV") : NULL;
	if (kv == NULL || !YAJL_IS_OBJECT(kv))
		return "only KV operations are supported";
	if (!json_as_str(json_get(kv, "Verb"), &verb_s))
		return "missing Verb";
	enum kv_verb verb = verb_by_name(verb_s);
	if (verb == 0)
		return "unknown KV verb";
	if (!verb_reads(verb))
		*reads = false;
	yajl_val k = json_get(kv, "Key"), v = json_get(kv, "Value"),
	    s = json_get(kv, "Session");
	if ((k && !json_as_str(k, &key)) ||
	    (v && !YAJL_IS_NULL(v) && !json_as_str(v, &val)) ||
	    (s && !YAJL_IS_NULL(s) && !json_as_str(s, &sess)) ||
	    !json_u64(json_get(kv, "Flags"), &flags) ||
	    !json_u64(json_get(kv, "Index"), &index))
		return "bad field type";
	struct buf raw;
	buf_init(&raw);
	if (val && base64_decode(val, strlen(val), &raw) < 0) {
		buf_free(&raw);
		return "illegal base64 data in Value";
	}
	enc_op(out, verb, key, raw.data, raw.len, flags, index, sess);
	buf_free(&raw);
	return NULL;
}

static void
txn_done(struct api_req *r)
{
	struct proto_kv_txn t;
	struct proto_strv_iter it;
	struct proto_str item;
	struct json_w jw;
	struct buf out;

	if (api_failed(r, 0, PROTO_KV_TXN))
		return;
	if (proto_dec_kv_txn(r->ans[0].data.data, r->ans[0].data.len, &t) < 0) {
		http_reply_error(r->ctx, 500, "malformed txn answer");
		return;
	}
	const struct txn_read_ctx *rd = r->arg;
	if (rd)		/* served as a read: Consul sets the read's meta */
		api_read_headers(r->ctx, t.index, t.known_leader,
		    t.last_contact_ms, rd->consistency);
	else
		http_reply_headerf(r->ctx, "X-Consul-Index", "%" PRIu64,
		    t.index ? t.index : 1);
	api_json_begin(r->ctx, &jw, &out);
	json_w_obj_open(&jw);
	json_w_key(&jw, "Results");
	if (t.errors.n) {
		json_w_null(&jw);
	} else {
		json_w_arr_open(&jw);
		proto_strv_iter_init(&it, &t.results);
		while (proto_strv_next(&it, &item)) {
			struct proto_kv_entry e;
			if (proto_dec_kv_entry(item.p, item.len, &e) < 0)
				continue;
			json_w_obj_open(&jw);
			json_w_key(&jw, "KV");
			write_entry(&jw, &e);
			json_w_obj_close(&jw);
		}
		json_w_arr_close(&jw);
	}
	json_w_key(&jw, "Errors");
	if (t.errors.n == 0)
		json_w_null(&jw);
	else {
		json_w_arr_open(&jw);
		proto_strv_iter_init(&it, &t.errors);
		while (proto_strv_next(&it, &item)) {
			struct proto_kv_txn_err e;
			if (proto_dec_kv_txn_err(item.p, item.len, &e) < 0)
				continue;
			json_w_obj_open(&jw);
			json_w_key(&jw, "OpIndex");
			json_w_uint(&jw, e.op_index);
			json_w_key(&jw, "What");
			json_w_strn(&jw, e.what.p, e.what.len);
			json_w_obj_close(&jw);
		}
		json_w_arr_close(&jw);
	}
	json_w_obj_close(&jw);
	if (json_w_finish(&jw) < 0) {
		buf_free(&out);
		http_reply_error(r->ctx, 500, "internal error encoding JSON");
		return;
	}
	http_reply_json(r->ctx, t.errors.n ? 409 : 200, &out);
}

/*
 * Consul's Txn.Read: only reads, so the store serves it like a KV read
 * with the query's consistency (?stale, ?consistent; both is 400).
 */
static void
send_txn_read(struct http_ctx *c, const struct http_request *req,
    const struct proto_str *ops, uint32_t n)
{
	struct api_read_opts o;
	if (!api_read_opts(c, req, &o))
		return;
	struct proto_kv_txn_req t = { .ops = { .n = n, .strs = ops } };
	struct buf txn, b;
	buf_init(&txn);
	buf_init(&b);
	proto_enc_kv_txn_req(&txn, &t);
	struct proto_kv_txn_read_req q = { .consistency = o.consistency,
		.max_stale_ms = o.max_stale_ms,
		.txn = { (const char *)txn.data, (uint32_t)txn.len } };
	proto_enc_kv_txn_read_req(&b, &q);
	struct txn_read_ctx *rd = xcalloc(1, sizeof(*rd));
	rd->consistency = o.consistency;
	struct api_req *r = api_req_new(c, txn_done);
	r->arg = rd;
	api_ask(r, PROC_STORE, PROTO_KV_TXN_READ_REQ, &b);
	buf_free(&txn);
	buf_free(&b);
	api_go(r);
}

void
api_txn(struct http_ctx *c, const struct http_request *req)
{
	const struct agent_config *cfg = cfg_of(c);
	struct buf err, ops;
	if (req->body_len > (size_t)cfg->limits.txn_max_req_len) {
		http_reply_error(c, 413, "Request body(%zu bytes) too large, max "
		    "size: %d bytes. See https://developer.hashicorp.com/docs/"
		    "agent/config/config-files#txn_max_req_len.",
		    req->body_len, cfg->limits.txn_max_req_len);
		return;
	}
	buf_init(&err);
	yajl_val doc = json_parse((const char *)req->body, req->body_len, &err);
	if (doc == NULL || !YAJL_IS_ARRAY(doc)) {
		http_reply_error(c, 400, "Failed to parse body: %s",
		    doc ? "expected a JSON array of operations" :
		    (char *)err.data);
		buf_free(&err);
		yajl_tree_free(doc);
		return;
	}
	size_t n = YAJL_GET_ARRAY(doc)->len;
	if (n > KV_TXN_MAX_OPS) {
		http_reply_error(c, 413, "Transaction contains too many "
		    "operations (%zu > %d)", n, KV_TXN_MAX_OPS);
		yajl_tree_free(doc);
		buf_free(&err);
		return;
	}
	struct proto_str *items = xcalloc(n + 1, sizeof(*items));
	size_t *offs = xcalloc(n + 1, sizeof(*offs));
	bool reads = true;
	buf_init(&ops);
	for (size_t i = 0; i < n; i++) {
		offs[i] = ops.len;
		const char *why = txn_op(YAJL_GET_ARRAY(doc)->values[i],
		    &reads, &ops);
		if (why) {
			http_reply_error(c, 400, "Failed to parse body: "
			    "operation %zu: %s", i, why);
			goto out;
		}
	}
	offs[n] = ops.len;
	for (size_t i = 0; i < n; i++) {
		items[i].p = (const char *)ops.data + offs[i];
		items[i].len = (uint32_t)(offs[i + 1] - offs[i]);
	}
	if (reads && n > 0)
		send_txn_read(c, req, items, (uint32_t)n);
	else
		send_txn(c, items, (uint32_t)n, txn_done, NULL);
out:
	free(items);
	free(offs);
	buf_free(&ops);
	buf_free(&err);
	yajl_tree_free(doc);
}
