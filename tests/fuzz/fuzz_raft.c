/*
 * libFuzzer target: bytes from another server on the Raft stream of the
 * server port (workers/store/rpc_raft.c), as it reads them after the
 * protocol byte: an RPC_HELLO frame, then rft_wire frames, each decoded
 * with rft_wire_decode and stepped into a live Raft core (a follower of a
 * three-server configuration) as the transport does.  The muster RPC
 * frames (RPC_REQ / RPC_RESP) go through their decoders too.  Nothing
 * here may crash, leak or read out of bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/proto.h"
#include "workers/store/raft.h"
#include "workers/store/raft_wire.h"

static void cb_send(void *ud, const struct rft_msg *m) { }
static void cb_persist(void *ud, const struct rft_entry *e, size_t n) { }
static int cb_save_term(void *ud, uint64_t t, uint64_t v) { return 0; }
static void cb_compact(void *ud, uint64_t upto) { }
static void cb_apply(void *ud, const struct rft_entry *e) { }
static void cb_abandon(void *ud, uint64_t c, int err) { }
static void
cb_take_snapshot(void *ud, uint64_t i, uint64_t t, const struct rft_conf *c)
{
}
static int
cb_snapshot_read(void *ud, uint64_t i, uint64_t off, void *b, size_t len)
{
	return -1;
}
static int
cb_snapshot_write(void *ud, uint64_t i, uint64_t t, uint64_t off,
    const void *p, size_t len)
{
	return 0;
}
static void
cb_snapshot_install(void *ud, uint64_t i, uint64_t t, const struct rft_conf *c)
{
}
static void cb_read_done(void *ud, uint64_t c, int err, uint64_t i) { }

static const struct rft_cbs cbs = {
	.send = cb_send, .persist = cb_persist, .save_term = cb_save_term,
	.compact = cb_compact, .apply = cb_apply, .abandon = cb_abandon,
	.take_snapshot = cb_take_snapshot, .snapshot_read = cb_snapshot_read,
	.snapshot_write = cb_snapshot_write,
	.snapshot_install = cb_snapshot_install, .read_done = cb_read_done,
};

static struct rft *
follower(void)
{
	struct rft_config c;
	struct rft_conf conf = { 0 };
	rft_config_default(&c, 1, 1);
	c.seed = 1;
	struct rft *r = rft_new(&c, &cbs, NULL);
	rft_start(r, NULL, 1000);
	rft_conf_add(&conf, 1, RFT_VOTER, "a", "127.0.0.1:8300");
	rft_conf_add(&conf, 2, RFT_VOTER, "b", "127.0.0.2:8300");
	rft_conf_add(&conf, 3, RFT_NONVOTER, "c", "127.0.0.3:8300");
	rft_bootstrap(r, &conf);
	return r;
}

/* The hello, or a muster RPC frame: decoders only. */
static size_t
other_frame(const uint8_t *p, size_t len)
{
	if (len < RFT_WIRE_HDR)
		return len;
	uint32_t n = proto_le32(p);
	uint16_t t = proto_le16(p + 4);
	if (n > len - RFT_WIRE_HDR)
		return len;
	struct proto_rpc_hello h;
	struct proto_rpc_req q;
	struct proto_rpc_resp a;
	if (t == PROTO_RPC_HELLO)
		proto_dec_rpc_hello(p + RFT_WIRE_HDR, n, &h);
	else if (t == PROTO_RPC_REQ && proto_dec_rpc_req(p + RFT_WIRE_HDR, n,
	    &q) == 0)
		proto_validate(q.type, q.body.p, q.body.len);
	else if (t == PROTO_RPC_RESP)
		proto_dec_rpc_resp(p + RFT_WIRE_HDR, n, &a);
	return RFT_WIRE_HDR + n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rft *r = follower();
	uint64_t now = 1000;
	size_t off = 0;
	while (off < size) {
		unsigned type;
		const uint8_t *body;
		size_t blen;
		struct rft_msg m;
		ssize_t n = rft_wire_unframe(data + off, size - off, &type,
		    &body, &blen);
		if (n == 0)
			break;
		if (n < 0) {
			off += other_frame(data + off, size - off);
			continue;
		}
		off += (size_t)n;
		if (rft_wire_decode(type, body, blen, &m) < 0)
			continue;
		/* The transport drops messages not for us; step the rest. */
		m.to = 1;
		rft_tick(r, now += 7);
		rft_step(r, &m);
		rft_wire_release(&m);
	}
	rft_free(r);
	return 0;
}
