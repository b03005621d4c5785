#include "lib/base64.h"

#include <errno.h>

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t
base64_encoded_len(size_t n)
{
	return (n + 2) / 3 * 4;
}

char *
base64_encode(const void *p, size_t n)
{
	const unsigned char *in = p;
	char *out = xmalloc(base64_encoded_len(n) + 1);
	size_t o = 0, i = 0;

	for (; i + 3 <= n; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 |
		    in[i + 2];
		out[o++] = b64_alphabet[v >> 18 & 63];
		out[o++] = b64_alphabet[v >> 12 & 63];
		out[o++] = b64_alphabet[v >> 6 & 63];
		out[o++] = b64_alphabet[v & 63];
	}
	if (n - i > 0) {
		unsigned v = (unsigned)in[i] << 16;
		if (n - i == 2)
			v |= (unsigned)in[i + 1] << 8;
		out[o++] = b64_alphabet[v >> 18 & 63];
		out[o++] = b64_alphabet[v >> 12 & 63];
		out[o++] = n - i == 2 ? b64_alphabet[v >> 6 & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return out;
}

static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
base64_decode(const char *s, size_t len, struct buf *out)
{
	size_t start = out->len;
	unsigned quad[4];
	int nq = 0, pad = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\r' || c == '\n')
			continue;
		if (pad > 0 && c != '=')
			goto bad;	/* data after padding */
		if (c == '=') {
			/* '=' may only fill the last one or two places. */
			if (nq < 2)
				goto bad;
			pad++;
			quad[nq++] = 0;
		} else {
			int v = b64_value(c);
			if (v < 0)
				goto bad;
			quad[nq++] = (unsigned)v;
		}
		if (nq == 4) {
			unsigned v = quad[0] << 18 | quad[1] << 12 |
			    quad[2] << 6 | quad[3];
			unsigned char b[3] = { (unsigned char)(v >> 16),
				(unsigned char)(v >> 8), (unsigned char)v };
			buf_add(out, b, (size_t)(3 - pad));
			nq = 0;
			if (pad > 0)
				pad = 3;	/* anything further is an error */
		}
	}
	if (nq != 0 || (pad > 0 && pad != 3))
		goto bad;
	return 0;
bad:
	out->len = start;
	if (out->data)
		out->data[start] = '\0';
	return -EINVAL;
}
