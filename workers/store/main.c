/*
 * The store worker: Raft and the replicated state.  This file is its
 * process shell (privileges, channels, dispatch); the Raft host is
 * store_raft.c, the consensus core raft*.c, the state machine
 * store_fsm.c and kv.c, the KV requests store_kv.c.
 */
#include "workers/common/stats.h"
#include "workers/common/worker.h"
#include "workers/store/store.h"
#include "workers/store/catalog_store.h"
#include "supervisor/config.h"
#include "lib/log.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define STORE_MAX_PARKED 20000

static struct store st;

static int
store_init(struct worker *w)
{
	const struct agent_config *c = w->cfg;
	w->app = &st;
	st.w = w;
	st.rpc_fd = -1;
	st.server = c->server;
	snprintf(st.self_addr, sizeof(st.self_addr), "%s:%d",
	    c->advertise_addr, c->ports.server);
	kv_init(&st.kv);
	watch_set_init(&st.watches, w->loop, STORE_MAX_PARKED);
	return 0;
}

static int
store_start(struct worker *w)
{
	return store_raft_init(&st);
}

static void
store_listen(struct worker *w, unsigned kind, const char *addr, int fd)
{
	if (kind != LISTEN_SERVER_RPC) {
		close(fd);
		return;
	}
	/* The Raft transport accepts here once clustering is wired in. */
	st.rpc_fd = fd;
}

static bool
store_stop(struct worker *w, unsigned reason)
{
	watch_set_free(&st.watches);
	store_raft_stop(&st);
	return false;
}

static uint64_t
status_index(void)
{
	return st.applied ? st.applied : 1;
}

static void
on_status_leader(struct worker *w, unsigned from, struct ipc_chan *ch,
    struct ipc_msg *m)
{
	struct proto_status_leader r = {
		.leader = proto_str_c(store_leader_addr(&st)),
		.known_leader = st.raft && rft_leader(st.raft) != 0,
		.last_contact_ms = store_last_contact_ms(&st),
		.index = status_index(),
	};
	struct buf b;
	buf_init(&b);
	proto_enc_status_leader(&b, &r);
	worker_reply(ch, m, PROTO_STATUS_LEADER, &b);
	buf_free(&b);
}

/* Raft voters' addresses (Consul's /v1/status/peers). */
static void
on_status_peers(struct worker *w, unsigned from, struct ipc_chan *ch,
    struct ipc_msg *m)
{
	const char *peers[RFT_SERVERS_MAX];
	uint32_t n = 0;
	const struct rft_conf *conf = st.raft ? rft_conf(st.raft) : NULL;
	for (unsigned i = 0; conf && i < conf->n; i++)
		if (conf->s[i].role == RFT_VOTER)
			peers[n++] = conf->s[i].addr;
	struct proto_status_peers r = { .peers = { .n = n, .items = peers },
		.index = status_index() };
	struct buf b;
	buf_init(&b);
	proto_enc_status_peers(&b, &r);
	worker_reply(ch, m, PROTO_STATUS_PEERS, &b);
	buf_free(&b);
}

static void
raft_stats(const struct agent_config *c, struct buf *out)
{
	static const char *const roles[] = { "Follower", "Candidate", "Leader" };
	char conf[2048];
	size_t o = 0;
	const struct rft_conf *rc = st.raft ? rft_conf(st.raft) : NULL;
	stats_add(out, "state", st.raft ? roles[rft_role(st.raft)] : "Follower");
	stats_addu(out, "term", st.raft ? rft_term(st.raft) : 0);
	stats_addu(out, "num_peers", rc && rc->n ? rc->n - 1 : 0);
	o += (size_t)snprintf(conf + o, sizeof(conf) - o, "[");
	for (unsigned i = 0; rc && i < rc->n && o < sizeof(conf) - 200; i++)
		o += (size_t)snprintf(conf + o, sizeof(conf) - o,
		    "%s{Suffrage:%s ID:%s Address:%s}", i ? " " : "",
		    rc->s[i].role == RFT_VOTER ? "Voter" : "Nonvoter",
		    rc->s[i].name, rc->s[i].addr);
	snprintf(conf + o, sizeof(conf) - o, "]");
	stats_add(out, "latest_configuration", conf);
	stats_addu(out, "commit_index", st.raft ? rft_commit_index(st.raft) : 0);
	stats_addu(out, "applied_index", st.applied);
	stats_addu(out, "last_log_index", st.raft ? rft_last_index(st.raft) : 0);
	stats_addu(out, "last_log_term", st.raft ? rft_last_term(st.raft) : 0);
	stats_addu(out, "last_snapshot_index",
	    st.raft ? rft_snapshot_index(st.raft) : 0);
	stats_addu(out, "last_contact", store_last_contact_ms(&st));
	stats_add(out, "protocol_version", "3");
}

static void
store_stats(struct worker *w, const char *section, struct buf *out)
{
	const struct agent_config *c = w->cfg;
	if (strcmp(section, "consul") == 0) {
		stats_add(out, "server", c->server ? "true" : "false");
		if (!c->server) {
			stats_add(out, "known_servers", "0");
			return;
		}
		stats_add(out, "bootstrap", c->bootstrap || c->dev ? "true" : "false");
		stats_add(out, "known_datacenters", "1");
		stats_add(out, "leader", store_is_leader(&st) ? "true" : "false");
		stats_add(out, "leader_addr", store_leader_addr(&st));
	} else if (strcmp(section, "raft") == 0 && c->server)
		raft_stats(c, out);
}

static const struct worker_handler store_handlers[] = {
	{ PROTO_STATUS_LEADER_REQ, FROM(PROC_HTTP), on_status_leader },
	{ PROTO_STATUS_PEERS_REQ, FROM(PROC_HTTP), on_status_peers },
	{ PROTO_KV_READ_REQ, FROM(PROC_HTTP), store_on_kv_read },
	{ PROTO_KV_TXN_REQ, FROM(PROC_HTTP), store_on_kv_txn },
	{ PROTO_SNAPSHOT_SAVE_REQ, FROM(PROC_HTTP), store_on_snapshot_save },
	{ PROTO_STATE_RESTORE, FROM(PROC_HTTP), store_on_state_restore },
	{ PROTO_CAT_REGISTER, FROM(PROC_HTTP) | FROM(PROC_CHECKS),
	    store_on_cat_register },
	{ PROTO_CAT_DEREGISTER, FROM(PROC_HTTP) | FROM(PROC_CHECKS),
	    store_on_cat_deregister },
	{ PROTO_CAT_READ_REQ, FROM(PROC_HTTP) | FROM(PROC_CHECKS) |
	    FROM(PROC_DNS), store_on_cat_read },
};

const struct worker_ops store_ops = {
	.proc = PROC_STORE,
	.handlers = store_handlers,
	.nhandlers = nitems(store_handlers),
	.init = store_init,
	.start = store_start,
	.listen = store_listen,
	.stop = store_stop,
	.stats = store_stats,
};
