/* The agent's own member record: name, address, Consul's tags. */
#ifndef MUSTER_GOSSIP_SELF_H
#define MUSTER_GOSSIP_SELF_H

#include <stdbool.h>

#include "lib/util.h"

struct agent_config;

#define GOSSIP_MAX_TAGS 24

struct gossip_self {
	char name[256];
	char wan_name[300];	/* name.dc */
	char addr[64];
	int lan_port, wan_port;
	char *tags[2 * GOSSIP_MAX_TAGS];	/* alternating key, value */
	unsigned ntags;		/* number of strings, always even */
	int lan_udp, lan_tcp, wan_udp, wan_tcp;
	bool left;
};

void gossip_self_build(struct gossip_self *s, const struct agent_config *c);
/* Encode this agent as a MEMBER message (LAN or WAN identity). */
void gossip_self_member(const struct gossip_self *s, bool wan,
    struct buf *out);

#endif
