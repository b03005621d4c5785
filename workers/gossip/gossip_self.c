/*
 * Consul's serf tags (agent/consul/server_serf.go, client_serf.go): role
 * "consul" for servers and "node" for clients, dc, segment, id, vsn
 * (protocol 2, min 2, max 3), build "<version>:<revision>", and for
 * servers port (RPC), raft_vsn, wan_join_port, bootstrap / expect.
 * Members report ProtocolMin 1 / Max 5 / Cur 2 and DelegateMin 2 / Max 5 /
 * Cur 4 as memberlist does for Consul.
 */
#include "workers/gossip/gossip_self.h"
#include "proto/proto.h"
#include "supervisor/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
tag(struct gossip_self *s, const char *k, const char *v)
{
	if (s->ntags + 2 > nitems(s->tags))
		return;
	s->tags[s->ntags++] = xstrdup(k);
	s->tags[s->ntags++] = xstrdup(v);
}

void
gossip_self_free(struct gossip_self *s)
{
	for (unsigned i = 0; i < s->ntags; i++)
		free(s->tags[i]);
	s->ntags = 0;
}

size_t
gossip_self_tags(const struct gossip_self *s, bool wan, const char **kv)
{
	size_t n = 0;
	for (unsigned i = 0; i + 1 < s->ntags; i += 2) {
		if (wan && strcmp(s->tags[i], "wan_join_port") == 0)
			continue;
		kv[n++] = s->tags[i];
		kv[n++] = s->tags[i + 1];
	}
	return n;
}

void
gossip_self_build(struct gossip_self *s, const struct agent_config *c)
{
	char n[32];

	gossip_self_free(s);
	strlcpy_m(s->name, c->node_name, sizeof(s->name));
	snprintf(s->wan_name, sizeof(s->wan_name), "%s.%s", c->node_name,
	    c->datacenter);
	strlcpy_m(s->addr, c->advertise_addr, sizeof(s->addr));
	strlcpy_m(s->wan_addr, c->advertise_addr_wan[0] ?
	    c->advertise_addr_wan : c->advertise_addr, sizeof(s->wan_addr));
	s->lan_port = c->ports.serf_lan;
	s->wan_port = c->ports.serf_wan;
	tag(s, "role", c->server ? "consul" : "node");
	tag(s, "dc", c->datacenter);
	tag(s, "segment", "");
	tag(s, "id", c->node_id ? c->node_id : "");
	tag(s, "vsn", "2");
	tag(s, "vsn_min", "2");
	tag(s, "vsn_max", "3");
	tag(s, "build", MUSTER_VERSION ":muster");
	if (!c->server)
		return;
	snprintf(n, sizeof(n), "%d", c->ports.server);
	tag(s, "port", n);
	tag(s, "raft_vsn", "3");
	snprintf(n, sizeof(n), "%d", c->ports.serf_wan);
	tag(s, "wan_join_port", n);
	if (c->bootstrap || c->dev)
		tag(s, "bootstrap", "1");
	if (c->bootstrap_expect > 0) {
		snprintf(n, sizeof(n), "%d", c->bootstrap_expect);
		tag(s, "expect", n);
	}
}

void
gossip_self_member(const struct gossip_self *s, bool wan, struct buf *out)
{
	const char *kv[2 * GOSSIP_MAX_TAGS];
	size_t n = gossip_self_tags(s, wan, kv);
	struct proto_member m = {
		.name = proto_str_c(wan ? s->wan_name : s->name),
		.addr = proto_str_c(wan ? s->wan_addr : s->addr),
		.port = (uint16_t)(wan ? s->wan_port : s->lan_port),
		.tags = { .n = (uint32_t)n, .items = kv },
		.status = s->left ? 3 : 1,
		.protocol_min = 1, .protocol_max = 5, .protocol_cur = 2,
		.delegate_min = 2, .delegate_max = 5, .delegate_cur = 4,
	};
	proto_enc_member(out, &m);
}
