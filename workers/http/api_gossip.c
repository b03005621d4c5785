/*
 * The gossip worker's endpoints (reference/consul.md 1.1, 1.7, 1.11):
 *
 *   PUT  /v1/agent/join/:addr            ?wan
 *   PUT  /v1/agent/force-leave/:node     ?prune ?wan
 *   PUT  /v1/event/fire/:name            body payload, ?node ?service ?tag
 *   GET  /v1/event/list                  ?name, blocking on ?index
 *   GET/POST/PUT/DELETE /v1/operator/keyring   body {"Key"}, ?relay-factor,
 *                                              ?local-only (GET)
 *
 * As Consul's handlers (agent/agent_endpoint.go, event_endpoint.go,
 * operator_endpoint.go): an error from the agent is a 500 with its text;
 * a keyring answer in which any pool reports an error becomes a 500 with
 * go-multierror's list ("<dc> (LAN) error: ...", "<node>: <message>").
 */
#include "workers/http/api.h"
#include "supervisor/config.h"
#include "lib/base64.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define GOSSIP_JOIN_TIMEOUT_MS 65000	/* joins queue; TCP timeouts 10-30 s */
#define GOSSIP_KEYRING_TIMEOUT_MS 30000	/* a key query per pool */
#define GOSSIP_BLOCK_MARGIN_MS 5000

static const struct agent_config *
cfg_of(struct http_ctx *c)
{
	return ((struct http_app *)http_app(c))->w->cfg;
}

/* 200 with no body, or the agent's error as a 500. */
static void
result_done(struct api_req *r)
{
	struct proto_result res;
	if (r->ans[0].err == 0 && r->ans[0].type == PROTO_RESULT &&
	    proto_dec_result(r->ans[0].data.data, r->ans[0].data.len,
	    &res) == 0 && res.code == 0) {
		http_reply(r->ctx, 200, NULL, "", 0);
		return;
	}
	api_failed(r, 0, 0xffff);
}

static void
ask_one(struct http_ctx *c, api_done_fn *done, uint16_t type,
    const struct buf *b, unsigned timeout_ms)
{
	struct api_req *r = api_req_new(c, done);
	api_ask_timeout(r, PROC_GOSSIP, type, b, timeout_ms);
	api_go(r);
}

void
api_agent_join(struct http_ctx *c, const struct http_request *req)
{
	bool wan = false;
	struct buf b;
	http_query(req, "wan", &wan);
	struct proto_join_req q = { .addr = proto_str_c(http_path_rest(c)),
		.wan = wan };
	buf_init(&b);
	proto_enc_join_req(&b, &q);
	ask_one(c, result_done, PROTO_JOIN_REQ, &b, GOSSIP_JOIN_TIMEOUT_MS);
	buf_free(&b);
}

void
api_agent_force_leave(struct http_ctx *c, const struct http_request *req)
{
	bool wan = false, prune = false;
	struct buf b;
	http_query(req, "wan", &wan);
	http_query(req, "prune", &prune);
	struct proto_force_leave_req q = {
		.node = proto_str_c(http_path_rest(c)), .prune = prune,
		.wan = wan };
	buf_init(&b);
	proto_enc_force_leave_req(&b, &q);
	ask_one(c, result_done, PROTO_FORCE_LEAVE_REQ, &b, API_IPC_TIMEOUT_MS);
	buf_free(&b);
}

/* ---- events ---- */

static void
write_event(struct json_w *jw, const struct proto_user_event *e)
{
	json_w_obj_open(jw);
	json_w_key(jw, "ID");
	json_w_strn(jw, e->id.p, e->id.len);
	json_w_key(jw, "Name");
	json_w_strn(jw, e->name.p, e->name.len);
	json_w_key(jw, "Payload");
	if (e->payload.len == 0)
		json_w_null(jw);
	else {
		char *b64 = base64_encode(e->payload.p, e->payload.len);
		json_w_str(jw, b64);
		free(b64);
	}
	json_w_key(jw, "NodeFilter");
	json_w_strn(jw, e->node_filter.p, e->node_filter.len);
	json_w_key(jw, "ServiceFilter");
	json_w_strn(jw, e->service_filter.p, e->service_filter.len);
	json_w_key(jw, "TagFilter");
	json_w_strn(jw, e->tag_filter.p, e->tag_filter.len);
	json_w_key(jw, "Version");
	json_w_uint(jw, e->version);
	json_w_key(jw, "LTime");
	json_w_uint(jw, e->ltime);
	json_w_obj_close(jw);
}

