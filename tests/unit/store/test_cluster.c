/*
 * Clustering in one process: several store workers' state (struct store),
 * each with its own server port on 127.0.0.1, driven by one libev loop,
 * talking to each other over real TCP with the real transport.  Gossip is
 * played by the test: it feeds each store the MEMBER_EVENT messages the
 * gossip worker sends.  Requests come in as the http worker's do, over an
 * IPC socketpair dispatched through the store's own handler table.
 *
 * Checked: bootstrap_expect waits for N servers and elects one leader
 * with one configuration; writes and reads through followers and through
 * a client agent; a client agent with no server, or only dead ones;
 * leadership transfer; the leader's crash; a new server joining as a
 * nonvoter and being promoted; departed and dead servers removed; the
 * autopilot configuration's CAS; bad bytes on the server port.
 */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ipc/ipc.h"
#include "proto/proto.h"
#include "supervisor/config.h"
#include "workers/common/worker.h"
#include "workers/store/cluster.h"
#include "workers/store/raft_wire.h"
#include "workers/store/rpc.h"
#include "workers/store/rpc_int.h"
#include "workers/store/store.h"

#define NMAX 6

struct node {
	char name[32];
	struct agent_config *cfg;
	struct worker w;
	struct store st;
	struct ipc_chan *http;		/* the test's end: "the http worker" */
	struct ipc_chan *srv;		/* the store's end */
	uint16_t port;
	bool up;
};

static struct ev_loop *loop;
static struct node N[NMAX];
static ev_timer wakeup;

static void
wake_cb(struct ev_loop *l, ev_timer *t, int revents)
{
}

/* ---- harness ------------------------------------------------------------ */

static void
srv_msg(struct ipc_chan *ch, struct ipc_msg *m, void *arg)
{
	struct node *n = arg;
	for (size_t i = 0; i < store_ops.nhandlers; i++)
		if (store_ops.handlers[i].type == m->hdr.type) {
			store_ops.handlers[i].fn(&n->w, PROC_HTTP, ch, m);
			return;
		}
	ck_abort_msg("no store handler for 0x%04x", m->hdr.type);
}

static void
test_msg(struct ipc_chan *ch, struct ipc_msg *m, void *arg)
{
}

static void
chan_closed(struct ipc_chan *ch, int err, void *arg)
{
}

static int
listen_any(uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(fd, 64), 0);
	getsockname(fd, (struct sockaddr *)&a, &sl);
	*port = ntohs(a.sin_port);
	return fd;
}

static struct agent_config *
make_cfg(const char *name, bool server, int expect)
{
	char e[16];
	struct buf err;
	struct agent_config *c = NULL;
	snprintf(e, sizeof(e), "%d", expect);
	char *argv[16] = { "-node", (char *)name, "-bind", "127.0.0.1",
		"-data-dir", "/nonexistent" };
	int argc = 6;
	if (server)
		argv[argc++] = "-server";
	if (expect) {
		argv[argc++] = "-bootstrap-expect";
		argv[argc++] = e;
	}
	buf_init(&err);
	if (cfg_load(argc, argv, &c, &err) < 0 ||
	    cfg_resolve_addresses(c, &err) < 0)
		ck_abort_msg("config: %s", (char *)err.data);
	buf_free(&err);
	char id[37];
	uuid_v4(id);
	free(c->node_id);
	c->node_id = xstrdup(id);
	free(c->data_dir);
	c->data_dir = xstrdup("");	/* in-memory Raft log */
	c->performance.raft_multiplier = 1;
	c->autopilot.server_stabilization_time = 1000000000LL;
	return c;
}

