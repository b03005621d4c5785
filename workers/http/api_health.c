/*
 * /v1/health/... (reference/consul.md sections 1.3, 2, 6.3; Consul's
 * agent/health_endpoint.go): checks of a node, of a service, in a state,
 * and /v1/health/service/:name, the discovery call, with each instance's
 * node, service and checks (node-level checks first).  The store does the
 * selection (and ?passing); ?filter runs here on the rows (api_catalog.c
 * has the shared plumbing).
 */
#include "workers/http/api.h"

#include <stdlib.h>
#include <string.h>

/* structs.HealthCheck */
static void
json_check(struct json_w *jw, const struct proto_cat_check *c)
{
	static const char *const names[] = { "Node", "CheckID", "Name",
		"Status", "Notes", "Output", "ServiceID", "ServiceName" };
	const struct proto_str vals[] = { c->node, c->check_id, c->name,
		c->status, c->notes, c->output, c->service_id, c->service_name };
	json_w_obj_open(jw);
	for (size_t i = 0; i < nitems(names); i++) {
		json_w_key(jw, names[i]);
		json_w_strn(jw, vals[i].p, vals[i].len);
	}
	json_w_key(jw, "ServiceTags");
	api_json_strv(jw, &c->service_tags);
	json_w_key(jw, "Type");
	json_w_strn(jw, c->type.p, c->type.len);
	json_w_key(jw, "Interval");
	json_w_strn(jw, c->interval.p, c->interval.len);
	json_w_key(jw, "Timeout");
	json_w_strn(jw, c->timeout.p, c->timeout.len);
	json_w_key(jw, "ExposedPort");
	json_w_int(jw, c->exposed_port);
	json_w_key(jw, "Definition");
	/* Canonical JSON made by api_catalog.c when the check came in. */
	yajl_val def = json_parse(c->definition.p, c->definition.len, NULL);
	if (def && YAJL_IS_OBJECT(def))
		json_w_value(jw, def);
	else {
		json_w_obj_open(jw);
		json_w_obj_close(jw);
	}
	yajl_tree_free(def);
	json_w_key(jw, "CreateIndex");
	json_w_uint(jw, c->create_index);
	json_w_key(jw, "ModifyIndex");
	json_w_uint(jw, c->modify_index);
	json_w_obj_close(jw);
}

static void
val_check(struct api_vals *v, struct bexpr_value *out,
    const struct proto_cat_check *c)
{
	struct bexpr_member *m = api_val_struct(v, out, 10);
	api_mem_str(&m[0], "Node", c->node);
	api_mem_str(&m[1], "CheckID", c->check_id);
	api_mem_str(&m[2], "Name", c->name);
	api_mem_str(&m[3], "Status", c->status);
	api_mem_str(&m[4], "Notes", c->notes);
	api_mem_str(&m[5], "Output", c->output);
	api_mem_str(&m[6], "ServiceID", c->service_id);
	api_mem_str(&m[7], "ServiceName", c->service_name);
	api_mem_list(v, &m[8], "ServiceTags", &c->service_tags);
	api_mem_str(&m[9], "Type", c->type);
}

/* A list of checks (health/node, health/checks, health/state). */
static void
checks_done(struct api_req *r)
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
		struct proto_cat_check c;
		struct bexpr_value v;
		if (proto_dec_cat_check(item.p, item.len, &c) < 0)
			continue;
		api_vals_reset(&vals);
		if (f)
			val_check(&vals, &v, &c);
		int m = api_cat_match(r, f, &v);
		if (m < 0) {
			json_w_finish(&jw);
			buf_free(&out);
			goto out;
		}
		if (m)
			json_check(&jw, &c);
	}
	json_w_arr_close(&jw);
	api_cat_json_end(r, &rd, &jw, &out);
out:
	bexpr_free(f);
	api_vals_free(&vals);
}

