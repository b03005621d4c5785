/*
 * HTTP/1.1 request parsing (RFC 9112), pure functions over bytes.
 *
 * The engine buffers input until http_head_end() finds the empty line that
 * ends a head, so a head split at any byte boundary parses the same as one
 * read in one piece; the head is then copied once into the request's arena
 * and parsed there in place (NUL terminators, folded lines joined).  Where
 * RFC 9112 leaves a choice we follow Go's net/http, which is what Consul
 * clients have been talking to: single SP separators in the request line,
 * bare LF accepted as a line end, exactly one Transfer-Encoding and it must
 * be "chunked" (else 501), Transfer-Encoding overriding Content-Length,
 * Transfer-Encoding ignored on HTTP/1.0, Expect other than 100-continue
 * answered 417.
 */
#include <errno.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "workers/http/http_priv.h"

size_t
http_head_end(const uint8_t *p, size_t len, size_t *scan)
{
	size_t i = *scan;

	while (i < len) {
		const uint8_t *nl = memchr(p + i, '\n', len - i);
		if (nl == NULL) {
			*scan = len;
			return 0;
		}
		i = (size_t)(nl - p);
		/* An empty line follows this LF: "\n\n" or "\n\r\n". */
		if (i + 1 >= len)
			break;
		if (p[i + 1] == '\n')
			return i + 2;
		if (p[i + 1] == '\r') {
			if (i + 2 >= len)
				break;
			if (p[i + 2] == '\n')
				return i + 3;
		}
		i++;
	}
	*scan = i;	/* re-examine this LF once more bytes arrive */
	return 0;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

ssize_t
http_pct_decode(char *out, const char *s, size_t n, bool form)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (ch == '%') {
			int hi, lo;
			if (i + 2 >= n)
				return -1;
			hi = hexval((unsigned char)s[i + 1]);
			lo = hexval((unsigned char)s[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else if (ch == '+' && form)
			out[o++] = ' ';
		else
			out[o++] = ch;
	}
	out[o] = '\0';
	return (ssize_t)o;
}

size_t
http_query_count(const char *raw, size_t n)
{
	size_t k = 1;

	for (size_t i = 0; i < n; i++)
		if (raw[i] == '&')
			k++;
	return k;
}

size_t
http_query_parse(const char *raw, size_t n, char *scratch,
    struct http_param *out, size_t max)
{
	size_t np = 0, i = 0;

	while (i < n && np < max) {
		const char *pair = raw + i;
		const char *amp = memchr(pair, '&', n - i);
		size_t plen = amp ? (size_t)(amp - pair) : n - i;
		i += plen + 1;
		/* Go 1.17+: a ';' makes the pair invalid; empty pairs vanish. */
		if (plen == 0 || memchr(pair, ';', plen) != NULL)
			continue;
		const char *eq = memchr(pair, '=', plen);
		size_t klen = eq ? (size_t)(eq - pair) : plen;
		char *k = scratch;
		ssize_t kl = http_pct_decode(k, pair, klen, true);
		if (kl < 0)
			continue;
		char *v = k + kl + 1;
		ssize_t vl = 0;
		if (eq != NULL) {
			vl = http_pct_decode(v, eq + 1, plen - klen - 1, true);
			if (vl < 0)
				continue;
		} else
			v[0] = '\0';
		scratch = v + vl + 1;
		out[np].name = k;
		out[np].value = v;
		out[np].has_value = eq != NULL;
		np++;
	}
	return np;
}

/* RFC 9110 §5.6.2 tchar. */
static bool
is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool
is_token(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_tchar((unsigned char)s[i]))
			return false;
	return true;
}

static bool
is_ows(char c)
{
	return c == ' ' || c == '\t';
}

size_t
http_head_arena_size(const uint8_t *head, size_t len)
{
	size_t lines = 1, amps = 0;
	const uint8_t *p = head, *end = head + len;

	while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		lines++;
		p++;
	}
	for (p = head; p < end && *p != '\n'; p++)
		if (*p == '&')
			amps++;
	/*
	 * copy of the head + decoded path (<= head) + decoded query
	 * (<= 2 * head) + header and param arrays + alignment slack.
	 */
	return 4 * (len + 2) + lines * sizeof(struct http_header) +
	    (amps + 1) * sizeof(struct http_param) + 2 * alignof(max_align_t);
}

