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
	char wan_addr[64];	/* advertise_addr_wan */
	int lan_port, wan_port;
	char *tags[2 * GOSSIP_MAX_TAGS];	/* alternating key, value */
	unsigned ntags;		/* number of strings, always even */
	bool left;
};

void gossip_self_build(struct gossip_self *s, const struct agent_config *c);
void gossip_self_free(struct gossip_self *s);
/*
 * The tags of one pool into kv (2 * GOSSIP_MAX_TAGS entries, pointing
 * into s): the WAN pool has no wan_join_port (server_serf.go sets it for
 * the LAN only).  Returns the number of strings.
 */
size_t gossip_self_tags(const struct gossip_self *s, bool wan,
    const char **kv);
/* Encode this agent as a MEMBER message (LAN or WAN identity). */
void gossip_self_member(const struct gossip_self *s, bool wan,
    struct buf *out);

#endif
