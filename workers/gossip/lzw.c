/*
 * Go-compatible LZW (compress/lzw, LSB, litWidth 8); see lzw.h.
 * Written from the algorithm description in gossip-protocol.md §8.
 */
#include "workers/gossip/lzw.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define LZW_CLEAR 256u
#define LZW_EOF 257u
#define LZW_MAXCODE 4095u
#define LZW_MAXWIDTH 12u
#define LZW_TABSIZE (4u * 4096u)	/* power of two, load <= 1/4 */

struct lzw_enc {
	struct buf *out;
	uint32_t bits;
	unsigned nbits;
	unsigned width;
	uint32_t hi, overflow;
	/* key (prefix code << 8 | byte) + 1, 0 = empty; and the code */
	uint32_t key[LZW_TABSIZE];
	uint16_t val[LZW_TABSIZE];
};

static void
enc_emit(struct lzw_enc *e, uint32_t code)
{
	e->bits |= code << e->nbits;
	e->nbits += e->width;
	while (e->nbits >= 8) {
		buf_addch(e->out, (char)(uint8_t)e->bits);
		e->bits >>= 8;
		e->nbits -= 8;
	}
}

static void
enc_reset(struct lzw_enc *e)
{
	e->width = 9;
	e->hi = LZW_EOF;
	e->overflow = 1u << 9;
	memset(e->key, 0, sizeof(e->key));
}

/*
 * The next code to assign moves up; the width grows when it reaches the
 * current limit.  When code 4095 would be assigned the table is full:
 * emit CLEAR (at the current width) and start over.  Returns false then,
 * telling the caller not to record the new string.
 */
static bool
enc_inc_hi(struct lzw_enc *e)
{
	e->hi++;
	if (e->hi == e->overflow) {
		e->width++;
		e->overflow <<= 1;
	}
	if (e->hi == LZW_MAXCODE) {
		enc_emit(e, LZW_CLEAR);
		enc_reset(e);
		return false;
	}
	return true;
}

static uint32_t
enc_slot(uint32_t key)
{
	return (key * 2654435761u) >> 18 & (LZW_TABSIZE - 1);
}

void
gossip_lzw_compress(const uint8_t *in, size_t n, struct buf *out)
{
	struct lzw_enc *e = xcalloc(1, sizeof(*e));
	e->out = out;
	enc_reset(e);
	enc_emit(e, LZW_CLEAR);
	if (n > 0) {
		uint32_t code = in[0];
		for (size_t i = 1; i < n; i++) {
			uint32_t key = code << 8 | in[i];
			uint32_t h = enc_slot(key);
			bool hit = false;
			while (e->key[h] != 0) {
				if (e->key[h] == key + 1) {
					code = e->val[h];
					hit = true;
					break;
				}
				h = (h + 1) & (LZW_TABSIZE - 1);
			}
			if (hit)
				continue;
			enc_emit(e, code);
			code = in[i];
			if (!enc_inc_hi(e))
				continue;
			e->key[h] = key + 1;
			e->val[h] = (uint16_t)e->hi;
		}
		enc_emit(e, code);
		(void)enc_inc_hi(e);
	}
	enc_emit(e, LZW_EOF);
	if (e->nbits > 0)
		buf_addch(out, (char)(uint8_t)e->bits);
	free(e);
}

struct lzw_dec {
	uint16_t prefix[4096];
	uint8_t suffix[4096];
	uint8_t stack[4097];
};

/* Expand code into d->stack (right-aligned); returns the start index. */
static size_t
dec_expand(struct lzw_dec *d, uint32_t code)
{
	size_t i = sizeof(d->stack);
	while (code >= LZW_CLEAR && i > 1) {
		d->stack[--i] = d->suffix[code];
		code = d->prefix[code];
	}
	d->stack[--i] = (uint8_t)code;
	return i;
}

static int
dec_run(struct lzw_dec *d, const uint8_t *in, size_t n, size_t max_out,
    struct buf *out)
{
	uint32_t bits = 0, last = UINT32_MAX;
	unsigned nbits = 0, width = 9;
	uint32_t hi = LZW_EOF, overflow = 1u << 9;
	size_t pos = 0, start = out->len;

	for (;;) {
		while (nbits < width) {
			if (pos >= n)
				return -EBADMSG;	/* no EOF code */
			bits |= (uint32_t)in[pos++] << nbits;
			nbits += 8;
		}
		uint32_t code = bits & ((1u << width) - 1);
		bits >>= width;
		nbits -= width;

		if (code == LZW_CLEAR) {
			width = 9;
			hi = LZW_EOF;
			overflow = 1u << 9;
			last = UINT32_MAX;
			continue;
		}
		if (code == LZW_EOF)
			return 0;
		size_t i;
		uint8_t first;
		if (code < LZW_CLEAR) {
			i = sizeof(d->stack) - 1;
			d->stack[i] = (uint8_t)code;
			first = (uint8_t)code;
		} else if (code < hi) {
			i = dec_expand(d, code);
			first = d->stack[i];
		} else if (code == hi && last != UINT32_MAX) {
			/* KwKwK: last's expansion plus its own first byte */
			i = dec_expand(d, last);
			first = d->stack[i];
			memmove(d->stack + i - 1, d->stack + i,
			    sizeof(d->stack) - i);
			d->stack[sizeof(d->stack) - 1] = first;
			i--;
		} else {
			return -EBADMSG;
		}
		size_t len = sizeof(d->stack) - i;
		if (out->len - start + len > max_out)
			return -EMSGSIZE;
		buf_add(out, d->stack + i, len);
		if (last != UINT32_MAX) {
			d->suffix[hi] = first;
			d->prefix[hi] = (uint16_t)last;
		}
		last = code;
		hi++;
		if (hi >= overflow) {
			if (width == LZW_MAXWIDTH) {
				last = UINT32_MAX;
				hi--;
			} else {
				width++;
				overflow <<= 1;
			}
		}
	}
}

int
gossip_lzw_decompress(const uint8_t *in, size_t n, size_t max_out,
    struct buf *out)
{
	struct lzw_dec *d = xmalloc(sizeof(*d));
	size_t start = out->len;
	int rc = dec_run(d, in, n, max_out, out);
	free(d);
	if (rc < 0)
		out->len = start;
	return rc;
}
