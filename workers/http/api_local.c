/*
 * The agent-local endpoints (reference/consul.md 1.1, shapes in 2):
 * services and checks registered on this agent, their health, TTL
 * updates and maintenance mode.  The checks worker owns the state; these
 * handlers turn requests into 0x05xx messages and answers into Consul's
 * JSON (agent/agent_endpoint.go, api/agent.go).
 */
#include "workers/http/api.h"
#include "supervisor/config.h"
#include "lib/bexpr.h"
#include "lib/log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- RESULT answers of writes ---- */

static void
result_done(struct api_req *r)
{
	struct api_answer *a = &r->ans[0];
	struct proto_result res;
	int status;

	if (a->err != 0 || a->type != PROTO_RESULT ||
	    proto_dec_result(a->data.data, a->data.len, &res) < 0) {
		api_failed(r, 0, PROTO_RESULT);
		return;
	}
	if (res.code == 0) {
		http_reply(r->ctx, 200, NULL, "", 0);
		return;
	}
	status = res.code == -EINVAL ? 400 : res.code == -ENOENT ? 404 : 500;
	http_reply_error(r->ctx, status, "%.*s", (int)res.message.len,
	    res.message.p);
}

static void
ask_checks(struct http_ctx *c, uint16_t type, const struct buf *payload)
{
	struct api_req *r = api_req_new(c, result_done);
	api_ask(r, PROC_CHECKS, type, payload);
	api_go(r);
}

static void
register_common(struct http_ctx *c, const struct http_request *req,
    unsigned kind)
{
	struct http_query_opts o;
	struct buf b;
	const char *rep;
	bool present = false;

	if (!http_ctx_query_opts(c, &o))
		return;
	/* ?replace-existing-checks, bare or "true" (AgentRegisterService). */
	rep = http_query(req, "replace-existing-checks", &present);
	struct proto_agent_register m = {
		.kind = (uint8_t)kind,
		.body = { (const char *)req->body, (uint32_t)req->body_len },
		.replace_existing_checks = present && (rep[0] == '\0' ||
		    strcmp(rep, "true") == 0),
		.token = proto_str_c(o.token ? o.token : ""),
	};
	buf_init(&b);
	proto_enc_agent_register(&b, &m);
	ask_checks(c, PROTO_AGENT_REGISTER, &b);
	buf_free(&b);
}

void
api_agent_service_register(struct http_ctx *c, const struct http_request *req)
{
	register_common(c, req, AGENT_KIND_SERVICE);
}

void
api_agent_check_register(struct http_ctx *c, const struct http_request *req)
{
	register_common(c, req, AGENT_KIND_CHECK);
}

static void
deregister(struct http_ctx *c, unsigned kind)
{
	struct proto_agent_deregister m = { .kind = (uint8_t)kind,
		.id = proto_str_c(http_path_rest(c)) };
	struct buf b;
	buf_init(&b);
	proto_enc_agent_deregister(&b, &m);
	ask_checks(c, PROTO_AGENT_DEREGISTER, &b);
	buf_free(&b);
}

void
api_agent_service_deregister(struct http_ctx *c,
    const struct http_request *req)
{
	deregister(c, AGENT_KIND_SERVICE);
}

void
api_agent_check_deregister(struct http_ctx *c, const struct http_request *req)
{
	deregister(c, AGENT_KIND_CHECK);
}

static void
check_update(struct http_ctx *c, const char *status, const char *output)
{
	struct proto_agent_check_update m = {
		.check_id = proto_str_c(http_path_rest(c)),
		.status = proto_str_c(status), .output = proto_str_c(output) };
	struct buf b;
	buf_init(&b);
	proto_enc_agent_check_update(&b, &m);
	ask_checks(c, PROTO_AGENT_CHECK_UPDATE, &b);
	buf_free(&b);
}

static const char *
note(const struct http_request *req)
{
	const char *n = http_query(req, "note", NULL);
	return n ? n : "";
}

