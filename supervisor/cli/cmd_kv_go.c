/*
 * The parts of Go's standard library whose exact behaviour `consul kv`
 * shows its users (see cmd_kv.h): base64.StdEncoding's error offsets,
 * text/tabwriter's column layout (kv get -detailed), path.Join/Clean
 * (kv import -prefix) and encoding/json's string escaping (kv export).
 * Written from the Go documentation and its observable output.
 */
#include "supervisor/cli/cmd_kv.h"

#include <stdlib.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at p (Go's rules), 0 if invalid. */
static size_t
utf8_seq(const unsigned char *p, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t need, i;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		need = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		need = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		need = 4;
	else
		return 0;
	/* No overlong forms, no surrogates, nothing above U+10FFFF. */
	if (p[0] == 0xe0)
		lo = 0xa0;
	else if (p[0] == 0xed)
		hi = 0x9f;
	else if (p[0] == 0xf0)
		lo = 0x90;
	else if (p[0] == 0xf4)
		hi = 0x8f;
	if (n < need || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < need; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return need;
}

size_t
kv_rune_count(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n = 0, k;

	while (i < len) {
		k = utf8_seq(p + i, len - i);
		i += k ? k : 1;
		n++;
	}
	return n;
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
	return c == '/' ? 63 : -1;
}

static size_t
skip_newlines(const char *s, size_t len, size_t si)
{
	while (si < len && (s[si] == '\n' || s[si] == '\r'))
		si++;
	return si;
}

/*
 * One quantum of four characters, as Go's decodeQuantum: 1 when the
 * input ended cleanly, 0 to go on, -1 with *bad set.
 */
static int
b64_quantum(const char *s, size_t len, size_t *sip, struct buf *out,
    size_t *bad)
{
	unsigned q[4] = { 0 }, v;
	size_t si = *sip, trailing = 0;
	int j, dlen = 4, c;

	for (j = 0; j < 4; j++) {
		if (si == len) {
			if (j == 0)
				return 1;
			*bad = si - (size_t)j;
			return -1;
		}
		c = (unsigned char)s[si++];
		if (b64_value((unsigned char)c) >= 0) {
			q[j] = (unsigned)b64_value((unsigned char)c);
			continue;
		}
		if (c == '\n' || c == '\r') {
			j--;
			continue;
		}
		if (c != '=' || j < 2) {
			*bad = si - 1;
			return -1;
		}
		if (j == 2) {
			/* "==" expected; the first one is consumed. */
			si = skip_newlines(s, len, si);
			if (si == len || s[si] != '=') {
				*bad = si == len ? len : si - 1;
				return -1;
			}
			si++;
		}
		si = skip_newlines(s, len, si);
		if (si < len)
			trailing = si + 1;
		dlen = j;
		break;
	}
	v = q[0] << 18 | q[1] << 12 | q[2] << 6 | q[3];
	buf_addch(out, (char)(v >> 16));
	if (dlen > 2)
		buf_addch(out, (char)(v >> 8));
	if (dlen > 3)
		buf_addch(out, (char)v);
	*sip = si;
	if (trailing) {
		*bad = trailing - 1;
		return -1;
	}
	return dlen < 4 ? 1 : 0;
}

int
kv_b64_decode(const char *s, size_t len, struct buf *out, size_t *bad)
{
	size_t si = 0;
	int r;

	/* Padding ends the input: anything after it is an error. */
	while ((r = b64_quantum(s, len, &si, out, bad)) == 0)
		;
	return r < 0 ? -1 : 0;
}

/* text/tabwriter --------------------------------------------------- */

struct tw_cell {
	size_t off, size;
	long width;
};

struct tw_line {
	struct tw_cell *cells;
	size_t n;
	bool nl;		/* ended by a newline (all but the last) */
};

struct tw {
	const char *text;
	struct buf *out;
	struct tw_line *lines;
	size_t nlines;
	long *widths;		/* one per column, as deep as the recursion */
	long minwidth, padding;
};

static void
tw_write_lines(struct tw *t, size_t line0, size_t line1, size_t ncol)
{
	size_t i, j;
	long k;

	for (i = line0; i < line1; i++) {
		const struct tw_line *l = &t->lines[i];

		for (j = 0; j < l->n; j++) {
			const struct tw_cell *c = &l->cells[j];

			buf_add(t->out, t->text + c->off, c->size);
			if (j < ncol)
				for (k = c->width; k < t->widths[j]; k++)
					buf_addch(t->out, ' ');
		}
		if (l->nl)
			buf_addch(t->out, '\n');
	}
}

/*
 * Go's Writer.format: a column block is a run of consecutive lines that
 * have a tab-terminated cell in this column (a line's last cell belongs
 * to no column); its width is the widest such cell plus padding.
 */
static void
tw_format(struct tw *t, size_t line0, size_t line1, size_t col)
{
	size_t this;
	long w, width;

	for (this = line0; this < line1; this++) {
		if (col + 1 >= t->lines[this].n)
			continue;
		tw_write_lines(t, line0, this, col);
		line0 = this;
		width = t->minwidth;
		for (; this < line1 && col + 1 < t->lines[this].n; this++)
			if ((w = t->lines[this].cells[col].width +
			    t->padding) > width)
				width = w;
		t->widths[col] = width;
		tw_format(t, line0, this, col + 1);
		/* Go's loop then skips this line: it has no such column. */
		line0 = this;
	}
	tw_write_lines(t, line0, line1, col);
}

/* Format and print the buffered lines, as Go's flush. */
static void
tw_flush(struct tw *t)
{
	size_t i, most = 1;

	for (i = 0; i < t->nlines; i++)
		most = MAX(most, t->lines[i].n);
	t->widths = xcalloc(most, sizeof(*t->widths));
	tw_format(t, 0, t->nlines, 0);
	free(t->widths);
	for (i = 0; i < t->nlines; i++)
		free(t->lines[i].cells);
	t->nlines = 0;
}

static struct tw_line *
tw_cur(struct tw *t)
{
	return &t->lines[t->nlines - 1];
}

static void
tw_add_line(struct tw *t)
{
	t->lines = xrealloc(t->lines, (t->nlines + 1) * sizeof(*t->lines));
	memset(&t->lines[t->nlines++], 0, sizeof(*t->lines));
}

static void
tw_add_cell(struct tw *t, size_t start, size_t end, long escapes)
{
	struct tw_line *l = tw_cur(t);

	l->cells = xrealloc(l->cells, (l->n + 1) * sizeof(*l->cells));
	l->cells[l->n].off = start;
	l->cells[l->n].size = end - start;
	/* Escape bytes are written but not counted. */
	l->cells[l->n++].width = (long)kv_rune_count(t->text + start,
	    end - start) - 2 * escapes;
}

void
kv_tabwrite(struct buf *out, const char *text, size_t len, int minwidth,
    int padding)
{
	struct tw t = { .text = text, .out = out, .minwidth = minwidth,
		.padding = padding };
	size_t i, start = 0;
	long escapes = 0;
	bool esc = false;

	tw_add_line(&t);
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)text[i];

		if (ch == 0xff) {
			if (esc)
				escapes++;
			esc = !esc;
		}
		if (esc || !strchr("\t\v\n\f", ch) || ch == '\0')
			continue;
		tw_add_cell(&t, start, i, escapes);
		start = i + 1;
		escapes = 0;
		if (ch == '\n' || ch == '\f') {
			bool flush = ch == '\f' || tw_cur(&t)->n == 1;

			tw_cur(&t)->nl = true;
			if (flush)
				tw_flush(&t);
			tw_add_line(&t);
		}
	}
	if (start < len)
		tw_add_cell(&t, start, len, escapes + (esc ? 1 : 0));
	tw_flush(&t);
	free(t.lines);
}

