/*
 * The server port's listener and the server side of muster RPC (see
 * rpc.h for the protocol bytes).  An accepted connection must send its
 * protocol byte (and, for Raft, its hello) within RPC_HANDSHAKE_TIMEOUT;
 * accepted connections are capped in total and per client address
 * (limits.rpc_max_conns_per_client, as Consul).
 *
 * A request (RPC_REQ) becomes a store_waiter whose peer is RPC_PEER plus
 * its hop count and whose epoch is this connection's serial, and goes
 * through the same handlers as a request from the local http worker;
 * store_reply() sends the answer back here with rpc_reply().
 */
#include "workers/store/rpc_int.h"
#include "workers/store/store.h"
#include "workers/store/cluster.h"
#include "workers/store/catalog_store.h"
#include "workers/common/worker.h"
#include "supervisor/config.h"
#include "proto/proto.h"
#include "lib/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

bool
rpc_waiter(const struct store_waiter *w)
{
	return w->peer >= RPC_PEER && w->peer <= RPC_PEER + RPC_MAX_HOPS;
}

unsigned
rpc_waiter_hops(const struct store_waiter *w)
{
	return rpc_waiter(w) ? w->peer - RPC_PEER : 0;
}

void
rpc_reply(struct store *st, const struct store_waiter *w, uint16_t type,
    const struct buf *payload)
{
	struct rpc_conn *c = st->rpc ? rpc_conn_by_serial(st, w->epoch) : NULL;
	struct buf body, frame;
	if (c == NULL || c->kind != RPC_IN)
		return;		/* the caller went away: nobody to tell */
	struct proto_rpc_resp m = { .reqid = w->reqid, .type = type,
		.body = { (const char *)payload->data, (uint32_t)payload->len } };
	buf_init(&body);
	buf_init(&frame);
	proto_enc_rpc_resp(&body, &m);
	rpc_frame_put(&frame, PROTO_RPC_RESP, &body);
	if (rpc_conn_send(c, frame.data, frame.len, 0) < 0) {
		/* It does not read its answers: stop serving it. */
		log_warnx("rpc: %s is not reading its answers; closing",
		    c->peer);
		ev_io_stop(st->w->loop, &c->rio);
		shutdown(c->fd, SHUT_RD);
	}
	buf_free(&body);
	buf_free(&frame);
}

/* The requests a store serves for another server (and re-runs after a
 * hold): the same messages as the http worker's.  Takes w. */
void
rpc_dispatch(struct store *st, struct store_waiter *w)
{
	switch (w->type) {
	case PROTO_KV_READ_REQ:
		store_kv_read_req(st, w);
		return;
	case PROTO_KV_TXN_REQ:
		store_kv_txn_req(st, w);
		return;
	case PROTO_KV_TXN_READ_REQ:
		store_kv_txn_read_req(st, w);
		return;
	case PROTO_SNAPSHOT_SAVE_REQ:
		store_snapshot_save_req(st, w);
		return;
	case PROTO_STATE_RESTORE:
		store_state_restore_req(st, w);
		return;
	case PROTO_STATUS_LEADER_REQ:
	case PROTO_STATUS_PEERS_REQ:
		store_status_req(st, w);
		return;
	case PROTO_CAT_REGISTER:
		store_catalog_register_req(st, w);
		return;
	case PROTO_CAT_DEREGISTER:
		store_catalog_deregister_req(st, w);
		return;
	case PROTO_CAT_READ_REQ:
		store_catalog_read_req(st, w);
		return;
	case PROTO_DATACENTERS_REQ:
		cluster_datacenters_req(st, w);
		return;
	case PROTO_OP_RAFT_CONF_REQ:
	case PROTO_OP_RAFT_REMOVE_REQ:
	case PROTO_OP_RAFT_TRANSFER_REQ:
	case PROTO_AUTOPILOT_CONF_REQ:
	case PROTO_AUTOPILOT_SET_REQ:
	case PROTO_AUTOPILOT_HEALTH_REQ:
		cluster_op_request(st, w);
		return;
	}
	store_reply_error(st, w, -ENOTSUP, "rpc error: unknown request");
	store_waiter_free(w);
}

static void
serve_request(struct rpc_conn *c, const struct proto_rpc_req *q)
{
	struct store_waiter w = { .peer = RPC_PEER + q->hops,
		.epoch = c->serial, .reqid = q->reqid, .type = q->type };
	buf_init(&w.req);
	buf_add(&w.req, q->body.p, q->body.len);
	rpc_dispatch(c->st, &w);
}

