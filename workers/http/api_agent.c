/*
 * /v1/agent/self, /v1/agent/version, /v1/agent/members, /v1/agent/reload,
 * /v1/agent/leave (reference/consul.md sections 1.1 and 2).
 */
#include "workers/http/api.h"
#include "supervisor/config.h"
#include "lib/log.h"

#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

/* One member object, as /v1/agent/members and agent/self's Member. */
static void
write_member(struct json_w *jw, const struct proto_member *m)
{
	struct proto_strv_iter it;
	struct proto_str k, v;

	json_w_obj_open(jw);
	json_w_key(jw, "Name");
	json_w_strn(jw, m->name.p, m->name.len);
	json_w_key(jw, "Addr");
	json_w_strn(jw, m->addr.p, m->addr.len);
	json_w_key(jw, "Port");
	json_w_uint(jw, m->port);
	json_w_key(jw, "Tags");
	json_w_obj_open(jw);
	proto_strv_iter_init(&it, &m->tags);
	while (proto_strv_next(&it, &k) && proto_strv_next(&it, &v)) {
		json_w_strn(jw, k.p, k.len);
		json_w_strn(jw, v.p, v.len);
	}
	json_w_obj_close(jw);
	static const char *const names[] = { "Status", "ProtocolMin",
		"ProtocolMax", "ProtocolCur", "DelegateMin", "DelegateMax",
		"DelegateCur" };
	const uint8_t vals[] = { m->status, m->protocol_min, m->protocol_max,
		m->protocol_cur, m->delegate_min, m->delegate_max,
		m->delegate_cur };
	for (size_t i = 0; i < nitems(names); i++) {
		json_w_key(jw, names[i]);
		json_w_uint(jw, vals[i]);
	}
	json_w_obj_close(jw);
}

/* Walk a MEMBERS answer; cb gets each decoded member. */
static bool
each_member(struct api_answer *a, void (*cb)(void *, const struct proto_member *),
    void *arg)
{
	struct proto_members ms;
	struct proto_strv_iter it;
	struct proto_str item;
	if (proto_dec_members(a->data.data, a->data.len, &ms) < 0)
		return false;
	proto_strv_iter_init(&it, &ms.members);
	while (proto_strv_next(&it, &item)) {
		struct proto_member m;
		if (proto_dec_member(item.p, item.len, &m) < 0)
			return false;
		cb(arg, &m);
	}
	return true;
}

static void
member_cb(void *arg, const struct proto_member *m)
{
	write_member(arg, m);
}

static void
members_done(struct api_req *r)
{
	struct json_w jw;
	struct buf out;
	if (api_failed(r, 1, PROTO_MEMBERS))
		return;
	api_index_headers(r);
	api_json_begin(r->ctx, &jw, &out);
	json_w_arr_open(&jw);
	if (!each_member(&r->ans[1], member_cb, &jw)) {
		json_w_finish(&jw);
		buf_free(&out);
		http_reply_error(r->ctx, 500, "malformed member list");
		return;
	}
	json_w_arr_close(&jw);
	api_json_end(r->ctx, &jw, &out);
}

void
api_agent_members(struct http_ctx *c, const struct http_request *req)
{
	bool wan = false;
	struct buf b;
	http_query(req, "wan", &wan);
	struct proto_members_req q = { .wan = wan };
	struct api_req *r = api_req_new(c, members_done);
	buf_init(&b);
	proto_enc_members_req(&b, &q);
	api_ask_leader(r);
	api_ask(r, PROC_GOSSIP, PROTO_MEMBERS_REQ, &b);
	buf_free(&b);
	api_go(r);
}

static void
version_done(struct api_req *r)
{
	struct json_w jw;
	struct buf out;
	api_index_headers(r);
	api_json_begin(r->ctx, &jw, &out);
	json_w_obj_open(&jw);
	json_w_key(&jw, "SHA");
	json_w_str(&jw, "");
	json_w_key(&jw, "BuildDate");
	json_w_str(&jw, "");
	json_w_key(&jw, "HumanVersion");
	json_w_str(&jw, MUSTER_VERSION);
	json_w_key(&jw, "FIPS");
	json_w_str(&jw, "");
	json_w_obj_close(&jw);
	api_json_end(r->ctx, &jw, &out);
}