static const struct {
	const char *name;
	unsigned bit;
} methods[] = {
	{ "GET", HTTP_GET }, { "HEAD", HTTP_HEAD }, { "PUT", HTTP_PUT },
	{ "POST", HTTP_POST }, { "DELETE", HTTP_DELETE },
	{ "PATCH", HTTP_PATCH }, { "OPTIONS", HTTP_OPTIONS },
};

static unsigned
method_bit(const char *m)
{
	for (size_t i = 0; i < nitems(methods); i++)
		if (strcmp(m, methods[i].name) == 0)	/* case-sensitive, RFC 9110 §9.1 */
			return methods[i].bit;
	return HTTP_OTHER;
}

struct arena {
	char *p, *end;
};

static void *
arena_take(struct arena *a, size_t n, size_t align)
{
	uintptr_t at = ((uintptr_t)a->p + align - 1) & ~(uintptr_t)(align - 1);
	char *r = (char *)at;
	if (r + n > a->end)
		return NULL;
	a->p = r + n;
	return r;
}

static int
fail(struct http_head *h, int status, const char *why)
{
	h->error = why;
	return status;
}

/* Leave only the origin-form path?query of an absolute-form target. */
static char *
strip_absolute(char *t)
{
	char *s;

	if (strncasecmp(t, "http://", 7) == 0)
		s = t + 7;
	else if (strncasecmp(t, "https://", 8) == 0)
		s = t + 8;
	else
		return NULL;
	s += strcspn(s, "/?");
	if (*s == '/')
		return s;
	/* "http://host" or "http://host?q": the path is "/". */
	s[-1] = '/';
	return s - 1;
}

static int
parse_target(struct http_head *h, struct arena *a, char *t)
{
	struct http_request *r = &h->req;

	for (const unsigned char *u = (unsigned char *)t; *u; u++)
		if (*u < 0x21 || *u == 0x7f)
			return fail(h, 400, "invalid control character in URL");
	if (strcmp(t, "*") == 0) {
		if (r->method != HTTP_OPTIONS)
			return fail(h, 400, "invalid request URI");
	} else if (t[0] != '/') {
		char *o = strip_absolute(t);
		if (o == NULL)
			return fail(h, 400, "invalid request URI");
		/* Move so that the raw path starts where t did. */
		memmove(t, o, strlen(o) + 1);
	}
	char *q = strchr(t, '?');
	size_t plen = q ? (size_t)(q - t) : strlen(t);
	size_t qlen = q ? strlen(q + 1) : 0;

	char *dpath = arena_take(a, plen + 1, 1);
	char *scratch = arena_take(a, 2 * qlen + 2, 1);
	size_t maxp = http_query_count(q ? q + 1 : "", qlen);
	struct http_param *pv = arena_take(a, maxp * sizeof(*pv),
	    alignof(struct http_param));
	if (dpath == NULL || scratch == NULL || pv == NULL)
		return fail(h, 400, "request too large");
	ssize_t dl = http_pct_decode(dpath, t, plen, false);
	if (dl < 0)
		return fail(h, 400, "invalid URL escape");
	if (memchr(dpath, '\0', (size_t)dl) != NULL)
		return fail(h, 400, "invalid URL escape");
	for (ssize_t i = 0; i < dl; i++) {
		unsigned char c = (unsigned char)dpath[i];
		/* C0, DEL and C1 (UTF-8 C2 80..9F): Go's unicode.IsPrint. */
		if (c < 0x20 || c == 0x7f || (c == 0xc2 && i + 1 < dl &&
		    (unsigned char)dpath[i + 1] >= 0x80 &&
		    (unsigned char)dpath[i + 1] <= 0x9f))
			h->path_unprintable = true;
	}
	if (q != NULL) {
		*q = '\0';
		r->raw_query = q + 1;
		r->nparams = http_query_parse(q + 1, qlen, scratch, pv, maxp);
	} else
		r->raw_query = "";
	r->raw_path = t;
	r->path = dpath;
	r->path_len = (size_t)dl;
	r->params = pv;
	return 0;
}

static int
parse_version(struct http_head *h, const char *v)
{
	if (strncmp(v, "HTTP/", 5) != 0 || v[5] < '0' || v[5] > '9' ||
	    v[6] != '.' || v[7] < '0' || v[7] > '9' || v[8] != '\0')
		return fail(h, 400, "malformed HTTP version");
	if (v[5] != '1')
		return fail(h, 505, "unsupported protocol version");
	h->req.version_minor = (uint8_t)(v[7] - '0');
	return 0;
}

