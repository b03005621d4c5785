/*
 * The HPACK decoding an HTTP/2 client needs to read a response's header
 * fields (RFC 7541): integers with prefixes (5.1), string literals with
 * Huffman coding (5.2, the canonical code of Appendix B), the static
 * table (Appendix A).  The client announces SETTINGS_HEADER_TABLE_SIZE 0,
 * so the dynamic table stays empty: size updates are accepted, fields to
 * be indexed are passed on and forgotten, an index past the static table
 * is an error.
 */
#include "workers/checks/chk_probe.h"

#include <errno.h>
#include <string.h>

/* Code lengths of symbols 0..255 (RFC 7541 Appendix B); EOS is 30 bits.
 * The code is canonical: codes follow from the lengths. */
static const uint8_t huff_len[256] = {
	13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,
	28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
	6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,
	5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
	13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
	7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
	15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,
	6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
	20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
	24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
	22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,
	21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
	26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
	19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
	20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
	26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
};

#define HUFF_MAX 30
#define HUFF_EOS 256

static struct {
	bool ready;
	uint32_t first[HUFF_MAX + 2], count[HUFF_MAX + 2], offs[HUFF_MAX + 2];
	uint16_t order[257];
} huff;

static unsigned
sym_len(unsigned s)
{
	return s == HUFF_EOS ? HUFF_MAX : huff_len[s];
}

static void
huff_init(void)
{
	uint32_t code = 0, at = 0;
	for (unsigned s = 0; s <= HUFF_EOS; s++)
		huff.count[sym_len(s)]++;
	for (unsigned l = 1; l <= HUFF_MAX; l++) {
		huff.first[l] = code;
		huff.offs[l] = at;
		for (unsigned s = 0; s <= HUFF_EOS; s++)
			if (sym_len(s) == l)
				huff.order[at++] = (uint16_t)s;
		code = (code + huff.count[l]) << 1;
	}
	huff.ready = true;
}

int
chk_huffman_decode(const uint8_t *p, size_t n, struct buf *out)
{
	uint32_t code = 0;
	unsigned len = 0;
	if (!huff.ready)
		huff_init();
	for (size_t i = 0; i < n; i++)
		for (int b = 7; b >= 0; b--) {
			code = (code << 1) | ((p[i] >> b) & 1u);
			if (++len > HUFF_MAX)
				return -EINVAL;
			if (huff.count[len] == 0 || code < huff.first[len] ||
			    code - huff.first[len] >= huff.count[len])
				continue;
			unsigned s = huff.order[huff.offs[len] + code -
			    huff.first[len]];
			if (s == HUFF_EOS)
				return -EINVAL;
			buf_addch(out, (char)s);
			code = 0;
			len = 0;
		}
	/* Padding: fewer than 8 bits, all ones (a prefix of EOS). */
	if (len > 7 || code != (1u << len) - 1)
		return -EINVAL;
	return 0;
}

static const struct {
	const char *name, *value;
} static_table[] = {
	{ ":authority", "" }, { ":method", "GET" }, { ":method", "POST" },
	{ ":path", "/" }, { ":path", "/index.html" }, { ":scheme", "http" },
	{ ":scheme", "https" }, { ":status", "200" }, { ":status", "204" },
	{ ":status", "206" }, { ":status", "304" }, { ":status", "400" },
	{ ":status", "404" }, { ":status", "500" }, { "accept-charset", "" },
	{ "accept-encoding", "gzip, deflate" }, { "accept-language", "" },
	{ "accept-ranges", "" }, { "accept", "" },
	{ "access-control-allow-origin", "" }, { "age", "" }, { "allow", "" },
	{ "authorization", "" }, { "cache-control", "" },
	{ "content-disposition", "" }, { "content-encoding", "" },
	{ "content-language", "" }, { "content-length", "" },
	{ "content-location", "" }, { "content-range", "" },
	{ "content-type", "" }, { "cookie", "" }, { "date", "" },
	{ "etag", "" }, { "expect", "" }, { "expires", "" }, { "from", "" },
	{ "host", "" }, { "if-match", "" }, { "if-modified-since", "" },
	{ "if-none-match", "" }, { "if-range", "" },
	{ "if-unmodified-since", "" }, { "last-modified", "" },
	{ "link", "" }, { "location", "" }, { "max-forwards", "" },
	{ "proxy-authenticate", "" }, { "proxy-authorization", "" },
	{ "range", "" }, { "referer", "" }, { "refresh", "" },
	{ "retry-after", "" }, { "server", "" }, { "set-cookie", "" },
	{ "strict-transport-security", "" }, { "transfer-encoding", "" },
	{ "user-agent", "" }, { "vary", "" }, { "via", "" },
	{ "www-authenticate", "" },
};