static struct node *
node_start(int i, bool server, int expect)
{
	struct node *n = &N[i];
	int sv[2];
	memset(n, 0, sizeof(*n));
	snprintf(n->name, sizeof(n->name), "n%d", i);
	n->cfg = make_cfg(n->name, server, expect);
	n->w.loop = loop;
	n->w.cfg = n->cfg;
	n->w.app = &n->st;
	n->w.proc = PROC_STORE;
	n->st.w = &n->w;
	n->st.rpc_fd = -1;
	n->st.server = server;
	if (server) {
		n->st.rpc_fd = listen_any(&n->port);
		n->cfg->ports.server = n->port;
	}
	snprintf(n->st.self_addr, sizeof(n->st.self_addr), "127.0.0.1:%u",
	    n->port);
	kv_init(&n->st.kv);
	watch_set_init(&n->st.watches, loop, 1000);
	ck_assert_int_eq(ipc_socketpair(sv), 0);
	n->srv = ipc_chan_new(loop, sv[0], "store", PROC_STORE,
	    &ipc_limits_default, srv_msg, chan_closed, n);
	n->http = ipc_chan_new(loop, sv[1], "http", PROC_HTTP,
	    &ipc_limits_default, test_msg, chan_closed, n);
	n->w.peer[PROC_HTTP] = n->srv;
	n->w.peer_epoch[PROC_HTTP] = 1;
	ck_assert_int_eq(cluster_init(&n->st), 0);
	ck_assert_int_eq(store_raft_init(&n->st), 0);
	ck_assert_int_eq(rpc_init(&n->st), 0);
	n->up = true;
	return n;
}

/* As a crash: connections drop, the port refuses. */
static void
node_kill(struct node *n)
{
	if (!n->up)
		return;
	n->up = false;
	cluster_stop(&n->st);
	rpc_stop(&n->st);
	watch_set_free(&n->st.watches);
	store_raft_stop(&n->st);
	kv_free(&n->st.kv);
	ipc_chan_free(n->http);
	ipc_chan_free(n->srv);
	cfg_free(n->cfg);
}

static void
run_for(double secs)
{
	double end = ev_time() + secs;
	while (ev_time() < end) {
		ev_now_update(loop);
		ev_run(loop, EVRUN_ONCE);
	}
}

typedef bool pred_fn(void *arg);

static bool
run_until(pred_fn *p, void *arg, double secs)
{
	double end = ev_time() + secs;
	while (ev_time() < end) {
		if (p(arg))
			return true;
		ev_run(loop, EVRUN_ONCE);
	}
	return p(arg);
}

/* Gossip's view: n joined, left, failed. */
static void
gossip(struct node *about, int kind)
{
	char port[16], expect[16];
	const char *tags[16];
	unsigned nt = 0;
	snprintf(port, sizeof(port), "%u", about->port);
	snprintf(expect, sizeof(expect), "%d", about->cfg->bootstrap_expect);
	tags[nt++] = "role";
	tags[nt++] = about->cfg->server ? "consul" : "node";
	tags[nt++] = "dc";
	tags[nt++] = about->cfg->datacenter;
	tags[nt++] = "id";
	tags[nt++] = about->cfg->node_id;
	tags[nt++] = "build";
	tags[nt++] = "1.2.3:muster";
	if (about->cfg->server) {
		tags[nt++] = "port";
		tags[nt++] = port;
		tags[nt++] = "raft_vsn";
		tags[nt++] = "3";
		if (about->cfg->bootstrap_expect) {
			tags[nt++] = "expect";
			tags[nt++] = expect;
		}
	}
	struct proto_member m = { .name = proto_str_c(about->name),
		.addr = PROTO_STR("127.0.0.1"), .port = 8301,
		.tags = { .n = nt, .items = tags },
		.status = kind == 3 ? 3 : kind == 4 ? 4 : 1 };
	struct buf mb, eb;
	buf_init(&mb);
	buf_init(&eb);
	proto_enc_member(&mb, &m);
	struct proto_member_event ev = { .pool = 0, .kind = (uint8_t)kind,
		.member = { (const char *)mb.data, (uint32_t)mb.len } };
	proto_enc_member_event(&eb, &ev);
	for (int i = 0; i < NMAX; i++)
		if (N[i].up)
			ck_assert_int_eq(cluster_member_event(&N[i].st, eb.data,
			    eb.len), 0);
	buf_free(&mb);
	buf_free(&eb);
}

struct answer {
	bool done;
	int err;
	uint16_t type;
	struct buf data;
};