void
api_agent_check_pass(struct http_ctx *c, const struct http_request *req)
{
	check_update(c, "passing", note(req));
}

void
api_agent_check_warn(struct http_ctx *c, const struct http_request *req)
{
	check_update(c, "warning", note(req));
}

void
api_agent_check_fail(struct http_ctx *c, const struct http_request *req)
{
	check_update(c, "critical", note(req));
}

/* AgentCheckUpdate: body {"Status", "Output"}, Status one of three. */
void
api_agent_check_update(struct http_ctx *c, const struct http_request *req)
{
	const char *status = "", *output = "";
	struct buf err;
	yajl_val v = NULL;

	buf_init(&err);
	if (req->body_len == 0)
		buf_addstr(&err, "EOF");
	else if ((v = json_parse((const char *)req->body, req->body_len,
	    &err)) != NULL && !YAJL_IS_OBJECT(v)) {
		buf_printf(&err, "json: cannot unmarshal %s into Go value of "
		    "type agent.checkUpdate", json_type_name(v));
		yajl_tree_free(v);
		v = NULL;
	}
	if (v == NULL) {
		http_reply_error(c, 400, "Request decode failed: %s",
		    (char *)err.data);
		buf_free(&err);
		return;
	}
	buf_free(&err);
	json_as_str(json_get(v, "Status"), &status);
	json_as_str(json_get(v, "Output"), &output);
	if (strcmp(status, "passing") != 0 && strcmp(status, "warning") != 0 &&
	    strcmp(status, "critical") != 0)
		http_reply_error(c, 400, "Invalid check status: '%s'", status);
	else
		check_update(c, status, output);
	yajl_tree_free(v);
}

/* strconv.ParseBool. */
static int
parse_bool(const char *s, bool *out)
{
	static const char *const t[] = { "1", "t", "T", "TRUE", "true",
		"True" }, *const f[] = { "0", "f", "F", "FALSE", "false",
		"False" };
	for (size_t i = 0; i < nitems(t); i++) {
		if (strcmp(s, t[i]) == 0)
			return *out = true, 0;
		if (strcmp(s, f[i]) == 0)
			return *out = false, 0;
	}
	return -EINVAL;
}

static void
maintenance(struct http_ctx *c, const struct http_request *req,
    const char *service_id)
{
	struct http_query_opts o;
	bool present = false, enable;
	const char *raw = http_query(req, "enable", &present), *reason;
	struct buf b;

	if (!present) {
		http_reply_error(c, 400, "Missing value for enable");
		return;
	}
	if (parse_bool(raw, &enable) < 0) {
		http_reply_error(c, 400, "Invalid value for enable: \"%s\"", raw);
		return;
	}
	if (!http_ctx_query_opts(c, &o))
		return;
	reason = http_query(req, "reason", NULL);
	struct proto_agent_maint m = { .service_id = proto_str_c(service_id),
		.enable = enable, .reason = proto_str_c(reason ? reason : ""),
		.token = proto_str_c(o.token ? o.token : "") };
	buf_init(&b);
	proto_enc_agent_maint(&b, &m);
	ask_checks(c, PROTO_AGENT_MAINT, &b);
	buf_free(&b);
}

void
api_agent_maintenance(struct http_ctx *c, const struct http_request *req)
{
	maintenance(c, req, "");
}

void
api_agent_service_maintenance(struct http_ctx *c,
    const struct http_request *req)
{
	const char *id = http_path_rest(c);
	if (id[0] == '\0') {
		http_reply_error(c, 400, "Missing service ID");
		return;
	}
	maintenance(c, req, id);
}

/* ---- reads ---- */

enum { L_LEADER, L_LOCAL };

struct local_view {
	struct proto_agent_local msg;
	struct proto_agent_service *svc;
	struct proto_str *svc_raw;
	size_t nsvc;
	struct proto_agent_check *chk;
	size_t nchk;
};

static void
view_free(struct local_view *v)
{
	free(v->svc);
	free(v->svc_raw);
	free(v->chk);
}

