/*
 * 0x06xx: the dns worker's read model of the catalog (reference consul.md
 * §5; workers/dns/dns_model.c).  Append-only.
 *
 * The stream, on the store <-> dns peer channel:
 *   dns -> store  DNS_SYNC_REQ when the channel comes up (either side
 *                 restarted) or when the dns worker saw a gap.
 *   store -> dns  a full sync: DNS_UPDATE with reset, more DNS_UPDATEs,
 *                 the last with complete; then DNS_UPDATEs (reset
 *                 false, complete true) after applied catalog writes,
 *                 with the current rows of what they touched.
 * seq numbers the store's messages from the reset on (reset: 0), so a
 * message lost to a full queue is noticed (gap -> DNS_SYNC_REQ); index is
 * the Raft index the rows are as of, so a late update never undoes a
 * newer one.  Rows are nodes with node-level health and instances, each
 * with the worst status of its own checks (maintenance is a critical
 * check already); the dns worker folds the two together.
 */
#ifndef MUSTER_PROTO_SCHEMA_DNS_H
#define MUSTER_PROTO_SCHEMA_DNS_H

#define PROTO_MSGS_DNS(M)                               \
	M(DNS_SYNC_REQ, 0x0601, dns_sync_req)           \
	M(DNS_SVC, 0x0602, dns_svc)                     \
	M(DNS_NODE, 0x0603, dns_node)                   \
	M(DNS_UPDATE, 0x0604, dns_update)

/* dns -> store (no reply: the answer is the sync stream).  index: what
 * the asker holds, for the logs only; a sync is always full. */
#define PROTO_F_dns_sync_req(F) F(u64, index)

/* Health, as enum dns_health: 0 passing, 1 warning, 2 critical. */
/* A service instance as DNS needs it (structs.NodeService subset). */
#define PROTO_F_dns_svc(F)                                              \
	F(str, id) F(str, service) F(str, kind) F(str, address)           \
	F(i32, port) F(strv, tags) F(i32, weights_passing)                \
	F(i32, weights_warning) F(bool, connect_native) F(u8, health)

/*
 * A node and instances on it (DNS_SVC items); meta alternates key,
 * value; health is the worst of the node-level checks.  With
 * all_services the instances are all the node has; without, they
 * replace only the node's instances of the names in service_names (a
 * name with no instance left here is listed with none), so a write that
 * touched one service of a node with thousands costs one instance.
 */
#define PROTO_F_dns_node(F)                                             \
	F(str, name) F(str, address) F(str, datacenter) F(strv, meta)     \
	F(u8, health) F(bool, all_services) F(strv, service_names)        \
	F(strv, services)

/* store -> dns: nodes (DNS_NODE items) to upsert, names of nodes gone. */
#define PROTO_F_dns_update(F)                                           \
	F(u64, seq) F(u64, index) F(bool, reset) F(bool, complete)        \
	F(strv, nodes) F(strv, gone)

#endif
