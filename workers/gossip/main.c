/*
 * The gossip worker: the serf LAN pool (and WAN pool on servers).  This
 * file is its process shell (the message table and the worker_ops); the
 * pools' glue is in worker_*.c (worker_gossip.h), the protocol in the
 * other files of this folder.
 *
 * Graceful leave: AGENT_LEAVE from the supervisor (PUT /v1/agent/leave)
 * leaves every pool -- leave intent broadcast, memberlist dead-from-self,
 * Consul's 3 s propagation delay -- and is answered when all are done.
 * A SHUTDOWN leaves first when its reason says so (1), or, for reason 0,
 * when leave_on_terminate is set (Consul's SIGTERM rule: clients leave by
 * default, servers do not); the supervisor does not tell SIGTERM from
 * SIGINT, so skip_leave_on_interrupt is not applied separately.
 */
#include "workers/gossip/worker_gossip.h"
#include "supervisor/config.h"
#include "lib/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct gw gw;

void
gw_pending_init(struct gw_pending *p, struct worker *w, unsigned from,
    const struct ipc_msg *m)
{
	p->proc = from;
	p->epoch = from < PROC_MAX ? w->peer_epoch[from] : 0;
	p->req = *m;
	p->req.data = NULL;
	p->req.len = 0;
	p->req.fd = -1;
}

static struct ipc_chan *
pending_chan(struct worker *w, const struct gw_pending *p)
{
	if (p->proc == PROC_SUPERVISOR)
		return w->sup;
	if (p->proc >= PROC_MAX || w->peer_epoch[p->proc] != p->epoch)
		return NULL;
	return w->peer[p->proc];
}

bool
gw_pending_reply(struct worker *w, const struct gw_pending *p, uint16_t type,
    const struct buf *payload)
{
	struct ipc_chan *ch = pending_chan(w, p);
	if (ch == NULL)
		return false;
	return worker_reply(ch, &p->req, type, payload) == 0;
}

bool
gw_pending_result(struct worker *w, const struct gw_pending *p, int code,
    const char *msg)
{
	struct ipc_chan *ch = pending_chan(w, p);
	if (ch == NULL)
		return false;
	return worker_reply_result(ch, &p->req, code, msg) == 0;
}

/* ---- worker_ops ---- */

static int
gossip_init(struct worker *w)
{
	w->app = &gw;
	gw.w = w;
	gossip_self_build(&gw.self, w->cfg);
	gw_events_init(&gw);
	/* Keyring files, snapshots and host names are read here, while the
	 * file system and the resolver are still reachable. */
	return gw_pools_init(&gw, w->cfg);
}

static void
gossip_listen(struct worker *w, unsigned kind, const char *addr, int fd)
{
	int *slot = NULL;
	switch (kind) {
	case LISTEN_SERF_LAN_UDP:
		slot = &gw.pools[GW_LAN].udp;
		break;
	case LISTEN_SERF_LAN_TCP:
		slot = &gw.pools[GW_LAN].tcp;
		break;
	case LISTEN_SERF_WAN_UDP:
		slot = &gw.pools[GW_WAN].udp;
		break;
	case LISTEN_SERF_WAN_TCP:
		slot = &gw.pools[GW_WAN].tcp;
		break;
	}
	if (slot == NULL || *slot >= 0) {
		close(fd);
		return;
	}
	*slot = fd;
}

static int
gossip_start(struct worker *w)
{
	return gw_pools_start(&gw);
}

static int
gossip_reconfig(struct worker *w, struct agent_config *nc, struct buf *err)
{
	/* Tags may change on reload (bootstrap_expect ...); identity,
	 * addresses and ports may not (they need a restart in Consul too). */
	gossip_self_build(&gw.self, nc);
	gw_set_tags(&gw);
	return 0;
}

static void
gossip_peer_up(struct worker *w, unsigned peer)
{
	/* A (re)started store or checks worker learns every member again. */
	if (peer == PROC_STORE || peer == PROC_CHECKS)
		gw_replay_members(&gw, peer);
}

static bool
gossip_stop(struct worker *w, unsigned reason)
{
	bool leave = reason == 1 || (reason == 0 && w->cfg->leave_on_terminate);
	if (leave && !gw.leave_asked && gw.pools[GW_LAN].pool != NULL) {
		log_info("leaving the gossip pools before stopping");
		gw.stop_after_leave = true;
		gw_leave(&gw);
		return true;
	}
	if (gw.leave_asked && gw.leaves_pending > 0) {
		gw.stop_after_leave = true;
		return true;
	}
	gw_pools_free(&gw);
	return false;
}

static void
gossip_stats(struct worker *w, const char *section, struct buf *out)
{
	bool wan = strcmp(section, "serf_wan") == 0;
	if (!wan && strcmp(section, "serf_lan") != 0)
		return;
	gw_pool_stats(&gw, wan, out);
}

/* ---- messages ---- */

static void
on_members(struct worker *w, unsigned from, struct ipc_chan *ch,
    struct ipc_msg *m)
{
	struct proto_members_req q;
	if (proto_dec_members_req(m->data, m->len, &q) < 0)
		return;
	gw_members_reply(&gw, q.wan, ch, m);
}

static void
on_leave(struct worker *w, unsigned from, struct ipc_chan *ch,
    struct ipc_msg *m)
{
	if (gw.leave_asked && gw.leaves_pending == 0) {
		worker_reply_result(ch, m, 0, "");
		return;
	}
	gw_pending_init(&gw.leave_req, w, from, m);
	gw.leave_reply = true;
	if (!gw.leave_asked)
		gw_leave(&gw);
}

static const struct worker_handler gossip_handlers[] = {
	{ PROTO_MEMBERS_REQ, FROM(PROC_HTTP) | FROM(PROC_STORE) |
	    FROM(PROC_CHECKS), on_members },
	{ PROTO_AGENT_LEAVE, FROM(PROC_SUPERVISOR), on_leave },
	{ PROTO_JOIN_REQ, FROM(PROC_HTTP), gw_on_join },
	{ PROTO_FORCE_LEAVE_REQ, FROM(PROC_HTTP), gw_on_force_leave },
	{ PROTO_EVENT_FIRE_REQ, FROM(PROC_HTTP), gw_on_event_fire },
	{ PROTO_EVENT_LIST_REQ, FROM(PROC_HTTP), gw_on_event_list },
	{ PROTO_KEYRING_REQ, FROM(PROC_HTTP), gw_on_keyring },
};

const struct worker_ops gossip_ops = {
	.proc = PROC_GOSSIP,
	.handlers = gossip_handlers,
	.nhandlers = nitems(gossip_handlers),
	.init = gossip_init,
	.listen = gossip_listen,
	.start = gossip_start,
	.reconfig = gossip_reconfig,
	.peer_up = gossip_peer_up,
	.stop = gossip_stop,
	.stats = gossip_stats,
};