/* Decode an AGENT_LOCAL payload; false after replying 500. */
static bool
view_decode_raw(struct http_ctx *c, const uint8_t *p, size_t n,
    struct local_view *v)
{
	struct proto_strv_iter it;
	struct proto_str item;

	memset(v, 0, sizeof(*v));
	if (proto_dec_agent_local(p, n, &v->msg) < 0)
		goto bad;
	v->svc = xcalloc(v->msg.services.n + 1, sizeof(*v->svc));
	v->svc_raw = xcalloc(v->msg.services.n + 1, sizeof(*v->svc_raw));
	v->chk = xcalloc(v->msg.checks.n + 1, sizeof(*v->chk));
	proto_strv_iter_init(&it, &v->msg.services);
	while (proto_strv_next(&it, &item) && v->nsvc < v->msg.services.n) {
		v->svc_raw[v->nsvc] = item;
		if (proto_dec_agent_service(item.p, item.len,
		    &v->svc[v->nsvc++]) < 0)
			goto bad;
	}
	proto_strv_iter_init(&it, &v->msg.checks);
	while (proto_strv_next(&it, &item) && v->nchk < v->msg.checks.n)
		if (proto_dec_agent_check(item.p, item.len,
		    &v->chk[v->nchk++]) < 0)
			goto bad;
	return true;
bad:
	view_free(v);
	http_reply_error(c, 500, "malformed answer from the agent's checks "
	    "process");
	return false;
}

/* The checks worker's answer to an api_req; false after replying. */
static bool
view_decode(struct api_req *r, struct local_view *v)
{
	struct api_answer *a = &r->ans[L_LOCAL];
	memset(v, 0, sizeof(*v));
	if (api_failed(r, L_LOCAL, PROTO_AGENT_LOCAL))
		return false;
	return view_decode_raw(r->ctx, a->data.data, a->data.len, v);
}

static void
w_strn(struct json_w *jw, const char *k, struct proto_str s)
{
	json_w_key(jw, k);
	json_w_strn(jw, s.p, s.len);
}

static void
w_strv(struct json_w *jw, const char *k, const struct proto_strv *v)
{
	struct proto_strv_iter it;
	struct proto_str s;
	json_w_key(jw, k);
	json_w_arr_open(jw);
	proto_strv_iter_init(&it, v);
	while (proto_strv_next(&it, &s))
		json_w_strn(jw, s.p, s.len);
	json_w_arr_close(jw);
}

static void
w_taddrs(struct json_w *jw, const struct proto_strv *v)
{
	struct proto_strv_iter it;
	struct proto_str s;
	struct proto_agent_svc_addr a;
	if (v->n == 0)
		return;		/* omitempty */
	json_w_key(jw, "TaggedAddresses");
	json_w_obj_open(jw);
	proto_strv_iter_init(&it, v);
	while (proto_strv_next(&it, &s))
		if (proto_dec_agent_svc_addr(s.p, s.len, &a) == 0) {
			json_w_strn(jw, a.key.p, a.key.len);
			json_w_obj_open(jw);
			w_strn(jw, "Address", a.address);
			json_w_key(jw, "Port");
			json_w_int(jw, a.port);
			json_w_obj_close(jw);
		}
	json_w_obj_close(jw);
}