static int
parse_request_line(struct http_head *h, struct arena *a, char *line)
{
	struct http_request *r = &h->req;
	char *sp1 = strchr(line, ' ');
	char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	int st;

	if (sp1 == NULL || sp2 == NULL)
		return fail(h, 400, "malformed HTTP request");
	*sp1 = *sp2 = '\0';
	if (!is_token(line, (size_t)(sp1 - line)))
		return fail(h, 400, "invalid method");
	r->method_str = line;
	r->method = method_bit(line);
	if ((st = parse_version(h, sp2 + 1)) != 0)
		return st;
	if (sp1[1] == '\0')
		return fail(h, 400, "missing request URI");
	return parse_target(h, a, sp1 + 1);
}

/* Content-Length: 1*DIGIT; repeated identical values are one (RFC 9110
 * §8.6). */
static int
header_content_length(struct http_head *h, const char *v)
{
	int64_t n = 0;

	if (*v == '\0')
		return fail(h, 400, "bad Content-Length");
	for (const char *p = v; *p; p++) {
		if (*p < '0' || *p > '9' || n > (INT64_MAX - 9) / 10)
			return fail(h, 400, "bad Content-Length");
		n = n * 10 + (*p - '0');
	}
	if (h->content_length >= 0 && h->content_length != n)
		return fail(h, 400, "multiple Content-Length headers");
	h->content_length = n;
	return 0;
}

/* Connection: a comma list of tokens (RFC 9110 §7.6.1). */
static void
header_connection(struct http_head *h, const char *v, bool *close,
    bool *ka)
{
	while (*v) {
		while (*v == ',' || is_ows(*v))
			v++;
		size_t n = strcspn(v, ",");
		size_t t = n;
		while (t > 0 && is_ows(v[t - 1]))
			t--;
		if (t == 5 && strncasecmp(v, "close", 5) == 0)
			*close = true;
		else if (t == 10 && strncasecmp(v, "keep-alive", 10) == 0)
			*ka = true;
		v += n;
	}
	(void)h;
}

struct framing {
	int te_count;
	bool te_chunked;
	bool conn_close, conn_ka;
	const char *expect;
};

static int
header_seen(struct http_head *h, struct framing *f, const struct http_header *hd)
{
	const char *n = hd->name;

	switch (n[0] | 0x20) {
	case 'c':
		if (strcasecmp(n, "Content-Length") == 0)
			return header_content_length(h, hd->value);
		if (strcasecmp(n, "Connection") == 0)
			header_connection(h, hd->value, &f->conn_close,
			    &f->conn_ka);
		break;
	case 't':
		if (strcasecmp(n, "Transfer-Encoding") == 0) {
			f->te_count++;
			f->te_chunked = strcasecmp(hd->value, "chunked") == 0;
		}
		break;
	case 'e':
		if (strcasecmp(n, "Expect") == 0)
			f->expect = hd->value;
		break;
	}
	return 0;
}

static bool
value_ok(const char *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return false;
	}
	return true;
}

/* One field line "name: value" at p[0..n) (no line end), in place. */
static int
parse_field(struct http_head *h, char *p, size_t n, struct http_header *hd,
    char **vend)
{
	char *colon = memchr(p, ':', n);

	if (colon == NULL || !is_token(p, (size_t)(colon - p)))
		return fail(h, 400, "invalid header name");
	*colon = '\0';
	char *v = colon + 1, *e = p + n;
	while (v < e && is_ows(*v))
		v++;
	while (e > v && is_ows(e[-1]))
		e--;
	if (!value_ok(v, (size_t)(e - v)))
		return fail(h, 400, "invalid header value");
	*e = '\0';
	hd->name = p;
	hd->value = v;
	*vend = e;
	return 0;
}

/* obs-fold (RFC 9112 §5.2): join the continuation with one SP. */
static int
fold_field(struct http_head *h, char *p, size_t n, char **vend)
{
	char *e = p + n;

	while (p < e && is_ows(*p))
		p++;
	while (e > p && is_ows(e[-1]))
		e--;
	if (!value_ok(p, (size_t)(e - p)))
		return fail(h, 400, "invalid header value");
	if (e > p) {
		char *w = *vend;
		*w++ = ' ';
		memmove(w, p, (size_t)(e - p));
		w += e - p;
		*w = '\0';
		*vend = w;
	}
	return 0;
}

