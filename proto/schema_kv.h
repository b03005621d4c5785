/* Message types of this area (see schema.h for its number range).
 * Append-only. */
#ifndef MUSTER_PROTO_SCHEMA_KV_H
#define MUSTER_PROTO_SCHEMA_KV_H

#define PROTO_MSGS_KV(M)

#endif