/* api.AgentService (buildAgentService), field order as Go prints it. */
static void
w_service(struct json_w *jw, const struct proto_agent_service *s,
    const char *dc, const char *hash)
{
	struct proto_strv_iter it;
	struct proto_str k, v;

	json_w_obj_open(jw);
	if (s->kind.len)
		w_strn(jw, "Kind", s->kind);
	w_strn(jw, "ID", s->id);
	w_strn(jw, "Service", s->service);
	w_strv(jw, "Tags", &s->tags);
	json_w_key(jw, "Meta");
	json_w_obj_open(jw);
	proto_strv_iter_init(&it, &s->meta);
	while (proto_strv_next(&it, &k) && proto_strv_next(&it, &v)) {
		json_w_strn(jw, k.p, k.len);
		json_w_strn(jw, v.p, v.len);
	}
	json_w_obj_close(jw);
	json_w_key(jw, "Port");
	json_w_int(jw, s->port);
	w_strn(jw, "Address", s->address);
	if (s->socket_path.len)
		w_strn(jw, "SocketPath", s->socket_path);
	w_taddrs(jw, &s->tagged_addresses);
	json_w_key(jw, "Weights");
	json_w_obj_open(jw);
	json_w_key(jw, "Passing");
	json_w_int(jw, s->weights_passing > 0 ? s->weights_passing : 1);
	json_w_key(jw, "Warning");
	json_w_int(jw, s->weights_warning);
	json_w_obj_close(jw);
	json_w_key(jw, "EnableTagOverride");
	json_w_bool(jw, s->enable_tag_override);
	if (hash) {
		json_w_key(jw, "ContentHash");
		json_w_str(jw, hash);
	}
	if (s->connect_native) {
		json_w_key(jw, "Connect");
		json_w_obj_open(jw);
		json_w_key(jw, "Native");
		json_w_bool(jw, true);
		json_w_obj_close(jw);
	}
	json_w_key(jw, "Datacenter");
	json_w_str(jw, dc);
	json_w_obj_close(jw);
}

/* api.HealthCheckDefinition of a zero value, as Go marshals it. */
static void
w_zero_definition(struct json_w *jw)
{
	static const char *const strs[] = { "HTTP", "Method", "Body",
		"TLSServerName", "TCP", "UDP", "GRPC", "OSService" };
	json_w_obj_open(jw);
	for (size_t i = 0; i < 4; i++) {
		json_w_key(jw, strs[i]);
		json_w_str(jw, "");
		if (i == 0) {
			json_w_key(jw, "Header");
			json_w_null(jw);
		}
	}
	json_w_key(jw, "TLSSkipVerify");
	json_w_bool(jw, false);
	for (size_t i = 4; i < nitems(strs); i++) {
		json_w_key(jw, strs[i]);
		json_w_str(jw, "");
		if (i == 4) {
			json_w_key(jw, "TCPUseTLS");
			json_w_bool(jw, false);
		}
	}
	json_w_key(jw, "GRPCUseTLS");
	json_w_bool(jw, false);
	static const char *const durs[] = { "Interval", "Timeout",
		"DeregisterCriticalServiceAfter" };
	for (size_t i = 0; i < nitems(durs); i++) {
		json_w_key(jw, durs[i]);
		json_w_str(jw, "0s");
	}
	json_w_obj_close(jw);
}

/*
 * structs.HealthCheck (/agent/checks), or with health set api.HealthCheck
 * as agentHealthService builds it (no Type, interval or definition).
 */
static void
w_check(struct json_w *jw, const struct proto_agent_check *c, bool health)
{
	json_w_obj_open(jw);
	w_strn(jw, "Node", c->node);
	w_strn(jw, "CheckID", c->check_id);
	w_strn(jw, "Name", c->name);
	w_strn(jw, "Status", c->status);
	w_strn(jw, "Notes", c->notes);
	w_strn(jw, "Output", c->output);
	w_strn(jw, "ServiceID", c->service_id);
	w_strn(jw, "ServiceName", c->service_name);
	w_strv(jw, "ServiceTags", &c->service_tags);
	json_w_key(jw, "Type");
	json_w_strn(jw, c->type.p, health ? 0 : c->type.len);
	if (!health) {
		w_strn(jw, "Interval", c->interval);
		w_strn(jw, "Timeout", c->timeout);
	}
	json_w_key(jw, "ExposedPort");
	json_w_int(jw, c->exposed_port);
	json_w_key(jw, "Definition");
	if (health)
		w_zero_definition(jw);
	else {
		json_w_obj_open(jw);
		json_w_obj_close(jw);
	}
	json_w_key(jw, "CreateIndex");
	json_w_int(jw, 0);
	json_w_key(jw, "ModifyIndex");
	json_w_int(jw, 0);
	json_w_obj_close(jw);
}

