/*
 * Regular expressions for "matches": Go's regexp syntax (RE2, as
 * regexp.Compile parses it: Perl flags, so ^ $ anchor the text unless
 * (?m), . skips \n unless (?s), [^x] matches \n) with Go's error texts,
 * compiled to a Thompson NFA and run as a state-set simulation: time
 * linear in the subject, memory fixed at compile time.  Only "is there a
 * match anywhere" is answered, so greediness and captures do not matter.
 *
 * Unicode classes and case folding use Go's own tables (bexpr_unicode.c,
 * Unicode 13 as in Go 1.19); names also match Go's later canonical forms
 * (case, "_", "-", " " ignored) and \p{ASCII}.
 */
#include "lib/bexpr_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAXRUNE 0x10FFFFu
#define RE_MAX_REPEAT 1000
#define RE_MAX_DEPTH 1000
/* Bounds the NFA's size and so the O(subject x program) matching cost.
 * Go allows larger programs; a filter has no use for them. */
#define RE_MAX_INST 20000

enum { F_FOLD = 1, F_DOTNL = 2, F_MULTILINE = 4, F_UNGREEDY = 8 };
enum { A_BOT, A_EOT, A_BOL, A_EOL, A_WORDB, A_NWORDB };
enum { N_EMPTY, N_CLASS, N_ASSERT, N_CAT, N_ALT, N_REP };

struct cls {
	uint32_t *r;		/* lo,hi pairs, sorted and merged when done */
	size_t n, cap;		/* n counts uint32s */
};

struct rnode {
	int type;
	int assert;
	struct cls cls;
	struct rnode **sub;
	size_t nsub;
	int min, max;		/* N_REP; max -1 = unbounded */
	bool counted;		/* {n,m} (Go's OpRepeat), not * + ? */
};

struct rp {
	const char *s;		/* whole pattern */
	size_t n, i;
	unsigned flags;
	int depth;
	struct buf *err;
	bool failed;
};

/* ---- character classes ---- */

static void
cls_add(struct cls *c, uint32_t lo, uint32_t hi)
{
	if (c->n + 2 > c->cap) {
		c->cap = c->cap ? c->cap * 2 : 8;
		c->r = xrealloc(c->r, c->cap * sizeof(*c->r));
	}
	c->r[c->n++] = lo;
	c->r[c->n++] = hi;
}

static int
range_cmp(const void *a, const void *b)
{
	const uint32_t *x = a, *y = b;

	if (x[0] != y[0])
		return x[0] < y[0] ? -1 : 1;
	return x[1] > y[1] ? -1 : x[1] < y[1];
}

static void
cls_clean(struct cls *c)
{
	size_t w = 0;

	if (c->n == 0)
		return;
	qsort(c->r, c->n / 2, 2 * sizeof(uint32_t), range_cmp);
	for (size_t i = 0; i < c->n; i += 2) {
		if (w > 0 && c->r[i] <= c->r[w - 1] + 1) {
			if (c->r[i + 1] > c->r[w - 1])
				c->r[w - 1] = c->r[i + 1];
			continue;
		}
		c->r[w++] = c->r[i];
		c->r[w++] = c->r[i + 1];
	}
	c->n = w;
}

static void
cls_negate(struct cls *c)
{
	struct cls out = { 0 };
	uint32_t next = 0;

	cls_clean(c);
	for (size_t i = 0; i < c->n; i += 2) {
		if (c->r[i] > next)
			cls_add(&out, next, c->r[i] - 1);
		next = c->r[i + 1] + 1;
	}
	if (next <= MAXRUNE)
		cls_add(&out, next, MAXRUNE);
	free(c->r);
	*c = out;
}