void
api_agent_version(struct http_ctx *c, const struct http_request *req)
{
	struct api_req *r = api_req_new(c, version_done);
	api_ask_leader(r);
	api_go(r);
}

/* ---- agent/self ---- */

enum { SELF_LEADER, SELF_MEMBERS, SELF_CONSUL, SELF_RAFT, SELF_LAN,
	SELF_WAN, SELF_AGENT, SELF_NASKS };

static const struct {
	unsigned peer;
	const char *section;
} self_stats[SELF_NASKS] = {
	[SELF_CONSUL] = { PROC_STORE, "consul" },
	[SELF_RAFT] = { PROC_STORE, "raft" },
	[SELF_LAN] = { PROC_GOSSIP, "serf_lan" },
	[SELF_WAN] = { PROC_GOSSIP, "serf_wan" },
	[SELF_AGENT] = { PROC_CHECKS, "agent" },
};

static void
write_stats_answer(struct json_w *jw, struct api_answer *a)
{
	struct proto_stats st;
	struct proto_strv_iter it;
	struct proto_str k, v;
	json_w_obj_open(jw);
	if (a->err == 0 && a->type == PROTO_STATS &&
	    proto_dec_stats(a->data.data, a->data.len, &st) == 0) {
		proto_strv_iter_init(&it, &st.pairs);
		while (proto_strv_next(&it, &k) && proto_strv_next(&it, &v)) {
			json_w_strn(jw, k.p, k.len);
			json_w_strn(jw, v.p, v.len);
		}
	}
	json_w_obj_close(jw);
}

static void
write_kv(struct json_w *jw, const char *k, const char *v)
{
	json_w_key(jw, k);
	json_w_str(jw, v);
}

static void
write_local_stats(struct json_w *jw, const char *section)
{
	struct utsname u;
	char n[32];
	json_w_key(jw, section);
	json_w_obj_open(jw);
	if (strcmp(section, "build") == 0) {
		write_kv(jw, "prerelease", "");
		write_kv(jw, "revision", "");
		write_kv(jw, "version", MUSTER_VERSION);
		write_kv(jw, "version_metadata", "");
	} else {
		uname(&u);
		write_kv(jw, "arch", u.machine);
		snprintf(n, sizeof(n), "%ld", sysconf(_SC_NPROCESSORS_ONLN));
		write_kv(jw, "cpu_count", n);
		write_kv(jw, "goroutines", "0");
		write_kv(jw, "max_procs", n);
		write_kv(jw, "os", "linux");
		write_kv(jw, "version", "muster " MUSTER_VERSION);
	}
	json_w_obj_close(jw);
}

struct self_member {
	struct json_w *jw;
	const char *name;
	bool found;
};

static void
self_member_cb(void *arg, const struct proto_member *m)
{
	struct self_member *sm = arg;
	if (sm->found || !proto_str_eq(m->name, sm->name))
		return;
	sm->found = true;
	write_member(sm->jw, m);
}

static void
write_config(struct json_w *jw, const struct agent_config *c)
{
	json_w_key(jw, "Config");
	json_w_obj_open(jw);
	write_kv(jw, "Datacenter", c->datacenter);
	write_kv(jw, "PrimaryDatacenter", c->primary_datacenter);
	write_kv(jw, "NodeName", c->node_name);
	write_kv(jw, "NodeID", c->node_id);
	write_kv(jw, "Partition", "");
	write_kv(jw, "Revision", "");
	json_w_key(jw, "Server");
	json_w_bool(jw, c->server);
	write_kv(jw, "Version", MUSTER_VERSION);
	write_kv(jw, "BuildDate", "");
	json_w_obj_close(jw);
}

static void
write_debug_config(struct json_w *jw, const struct agent_config *c)
{
	struct buf dump;
	buf_init(&dump);
	cfg_dump_json(c, &dump, false);
	yajl_val v = json_parse((char *)dump.data, dump.len, NULL);
	json_w_key(jw, "DebugConfig");
	if (v) {
		json_w_value(jw, v);
		yajl_tree_free(v);
	} else
		json_w_null(jw);
	buf_free(&dump);
}