static void
fire_done(struct api_req *r)
{
	struct proto_user_event e;
	struct json_w jw;
	struct buf out;
	if (api_failed(r, 0, PROTO_USER_EVENT))
		return;
	if (proto_dec_user_event(r->ans[0].data.data, r->ans[0].data.len,
	    &e) < 0) {
		http_reply_error(r->ctx, 500, "malformed event answer");
		return;
	}
	api_json_begin(r->ctx, &jw, &out);
	write_event(&jw, &e);
	api_json_end(r->ctx, &jw, &out);
}

void
api_event_fire(struct http_ctx *c, const struct http_request *req)
{
	const char *name = http_path_rest(c);
	const char *dc = http_query(req, "dc", NULL);
	struct buf b;
	if (name[0] == '\0') {
		http_reply_error(c, 400, "Missing name");
		return;
	}
	if (dc && dc[0] && strcasecmp(dc, cfg_of(c)->datacenter) != 0) {
		http_reply_error(c, 500, "No path to datacenter");
		return;
	}
	const char *nf = http_query(req, "node", NULL);
	const char *sf = http_query(req, "service", NULL);
	const char *tf = http_query(req, "tag", NULL);
	struct proto_event_fire_req q = {
		.name = proto_str_c(name),
		.payload = { (const char *)req->body, (uint32_t)req->body_len },
		.node_filter = proto_str_c(nf ? nf : ""),
		.service_filter = proto_str_c(sf ? sf : ""),
		.tag_filter = proto_str_c(tf ? tf : ""),
	};
	buf_init(&b);
	proto_enc_event_fire_req(&b, &q);
	ask_one(c, fire_done, PROTO_EVENT_FIRE_REQ, &b, API_IPC_TIMEOUT_MS);
	buf_free(&b);
}

static void
list_done(struct api_req *r)
{
	struct proto_event_list l;
	struct proto_strv_iter it;
	struct proto_str item;
	struct json_w jw;
	struct buf out;

	if (api_failed(r, 0, PROTO_EVENT_LIST))
		return;
	if (proto_dec_event_list(r->ans[0].data.data, r->ans[0].data.len,
	    &l) < 0) {
		http_reply_error(r->ctx, 500, "malformed event list");
		return;
	}
	http_reply_headerf(r->ctx, "X-Consul-Index", "%" PRIu64, l.index);
	api_json_begin(r->ctx, &jw, &out);
	json_w_arr_open(&jw);
	proto_strv_iter_init(&it, &l.events);
	while (proto_strv_next(&it, &item)) {
		struct proto_user_event e;
		if (proto_dec_user_event(item.p, item.len, &e) == 0)
			write_event(&jw, &e);
	}
	json_w_arr_close(&jw);
	api_json_end(r->ctx, &jw, &out);
}

/* agent/event_endpoint.go EventList: with ?index the wait is ?wait, or
 * max_query_time, capped at max_query_time; no jitter. */
void
api_event_list(struct http_ctx *c, const struct http_request *req)
{
	const struct agent_config *cfg = cfg_of(c);
	struct http_query_opts o;
	struct buf b;
	uint64_t wait_ms = 0;

	if (!http_ctx_query_opts(c, &o))
		return;
	const char *name = http_query(req, "name", NULL);
	if (o.index > 0) {
		int64_t max = cfg->max_query_time;
		int64_t w = o.wait_set && o.wait_ns > 0 ? o.wait_ns : max;
		wait_ms = (uint64_t)((w < max ? w : max) / 1000000);
	}
	struct proto_event_list_req q = {
		.name = proto_str_c(name ? name : ""),
		.min_index = o.index, .wait_ms = wait_ms };
	buf_init(&b);
	proto_enc_event_list_req(&b, &q);
	ask_one(c, list_done, PROTO_EVENT_LIST_REQ, &b,
	    (unsigned)wait_ms + GOSSIP_BLOCK_MARGIN_MS);
	buf_free(&b);
}

/* ---- /v1/operator/keyring ---- */

struct kv_pair {
	struct proto_str k, v;
};

static int
pair_cmp(const void *a, const void *b)
{
	const struct kv_pair *x = a, *y = b;
	size_t n = x->k.len < y->k.len ? x->k.len : y->k.len;
	int c = memcmp(x->k.p, y->k.p, n);
	return c ? c : (x->k.len > y->k.len) - (x->k.len < y->k.len);
}

