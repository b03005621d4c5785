/*
 * The Raft transport (docs/raft.md, "Driving it from the store worker"
 * step 3).  One outgoing connection per peer, opened on the first message
 * to it, from the advertise address: protocol byte 0x01, an RPC_HELLO,
 * then one rft_wire frame per message.  A peer's queue is bounded
 * (RPC_RAFT_HIWAT): messages above it, or to a peer we cannot reach, are
 * dropped, which Raft tolerates (the leader retransmits, heartbeats
 * repeat, candidates retry).  A failed connection is retried after an
 * exponential backoff (RPC_BACKOFF_MIN_MS .. RPC_BACKOFF_MAX_MS) when
 * there is something to send again.
 *
 * A peer's address is the one in the Raft configuration; for a server
 * not (yet) in ours, the one it announced in its hello or gossip reported
 * (a new nonvoter must answer a leader it has no configuration for).
 *
 * Incoming connections carry only the other side's messages: after the
 * hello, frames are decoded with rft_wire's bounds checks and stepped
 * into the core, rft_tick first for each batch so that the lease and
 * election timers see the current time.  When the peer ends such a
 * connection, the core is told (raft_hint.h): a leader that crashed is
 * replaced as soon as its lease allows.
 */
#include "workers/store/rpc_int.h"
#include "workers/store/raft_hint.h"
#include "workers/store/raft_wire.h"
#include "workers/store/store.h"
#include "workers/common/worker.h"
#include "supervisor/config.h"
#include "proto/proto.h"
#include "lib/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define RPC_STABLE_MS 5000	/* a connection this old resets backoff */

struct rpc_peer {
	uint64_t id;
	char addr[RFT_ADDR_MAX];	/* learned: hello or gossip */
	char conn_addr[RFT_ADDR_MAX];	/* where c goes */
	struct rpc_conn *c;
	uint64_t retry_at;
	unsigned backoff;
	bool was_up;
	struct rpc_peer *next;
};

static struct rpc_peer *
peer_get(struct store *st, uint64_t id, bool create)
{
	struct rpc_peer *p;
	for (p = st->rpc->peers; p; p = p->next)
		if (p->id == id)
			return p;
	if (!create)
		return NULL;
	p = xcalloc(1, sizeof(*p));
	p->id = id;
	p->next = st->rpc->peers;
	st->rpc->peers = p;
	return p;
}

static const char *
peer_addr(struct store *st, const struct rpc_peer *p)
{
	const struct rft_server *s = st->raft ?
	    rft_conf_find(rft_conf(st->raft), p->id) : NULL;
	return s && s->addr[0] ? s->addr : p->addr;
}

static void
peer_closed(struct rpc_conn *c, int err)
{
	struct rpc_peer *p = c->owner;
	uint64_t now = mono_ms();
	if (p == NULL)
		return;
	p->c = NULL;
	bool lived = !c->connecting && now - c->opened_ms >= RPC_STABLE_MS;
	if (lived || p->backoff == 0)
		p->backoff = RPC_BACKOFF_MIN_MS;
	else
		p->backoff = MIN(p->backoff * 2, RPC_BACKOFF_MAX_MS);
	p->retry_at = now + p->backoff;
	if (p->was_up && !c->connecting)
		log_info("raft: connection to %s lost (%s)", p->conn_addr,
		    err ? strerror(-err) : "closed by peer");
	p->was_up = !c->connecting;
}

/* The peer never writes on our outgoing connection. */
static int
peer_read(struct rpc_conn *c)
{
	log_warnx("raft: %s wrote on a send-only connection; closing",
	    c->peer);
	c->st->rpc->bad_input++;
	rpc_conn_close(c, -EPROTO);
	return -1;
}

static void
put_hello(struct store *st, struct buf *out)
{
	const struct agent_config *cfg = st->w->cfg;
	struct proto_rpc_hello h = { .id = st->raft_id,
		.addr = proto_str_c(st->self_addr),
		.node_id = proto_str_c(cfg && cfg->node_id ? cfg->node_id : ""),
		.dc = proto_str_c(cfg && cfg->datacenter ? cfg->datacenter : "") };
	struct buf body;
	buf_init(&body);
	proto_enc_rpc_hello(&body, &h);
	buf_addch(out, RPC_PROTO_RAFT);
	rpc_frame_put(out, PROTO_RPC_HELLO, &body);
	buf_free(&body);
}

static bool
peer_connect(struct store *st, struct rpc_peer *p, const char *addr)
{
	int err;
	if (mono_ms() < p->retry_at)
		return false;
	p->c = rpc_conn_connect(st, addr, RPC_OUT_RAFT, &err);
	if (p->c == NULL) {
		log_debug("raft: cannot connect to %s: %s", addr,
		    strerror(-err));
		p->backoff = MIN(MAX(p->backoff * 2, RPC_BACKOFF_MIN_MS),
		    RPC_BACKOFF_MAX_MS);
		p->retry_at = mono_ms() + p->backoff;
		return false;
	}
	strlcpy_m(p->conn_addr, addr, sizeof(p->conn_addr));
	p->c->owner = p;
	p->c->peer_id = p->id;
	p->c->on_read = peer_read;
	p->c->on_close = peer_closed;
	struct buf pre;
	buf_init(&pre);
	put_hello(st, &pre);
	rpc_conn_send(p->c, pre.data, pre.len, 0);
	buf_free(&pre);
	return true;
}