/* The request's strings stay valid until the reply: done reads them
 * again from r->ctx, so nothing needs freeing if the client leaves. */
static void
ask_local(struct http_ctx *c, api_done_fn *done, unsigned what,
    const char *id, const char *name)
{
	struct api_req *r = api_req_new(c, done);
	struct proto_agent_local_req q = { .what = (uint8_t)what,
		.service_id = proto_str_c(id ? id : ""),
		.service_name = proto_str_c(name ? name : "") };
	struct buf b;
	buf_init(&b);
	proto_enc_agent_local_req(&b, &q);
	api_ask_leader(r);
	api_ask(r, PROC_CHECKS, PROTO_AGENT_LOCAL_REQ, &b);
	buf_free(&b);
	api_go(r);
}

static const char *
datacenter(struct api_req *r)
{
	return r->app->w->cfg->datacenter;
}

/* ---- ?filter ---- */

struct filter {
	struct bexpr *e;
	struct bexpr_arena *arena;
	const struct bexpr_type *type;
};

/* false after answering 400 (a bad expression is the client's error). */
static bool
filter_open(struct http_ctx *c, const struct bexpr_type *type,
    struct filter *f)
{
	struct http_query_opts o;
	struct buf err;
	memset(f, 0, sizeof(*f));
	if (!http_ctx_query_opts(c, &o))
		return false;
	if (o.filter == NULL || o.filter[0] == '\0')
		return true;
	buf_init(&err);
	f->e = bexpr_compile_typed(o.filter, type, &err);
	if (f->e == NULL) {
		http_reply_error(c, 400, "%s", (char *)err.data);
		buf_free(&err);
		return false;
	}
	buf_free(&err);
	f->arena = bexpr_arena_new();
	f->type = type;
	return true;
}

static void
filter_close(struct filter *f)
{
	if (f->e)
		bexpr_free(f->e);
	if (f->arena)
		bexpr_arena_free(f->arena);
}

/* Does the item whose JSON is in item[0..len) pass? */
static bool
filter_match(struct filter *f, const struct buf *item)
{
	struct buf err;
	bool match = false;
	yajl_val v;
	if (f->e == NULL)
		return true;
	buf_init(&err);
	v = json_parse((const char *)item->data, item->len, &err);
	if (v && bexpr_eval_yajl(f->e, f->arena, v, f->type, &match,
	    &err) < 0)
		match = false;
	if (v)
		yajl_tree_free(v);
	buf_free(&err);
	return match;
}

/* ---- GET /v1/agent/services, /v1/agent/checks ---- */

static void
services_done(struct api_req *r)
{
	struct local_view v;
	struct filter fl, *f = &fl;
	struct json_w jw, iw;
	struct buf out, item;

	if (!filter_open(r->ctx, &bexpr_consul_agent_service, f))
		return;
	if (!view_decode(r, &v)) {
		filter_close(f);
		return;
	}
	api_index_headers(r);
	api_json_begin(r->ctx, &jw, &out);
	json_w_obj_open(&jw);
	buf_init(&item);
	for (size_t i = 0; i < v.nsvc; i++) {
		buf_reset(&item);
		json_w_init(&iw, &item, false);
		w_service(&iw, &v.svc[i], datacenter(r), NULL);
		json_w_finish(&iw);
		if (!filter_match(f, &item))
			continue;
		json_w_strn(&jw, v.svc[i].id.p, v.svc[i].id.len);
		w_service(&jw, &v.svc[i], datacenter(r), NULL);
	}
	json_w_obj_close(&jw);
	buf_free(&item);
	api_json_end(r->ctx, &jw, &out);
	view_free(&v);
	filter_close(f);
}

void
api_agent_services(struct http_ctx *c, const struct http_request *req)
{
	ask_local(c, services_done, AGENT_LOCAL_SERVICES, NULL, NULL);
}

