/*
 * msgpack in go-msgpack's old-spec dialect; see msgpack.h for the rules
 * and gossip-protocol.md §2 for where they come from.
 */
#include "workers/gossip/msgpack.h"

#include <errno.h>
#include <math.h>
#include <string.h>

static void
put_be(struct buf *b, uint8_t tag, uint64_t v, unsigned width)
{
	uint8_t tmp[9];
	tmp[0] = tag;
	for (unsigned i = 0; i < width; i++)
		tmp[1 + i] = (uint8_t)(v >> (8 * (width - 1 - i)));
	buf_add(b, tmp, 1 + width);
}

void
gossip_mp_put_nil(struct buf *b)
{
	buf_addch(b, (char)0xc0);
}

void
gossip_mp_put_bool(struct buf *b, bool v)
{
	buf_addch(b, (char)(v ? 0xc3 : 0xc2));
}

void
gossip_mp_put_uint(struct buf *b, uint64_t v)
{
	if (v <= 0x7f)
		buf_addch(b, (char)v);
	else if (v <= 0xff)
		put_be(b, 0xcc, v, 1);
	else if (v <= 0xffff)
		put_be(b, 0xcd, v, 2);
	else if (v <= 0xffffffffu)
		put_be(b, 0xce, v, 4);
	else
		put_be(b, 0xcf, v, 8);
}

void
gossip_mp_put_int(struct buf *b, int64_t v)
{
	if (v >= 0) {
		gossip_mp_put_uint(b, (uint64_t)v);
		return;
	}
	if (v >= -32)
		buf_addch(b, (char)(uint8_t)(int8_t)v);
	else if (v >= INT8_MIN)
		put_be(b, 0xd0, (uint64_t)v, 1);
	else if (v >= INT16_MIN)
		put_be(b, 0xd1, (uint64_t)v, 2);
	else if (v >= INT32_MIN)
		put_be(b, 0xd2, (uint64_t)v, 4);
	else
		put_be(b, 0xd3, (uint64_t)v, 8);
}

void
gossip_mp_put_f64(struct buf *b, double v)
{
	uint64_t u;
	memcpy(&u, &v, sizeof(u));
	put_be(b, 0xcb, u, 8);
}

void
gossip_mp_put_raw(struct buf *b, const void *p, size_t n)
{
	if (n < 32)
		buf_addch(b, (char)(0xa0 | n));
	else if (n <= 0xffff)
		put_be(b, 0xda, n, 2);
	else
		put_be(b, 0xdb, n, 4);
	buf_add(b, p, n);
}

void
gossip_mp_put_str(struct buf *b, const char *s)
{
	gossip_mp_put_raw(b, s, strlen(s));
}

void
gossip_mp_put_slice(struct buf *b, struct gossip_slice s)
{
	gossip_mp_put_raw(b, s.p, s.n);
}

void
gossip_mp_put_bytes_or_nil(struct buf *b, const void *p, size_t n)
{
	if (p == NULL)
		gossip_mp_put_nil(b);
	else
		gossip_mp_put_raw(b, p, n);
}

void
gossip_mp_put_array(struct buf *b, uint32_t n)
{
	if (n < 16)
		buf_addch(b, (char)(0x90 | n));
	else if (n <= 0xffff)
		put_be(b, 0xdc, n, 2);
	else
		put_be(b, 0xdd, n, 4);
}

void
gossip_mp_put_map(struct buf *b, uint32_t n)
{
	if (n < 16)
		buf_addch(b, (char)(0x80 | n));
	else if (n <= 0xffff)
		put_be(b, 0xde, n, 2);
	else
		put_be(b, 0xdf, n, 4);
}

/* ------------------------------------------------------------ decoder */

void
gossip_mp_rd_init(struct gossip_mp_rd *r, const void *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->off = 0;
	r->depth = 0;
}

static int
take(struct gossip_mp_rd *r, size_t n, const uint8_t **out)
{
	if (r->len - r->off < n)
		return -ENODATA;
	*out = r->p + r->off;
	r->off += n;
	return 0;
}

static int
take_be(struct gossip_mp_rd *r, unsigned width, uint64_t *v)
{
	const uint8_t *q;
	int rc = take(r, width, &q);
	if (rc < 0)
		return rc;
	uint64_t x = 0;
	for (unsigned i = 0; i < width; i++)
		x = x << 8 | q[i];
	*v = x;
	return 0;
}

