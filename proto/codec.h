/*
 * Primitive codec shared by every message muster encodes: IPC between its
 * processes and its own wire protocols (Raft RPC on the server port).
 *
 * Integers are little-endian, fixed width.  Strings and byte strings are a
 * u32 length then the bytes.  A list (strv) is a u32 count, then per item a
 * u32 length and the bytes; a list of nested messages uses the same layout.
 * Decoders never cast raw bytes: every read goes through a cursor that
 * checks the remaining length first and fails with -EBADMSG.
 */
#ifndef MUSTER_PROTO_CODEC_H
#define MUSTER_PROTO_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/util.h"

/* A view into a decoded buffer; not NUL-terminated. */
struct proto_str {
	const char *p;
	uint32_t len;
};

/*
 * A list of byte strings.  To encode, set n and items (C strings) or n and
 * strs (views).  Decoding sets n, raw and rawlen; walk it with
 * proto_strv_next().  A decoded list re-encodes from raw as it is.
 */
struct proto_strv {
	uint32_t n;
	const char *const *items;
	const struct proto_str *strs;
	const uint8_t *raw;
	uint32_t rawlen;
};

struct proto_strv_iter {
	const uint8_t *p;
	uint32_t left;
	uint32_t remaining;
};

struct proto_cur {
	const uint8_t *p;
	size_t left;
};

#define PROTO_STR(lit) ((struct proto_str){ (lit), (uint32_t)(sizeof(lit) - 1) })
struct proto_str proto_str_c(const char *s);
/* Copy to a fresh NUL-terminated string; NULL if the view holds a NUL. */
char *proto_str_dup(struct proto_str s);
bool proto_str_eq(struct proto_str s, const char *c);
/* Copy into dst (size bytes with NUL); -ENAMETOOLONG or -EINVAL on NUL. */
int proto_str_copy(struct proto_str s, char *dst, size_t size);

void proto_strv_iter_init(struct proto_strv_iter *it, const struct proto_strv *v);
bool proto_strv_next(struct proto_strv_iter *it, struct proto_str *out);

void proto_put_u8(struct buf *b, uint8_t v);
void proto_put_u16(struct buf *b, uint16_t v);
void proto_put_u32(struct buf *b, uint32_t v);
void proto_put_u64(struct buf *b, uint64_t v);
void proto_put_i32(struct buf *b, int32_t v);
void proto_put_i64(struct buf *b, int64_t v);
void proto_put_bool(struct buf *b, bool v);
void proto_put_str(struct buf *b, struct proto_str v);
void proto_put_strv(struct buf *b, const struct proto_strv *v);

int proto_get_u8(struct proto_cur *c, uint8_t *v);
int proto_get_u16(struct proto_cur *c, uint16_t *v);
int proto_get_u32(struct proto_cur *c, uint32_t *v);
int proto_get_u64(struct proto_cur *c, uint64_t *v);
int proto_get_i32(struct proto_cur *c, int32_t *v);
int proto_get_i64(struct proto_cur *c, int64_t *v);
int proto_get_bool(struct proto_cur *c, bool *v);
int proto_get_str(struct proto_cur *c, struct proto_str *v);
int proto_get_strv(struct proto_cur *c, struct proto_strv *v);

/* Little-endian loads and stores for fixed headers. */
uint16_t proto_le16(const uint8_t *p);
uint32_t proto_le32(const uint8_t *p);
uint64_t proto_le64(const uint8_t *p);
void proto_wle16(uint8_t *p, uint16_t v);
void proto_wle32(uint8_t *p, uint32_t v);
void proto_wle64(uint8_t *p, uint64_t v);

#endif
