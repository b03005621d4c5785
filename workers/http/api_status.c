/* /v1/status/leader and /v1/status/peers: answered by the store worker. */
#include "workers/http/api.h"

static void
leader_done(struct api_req *r)
{
	struct proto_status_leader ld;
	struct json_w jw;
	struct buf out;

	if (api_failed(r, 0, PROTO_STATUS_LEADER) ||
	    proto_dec_status_leader(r->ans[0].data.data, r->ans[0].data.len,
	    &ld) < 0) {
		if (r->ans[0].type == PROTO_STATUS_LEADER)
			http_reply_error(r->ctx, 500, "malformed leader status");
		return;
	}
	api_index_headers(r);
	api_json_begin(r->ctx, &jw, &out);
	json_w_strn(&jw, ld.leader.p, ld.leader.len);
	api_json_end(r->ctx, &jw, &out);
}

void
api_status_leader(struct http_ctx *c, const struct http_request *req)
{
	struct api_req *r = api_req_new(c, leader_done);
	api_ask_leader(r);
	api_go(r);
}

static void
peers_done(struct api_req *r)
{
	struct proto_status_peers ps;
	struct proto_strv_iter it;
	struct proto_str s;
	struct json_w jw;
	struct buf out;

	if (api_failed(r, 1, PROTO_STATUS_PEERS))
		return;
	if (proto_dec_status_peers(r->ans[1].data.data, r->ans[1].data.len,
	    &ps) < 0) {
		http_reply_error(r->ctx, 500, "malformed peer list");
		return;
	}
	api_index_headers(r);
	api_json_begin(r->ctx, &jw, &out);
	json_w_arr_open(&jw);
	proto_strv_iter_init(&it, &ps.peers);
	while (proto_strv_next(&it, &s))
		json_w_strn(&jw, s.p, s.len);
	json_w_arr_close(&jw);
	api_json_end(r->ctx, &jw, &out);
}

void
api_status_peers(struct http_ctx *c, const struct http_request *req)
{
	struct api_req *r = api_req_new(c, peers_done);
	api_ask_leader(r);
	api_ask(r, PROC_STORE, PROTO_STATUS_PEERS_REQ, NULL);
	api_go(r);
}