static void
answer_cb(void *arg, struct ipc_msg *m, int err)
{
	struct answer *a = arg;
	a->done = true;
	a->err = err;
	if (m) {
		a->type = m->hdr.type;
		buf_add(&a->data, m->data, m->len);
	}
}

static bool
answered(void *arg)
{
	return ((struct answer *)arg)->done;
}

/* Ask the store of n as the http worker would; waits for the answer. */
static void
ask(struct node *n, uint16_t type, const struct buf *body, struct answer *a)
{
	memset(a, 0, sizeof(*a));
	buf_init(&a->data);
	ck_assert_int_gt(ipc_request(n->http, type, body ? body->data : NULL,
	    body ? body->len : 0, 10000, answer_cb, a), 0);
	ck_assert_msg(run_until(answered, a, 12), "no answer to 0x%04x", type);
	ck_assert_int_eq(a->err, 0);
}

/* The RESULT's code and message, or 1 when the answer is not a RESULT. */
static int
result_of(const struct answer *a, char *msg, size_t len)
{
	struct proto_result r;
	if (a->type != PROTO_RESULT ||
	    proto_dec_result(a->data.data, a->data.len, &r) < 0)
		return 1;
	snprintf(msg, len, "%.*s", (int)r.message.len, r.message.p);
	return r.code;
}

static int
t_put(struct node *n, const char *key, const char *val, char *msg,
    size_t mlen)
{
	struct proto_kv_op op = { .verb = KV_SET, .key = proto_str_c(key),
		.value = proto_str_c(val) };
	struct buf ob, tb;
	struct answer a;
	buf_init(&ob);
	buf_init(&tb);
	proto_enc_kv_op(&ob, &op);
	struct proto_str item = { (const char *)ob.data, (uint32_t)ob.len };
	struct proto_kv_txn_req t = { .ops = { .n = 1, .strs = &item } };
	proto_enc_kv_txn_req(&tb, &t);
	ask(n, PROTO_KV_TXN_REQ, &tb, &a);
	int r = a.type == PROTO_KV_TXN ? 0 : result_of(&a, msg, mlen);
	buf_free(&ob);
	buf_free(&tb);
	buf_free(&a.data);
	return r;
}

/* The value of key read with a consistency mode; "" when absent;
 * "!<error>" when the read failed. */
static void
t_get(struct node *n, const char *key, uint8_t consistency, char *out,
    size_t len)
{
	struct proto_kv_read_req q = { .key = proto_str_c(key),
		.consistency = consistency };
	struct proto_kv_read rd;
	struct proto_kv_entry e;
	struct proto_strv_iter it;
	struct proto_str item;
	struct buf b;
	struct answer a;
	char msg[200];
	buf_init(&b);
	proto_enc_kv_read_req(&b, &q);
	ask(n, PROTO_KV_READ_REQ, &b, &a);
	out[0] = '\0';
	if (a.type != PROTO_KV_READ) {
		result_of(&a, msg, sizeof(msg));
		out[0] = '!';
		strlcpy_m(out + 1, msg, len - 1);
	} else if (proto_dec_kv_read(a.data.data, a.data.len, &rd) == 0) {
		proto_strv_iter_init(&it, &rd.items);
		if (proto_strv_next(&it, &item) &&
		    proto_dec_kv_entry(item.p, item.len, &e) == 0)
			snprintf(out, len, "%.*s", (int)e.value.len, e.value.p);
	}
	buf_free(&b);
	buf_free(&a.data);
}

static int
leaders(void)
{
	int n = 0;
	for (int i = 0; i < NMAX; i++)
		n += N[i].up && N[i].st.raft && store_is_leader(&N[i].st);
	return n;
}

static struct node *
leader(void)
{
	for (int i = 0; i < NMAX; i++)
		if (N[i].up && N[i].st.raft && store_is_leader(&N[i].st))
			return &N[i];
	return NULL;
}

static struct node *
follower(void)
{
	for (int i = 0; i < NMAX; i++)
		if (N[i].up && N[i].st.raft && !store_is_leader(&N[i].st))
			return &N[i];
	return NULL;
}

