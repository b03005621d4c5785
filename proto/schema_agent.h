/* Message types of this area (see schema.h for its number range).
 * Append-only. */
#ifndef MUSTER_PROTO_SCHEMA_AGENT_H
#define MUSTER_PROTO_SCHEMA_AGENT_H

#define PROTO_MSGS_AGENT(M)

#endif
