/*
 * The parts of Go's runtime that shape go-bexpr's results and messages:
 * unicode/utf8 decoding, strconv.Quote / Unquote, and the strconv number
 * parsers go-bexpr v0.1.2 coerces literals with (ParseInt(s, 0, 64),
 * ParseUint(s, 0, 64), ParseFloat(s, 64), ParseBool).  Written from the
 * Go documentation and observed behaviour.
 */
#include "lib/bexpr_int.h"
#include "lib/log.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

size_t
bx_utf8_decode(const char *s, size_t n, uint32_t *r)
{
	const uint8_t *p = (const uint8_t *)s;
	uint8_t lo = 0x80, hi = 0xBF;
	size_t need, i;
	uint32_t c;

	if (n == 0) {
		*r = BX_RUNE_ERROR;
		return 0;
	}
	if (p[0] < 0x80) {
		*r = p[0];
		return 1;
	}
	if (p[0] >= 0xC2 && p[0] <= 0xDF) {
		need = 1;
		c = p[0] & 0x1F;
	} else if (p[0] >= 0xE0 && p[0] <= 0xEF) {
		need = 2;
		c = p[0] & 0x0F;
		if (p[0] == 0xE0)
			lo = 0xA0;
		else if (p[0] == 0xED)
			hi = 0x9F;	/* no surrogates */
	} else if (p[0] >= 0xF0 && p[0] <= 0xF4) {
		need = 3;
		c = p[0] & 0x07;
		if (p[0] == 0xF0)
			lo = 0x90;
		else if (p[0] == 0xF4)
			hi = 0x8F;
	} else
		goto bad;
	if (n < need + 1)
		goto bad;
	for (i = 1; i <= need; i++) {
		if (p[i] < lo || p[i] > hi)
			goto bad;
		lo = 0x80;
		hi = 0xBF;
		c = c << 6 | (p[i] & 0x3F);
	}
	*r = c;
	return need + 1;
bad:
	*r = BX_RUNE_ERROR;
	return 1;
}

void
bx_utf8_append(struct buf *b, uint32_t r)
{
	char t[4];

	if (r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF))
		r = BX_RUNE_ERROR;
	if (r < 0x80) {
		buf_addch(b, (char)r);
	} else if (r < 0x800) {
		t[0] = (char)(0xC0 | r >> 6);
		t[1] = (char)(0x80 | (r & 0x3F));
		buf_add(b, t, 2);
	} else if (r < 0x10000) {
		t[0] = (char)(0xE0 | r >> 12);
		t[1] = (char)(0x80 | (r >> 6 & 0x3F));
		t[2] = (char)(0x80 | (r & 0x3F));
		buf_add(b, t, 3);
	} else {
		t[0] = (char)(0xF0 | r >> 18);
		t[1] = (char)(0x80 | (r >> 12 & 0x3F));
		t[2] = (char)(0x80 | (r >> 6 & 0x3F));
		t[3] = (char)(0x80 | (r & 0x3F));
		buf_add(b, t, 4);
	}
}

/*
 * unicode.IsPrint for the runes a filter is likely to hold.  Go consults
 * the full Unicode tables; we treat as unprintable the C1 controls, the
 * non-ASCII spaces and format characters, private use and non-characters,
 * and print everything else.  Only error messages depend on this.
 */
static bool
go_isprint(uint32_t r)
{
	if (r < 0x80)
		return r >= 0x20 && r < 0x7F;
	if (r <= 0xA0 || r == 0xAD)
		return false;
	if (r == 0x1680 || (r >= 0x2000 && r <= 0x200F) ||
	    (r >= 0x2028 && r <= 0x202F) || (r >= 0x205F && r <= 0x206F) ||
	    r == 0x3000 || r == 0xFEFF || (r >= 0xFFF9 && r <= 0xFFFB))
		return false;
	if ((r >= 0xE000 && r <= 0xF8FF) || r >= 0xF0000)
		return false;
	if ((r & 0xFFFE) == 0xFFFE || (r >= 0xFDD0 && r <= 0xFDEF))
		return false;
	return true;
}