int
rpc_serve_frames(struct rpc_conn *c)
{
	size_t off = 0;
	for (;;) {
		uint16_t type;
		const uint8_t *body;
		uint32_t blen;
		struct proto_rpc_req q;
		ssize_t n = rpc_frame_peek(c->in.data + off, c->in.len - off,
		    RPC_MAX_FRAME, &type, &body, &blen);
		if (n == 0)
			break;
		if (n < 0 || type != PROTO_RPC_REQ ||
		    proto_dec_rpc_req(body, blen, &q) < 0 || q.reqid == 0 ||
		    q.hops > RPC_MAX_HOPS || !proto_type_known(q.type)) {
			log_warnx("rpc: malformed request from %s; closing",
			    c->peer);
			c->st->rpc->bad_input++;
			rpc_conn_close(c, -EBADMSG);
			return -1;
		}
		off += (size_t)n;
		serve_request(c, &q);
	}
	buf_consume(&c->in, off);
	return 0;
}

/* The first byte picks the protocol (rpc.h). */
static int
first_byte(struct rpc_conn *c)
{
	struct store *st = c->st;
	if (c->proto != 0)
		return c->proto == RPC_PROTO_RAFT ? rpc_raft_recv(c) :
		    rpc_serve_frames(c);
	uint8_t b = c->in.data[0];
	if ((b != RPC_PROTO_RAFT && b != RPC_PROTO_MUSTER) ||
	    (b == RPC_PROTO_RAFT && st->raft == NULL)) {
		log_warnx("rpc: %s sent protocol byte 0x%02x; closing", c->peer,
		    b);
		st->rpc->bad_input++;
		rpc_conn_close(c, -EPROTO);
		return -1;
	}
	c->proto = b;
	buf_consume(&c->in, 1);
	if (b == RPC_PROTO_MUSTER)
		ev_timer_stop(st->w->loop, &c->timer);
	if (c->in.len == 0)
		return 0;
	return b == RPC_PROTO_RAFT ? rpc_raft_recv(c) : rpc_serve_frames(c);
}

static unsigned
conns_from(struct store *st, const char *ip)
{
	unsigned n = 0;
	for (struct rpc_conn *c = st->rpc->conns; c; c = c->next)
		if (c->kind == RPC_IN && strcmp(c->ip, ip) == 0)
			n++;
	return n;
}

static void
accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct store *st = w->data;
	const struct agent_config *cfg = st->w->cfg;
	for (int i = 0; i < 64; i++) {
		int fd = accept4(st->rpc->listen_fd, NULL, NULL,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR && errno != ECONNABORTED)
				log_warn("rpc: accept");
			return;
		}
		struct rpc_conn *c = rpc_conn_new(st, fd, RPC_IN);
		unsigned per = cfg && cfg->limits.rpc_max_conns_per_client > 0 ?
		    (unsigned)cfg->limits.rpc_max_conns_per_client : 0;
		if (st->rpc->nin >= RPC_MAX_CONNS ||
		    (per && conns_from(st, c->ip) > per)) {
			log_warnx("rpc: too many connections from %s; refused",
			    c->ip);
			rpc_conn_close(c, -EMFILE);
			continue;
		}
		st->rpc->nin++;
		c->on_read = first_byte;
		ev_timer_set(&c->timer, RPC_HANDSHAKE_TIMEOUT, 0);
		ev_timer_start(loop, &c->timer);
		ev_io_start(loop, &c->rio);
	}
}

int
rpc_init(struct store *st)
{
	if (st->rpc == NULL) {
		st->rpc = xcalloc(1, sizeof(*st->rpc));
		st->rpc->st = st;
		st->rpc->listen_fd = -1;
	}
	if (st->rpc_fd >= 0 && st->rpc->listen_fd < 0)
		rpc_listen(st, st->rpc_fd);
	return 0;
}

void
rpc_listen(struct store *st, int fd)
{
	if (st->rpc == NULL)
		rpc_init(st);
	st->rpc_fd = fd;
	st->rpc->listen_fd = fd;
	fd_set_nonblock(fd, true);
	ev_io_init(&st->rpc->accept_io, accept_cb, fd, EV_READ);
	st->rpc->accept_io.data = st;
	if (st->w->loop)
		ev_io_start(st->w->loop, &st->rpc->accept_io);
}

void
rpc_stop(struct store *st)
{
	struct store_rpc *r = st->rpc;
	if (r == NULL)
		return;
	if (r->listen_fd >= 0) {
		ev_io_stop(st->w->loop, &r->accept_io);
		close(r->listen_fd);
		st->rpc_fd = -1;
	}
	rpc_client_stop(st);
	rpc_hold_stop(st);
	rpc_raft_stop(st);
	while (r->conns)
		rpc_conn_close(r->conns, -ECANCELED);
	free(r);
	st->rpc = NULL;
}
