/*
 * /v1/operator/raft/... and /v1/operator/autopilot/... (reference/consul.md
 * 1.11; Consul's agent/operator_endpoint.go).  The store worker answers
 * (forwarding to the leader, or from a client agent to a server); this
 * file maps its messages to Consul's JSON shapes: durations as Go
 * duration strings (api.ReadableDuration), StableSince as RFC 3339 UTC
 * rounded to the second, an unhealthy cluster's health with status 429.
 */
#include "workers/http/api.h"
#include "lib/duration.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static bool
want_stale(struct http_ctx *c, const struct http_request *req, bool *stale)
{
	struct api_read_opts o;
	if (!api_read_opts(c, req, &o))
		return false;
	*stale = o.consistency == 1;
	return true;
}

static void
put_duration(struct json_w *jw, const char *key, uint64_t ms)
{
	char d[DURATION_STRLEN];
	json_w_key(jw, key);
	if (ms == UINT64_MAX) {
		json_w_null(jw);
		return;
	}
	duration_format((int64_t)ms * DURATION_MS, d, sizeof(d));
	json_w_str(jw, d);
}

/* Go's time.Time JSON: RFC 3339, UTC, whole seconds here. */
static void
put_time(struct json_w *jw, const char *key, uint64_t wall_ms)
{
	char t[40] = "0001-01-01T00:00:00Z";
	time_t s = (time_t)((wall_ms + 500) / 1000);
	struct tm tm;
	if (wall_ms && gmtime_r(&s, &tm))
		strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_w_key(jw, key);
	json_w_str(jw, t);
}

static void
json_strn_key(struct json_w *jw, const char *key, struct proto_str s)
{
	json_w_key(jw, key);
	json_w_strn(jw, s.p, s.len);
}

/* ---- raft ------------------------------------------------------------ */

static void
raft_conf_done(struct api_req *r)
{
	struct proto_op_raft_conf rc;
	struct proto_strv_iter it;
	struct proto_str item;
	struct json_w jw;
	struct buf out;
	if (api_failed(r, 0, PROTO_OP_RAFT_CONF))
		return;
	if (proto_dec_op_raft_conf(r->ans[0].data.data, r->ans[0].data.len,
	    &rc) < 0) {
		http_reply_error(r->ctx, 500, "malformed Raft configuration");
		return;
	}
	api_json_begin(r->ctx, &jw, &out);
	json_w_obj_open(&jw);
	json_w_key(&jw, "Servers");
	json_w_arr_open(&jw);
	proto_strv_iter_init(&it, &rc.servers);
	while (proto_strv_next(&it, &item)) {
		struct proto_op_raft_server s;
		if (proto_dec_op_raft_server(item.p, item.len, &s) < 0)
			continue;
		json_w_obj_open(&jw);
		json_strn_key(&jw, "ID", s.id);
		json_strn_key(&jw, "Node", s.node);
		json_strn_key(&jw, "Address", s.addr);
		json_w_key(&jw, "Leader");
		json_w_bool(&jw, s.leader);
		json_strn_key(&jw, "ProtocolVersion", s.protocol);
		json_w_key(&jw, "Voter");
		json_w_bool(&jw, s.voter);
		json_w_key(&jw, "LastIndex");
		json_w_uint(&jw, s.last_index);
		json_w_obj_close(&jw);
	}
	json_w_arr_close(&jw);
	json_w_key(&jw, "Index");
	json_w_uint(&jw, rc.index);
	json_w_obj_close(&jw);
	api_json_end(r->ctx, &jw, &out);
}

void
api_operator_raft_conf(struct http_ctx *c, const struct http_request *req)
{
	struct proto_op_raft_conf_req q = { 0 };
	struct buf b;
	if (!want_stale(c, req, &q.stale))
		return;
	struct api_req *r = api_req_new(c, raft_conf_done);
	buf_init(&b);
	proto_enc_op_raft_conf_req(&b, &q);
	api_ask(r, PROC_STORE, PROTO_OP_RAFT_CONF_REQ, &b);
	buf_free(&b);
	api_go(r);
}

