/*
 * The gossip worker's pools: the LAN pool on every agent, the WAN pool on
 * servers (members named node.dc), configured as Consul configures serf
 * (agent/consul/config.go, server_serf.go, client_serf.go): serf's
 * defaults plus SerfDefaultConfig, gossip_lan / gossip_wan timing
 * (reference/consul.md 9.4; -dev's faster timing comes with the config),
 * reconnect_timeout, encrypt_verify_*, Consul's merge checks and tags.
 *
 * Every member event of either pool goes to the store and checks workers
 * as MEMBER_EVENT (schema_gossip.h); a (re)connected store or checks
 * channel first gets a join for every current member.
 */
#include "workers/gossip/worker_gossip.h"
#include "workers/common/stats.h"
#include "supervisor/config.h"
#include "lib/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint32_t
ns_to_ms(int64_t ns)
{
	return ns > 0 ? (uint32_t)(ns / 1000000) : 0;
}

/* MEMBER_EVENT kinds (schema_gossip.h). */
static int
event_kind(enum gossip_event_type t)
{
	switch (t) {
	case GOSSIP_EV_MEMBER_JOIN:
		return 1;
	case GOSSIP_EV_MEMBER_UPDATE:
		return 2;
	case GOSSIP_EV_MEMBER_LEAVE:
		return 3;
	case GOSSIP_EV_MEMBER_FAILED:
		return 4;
	case GOSSIP_EV_MEMBER_REAP:
		return 5;
	default:
		return 0;
	}
}

/* A serf member as a MEMBER message: what /v1/agent/members shows. */
static void
member_enc(const struct gossip_member *m, struct buf *out)
{
	char ip[INET6_ADDRSTRLEN] = "";
	inet_ntop(m->addr.len == 16 ? AF_INET6 : AF_INET, m->addr.ip, ip,
	    sizeof(ip));
	struct proto_member pm = {
		.name = proto_str_c(m->name),
		.addr = proto_str_c(ip),
		.port = m->addr.port,
		.tags = { .n = (uint32_t)m->ntags,
			.items = (const char *const *)m->tags },
		.status = (uint8_t)m->status,
		.protocol_min = m->pmin, .protocol_max = m->pmax,
		.protocol_cur = m->pcur, .delegate_min = m->dmin,
		.delegate_max = m->dmax, .delegate_cur = m->dcur,
	};
	proto_enc_member(out, &pm);
}

static void
notify_member(struct gw *g, unsigned pool, int kind,
    const struct gossip_member *m, unsigned only_peer)
{
	static const unsigned peers[] = { PROC_STORE, PROC_CHECKS };
	struct buf item, b;
	buf_init(&item);
	buf_init(&b);
	member_enc(m, &item);
	struct proto_member_event me = { .pool = (uint8_t)pool,
		.kind = (uint8_t)kind,
		.member = { (const char *)item.data, (uint32_t)item.len } };
	proto_enc_member_event(&b, &me);
	for (size_t i = 0; i < nitems(peers); i++)
		if (only_peer == PROC_MAX || only_peer == peers[i])
			worker_send(g->w, peers[i], PROTO_MEMBER_EVENT, &b);
	buf_free(&item);
	buf_free(&b);
}

void
gw_replay_members(struct gw *g, unsigned peer)
{
	for (unsigned i = 0; i < g->npools; i++) {
		struct gw_pool *p = &g->pools[i];
		struct gossip_member *ms;
		if (p->pool == NULL)
			continue;
		size_t n = gossip_serf_members(gossip_pool_serf(p->pool), &ms);
		for (size_t k = 0; k < n; k++) {
			notify_member(g, p->idx, 1, &ms[k], peer);
			gossip_member_free(&ms[k]);
		}
		free(ms);
	}
}

/* ---- leave ---- */

static void
stop_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct gw *g = t->data;
	gw_pools_free(g);
	worker_stopped(g->w);
}