static void
checks_done(struct api_req *r)
{
	struct local_view v;
	struct filter fl, *f = &fl;
	struct json_w jw, iw;
	struct buf out, item;

	if (!filter_open(r->ctx, &bexpr_consul_health_check, f))
		return;
	if (!view_decode(r, &v)) {
		filter_close(f);
		return;
	}
	api_index_headers(r);
	api_json_begin(r->ctx, &jw, &out);
	json_w_obj_open(&jw);
	buf_init(&item);
	for (size_t i = 0; i < v.nchk; i++) {
		buf_reset(&item);
		json_w_init(&iw, &item, false);
		w_check(&iw, &v.chk[i], false);
		json_w_finish(&iw);
		if (!filter_match(f, &item))
			continue;
		json_w_strn(&jw, v.chk[i].check_id.p, v.chk[i].check_id.len);
		w_check(&jw, &v.chk[i], false);
	}
	json_w_obj_close(&jw);
	buf_free(&item);
	api_json_end(r->ctx, &jw, &out);
	view_free(&v);
	filter_close(f);
}

void
api_agent_checks(struct http_ctx *c, const struct http_request *req)
{
	ask_local(c, checks_done, AGENT_LOCAL_CHECKS, NULL, NULL);
}

/* ---- GET /v1/agent/service/:id ---- */

/* The service with its ContentHash (also as X-Consul-ContentHash), or
 * 404 "unknown service ID: <id>" (agent_endpoint.go AgentService). */
static void
service_render(struct http_ctx *c, const char *dc, const struct local_view *v)
{
	struct json_w jw;
	struct buf out;
	char hash[17];

	if (v->nsvc == 0) {
		http_reply_error(c, 404, "unknown service ID: %s",
		    http_path_rest(c));
		return;
	}
	snprintf(hash, sizeof(hash), "%.*s", (int)v->msg.content_hash.len,
	    v->msg.content_hash.p);
	http_reply_header(c, "X-Consul-Contenthash", hash);
	api_json_begin(c, &jw, &out);
	w_service(&jw, &v->svc[0], dc, hash);
	api_json_end(c, &jw, &out);
}

static void
service_done(struct api_req *r)
{
	struct local_view v;
	if (!view_decode(r, &v))
		return;
	api_index_headers(r);
	service_render(r->ctx, datacenter(r), &v);
	view_free(&v);
}

/*
 * ?hash: a hash-based blocking query (reference/consul.md 0.2).  The
 * checks worker holds the answer until the service changes or the wait
 * ends, so the request gets a timeout past the wait.
 */
struct svc_wait {
	struct http_ctx *ctx;
	struct http_app *app;
	int64_t reqid;
};

static void
svc_wait_abort(void *arg)
{
	struct svc_wait *sw = arg;
	worker_request_cancel(sw->app->w, PROC_CHECKS, sw->reqid);
	free(sw);
}

static void
svc_wait_reply(void *arg, struct ipc_msg *m, int err)
{
	struct svc_wait *sw = arg;
	struct local_view v;
	http_ctx_on_abort(sw->ctx, NULL, NULL);
	if (err < 0 || m->hdr.type != PROTO_AGENT_LOCAL)
		http_reply_error(sw->ctx, 500, "rpc error: %s the agent's checks "
		    "process", err == -ETIMEDOUT ? "timed out waiting for" :
		    "restarting:");
	else if (view_decode_raw(sw->ctx, m->data, m->len, &v)) {
		service_render(sw->ctx, sw->app->w->cfg->datacenter, &v);
		view_free(&v);
	}
	free(sw);
}