static void
health_read(struct http_ctx *c, const struct http_request *req, uint8_t what,
    unsigned flags, const struct bexpr_type *ftype, api_done_fn *done,
    const char *missing)
{
	const char *name = http_path_rest(c);
	if (name[0] == '\0') {
		http_reply_error(c, 400, "%s", missing);
		return;
	}
	struct api_cat_read rd = { what, name, flags, ftype, done };
	api_cat_read(c, req, &rd);
}

void
api_health_node(struct http_ctx *c, const struct http_request *req)
{
	health_read(c, req, CAT_Q_HEALTH_NODE, 0, &bexpr_consul_health_check,
	    checks_done, "Missing node name");
}

void
api_health_checks(struct http_ctx *c, const struct http_request *req)
{
	health_read(c, req, CAT_Q_HEALTH_CHECKS, API_CAT_META,
	    &bexpr_consul_health_check, checks_done, "Missing service name");
}

void
api_health_state(struct http_ctx *c, const struct http_request *req)
{
	health_read(c, req, CAT_Q_HEALTH_STATE, API_CAT_META,
	    &bexpr_consul_health_check, checks_done, "Missing check state");
}

/* ---- GET /v1/health/service/:name ------------------------------------------ */

/* structs.CheckServiceNode as a filter sees it. */
static bool
val_entry(struct api_vals *v, struct bexpr_value *out,
    const struct proto_cat_node *n, const struct proto_cat_service *s,
    const struct proto_strv *checks)
{
	struct proto_strv_iter it;
	struct proto_str item;
	struct bexpr_member *m = api_val_struct(v, out, 3);
	api_val_node(v, &m[0].val, n);
	m[0].key = "Node";
	m[0].keylen = 4;
	api_val_node_service(v, &m[1].val, s);
	m[1].key = "Service";
	m[1].keylen = 7;
	struct bexpr_value *cv = api_vals_alloc(v, checks->n * sizeof(*cv));
	size_t nc = 0;
	proto_strv_iter_init(&it, checks);
	while (nc < checks->n && proto_strv_next(&it, &item)) {
		struct proto_cat_check c;
		if (proto_dec_cat_check(item.p, item.len, &c) < 0)
			return false;
		val_check(v, &cv[nc++], &c);
	}
	m[2].key = "Checks";
	m[2].keylen = 6;
	m[2].val.kind = BEXPR_LIST;
	m[2].val.list.items = cv;
	m[2].val.list.n = nc;
	return true;
}

/* {"Node": {...}, "Service": {...}, "Checks": [...]} */
static void
json_entry(struct json_w *jw, const struct proto_cat_node *n,
    const struct proto_cat_service *s, const struct proto_strv *checks)
{
	struct proto_strv_iter it;
	struct proto_str item;
	json_w_obj_open(jw);
	json_w_key(jw, "Node");
	api_json_node(jw, n);
	json_w_key(jw, "Service");
	api_json_node_service(jw, s);
	json_w_key(jw, "Checks");
	json_w_arr_open(jw);
	proto_strv_iter_init(&it, checks);
	while (proto_strv_next(&it, &item)) {
		struct proto_cat_check c;
		if (proto_dec_cat_check(item.p, item.len, &c) == 0)
			json_check(jw, &c);
	}
	json_w_arr_close(jw);
	json_w_obj_close(jw);
}

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
		if (f && !val_entry(&vals, &v, &n, &s, &e.checks))
			continue;
		int m = api_cat_match(r, f, &v);
		if (m < 0) {
			json_w_finish(&jw);
			buf_free(&out);
			goto out;
		}
		if (m)
			json_entry(&jw, &n, &s, &e.checks);
	}
	json_w_arr_close(&jw);
	api_cat_json_end(r, &rd, &jw, &out);
out:
	bexpr_free(f);
	api_vals_free(&vals);
}

void
api_health_service(struct http_ctx *c, const struct http_request *req)
{
	health_read(c, req, CAT_Q_HEALTH_SERVICE,
	    API_CAT_META | API_CAT_TAGS | API_CAT_PASSING,
	    &bexpr_consul_check_service_node, service_done,
	    "Missing service name");
}