void
bx_quote(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i = 0, w;
	uint32_t r;

	buf_addch(b, '"');
	while (i < n) {
		w = bx_utf8_decode(s + i, n - i, &r);
		if (w == 1 && r == BX_RUNE_ERROR) {
			buf_printf(b, "\\x%c%c", hex[(uint8_t)s[i] >> 4],
			    hex[(uint8_t)s[i] & 15]);
			i++;
			continue;
		}
		if (r == '"' || r == '\\') {
			buf_addch(b, '\\');
			buf_addch(b, (char)r);
		} else if (go_isprint(r)) {
			buf_add(b, s + i, w);
		} else {
			switch (r) {
			case '\a': buf_addstr(b, "\\a"); break;
			case '\b': buf_addstr(b, "\\b"); break;
			case '\f': buf_addstr(b, "\\f"); break;
			case '\n': buf_addstr(b, "\\n"); break;
			case '\r': buf_addstr(b, "\\r"); break;
			case '\t': buf_addstr(b, "\\t"); break;
			case '\v': buf_addstr(b, "\\v"); break;
			default:
				if (r < ' ' || r == 0x7F)
					buf_printf(b, "\\x%c%c", hex[r >> 4],
					    hex[r & 15]);
				else if (r < 0x10000)
					buf_printf(b, "\\u%04x", r);
				else
					buf_printf(b, "\\U%08x", r);
			}
		}
		i += w;
	}
	buf_addch(b, '"');
}

static int
unhex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* One escape after a backslash at s[0]; strconv.UnquoteChar's hard case. */
static int
unquote_escape(const char *s, size_t n, size_t *used, struct buf *out)
{
	static const char simple[] = "a\ab\bf\fn\nr\rt\tv\v\\\\\"\"";
	const char *q;
	size_t k, digits;
	uint32_t v = 0;
	int x;

	if (n < 2)
		return -1;
	if ((q = strchr(simple, s[1])) != NULL && s[1] != '\0' &&
	    (q - simple) % 2 == 0) {
		buf_addch(out, q[1]);
		*used = 2;
		return 0;
	}
	switch (s[1]) {
	case 'x': digits = 2; break;
	case 'u': digits = 4; break;
	case 'U': digits = 8; break;
	case '0': case '1': case '2': case '3':
	case '4': case '5': case '6': case '7':
		if (n < 4)
			return -1;
		for (k = 1; k < 4; k++) {
			if (s[k] < '0' || s[k] > '7')
				return -1;
			v = v << 3 | (uint32_t)(s[k] - '0');
		}
		if (v > 255)
			return -1;
		buf_addch(out, (char)v);
		*used = 4;
		return 0;
	default:
		return -1;	/* includes \' inside "..." */
	}
	if (n < 2 + digits)
		return -1;
	for (k = 0; k < digits; k++) {
		if ((x = unhex(s[2 + k])) < 0)
			return -1;
		v = v << 4 | (uint32_t)x;
	}
	*used = 2 + digits;
	if (s[1] == 'x') {
		buf_addch(out, (char)v);	/* one byte, maybe not UTF-8 */
		return 0;
	}
	if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
		return -1;
	bx_utf8_append(out, v);
	return 0;
}

int
bx_unquote(const char *s, size_t n, struct buf *out)
{
	size_t i, used;
	uint32_t r;

	if (n < 2 || s[0] != s[n - 1] || (s[0] != '"' && s[0] != '`'))
		return -1;
	if (s[0] == '`') {
		/* Raw strings drop carriage returns and nothing else. */
		for (i = 1; i < n - 1; i++) {
			if (s[i] == '`')
				return -1;
			if (s[i] != '\r')
				buf_addch(out, s[i]);
		}
		return 0;
	}
	for (i = 1; i < n - 1;) {
		if (s[i] == '\n' || s[i] == '"')
			return -1;
		if (s[i] == '\\') {
			if (unquote_escape(s + i, n - 1 - i, &used, out) < 0)
				return -1;
			i += used;
		} else if ((uint8_t)s[i] >= 0x80) {
			/* Invalid UTF-8 becomes U+FFFD, as Go's decoder does. */
			i += bx_utf8_decode(s + i, n - 1 - i, &r);
			bx_utf8_append(out, r);
		} else
			buf_addch(out, s[i++]);
	}
	return 0;
}