/* A RESULT with code 0 means done; its message is the detail. */
static bool
result_ok(struct api_req *r, struct proto_result *res)
{
	if (api_failed(r, 0, PROTO_RESULT))
		return false;
	if (proto_dec_result(r->ans[0].data.data, r->ans[0].data.len, res) < 0) {
		http_reply_error(r->ctx, 500, "malformed answer");
		return false;
	}
	if (res->code < 0) {
		http_reply_error(r->ctx, 500, "%.*s", (int)res->message.len,
		    res->message.p);
		return false;
	}
	return true;
}

static void
peer_done(struct api_req *r)
{
	struct proto_result res;
	if (result_ok(r, &res))
		http_reply(r->ctx, 200, NULL, "", 0);
}

void
api_operator_raft_peer(struct http_ctx *c, const struct http_request *req)
{
	bool has_id = false, has_addr = false;
	const char *id = http_query(req, "id", &has_id);
	const char *addr = http_query(req, "address", &has_addr);
	struct buf b;
	if (!has_id && !has_addr) {
		http_reply_error(c, 400, "Must specify either ?id with the "
		    "server's ID or ?address with IP:port of peer to remove");
		return;
	}
	if (has_id && has_addr) {
		http_reply_error(c, 400, "Must specify only one of ?id or "
		    "?address");
		return;
	}
	struct proto_op_raft_remove_req q = {
		.id = proto_str_c(has_id ? id : ""),
		.addr = proto_str_c(has_addr ? addr : "") };
	struct api_req *r = api_req_new(c, peer_done);
	buf_init(&b);
	proto_enc_op_raft_remove_req(&b, &q);
	api_ask(r, PROC_STORE, PROTO_OP_RAFT_REMOVE_REQ, &b);
	buf_free(&b);
	api_go(r);
}

static void
transfer_done(struct api_req *r)
{
	struct proto_result res;
	struct json_w jw;
	struct buf out;
	if (!result_ok(r, &res))
		return;
	api_json_begin(r->ctx, &jw, &out);
	json_w_obj_open(&jw);
	json_w_key(&jw, "Success");
	json_w_bool(&jw, true);
	json_w_obj_close(&jw);
	api_json_end(r->ctx, &jw, &out);
}

void
api_operator_raft_transfer(struct http_ctx *c, const struct http_request *req)
{
	const char *id = http_query(req, "id", NULL);
	struct proto_op_raft_transfer_req q = { .id = proto_str_c(id ? id : "") };
	struct buf b;
	struct api_req *r = api_req_new(c, transfer_done);
	buf_init(&b);
	proto_enc_op_raft_transfer_req(&b, &q);
	/* A transfer takes up to an election timeout or two. */
	api_ask_timeout(r, PROC_STORE, PROTO_OP_RAFT_TRANSFER_REQ, &b, 30000);
	buf_free(&b);
	api_go(r);
}

/* ---- autopilot --------------------------------------------------------- */

static void
ap_conf_done(struct api_req *r)
{
	struct proto_autopilot_conf m;
	struct json_w jw;
	struct buf out;
	if (api_failed(r, 0, PROTO_AUTOPILOT_CONF))
		return;
	if (proto_dec_autopilot_conf(r->ans[0].data.data, r->ans[0].data.len,
	    &m) < 0) {
		http_reply_error(r->ctx, 500, "malformed autopilot configuration");
		return;
	}
	api_json_begin(r->ctx, &jw, &out);
	json_w_obj_open(&jw);
	json_w_key(&jw, "CleanupDeadServers");
	json_w_bool(&jw, m.cleanup_dead_servers);
	put_duration(&jw, "LastContactThreshold", m.last_contact_threshold_ms);
	json_w_key(&jw, "MaxTrailingLogs");
	json_w_uint(&jw, m.max_trailing_logs);
	json_w_key(&jw, "MinQuorum");
	json_w_uint(&jw, m.min_quorum);
	put_duration(&jw, "ServerStabilizationTime",
	    m.server_stabilization_time_ms);
	json_strn_key(&jw, "RedundancyZoneTag", m.redundancy_zone_tag);
	json_w_key(&jw, "DisableUpgradeMigration");
	json_w_bool(&jw, m.disable_upgrade_migration);
	json_strn_key(&jw, "UpgradeVersionTag", m.upgrade_version_tag);
	json_w_key(&jw, "CreateIndex");
	json_w_uint(&jw, m.create_index);
	json_w_key(&jw, "ModifyIndex");
	json_w_uint(&jw, m.modify_index);
	json_w_obj_close(&jw);
	api_json_end(r->ctx, &jw, &out);
}