int
gossip_mp_peek(const struct gossip_mp_rd *r, enum gossip_mp_type *t)
{
	if (r->off >= r->len)
		return -ENODATA;
	uint8_t c = r->p[r->off];
	if (c <= 0x7f || c >= 0xe0 || (c >= 0xcc && c <= 0xd3))
		*t = GOSSIP_MP_INT;
	else if (c <= 0x8f || c == 0xde || c == 0xdf)
		*t = GOSSIP_MP_MAP;
	else if (c <= 0x9f || c == 0xdc || c == 0xdd)
		*t = GOSSIP_MP_ARRAY;
	else if (c <= 0xbf || c == 0xd9 || c == 0xda || c == 0xdb ||
	    (c >= 0xc4 && c <= 0xc6))
		*t = GOSSIP_MP_RAW;
	else if (c == 0xc0)
		*t = GOSSIP_MP_NIL;
	else if (c == 0xc2 || c == 0xc3)
		*t = GOSSIP_MP_BOOL;
	else if (c == 0xca || c == 0xcb)
		*t = GOSSIP_MP_FLOAT;
	else if (c == 0xc1)
		return -EBADMSG;	/* never used */
	else
		*t = GOSSIP_MP_EXT;
	return 0;
}

bool
gossip_mp_take_nil(struct gossip_mp_rd *r)
{
	if (r->off < r->len && r->p[r->off] == 0xc0) {
		r->off++;
		return true;
	}
	return false;
}

int
gossip_mp_get_bool(struct gossip_mp_rd *r, bool *v)
{
	if (r->off >= r->len)
		return -ENODATA;
	uint8_t c = r->p[r->off];
	if (c == 0xc0 || c == 0xc2 || c == 0xc3) {
		r->off++;
		*v = c == 0xc3;
		return 0;
	}
	return -EBADMSG;
}

/*
 * Any integer family; *neg tells whether the value is negative (then *v
 * holds it as two's complement).
 */
static int
get_int(struct gossip_mp_rd *r, uint64_t *v, bool *neg)
{
	if (r->off >= r->len)
		return -ENODATA;
	uint8_t c = r->p[r->off];
	static const unsigned width[] = { 1, 2, 4, 8 };
	uint64_t x;
	int rc;

	*neg = false;
	if (c <= 0x7f || c == 0xc0) {
		r->off++;
		*v = c == 0xc0 ? 0 : c;
		return 0;
	}
	if (c >= 0xe0) {
		r->off++;
		*v = (uint64_t)(int64_t)(int8_t)c;
		*neg = true;
		return 0;
	}
	if (c >= 0xcc && c <= 0xcf) {
		r->off++;
		if ((rc = take_be(r, width[c - 0xcc], &x)) < 0)
			return rc;
		*v = x;
		return 0;
	}
	if (c >= 0xd0 && c <= 0xd3) {
		unsigned w = width[c - 0xd0];
		r->off++;
		if ((rc = take_be(r, w, &x)) < 0)
			return rc;
		if (w < 8 && (x >> (8 * w - 1)) & 1)
			x |= ~(uint64_t)0 << (8 * w);	/* sign-extend */
		*v = x;
		*neg = (int64_t)x < 0;
		return 0;
	}
	return -EBADMSG;
}

int
gossip_mp_get_u64(struct gossip_mp_rd *r, uint64_t *v)
{
	size_t save = r->off;
	bool neg;
	int rc = get_int(r, v, &neg);
	if (rc == 0 && neg) {
		r->off = save;
		return -EBADMSG;
	}
	return rc;
}

int
gossip_mp_get_i64(struct gossip_mp_rd *r, int64_t *v)
{
	size_t save = r->off;
	uint64_t x;
	bool neg;
	int rc = get_int(r, &x, &neg);
	if (rc < 0)
		return rc;
	if (!neg && x > INT64_MAX) {
		r->off = save;
		return -EBADMSG;
	}
	*v = (int64_t)x;
	return 0;
}

static int
get_bounded(struct gossip_mp_rd *r, uint64_t max, uint64_t *v)
{
	size_t save = r->off;
	int rc = gossip_mp_get_u64(r, v);
	if (rc == 0 && *v > max) {
		r->off = save;
		return -EBADMSG;
	}
	return rc;
}

