#include "workers/http/api.h"
#include "lib/log.h"
#include "supervisor/config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct api_slot {
	struct api_req *r;
	unsigned i;
};

static void
on_abort(void *arg)
{
	struct api_req *r = arg;
	for (unsigned i = 0; i < r->nasks; i++)
		if (r->reqid[i] > 0) {
			worker_request_cancel(r->app->w, r->peer[i], r->reqid[i]);
			r->reqid[i] = 0;
		}
	r->ctx = NULL;
	api_req_free(r);
}

struct api_req *
api_req_new(struct http_ctx *c, api_done_fn *done)
{
	struct api_req *r = xcalloc(1, sizeof(*r));
	r->ctx = c;
	r->app = http_app(c);
	r->done = done;
	return r;
}

void
api_req_free(struct api_req *r)
{
	for (unsigned i = 0; i < r->nasks; i++)
		buf_free(&r->ans[i].data);
	free(r->arg);
	free(r);
}

static void
finish_one(struct api_req *r)
{
	if (--r->pending > 0)
		return;
	/* The HTTP context is answered now: no abort may follow. */
	http_ctx_on_abort(r->ctx, NULL, NULL);
	r->done(r);
	api_req_free(r);
}

static void
reply_cb(void *arg, struct ipc_msg *m, int err)
{
	struct api_slot *slot = arg;
	struct api_req *r = slot->r;
	unsigned i = slot->i;
	free(slot);
	r->reqid[i] = 0;
	r->ans[i].err = err;
	if (m) {
		r->ans[i].type = m->hdr.type;
		buf_add(&r->ans[i].data, m->data, m->len);
	}
	finish_one(r);
}

static struct buf *
payload_of(struct api_req *r, unsigned i)
{
	return &r->ans[i].data;	/* holds the request until sent */
}

unsigned
api_ask(struct api_req *r, unsigned peer, uint16_t type,
    const struct buf *payload)
{
	return api_ask_timeout(r, peer, type, payload, API_IPC_TIMEOUT_MS);
}

unsigned
api_ask_timeout(struct api_req *r, unsigned peer, uint16_t type,
    const struct buf *payload, unsigned timeout_ms)
{
	unsigned i = r->nasks++;
	if (i >= API_MAX_ASKS)
		fatalx("api_ask: more than %d asks", API_MAX_ASKS);
	r->peer[i] = peer;
	r->timeout_ms[i] = timeout_ms;
	r->ans[i].type = type;
	buf_init(&r->ans[i].data);
	if (payload)
		buf_add(&r->ans[i].data, payload->data, payload->len);
	return i;
}

void
api_ask_leader(struct api_req *r)
{
	if (r->nasks != 0)
		fatalx("api_ask_leader must come first");
	api_ask(r, PROC_STORE, PROTO_STATUS_LEADER_REQ, NULL);
	r->leader_asked = true;
}

void
api_go(struct api_req *r)
{
	r->pending = r->nasks + 1;	/* +1: held until every ask is sent */
	http_ctx_on_abort(r->ctx, on_abort, r);
	for (unsigned i = 0; i < r->nasks; i++) {
		struct buf payload = *payload_of(r, i);
		uint16_t type = r->ans[i].type;
		buf_init(&r->ans[i].data);
		r->ans[i].type = 0;
		struct api_slot *slot = xmalloc(sizeof(*slot));
		slot->r = r;
		slot->i = i;
		int64_t id = worker_request(r->app->w, r->peer[i], type,
		    &payload, r->timeout_ms[i], reply_cb, slot);
		buf_free(&payload);
		if (id < 0) {
			free(slot);
			r->ans[i].err = (int)id;
			r->pending--;
		} else
			r->reqid[i] = id;
	}
	finish_one(r);
}

uint64_t
api_index_headers(struct api_req *r)
{
	struct proto_status_leader ld = { 0 };
	bool ok = r->leader_asked && r->ans[0].err == 0 &&
	    r->ans[0].type == PROTO_STATUS_LEADER &&
	    proto_dec_status_leader(r->ans[0].data.data, r->ans[0].data.len,
	    &ld) == 0;
	uint64_t index = ok && ld.index > 0 ? ld.index : 1;
	http_reply_headerf(r->ctx, "X-Consul-Index", "%" PRIu64, index);
	http_reply_header(r->ctx, "X-Consul-Knownleader",
	    ok && ld.known_leader ? "true" : "false");
	http_reply_headerf(r->ctx, "X-Consul-Lastcontact", "%" PRIu64,
	    ok ? ld.last_contact_ms : 0);
	return index;
}

