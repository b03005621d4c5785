/*
 * The store worker: Raft and the replicated state.  This file is its
 * process shell (privileges, channels, dispatch); the Raft host is
 * store_raft.c, the consensus core raft*.c, the state machine
 * store_fsm.c and kv.c, the KV requests store_kv.c.
 */
#include "workers/common/stats.h"
#include "workers/common/worker.h"
#include "workers/store/store.h"
#include "workers/store/cluster.h"
#include "workers/store/rpc.h"
#include "workers/store/catalog_store.h"
#include "workers/store/store_dnsfeed.h"
#include "supervisor/config.h"
#include "lib/duration.h"
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
	return store_dnsfeed_init(&st);
}

/* The cluster first, to hear of the configuration Raft starts with;
 * then Raft; then the server port, which steps messages into it. */
static int
store_start(struct worker *w)
{
	if (cluster_init(&st) < 0 || store_raft_init(&st) < 0 ||
	    rpc_init(&st) < 0)
		return -1;
	return 0;
}

static void
store_listen(struct worker *w, unsigned kind, const char *addr, int fd)
{
	if (kind != LISTEN_SERVER_RPC) {
		close(fd);
		return;
	}
	/* rpc.c accepts here from store_start on. */
	st.rpc_fd = fd;
}

static bool
store_stop(struct worker *w, unsigned reason)
{
	/* A graceful leave takes this server out of Raft first (cluster.h;
	 * begun when gossip reported the leave, or now for reason 1); the
	 * process exits when that is done or timed out. */
	if ((reason == 1 || (st.cl && st.cl->leave == CL_LEAVE_RUNNING)) &&
	    cluster_leave(&st))
		return true;
	cluster_stop(&st);
	rpc_stop(&st);
	watch_set_free(&st.watches);
	store_raft_stop(&st);
	return false;
}

static uint64_t
status_index(const struct store *s)
{
	return s->applied ? s->applied : 1;
}

static void
status_leader(const struct store *s, struct buf *b)
{
	struct proto_status_leader r = {
		.leader = proto_str_c(store_leader_addr(s)),
		.known_leader = s->raft && rft_leader(s->raft) != 0,
		.last_contact_ms = store_last_contact_ms(s),
		.index = status_index(s),
	};
	proto_enc_status_leader(b, &r);
}

/* Raft voters' addresses (Consul's /v1/status/peers). */
static void
status_peers(const struct store *s, struct buf *b)
{
	const char *peers[RFT_SERVERS_MAX];
	uint32_t n = 0;
	const struct rft_conf *conf = s->raft ? rft_conf(s->raft) : NULL;
	for (unsigned i = 0; conf && i < conf->n; i++)
		if (conf->s[i].role == RFT_VOTER)
			peers[n++] = conf->s[i].addr;
	struct proto_status_peers r = { .peers = { .n = n, .items = peers },
		.index = status_index(s) };
	proto_enc_status_peers(b, &r);
}

/* Answered by this server; a client agent asks one (rpc_forward). */
void
store_status_req(struct store *s, struct store_waiter *w)
{
	struct buf b;
	if (!s->server) {
		rpc_forward(s, w, NULL);
		return;
	}
	buf_init(&b);
	if (w->type == PROTO_STATUS_LEADER_REQ) {
		status_leader(s, &b);
		store_reply(s, w, PROTO_STATUS_LEADER, &b);
	} else {
		status_peers(s, &b);
		store_reply(s, w, PROTO_STATUS_PEERS, &b);
	}
	buf_free(&b);
	store_waiter_free(w);
}

static void
on_status(struct worker *w, unsigned from, struct ipc_chan *ch,
    struct ipc_msg *m)
{
	struct store_waiter sw;
	store_waiter_from(w, from, m, &sw);
	store_status_req(w->app, &sw);
}

/* hashicorp/raft Stats(): "0" on the leader, "never" before any
 * contact, else the age as a Go duration ("12.5ms"). */