/* Alternating key, value: sorted pairs (Go writes map keys sorted). */
static size_t
pairs_of(const struct proto_strv *v, struct kv_pair **out)
{
	struct proto_strv_iter it;
	struct kv_pair *p = xcalloc(v->n / 2 + 1, sizeof(*p));
	size_t n = 0;
	proto_strv_iter_init(&it, v);
	while (n < v->n / 2 && proto_strv_next(&it, &p[n].k) &&
	    proto_strv_next(&it, &p[n].v))
		n++;
	qsort(p, n, sizeof(*p), pair_cmp);
	*out = p;
	return n;
}

static void
write_counts(struct json_w *jw, const char *key, const struct proto_strv *v)
{
	struct kv_pair *p;
	size_t n = pairs_of(v, &p);
	json_w_key(jw, key);
	json_w_obj_open(jw);
	for (size_t i = 0; i < n; i++) {
		char num[16];
		json_w_strn(jw, p[i].k.p, p[i].k.len);
		snprintf(num, sizeof(num), "%.*s", (int)p[i].v.len, p[i].v.p);
		json_w_uint(jw, strtoull(num, NULL, 10));
	}
	json_w_obj_close(jw);
	free(p);
}

/* structs.KeyringResponse. */
static void
write_keyring_resp(struct json_w *jw, const struct proto_keyring_resp *k)
{
	struct kv_pair *p;
	json_w_obj_open(jw);
	json_w_key(jw, "WAN");
	json_w_bool(jw, k->wan);
	json_w_key(jw, "Datacenter");
	json_w_strn(jw, k->datacenter.p, k->datacenter.len);
	json_w_key(jw, "Segment");
	json_w_strn(jw, k->segment.p, k->segment.len);
	size_t n = pairs_of(&k->messages, &p);
	if (n > 0) {
		json_w_key(jw, "Messages");
		json_w_obj_open(jw);
		for (size_t i = 0; i < n; i++) {
			json_w_strn(jw, p[i].k.p, p[i].k.len);
			json_w_strn(jw, p[i].v.p, p[i].v.len);
		}
		json_w_obj_close(jw);
	}
	free(p);
	write_counts(jw, "Keys", &k->keys);
	write_counts(jw, "PrimaryKeys", &k->primary_keys);
	json_w_key(jw, "NumNodes");
	json_w_uint(jw, k->num_nodes);
	if (k->error.len) {
		json_w_key(jw, "Error");
		json_w_strn(jw, k->error.p, k->error.len);
	}
	json_w_obj_close(jw);
}

/* keyringErrorsOrNil: each failing pool, then its nodes' messages. */
static void
keyring_errors(const struct proto_keyring_resp *k, struct buf *errs,
    unsigned *n)
{
	struct kv_pair *p;
	if (k->error.len == 0)
		return;
	if (k->wan)
		buf_addstr(errs, "\n\t* WAN");
	else
		buf_printf(errs, "\n\t* %.*s (LAN)", (int)k->datacenter.len,
		    k->datacenter.p);
	buf_printf(errs, " error: %.*s", (int)k->error.len, k->error.p);
	(*n)++;
	size_t nm = pairs_of(&k->messages, &p);
	for (size_t i = 0; i < nm; i++, (*n)++)
		buf_printf(errs, "\n\t* %.*s: %.*s", (int)p[i].k.len, p[i].k.p,
		    (int)p[i].v.len, p[i].v.p);
	free(p);
}

static void
keyring_done(struct api_req *r)
{
	bool list = http_ctx_request(r->ctx)->method == HTTP_GET;
	struct proto_keyring kr;
	struct proto_strv_iter it;
	struct proto_str item;
	struct proto_keyring_resp k;
	struct json_w jw;
	struct buf out, errs;
	unsigned nerr = 0;

	if (api_failed(r, 0, PROTO_KEYRING))
		return;
	if (proto_dec_keyring(r->ans[0].data.data, r->ans[0].data.len,
	    &kr) < 0) {
		http_reply_error(r->ctx, 500, "malformed keyring answer");
		return;
	}
	buf_init(&errs);
	api_json_begin(r->ctx, &jw, &out);
	json_w_arr_open(&jw);
	proto_strv_iter_init(&it, &kr.responses);
	while (proto_strv_next(&it, &item))
		if (proto_dec_keyring_resp(item.p, item.len, &k) == 0) {
			write_keyring_resp(&jw, &k);
			keyring_errors(&k, &errs, &nerr);
		}
	json_w_arr_close(&jw);
	if (nerr > 0) {
		json_w_finish(&jw);
		buf_free(&out);
		http_reply_error(r->ctx, 500, "%u error%s occurred:%s\n\n", nerr,
		    nerr == 1 ? "" : "s", (char *)errs.data);
	} else if (list)
		api_json_end(r->ctx, &jw, &out);
	else {
		json_w_finish(&jw);
		buf_free(&out);
		http_reply(r->ctx, 200, NULL, "", 0);
	}
	buf_free(&errs);
}