/* path.Join / path.Clean -------------------------------------------- */

/* Go's path.Clean (Rob Pike's lexical rules); never empty. */
static char *
path_clean(const char *p)
{
	size_t n = strlen(p), r = 0, w = 0, dotdot = 0;
	bool rooted = n > 0 && p[0] == '/';
	char *o = xmalloc(n + 2);

	if (rooted) {
		o[w++] = '/';
		r = dotdot = 1;
	}
	while (r < n) {
		if (p[r] == '/')
			r++;
		else if (p[r] == '.' && (r + 1 == n || p[r + 1] == '/'))
			r++;
		else if (p[r] == '.' && p[r + 1] == '.' &&
		    (r + 2 == n || p[r + 2] == '/')) {
			r += 2;
			if (w > dotdot) {
				for (w--; w > dotdot && o[w] != '/'; w--)
					;
			} else if (!rooted) {
				if (w > 0)
					o[w++] = '/';
				o[w++] = '.';
				o[w++] = '.';
				dotdot = w;
			}
		} else {
			if ((rooted && w != 1) || (!rooted && w != 0))
				o[w++] = '/';
			for (; r < n && p[r] != '/'; r++)
				o[w++] = p[r];
		}
	}
	if (w == 0)
		o[w++] = '.';
	o[w] = '\0';
	return o;
}

char *
kv_path_join(const char *a, const char *b)
{
	char *j, *c;

	if (*a == '\0')
		return *b ? path_clean(b) : xstrdup("");
	j = xasprintf("%s/%s", a, b);
	c = path_clean(j);
	free(j);
	return c;
}

/* encoding/json strings ---------------------------------------------- */

void
kv_json_string(struct buf *out, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k;

	buf_addch(out, '"');
	while (i < len) {
		unsigned char c = p[i];

		if (c >= 0x80) {
			k = utf8_seq(p + i, len - i);
			if (k == 0)
				buf_addstr(out, "\\ufffd");
			else if (k == 3 && c == 0xe2 && p[i + 1] == 0x80 &&
			    (p[i + 2] == 0xa8 || p[i + 2] == 0xa9))
				/* U+2028, U+2029: unsafe in JavaScript. */
				buf_printf(out, "\\u202%c", hex[p[i + 2] & 15]);
			else
				buf_add(out, p + i, k);
			i += k ? k : 1;
			continue;
		}
		i++;
		if (c == '"' || c == '\\') {
			buf_addch(out, '\\');
			buf_addch(out, (char)c);
		} else if (c >= 0x20 && !strchr("<>&", c))
			buf_addch(out, (char)c);
		else if (c && strchr("\b\f\n\r\t", c)) {
			buf_addch(out, '\\');
			buf_addch(out, "bfnrt"[strchr("\b\f\n\r\t", c) -
			    "\b\f\n\r\t"]);
		} else {
			/* Control characters, and <>& as HTML-safe Go. */
			buf_printf(out, "\\u00%c%c", hex[c >> 4], hex[c & 15]);
		}
	}
	buf_addch(out, '"');
}
