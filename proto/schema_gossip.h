/* 0x03xx: gossip pools, members, events.  Append-only. */
#ifndef MUSTER_PROTO_SCHEMA_GOSSIP_H
#define MUSTER_PROTO_SCHEMA_GOSSIP_H

#define PROTO_MSGS_GOSSIP(M)                   \
	M(MEMBERS_REQ, 0x0301, members_req)    \
	M(MEMBERS, 0x0302, members)            \
	M(MEMBER, 0x0303, member)                  \
	M(MEMBER_EVENT, 0x0304, member_event)      \
	M(JOIN_REQ, 0x0305, join_req)              \
	M(FORCE_LEAVE_REQ, 0x0306, force_leave_req) \
	M(EVENT_FIRE_REQ, 0x0307, event_fire_req)  \
	M(USER_EVENT, 0x0308, user_event)          \
	M(EVENT_LIST_REQ, 0x0309, event_list_req)  \
	M(EVENT_LIST, 0x030a, event_list)          \
	M(KEYRING_REQ, 0x030b, keyring_req)        \
	M(KEYRING, 0x030c, keyring)                \
	M(KEYRING_RESP, 0x030d, keyring_resp)

/* http -> gossip: members of the LAN or WAN pool (reply MEMBERS). */
#define PROTO_F_members_req(F) F(bool, wan)
/* items are encoded MEMBER messages */
#define PROTO_F_members(F) F(strv, members)
/* One pool member, as /v1/agent/members shows it; tags alternate k, v. */
#define PROTO_F_member(F)                                                \
	F(str, name) F(str, addr) F(u16, port) F(strv, tags) F(u8, status) \
	F(u8, protocol_min) F(u8, protocol_max) F(u8, protocol_cur)       \
	F(u8, delegate_min) F(u8, delegate_max) F(u8, delegate_cur)

/*
 * gossip -> store, checks (notification, no reply): a member of a pool
 * changed.  pool 0 LAN, 1 WAN.  kind 1 join, 2 update (tags), 3 leave
 * (graceful), 4 failed, 5 reaped (gone for good).  member is an encoded
 * MEMBER.  On (re)connection of a peer channel gossip sends a join for
 * every current member, so a restarted store or checks worker catches up.
 */
#define PROTO_F_member_event(F) F(u8, pool) F(u8, kind) F(str, member)

/*
 * http -> gossip: PUT /v1/agent/join/:addr.  addr is "ip", "ip:port" or
 * "[v6]:port" (names only if they resolved when the worker started).
 * Reply RESULT: 0, or -errno with Consul's error text.
 */
#define PROTO_F_join_req(F) F(str, addr) F(bool, wan)
/* http -> gossip: PUT /v1/agent/force-leave/:node (reply RESULT). */
#define PROTO_F_force_leave_req(F) F(str, node) F(bool, prune) F(bool, wan)
/*
 * http -> gossip: PUT /v1/event/fire/:name; filters are Go regexps.
 * Reply USER_EVENT (the event as fired), or RESULT -EINVAL with Consul's
 * message for a bad request.
 */
#define PROTO_F_event_fire_req(F)                                   \
	F(str, name) F(str, payload) F(str, node_filter)              \
	F(str, service_filter) F(str, tag_filter)
/* One Consul user event as /v1/event/list shows it (payload raw bytes;
 * empty is JSON null). */
#define PROTO_F_user_event(F)                                       \
	F(str, id) F(str, name) F(str, payload) F(str, node_filter)   \
	F(str, service_filter) F(str, tag_filter) F(u32, version)     \
	F(u64, ltime)
/*
 * http -> gossip: GET /v1/event/list.  With min_index > 0 the answer
 * waits (up to wait_ms) while the index (derived from the newest
 * matching event's ID, agent/event_endpoint.go) still equals min_index.
 * Reply EVENT_LIST: events oldest first (USER_EVENT items).
 */
#define PROTO_F_event_list_req(F) F(str, name) F(u64, min_index) F(u64, wait_ms)
#define PROTO_F_event_list(F) F(u64, index) F(strv, events)
/*
 * http -> gossip: /v1/operator/keyring.  op 1 list, 2 install, 3 use,
 * 4 remove; key base64 (install/use/remove).  Reply KEYRING (responses
 * are KEYRING_RESP items, WAN first on servers) or RESULT -EINVAL.
 */
#define PROTO_F_keyring_req(F) \
	F(u8, op) F(str, key) F(u8, relay_factor) F(bool, local_only)
#define PROTO_F_keyring(F) F(strv, responses)
/* One pool's answer: messages alternate node, message; keys and
 * primary_keys alternate base64 key, decimal count. */
#define PROTO_F_keyring_resp(F)                                     \
	F(bool, wan) F(str, datacenter) F(str, segment)               \
	F(strv, messages) F(strv, keys) F(strv, primary_keys)         \
	F(u32, num_nodes) F(str, error)

#endif