static bool
cls_has(const struct cls *c, uint32_t r)
{
	size_t lo = 0, hi = c->n / 2;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (r < c->r[2 * mid])
			hi = mid;
		else if (r > c->r[2 * mid + 1])
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

/* First index in the fold table whose rune is >= r. */
static size_t
fold_lower_bound(uint32_t r)
{
	size_t lo = 0, hi = bx_nfold;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (bx_fold_orbit[mid][0] < r)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The other members of r's simple-folding orbit (unicode.SimpleFold). */
static size_t
fold_equiv(uint32_t r, uint32_t out[3])
{
	size_t n = 0, k;
	uint32_t f = r;

	for (;;) {
		k = fold_lower_bound(f);
		if (k >= bx_nfold || bx_fold_orbit[k][0] != f)
			return n;
		f = bx_fold_orbit[k][1];
		if (f == r || n == 3)
			return n;
		out[n++] = f;
	}
}

/* Add lo-hi and, under (?i), every rune fold-equivalent to one in it. */
static void
cls_add_folded(struct cls *c, uint32_t lo, uint32_t hi, unsigned flags)
{
	uint32_t eq[3];

	cls_add(c, lo, hi);
	if (!(flags & F_FOLD))
		return;
	for (size_t k = fold_lower_bound(lo);
	    k < bx_nfold && bx_fold_orbit[k][0] <= hi; k++) {
		size_t n = fold_equiv(bx_fold_orbit[k][0], eq);
		for (size_t j = 0; j < n; j++)
			cls_add(c, eq[j], eq[j]);
	}
}

/* ---- parse errors, worded as Go's regexp/syntax ---- */

static void
re_fail(struct rp *p, const char *code, const char *expr, size_t len)
{
	if (p->failed)
		return;
	p->failed = true;
	buf_printf(p->err, "error parsing regexp: %s: `", code);
	buf_add(p->err, expr, len);
	buf_addch(p->err, '`');
}

/* Next rune of the pattern; invalid UTF-8 is Go's ErrInvalidUTF8. */
static bool
next_rune(struct rp *p, uint32_t *r)
{
	size_t w = bx_utf8_decode(p->s + p->i, p->n - p->i, r);

	if (w == 1 && *r == BX_RUNE_ERROR) {
		re_fail(p, "invalid UTF-8", p->s + p->i, p->n - p->i);
		return false;
	}
	p->i += w;
	return true;
}

static struct rnode *
rnode_new(int type)
{
	struct rnode *n = xcalloc(1, sizeof(*n));

	n->type = type;
	return n;
}

static void
rnode_free(struct rnode *n)
{
	if (n == NULL)
		return;
	for (size_t i = 0; i < n->nsub; i++)
		rnode_free(n->sub[i]);
	free(n->sub);
	free(n->cls.r);
	free(n);
}

static void
rnode_push(struct rnode *n, struct rnode *sub)
{
	n->sub = xrealloc(n->sub, (n->nsub + 1) * sizeof(*n->sub));
	n->sub[n->nsub++] = sub;
}

static struct rnode *
literal(struct rp *p, uint32_t r)
{
	struct rnode *n = rnode_new(N_CLASS);

	cls_add_folded(&n->cls, r, r, p->flags);
	cls_clean(&n->cls);
	return n;
}

static bool
isalnum_ascii(uint32_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z');
}

static int
hexval(uint32_t c)
{
	if (c >= '0' && c <= '9')
		return (int)(c - '0');
	if (c >= 'a' && c <= 'f')
		return (int)(c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (int)(c - 'A' + 10);
	return -1;
}

/* Go's parseEscape: the backslash is at p->i. */
static bool
parse_escape(struct rp *p, uint32_t *out)
{
	size_t start = p->i;
	uint32_t c, v = 0;
	int x, y;

	p->i++;
	if (p->i >= p->n) {
		re_fail(p, "trailing backslash at end of expression", "", 0);
		return false;
	}
	if (!next_rune(p, &c))
		return false;
	if (c < 0x80 && !isalnum_ascii(c)) {
		*out = c;
		return true;
	}
	switch (c) {
	case '1': case '2': case '3': case '4': case '5': case '6': case '7':
		if (p->i >= p->n || p->s[p->i] < '0' || p->s[p->i] > '7')
			break;	/* a backreference: not supported */
		/* FALLTHROUGH */
	case '0':
		v = c - '0';
		for (int k = 1; k < 3 && p->i < p->n && p->s[p->i] >= '0' &&
		    p->s[p->i] <= '7'; k++)
			v = v * 8 + (uint32_t)(p->s[p->i++] - '0');
		*out = v;
		return true;
	case 'x':
		if (p->i >= p->n)
			break;
		if (!next_rune(p, &c))
			return false;
		if (c == '{') {
			int nhex = 0;
			for (;;) {
				if (p->i >= p->n)
					goto bad;
				if (!next_rune(p, &c))
					return false;
				if (c == '}')
					break;
				if ((x = hexval(c)) < 0)
					goto bad;
				v = v * 16 + (uint32_t)x;
				if (v > MAXRUNE)
					goto bad;
				nhex++;
			}
			if (nhex == 0)
				break;
			*out = v;
			return true;
		}
		x = hexval(c);
		c = BX_RUNE_ERROR;
		if (p->i < p->n && !next_rune(p, &c))
			return false;
		y = hexval(c);
		if (x < 0 || y < 0)
			break;
		*out = (uint32_t)(x * 16 + y);
		return true;
	case 'a': *out = '\a'; return true;
	case 'f': *out = '\f'; return true;
	case 'n': *out = '\n'; return true;
	case 'r': *out = '\r'; return true;
	case 't': *out = '\t'; return true;
	case 'v': *out = '\v'; return true;
	}
bad:
	re_fail(p, "invalid escape sequence", p->s + start, p->i - start);
	return false;
}

/* \d \s \w and negations; p->i at the backslash.  Returns false if the
 * escape is not one of them. */
static bool
perl_class(struct rp *p, struct cls *c)
{
	struct cls g = { 0 };
	char k;

	if (p->i + 1 >= p->n || p->s[p->i] != '\\')
		return false;
	k = p->s[p->i + 1];
	switch (k | 0x20) {
	case 'd': cls_add(&g, '0', '9'); break;
	case 's':
		cls_add(&g, '\t', '\n'); cls_add(&g, '\f', '\r');
		cls_add(&g, ' ', ' ');
		break;
	case 'w':
		cls_add(&g, '0', '9'); cls_add(&g, 'A', 'Z');
		cls_add(&g, '_', '_'); cls_add(&g, 'a', 'z');
		break;
	default:
		return false;
	}
	if (k != 'd' && k != 's' && k != 'w' && k != 'D' && k != 'S' &&
	    k != 'W') {
		free(g.r);
		return false;
	}
	if (p->flags & F_FOLD) {
		struct cls f = { 0 };
		for (size_t i = 0; i < g.n; i += 2)
			cls_add_folded(&f, g.r[i], g.r[i + 1], p->flags);
		free(g.r);
		g = f;
	}
	if (k >= 'A' && k <= 'Z')
		cls_negate(&g);
	for (size_t i = 0; i < g.n; i += 2)
		cls_add(c, g.r[i], g.r[i + 1]);
	free(g.r);
	p->i += 2;
	return true;
}

/* [:alpha:] and friends inside a class; p->i at "[:". */
static int
posix_class(struct rp *p, struct cls *c)
{
	static const struct { const char *name; const char *ranges; } t[] = {
		{ "alnum", "09AZaz" }, { "alpha", "AZaz" },
		{ "ascii", "\x01\x7f" }, { "blank", "\t\t  " },
		{ "cntrl", "\x01\x1f\x7f\x7f" }, { "digit", "09" },
		{ "graph", "!~" }, { "lower", "az" }, { "print", " ~" },
		{ "punct", "!/:@[`{~" }, { "space", "\t\r  " },
		{ "upper", "AZ" }, { "word", "09AZ__az" },
		{ "xdigit", "09AFaf" },
	};
	const char *s = p->s + p->i, *end;
	size_t len, rest = p->n - p->i;
	bool neg;

	end = rest > 2 ? memmem(s + 2, rest - 2, ":]", 2) : NULL;
	if (end == NULL)
		return 0;		/* not a named class: "[" is literal */
	len = (size_t)(end - s) + 2;
	neg = s[2] == '^';
	for (size_t i = 0; i < nitems(t); i++) {
		size_t nl = strlen(t[i].name);
		if (len != nl + 4 + neg || memcmp(s + 2 + neg, t[i].name, nl))
			continue;
		struct cls g = { 0 };
		for (const char *q = t[i].ranges; *q != '\0'; q += 2)
			cls_add_folded(&g, (uint8_t)q[0], (uint8_t)q[1],
			    p->flags);
		if (strcmp(t[i].name, "ascii") == 0 ||
		    strcmp(t[i].name, "cntrl") == 0)
			cls_add(&g, 0, 0);
		if (neg)
			cls_negate(&g);
		for (size_t k = 0; k < g.n; k += 2)
			cls_add(c, g.r[k], g.r[k + 1]);
		free(g.r);
		p->i += len;
		return 1;
	}
	re_fail(p, "invalid character class range", s, len);
	return -1;
}

/* Go's canonicalName: names match ignoring case and "_", "-", " ". */
static bool
uname_eq(const char *a, const char *b, size_t blen)
{
	size_t i = 0, j = 0;

	for (;;) {
		while (a[i] == '_' || a[i] == '-' || a[i] == ' ')
			i++;
		while (j < blen && (b[j] == '_' || b[j] == '-' || b[j] == ' '))
			j++;
		if (a[i] == '\0' || j == blen)
			return a[i] == '\0' && j == blen;
		if ((a[i] | 0x20) != (b[j] | 0x20))
			return false;
		i++;
		j++;
	}
}

/* Append the named table (categories, scripts, Any, ASCII); false if Go
 * knows no such name.  Exact names win over canonical matches, so "Lu"
 * and "LU" are not confused with "Lu"-like script names. */
static bool
append_utable(struct cls *g, const char *nm, size_t len)
{
	const struct bx_utable *t = NULL;

	if (len == 3 && memcmp(nm, "Any", 3) == 0) {
		cls_add(g, 0, MAXRUNE);
		return true;
	}
	if (uname_eq("ascii", nm, len)) {
		cls_add(g, 0, 0x7F);
		return true;
	}
	for (size_t i = 0; i < bx_nutables && t == NULL; i++)
		if (strlen(bx_utables[i].name) == len &&
		    memcmp(bx_utables[i].name, nm, len) == 0)
			t = &bx_utables[i];
	for (size_t i = 0; i < bx_nutables && t == NULL; i++)
		if (uname_eq(bx_utables[i].name, nm, len))
			t = &bx_utables[i];
	if (t == NULL)
		return false;
	for (size_t k = 0; k < t->n; k += 2)
		cls_add(g, t->r[k], t->r[k + 1]);
	return true;
}

/* \p{Name} / \pN / \P... / \p{^Name}; 1 parsed, 0 not a \p, -1 error. */
static int
unicode_class(struct rp *p, struct cls *c)
{
	const char *s = p->s + p->i, *nm;
	size_t rest = p->n - p->i, seqlen, nmlen;
	struct cls g = { 0 }, f = { 0 };
	bool neg;
	uint32_t r;

	if (rest < 2 || s[0] != '\\' || (s[1] != 'p' && s[1] != 'P'))
		return 0;
	neg = s[1] == 'P';
	if (rest > 2 && s[2] == '{') {
		const char *end = memchr(s, '}', rest);
		if (end == NULL) {
			re_fail(p, "invalid character class range", s, rest);
			return -1;
		}
		seqlen = (size_t)(end - s) + 1;
		nm = s + 3;
		nmlen = seqlen - 4;
	} else {
		size_t w = bx_utf8_decode(s + 2, rest - 2, &r);
		seqlen = 2 + w;
		nm = s + 2;
		nmlen = w;
	}
	if (nmlen > 0 && nm[0] == '^') {
		neg = !neg;
		nm++;
		nmlen--;
	}
	if (!append_utable(&g, nm, nmlen)) {
		re_fail(p, "invalid character class range", s, seqlen);
		return -1;
	}
	if (p->flags & F_FOLD) {
		for (size_t k = 0; k < g.n; k += 2)
			cls_add_folded(&f, g.r[k], g.r[k + 1], p->flags);
		free(g.r);
		g = f;
	}
	if (neg)
		cls_negate(&g);
	for (size_t k = 0; k < g.n; k += 2)
		cls_add(c, g.r[k], g.r[k + 1]);
	free(g.r);
	p->i += seqlen;
	return 1;
}

/* One class character (maybe escaped); p->i inside the class. */
static bool
class_char(struct rp *p, size_t whole, uint32_t *r)
{
	if (p->i >= p->n) {
		re_fail(p, "missing closing ]", p->s + whole, p->n - whole);
		return false;
	}
	if (p->s[p->i] == '\\')
		return parse_escape(p, r);
	return next_rune(p, r);
}

/* Go's parseClass: p->i at "[". */
static struct rnode *
parse_class(struct rp *p)
{
	size_t whole = p->i, rng;
	struct rnode *n = rnode_new(N_CLASS);
	bool neg = false, first = true;
	uint32_t lo, hi;
	int rc;

	p->i++;
	if (p->i < p->n && p->s[p->i] == '^') {
		neg = true;
		p->i++;
	}
	while (p->i >= p->n || p->s[p->i] != ']' || first) {
		first = false;
		if (p->n - p->i > 2 && p->s[p->i] == '[' &&
		    p->s[p->i + 1] == ':') {
			if ((rc = posix_class(p, &n->cls)) < 0)
				goto fail;
			if (rc > 0)
				continue;
		}
		if ((rc = unicode_class(p, &n->cls)) < 0)
			goto fail;
		if (rc > 0 || perl_class(p, &n->cls))
			continue;
		rng = p->i;
		if (!class_char(p, whole, &lo))
			goto fail;
		hi = lo;
		if (p->n - p->i >= 2 && p->s[p->i] == '-' &&
		    p->s[p->i + 1] != ']') {
			p->i++;
			if (!class_char(p, whole, &hi))
				goto fail;
			if (hi < lo) {
				re_fail(p, "invalid character class range",
				    p->s + rng, p->i - rng);
				goto fail;
			}
		}
		cls_add_folded(&n->cls, lo, hi, p->flags);
	}
	p->i++;
	if (neg)
		cls_negate(&n->cls);
	cls_clean(&n->cls);
	return n;
fail:
	rnode_free(n);
	return NULL;
}

static struct rnode *parse_alt(struct rp *p);

static bool
valid_capture_name(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] != '_' && !isalnum_ascii((uint8_t)s[i]))
			return false;
	return true;
}

/* A group body up to ")"; flags are restored afterwards. */
static struct rnode *
parse_group_body(struct rp *p, unsigned saved)
{
	struct rnode *n;

	if (++p->depth > RE_MAX_DEPTH) {
		re_fail(p, "expression nests too deeply", p->s, p->n);
		return NULL;
	}
	n = parse_alt(p);
	p->depth--;
	if (n == NULL)
		return NULL;
	if (p->i >= p->n) {
		re_fail(p, "missing closing )", p->s, p->n);
		rnode_free(n);
		return NULL;
	}
	p->i++;		/* ")" */
	p->flags = saved;
	return n;
}

/*
 * "(?": Go's parsePerlFlags.  Returns a group node, or sets *flags_only
 * for "(?i)" forms, which change the flags until the enclosing group ends.
 */
static struct rnode *
parse_perl_flags(struct rp *p, bool *flags_only)
{
	const char *s = p->s + p->i;
	size_t rest = p->n - p->i, start = p->i;
	unsigned flags = p->flags, saved = p->flags;
	bool named_p = rest > 4 && s[2] == 'P' && s[3] == '<';
	bool named = rest > 3 && s[2] == '<';
	bool saw = false;
	int sign = 1;
	uint32_t c;

	*flags_only = false;
	if (named_p || named) {
		const char *gt = memchr(s, '>', rest);
		size_t nstart = named_p ? 4 : 3;
		if (gt == NULL) {
			re_fail(p, "invalid named capture", s, rest);
			return NULL;
		}
		if (!valid_capture_name(s + nstart, (size_t)(gt - s) - nstart)) {
			re_fail(p, "invalid named capture", s,
			    (size_t)(gt - s) + 1);
			return NULL;
		}
		p->i += (size_t)(gt - s) + 1;
		return parse_group_body(p, saved);
	}
	p->i += 2;
	while (p->i < p->n) {
		if (!next_rune(p, &c))
			return NULL;
		switch (c) {
		case 'i': flags |= F_FOLD; saw = true; continue;
		case 'm': flags |= F_MULTILINE; saw = true; continue;
		case 's': flags |= F_DOTNL; saw = true; continue;
		case 'U': flags |= F_UNGREEDY; saw = true; continue;
		case '-':
			if (sign < 0)
				break;
			sign = -1;
			flags = ~flags;
			saw = false;
			continue;
		case ':':
		case ')':
			if (sign < 0) {
				if (!saw)
					break;
				flags = ~flags;
			}
			p->flags = flags;
			if (c == ')') {
				*flags_only = true;
				return NULL;
			}
			return parse_group_body(p, saved);
		}
		break;
	}
	re_fail(p, "invalid or unsupported Perl syntax", p->s + start,
	    p->i - start);
	return NULL;
}

/* Go's parseInt for repeat counts: no leading zeros; -1 if over 1e8. */
static bool
repeat_int(struct rp *p, size_t *i, int *v)
{
	long n = 0;

	if (*i >= p->n || p->s[*i] < '0' || p->s[*i] > '9')
		return false;
	if (*i + 1 < p->n && p->s[*i] == '0' && p->s[*i + 1] >= '0' &&
	    p->s[*i + 1] <= '9')
		return false;
	for (; *i < p->n && p->s[*i] >= '0' && p->s[*i] <= '9'; (*i)++) {
		if (n >= 100000000)
			n = -1;
		else if (n >= 0)
			n = n * 10 + (p->s[*i] - '0');
	}
	*v = (int)n;
	return true;
}

/* {n}, {n,}, {n,m} at p->i; false if the text is not of that form ("{" is
 * then a literal).  Out-of-range numbers come back negative, as in Go. */
static bool
parse_repeat(struct rp *p, int *min, int *max)
{
	size_t i = p->i + 1;

	if (!repeat_int(p, &i, min) || i >= p->n)
		return false;
	if (p->s[i] != ',') {
		*max = *min;
	} else {
		if (++i >= p->n)
			return false;
		if (p->s[i] == '}')
			*max = -1;
		else if (!repeat_int(p, &i, max))
			return false;
		else if (*max < 0)
			*min = -1;
	}
	if (i >= p->n || p->s[i] != '}')
		return false;
	p->i = i + 1;
	return true;
}

/* Go's repeatIsValid: nested counted repetitions multiply. */
static bool
repeat_ok(const struct rnode *n, int budget)
{
	if (n->type == N_REP && n->counted) {
		int m = n->max;
		if (m == 0)
			return true;
		if (m < 0)
			m = n->min;
		if (m > budget)
			return false;
		if (m > 0)
			budget /= m;
	}
	for (size_t i = 0; i < n->nsub; i++)
		if (!repeat_ok(n->sub[i], budget))
			return false;
	return true;
}

/*
 * A repetition operator at p->i applying to the last item of cat.
 * last_rep is where the previous token started if it was a repetition
 * (Go's lastRepeat), else SIZE_MAX.  Returns false on error.
 */
static bool
apply_repeat(struct rp *p, struct rnode *cat, size_t *last_rep)
{
	size_t before = p->i, after;
	int min, max;
	bool counted = p->s[p->i] == '{';
	struct rnode *rep;

	if (counted) {
		if (!parse_repeat(p, &min, &max)) {
			rnode_push(cat, literal(p, '{'));
			p->i = before + 1;
			*last_rep = SIZE_MAX;
			return true;
		}
		if (min < 0 || min > RE_MAX_REPEAT || max > RE_MAX_REPEAT ||
		    (max >= 0 && min > max)) {
			re_fail(p, "invalid repeat count", p->s + before,
			    p->i - before);
			return false;
		}
	} else {
		min = p->s[p->i] == '+';
		max = p->s[p->i] == '?' ? 1 : -1;
		p->i++;
	}
	if (p->i < p->n && p->s[p->i] == '?')
		p->i++;		/* non-greedy: same language */
	after = p->i;
	if (*last_rep != SIZE_MAX) {
		re_fail(p, "invalid nested repetition operator",
		    p->s + *last_rep, after - *last_rep);
		return false;
	}
	if (cat->nsub == 0) {
		re_fail(p, "missing argument to repetition operator",
		    p->s + before, after - before);
		return false;
	}
	rep = rnode_new(N_REP);
	rep->min = min;
	rep->max = max;
	rep->counted = counted;
	rnode_push(rep, cat->sub[cat->nsub - 1]);
	cat->sub[cat->nsub - 1] = rep;
	if (counted && (min >= 2 || max >= 2) &&
	    !repeat_ok(rep, RE_MAX_REPEAT)) {
		re_fail(p, "invalid repeat count", p->s + before,
		    after - before);
		return false;
	}
	*last_rep = before;
	return true;
}

static struct rnode *
assertion(int kind)
{
	struct rnode *n = rnode_new(N_ASSERT);

	n->assert = kind;
	return n;
}

/* \A \b \B \z \Q..\E \C, \p, \d..., else a plain escape; p->i at "\". */
static bool
parse_backslash(struct rp *p, struct rnode *cat)
{
	struct rnode *n;
	uint32_t r;
	int rc;

	if (p->i + 1 < p->n) {
		switch (p->s[p->i + 1]) {
		case 'A':
			p->i += 2;
			rnode_push(cat, assertion(A_BOT));
			return true;
		case 'z':
			p->i += 2;
			rnode_push(cat, assertion(A_EOT));
			return true;
		case 'b':
			p->i += 2;
			rnode_push(cat, assertion(A_WORDB));
			return true;
		case 'B':
			p->i += 2;
			rnode_push(cat, assertion(A_NWORDB));
			return true;
		case 'C':
			re_fail(p, "invalid escape sequence", p->s + p->i, 2);
			return false;
		case 'Q': {
			const char *e = memmem(p->s + p->i + 2,
			    p->n - p->i - 2, "\\E", 2);
			size_t end = e ? (size_t)(e - p->s) : p->n;
			p->i += 2;
			while (p->i < end) {
				if (!next_rune(p, &r))
					return false;
				rnode_push(cat, literal(p, r));
			}
			if (e != NULL)
				p->i += 2;
			return true;
		}
		}
	}
	n = rnode_new(N_CLASS);
	if ((rc = unicode_class(p, &n->cls)) != 0 || perl_class(p, &n->cls)) {
		if (rc < 0) {
			rnode_free(n);
			return false;
		}
		cls_clean(&n->cls);
		rnode_push(cat, n);
		return true;
	}
	rnode_free(n);
	if (!parse_escape(p, &r))
		return false;
	rnode_push(cat, literal(p, r));
	return true;
}

static struct rnode *
any_char(struct rp *p)
{
	struct rnode *n = rnode_new(N_CLASS);

	if (p->flags & F_DOTNL) {
		cls_add(&n->cls, 0, MAXRUNE);
	} else {
		cls_add(&n->cls, 0, '\n' - 1);
		cls_add(&n->cls, '\n' + 1, MAXRUNE);
	}
	return n;
}

/* One token of a concatenation; false on error. */
static bool
parse_token(struct rp *p, struct rnode *cat, size_t *last_rep)
{
	struct rnode *n = NULL;
	bool flags_only;
	uint32_t r;

	switch (p->s[p->i]) {
	case '*': case '+': case '?': case '{':
		return apply_repeat(p, cat, last_rep);
	case '(':
		if (p->i + 1 < p->n && p->s[p->i + 1] == '?') {
			n = parse_perl_flags(p, &flags_only);
			if (n == NULL)
				return flags_only && !p->failed;
		} else {
			p->i++;
			if ((n = parse_group_body(p, p->flags)) == NULL)
				return false;
		}
		break;
	case '^':
		p->i++;
		n = assertion(p->flags & F_MULTILINE ? A_BOL : A_BOT);
		break;
	case '$':
		p->i++;
		n = assertion(p->flags & F_MULTILINE ? A_EOL : A_EOT);
		break;
	case '.':
		p->i++;
		n = any_char(p);
		break;
	case '[':
		if ((n = parse_class(p)) == NULL)
			return false;
		break;
	case '\\':
		return parse_backslash(p, cat);
	default:
		if (!next_rune(p, &r))
			return false;
		n = literal(p, r);
	}
	rnode_push(cat, n);
	return true;
}

static struct rnode *
parse_concat(struct rp *p)
{
	struct rnode *cat = rnode_new(N_CAT);
	size_t last_rep = SIZE_MAX, at;

	while (p->i < p->n && p->s[p->i] != '|' && p->s[p->i] != ')') {
		at = p->i;
		bool rep = strchr("*+?{", p->s[p->i]) != NULL;
		if (!parse_token(p, cat, &last_rep)) {
			rnode_free(cat);
			return NULL;
		}
		/* Only a repetition keeps last_rep; "{" as literal resets it. */
		if (!rep)
			last_rep = SIZE_MAX;
		(void)at;
	}
	return cat;
}

static struct rnode *
parse_alt(struct rp *p)
{
	struct rnode *alt = rnode_new(N_ALT), *c;

	for (;;) {
		if ((c = parse_concat(p)) == NULL) {
			rnode_free(alt);
			return NULL;
		}
		rnode_push(alt, c);
		if (p->i >= p->n || p->s[p->i] != '|')
			return alt;
		p->i++;
	}
}

/* ---- compilation to a Thompson NFA ---- */

enum { I_CLASS, I_SPLIT, I_JMP, I_ASSERT, I_NOP, I_MATCH };

struct inst {
	uint8_t op;
	uint8_t arg;
	uint32_t x, y;
	const struct cls *cls;
};

struct bx_re {
	struct inst *prog;
	uint32_t ninst, cap;
	uint32_t start;
	struct rnode *ast;	/* owns the classes the program points to */
	/* Simulation scratch, sized at compile time. */
	uint32_t *dense, *sparse, *pending, *stack;
};

/* Holes to patch: a list threaded through the unset x/y fields. */
struct frag {
	uint32_t start, head, tail;	/* hole = (pc << 1 | isy) + 1 */
};

static uint32_t *
hole_ref(struct bx_re *re, uint32_t h)
{
	h--;
	return (h & 1) ? &re->prog[h >> 1].y : &re->prog[h >> 1].x;
}

static void
patch(struct bx_re *re, struct frag *f, uint32_t target)
{
	uint32_t h = f->head, next;

	while (h != 0) {
		next = *hole_ref(re, h);
		*hole_ref(re, h) = target;
		h = next;
	}
	f->head = f->tail = 0;
}

static void
join_holes(struct bx_re *re, struct frag *a, const struct frag *b)
{
	if (b->head == 0)
		return;
	if (a->head == 0) {
		a->head = b->head;
		a->tail = b->tail;
		return;
	}
	*hole_ref(re, a->tail) = b->head;
	a->tail = b->tail;
}

static bool
emit(struct bx_re *re, uint8_t op, uint32_t *pc)
{
	if (re->ninst >= RE_MAX_INST)
		return false;
	if (re->ninst == re->cap) {
		re->cap = re->cap ? re->cap * 2 : 64;
		re->prog = xrealloc(re->prog, re->cap * sizeof(*re->prog));
	}
	*pc = re->ninst++;
	memset(&re->prog[*pc], 0, sizeof(re->prog[*pc]));
	re->prog[*pc].op = op;
	return true;
}

/* Emit with its exit(s) left as holes. */
static bool
emit_hole(struct bx_re *re, uint8_t op, struct frag *f, bool both)
{
	uint32_t pc;

	if (!emit(re, op, &pc))
		return false;
	f->start = pc;
	f->head = (pc << 1) + 1;
	f->tail = f->head;
	if (both) {
		re->prog[pc].x = (pc << 1 | 1) + 1;	/* chain x -> y */
		f->tail = (pc << 1 | 1) + 1;
	}
	return true;
}

static bool compile_node(struct bx_re *re, const struct rnode *n,
    struct frag *f);

static bool
compile_star(struct bx_re *re, const struct rnode *sub, struct frag *f)
{
	struct frag body;
	uint32_t pc;

	if (!emit(re, I_SPLIT, &pc) || !compile_node(re, sub, &body))
		return false;
	re->prog[pc].x = body.start;
	patch(re, &body, pc);
	f->start = pc;
	f->head = f->tail = (pc << 1 | 1) + 1;
	return true;
}

static bool
compile_quest(struct bx_re *re, const struct rnode *sub, struct frag *f)
{
	struct frag body;
	uint32_t pc;

	if (!emit(re, I_SPLIT, &pc) || !compile_node(re, sub, &body))
		return false;
	re->prog[pc].x = body.start;
	f->start = pc;
	f->head = f->tail = (pc << 1 | 1) + 1;
	join_holes(re, f, &body);
	return true;
}

static bool
compile_seq(struct bx_re *re, struct frag *f, bool *have,
    const struct frag *next)
{
	if (!*have) {
		*f = *next;
		*have = true;
	} else {
		patch(re, f, next->start);
		f->head = next->head;
		f->tail = next->tail;
	}
	return true;
}

/* x{min,max}: min copies, then a star or (max-min) nested optionals,
 * x(x(x)?)?, each optional's skip joining the exit. */
static bool
compile_rep(struct bx_re *re, const struct rnode *n, struct frag *f)
{
	const struct rnode *sub = n->sub[0];
	struct frag part, body = { 0 }, exits = { 0 }, entry;
	bool have = false;
	uint32_t pc;

	for (int i = 0; i < n->min; i++) {
		if (!compile_node(re, sub, &part))
			return false;
		compile_seq(re, f, &have, &part);
	}
	if (n->max < 0) {
		if (!compile_star(re, sub, &part))
			return false;
		compile_seq(re, f, &have, &part);
		return true;
	}
	for (int i = 0; i < n->max - n->min; i++) {
		if (!emit(re, I_SPLIT, &pc))
			return false;
		if (i == 0) {
			entry.start = pc;
			entry.head = entry.tail = 0;
			compile_seq(re, f, &have, &entry);
		} else
			patch(re, &body, pc);
		if (!compile_node(re, sub, &body))
			return false;
		re->prog[pc].x = body.start;
		part.start = pc;
		part.head = part.tail = (pc << 1 | 1) + 1;
		join_holes(re, &exits, &part);
	}
	if (n->max > n->min) {
		join_holes(re, &exits, &body);
		f->head = exits.head;
		f->tail = exits.tail;
	}
	if (!have)
		return emit_hole(re, I_NOP, f, false);
	return true;
}

static bool
compile_node(struct bx_re *re, const struct rnode *n, struct frag *f)
{
	struct frag part, exits;
	bool have = false;
	uint32_t pc;

	switch (n->type) {
	case N_CLASS:
		if (!emit_hole(re, I_CLASS, f, false))
			return false;
		re->prog[f->start].cls = &n->cls;
		return true;
	case N_ASSERT:
		if (!emit_hole(re, I_ASSERT, f, false))
			return false;
		re->prog[f->start].arg = (uint8_t)n->assert;
		return true;
	case N_CAT:
		for (size_t i = 0; i < n->nsub; i++) {
			if (!compile_node(re, n->sub[i], &part))
				return false;
			compile_seq(re, f, &have, &part);
		}
		return have ? true : emit_hole(re, I_NOP, f, false);
	case N_ALT:
		memset(&exits, 0, sizeof(exits));
		pc = UINT32_MAX;	/* previous split, whose y is the next branch */
		for (size_t i = 0; i < n->nsub; i++) {
			bool last = i + 1 == n->nsub;
			uint32_t split = 0, entry;
			if (!last && !emit(re, I_SPLIT, &split))
				return false;
			if (!compile_node(re, n->sub[i], &part))
				return false;
			entry = last ? part.start : split;
			if (!last)
				re->prog[split].x = part.start;
			if (i == 0)
				f->start = entry;
			else
				re->prog[pc].y = entry;
			pc = split;
			join_holes(re, &exits, &part);
		}
		f->head = exits.head;
		f->tail = exits.tail;
		return true;
	case N_REP:
		if (n->min == 0 && n->max == -1)
			return compile_star(re, n->sub[0], f);
		if (n->min == 0 && n->max == 1 && !n->counted)
			return compile_quest(re, n->sub[0], f);
		return compile_rep(re, n, f);
	default:
		return emit_hole(re, I_NOP, f, false);
	}
}

int
bx_re_compile(const char *pat, size_t len, struct bx_re **out,
    struct buf *err)
{
	struct rp p = { .s = pat, .n = len, .err = err };
	struct bx_re *re;
	struct rnode *ast;
	struct frag f;
	uint32_t match;

	*out = NULL;
	ast = parse_alt(&p);
	if (ast != NULL && p.i < p.n) {
		/* parse_alt stops only at the end or at an unmatched ")". */
		re_fail(&p, "unexpected )", pat, len);
	}
	if (p.failed) {
		rnode_free(ast);
		return -EINVAL;
	}
	re = xcalloc(1, sizeof(*re));
	re->ast = ast;
	if (!compile_node(re, ast, &f) || !emit(re, I_MATCH, &match)) {
		bx_re_free(re);
		buf_printf(err, "error parsing regexp: expression too large: `");
		buf_add(err, pat, len);
		buf_addch(err, '`');
		return -EINVAL;
	}
	patch(re, &f, match);
	re->start = f.start;
	re->dense = xcalloc(re->ninst, sizeof(uint32_t));
	re->sparse = xcalloc(re->ninst, sizeof(uint32_t));
	re->pending = xcalloc(re->ninst, sizeof(uint32_t));
	re->stack = xcalloc(re->ninst, sizeof(uint32_t));
	*out = re;
	return 0;
}

size_t
bx_re_size(const struct bx_re *re)
{
	return re->ninst;
}

void
bx_re_free(struct bx_re *re)
{
	if (re == NULL)
		return;
	rnode_free(re->ast);
	free(re->prog);
	free(re->dense);
	free(re->sparse);
	free(re->pending);
	free(re->stack);
	free(re);
}

/* ---- matching ---- */

static bool
is_word(uint32_t r)
{
	return r < 0x80 && (isalnum_ascii(r) || r == '_');
}

struct ctx {
	bool bot, eot;
	uint32_t prev, next;	/* UINT32_MAX outside the text */
};

static bool
assert_ok(int kind, const struct ctx *c)
{
	bool wb;

	switch (kind) {
	case A_BOT: return c->bot;
	case A_EOT: return c->eot;
	case A_BOL: return c->bot || c->prev == '\n';
	case A_EOL: return c->eot || c->next == '\n';
	default:
		wb = is_word(c->prev) != is_word(c->next);
		return kind == A_WORDB ? wb : !wb;
	}
}

/* Insert pc into the current set unless present; true if it is new. */
static bool
set_add(struct bx_re *re, uint32_t pc, uint32_t *n)
{
	if (re->sparse[pc] < *n && re->dense[re->sparse[pc]] == pc)
		return false;
	re->sparse[pc] = *n;
	re->dense[(*n)++] = pc;
	return true;
}

/* Add pc and its epsilon closure to the current set; true on MATCH.  Each
 * pc is pushed at most once per step, so the stack fits in ninst. */
static bool
closure(struct bx_re *re, uint32_t pc, uint32_t *n, const struct ctx *c)
{
	uint32_t sp = 0;

	if (set_add(re, pc, n))
		re->stack[sp++] = pc;
	while (sp > 0) {
		const struct inst *in = &re->prog[re->stack[--sp]];
		uint32_t next[2];
		int k = 0;

		switch (in->op) {
		case I_MATCH:
			return true;
		case I_JMP:
		case I_NOP:
			next[k++] = in->x;
			break;
		case I_SPLIT:
			next[k++] = in->y;
			next[k++] = in->x;
			break;
		case I_ASSERT:
			if (assert_ok(in->arg, c))
				next[k++] = in->x;
			break;
		}
		for (int j = 0; j < k; j++)
			if (set_add(re, next[j], n))
				re->stack[sp++] = next[j];
	}
	return false;
}

bool
bx_re_match(struct bx_re *re, const char *s, size_t len)
{
	uint32_t npend = 0, nset, r = UINT32_MAX, prev = UINT32_MAX;
	size_t pos = 0, w = 0;
	struct ctx c;

	for (;;) {
		w = bx_utf8_decode(s + pos, len - pos, &r);
		c.bot = pos == 0;
		c.eot = pos == len;
		c.prev = prev;
		c.next = w > 0 ? r : UINT32_MAX;
		nset = 0;
		if (closure(re, re->start, &nset, &c))
			return true;
		for (uint32_t i = 0; i < npend; i++)
			if (closure(re, re->pending[i], &nset, &c))
				return true;
		if (pos >= len)
			return false;
		npend = 0;
		for (uint32_t i = 0; i < nset; i++) {
			const struct inst *in = &re->prog[re->dense[i]];
			if (in->op == I_CLASS && cls_has(in->cls, r))
				re->pending[npend++] = in->x;
		}
		prev = r;
		pos += w;
	}
}