static void
ap_set_done(struct api_req *r)
{
	struct proto_result res;
	if (!result_ok(r, &res))
		return;
	/* Without ?cas Consul answers true whatever happened. */
	bool cas = r->arg != NULL;
	const char *body = !cas || proto_str_eq(res.message, "true") ?
	    "true" : "false";
	http_reply(r->ctx, 200, "application/json", body, strlen(body));
}

/* api.ReadableDuration: a duration string, or a number of nanoseconds. */
static int
json_duration_ms(yajl_val v, uint64_t *ms)
{
	const char *s;
	int64_t ns;
	if (v == NULL || YAJL_IS_NULL(v))
		return (*ms = 0), 0;
	if (json_as_str(v, &s)) {
		if (duration_parse(s, strlen(s), &ns) < 0)
			return -EINVAL;
	} else if (!json_as_int(v, &ns))
		return -EINVAL;
	*ms = ns > 0 ? (uint64_t)ns / 1000000 : 0;
	return 0;
}

static int
json_uint(yajl_val v, uint64_t *out)
{
	int64_t i = 0;
	if (v && !YAJL_IS_NULL(v) && (!json_as_int(v, &i) || i < 0))
		return -EINVAL;
	*out = (uint64_t)i;
	return 0;
}

/* The body of a PUT, decoded as Go decodes into a zero struct. */
static const char *
ap_parse(yajl_val doc, struct proto_autopilot_conf *m)
{
	const char *s;
	yajl_val v;
	memset(m, 0, sizeof(*m));
	if (!YAJL_IS_OBJECT(doc))
		return "body is not a JSON object";
	if ((v = json_get(doc, "CleanupDeadServers")) && !YAJL_IS_NULL(v) &&
	    !json_as_bool(v, &m->cleanup_dead_servers))
		return "CleanupDeadServers: expected a boolean";
	if (json_duration_ms(json_get(doc, "LastContactThreshold"),
	    &m->last_contact_threshold_ms) < 0)
		return "LastContactThreshold: expected a duration";
	if (json_duration_ms(json_get(doc, "ServerStabilizationTime"),
	    &m->server_stabilization_time_ms) < 0)
		return "ServerStabilizationTime: expected a duration";
	if (json_uint(json_get(doc, "MaxTrailingLogs"), &m->max_trailing_logs) < 0)
		return "MaxTrailingLogs: expected a number";
	if (json_uint(json_get(doc, "MinQuorum"), &m->min_quorum) < 0)
		return "MinQuorum: expected a number";
	if ((v = json_get(doc, "DisableUpgradeMigration")) && !YAJL_IS_NULL(v) &&
	    !json_as_bool(v, &m->disable_upgrade_migration))
		return "DisableUpgradeMigration: expected a boolean";
	if (json_as_str(json_get(doc, "RedundancyZoneTag"), &s))
		m->redundancy_zone_tag = proto_str_c(s);
	if (json_as_str(json_get(doc, "UpgradeVersionTag"), &s))
		m->upgrade_version_tag = proto_str_c(s);
	return NULL;
}