/* Exactly one leader, and every live server agrees on it. */
static bool
one_leader(void *arg)
{
	struct node *l = leader();
	if (leaders() != 1)
		return false;
	for (int i = 0; i < NMAX; i++)
		if (N[i].up && N[i].st.raft &&
		    rft_leader(N[i].st.raft) != l->st.raft_id)
			return false;
	return true;
}

static unsigned
conf_count(struct node *n, uint8_t role)
{
	const struct rft_conf *c = rft_conf(n->st.raft);
	unsigned k = 0;
	for (unsigned i = 0; i < c->n; i++)
		k += c->s[i].role == role;
	return k;
}

static void
setup(void)
{
	loop = ev_loop_new(EVFLAG_AUTO);
	ev_timer_init(&wakeup, wake_cb, 0.01, 0.01);
	ev_timer_start(loop, &wakeup);
	memset(N, 0, sizeof(N));
}

static void
teardown(void)
{
	for (int i = 0; i < NMAX; i++)
		node_kill(&N[i]);
	ev_timer_stop(loop, &wakeup);
	ev_loop_destroy(loop);
}

/* Three servers formed with bootstrap_expect=3 (used by several tests). */
static void
form_three(void)
{
	for (int i = 0; i < 3; i++)
		node_start(i, true, 3);
	for (int i = 0; i < 3; i++)
		gossip(&N[i], 1);
	ck_assert_msg(run_until(one_leader, NULL, 15), "no single leader");
}

/* ---- cases ---------------------------------------------------------- */

static bool
same_conf_everywhere(void *arg)
{
	const struct rft_conf *c0 = NULL;
	for (int i = 0; i < NMAX; i++) {
		if (!N[i].up || !N[i].st.raft)
			continue;
		const struct rft_conf *c = rft_conf(N[i].st.raft);
		if (c0 == NULL)
			c0 = c;
		else if (c->n != c0->n || memcmp(c->s, c0->s,
		    c->n * sizeof(c->s[0])) != 0)
			return false;
	}
	return c0 && c0->n == (unsigned)(intptr_t)arg;
}

START_TEST(bootstrap_waits_for_expect)
{
	struct answer a;
	struct proto_status_peers ps;
	for (int i = 0; i < 3; i++)
		node_start(i, true, 3);
	/* Each knows itself and n0: two servers, not three. */
	gossip(&N[0], 1);
	run_for(2.5);
	for (int i = 0; i < 3; i++)
		ck_assert_uint_eq(rft_term(N[i].st.raft), 0);
	gossip(&N[1], 1);
	gossip(&N[2], 1);
	ck_assert(run_until(one_leader, NULL, 15));
	ck_assert(run_until(same_conf_everywhere, (void *)3, 5));
	ck_assert_uint_eq(conf_count(&N[0], RFT_VOTER), 3);
	/* Raft IDs come from node IDs; the servers are named by node ID. */
	for (int i = 0; i < 3; i++)
		ck_assert_ptr_nonnull(rft_conf_find(rft_conf(N[0].st.raft),
		    cluster_raft_id(N[i].cfg->node_id)));
	ask(follower(), PROTO_STATUS_PEERS_REQ, NULL, &a);
	ck_assert_uint_eq(a.type, PROTO_STATUS_PEERS);
	ck_assert_int_eq(proto_dec_status_peers(a.data.data, a.data.len, &ps), 0);
	ck_assert_uint_eq(ps.peers.n, 3);
	buf_free(&a.data);
}
END_TEST

static bool
stale_everywhere(void *arg)
{
	char v[64];
	for (int i = 0; i < NMAX; i++) {
		if (!N[i].up || !N[i].st.raft)
			continue;
		t_get(&N[i], "k", 1, v, sizeof(v));
		if (strcmp(v, arg) != 0)
			return false;
	}
	return true;
}

START_TEST(writes_and_reads_through_followers)
{
	char msg[200], v[64];
	form_three();
	struct node *f = follower();
	ck_assert_int_eq(t_put(f, "k", "v1", msg, sizeof(msg)), 0);
	for (int i = 0; i < 3; i++) {
		t_get(&N[i], "k", 0, v, sizeof(v));
		ck_assert_str_eq(v, "v1");
		t_get(&N[i], "k", 2, v, sizeof(v));
		ck_assert_str_eq(v, "v1");
	}
	ck_assert(run_until(stale_everywhere, "v1", 5));
}
END_TEST

