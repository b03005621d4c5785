/*
 * Consul's merge delegates for its two serf pools (agent/consul/merge.go,
 * gossip-protocol.md §10), as a gossip_merge_fn.  LAN: no member may
 * reuse our node ID under another name, no two members share a node ID
 * (from Consul 0.8.5 builds), Consul nodes and servers must be in our
 * datacenter and segment.  WAN: every member must be a Consul server.
 * A refused member aborts a join and is ignored when gossiped.
 */
#ifndef MUSTER_GOSSIP_CONSUL_MERGE_H
#define MUSTER_GOSSIP_CONSUL_MERGE_H

#include <stdbool.h>

#include "workers/gossip/serf.h"

struct gossip_consul_merge {
	bool wan;
	char dc[128];
	char segment[128];
	char node_id[64];	/* our "id" tag */
	char node_name[256];
};

/* arg is a struct gossip_consul_merge */
int gossip_consul_merge(void *arg, const struct gossip_member *members,
    size_t n, char *why, size_t whylen);
/* metadata.IsConsulServer: role=consul and port, vsn, build (and the
 * optional numeric tags) parse. */
bool gossip_consul_is_server(const struct gossip_member *m);

#endif