static void
ap_put(struct http_ctx *c, const struct http_request *req)
{
	struct proto_autopilot_conf m;
	struct proto_autopilot_set_req q = { 0 };
	struct buf err, cb, b;
	bool has_cas = false;
	const char *cas = http_query(req, "cas", &has_cas);
	char *end;
	if (has_cas) {
		q.cas = true;
		q.cas_index = strtoull(cas, &end, 10);
		if (*cas == '\0' || *end != '\0' || *cas == '-') {
			http_reply_error(c, 400, "Error parsing cas value: "
			    "strconv.ParseUint: parsing \"%s\": invalid syntax",
			    cas);
			return;
		}
	}
	buf_init(&err);
	yajl_val doc = json_parse((const char *)req->body, req->body_len, &err);
	const char *why = doc ? ap_parse(doc, &m) : (const char *)err.data;
	if (why) {
		http_reply_error(c, 400, "Error parsing autopilot config: %s", why);
		yajl_tree_free(doc);
		buf_free(&err);
		return;
	}
	buf_init(&cb);
	buf_init(&b);
	proto_enc_autopilot_conf(&cb, &m);
	q.conf = (struct proto_str){ (const char *)cb.data, (uint32_t)cb.len };
	proto_enc_autopilot_set_req(&b, &q);
	struct api_req *r = api_req_new(c, ap_set_done);
	r->arg = has_cas ? xstrdup("cas") : NULL;
	api_ask(r, PROC_STORE, PROTO_AUTOPILOT_SET_REQ, &b);
	yajl_tree_free(doc);
	buf_free(&err);
	buf_free(&cb);
	buf_free(&b);
	api_go(r);
}

void
api_operator_autopilot_conf(struct http_ctx *c, const struct http_request *req)
{
	struct proto_autopilot_conf_req q = { 0 };
	struct buf b;
	if (req->method == HTTP_PUT) {
		ap_put(c, req);
		return;
	}
	if (!want_stale(c, req, &q.stale))
		return;
	struct api_req *r = api_req_new(c, ap_conf_done);
	buf_init(&b);
	proto_enc_autopilot_conf_req(&b, &q);
	api_ask(r, PROC_STORE, PROTO_AUTOPILOT_CONF_REQ, &b);
	buf_free(&b);
	api_go(r);
}

/*
 * One server of the health (api.ServerHealth) or state
 * (api.AutopilotServer, keyed by its ID) answer: the same fields, but
 * state names SerfStatus NodeStatus, leaves out Leader and Voter and adds
 * Status, Meta and NodeType.
 */
static void
put_server(struct json_w *jw, const struct proto_autopilot_server *s,
    bool state)
{
	if (state) {
		char *id = proto_str_dup(s->id);
		json_w_key(jw, id ? id : "");
		free(id);
	}
	json_w_obj_open(jw);
	json_strn_key(jw, "ID", s->id);
	json_strn_key(jw, "Name", s->name);
	json_strn_key(jw, "Address", s->addr);
	json_strn_key(jw, state ? "NodeStatus" : "SerfStatus", s->serf_status);
	json_strn_key(jw, "Version", s->version);
	if (!state) {
		json_w_key(jw, "Leader");
		json_w_bool(jw, s->leader);
	}
	put_duration(jw, "LastContact", s->last_contact_ms);
	json_w_key(jw, "LastTerm");
	json_w_uint(jw, s->last_term);
	json_w_key(jw, "LastIndex");
	json_w_uint(jw, s->last_index);
	json_w_key(jw, "Healthy");
	json_w_bool(jw, s->healthy);
	if (!state) {
		json_w_key(jw, "Voter");
		json_w_bool(jw, s->voter);
	}
	put_time(jw, "StableSince", s->stable_since_ms);
	if (state) {
		json_strn_key(jw, "Status", s->status);
		json_w_key(jw, "Meta");
		json_w_obj_open(jw);
		json_w_obj_close(jw);
		json_w_key(jw, "NodeType");
		json_w_str(jw, "voter");
	}
	json_w_obj_close(jw);
}