static const char *
ipc_error_text(int err)
{
	switch (err) {
	case -ETIMEDOUT:
		return "timed out waiting for";
	case -ENOTCONN:
	case -EPIPE:
		return "restarting:";
	default:
		return "unexpected answer from";
	}
}

bool
api_failed(struct api_req *r, unsigned slot, uint16_t want_type)
{
	struct api_answer *a = &r->ans[slot];
	if (a->err == 0 && a->type == want_type)
		return false;
	if (a->err == 0 && a->type == PROTO_RESULT) {
		struct proto_result res;
		if (proto_dec_result(a->data.data, a->data.len, &res) == 0) {
			http_reply_error(r->ctx, 500, "%.*s", (int)res.message.len,
			    res.message.p);
			return true;
		}
	}
	http_reply_error(r->ctx, 500, "rpc error: %s the agent's %s process",
	    ipc_error_text(a->err), proto_proc_name(r->peer[slot]));
	return true;
}

void
api_json_begin(struct http_ctx *c, struct json_w *jw, struct buf *out)
{
	buf_init(out);
	json_w_init(jw, out, http_pretty(c));
}

bool
api_json_close(struct http_ctx *c, struct json_w *jw, struct buf *out)
{
	if (json_w_finish(jw) < 0) {
		buf_free(out);
		http_reply_error(c, 500, "internal error encoding JSON");
		return false;
	}
	if (http_pretty(c))
		buf_addch(out, '\n');
	return true;
}

void
api_json_end(struct http_ctx *c, struct json_w *jw, struct buf *out)
{
	if (api_json_close(c, jw, out))
		http_reply_json(c, 200, out);
}