struct blocking {
	struct answer a;
	double sent;
};

START_TEST(client_agent_forwards)
{
	char msg[200], v[64];
	form_three();
	struct node *c = node_start(3, false, 0);
	t_get(c, "k", 0, v, sizeof(v));
	ck_assert_str_eq(v, "!No known Consul servers");
	ck_assert_int_ne(t_put(c, "k", "x", msg, sizeof(msg)), 0);
	ck_assert_str_eq(msg, "No known Consul servers");
	for (int i = 0; i < 3; i++)
		gossip(&N[i], 1);
	ck_assert_int_eq(t_put(c, "k", "v2", msg, sizeof(msg)), 0);
	t_get(c, "k", 2, v, sizeof(v));
	ck_assert_str_eq(v, "v2");

	/* A blocking read keeps its wait through the forward. */
	struct proto_kv_read_req q = { .key = PROTO_STR("k"),
		.min_index = rft_commit_index(leader()->st.raft) + 100,
		.wait_ms = 8000 };
	struct proto_kv_read rd;
	struct answer a;
	struct buf b;
	buf_init(&b);
	memset(&a, 0, sizeof(a));
	buf_init(&a.data);
	proto_enc_kv_read_req(&b, &q);
	double t0 = ev_time();
	ipc_request(c->http, PROTO_KV_READ_REQ, b.data, b.len, 20000,
	    answer_cb, &a);
	run_for(1);
	ck_assert(!a.done);
	for (int i = 0; i < 120 && !a.done; i++)
		t_put(leader(), "k", "v3", msg, sizeof(msg));
	ck_assert(run_until(answered, &a, 10));
	ck_assert_uint_eq(a.type, PROTO_KV_READ);
	ck_assert_int_eq(proto_dec_kv_read(a.data.data, a.data.len, &rd), 0);
	ck_assert_uint_gt(rd.index, q.min_index);
	ck_assert(ev_time() - t0 < 7.5);
	buf_free(&a.data);
	buf_free(&b);

	/* A dead server the client still believes in: reads go elsewhere. */
	node_kill(follower());
	for (int i = 0; i < 6; i++) {
		t_get(c, "k", 1, v, sizeof(v));
		ck_assert_str_eq(v, "v3");
	}
}
END_TEST

static bool
leader_is_not(void *arg)
{
	return one_leader(NULL) && leader() != arg;
}

START_TEST(transfer_then_crash)
{
	char msg[200], v[64];
	struct answer a;
	struct buf b;
	form_three();
	struct node *l = leader();
	struct proto_op_raft_transfer_req t = { .id = PROTO_STR("") };
	buf_init(&b);
	proto_enc_op_raft_transfer_req(&b, &t);
	ask(follower(), PROTO_OP_RAFT_TRANSFER_REQ, &b, &a);
	ck_assert_int_eq(result_of(&a, msg, sizeof(msg)), 0);
	ck_assert(run_until(leader_is_not, l, 10));
	buf_free(&a.data);
	buf_free(&b);

	l = leader();
	ck_assert_int_eq(t_put(l, "k", "before", msg, sizeof(msg)), 0);
	node_kill(l);
	/* Asked at once, a survivor holds the write until a new leader is
	 * elected (rpc_hold_timeout) instead of failing it. */
	double t0 = ev_time();
	ck_assert_msg(t_put(follower(), "k", "after", msg, sizeof(msg)) == 0,
	    "write during the election: %s", msg);
	ck_assert(ev_time() - t0 > 0.3);
	ck_assert(run_until(one_leader, NULL, 15));
	t_get(leader(), "k", 0, v, sizeof(v));
	ck_assert_str_eq(v, "after");
}
END_TEST

struct roles {
	struct node *n;
	unsigned voters, nonvoters;
};