static void
leave_finished(struct gw *g)
{
	log_info("graceful leave complete");
	if (g->leave_reply) {
		g->leave_reply = false;
		gw_pending_result(g->w, &g->leave_req, 0, "");
	}
	if (g->stop_after_leave) {
		/* Not from inside the pool's event callback: the pool is
		 * freed on the next loop iteration. */
		static ev_timer t;
		ev_timer_init(&t, stop_cb, 0.0, 0.0);
		t.data = g;
		ev_timer_start(g->w->loop, &t);
	}
}

void
gw_leave(struct gw *g)
{
	g->leave_asked = true;
	g->self.left = true;
	for (unsigned i = 0; i < g->npools; i++) {
		struct gw_pool *p = &g->pools[i];
		if (p->pool == NULL || p->leaving || p->left)
			continue;
		log_info("leaving the %s pool", p->label);
		gw_snapshot_leave(p);
		if (gossip_pool_leave(p->pool) == 0) {
			p->leaving = true;
			g->leaves_pending++;
		}
	}
	if (g->leaves_pending == 0)
		leave_finished(g);
}

static void
leave_done(struct gw_pool *p, const struct gossip_event *e)
{
	struct gw *g = p->g;
	if (!p->leaving)
		return;
	p->leaving = false;
	p->left = true;
	if (e->error)
		log_warnx("%s pool: graceful leave: %s", p->label, e->error);
	else
		log_info("left the %s pool", p->label);
	if (--g->leaves_pending == 0)
		leave_finished(g);
}

/* ---- events ---- */

static void
pool_event(void *arg, struct gossip_pool *gp, const struct gossip_event *e)
{
	struct gw_pool *p = arg;
	int kind = event_kind(e->type);

	if (kind > 0) {
		notify_member(p->g, p->idx, kind, &e->member, PROC_MAX);
		gw_snapshot_touch(p);
		return;
	}
	switch (e->type) {
	case GOSSIP_EV_USER:
		/* Consul handles user events of the LAN pool only. */
		if (p->idx == GW_LAN)
			gw_events_on_user(p->g, e);
		break;
	case GOSSIP_EV_QUERY:
		/* Consul registers no queries of its own; serf's internal
		 * ones never get here. */
		log_debug("%s pool: ignoring query %s from %s", p->label,
		    e->name, e->from ? e->from : "?");
		break;
	case GOSSIP_EV_QUERY_ACK:
	case GOSSIP_EV_QUERY_RESPONSE:
	case GOSSIP_EV_QUERY_DONE:
		gw_keyring_on_event(p, e);
		break;
	case GOSSIP_EV_JOIN_DONE:
		gw_join_on_done(p, e);
		break;
	case GOSSIP_EV_LEAVE_DONE:
		leave_done(p, e);
		break;
	case GOSSIP_EV_KEYRING:
		gw_keyring_save(p);
		break;
	default:
		break;
	}
}

/* ---- configuration ---- */

static void
pool_config(struct gw_pool *p, const struct agent_config *c,
    struct gossip_pool_config *pc, const char **kv)
{
	bool wan = p->idx == GW_WAN;
	const struct cfg_gossip *t = wan ? &c->gossip_wan : &c->gossip_lan;
	struct gw *g = p->g;

