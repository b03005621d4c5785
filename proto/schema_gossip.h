/* 0x03xx: gossip pools, members, events.  Append-only. */
#ifndef MUSTER_PROTO_SCHEMA_GOSSIP_H
#define MUSTER_PROTO_SCHEMA_GOSSIP_H

#define PROTO_MSGS_GOSSIP(M)                   \
	M(MEMBERS_REQ, 0x0301, members_req)    \
	M(MEMBERS, 0x0302, members)            \
	M(MEMBER, 0x0303, member)

/* http -> gossip: members of the LAN or WAN pool (reply MEMBERS). */
#define PROTO_F_members_req(F) F(bool, wan)
/* items are encoded MEMBER messages */
#define PROTO_F_members(F) F(strv, members)
/* One pool member, as /v1/agent/members shows it; tags alternate k, v. */
#define PROTO_F_member(F)                                                \
	F(str, name) F(str, addr) F(u16, port) F(strv, tags) F(u8, status) \
	F(u8, protocol_min) F(u8, protocol_max) F(u8, protocol_cur)       \
	F(u8, delegate_min) F(u8, delegate_max) F(u8, delegate_cur)

#endif
