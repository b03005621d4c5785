/*
 * The one list of muster's message types, assembled from one header per
 * area.  APPEND-ONLY within each area: numbers are never reused or
 * renumbered.  Each message has a field list PROTO_F_<name>(F) of
 * F(type, field) entries; proto.h and proto.c turn the lists into the
 * structs and one encode/decode pair per message.
 *
 * Field types: u8 u16 u32 u64 i32 i64 bool str strv (see codec.h).  A list
 * of nested messages is a strv whose items are encoded messages.
 *
 * Areas and their number ranges:
 *   schema_control.h  0x00xx  supervisor <-> worker control
 *   schema_status.h   0x01xx  status, Raft RPC and Raft operator
 *   schema_kv.h       0x02xx  KV, txn, sessions
 *   schema_gossip.h   0x03xx  gossip pools, members, events
 *   schema_catalog.h  0x04xx  catalog and health
 *   schema_agent.h    0x05xx  agent-local services and checks
 *   schema_dns.h      0x06xx  DNS read model
 */
#ifndef MUSTER_PROTO_SCHEMA_H
#define MUSTER_PROTO_SCHEMA_H

#include "proto/schema_control.h"
#include "proto/schema_status.h"
#include "proto/schema_kv.h"
#include "proto/schema_gossip.h"
#include "proto/schema_catalog.h"
#include "proto/schema_agent.h"
#include "proto/schema_dns.h"

#define PROTO_MESSAGES(M)                                           \
	PROTO_MSGS_CONTROL(M) PROTO_MSGS_STATUS(M) PROTO_MSGS_KV(M) \
	PROTO_MSGS_GOSSIP(M) PROTO_MSGS_CATALOG(M) PROTO_MSGS_AGENT(M) \
	PROTO_MSGS_DNS(M)

#endif
