#include "proto/codec.h"

#include <errno.h>
#include <string.h>

struct proto_str
proto_str_c(const char *s)
{
	struct proto_str r = { s ? s : "", s ? (uint32_t)strlen(s) : 0 };
	return r;
}

char *
proto_str_dup(struct proto_str s)
{
	if (s.len && memchr(s.p, '\0', s.len) != NULL)
		return NULL;
	return xstrndup(s.len ? s.p : "", s.len);
}

bool
proto_str_eq(struct proto_str s, const char *c)
{
	size_t l = strlen(c);
	return l == s.len && (l == 0 || memcmp(s.p, c, l) == 0);
}

int
proto_str_copy(struct proto_str s, char *dst, size_t size)
{
	if (s.len >= size)
		return -ENAMETOOLONG;
	if (s.len && memchr(s.p, '\0', s.len) != NULL)
		return -EINVAL;
	if (s.len)
		memcpy(dst, s.p, s.len);
	dst[s.len] = '\0';
	return 0;
}

uint16_t proto_le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

uint32_t
proto_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

uint64_t
proto_le64(const uint8_t *p)
{
	return (uint64_t)proto_le32(p) | (uint64_t)proto_le32(p + 4) << 32;
}

void
proto_wle16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

void
proto_wle32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void
proto_wle64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void proto_put_u8(struct buf *b, uint8_t v) { buf_add(b, &v, 1); }

void
proto_put_u16(struct buf *b, uint16_t v)
{
	uint8_t t[2];
	proto_wle16(t, v);
	buf_add(b, t, 2);
}

void
proto_put_u32(struct buf *b, uint32_t v)
{
	uint8_t t[4];
	proto_wle32(t, v);
	buf_add(b, t, 4);
}

void
proto_put_u64(struct buf *b, uint64_t v)
{
	uint8_t t[8];
	proto_wle64(t, v);
	buf_add(b, t, 8);
}

void proto_put_i32(struct buf *b, int32_t v) { proto_put_u32(b, (uint32_t)v); }
void proto_put_i64(struct buf *b, int64_t v) { proto_put_u64(b, (uint64_t)v); }
void proto_put_bool(struct buf *b, bool v) { proto_put_u8(b, v ? 1 : 0); }

void
proto_put_str(struct buf *b, struct proto_str v)
{
	proto_put_u32(b, v.len);
	buf_add(b, v.p, v.len);
}

void
proto_put_strv(struct buf *b, const struct proto_strv *v)
{
	proto_put_u32(b, v->n);
	if (v->items) {
		for (uint32_t i = 0; i < v->n; i++)
			proto_put_str(b, proto_str_c(v->items[i]));
	} else if (v->strs) {
		for (uint32_t i = 0; i < v->n; i++)
			proto_put_str(b, v->strs[i]);
	} else if (v->n)
		buf_add(b, v->raw, v->rawlen);
}

static int
cur_take(struct proto_cur *c, size_t n, const uint8_t **out)
{
	if (c->left < n)
		return -EBADMSG;
	*out = c->p;
	c->p += n;
	c->left -= n;
	return 0;
}

int
proto_get_u8(struct proto_cur *c, uint8_t *v)
{
	const uint8_t *p;
	int r = cur_take(c, 1, &p);
	if (r == 0)
		*v = p[0];
	return r;
}

int
proto_get_u16(struct proto_cur *c, uint16_t *v)
{
	const uint8_t *p;
	int r = cur_take(c, 2, &p);
	if (r == 0)
		*v = proto_le16(p);
	return r;
}

int
proto_get_u32(struct proto_cur *c, uint32_t *v)
{
	const uint8_t *p;
	int r = cur_take(c, 4, &p);
	if (r == 0)
		*v = proto_le32(p);
	return r;
}

int
proto_get_u64(struct proto_cur *c, uint64_t *v)
{
	const uint8_t *p;
	int r = cur_take(c, 8, &p);
	if (r == 0)
		*v = proto_le64(p);
	return r;
}

int
proto_get_i32(struct proto_cur *c, int32_t *v)
{
	uint32_t u;
	int r = proto_get_u32(c, &u);
	if (r == 0)
		*v = (int32_t)u;
	return r;
}

int
proto_get_i64(struct proto_cur *c, int64_t *v)
{
	uint64_t u;
	int r = proto_get_u64(c, &u);
	if (r == 0)
		*v = (int64_t)u;
	return r;
}

int
proto_get_bool(struct proto_cur *c, bool *v)
{
	uint8_t u;
	int r = proto_get_u8(c, &u);
	if (r < 0)
		return r;
	if (u > 1)
		return -EBADMSG;
	*v = u == 1;
	return 0;
}

int
proto_get_str(struct proto_cur *c, struct proto_str *v)
{
	uint32_t len;
	const uint8_t *p;
	int r = proto_get_u32(c, &len);
	if (r < 0)
		return r;
	if ((r = cur_take(c, len, &p)) < 0)
		return r;
	v->p = (const char *)p;
	v->len = len;
	return 0;
}

int
proto_get_strv(struct proto_cur *c, struct proto_strv *v)
{
	uint32_t n;
	int r = proto_get_u32(c, &n);
	if (r < 0)
		return r;
	/* Each item needs at least its 4-byte length: bound n before walking. */
	if (n > c->left / 4)
		return -EBADMSG;
	const uint8_t *start = c->p;
	for (uint32_t i = 0; i < n; i++) {
		struct proto_str s;
		if ((r = proto_get_str(c, &s)) < 0)
			return r;
	}
	memset(v, 0, sizeof(*v));
	v->n = n;
	v->raw = start;
	v->rawlen = (uint32_t)(c->p - start);
	return 0;
}

void
proto_strv_iter_init(struct proto_strv_iter *it, const struct proto_strv *v)
{
	it->p = v->raw;
	it->left = v->rawlen;
	it->remaining = v->raw ? v->n : 0;
}

bool
proto_strv_next(struct proto_strv_iter *it, struct proto_str *out)
{
	struct proto_cur c = { it->p, it->left };
	if (it->remaining == 0 || proto_get_str(&c, out) < 0)
		return false;
	it->p = c.p;
	it->left = (uint32_t)c.left;
	it->remaining--;
	return true;
}