struct cur {
	const uint8_t *p;
	size_t left;
};

/* RFC 7541 5.1. */
static int
get_int(struct cur *c, unsigned prefix, uint32_t *out)
{
	uint32_t mask = (1u << prefix) - 1, v;
	unsigned m = 0;
	if (c->left == 0)
		return -EINVAL;
	v = *c->p++ & mask;
	c->left--;
	if (v < mask) {
		*out = v;
		return 0;
	}
	for (;;) {
		uint8_t b;
		if (c->left == 0 || m > 21)
			return -EINVAL;
		b = *c->p++;
		c->left--;
		v += (uint32_t)(b & 0x7f) << m;
		m += 7;
		if (!(b & 0x80))
			break;
	}
	*out = v;
	return 0;
}

/* RFC 7541 5.2: into out (reset first). */
static int
get_str(struct cur *c, struct buf *out)
{
	uint32_t n;
	bool h;
	buf_reset(out);
	if (c->left == 0)
		return -EINVAL;
	h = (*c->p & 0x80) != 0;
	if (get_int(c, 7, &n) < 0 || n > c->left)
		return -EINVAL;
	if (h) {
		if (chk_huffman_decode(c->p, n, out) < 0)
			return -EINVAL;
	} else
		buf_add(out, c->p, n);
	c->p += n;
	c->left -= n;
	return 0;
}

static int
field(struct cur *c, unsigned prefix, struct buf *name, struct buf *value)
{
	uint32_t idx;
	if (get_int(c, prefix, &idx) < 0)
		return -EINVAL;
	if (idx == 0) {
		if (get_str(c, name) < 0)
			return -EINVAL;
	} else if (idx > nitems(static_table))
		return -EINVAL;
	else {
		buf_reset(name);
		buf_addstr(name, static_table[idx - 1].name);
	}
	return get_str(c, value);
}

int
chk_hpack_decode(const uint8_t *p, size_t n, chk_hpack_cb *cb, void *arg)
{
	struct cur c = { p, n };
	struct buf name, value;
	int r = 0;

	buf_init(&name);
	buf_init(&value);
	while (r == 0 && c.left > 0) {
		uint8_t b = *c.p;
		uint32_t idx;
		if (b & 0x80) {			/* indexed field (6.1) */
			if ((r = get_int(&c, 7, &idx)) < 0 || idx == 0 ||
			    idx > nitems(static_table)) {
				r = -EINVAL;
				break;
			}
			cb(arg, static_table[idx - 1].name,
			    strlen(static_table[idx - 1].name),
			    static_table[idx - 1].value,
			    strlen(static_table[idx - 1].value));
			continue;
		}
		if ((b & 0xe0) == 0x20) {	/* table size update (6.3) */
			r = get_int(&c, 5, &idx);
			continue;
		}
		r = field(&c, (b & 0x40) ? 6 : 4, &name, &value);
		if (r == 0)
			cb(arg, name.data ? (char *)name.data : "", name.len,
			    value.data ? (char *)value.data : "", value.len);
	}
	buf_free(&name);
	buf_free(&value);
	return r;
}