/* Consul's initial Vivaldi coordinate (8 dimensions, error 1.5). */
static void
write_coord(struct json_w *jw)
{
	json_w_key(jw, "Coord");
	json_w_obj_open(jw);
	json_w_key(jw, "Vec");
	json_w_arr_open(jw);
	for (int i = 0; i < 8; i++)
		json_w_int(jw, 0);
	json_w_arr_close(jw);
	json_w_key(jw, "Error");
	json_w_double(jw, 1.5);
	json_w_key(jw, "Adjustment");
	json_w_int(jw, 0);
	json_w_key(jw, "Height");
	json_w_double(jw, 1e-05);
	json_w_obj_close(jw);
}

static void
self_done(struct api_req *r)
{
	const struct agent_config *c = r->app->w->cfg;
	struct json_w jw;
	struct buf out;

	if (api_failed(r, SELF_MEMBERS, PROTO_MEMBERS))
		return;
	api_index_headers(r);
	api_json_begin(r->ctx, &jw, &out);
	json_w_obj_open(&jw);
	write_config(&jw, c);
	write_debug_config(&jw, c);
	write_coord(&jw);
	json_w_key(&jw, "Member");
	struct self_member sm = { &jw, c->node_name, false };
	each_member(&r->ans[SELF_MEMBERS], self_member_cb, &sm);
	if (!sm.found)
		json_w_null(&jw);
	json_w_key(&jw, "Stats");
	json_w_obj_open(&jw);
	json_w_key(&jw, "agent");
	write_stats_answer(&jw, &r->ans[SELF_AGENT]);
	write_local_stats(&jw, "build");
	json_w_key(&jw, "consul");
	write_stats_answer(&jw, &r->ans[SELF_CONSUL]);
	json_w_key(&jw, "raft");
	write_stats_answer(&jw, &r->ans[SELF_RAFT]);
	write_local_stats(&jw, "runtime");
	json_w_key(&jw, "serf_lan");
	write_stats_answer(&jw, &r->ans[SELF_LAN]);
	json_w_key(&jw, "serf_wan");
	write_stats_answer(&jw, &r->ans[SELF_WAN]);
	json_w_obj_close(&jw);
	json_w_key(&jw, "Meta");
	json_w_obj_open(&jw);
	for (size_t i = 0; i < c->node_meta.n; i++)
		write_kv(&jw, c->node_meta.k[i], c->node_meta.v[i]);
	json_w_obj_close(&jw);
	json_w_obj_close(&jw);
	api_json_end(r->ctx, &jw, &out);
}

void
api_agent_self(struct http_ctx *c, const struct http_request *req)
{
	struct api_req *r = api_req_new(c, self_done);
	struct proto_members_req mq = { .wan = false };
	struct buf b;

	buf_init(&b);
	api_ask_leader(r);
	proto_enc_members_req(&b, &mq);
	api_ask(r, PROC_GOSSIP, PROTO_MEMBERS_REQ, &b);
	for (unsigned i = SELF_CONSUL; i < SELF_NASKS; i++) {
		struct proto_agent_info_req q = {
			.section = proto_str_c(self_stats[i].section) };
		buf_reset(&b);
		proto_enc_agent_info_req(&b, &q);
		api_ask(r, self_stats[i].peer, PROTO_AGENT_INFO_REQ, &b);
	}
	buf_free(&b);
	api_go(r);
}

/* ---- reload and leave: asked of the supervisor ---- */

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

void
api_agent_reload(struct http_ctx *c, const struct http_request *req)
{
	struct api_req *r = api_req_new(c, result_done);
	api_ask(r, PROC_SUPERVISOR, PROTO_AGENT_RELOAD, NULL);
	api_go(r);
}

void
api_agent_leave(struct http_ctx *c, const struct http_request *req)
{
	struct api_req *r = api_req_new(c, result_done);
	api_ask(r, PROC_SUPERVISOR, PROTO_AGENT_LEAVE, NULL);
	api_go(r);
}