	memset(pc, 0, sizeof(*pc));
	if (wan)
		gossip_serf_config_consul_wan(&pc->serf);
	else
		gossip_serf_config_consul_lan(&pc->serf);
	struct gossip_ml_config *ml = &pc->serf.ml;
	strlcpy_m(ml->name, wan ? g->self.wan_name : g->self.name,
	    sizeof(ml->name));
	if (gossip_addr_parse(wan ? g->self.wan_addr : g->self.addr, p->port,
	    &ml->addr) < 0)
		fatalx("advertise address %s is not an IP address",
		    wan ? g->self.wan_addr : g->self.addr);
	ml->gossip_nodes = (unsigned)t->gossip_nodes;
	ml->gossip_interval = ns_to_ms(t->gossip_interval);
	ml->probe_interval = ns_to_ms(t->probe_interval);
	ml->probe_timeout = ns_to_ms(t->probe_timeout);
	ml->retransmit_mult = (unsigned)t->retransmit_mult;
	ml->suspicion_mult = (unsigned)t->suspicion_mult;
	ml->wire.verify_incoming = c->encrypt_verify_incoming;
	ml->wire.verify_outgoing = c->encrypt_verify_outgoing;
	random_bytes(&ml->seed, sizeof(ml->seed));
	pc->serf.reconnect_timeout = (uint64_t)((wan ? c->reconnect_timeout_wan :
	    c->reconnect_timeout) / 1000000);
	pc->serf.ntags = gossip_self_tags(&g->self, wan, kv);
	pc->serf.tags = kv;
	pc->serf.keyring = &p->ring;
	pc->serf.merge = gossip_consul_merge;
	pc->serf.merge_arg = &p->merge;
	/* Outgoing streams from the bind address, so peers see us as our
	 * advertised self on a multi-homed host (unless bound to any). */
	if (gossip_addr_parse(c->bind_addr, 0, &pc->source) < 0 ||
	    strcmp(c->bind_addr, "0.0.0.0") == 0 || strcmp(c->bind_addr, "::") == 0)
		memset(&pc->source, 0, sizeof(pc->source));
	pc->on_event = pool_event;
	pc->arg = p;
}

int
gw_pools_init(struct gw *g, const struct agent_config *c)
{
	struct buf err;
	buf_init(&err);
	g->npools = c->server && c->ports.serf_wan > 0 ? 2 : 1;
	for (unsigned i = 0; i < GW_NPOOLS; i++) {
		struct gw_pool *p = &g->pools[i];
		p->g = g;
		p->idx = i;
		p->label = i == GW_LAN ? "LAN" : "WAN";
		p->udp = p->tcp = -1;
		p->jtail = &p->jq;
		gossip_keyring_init(&p->ring);
	}
	for (unsigned i = 0; i < g->npools; i++) {
		struct gw_pool *p = &g->pools[i];
		bool wan = i == GW_WAN;
		p->port = (uint16_t)(wan ? c->ports.serf_wan : c->ports.serf_lan);
		p->merge.wan = wan;
		snprintf(p->merge.dc, sizeof(p->merge.dc), "%s", c->datacenter);
		snprintf(p->merge.node_id, sizeof(p->merge.node_id), "%s",
		    c->node_id ? c->node_id : "");
		strlcpy_m(p->merge.node_name, wan ? g->self.wan_name :
		    g->self.name, sizeof(p->merge.node_name));
		gw_persist_init(p, c);
		if (gw_keyring_setup(p, c, &err) < 0) {
			/* Consul refuses to start: a configuration error. */
			log_warnx("%s keyring: %s", p->label, (char *)err.data);
			exit(2);
		}
		if (gw_join_init(p, c) < 0)
			return -1;
	}
	buf_free(&err);
	return 0;
}

int
gw_pools_start(struct gw *g)
{
	const char *kv[2 * GOSSIP_MAX_TAGS];
	struct gossip_pool_config pc;
	for (unsigned i = 0; i < g->npools; i++) {
		struct gw_pool *p = &g->pools[i];
		if (p->udp < 0 || p->tcp < 0) {
			log_warnx("no %s sockets from the supervisor", p->label);
			return -1;
		}
		pool_config(p, g->w->cfg, &pc, kv);
		p->pool = gossip_pool_new(g->w->loop, &pc, p->udp, p->tcp);
		if (p->pool == NULL) {
			log_warn("%s pool", p->label);
			return -1;
		}
		p->udp = p->tcp = -1;
		log_info("%s pool: %s at %s:%u, encryption %s", p->label,
		    pc.serf.ml.name, i == GW_WAN ? g->self.wan_addr :
		    g->self.addr, p->port, p->ring.n ? "on" : "off");
		if (p->ring_write)
			gw_keyring_save(p);
		gw_snapshot_start(p);
		gw_join_start(p);
	}
	return 0;
}

void
gw_pools_free(struct gw *g)
{
	for (unsigned i = 0; i < GW_NPOOLS; i++) {
		struct gw_pool *p = &g->pools[i];
		gw_keyring_free(p);
		gw_join_free(p);
		gw_snapshot_free(p);
		gossip_pool_free(p->pool);
		p->pool = NULL;
		if (p->udp >= 0)
			close(p->udp);
		if (p->tcp >= 0)
			close(p->tcp);
		p->udp = p->tcp = -1;
	}
	gw_events_free(g);
	gossip_self_free(&g->self);
}