void
rpc_raft_send(struct store *st, const struct rft_msg *m)
{
	if (st->rpc == NULL)
		return;
	struct rpc_peer *p = peer_get(st, m->to, true);
	const char *addr = peer_addr(st, p);
	if (p->c && strcmp(p->conn_addr, addr) != 0)
		rpc_conn_close(p->c, -ECANCELED);	/* it moved */
	if (addr[0] == '\0' || (p->c == NULL && !peer_connect(st, p, addr))) {
		st->rpc->dropped++;
		return;
	}
	struct buf f;
	buf_init(&f);
	if (rft_wire_frame(&f, m) < 0 ||
	    rpc_conn_send(p->c, f.data, f.len, RPC_RAFT_HIWAT) < 0)
		st->rpc->dropped++;
	buf_free(&f);
}

void
rpc_raft_learn(struct store *st, uint64_t id, const char *addr)
{
	if (st->rpc == NULL || id == 0 || id == st->raft_id || addr[0] == '\0')
		return;
	struct rpc_peer *p = peer_get(st, id, true);
	strlcpy_m(p->addr, addr, sizeof(p->addr));
}

void
rpc_raft_conf_changed(struct store *st, const struct rft_conf *conf)
{
	if (st->rpc == NULL)
		return;
	for (struct rpc_peer *p = st->rpc->peers; p; p = p->next) {
		const struct rft_server *s = rft_conf_find(conf, p->id);
		if (p->c == NULL)
			continue;
		/* Gone from the configuration, or moved: reconnect on demand. */
		if (s == NULL || (s->addr[0] && strcmp(s->addr, p->conn_addr)))
			rpc_conn_close(p->c, -ECANCELED);
	}
}

void
rpc_raft_stop(struct store *st)
{
	struct rpc_peer *p, *next;
	for (p = st->rpc->peers; p; p = next) {
		next = p->next;
		if (p->c) {
			p->c->owner = NULL;
			rpc_conn_close(p->c, -ECANCELED);
		}
		free(p);
	}
	st->rpc->peers = NULL;
}

static int
bad_raft_input(struct rpc_conn *c, const char *what)
{
	log_warnx("raft: %s from %s; closing", what, c->peer);
	c->st->rpc->bad_input++;
	rpc_conn_close(c, -EBADMSG);
	return -1;
}

/* The peer ended the connection it sends us its messages on (EOF or a
 * reset, not our own close): if it led us, it has most likely crashed. */
static void
in_closed(struct rpc_conn *c, int err)
{
	if (c->st->raft != NULL && (err == 0 || err == -ECONNRESET))
		rft_hint_leader_gone(c->st->raft, c->peer_id, mono_ms());
}

/* The hello: who is on the other end, and where it listens. */
static ssize_t
recv_hello(struct rpc_conn *c)
{
	struct store *st = c->st;
	const struct agent_config *cfg = st->w->cfg;
	uint16_t type;
	const uint8_t *body;
	uint32_t blen;
	struct proto_rpc_hello h;
	struct sockaddr_storage ss;
	unsigned sl;
	char addr[RFT_ADDR_MAX];
	ssize_t n = rpc_frame_peek(c->in.data, c->in.len, RPC_HELLO_MAX, &type,
	    &body, &blen);
	if (n <= 0)
		return n;
	if (type != PROTO_RPC_HELLO || proto_dec_rpc_hello(body, blen, &h) < 0 ||
	    h.id == 0 || proto_str_copy(h.addr, addr, sizeof(addr)) < 0 ||
	    rpc_parse_addr(addr, &ss, &sl) < 0)
		return -EBADMSG;
	if (h.id == st->raft_id)
		return -EEXIST;
	if (cfg && cfg->datacenter && h.dc.len &&
	    !proto_str_eq(h.dc, cfg->datacenter))
		return -EXDEV;
	c->hello = true;
	c->peer_id = h.id;
	c->on_close = in_closed;
	ev_timer_stop(st->w->loop, &c->timer);
	rpc_raft_learn(st, h.id, addr);
	/* It is up and reaches us: a backoff left from its last crash must
	 * not drop our answers (a vote lost here costs an election timeout,
	 * and followers talk to each other only in elections). */
	struct rpc_peer *p = peer_get(st, h.id, false);
	if (p != NULL && p->c == NULL)
		p->retry_at = 0;
	return n;
}

int
rpc_raft_recv(struct rpc_conn *c)
{
	struct store *st = c->st;
	size_t off = 0;
	bool ticked = false;
	if (!c->hello) {
		ssize_t n = recv_hello(c);
		if (n == 0)
			return 0;
		if (n == -EEXIST)
			return bad_raft_input(c, "a hello with our own server ID");
		if (n == -EXDEV)
			return bad_raft_input(c, "a hello from another datacenter");
		if (n < 0)
			return bad_raft_input(c, "a malformed hello");
		off = (size_t)n;
	}
	for (;;) {
		unsigned type;
		const uint8_t *body;
		size_t blen;
		struct rft_msg m;
		ssize_t n = rft_wire_unframe(c->in.data + off, c->in.len - off,
		    &type, &body, &blen);
		if (n == 0)
			break;
		if (n < 0 || rft_wire_decode(type, body, blen, &m) < 0)
			return bad_raft_input(c, "a malformed Raft message");
		if (m.from != c->peer_id || m.to != st->raft_id) {
			rft_wire_release(&m);
			return bad_raft_input(c, "a Raft message for someone else");
		}
		if (!ticked) {
			rft_tick(st->raft, mono_ms());
			ticked = true;
		}
		if (rft_step(st->raft, &m) < 0) {
			log_debug("raft: message %u from %s refused by the core",
			    m.type, c->peer);
			st->rpc->bad_input++;
		}
		rft_wire_release(&m);
		off += (size_t)n;
	}
	buf_consume(&c->in, off);
	return 0;
}
