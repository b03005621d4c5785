/*
 * LZW exactly as Go's compress/lzw with order LSB and 8-bit literals, the
 * only compression memberlist has (gossip-protocol.md §8): codes 0..255
 * literals, 256 CLEAR, 257 EOF, first free code 258, width 9..12 bits,
 * codes packed least-significant bit first.  The encoder reproduces Go's
 * Writer bit for bit (a CLEAR first, CLEAR when code 4095 would be
 * needed, EOF last), so a re-encoded capture compares equal.
 */
#ifndef MUSTER_GOSSIP_LZW_H
#define MUSTER_GOSSIP_LZW_H

#include <stddef.h>
#include <stdint.h>

#include "lib/util.h"

/* Append the compressed form of in[0..n) to out. */
void gossip_lzw_compress(const uint8_t *in, size_t n, struct buf *out);

/*
 * Append the decompressed form of in[0..n) to out, at most max_out bytes
 * (LZW expands up to ~2700x, so callers bound it).  -EBADMSG on an
 * invalid code or missing EOF, -EMSGSIZE past max_out.
 */
int gossip_lzw_decompress(const uint8_t *in, size_t n, size_t max_out,
    struct buf *out);

#endif