static int
parse_fields(struct http_head *h, struct arena *a, char *p, char *end,
    struct framing *f)
{
	struct http_request *r = &h->req;
	size_t max = 1;
	char *vend = NULL;
	int st;

	for (char *q = p; q < end; q++)
		if (*q == '\n')
			max++;
	struct http_header *hv = arena_take(a, max * sizeof(*hv),
	    alignof(struct http_header));
	if (hv == NULL)
		return fail(h, 400, "request too large");
	r->headers = hv;
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char *next = nl ? nl + 1 : end;
		char *le = nl ? nl : end;
		if (le > p && le[-1] == '\r')
			le--;
		if (le == p)
			break;		/* the empty line */
		if (memchr(p, '\r', (size_t)(le - p)) != NULL)
			return fail(h, 400, "bare CR in header");
		if (is_ows(*p)) {
			if (vend == NULL)
				return fail(h, 400, "continuation before any header");
			if ((st = fold_field(h, p, (size_t)(le - p), &vend)) != 0)
				return st;
		} else {
			if (r->nheaders >= max)
				return fail(h, 400, "too many headers");
			if ((st = parse_field(h, p, (size_t)(le - p),
			    &hv[r->nheaders], &vend)) != 0)
				return st;
			r->nheaders++;
		}
		p = next;
	}
	/* Framing headers are judged after folding has completed values. */
	for (size_t i = 0; i < r->nheaders; i++)
		if ((st = header_seen(h, f, &hv[i])) != 0)
			return st;
	return 0;
}

static int
apply_framing(struct http_head *h, const struct framing *f)
{
	struct http_request *r = &h->req;
	bool v11 = r->version_minor >= 1;

	if (f->te_count > 0 && v11) {
		if (f->te_count != 1)
			return fail(h, 501, "too many transfer encodings");
		if (!f->te_chunked)
			return fail(h, 501, "unsupported transfer encoding");
		h->chunked = true;
		h->content_length = -1;	/* TE overrides CL (RFC 9112 §6.3) */
	}
	if (f->expect != NULL && v11) {
		if (strcasecmp(f->expect, "100-continue") != 0)
			return fail(h, 417, "unsupported Expect");
		h->expect_continue = true;
	}
	r->keep_alive = v11 ? !f->conn_close : (f->conn_ka && !f->conn_close);
	return 0;
}

int
http_head_parse(struct http_head *h, void *arena, size_t arena_len,
    const uint8_t *head, size_t len)
{
	struct arena a = { arena, (char *)arena + arena_len };
	struct framing f = { 0 };
	char *copy, *end, *nl;
	int st;

	memset(h, 0, sizeof(*h));
	h->content_length = -1;
	h->req.raw_query = "";
	h->req.body = (const uint8_t *)"";
	if ((copy = arena_take(&a, len + 1, 1)) == NULL)
		return fail(h, 400, "request too large");
	memcpy(copy, head, len);
	copy[len] = '\0';
	end = copy + len;
	if (memchr(copy, '\0', len) != NULL)
		return fail(h, 400, "NUL in request head");
	if ((nl = memchr(copy, '\n', len)) == NULL)
		return fail(h, 400, "malformed HTTP request");
	*nl = '\0';
	if (nl > copy && nl[-1] == '\r')
		nl[-1] = '\0';
	if (strchr(copy, '\r') != NULL)
		return fail(h, 400, "bare CR in request line");
	if ((st = parse_request_line(h, &a, copy)) != 0)
		return st;
	if ((st = parse_fields(h, &a, nl + 1, end, &f)) != 0)
		return st;
	return apply_framing(h, &f);
}

/* ---- chunked request bodies ---- */

enum {
	CH_SIZE,	/* hex digits */
	CH_SIZE_WS,	/* BWS after the digits */
	CH_EXT,		/* ;ext up to the line end */
	CH_SIZE_LF,	/* CR seen, LF expected */
	CH_DATA,
	CH_DATA_CR,
	CH_DATA_LF,
	CH_TRAILER,	/* at the start of a trailer line */
	CH_TRAILER_LINE,
	CH_END_LF,	/* CR of the final empty line seen */
	CH_DONE,
};

