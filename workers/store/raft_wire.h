/*
 * Raft RPCs on the wire: struct rft_msg <-> the RAFT_* messages of
 * proto/schema_status.h, and a stream framing for the server port.
 * Decoders check every size and reject malformed input with -EBADMSG.
 */
#ifndef MUSTER_STORE_RAFT_WIRE_H
#define MUSTER_STORE_RAFT_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "workers/store/raft.h"
#include "lib/util.h"

#define RFT_WIRE_MAX_ENTRIES 4096
#define RFT_WIRE_MAX_FRAME (64u << 20)	/* one frame on the server port */
#define RFT_WIRE_HDR 6			/* u32 body length, u16 type */

/* Append the body of m to out; returns the proto type (PROTO_RAFT_*) or
 * -EINVAL for a message type the wire does not know. */
int rft_wire_encode(struct buf *out, const struct rft_msg *m);
/* Decode a body of the given proto type.  Entries, configuration and
 * chunk data point into p (keep it alive while m is used); m owns an
 * entry array: release it with rft_wire_release. */
int rft_wire_decode(unsigned type, const void *p, size_t len,
    struct rft_msg *m);
void rft_wire_release(struct rft_msg *m);

/* Frame: u32 body length, u16 type (little endian), body. */
int rft_wire_frame(struct buf *out, const struct rft_msg *m);
/* Parse one frame from a stream buffer: returns the bytes it spans (>0),
 * 0 when more bytes are needed, -EBADMSG when the header is invalid. */
ssize_t rft_wire_unframe(const void *p, size_t len, unsigned *type,
    const uint8_t **body, size_t *body_len);

/* Log store value: a RAFT_ENTRY (index is the key). */
void rft_wire_entry_encode(struct buf *out, const struct rft_entry *e);
int rft_wire_entry_decode(const void *p, size_t len, uint64_t index,
    struct rft_entry *e);

#endif