static char *
num_error(const char *fn, const char *s, size_t n, bool range)
{
	struct buf b;

	buf_init(&b);
	buf_printf(&b, "strconv.%s: parsing ", fn);
	bx_quote(&b, s, n);
	buf_addstr(&b, range ? ": value out of range" : ": invalid syntax");
	return buf_steal(&b);
}

static char
lower(char c)
{
	return (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
}

/* strconv's underscoreOK: "_" only between digits or after a base prefix. */
static bool
underscore_ok(const char *s, size_t n)
{
	char saw = '^';
	size_t i = 0;
	bool hex = false;

	if (n >= 1 && (s[0] == '-' || s[0] == '+')) {
		s++;
		n--;
	}
	if (n >= 2 && s[0] == '0' && (lower(s[1]) == 'b' ||
	    lower(s[1]) == 'o' || lower(s[1]) == 'x')) {
		i = 2;
		saw = '0';
		hex = lower(s[1]) == 'x';
	}
	for (; i < n; i++) {
		if ((s[i] >= '0' && s[i] <= '9') ||
		    (hex && lower(s[i]) >= 'a' && lower(s[i]) <= 'f')) {
			saw = '0';
			continue;
		}
		if (s[i] == '_') {
			if (saw != '0')
				return false;
			saw = '_';
			continue;
		}
		if (saw == '_')
			return false;
		saw = '!';
	}
	return saw != '_';
}

/* ParseUint(s, 0, 64) core: 0 ok, -1 syntax, -2 range. */
static int
parse_uint_base0(const char *s, size_t n, uint64_t *v)
{
	const char *s0 = s;
	size_t n0 = n;
	unsigned base = 10;
	uint64_t acc = 0;
	bool range = false;
	int d;

	if (n == 0)
		return -1;
	if (s[0] == '0') {
		if (n >= 3 && lower(s[1]) == 'b')
			base = 2, s += 2, n -= 2;
		else if (n >= 3 && lower(s[1]) == 'o')
			base = 8, s += 2, n -= 2;
		else if (n >= 3 && lower(s[1]) == 'x')
			base = 16, s += 2, n -= 2;
		else
			base = 8, s += 1, n -= 1;
	}
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '_')
			continue;
		if ((d = unhex(s[i])) < 0 || (unsigned)d >= base)
			return -1;
		if (acc > (UINT64_MAX - (uint64_t)d) / base)
			range = true;
		else
			acc = acc * base + (uint64_t)d;
	}
	if (memchr(s0, '_', n0) != NULL && !underscore_ok(s0, n0))
		return -1;
	*v = acc;
	return range ? -2 : 0;
}

bool
bx_parse_uint(const char *s, size_t n, uint64_t *v, char **err)
{
	int rc = parse_uint_base0(s, n, v);

	if (rc < 0)
		*err = num_error("ParseUint", s, n, rc == -2);
	return rc == 0;
}

bool
bx_parse_int(const char *s, size_t n, int64_t *v, char **err)
{
	const char *t = s;
	size_t m = n;
	bool neg = false;
	uint64_t u = 0;
	int rc;

	if (m > 0 && (t[0] == '+' || t[0] == '-')) {
		neg = t[0] == '-';
		t++;
		m--;
	}
	rc = parse_uint_base0(t, m, &u);
	if (rc == 0 && (neg ? u > (uint64_t)INT64_MAX + 1 : u > INT64_MAX))
		rc = -2;
	if (rc < 0) {
		*err = num_error("ParseInt", s, n, rc == -2);
		return false;
	}
	*v = neg ? (int64_t)(0 - u) : (int64_t)u;
	return true;
}