/* The {"Key": ...} body; false when a 400 was sent. */
static bool
keyring_body(struct http_ctx *c, const struct http_request *req,
    const char **key, yajl_val *root)
{
	struct buf err;
	*key = "";
	*root = NULL;
	if (req->method == HTTP_GET)
		return true;
	if (req->body_len == 0) {
		http_reply_error(c, 400, "Request decode failed: EOF");
		return false;
	}
	buf_init(&err);
	*root = json_parse((const char *)req->body, req->body_len, &err);
	if (*root == NULL) {
		http_reply_error(c, 400, "Request decode failed: %s",
		    err.len ? (char *)err.data : "invalid JSON");
		buf_free(&err);
		return false;
	}
	buf_free(&err);
	yajl_val v = json_get(*root, "Key");
	if (v && !json_as_str(v, key)) {
		http_reply_error(c, 400, "Request decode failed: json: cannot "
		    "unmarshal %s into Go struct field keyringArgs.Key of type "
		    "string", json_type_name(v));
		return false;
	}
	return true;
}

/* ?relay-factor and ?local-only, as OperatorKeyringEndpoint checks them. */
static bool
keyring_opts(struct http_ctx *c, const struct http_request *req,
    uint8_t *relay, bool *local)
{
	const char *v = http_query(req, "relay-factor", NULL);
	*relay = 0;
	*local = false;
	if (v && v[0]) {
		char *end;
		long n = strtol(v, &end, 10);
		if (*end || end == v) {
			http_reply_error(c, 400, "Error parsing relay factor: "
			    "strconv.Atoi: parsing \"%s\": invalid syntax", v);
			return false;
		}
		if (n < 0 || n > 5) {
			http_reply_error(c, 400, "Invalid relay-factor: Relay "
			    "factor must be in range: [0, 5]");
			return false;
		}
		*relay = (uint8_t)n;
	}
	v = http_query(req, "local-only", NULL);
	if (v && v[0]) {
		static const char *const t[] = { "1", "t", "T", "TRUE", "true",
			"True" }, *const f[] = { "0", "f", "F", "FALSE",
			"false", "False" };
		bool ok = false;
		for (size_t i = 0; i < nitems(t); i++) {
			if (strcmp(v, t[i]) == 0)
				ok = *local = true;
			if (strcmp(v, f[i]) == 0)
				ok = true;
		}
		if (!ok) {
			http_reply_error(c, 400, "Error parsing local-only: "
			    "strconv.ParseBool: parsing \"%s\": invalid syntax",
			    v);
			return false;
		}
		if (*local && req->method != HTTP_GET) {
			http_reply_error(c, 400, "Invalid use of local-only: "
			    "local-only can only be set for list requests");
			return false;
		}
	}
	return true;
}

static void
keyring_ask(struct http_ctx *c, unsigned method, const char *key,
    uint8_t relay, bool local)
{
	struct buf b;
	struct proto_keyring_req q = {
		.op = method == HTTP_GET ? 1 : method == HTTP_POST ? 2 :
		    method == HTTP_PUT ? 3 : 4,
		.key = proto_str_c(key), .relay_factor = relay,
		.local_only = local };
	buf_init(&b);
	proto_enc_keyring_req(&b, &q);
	ask_one(c, keyring_done, PROTO_KEYRING_REQ, &b,
	    GOSSIP_KEYRING_TIMEOUT_MS);
	buf_free(&b);
}

void
api_operator_keyring(struct http_ctx *c, const struct http_request *req)
{
	const char *key;
	yajl_val root;
	uint8_t relay;
	bool local;

	if (keyring_body(c, req, &key, &root) &&
	    keyring_opts(c, req, &relay, &local))
		keyring_ask(c, req->method, key, relay, local);
	if (root)
		yajl_tree_free(root);
}