static void
service_block(struct http_ctx *c, const struct http_query_opts *o,
    const char *id, const char *hash)
{
	const struct agent_config *cfg = ((struct http_app *)http_app(c))->w->cfg;
	int64_t wait = http_wait_jitter(http_wait_clamp(o->wait_set ?
	    o->wait_ns : 0, cfg->default_query_time, cfg->max_query_time));
	struct proto_agent_local_req q = { .what = AGENT_LOCAL_SERVICES,
		.service_id = proto_str_c(id), .hash = proto_str_c(hash),
		.wait_ms = (uint64_t)(wait / 1000000) };
	struct svc_wait *sw = xcalloc(1, sizeof(*sw));
	struct buf b;

	sw->ctx = c;
	sw->app = http_app(c);
	buf_init(&b);
	proto_enc_agent_local_req(&b, &q);
	sw->reqid = worker_request(sw->app->w, PROC_CHECKS,
	    PROTO_AGENT_LOCAL_REQ, &b, (unsigned)(q.wait_ms +
	    API_IPC_TIMEOUT_MS), svc_wait_reply, sw);
	buf_free(&b);
	if (sw->reqid < 0) {
		free(sw);
		http_reply_error(c, 500, "rpc error: restarting: the agent's "
		    "checks process");
		return;
	}
	http_ctx_on_abort(c, svc_wait_abort, sw);
}

void
api_agent_service(struct http_ctx *c, const struct http_request *req)
{
	const char *id = http_path_rest(c), *hash;
	struct http_query_opts o;
	if (!http_ctx_query_opts(c, &o))
		return;
	if (id[0] == '\0') {
		http_reply_error(c, 404, "unknown service ID: ");
		return;
	}
	if ((hash = http_query(req, "hash", NULL)) != NULL && hash[0])
		service_block(c, &o, id, hash);
	else
		ask_local(c, service_done, AGENT_LOCAL_SERVICES, id, NULL);
}

/* ---- GET /v1/agent/health/service/{id,name}/:x ---- */

/* api.HealthChecks.AggregatedStatus: maintenance beats everything. */
static const char *
aggregate(const struct local_view *v, struct proto_str sid)
{
	bool warn = false, crit = false, maint = false;
	for (size_t i = 0; i < v->nchk; i++) {
		const struct proto_agent_check *c = &v->chk[i];
		if (c->service_id.len && (c->service_id.len != sid.len ||
		    memcmp(c->service_id.p, sid.p, sid.len) != 0))
			continue;
		if (proto_str_eq(c->check_id, "_node_maintenance") ||
		    (c->check_id.len >= 21 && memcmp(c->check_id.p,
		    "_service_maintenance:", 21) == 0)) {
			maint = true;
			continue;
		}
		if (proto_str_eq(c->status, "critical"))
			crit = true;
		else if (proto_str_eq(c->status, "warning"))
			warn = true;
		else if (!proto_str_eq(c->status, "passing"))
			return "";
	}
	return maint ? "maintenance" : crit ? "critical" : warn ? "warning" :
	    "passing";
}

static int
status_code(const char *agg)
{
	return strcmp(agg, "passing") == 0 ? 200 : strcmp(agg, "warning") ==
	    0 ? 429 : 503;
}

/* returnTextPlain: Accept: text/plain..., else ?format=text. */
static bool
want_text(struct http_ctx *c)
{
	const struct http_request *req = http_ctx_request(c);
	const char *accept = http_header(req, "Accept");
	const char *fmt = http_query(req, "format", NULL);
	if (accept && strncmp(accept, "text/plain", 10) == 0)
		return true;
	return fmt && fmt[0] && strcmp(fmt, "text") == 0;
}

/* One api.AgentServiceChecksInfo. */
static void
w_info(struct json_w *jw, const struct local_view *v, size_t i,
    const char *dc)
{
	const struct proto_agent_service *s = &v->svc[i];
	json_w_obj_open(jw);
	json_w_key(jw, "AggregatedStatus");
	json_w_str(jw, aggregate(v, s->id));
	json_w_key(jw, "Service");
	w_service(jw, s, dc, NULL);
	json_w_key(jw, "Checks");
	json_w_arr_open(jw);
	for (size_t k = 0; k < v->nchk; k++)
		if (v->chk[k].service_id.len == 0 ||
		    (v->chk[k].service_id.len == s->id.len &&
		    memcmp(v->chk[k].service_id.p, s->id.p, s->id.len) == 0))
			w_check(jw, &v->chk[k], true);
	json_w_arr_close(jw);
	json_w_obj_close(jw);
}

