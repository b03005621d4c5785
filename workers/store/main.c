/*
 * The store worker: Raft and the replicated state.  This file is its
 * process shell (privileges, channels, dispatch); the consensus core lives
 * in raft*.c and the state machine in state*.c.
 *
 * Until the Raft core is wired in, the store knows the one fact the
 * foundation needs: a `-dev` or `-bootstrap` server leads a cluster of
 * itself (Consul's single-server bootstrap); any other agent has no
 * leader yet, and says so (`""`, X-Consul-KnownLeader: false).
 */
#include "workers/common/worker.h"
#include "workers/common/stats.h"
#include "workers/store/store.h"
#include "supervisor/config.h"
#include "lib/log.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static struct store st;

static int
store_init(struct worker *w)
{
	const struct agent_config *c = w->cfg;
	w->app = &st;
	st.rpc_fd = -1;
	snprintf(st.self_addr, sizeof(st.self_addr), "%s:%d",
	    c->advertise_addr, c->ports.server);
	st.index = 1;
	if (c->server && (c->dev || c->bootstrap || c->bootstrap_expect == 1)) {
		strlcpy_m(st.leader, st.self_addr, sizeof(st.leader));
		st.known_leader = true;
		st.is_leader = true;
	}
	return 0;
}

static void
store_listen(struct worker *w, unsigned kind, const char *addr, int fd)
{
	if (kind != LISTEN_SERVER_RPC) {
		close(fd);
		return;
	}
	/* The Raft transport accepts here once it is wired in. */
	st.rpc_fd = fd;
}

static void
on_status_leader(struct worker *w, unsigned from, struct ipc_chan *ch,
    struct ipc_msg *m)
{
	struct proto_status_leader r = {
		.leader = proto_str_c(st.leader),
		.known_leader = st.known_leader,
		.last_contact_ms = 0,
		.index = st.index,
	};
	struct buf b;
	buf_init(&b);
	proto_enc_status_leader(&b, &r);
	worker_reply(ch, m, PROTO_STATUS_LEADER, &b);
	buf_free(&b);
}

static void
on_status_peers(struct worker *w, unsigned from, struct ipc_chan *ch,
    struct ipc_msg *m)
{
	const char *peers[1] = { st.self_addr };
	struct proto_status_peers r = {
		.peers = { .n = st.is_leader ? 1 : 0, .items = peers },
		.index = st.index,
	};
	struct buf b;
	buf_init(&b);
	proto_enc_status_peers(&b, &r);
	worker_reply(ch, m, PROTO_STATUS_PEERS, &b);
	buf_free(&b);
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
		stats_add(out, "leader", st.is_leader ? "true" : "false");
		stats_add(out, "leader_addr", st.leader);
	} else if (strcmp(section, "raft") == 0 && c->server) {
		char conf[512];
		stats_add(out, "state", st.is_leader ? "Leader" : "Follower");
		stats_add(out, "num_peers", "0");
		if (st.is_leader)
			snprintf(conf, sizeof(conf),
			    "[{Suffrage:Voter ID:%s Address:%s}]", c->node_id,
			    st.self_addr);
		else
			snprintf(conf, sizeof(conf), "[]");
		stats_add(out, "latest_configuration", conf);
		stats_addu(out, "commit_index", st.index);
		stats_addu(out, "applied_index", st.index);
		stats_addu(out, "last_log_index", st.index);
		stats_add(out, "protocol_version", "3");
	}
}

static const struct worker_handler store_handlers[] = {
	{ PROTO_STATUS_LEADER_REQ, FROM(PROC_HTTP), on_status_leader },
	{ PROTO_STATUS_PEERS_REQ, FROM(PROC_HTTP), on_status_peers },
};

const struct worker_ops store_ops = {
	.proc = PROC_STORE,
	.handlers = store_handlers,
	.nhandlers = nitems(store_handlers),
	.init = store_init,
	.listen = store_listen,
	.stats = store_stats,
};