static bool
prefix_ci(const char *s, size_t n, const char *word)
{
	size_t k = strlen(word);

	if (n != k)
		return false;
	for (size_t i = 0; i < k; i++)
		if (lower(s[i]) != word[i])
			return false;
	return true;
}

/* Go's readFloat grammar: decimal or hex (with p exponent), underscores. */
static bool
float_syntax_ok(const char *s, size_t n)
{
	size_t i = 0;
	bool hex = false, dot = false, digits = false, us = false;

	if (i < n && (s[i] == '+' || s[i] == '-'))
		i++;
	if (i + 1 < n && s[i] == '0' && lower(s[i + 1]) == 'x') {
		hex = true;
		i += 2;
	}
	for (; i < n; i++) {
		if (s[i] == '_')
			us = true;
		else if (s[i] == '.') {
			if (dot)
				break;
			dot = true;
		} else if ((s[i] >= '0' && s[i] <= '9') ||
		    (hex && unhex(s[i]) >= 0))
			digits = true;
		else
			break;
	}
	if (!digits)
		return false;
	if (i < n && lower(s[i]) == (hex ? 'p' : 'e')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= n || s[i] < '0' || s[i] > '9')
			return false;
		for (; i < n && ((s[i] >= '0' && s[i] <= '9') || s[i] == '_');
		    i++)
			us |= s[i] == '_';
	} else if (hex)
		return false;
	if (i != n)
		return false;
	return !us || underscore_ok(s, n);
}

bool
bx_parse_float(const char *s, size_t n, double *v, char **err)
{
	static locale_t cloc;
	const char *t = s;
	size_t m = n;
	double sign = 1;
	struct buf b;
	char *end;

	if (m > 0 && (t[0] == '+' || t[0] == '-')) {
		sign = t[0] == '-' ? -1 : 1;
		t++;
		m--;
	}
	if (prefix_ci(t, m, "inf") || prefix_ci(t, m, "infinity")) {
		*v = sign * INFINITY;
		return true;
	}
	if (m == n && prefix_ci(t, m, "nan")) {
		*v = NAN;
		return true;
	}
	if (!float_syntax_ok(s, n)) {
		*err = num_error("ParseFloat", s, n, false);
		return false;
	}
	if (cloc == (locale_t)0 &&
	    (cloc = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0)) == (locale_t)0)
		fatal("newlocale");
	buf_init(&b);
	for (size_t i = 0; i < n; i++)
		if (s[i] != '_')
			buf_addch(&b, s[i]);
	errno = 0;
	*v = strtod_l((char *)b.data, &end, cloc);
	/* Overflow is Go's ErrRange; underflow to zero or subnormal is not. */
	if (errno == ERANGE && isinf(*v)) {
		buf_free(&b);
		*err = num_error("ParseFloat", s, n, true);
		return false;
	}
	buf_free(&b);
	return true;
}

bool
bx_parse_bool(const char *s, size_t n, bool *v, char **err)
{
	static const char *const yes[] = { "1", "t", "T", "TRUE", "true",
	    "True" };
	static const char *const no[] = { "0", "f", "F", "FALSE", "false",
	    "False" };

	for (size_t i = 0; i < nitems(yes); i++) {
		if (strlen(yes[i]) == n && memcmp(yes[i], s, n) == 0) {
			*v = true;
			return true;
		}
		if (strlen(no[i]) == n && memcmp(no[i], s, n) == 0) {
			*v = false;
			return true;
		}
	}
	*err = num_error("ParseBool", s, n, false);
	return false;
}

const char *
bx_op_name(enum bx_op op)
{
	static const char *const names[] = { "Equal", "Not Equal", "In",
	    "Not In", "Is Empty", "Is Not Empty", "Matches", "Not Matches" };

	return (unsigned)op < nitems(names) ? names[op] : "UNKNOWN";
}