const struct http_route api_routes[] = {
	{ HTTP_GET, "/v1/agent/self", false, api_agent_self, 0 },
	{ HTTP_GET, "/v1/agent/version", false, api_agent_version, 0 },
	{ HTTP_GET, "/v1/agent/members", false, api_agent_members, 0 },
	{ HTTP_PUT, "/v1/agent/reload", false, api_agent_reload, 0 },
	{ HTTP_PUT, "/v1/agent/leave", false, api_agent_leave, 0 },
	{ HTTP_PUT, "/v1/agent/join/", true, api_agent_join, 0 },
	{ HTTP_PUT, "/v1/agent/force-leave/", true, api_agent_force_leave, 0 },
	{ HTTP_PUT, "/v1/event/fire/", true, api_event_fire, 0 },
	{ HTTP_GET, "/v1/event/list", false, api_event_list, 0 },
	{ HTTP_GET | HTTP_POST | HTTP_PUT | HTTP_DELETE, "/v1/operator/keyring",
	  false, api_operator_keyring, 0 },
	{ HTTP_GET, "/v1/operator/raft/configuration", false,
	  api_operator_raft_conf, 0 },
	{ HTTP_DELETE, "/v1/operator/raft/peer", false, api_operator_raft_peer,
	  0 },
	{ HTTP_POST, "/v1/operator/raft/transfer-leader", false,
	  api_operator_raft_transfer, 0 },
	{ HTTP_GET | HTTP_PUT, "/v1/operator/autopilot/configuration", false,
	  api_operator_autopilot_conf, 0 },
	{ HTTP_GET, "/v1/operator/autopilot/health", false,
	  api_operator_autopilot_health, 0 },
	{ HTTP_GET, "/v1/operator/autopilot/state", false,
	  api_operator_autopilot_state, 0 },
	{ HTTP_GET, "/v1/status/leader", false, api_status_leader, 0 },
	{ HTTP_GET, "/v1/status/peers", false, api_status_peers, 0 },
	{ HTTP_GET | HTTP_PUT | HTTP_DELETE, "/v1/kv/", true, api_kv, 0 },
	{ HTTP_PUT, "/v1/txn", false, api_txn, 0 },
	{ HTTP_GET | HTTP_PUT, "/v1/snapshot", false, api_snapshot,
	    15u * 1024 * 1024 },
	{ HTTP_GET, "/v1/agent/services", false, api_agent_services, 0 },
	{ HTTP_GET, "/v1/agent/service/", true, api_agent_service, 0 },
	{ HTTP_GET, "/v1/agent/checks", false, api_agent_checks, 0 },
	{ HTTP_PUT, "/v1/agent/service/register", false,
	  api_agent_service_register, 0 },
	{ HTTP_PUT, "/v1/agent/service/deregister/", true,
	  api_agent_service_deregister, 0 },
	{ HTTP_PUT, "/v1/agent/service/maintenance/", true,
	  api_agent_service_maintenance, 0 },
	{ HTTP_PUT, "/v1/agent/check/register", false,
	  api_agent_check_register, 0 },
	{ HTTP_PUT, "/v1/agent/check/deregister/", true,
	  api_agent_check_deregister, 0 },
	{ HTTP_PUT, "/v1/agent/check/pass/", true, api_agent_check_pass, 0 },
	{ HTTP_PUT, "/v1/agent/check/warn/", true, api_agent_check_warn, 0 },
	{ HTTP_PUT, "/v1/agent/check/fail/", true, api_agent_check_fail, 0 },
	{ HTTP_PUT, "/v1/agent/check/update/", true, api_agent_check_update,
	  0 },
	{ HTTP_PUT, "/v1/agent/maintenance", false, api_agent_maintenance, 0 },
	{ HTTP_GET, "/v1/agent/health/service/id/", true,
	  api_agent_health_service_id, 0 },
	{ HTTP_GET, "/v1/agent/health/service/name/", true,
	  api_agent_health_service_name, 0 },
	{ HTTP_PUT, "/v1/catalog/register", false, api_catalog_register, 0 },
	{ HTTP_PUT, "/v1/catalog/deregister", false, api_catalog_deregister, 0 },
	{ HTTP_GET, "/v1/catalog/datacenters", false, api_catalog_datacenters,
	  0 },
	{ HTTP_GET, "/v1/catalog/nodes", false, api_catalog_nodes, 0 },
	{ HTTP_GET, "/v1/catalog/services", false, api_catalog_services, 0 },
	{ HTTP_GET, "/v1/catalog/service/", true, api_catalog_service, 0 },
	{ HTTP_GET, "/v1/catalog/node/", true, api_catalog_node, 0 },
	{ HTTP_GET, "/v1/catalog/node-services/", true,
	  api_catalog_node_services, 0 },
	{ HTTP_GET, "/v1/health/node/", true, api_health_node, 0 },
	{ HTTP_GET, "/v1/health/checks/", true, api_health_checks, 0 },
	{ HTTP_GET, "/v1/health/service/", true, api_health_service, 0 },
	{ HTTP_GET, "/v1/health/state/", true, api_health_state, 0 },
};
const size_t api_nroutes = nitems(api_routes);

/* Consul's read options (agent/http.go parseWait/parseConsistency). */
bool
api_read_opts(struct http_ctx *c, const struct http_request *req,
    struct api_read_opts *o)
{
	struct http_query_opts q;
	const struct agent_config *cfg = ((struct http_app *)http_app(c))->w->cfg;
	memset(o, 0, sizeof(*o));
	if (!http_ctx_query_opts(c, &q))
		return false;
	if (q.dc && q.dc[0] && strcasecmp(q.dc, cfg->datacenter) != 0) {
		http_reply_error(c, 500, "No path to datacenter");
		return false;
	}
	o->min_index = q.index;
	if (q.index > 0) {
		int64_t wait = http_wait_clamp(q.wait_set ? q.wait_ns : 0,
		    cfg->default_query_time, cfg->max_query_time);
		o->wait_ms = (uint64_t)(http_wait_jitter(wait) / 1000000);
	}
	o->consistency = q.consistent ? 2 : q.stale ? 1 : 0;
	o->max_stale_ms = (uint64_t)(q.max_stale_ns / 1000000);
	return true;
}

void
api_read_headers(struct http_ctx *c, uint64_t index, bool known_leader,
    uint64_t last_contact_ms, uint8_t consistency)
{
	static const char *const modes[] = { "leader", "stale", "consistent" };
	http_reply_headerf(c, "X-Consul-Index", "%" PRIu64, index ? index : 1);
	http_reply_header(c, "X-Consul-Knownleader",
	    known_leader ? "true" : "false");
	http_reply_headerf(c, "X-Consul-Lastcontact", "%" PRIu64,
	    last_contact_ms);
	http_reply_header(c, "X-Consul-Effective-Consistency",
	    modes[consistency < 3 ? consistency : 0]);
}