static bool
leader_conf_is(void *arg)
{
	struct roles *r = arg;
	struct node *l = leader();
	return l && conf_count(l, RFT_VOTER) == r->voters &&
	    conf_count(l, RFT_NONVOTER) == r->nonvoters &&
	    rft_commit_index(l->st.raft) >= l->st.cl->conf_index;
}

START_TEST(join_promote_leave_dead)
{
	char msg[200];
	struct answer a;
	struct buf b;
	struct proto_op_raft_conf rc;
	form_three();
	node_start(3, true, 0);
	for (int i = 0; i < 4; i++)
		gossip(&N[i], 1);
	struct roles r = { NULL, 3, 1 };
	ck_assert_msg(run_until(leader_conf_is, &r, 10), "not added");
	r.voters = 4;
	r.nonvoters = 0;
	ck_assert_msg(run_until(leader_conf_is, &r, 10), "not promoted");
	ck_assert_int_eq(t_put(leader(), "k", "v4", msg, sizeof(msg)), 0);
	ck_assert(run_until(stale_everywhere, "v4", 5));

	/* Consul's configuration view, through the newcomer. */
	struct proto_op_raft_conf_req q = { .stale = false };
	buf_init(&b);
	proto_enc_op_raft_conf_req(&b, &q);
	ask(&N[3], PROTO_OP_RAFT_CONF_REQ, &b, &a);
	ck_assert_uint_eq(a.type, PROTO_OP_RAFT_CONF);
	ck_assert_int_eq(proto_dec_op_raft_conf(a.data.data, a.data.len, &rc), 0);
	ck_assert_uint_eq(rc.servers.n, 4);
	ck_assert_uint_gt(rc.index, 0);
	struct proto_strv_iter it;
	struct proto_str item;
	unsigned nleaders = 0, named = 0;
	proto_strv_iter_init(&it, &rc.servers);
	while (proto_strv_next(&it, &item)) {
		struct proto_op_raft_server s;
		ck_assert_int_eq(proto_dec_op_raft_server(item.p, item.len, &s), 0);
		nleaders += s.leader;
		ck_assert(s.voter);
		ck_assert(proto_str_eq(s.protocol, "3"));
		for (int i = 0; i < 4; i++)
			named += proto_str_eq(s.node, N[i].name) &&
			    proto_str_eq(s.id, N[i].cfg->node_id);
	}
	ck_assert_uint_eq(nleaders, 1);
	ck_assert_uint_eq(named, 4);
	buf_free(&a.data);
	buf_free(&b);

	/* Graceful leave (gossip's leave event): out of the configuration. */
	struct node *gone = &N[3] == leader() ? &N[2] : &N[3];
	gossip(gone, 3);
	r.voters = 3;
	ck_assert_msg(run_until(leader_conf_is, &r, 10), "left not removed");
	node_kill(gone);

	/* A failed voter is removed while (voters-1)/2 >= 1. */
	struct node *dead = follower();
	gossip(dead, 4);
	r.voters = 2;
	ck_assert_msg(run_until(leader_conf_is, &r, 10), "dead not removed");
	node_kill(dead);
	gossip(follower(), 4);
	run_for(2);
	r.voters = 2;
	ck_assert(leader_conf_is(&r));

	/* remove-peer of an unknown server says so. */
	struct proto_op_raft_remove_req rq = { .addr = PROTO_STR("1.2.3.4:5") };
	buf_init(&b);
	proto_enc_op_raft_remove_req(&b, &rq);
	ask(leader(), PROTO_OP_RAFT_REMOVE_REQ, &b, &a);
	ck_assert_int_lt(result_of(&a, msg, sizeof(msg)), 0);
	ck_assert_str_eq(msg, "address \"1.2.3.4:5\" was not found in the "
	    "Raft configuration");
	buf_free(&a.data);
	buf_free(&b);
}
END_TEST

static bool
alone_and_leading(void *arg)
{
	struct node *n = arg;
	return store_is_leader(&n->st) && rft_conf(n->st.raft)->n == 1 &&
	    rft_commit_index(n->st.raft) >= n->st.cl->conf_index;
}

/* Gossip reports a server left (muster leave): it takes itself out of
 * Raft, leader or not, down to the last server. */
