/*
 * The gossip worker: the serf LAN pool (and WAN pool on servers).  This
 * file is its process shell; the memberlist/serf protocol lives in the
 * other gossip_*.c files.
 *
 * The agent's own member record is built here from the configuration with
 * Consul's tag set, because every other process learns who this agent is
 * (name, address, role, datacenter) from gossip.
 */
#include "workers/common/stats.h"
#include "workers/common/worker.h"
#include "workers/gossip/gossip_self.h"
#include "supervisor/config.h"
#include "lib/log.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static struct gossip_self self;

static int
gossip_init(struct worker *w)
{
	w->app = &self;
	gossip_self_build(&self, w->cfg);
	return 0;
}

static void
gossip_listen(struct worker *w, unsigned kind, const char *addr, int fd)
{
	switch (kind) {
	case LISTEN_SERF_LAN_UDP:
		self.lan_udp = fd;
		return;
	case LISTEN_SERF_LAN_TCP:
		self.lan_tcp = fd;
		return;
	case LISTEN_SERF_WAN_UDP:
		self.wan_udp = fd;
		return;
	case LISTEN_SERF_WAN_TCP:
		self.wan_tcp = fd;
		return;
	}
	close(fd);
}

static int
gossip_reconfig(struct worker *w, struct agent_config *nc, struct buf *err)
{
	/* Node meta and tags may change on reload; identity may not. */
	gossip_self_build(&self, nc);
	return 0;
}

static void
on_members(struct worker *w, unsigned from, struct ipc_chan *ch,
    struct ipc_msg *m)
{
	struct proto_members_req q;
	struct buf item, out;
	proto_dec_members_req(m->data, m->len, &q);
	buf_init(&item);
	buf_init(&out);
	struct proto_str one;
	struct proto_members r = { .members = { .n = 0, .strs = &one } };
	if (!q.wan || w->cfg->server) {
		gossip_self_member(&self, q.wan, &item);
		one.p = (const char *)item.data;
		one.len = (uint32_t)item.len;
		r.members.n = 1;
	}
	proto_enc_members(&out, &r);
	worker_reply(ch, m, PROTO_MEMBERS, &out);
	buf_free(&item);
	buf_free(&out);
}

static void
on_leave(struct worker *w, unsigned from, struct ipc_chan *ch,
    struct ipc_msg *m)
{
	log_info("leaving the gossip pools");
	self.left = true;
	worker_reply_result(ch, m, 0, "");
}

static void
gossip_stats(struct worker *w, const char *section, struct buf *out)
{
	bool wan = strcmp(section, "serf_wan") == 0;
	if (!wan && strcmp(section, "serf_lan") != 0)
		return;
	if (wan && !w->cfg->server)
		return;
	stats_add(out, "members", "1");
	stats_add(out, "failed", "0");
	stats_add(out, "left", "0");
	stats_add(out, "health_score", "0");
	stats_add(out, "member_time", "1");
	stats_add(out, "event_time", "1");
	stats_add(out, "query_time", "1");
	stats_add(out, "intent_queue", "0");
	stats_add(out, "event_queue", "0");
	stats_add(out, "query_queue", "0");
	stats_add(out, "encrypted", w->cfg->encrypt && w->cfg->encrypt[0] ?
	    "true" : "false");
	stats_add(out, "coordinate_resets", "0");
}

static const struct worker_handler gossip_handlers[] = {
	{ PROTO_MEMBERS_REQ, FROM(PROC_HTTP) | FROM(PROC_STORE) |
	    FROM(PROC_CHECKS), on_members },
	{ PROTO_AGENT_LEAVE, FROM(PROC_SUPERVISOR), on_leave },
};

const struct worker_ops gossip_ops = {
	.proc = PROC_GOSSIP,
	.handlers = gossip_handlers,
	.nhandlers = nitems(gossip_handlers),
	.init = gossip_init,
	.listen = gossip_listen,
	.reconfig = gossip_reconfig,
	.stats = gossip_stats,
};