static void
size_line_done(struct http_chunk *st)
{
	st->line = 0;
	st->state = st->remain == 0 ? CH_TRAILER : CH_DATA;
}

/* One byte of a size line; -EBADMSG when malformed. */
static int
chunk_size_byte(struct http_chunk *st, uint8_t c)
{
	if (++st->line > HTTP_CHUNK_LINE_MAX)
		return -EBADMSG;
	switch (st->state) {
	case CH_SIZE: {
		int v = hexval(c);
		if (v >= 0) {
			if (st->remain >> 59)
				return -EBADMSG;
			st->remain = st->remain << 4 | (uint64_t)v;
			st->ndigits++;
			return 0;
		}
		if (st->ndigits == 0)
			return -EBADMSG;
		st->state = CH_SIZE_WS;
	}
		/* FALLTHROUGH */
	case CH_SIZE_WS:
		if (c == ' ' || c == '\t')
			return 0;
		if (c == ';') {
			st->state = CH_EXT;
			return 0;
		}
		if (c == '\r') {
			st->state = CH_SIZE_LF;
			return 0;
		}
		if (c == '\n') {
			size_line_done(st);
			return 0;
		}
		return -EBADMSG;
	case CH_EXT:
		if (c == '\n')
			size_line_done(st);
		else if (c < 0x20 && c != '\t' && c != '\r')
			return -EBADMSG;
		return 0;
	case CH_SIZE_LF:
		if (c != '\n')
			return -EBADMSG;
		size_line_done(st);
		return 0;
	}
	return -EBADMSG;
}

static int
chunk_trailer_byte(struct http_chunk *st, uint8_t c, bool *done)
{
	if (++st->trailers > HTTP_CHUNK_TRAILER_MAX)
		return -EBADMSG;
	switch (st->state) {
	case CH_TRAILER:
		if (c == '\r') {
			st->state = CH_END_LF;
			return 0;
		}
		if (c == '\n') {
			st->state = CH_DONE;
			*done = true;
			return 0;
		}
		st->state = CH_TRAILER_LINE;
		return 0;
	case CH_TRAILER_LINE:
		if (c == '\n')
			st->state = CH_TRAILER;
		return 0;
	case CH_END_LF:
		if (c != '\n')
			return -EBADMSG;
		st->state = CH_DONE;
		*done = true;
		return 0;
	}
	return -EBADMSG;
}

static int
chunk_grow(uint8_t **out, size_t *out_len, size_t *out_cap, size_t add)
{
	size_t need = *out_len + add + 1;

	if (need <= *out_cap)
		return 0;
	size_t cap = *out_cap ? *out_cap : 256;
	while (cap < need)
		cap *= 2;
	*out = xrealloc(*out, cap);
	*out_cap = cap;
	return 0;
}

ssize_t
http_chunk_feed(struct http_chunk *st, const uint8_t *in, size_t len,
    uint8_t **out, size_t *out_len, size_t *out_cap, size_t max, bool *done)
{
	size_t i = 0;
	int rc;

	*done = st->state == CH_DONE;
	while (i < len && !*done) {
		switch (st->state) {
		case CH_DATA: {
			size_t n = len - i;
			if (n > st->remain)
				n = (size_t)st->remain;
			if (*out_len + n > max)
				return -EFBIG;
			chunk_grow(out, out_len, out_cap, n);
			memcpy(*out + *out_len, in + i, n);
			*out_len += n;
			(*out)[*out_len] = '\0';
			st->remain -= n;
			i += n;
			if (st->remain == 0)
				st->state = CH_DATA_CR;
			continue;
		}
		case CH_DATA_CR:
			if (in[i++] != '\r')
				return -EBADMSG;
			st->state = CH_DATA_LF;
			continue;
		case CH_DATA_LF:
			if (in[i++] != '\n')
				return -EBADMSG;
			st->state = CH_SIZE;
			st->ndigits = 0;
			st->remain = 0;
			continue;
		case CH_TRAILER:
		case CH_TRAILER_LINE:
		case CH_END_LF:
			rc = chunk_trailer_byte(st, in[i++], done);
			break;
		default:
			rc = chunk_size_byte(st, in[i++]);
			if (rc == 0 && st->state == CH_DATA &&
			    *out_len + st->remain > max)
				return -EFBIG;
			break;
		}
		if (rc < 0)
			return rc;
	}
	return (ssize_t)i;
}