int
gossip_mp_get_u32(struct gossip_mp_rd *r, uint32_t *v)
{
	uint64_t x;
	int rc = get_bounded(r, UINT32_MAX, &x);
	if (rc == 0)
		*v = (uint32_t)x;
	return rc;
}

int
gossip_mp_get_u16(struct gossip_mp_rd *r, uint16_t *v)
{
	uint64_t x;
	int rc = get_bounded(r, UINT16_MAX, &x);
	if (rc == 0)
		*v = (uint16_t)x;
	return rc;
}

int
gossip_mp_get_u8(struct gossip_mp_rd *r, uint8_t *v)
{
	uint64_t x;
	int rc = get_bounded(r, UINT8_MAX, &x);
	if (rc == 0)
		*v = (uint8_t)x;
	return rc;
}

int
gossip_mp_get_f64(struct gossip_mp_rd *r, double *v)
{
	if (r->off >= r->len)
		return -ENODATA;
	uint8_t c = r->p[r->off];
	uint64_t x;
	int rc;
	if (c == 0xc0) {
		r->off++;
		*v = 0;
		return 0;
	}
	if (c != 0xca && c != 0xcb)
		return -EBADMSG;
	r->off++;
	if ((rc = take_be(r, c == 0xca ? 4 : 8, &x)) < 0)
		return rc;
	if (c == 0xca) {
		uint32_t u = (uint32_t)x;
		float f;
		memcpy(&f, &u, sizeof(f));
		*v = f;
	} else {
		memcpy(v, &x, sizeof(*v));
	}
	return 0;
}

int
gossip_mp_get_raw(struct gossip_mp_rd *r, struct gossip_slice *s,
    bool *was_nil)
{
	if (r->off >= r->len)
		return -ENODATA;
	uint8_t c = r->p[r->off];
	size_t save = r->off;
	uint64_t n;
	int rc;

	if (was_nil)
		*was_nil = false;
	if (c == 0xc0) {
		r->off++;
		s->p = NULL;
		s->n = 0;
		if (was_nil)
			*was_nil = true;
		return 0;
	}
	r->off++;
	if (c >= 0xa0 && c <= 0xbf) {
		n = c & 0x1f;
		rc = 0;
	} else if (c == 0xd9 || c == 0xc4) {
		rc = take_be(r, 1, &n);
	} else if (c == 0xda || c == 0xc5) {
		rc = take_be(r, 2, &n);
	} else if (c == 0xdb || c == 0xc6) {
		rc = take_be(r, 4, &n);
	} else {
		r->off = save;
		return -EBADMSG;
	}
	if (rc == 0)
		rc = take(r, n, &s->p);
	if (rc < 0) {
		r->off = save;
		return rc;
	}
	s->n = n;
	return 0;
}

static int
get_container(struct gossip_mp_rd *r, uint8_t fix, uint8_t tag16,
    uint8_t tag32, unsigned per_elem, uint32_t *n)
{
	if (r->off >= r->len)
		return -ENODATA;
	uint8_t c = r->p[r->off];
	size_t save = r->off;
	uint64_t x;
	int rc = 0;

	if (c == 0xc0) {
		r->off++;
		*n = 0;
		return 0;
	}
	r->off++;
	if ((c & 0xf0) == fix)
		x = c & 0x0f;
	else if (c == tag16)
		rc = take_be(r, 2, &x);
	else if (c == tag32)
		rc = take_be(r, 4, &x);
	else
		rc = -EBADMSG;
	if (rc < 0) {
		r->off = save;
		return rc;
	}
	/*
	 * Every element takes at least one byte: a count larger than what
	 * is left cannot be valid for a complete buffer.  Report it as
	 * truncation, since a stream reader may not have the rest yet.
	 */
	if (x * per_elem > gossip_mp_left(r)) {
		r->off = save;
		return -ENODATA;
	}
	*n = (uint32_t)x;
	return 0;
}

int
gossip_mp_get_array(struct gossip_mp_rd *r, uint32_t *n)
{
	return get_container(r, 0x90, 0xdc, 0xdd, 1, n);
}

int
gossip_mp_get_map(struct gossip_mp_rd *r, uint32_t *n)
{
	return get_container(r, 0x80, 0xde, 0xdf, 2, n);
}