static bool
decode_health(struct api_req *r, struct proto_autopilot_health *h)
{
	if (api_failed(r, 0, PROTO_AUTOPILOT_HEALTH))
		return false;
	if (proto_dec_autopilot_health(r->ans[0].data.data, r->ans[0].data.len,
	    h) < 0) {
		http_reply_error(r->ctx, 500, "malformed autopilot health");
		return false;
	}
	return true;
}

static void
health_done(struct api_req *r)
{
	struct proto_autopilot_health h;
	struct proto_strv_iter it;
	struct proto_str item;
	struct json_w jw;
	struct buf out;
	if (!decode_health(r, &h))
		return;
	api_json_begin(r->ctx, &jw, &out);
	json_w_obj_open(&jw);
	json_w_key(&jw, "Healthy");
	json_w_bool(&jw, h.healthy);
	json_w_key(&jw, "FailureTolerance");
	json_w_uint(&jw, h.failure_tolerance);
	json_w_key(&jw, "Servers");
	json_w_arr_open(&jw);
	proto_strv_iter_init(&it, &h.servers);
	while (proto_strv_next(&it, &item)) {
		struct proto_autopilot_server s;
		if (proto_dec_autopilot_server(item.p, item.len, &s) == 0)
			put_server(&jw, &s, false);
	}
	json_w_arr_close(&jw);
	json_w_obj_close(&jw);
	if (json_w_finish(&jw) < 0) {
		buf_free(&out);
		http_reply_error(r->ctx, 500, "internal error encoding JSON");
		return;
	}
	if (http_pretty(r->ctx))
		buf_addch(&out, '\n');
	/* 429 when unhealthy, body as usual (Consul's OperatorServerHealth). */
	http_reply_json(r->ctx, h.healthy ? 200 : 429, &out);
}

/* health and state are two views of one AUTOPILOT_HEALTH answer. */
static void
ask_health(struct http_ctx *c, const struct http_request *req,
    void (*done)(struct api_req *))
{
	bool stale;
	if (!want_stale(c, req, &stale))
		return;
	struct api_req *r = api_req_new(c, done);
	api_ask(r, PROC_STORE, PROTO_AUTOPILOT_HEALTH_REQ, NULL);
	api_go(r);
}

void
api_operator_autopilot_health(struct http_ctx *c,
    const struct http_request *req)
{
	ask_health(c, req, health_done);
}

static void
state_done(struct api_req *r)
{
	struct proto_autopilot_health h;
	struct proto_autopilot_server s;
	struct proto_strv_iter it;
	struct proto_str item;
	struct json_w jw;
	struct buf out;
	if (!decode_health(r, &h))
		return;
	api_json_begin(r->ctx, &jw, &out);
	json_w_obj_open(&jw);
	json_w_key(&jw, "Healthy");
	json_w_bool(&jw, h.healthy);
	json_w_key(&jw, "FailureTolerance");
	json_w_uint(&jw, h.failure_tolerance);
	json_w_key(&jw, "OptimisticFailureTolerance");
	json_w_uint(&jw, h.failure_tolerance);
	json_w_key(&jw, "Servers");
	json_w_obj_open(&jw);
	proto_strv_iter_init(&it, &h.servers);
	while (proto_strv_next(&it, &item))
		if (proto_dec_autopilot_server(item.p, item.len, &s) == 0)
			put_server(&jw, &s, true);
	json_w_obj_close(&jw);
	json_strn_key(&jw, "Leader", h.leader);
	json_w_key(&jw, "Voters");
	json_w_arr_open(&jw);
	proto_strv_iter_init(&it, &h.servers);
	while (proto_strv_next(&it, &item))
		if (proto_dec_autopilot_server(item.p, item.len, &s) == 0 &&
		    s.voter)
			json_w_strn(&jw, s.id.p, s.id.len);
	json_w_arr_close(&jw);
	json_w_obj_close(&jw);
	api_json_end(r->ctx, &jw, &out);
}

void
api_operator_autopilot_state(struct http_ctx *c,
    const struct http_request *req)
{
	ask_health(c, req, state_done);
}