START_TEST(leaders_leave_gracefully)
{
	char msg[200];
	form_three();
	struct node *l = leader();
	gossip(l, 3);
	struct roles r = { NULL, 2, 0 };
	ck_assert_msg(run_until(leader_conf_is, &r, 10), "first leave");
	ck_assert(leader() != l);
	ck_assert_int_eq(l->st.cl->leave, CL_LEAVE_DONE);
	node_kill(l);
	/* Two voters: only the leader removing itself keeps a quorum. */
	l = leader();
	struct node *last = follower();
	gossip(l, 3);
	ck_assert_msg(run_until(alone_and_leading, last, 10), "second leave");
	node_kill(l);
	ck_assert_int_eq(t_put(last, "k", "alone", msg, sizeof(msg)), 0);
}
END_TEST

static void
ask_autopilot(struct node *n, struct proto_autopilot_conf *out,
    struct answer *a)
{
	struct proto_autopilot_conf_req q = { .stale = false };
	struct buf b;
	buf_init(&b);
	proto_enc_autopilot_conf_req(&b, &q);
	ask(n, PROTO_AUTOPILOT_CONF_REQ, &b, a);
	ck_assert_uint_eq(a->type, PROTO_AUTOPILOT_CONF);
	ck_assert_int_eq(proto_dec_autopilot_conf(a->data.data, a->data.len,
	    out), 0);
	buf_free(&b);
}

static int
set_autopilot(struct node *n, const struct proto_autopilot_conf *c,
    bool cas, uint64_t idx, char *msg)
{
	struct buf cb, b;
	struct answer a;
	buf_init(&cb);
	buf_init(&b);
	proto_enc_autopilot_conf(&cb, c);
	struct proto_autopilot_set_req q = { .conf = { (const char *)cb.data,
		(uint32_t)cb.len }, .cas = cas, .cas_index = idx };
	proto_enc_autopilot_set_req(&b, &q);
	ask(n, PROTO_AUTOPILOT_SET_REQ, &b, &a);
	int r = result_of(&a, msg, 200);
	buf_free(&a.data);
	buf_free(&b);
	buf_free(&cb);
	return r;
}

static bool
healthy(void *arg)
{
	struct answer a;
	struct proto_autopilot_health h;
	ask(arg, PROTO_AUTOPILOT_HEALTH_REQ, NULL, &a);
	bool ok = a.type == PROTO_AUTOPILOT_HEALTH &&
	    proto_dec_autopilot_health(a.data.data, a.data.len, &h) == 0 &&
	    h.healthy && h.failure_tolerance == 1 && h.servers.n == 3;
	buf_free(&a.data);
	return ok;
}

START_TEST(no_leader_is_held_then_said)
{
	char v[64];
	node_start(0, true, 3);		/* expects two more that never come */
	double t0 = ev_time();
	t_get(&N[0], "k", 0, v, sizeof(v));
	ck_assert_str_eq(v, "!No cluster leader");
	ck_assert(ev_time() - t0 > 2.5 && ev_time() - t0 < 4.5);
	t_get(&N[0], "k", 1, v, sizeof(v));	/* stale: served locally */
	ck_assert_str_eq(v, "");
}
END_TEST

START_TEST(autopilot_configuration_and_health)
{
	char msg[200];
	struct answer a, a2;
	struct proto_autopilot_conf c, c2;
	form_three();
	struct node *f = follower();
	ask_autopilot(f, &c, &a);
	ck_assert(c.cleanup_dead_servers);
	ck_assert_uint_eq(c.last_contact_threshold_ms, 200);
	ck_assert_uint_eq(c.max_trailing_logs, 250);
	ck_assert_uint_eq(c.modify_index, 0);
	c.max_trailing_logs = 99;
	c.min_quorum = 3;
	ck_assert_int_eq(set_autopilot(f, &c, true, 0, msg), 0);
	ck_assert_str_eq(msg, "true");
	ask_autopilot(&N[0], &c2, &a2);
	ck_assert_uint_eq(c2.max_trailing_logs, 99);
	ck_assert_uint_eq(c2.min_quorum, 3);
	ck_assert_uint_gt(c2.modify_index, 0);
	ck_assert_uint_eq(c2.create_index, c2.modify_index);
	c.max_trailing_logs = 7;
	ck_assert_int_eq(set_autopilot(f, &c, true, 0, msg), 0);
	ck_assert_str_eq(msg, "false");
	ck_assert_int_eq(set_autopilot(f, &c, false, 0, msg), 0);
	ck_assert_str_eq(msg, "true");
	buf_free(&a.data);
	buf_free(&a2.data);
	ck_assert_msg(run_until(healthy, f, 10), "never healthy");
}
END_TEST

