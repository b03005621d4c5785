/*
 * 0x05xx: agent-local services and checks (the checks worker owns them;
 * reference/consul.md sections 1.1, 2 and 6).  Append-only.
 *
 * Reads are structured (AGENT_LOCAL carries AGENT_SERVICE and AGENT_CHECK
 * items; the http worker writes the JSON).  Registrations carry the
 * client's JSON body unchanged: a service or check definition is one
 * document whether it comes from PUT /v1/agent/service/register or from a
 * config file, and the checks worker parses both with the same code.
 *
 * Every write is answered with RESULT.  Its code says how the http worker
 * answers (Consul's agent endpoints, agent/agent_endpoint.go):
 *   0        200, empty body
 *   -EINVAL  400, message as the text/plain body
 *   -ENOENT  404, likewise
 *   other    500, likewise
 */
#ifndef MUSTER_PROTO_SCHEMA_AGENT_H
#define MUSTER_PROTO_SCHEMA_AGENT_H

#define PROTO_MSGS_AGENT(M)                                     \
	M(AGENT_SERVICE, 0x0501, agent_service)                 \
	M(AGENT_SVC_ADDR, 0x0502, agent_svc_addr)               \
	M(AGENT_CHECK, 0x0503, agent_check)                     \
	M(AGENT_LOCAL_REQ, 0x0504, agent_local_req)             \
	M(AGENT_LOCAL, 0x0505, agent_local)                     \
	M(AGENT_REGISTER, 0x0506, agent_register)               \
	M(AGENT_DEREGISTER, 0x0507, agent_deregister)           \
	M(AGENT_CHECK_UPDATE, 0x0508, agent_check_update)       \
	M(AGENT_MAINT, 0x0509, agent_maint)

/*
 * One local service, as api.AgentService shows it.  meta alternates key,
 * value (sorted by key); tagged_addresses are AGENT_SVC_ADDR items (sorted
 * by key); weights are already defaulted (Passing 1, Warning 1).
 */
#define PROTO_F_agent_service(F)                                        \
	F(str, kind) F(str, id) F(str, service) F(strv, tags) F(strv, meta) \
	F(i32, port) F(str, address) F(str, socket_path)                  \
	F(strv, tagged_addresses) F(i32, weights_passing)                 \
	F(i32, weights_warning) F(bool, enable_tag_override)              \
	F(bool, connect_native)
#define PROTO_F_agent_svc_addr(F) F(str, key) F(str, address) F(i32, port)

/*
 * One local check, as structs.HealthCheck shows it.  service_name and
 * service_tags are the owning service's at the time of the answer;
 * interval and timeout are Go duration text ("" or "0s" as Consul has
 * them); status is "passing", "warning" or "critical".
 */
#define PROTO_F_agent_check(F)                                            \
	F(str, node) F(str, check_id) F(str, name) F(str, status)           \
	F(str, notes) F(str, output) F(str, service_id) F(str, service_name) \
	F(strv, service_tags) F(str, type) F(str, interval) F(str, timeout) \
	F(i32, exposed_port)

/* AGENT_LOCAL_REQ.what bits and AGENT_REGISTER/DEREGISTER kinds. */
enum proto_agent_local_what {
	AGENT_LOCAL_SERVICES = 0x01,
	AGENT_LOCAL_CHECKS = 0x02,
};
enum proto_agent_kind {
	AGENT_KIND_SERVICE = 1,
	AGENT_KIND_CHECK = 2,
};

/*
 * http -> checks: a read (reply AGENT_LOCAL).  With service_id or
 * service_name set, only the matching services are returned, and checks
 * are theirs plus the node-level checks (what the agent health endpoints
 * aggregate).  Without, every service and/or check.
 *
 * Hash-based blocking (GET /v1/agent/service/:id?hash=): with
 * service_id, hash and wait_ms set, the answer waits until that service's
 * content hash differs from hash (or it is deregistered) or wait_ms
 * passes.
 */
#define PROTO_F_agent_local_req(F)                                    \
	F(u8, what) F(str, service_id) F(str, service_name) F(str, hash) \
	F(u64, wait_ms)
/*
 * checks -> http: AGENT_SERVICE items and AGENT_CHECK items, in ID order;
 * content_hash is the first service's ContentHash ("" without services).
 */
#define PROTO_F_agent_local(F) \
	F(strv, services) F(strv, checks) F(str, content_hash)

/*
 * http -> checks: PUT /v1/agent/service/register (kind SERVICE) or
 * /v1/agent/check/register (kind CHECK); body is the request body.
 */
#define PROTO_F_agent_register(F)                                   \
	F(u8, kind) F(str, body) F(bool, replace_existing_checks)     \
	F(str, token)
/* http -> checks: PUT /v1/agent/{service,check}/deregister/:id. */
#define PROTO_F_agent_deregister(F) F(u8, kind) F(str, id)
/*
 * http -> checks: pass/warn/fail (?note) and update ({Status, Output}) of
 * a TTL check.  status is validated by the sender.
 */
#define PROTO_F_agent_check_update(F) \
	F(str, check_id) F(str, status) F(str, output)
/* http -> checks: maintenance mode of the node (service_id "") or of a
 * service. */
#define PROTO_F_agent_maint(F) \
	F(str, service_id) F(bool, enable) F(str, reason) F(str, token)

#endif
