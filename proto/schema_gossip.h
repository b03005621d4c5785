/* 0x03xx: gossip pools, members, events.  Append-only. */
#ifndef MUSTER_PROTO_SCHEMA_GOSSIP_H
#define MUSTER_PROTO_SCHEMA_GOSSIP_H

#define PROTO_MSGS_GOSSIP(M)                   \
	M(MEMBERS_REQ, 0x0301, members_req)    \
	M(MEMBERS, 0x0302, members)            \
	M(MEMBER, 0x0303, member)                  \
	M(MEMBER_EVENT, 0x0304, member_event)

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

#endif