void
gw_set_tags(struct gw *g)
{
	const char *kv[2 * GOSSIP_MAX_TAGS];
	for (unsigned i = 0; i < g->npools; i++) {
		struct gw_pool *p = &g->pools[i];
		if (p->pool == NULL)
			continue;
		size_t n = gossip_self_tags(&g->self, i == GW_WAN, kv);
		int rc = gossip_serf_set_tags(gossip_pool_serf(p->pool),
		    gossip_pool_now(p->pool), kv, n);
		if (rc < 0)
			log_warnx("%s pool: tags not updated: %s", p->label,
			    strerror(-rc));
		gossip_pool_flush(p->pool);
	}
}

struct gw_pool *
gw_pool_for(struct gw *g, bool wan, const char **why)
{
	struct gw_pool *p = &g->pools[wan ? GW_WAN : GW_LAN];
	if (wan && g->npools < 2) {
		*why = "this agent has no WAN pool (not a server)";
		return NULL;
	}
	if (p->pool == NULL) {
		*why = "gossip is not running";
		return NULL;
	}
	return p;
}

/* ---- members and stats ---- */

void
gw_members_reply(struct gw *g, bool wan, struct ipc_chan *ch,
    const struct ipc_msg *m)
{
	struct gw_pool *p = &g->pools[wan ? GW_WAN : GW_LAN];
	struct gossip_member *ms = NULL;
	struct proto_str *items = NULL;
	struct buf all, out;
	size_t n = 0;

	buf_init(&all);
	buf_init(&out);
	if (wan && g->npools < 2) {
		n = 0;
	} else if (p->pool == NULL) {
		/* Not started yet: only ourselves. */
		gossip_self_member(&g->self, wan, &all);
		items = xcalloc(1, sizeof(*items));
		items[0] = (struct proto_str){ (const char *)all.data,
			(uint32_t)all.len };
		n = 1;
	} else {
		n = gossip_serf_members(gossip_pool_serf(p->pool), &ms);
		size_t *off = xcalloc(n + 1, sizeof(*off));
		for (size_t i = 0; i < n; i++) {
			off[i] = all.len;
			member_enc(&ms[i], &all);
		}
		off[n] = all.len;
		items = xcalloc(n + 1, sizeof(*items));
		for (size_t i = 0; i < n; i++) {
			items[i].p = (const char *)all.data + off[i];
			items[i].len = (uint32_t)(off[i + 1] - off[i]);
			gossip_member_free(&ms[i]);
		}
		free(off);
		free(ms);
	}
	struct proto_members r = { .members = { .n = (uint32_t)n,
		.strs = items } };
	proto_enc_members(&out, &r);
	worker_reply(ch, m, PROTO_MEMBERS, &out);
	free(items);
	buf_free(&all);
	buf_free(&out);
}

/* serf.Stats(): every value a string. */
void
gw_pool_stats(struct gw *g, bool wan, struct buf *out)
{
	struct gw_pool *p = &g->pools[wan ? GW_WAN : GW_LAN];
	struct gossip_serf_stats st;
	if ((wan && g->npools < 2) || p->pool == NULL)
		return;
	gossip_serf_stats(gossip_pool_serf(p->pool), &st);
	stats_addu(out, "members", st.members);
	stats_addu(out, "failed", st.failed);
	stats_addu(out, "left", st.left);
	stats_addu(out, "health_score", st.health_score);
	stats_addu(out, "member_time", st.member_time);
	stats_addu(out, "event_time", st.event_time);
	stats_addu(out, "query_time", st.query_time);
	stats_addu(out, "intent_queue", st.intent_queue);
	stats_addu(out, "event_queue", st.event_queue);
	stats_addu(out, "query_queue", st.query_queue);
	stats_add(out, "encrypted", st.encrypted ? "true" : "false");
	stats_addu(out, "coordinate_resets", st.coordinate_resets);
}
