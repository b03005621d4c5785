/*
 * msgpack as memberlist and serf speak it (gossip-protocol.md §2): the
 * old-spec dialect of hashicorp/go-msgpack's MsgpackHandle.
 *
 * Encoding matches what Go peers emit byte for byte:
 *   - non-negative integers in the smallest unsigned form (fixint, cc, cd,
 *     ce, cf), negative ones in the smallest signed form;
 *   - strings and byte slices both as "raw": fixstr, da + u16, db + u32
 *     (never str8 d9, never bin c4..c6);
 *   - float64 always cb;
 *   - structs are maps whose keys the caller writes sorted bytewise by Go
 *     field name (the captures show sorted keys, not declaration order).
 *
 * Decoding accepts every integer family into every integer field (range
 * checked), str8/bin as raw, float32 as float, nil as the zero value of
 * any field.  The reader is a bounded cursor: a truncated input fails with
 * -ENODATA (so a stream reader can wait for more bytes), anything else
 * malformed with -EBADMSG; nesting is limited to GOSSIP_MP_MAX_DEPTH and
 * a container never claims more elements than there are bytes left.
 */
#ifndef MUSTER_GOSSIP_MSGPACK_H
#define MUSTER_GOSSIP_MSGPACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/util.h"

#define GOSSIP_MP_MAX_DEPTH 32

/* A view into a decoded buffer (not NUL-terminated). */
struct gossip_slice {
	const uint8_t *p;
	size_t n;
};

enum gossip_mp_type {
	GOSSIP_MP_NIL,
	GOSSIP_MP_BOOL,
	GOSSIP_MP_INT,		/* any integer family */
	GOSSIP_MP_FLOAT,
	GOSSIP_MP_RAW,		/* fixstr, str8/16/32, bin8/16/32 */
	GOSSIP_MP_ARRAY,
	GOSSIP_MP_MAP,
	GOSSIP_MP_EXT,
};

/* Encoder: everything appends to a struct buf and cannot fail. */
void gossip_mp_put_nil(struct buf *b);
void gossip_mp_put_bool(struct buf *b, bool v);
void gossip_mp_put_uint(struct buf *b, uint64_t v);
void gossip_mp_put_int(struct buf *b, int64_t v);
void gossip_mp_put_f64(struct buf *b, double v);
void gossip_mp_put_raw(struct buf *b, const void *p, size_t n);
void gossip_mp_put_str(struct buf *b, const char *s);
void gossip_mp_put_slice(struct buf *b, struct gossip_slice s);
/* A []byte that may be nil: NULL pointer -> c0, else raw (even empty). */
void gossip_mp_put_bytes_or_nil(struct buf *b, const void *p, size_t n);
void gossip_mp_put_array(struct buf *b, uint32_t n);
void gossip_mp_put_map(struct buf *b, uint32_t n);

/* Decoder cursor over one buffer. */
struct gossip_mp_rd {
	const uint8_t *p;
	size_t len;
	size_t off;
	unsigned depth;
};

void gossip_mp_rd_init(struct gossip_mp_rd *r, const void *p, size_t len);
static inline size_t
gossip_mp_left(const struct gossip_mp_rd *r)
{
	return r->len - r->off;
}

/* Type of the next value; -ENODATA at the end of input. */
int gossip_mp_peek(const struct gossip_mp_rd *r, enum gossip_mp_type *t);
/* Consume a nil if one is next; true if it did. */
bool gossip_mp_take_nil(struct gossip_mp_rd *r);

/* nil decodes as 0 / false / empty / 0 entries in every getter below. */
int gossip_mp_get_bool(struct gossip_mp_rd *r, bool *v);
int gossip_mp_get_u64(struct gossip_mp_rd *r, uint64_t *v);
int gossip_mp_get_i64(struct gossip_mp_rd *r, int64_t *v);
/* Range-checked unsigned getters (negative or too large: -EBADMSG). */
int gossip_mp_get_u32(struct gossip_mp_rd *r, uint32_t *v);
int gossip_mp_get_u16(struct gossip_mp_rd *r, uint16_t *v);
int gossip_mp_get_u8(struct gossip_mp_rd *r, uint8_t *v);
int gossip_mp_get_f64(struct gossip_mp_rd *r, double *v);
/* Raw bytes (string or byte slice), a view into the input.  A nil value
 * gives {NULL, 0} and sets *was_nil (which may be NULL). */
int gossip_mp_get_raw(struct gossip_mp_rd *r, struct gossip_slice *s,
    bool *was_nil);
int gossip_mp_get_array(struct gossip_mp_rd *r, uint32_t *n);
int gossip_mp_get_map(struct gossip_mp_rd *r, uint32_t *n);
/* Skip one complete value of any type. */
int gossip_mp_skip(struct gossip_mp_rd *r);

/*
 * Go structs as maps, driven by a field table listed in the order the
 * keys go on the wire (sorted by Go field name).  GOSSIP_MP_STR and
 * GOSSIP_MP_BYTES fields are struct gossip_slice: a NULL pointer encodes
 * as "" for a string and as nil (c0) for a byte slice, as Go does.
 * GOSSIP_MP_OMITEMPTY leaves out a zero/empty field (codec:",omitempty").
 */
enum gossip_mp_kind {
	GOSSIP_MP_K_BOOL,
	GOSSIP_MP_K_U8,
	GOSSIP_MP_K_U16,
	GOSSIP_MP_K_U32,
	GOSSIP_MP_K_U64,
	GOSSIP_MP_K_I64,
	GOSSIP_MP_K_F64,
	GOSSIP_MP_K_STR,
	GOSSIP_MP_K_BYTES,
};
#define GOSSIP_MP_OMITEMPTY 0x100u

struct gossip_mp_field {
	const char *name;
	unsigned kind;		/* gossip_mp_kind | flags */
	size_t off;
};

void gossip_mp_put_struct(struct buf *b, const struct gossip_mp_field *f,
    size_t nf, const void *in);
/* Decode one value into the field f of out. */
int gossip_mp_get_field(struct gossip_mp_rd *r, const struct gossip_mp_field *f,
    void *out);
/* Zeroes every field of the table, then fills those present; unknown
 * keys are skipped.  A nil map leaves everything zero. */
int gossip_mp_get_struct(struct gossip_mp_rd *r,
    const struct gossip_mp_field *f, size_t nf, void *out);

/* Helpers for struct decoding loops. */
bool gossip_slice_eq(struct gossip_slice s, const char *c);
bool gossip_slice_same(struct gossip_slice a, struct gossip_slice b);
struct gossip_slice gossip_slice_c(const char *s);
/* NUL-terminated copy of any slice (a nil one gives ""). */
char *gossip_slice_dup(struct gossip_slice s);
/* NUL-terminated copy; NULL if the slice holds a NUL byte. */
char *gossip_slice_strdup(struct gossip_slice s);

#endif