/* Bytes to a server port; true once the server closed the connection. */
static bool
refused(struct node *n, const void *p, size_t len)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
		.sin_port = htons(n->port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(write(fd, p, len), (ssize_t)len);
	double end = ev_time() + 5;
	bool closed = false;
	while (!closed && ev_time() < end) {
		char c[64];
		ev_run(loop, EVRUN_ONCE);
		ssize_t r = recv(fd, c, sizeof(c), MSG_DONTWAIT);
		closed = r == 0 || (r < 0 && errno != EAGAIN);
	}
	close(fd);
	return closed;
}

/* A frame (u32 length, u16 type, body) at out; its size. */
static size_t
frame_at(uint8_t *out, uint16_t type, const struct buf *body)
{
	proto_wle32(out, (uint32_t)body->len);
	proto_wle16(out + 4, type);
	memcpy(out + 6, body->data, body->len);
	return 6 + body->len;
}

/* The protocol byte, then one frame. */
static size_t
frame(uint8_t *out, uint8_t proto, uint16_t type, const struct buf *body)
{
	out[0] = proto;
	return 1 + frame_at(out + 1, type, body);
}

START_TEST(bad_bytes_on_the_server_port)
{
	uint8_t pkt[512];
	char msg[200];
	struct buf b;
	form_three();
	struct node *n = follower();
	uint64_t bad0 = n->st.rpc->bad_input;
	ck_assert(refused(n, "\x07hello", 6));
	buf_init(&b);
	buf_addstr(&b, "garbage");
	ck_assert(refused(n, pkt, frame(pkt, RPC_PROTO_RAFT, PROTO_RPC_HELLO,
	    &b)));
	ck_assert(refused(n, pkt, frame(pkt, RPC_PROTO_MUSTER, PROTO_RPC_RESP,
	    &b)));
	/* A valid hello, then a Raft frame whose body lies. */
	struct proto_rpc_hello h = { .id = 42, .addr = PROTO_STR("127.0.0.1:1"),
		.dc = proto_str_c(n->cfg->datacenter) };
	buf_reset(&b);
	proto_enc_rpc_hello(&b, &h);
	size_t len = frame(pkt, RPC_PROTO_RAFT, PROTO_RPC_HELLO, &b);
	buf_reset(&b);
	buf_addstr(&b, "\x01\x02\x03");
	len += frame_at(pkt + len, PROTO_RAFT_APPEND, &b);
	ck_assert(refused(n, pkt, len));
	/* An absurd frame length is refused at the header. */
	memcpy(pkt, "\x02\xff\xff\xff\x7f\x1b\x01", 7);
	ck_assert(refused(n, pkt, 7));
	ck_assert_uint_ge(n->st.rpc->bad_input, bad0 + 5);
	ck_assert(one_leader(NULL));
	ck_assert_int_eq(t_put(n, "k", "still", msg, sizeof(msg)), 0);
	buf_free(&b);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("cluster");
	TCase *tc = tcase_create("cluster");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, bootstrap_waits_for_expect);
	tcase_add_test(tc, writes_and_reads_through_followers);
	tcase_add_test(tc, client_agent_forwards);
	tcase_add_test(tc, transfer_then_crash);
	tcase_add_test(tc, join_promote_leave_dead);
	tcase_add_test(tc, no_leader_is_held_then_said);
	tcase_add_test(tc, leaders_leave_gracefully);
	tcase_add_test(tc, autopilot_configuration_and_health);
	tcase_add_test(tc, bad_bytes_on_the_server_port);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
