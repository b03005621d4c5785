/*
 * Standard base64 (RFC 4648 section 4, with '=' padding): the encoding of
 * Consul's KV values, gossip keys and snapshot blobs.  Matches Go's
 * base64.StdEncoding, which is what Consul uses.
 */
#ifndef MUSTER_BASE64_H
#define MUSTER_BASE64_H

#include <stddef.h>

#include "lib/util.h"

/* Encoded text of p[0..n), NUL-terminated, xmalloc'd (never NULL). */
char *base64_encode(const void *p, size_t n);

/* Length of the encoding of n bytes, without the NUL. */
size_t base64_encoded_len(size_t n);

/*
 * Decode s[0..len) and append the bytes to out.  As Go's StdEncoding:
 * padding is required (length a multiple of 4 once CR/LF are skipped),
 * CR and LF anywhere are ignored, any other character outside the
 * alphabet, misplaced '=' or data after the padding is -EINVAL.  On
 * error out is left as it was.
 */
int base64_decode(const char *s, size_t len, struct buf *out);

#endif