static void
last_contact_stat(struct buf *out)
{
	char d[32];
	if (st.raft != NULL && store_is_leader(&st)) {
		stats_add(out, "last_contact", "0");
		return;
	}
	if (st.raft == NULL || rft_last_contact(st.raft) == 0) {
		stats_add(out, "last_contact", "never");
		return;
	}
	duration_format((int64_t)store_last_contact_ms(&st) * 1000000, d,
	    sizeof(d));
	stats_add(out, "last_contact", d);
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
	stats_addu(out, "latest_configuration_index",
	    st.raft ? rft_conf_index(st.raft) : 0);
	stats_addu(out, "commit_index", st.raft ? rft_commit_index(st.raft) : 0);
	stats_addu(out, "applied_index", st.applied);
	/* Committed but not yet applied (hashicorp/raft's FSM queue). */
	uint64_t commit = st.raft ? rft_commit_index(st.raft) : 0;
	stats_addu(out, "fsm_pending", commit > st.applied ?
	    commit - st.applied : 0);
	stats_addu(out, "last_log_index", st.raft ? rft_last_index(st.raft) : 0);
	stats_addu(out, "last_log_term", st.raft ? rft_last_term(st.raft) : 0);
	stats_addu(out, "last_snapshot_index",
	    st.raft ? rft_snapshot_index(st.raft) : 0);
	stats_addu(out, "last_snapshot_term",
	    st.raft ? rft_snapshot_term(st.raft) : 0);
	last_contact_stat(out);
	stats_add(out, "protocol_version", "3");
	stats_add(out, "protocol_version_min", "0");
	stats_add(out, "protocol_version_max", "3");
	stats_add(out, "snapshot_version_min", "0");
	stats_add(out, "snapshot_version_max", "1");
}

static void
store_stats(struct worker *w, const char *section, struct buf *out)
{
	const struct agent_config *c = w->cfg;
	if (strcmp(section, "consul") == 0) {
		stats_add(out, "server", c->server ? "true" : "false");
		if (!c->server) {
			unsigned n = 0;
			for (size_t i = 0; st.cl && i < st.cl->n; i++)
				n += st.cl->m[i].server &&
				    st.cl->m[i].status == CL_ALIVE;
			stats_addu(out, "known_servers", n);
			return;
		}
		stats_add(out, "bootstrap", c->bootstrap || c->dev ? "true" : "false");
		stats_addu(out, "known_datacenters",
		    cluster_known_datacenters(&st));
		stats_add(out, "leader", store_is_leader(&st) ? "true" : "false");
		stats_add(out, "leader_addr", store_leader_addr(&st));
	} else if (strcmp(section, "raft") == 0 && c->server)
		raft_stats(c, out);
}

static const struct worker_handler store_handlers[] = {
	{ PROTO_STATUS_LEADER_REQ, FROM(PROC_HTTP), on_status },
	{ PROTO_STATUS_PEERS_REQ, FROM(PROC_HTTP), on_status },
	{ PROTO_KV_READ_REQ, FROM(PROC_HTTP), store_on_kv_read },
	{ PROTO_KV_TXN_REQ, FROM(PROC_HTTP), store_on_kv_txn },
	{ PROTO_KV_TXN_READ_REQ, FROM(PROC_HTTP), store_on_kv_txn_read },
	{ PROTO_SNAPSHOT_SAVE_REQ, FROM(PROC_HTTP), store_on_snapshot_save },
	{ PROTO_STATE_RESTORE, FROM(PROC_HTTP), store_on_state_restore },
	{ PROTO_CAT_REGISTER, FROM(PROC_HTTP) | FROM(PROC_CHECKS),
	    store_on_cat_register },
	{ PROTO_CAT_DEREGISTER, FROM(PROC_HTTP) | FROM(PROC_CHECKS),
	    store_on_cat_deregister },
	{ PROTO_CAT_READ_REQ, FROM(PROC_HTTP) | FROM(PROC_CHECKS) |
	    FROM(PROC_DNS), store_on_cat_read },
	{ PROTO_DNS_SYNC_REQ, FROM(PROC_DNS), store_on_dns_sync },
	/* Clustering (cluster.h). */
	{ PROTO_MEMBER_EVENT, FROM(PROC_GOSSIP), cluster_on_member_event },
	{ PROTO_OP_RAFT_CONF_REQ, FROM(PROC_HTTP), cluster_on_op },
	{ PROTO_OP_RAFT_REMOVE_REQ, FROM(PROC_HTTP), cluster_on_op },
	{ PROTO_OP_RAFT_TRANSFER_REQ, FROM(PROC_HTTP), cluster_on_op },
	{ PROTO_AUTOPILOT_CONF_REQ, FROM(PROC_HTTP), cluster_on_op },
	{ PROTO_AUTOPILOT_SET_REQ, FROM(PROC_HTTP), cluster_on_op },
	{ PROTO_AUTOPILOT_HEALTH_REQ, FROM(PROC_HTTP), cluster_on_op },
	{ PROTO_DATACENTERS_REQ, FROM(PROC_HTTP), cluster_on_datacenters },
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