static int
skip_n(struct gossip_mp_rd *r, uint64_t count)
{
	int rc;
	if (++r->depth > GOSSIP_MP_MAX_DEPTH)
		return -EBADMSG;
	for (uint64_t i = 0; i < count; i++)
		if ((rc = gossip_mp_skip(r)) < 0)
			return rc;
	r->depth--;
	return 0;
}

int
gossip_mp_skip(struct gossip_mp_rd *r)
{
	enum gossip_mp_type t;
	struct gossip_slice s;
	const uint8_t *q;
	uint64_t u;
	uint32_t n;
	double d;
	bool b;
	int rc;

	if ((rc = gossip_mp_peek(r, &t)) < 0)
		return rc;
	switch (t) {
	case GOSSIP_MP_NIL:
		r->off++;
		return 0;
	case GOSSIP_MP_BOOL:
		return gossip_mp_get_bool(r, &b);
	case GOSSIP_MP_INT: {
		bool neg;
		return get_int(r, &u, &neg);
	}
	case GOSSIP_MP_FLOAT:
		return gossip_mp_get_f64(r, &d);
	case GOSSIP_MP_RAW:
		return gossip_mp_get_raw(r, &s, NULL);
	case GOSSIP_MP_ARRAY:
		if ((rc = gossip_mp_get_array(r, &n)) < 0)
			return rc;
		return skip_n(r, n);
	case GOSSIP_MP_MAP:
		if ((rc = gossip_mp_get_map(r, &n)) < 0)
			return rc;
		return skip_n(r, 2 * (uint64_t)n);
	case GOSSIP_MP_EXT: {
		/* fixext 1/2/4/8/16 (d4..d8), ext 8/16/32 (c7..c9) */
		uint8_t c = r->p[r->off];
		static const unsigned fixlen[] = { 1, 2, 4, 8, 16 };
		size_t save = r->off;
		r->off++;
		if (c >= 0xd4 && c <= 0xd8) {
			rc = take(r, 1 + fixlen[c - 0xd4], &q);
		} else {
			unsigned w = c == 0xc7 ? 1 : c == 0xc8 ? 2 : 4;
			if ((rc = take_be(r, w, &u)) == 0)
				rc = take(r, 1 + u, &q);
		}
		if (rc < 0)
			r->off = save;
		return rc;
	}
	}
	return -EBADMSG;
}

bool
gossip_slice_eq(struct gossip_slice s, const char *c)
{
	size_t n = strlen(c);
	return s.n == n && (n == 0 || memcmp(s.p, c, n) == 0);
}