static void
reply_json_status(struct http_ctx *c, int status, struct json_w *jw,
    struct buf *out)
{
	if (json_w_finish(jw) < 0) {
		buf_free(out);
		http_reply_error(c, 500, "internal error encoding JSON");
		return;
	}
	if (http_pretty(c))
		buf_addch(out, '\n');
	http_reply_json(c, status, out);
}

static void
health_id_done(struct api_req *r)
{
	struct local_view v;
	struct json_w jw;
	struct buf out;
	const char *id = http_path_rest(r->ctx), *agg;

	if (!view_decode(r, &v))
		return;
	api_index_headers(r);
	if (v.nsvc == 0) {
		if (want_text(r->ctx))
			http_reply_error(r->ctx, 404, "ServiceId %s not found",
			    id);
		else {
			api_json_begin(r->ctx, &jw, &out);
			json_w_obj_open(&jw);
			json_w_key(&jw, "AggregatedStatus");
			json_w_str(&jw, "critical");
			json_w_key(&jw, "Service");
			json_w_null(&jw);
			json_w_key(&jw, "Checks");
			json_w_null(&jw);
			json_w_obj_close(&jw);
			reply_json_status(r->ctx, 404, &jw, &out);
		}
	} else {
		agg = aggregate(&v, v.svc[0].id);
		if (want_text(r->ctx))
			http_reply(r->ctx, status_code(agg), "text/plain", agg,
			    strlen(agg));
		else {
			api_json_begin(r->ctx, &jw, &out);
			w_info(&jw, &v, 0, datacenter(r));
			reply_json_status(r->ctx, status_code(agg), &jw, &out);
		}
	}
	view_free(&v);
}

void
api_agent_health_service_id(struct http_ctx *c, const struct http_request *req)
{
	const char *id = http_path_rest(c);
	if (id[0] == '\0') {
		http_reply_error(c, 400, "Missing serviceID");
		return;
	}
	ask_local(c, health_id_done, AGENT_LOCAL_SERVICES | AGENT_LOCAL_CHECKS,
	    id, NULL);
}

/* AgentHealthServiceByName: the worst instance decides the code. */
static void
health_name_done(struct api_req *r)
{
	struct local_view v;
	struct json_w jw;
	struct buf out;
	const char *name = http_path_rest(r->ctx);
	char *text = NULL;
	int code = 404;

	if (!view_decode(r, &v))
		return;
	api_index_headers(r);
	for (size_t i = 0; i < v.nsvc; i++) {
		const char *agg = aggregate(&v, v.svc[i].id);
		int sc = status_code(agg);
		if (code == 404 || code < sc) {
			code = sc;
			free(text);
			text = xstrdup(agg);
		}
	}
	if (text == NULL)
		text = xasprintf("ServiceName %s Not Found", name);
	if (want_text(r->ctx))
		http_reply(r->ctx, code, "text/plain", text, strlen(text));
	else {
		api_json_begin(r->ctx, &jw, &out);
		json_w_arr_open(&jw);
		for (size_t i = 0; i < v.nsvc; i++)
			w_info(&jw, &v, i, datacenter(r));
		json_w_arr_close(&jw);
		reply_json_status(r->ctx, code, &jw, &out);
	}
	free(text);
	view_free(&v);
}

void
api_agent_health_service_name(struct http_ctx *c,
    const struct http_request *req)
{
	const char *name = http_path_rest(c);
	if (name[0] == '\0') {
		http_reply_error(c, 400, "Missing service Name");
		return;
	}
	ask_local(c, health_name_done, AGENT_LOCAL_SERVICES |
	    AGENT_LOCAL_CHECKS, NULL, name);
}
