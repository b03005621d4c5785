/*
 * 0x04xx: the catalog and health (reference/consul.md sections 1.2, 1.3,
 * 2; the store's tables are workers/store/catalog.h).  Append-only.
 *
 * Rows travel structured; the http worker writes the JSON.  A map is a
 * strv of alternating key, value, sorted by key; has_* says whether the
 * map was given at all (Consul prints an absent map as null and an empty
 * one as {}).  Nested messages are encoded messages held in a str (one)
 * or a strv (a list).
 *
 * Writes (CAT_REGISTER, CAT_DEREGISTER) from http or checks (the
 * anti-entropy sync) are validated by the store, proposed to Raft and
 * answered once applied: CAT_WRITE, or RESULT with Consul's message
 * (-EINVAL: the request was refused; Consul answers that 500, like any
 * RPC error).  Deregistering what is not there is not an error.
 */
#ifndef MUSTER_PROTO_SCHEMA_CATALOG_H
#define MUSTER_PROTO_SCHEMA_CATALOG_H

#define PROTO_MSGS_CATALOG(M)                           \
	M(CAT_NODE, 0x0401, cat_node)                   \
	M(CAT_SVC_ADDR, 0x0402, cat_svc_addr)           \
	M(CAT_SERVICE, 0x0403, cat_service)             \
	M(CAT_CHECK, 0x0404, cat_check)                 \
	M(CAT_REGISTER, 0x0405, cat_register)           \
	M(CAT_DEREGISTER, 0x0406, cat_deregister)       \
	M(CAT_WRITE, 0x0407, cat_write)                 \
	M(CAT_READ_REQ, 0x0408, cat_read_req)           \
	M(CAT_READ, 0x0409, cat_read)                   \
	M(CAT_ENTRY, 0x040a, cat_entry)

/* A node, as structs.Node.  id is "" when the node has none. */
#define PROTO_F_cat_node(F)                                             \
	F(str, id) F(str, node) F(str, address) F(str, datacenter)        \
	F(bool, has_tagged) F(strv, tagged_addresses) F(bool, has_meta)   \
	F(strv, meta) F(u64, create_index) F(u64, modify_index)

/* One entry of a service's TaggedAddresses (structs.ServiceAddress). */
#define PROTO_F_cat_svc_addr(F) F(str, key) F(str, address) F(i32, port)

/*
 * A service instance, as structs.NodeService, with the node it is on.
 * tagged_addresses are CAT_SVC_ADDR items sorted by key; weights are
 * already defaulted (Passing 1, Warning 1, as NodeService.ToServiceNode).
 */
#define PROTO_F_cat_service(F)                                          \
	F(str, node) F(str, kind) F(str, id) F(str, service) F(strv, tags) \
	F(str, address) F(strv, tagged_addresses) F(bool, has_meta)       \
	F(strv, meta) F(i32, port) F(str, socket_path)                    \
	F(i32, weights_passing) F(i32, weights_warning)                   \
	F(bool, enable_tag_override) F(bool, connect_native)              \
	F(u64, create_index) F(u64, modify_index)

/*
 * A check, as structs.HealthCheck.  definition is the canonical JSON
 * object of its Definition (HealthCheckDefinition as Consul prints it,
 * "{}" when empty); interval and timeout are the top-level strings.
 */
#define PROTO_F_cat_check(F)                                            \
	F(str, node) F(str, check_id) F(str, name) F(str, status)         \
	F(str, notes) F(str, output) F(str, service_id)                   \
	F(str, service_name) F(strv, service_tags) F(str, type)           \
	F(str, interval) F(str, timeout) F(i32, exposed_port)             \
	F(str, definition) F(u64, create_index) F(u64, modify_index)

/*
 * http/checks -> store: PUT /v1/catalog/register (structs.RegisterRequest,
 * decoded and defaulted: Datacenter set, Check folded into checks).  node
 * is a CAT_NODE (indexes ignored); service a CAT_SERVICE or "" for none;
 * checks CAT_CHECK items.  Also the Raft command of that type.
 */
#define PROTO_F_cat_register(F)                                        \
	F(str, node) F(bool, skip_node_update) F(str, service)           \
	F(strv, checks)

/* http/checks -> store: PUT /v1/catalog/deregister.  service_id wins
 * over check_id; with neither the whole node goes.  Also a command. */
#define PROTO_F_cat_deregister(F) \
	F(str, node) F(str, service_id) F(str, check_id)

/* store -> asker: a write was applied at index. */
#define PROTO_F_cat_write(F) F(u64, index)

/* What a CAT_READ_REQ asks for, and what CAT_READ.items then hold. */
enum proto_cat_query {
	CAT_Q_NODES = 1,	/* /catalog/nodes: CAT_NODE */
	CAT_Q_SERVICES,		/* /catalog/services: CAT_SERVICE (service +
				 * the union of its tags, sorted) */
	CAT_Q_SERVICES_FULL,	/* same selection, CAT_ENTRY (node, service)
				 * per instance: for ?filter */
	CAT_Q_SERVICE_NODES,	/* /catalog/service/:name: CAT_ENTRY
				 * (node, service) */
	CAT_Q_NODE_SERVICES,	/* /catalog/node/:n, node-services: found,
				 * node, CAT_SERVICE items */
	CAT_Q_HEALTH_NODE,	/* /health/node/:n: CAT_CHECK */
	CAT_Q_HEALTH_CHECKS,	/* /health/checks/:service: CAT_CHECK */
	CAT_Q_HEALTH_SERVICE,	/* /health/service/:name: CAT_ENTRY (node,
				 * service, node + service checks) */
	CAT_Q_HEALTH_STATE,	/* /health/state/:state: CAT_CHECK */
	CAT_Q_MAX,
};

/*
 * A catalog read (any -> store).  name is the path parameter; tags (all
 * required, case-insensitive) for service queries; node_meta alternates
 * key, value (all required); passing drops health entries with any
 * check not passing.  min_index/wait_ms make it a blocking query;
 * consistency 0 default (leader), 1 stale, 2 consistent.
 */
#define PROTO_F_cat_read_req(F)                                         \
	F(u8, what) F(str, name) F(strv, tags) F(strv, node_meta)         \
	F(bool, passing) F(u64, min_index) F(u64, wait_ms)                \
	F(u8, consistency) F(u64, max_stale_ms)

/* store -> asker.  found/node only for CAT_Q_NODE_SERVICES. */
#define PROTO_F_cat_read(F)                                             \
	F(u64, index) F(bool, known_leader) F(u64, last_contact_ms)       \
	F(bool, found) F(str, node) F(strv, items)

/* One result row: node and/or service (encoded, "" when absent) and
 * checks (CAT_CHECK items). */
#define PROTO_F_cat_entry(F) F(str, node) F(str, service) F(strv, checks)

#endif