bool
gossip_slice_same(struct gossip_slice a, struct gossip_slice b)
{
	return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

struct gossip_slice
gossip_slice_c(const char *s)
{
	return (struct gossip_slice){ (const uint8_t *)s, strlen(s) };
}

char *
gossip_slice_dup(struct gossip_slice s)
{
	char *p = xmalloc(s.n + 1);
	if (s.n)
		memcpy(p, s.p, s.n);
	p[s.n] = '\0';
	return p;
}

char *
gossip_slice_strdup(struct gossip_slice s)
{
	if (s.n && memchr(s.p, 0, s.n) != NULL)
		return NULL;
	return gossip_slice_dup(s);
}

static bool
field_empty(const struct gossip_mp_field *f, const uint8_t *base)
{
	const void *p = base + f->off;
	switch (f->kind & 0xff) {
	case GOSSIP_MP_K_BOOL:
		return !*(const bool *)p;
	case GOSSIP_MP_K_U8:
		return *(const uint8_t *)p == 0;
	case GOSSIP_MP_K_U16:
		return *(const uint16_t *)p == 0;
	case GOSSIP_MP_K_U32:
		return *(const uint32_t *)p == 0;
	case GOSSIP_MP_K_U64:
		return *(const uint64_t *)p == 0;
	case GOSSIP_MP_K_I64:
		return *(const int64_t *)p == 0;
	case GOSSIP_MP_K_F64:
		return *(const double *)p == 0;
	default:
		return ((const struct gossip_slice *)p)->n == 0;
	}
}

static void
put_field(struct buf *b, const struct gossip_mp_field *f, const uint8_t *base)
{
	const void *p = base + f->off;
	const struct gossip_slice *s = p;
	switch (f->kind & 0xff) {
	case GOSSIP_MP_K_BOOL:
		gossip_mp_put_bool(b, *(const bool *)p);
		break;
	case GOSSIP_MP_K_U8:
		gossip_mp_put_uint(b, *(const uint8_t *)p);
		break;
	case GOSSIP_MP_K_U16:
		gossip_mp_put_uint(b, *(const uint16_t *)p);
		break;
	case GOSSIP_MP_K_U32:
		gossip_mp_put_uint(b, *(const uint32_t *)p);
		break;
	case GOSSIP_MP_K_U64:
		gossip_mp_put_uint(b, *(const uint64_t *)p);
		break;
	case GOSSIP_MP_K_I64:
		gossip_mp_put_int(b, *(const int64_t *)p);
		break;
	case GOSSIP_MP_K_F64:
		gossip_mp_put_f64(b, *(const double *)p);
		break;
	case GOSSIP_MP_K_STR:
		gossip_mp_put_raw(b, s->p, s->n);
		break;
	default:
		gossip_mp_put_bytes_or_nil(b, s->p, s->n);
		break;
	}
}

void
gossip_mp_put_struct(struct buf *b, const struct gossip_mp_field *f,
    size_t nf, const void *in)
{
	const uint8_t *base = in;
	uint32_t n = 0;
	for (size_t i = 0; i < nf; i++)
		if (!(f[i].kind & GOSSIP_MP_OMITEMPTY) ||
		    !field_empty(&f[i], base))
			n++;
	gossip_mp_put_map(b, n);
	for (size_t i = 0; i < nf; i++) {
		if ((f[i].kind & GOSSIP_MP_OMITEMPTY) &&
		    field_empty(&f[i], base))
			continue;
		gossip_mp_put_str(b, f[i].name);
		put_field(b, &f[i], base);
	}
}

int
gossip_mp_get_field(struct gossip_mp_rd *r, const struct gossip_mp_field *f,
    void *out)
{
	void *p = (uint8_t *)out + f->off;
	switch (f->kind & 0xff) {
	case GOSSIP_MP_K_BOOL:
		return gossip_mp_get_bool(r, p);
	case GOSSIP_MP_K_U8:
		return gossip_mp_get_u8(r, p);
	case GOSSIP_MP_K_U16:
		return gossip_mp_get_u16(r, p);
	case GOSSIP_MP_K_U32:
		return gossip_mp_get_u32(r, p);
	case GOSSIP_MP_K_U64:
		return gossip_mp_get_u64(r, p);
	case GOSSIP_MP_K_I64:
		return gossip_mp_get_i64(r, p);
	case GOSSIP_MP_K_F64:
		return gossip_mp_get_f64(r, p);
	default:
		return gossip_mp_get_raw(r, p, NULL);
	}
}

static void
zero_field(const struct gossip_mp_field *f, uint8_t *base)
{
	static const size_t size[] = {
		[GOSSIP_MP_K_BOOL] = sizeof(bool),
		[GOSSIP_MP_K_U8] = 1,
		[GOSSIP_MP_K_U16] = 2,
		[GOSSIP_MP_K_U32] = 4,
		[GOSSIP_MP_K_U64] = 8,
		[GOSSIP_MP_K_I64] = 8,
		[GOSSIP_MP_K_F64] = sizeof(double),
		[GOSSIP_MP_K_STR] = sizeof(struct gossip_slice),
		[GOSSIP_MP_K_BYTES] = sizeof(struct gossip_slice),
	};
	memset(base + f->off, 0, size[f->kind & 0xff]);
}

int
gossip_mp_get_struct(struct gossip_mp_rd *r,
    const struct gossip_mp_field *f, size_t nf, void *out)
{
	uint8_t *base = out;
	struct gossip_slice key;
	uint32_t n;
	int rc;

	for (size_t i = 0; i < nf; i++)
		zero_field(&f[i], base);
	if ((rc = gossip_mp_get_map(r, &n)) < 0)
		return rc;
	for (uint32_t k = 0; k < n; k++) {
		if ((rc = gossip_mp_get_raw(r, &key, NULL)) < 0)
			return rc;
		size_t i;
		for (i = 0; i < nf; i++)
			if (gossip_slice_eq(key, f[i].name))
				break;
		rc = i < nf ? gossip_mp_get_field(r, &f[i], base) :
		    gossip_mp_skip(r);
		if (rc < 0)
			return rc;
	}
	return 0;
}
