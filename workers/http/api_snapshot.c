/*
 * GET/PUT /v1/snapshot (reference/consul.md section 1.12): an archive of
 * the replicated state.  Consul ships meta.json, state.bin and
 * SHA256SUMS in a tar archive; muster's archive has the same three files
 * (uncompressed tar; state.bin is muster's own record stream, see
 * workers/store/store_snapshot.c).  A restore verifies the checksums
 * before anything is sent to the store, and the store checks the state
 * again before replicating it: a bad archive changes nothing.
 */
#include "workers/http/api.h"
#include "lib/archive.h"
#include "lib/json.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
save_done(struct api_req *r)
{
	struct proto_snapshot s;
	struct buf meta, tar;

	if (api_failed(r, 0, PROTO_SNAPSHOT))
		return;
	if (proto_dec_snapshot(r->ans[0].data.data, r->ans[0].data.len, &s) < 0) {
		http_reply_error(r->ctx, 500, "malformed snapshot answer");
		return;
	}
	buf_init(&meta);
	buf_init(&tar);
	buf_printf(&meta, "{\"ID\":\"%" PRIu64 "-%" PRIu64 "-%" PRIu64 "\","
	    "\"Size\":%u,\"Index\":%" PRIu64 ",\"Term\":%" PRIu64 ","
	    "\"Version\":1}", s.term, s.index, wall_ns() / 1000000,
	    s.state.len, s.index, s.term);
	archive_snapshot_build(&tar, meta.data, meta.len, s.state.p,
	    s.state.len);
	http_reply_headerf(r->ctx, "X-Consul-Index", "%" PRIu64, s.index);
	http_reply_buf(r->ctx, 200, "application/x-tar", &tar);
	buf_free(&meta);
	buf_free(&tar);
}

static void
restore_done(struct api_req *r)
{
	struct proto_result res;
	if (r->ans[0].err == 0 && r->ans[0].type == PROTO_RESULT &&
	    proto_dec_result(r->ans[0].data.data, r->ans[0].data.len, &res) == 0 &&
	    res.code == 0) {
		http_reply(r->ctx, 200, NULL, "", 0);
		return;
	}
	api_failed(r, 0, 0xffff);
}

static void
snapshot_restore(struct http_ctx *c, const struct http_request *req)
{
	struct archive_file f[3];
	const char *why;
	if (archive_snapshot_open(req->body, req->body_len, f, &why) < 0) {
		http_reply_error(c, 400, "Error restoring snapshot: %s", why);
		return;
	}
	struct proto_state_restore m = {
		.state = { (const char *)f[1].data, (uint32_t)f[1].len } };
	struct buf b;
	buf_init(&b);
	proto_enc_state_restore(&b, &m);
	struct api_req *r = api_req_new(c, restore_done);
	api_ask_timeout(r, PROC_STORE, PROTO_STATE_RESTORE, &b, 60000);
	buf_free(&b);
	api_go(r);
}

void
api_snapshot(struct http_ctx *c, const struct http_request *req)
{
	if (req->method == HTTP_PUT) {
		snapshot_restore(c, req);
		return;
	}
	struct api_read_opts o;
	if (!api_read_opts(c, req, &o))
		return;
	struct proto_snapshot_save_req q = { .consistency = o.consistency };
	struct buf b;
	buf_init(&b);
	proto_enc_snapshot_save_req(&b, &q);
	struct api_req *r = api_req_new(c, save_done);
	api_ask_timeout(r, PROC_STORE, PROTO_SNAPSHOT_SAVE_REQ, &b, 60000);
	buf_free(&b);
	api_go(r);
}
