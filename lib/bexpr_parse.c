/*
 * Parser for go-bexpr v0.1.2's grammar (grammar.peg in that release), run
 * the way the pigeon-generated Go parser runs it, so that both the trees
 * and the error messages Consul returns come out the same:
 *
 *   - PEG ordered choice with backtracking, rule for rule as in the .peg;
 *   - on failure, pigeon reports the farthest offset at which a literal,
 *     character class or "." failed, with the sorted set of what was
 *     expected there ("1:10 (9): no match found, expected: "and", "or",
 *     [ \t\r\n] or EOF"); inside a !predicate it records successes instead,
 *     prefixed "!", and "!." reads "EOF";
 *   - errors raised by the grammar's code (&{...} predicates, the
 *     strconv.Unquote action, invalid UTF-8 met while reading) are recorded
 *     as "L:C (offset): rule <name>: <text>" with the innermost rule's
 *     display name, deduplicated, and make the parse fail even when some
 *     alternative matched;
 *   - line is 1-based, column counts runes from 1, offset counts bytes.
 *
 * Unlike pigeon we memoise the four recursive expression rules: without it
 * a PEG that re-parses "AndExpression" in both alternatives of "Or" costs
 * 4^depth on nested parentheses.  Those rules are never entered inside a
 * !predicate and their side effects (failure records, errors) are
 * idempotent, so memoising them changes no output.
 */
#include "lib/bexpr_int.h"

#include <stdlib.h>
#include <string.h>

#define MAXEXP 48

struct memo {
	uint8_t state;		/* 0 unknown, 1 fail, 2 ok */
	size_t end;
	struct bx_node *node;
};

enum { M_OR, M_AND, M_NOT, M_PAREN, M_COUNT };

struct px {
	struct bexpr *e;
	const char *s;
	size_t n, pos;
	const char *rule;	/* innermost rule, as pigeon prints it */
	bool invert;
	size_t maxpos;
	const char *exp[MAXEXP];
	bool expinv[MAXEXP];
	size_t nexp;
	struct buf errs;	/* "\n"-separated, deduplicated */
	size_t nerrs;
	int depth;
	bool too_deep;
	struct memo *memo[M_COUNT];
};

/* ---- pigeon's bookkeeping ---- */

static void
fail_at(struct px *p, bool success, size_t pos, const char *want)
{
	if (success != p->invert || pos < p->maxpos)
		return;
	if (pos > p->maxpos) {
		p->maxpos = pos;
		p->nexp = 0;
	}
	for (size_t i = 0; i < p->nexp; i++)
		if (p->exp[i] == want && p->expinv[i] == p->invert)
			return;
	if (p->nexp < MAXEXP) {
		p->exp[p->nexp] = want;
		p->expinv[p->nexp++] = p->invert;
	}
}

/* pigeon's position of an offset: each rune read bumps the column, and
 * reading a newline moves to the next line at column 0. */
static void
position(const struct px *p, size_t off, struct buf *b)
{
	size_t line = 1, col = 0, i = 0, w;
	uint32_t r;

	for (;;) {
		col++;
		w = bx_utf8_decode(p->s + i, p->n - i, &r);
		if (w > 0 && r == '\n') {
			line++;
			col = 0;
		}
		if (i >= off || w == 0)
			break;
		i += w;
	}
	buf_printf(b, "%zu:%zu (%zu)", line, col, off);
}

static void
add_err(struct px *p, size_t off, const char *msg)
{
	struct buf one;
	const char *q, *end;
	size_t len;

	buf_init(&one);
	position(p, off, &one);
	if (p->rule != NULL)
		buf_printf(&one, ": rule %s", p->rule);
	buf_printf(&one, ": %s", msg);
	/* pigeon's errList.dedupe keeps the first of equal messages. */
	q = p->errs.len > 0 ? (const char *)p->errs.data : NULL;
	end = q != NULL ? q + p->errs.len : NULL;
	while (q != NULL && q < end) {
		const char *nl = memchr(q, '\n', (size_t)(end - q));
		len = (nl != NULL ? (size_t)(nl - q) : (size_t)(end - q));
		if (len == one.len && memcmp(q, one.data, len) == 0) {
			buf_free(&one);
			return;
		}
		q = nl != NULL ? nl + 1 : NULL;
	}
	if (p->nerrs++ > 0)
		buf_addch(&p->errs, '\n');
	buf_add(&p->errs, one.data, one.len);
	buf_free(&one);
}

/* Move past the current rune; pigeon decodes the next one and complains
 * if it is not UTF-8. */
static void
advance(struct px *p)
{
	uint32_t r;

	p->pos += bx_utf8_decode(p->s + p->pos, p->n - p->pos, &r);
	if (p->pos < p->n &&
	    bx_utf8_decode(p->s + p->pos, p->n - p->pos, &r) == 1 &&
	    r == BX_RUNE_ERROR)
		add_err(p, p->pos, "invalid encoding");
}

static bool
lit(struct px *p, const char *text, const char *want)
{
	size_t start = p->pos;

	for (const char *c = text; *c != '\0'; c++) {
		if (p->pos >= p->n || p->s[p->pos] != *c) {
			fail_at(p, false, start, want);
			p->pos = start;
			return false;
		}
		advance(p);
	}
	fail_at(p, true, start, want);
	return true;
}

enum cls { C_ALPHA, C_ALNUM_, C_WS, C_DIGIT, C_DIGIT19 };

static const char *const cls_want[] = { "[a-zA-Z]", "[a-zA-Z0-9_]",
	"[ \\t\\r\\n]", "[0-9]", "[1-9]" };

static bool
cls_has(enum cls k, char c)
{
	bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
	bool digit = c >= '0' && c <= '9';

	switch (k) {
	case C_ALPHA: return alpha;
	case C_ALNUM_: return alpha || digit || c == '_';
	case C_WS: return c == ' ' || c == '\t' || c == '\r' || c == '\n';
	case C_DIGIT: return digit;
	case C_DIGIT19: return digit && c != '0';
	}
	return false;
}

static bool
cls(struct px *p, enum cls k)
{
	size_t start = p->pos;

	if (p->pos >= p->n || !cls_has(k, p->s[p->pos])) {
		fail_at(p, false, start, cls_want[k]);
		return false;
	}
	advance(p);
	fail_at(p, true, start, cls_want[k]);
	return true;
}

static bool
any(struct px *p)
{
	size_t start = p->pos;

	if (p->pos >= p->n) {
		fail_at(p, false, start, ".");
		return false;
	}
	advance(p);
	fail_at(p, true, start, ".");
	return true;
}

#define RULE(name) const char *saved_rule_ = p->rule; p->rule = (name)
#define LEAVE(v) do { p->rule = saved_rule_; return (v); } while (0)

/* _ "whitespace" <- [ \t\r\n]+ */
static bool
r_ws(struct px *p)
{
	RULE("\"whitespace\"");
	if (!cls(p, C_WS))
		LEAVE(false);
	while (cls(p, C_WS))
		;
	LEAVE(true);
}

/* EOF <- !. */
static bool
r_eof(struct px *p)
{
	size_t start = p->pos;
	bool ok;

	RULE("EOF");
	p->invert = !p->invert;
	ok = any(p);
	p->invert = !p->invert;
	p->pos = start;
	LEAVE(!ok);
}

/* Run fn under "!" (not) or "&" (and) without consuming input. */
static bool
not_pred(struct px *p, bool (*fn)(struct px *, void *), void *arg)
{
	size_t start = p->pos;
	bool ok;

	p->invert = !p->invert;
	ok = fn(p, arg);
	p->invert = !p->invert;
	p->pos = start;
	return !ok;
}

static bool
lit_cb(struct px *p, void *arg)
{
	const char *const *lw = arg;

	return lit(p, lw[0], lw[1]);
}

/* ---- strings, numbers, selectors ---- */

/* RawStringChar <- !'`' .   DoubleStringChar <- !'"' . */
static bool
r_strchar(struct px *p, bool raw)
{
	static const char *const bq[] = { "`", "\"`\"" };
	static const char *const dq[] = { "\"", "\"\\\"\"" };
	size_t start = p->pos;

	RULE(raw ? "RawStringChar" : "DoubleStringChar");
	if (!not_pred(p, lit_cb, (void *)(raw ? bq : dq)) || !any(p)) {
		p->pos = start;
		LEAVE(false);
	}
	LEAVE(true);
}

/* The opening quote and body of a string literal, either kind. */
static bool
str_body(struct px *p, bool raw)
{
	if (!lit(p, raw ? "`" : "\"", raw ? "\"`\"" : "\"\\\"\""))
		return false;
	while (r_strchar(p, raw))
		;
	return true;
}

/*
 * StringLiteral "string" <- ('`' RawStringChar* '`' / '"' DoubleStringChar*
 *     '"') { strconv.Unquote } / ('`' RawStringChar* / '"'
 *     DoubleStringChar*) EOF &{ "Unterminated string literal" }
 */
static bool
r_string(struct px *p, struct buf *val)
{
	size_t start = p->pos;
	bool raw;

	RULE("\"string\"");
	for (int alt = 0; alt < 2; alt++) {
		raw = alt == 0;
		if (str_body(p, raw) &&
		    lit(p, raw ? "`" : "\"", raw ? "\"`\"" : "\"\\\"\"")) {
			if (val != NULL)
				buf_reset(val);
			struct buf tmp;
			buf_init(&tmp);
			if (bx_unquote(p->s + start, p->pos - start, &tmp) < 0)
				add_err(p, start, "invalid syntax");
			else if (val != NULL)
				buf_add(val, tmp.data, tmp.len);
			buf_free(&tmp);
			LEAVE(true);
		}
		p->pos = start;
	}
	/* The second alternative's choice commits to whichever quote opens. */
	raw = p->pos < p->n && p->s[p->pos] == '`';
	if ((raw ? str_body(p, true) : str_body(p, false)) && r_eof(p))
		add_err(p, p->pos, "Unterminated string literal");
	p->pos = start;
	LEAVE(false);
}

static bool
string_cb(struct px *p, void *arg)
{
	return r_string(p, NULL);
}

/* Identifier <- [a-zA-Z] [a-zA-Z0-9_]* */
static bool
r_ident(struct px *p)
{
	RULE("Identifier");
	if (!cls(p, C_ALPHA))
		LEAVE(false);
	while (cls(p, C_ALNUM_))
		;
	LEAVE(true);
}

/*
 * IndexExpression "index" <- "[" _? StringLiteral _? "]"
 *     / "[" _? !StringLiteral &{ "Invalid index" }
 *     / "[" _? StringLiteral _? !"]" &{ "Unclosed index expression" }
 */
static bool
r_index(struct px *p, struct buf *key)
{
	static const char *const rb[] = { "]", "\"]\"" };
	size_t start = p->pos;

	RULE("\"index\"");
	if (lit(p, "[", "\"[\"")) {
		r_ws(p);
		if (r_string(p, key)) {
			r_ws(p);
			if (lit(p, "]", "\"]\""))
				LEAVE(true);
		}
	}
	p->pos = start;
	if (lit(p, "[", "\"[\"")) {
		r_ws(p);
		if (not_pred(p, string_cb, NULL))
			add_err(p, p->pos, "Invalid index");
	}
	p->pos = start;
	if (lit(p, "[", "\"[\"")) {
		r_ws(p);
		if (r_string(p, NULL)) {
			r_ws(p);
			if (not_pred(p, lit_cb, (void *)rb))
				add_err(p, p->pos, "Unclosed index expression");
		}
	}
	p->pos = start;
	LEAVE(false);
}

/* A selector as it is parsed: its segments in a growable array. */
struct selbuf {
	struct bx_seg *seg;
	size_t n, cap;
};

static void
sel_push(struct selbuf *sb, const char *s, size_t len)
{
	if (sb->n == sb->cap) {
		sb->cap = sb->cap ? sb->cap * 2 : 4;
		sb->seg = xrealloc(sb->seg, sb->cap * sizeof(*sb->seg));
	}
	sb->seg[sb->n].s = xstrndup(s, len);
	sb->seg[sb->n++].len = len;
}

static void
sel_clear(struct selbuf *sb)
{
	for (size_t i = 0; i < sb->n; i++)
		free(sb->seg[i].s);
	free(sb->seg);
	memset(sb, 0, sizeof(*sb));
}

/*
 * Selector "selector" <- Identifier SelectorOrIndex*
 * SelectorOrIndex <- "." Identifier / IndexExpression
 */
static bool
r_selector(struct px *p, struct selbuf *sb)
{
	size_t start = p->pos, seg, mark;
	struct buf key;

	RULE("\"selector\"");
	if (!r_ident(p))
		LEAVE(false);
	if (sb != NULL)
		sel_push(sb, p->s + start, p->pos - start);
	buf_init(&key);
	for (;;) {
		const char *saved = p->rule;
		p->rule = "SelectorOrIndex";
		mark = p->pos;
		if (lit(p, ".", "\".\"")) {
			seg = p->pos;
			if (r_ident(p)) {
				if (sb != NULL)
					sel_push(sb, p->s + seg, p->pos - seg);
				p->rule = saved;
				continue;
			}
			p->pos = mark;
		}
		if (r_index(p, &key)) {
			if (sb != NULL)
				sel_push(sb, key.len ? (const char *)key.data : "",
				    key.len);
			p->rule = saved;
			continue;
		}
		p->pos = mark;
		p->rule = saved;
		break;
	}
	buf_free(&key);
	LEAVE(true);
}

static bool
selector_cb(struct px *p, void *arg)
{
	return r_selector(p, NULL);
}

/* IntegerOrFloat <- ("0" / [1-9][0-9]*) ("." [0-9]+)? */
static bool
r_intfloat(struct px *p)
{
	size_t mark;

	RULE("IntegerOrFloat");
	if (!lit(p, "0", "\"0\"")) {
		if (!cls(p, C_DIGIT19))
			LEAVE(false);
		while (cls(p, C_DIGIT))
			;
	}
	mark = p->pos;
	if (lit(p, ".", "\".\"") && cls(p, C_DIGIT)) {
		while (cls(p, C_DIGIT))
			;
	} else
		p->pos = mark;
	LEAVE(true);
}

/* AfterNumbers <- &(_ / EOF / ")") */
static bool
r_after_numbers(struct px *p, void *arg)
{
	size_t start = p->pos;
	bool ok;

	RULE("AfterNumbers");
	ok = r_ws(p) || r_eof(p) || lit(p, ")", "\")\"");
	p->pos = start;
	LEAVE(ok);
}

/*
 * NumberLiteral "number" <- "-"? IntegerOrFloat &AfterNumbers
 *     / "-"? IntegerOrFloat !AfterNumbers &{ "Invalid number literal" }
 */
static bool
r_number(struct px *p)
{
	size_t start = p->pos;

	RULE("\"number\"");
	lit(p, "-", "\"-\"");
	if (r_intfloat(p) && r_after_numbers(p, NULL))
		LEAVE(true);
	p->pos = start;
	lit(p, "-", "\"-\"");
	if (r_intfloat(p) && not_pred(p, r_after_numbers, NULL))
		add_err(p, p->pos, "Invalid number literal");
	p->pos = start;
	LEAVE(false);
}

/* Value "value" <- Selector / NumberLiteral / StringLiteral */
static bool
r_value(struct px *p, struct buf *raw)
{
	struct selbuf sb = { 0 };
	size_t start = p->pos;

	RULE("\"value\"");
	buf_reset(raw);
	if (r_selector(p, &sb)) {
		/* MatchValue.Raw is the selector joined with ".". */
		for (size_t i = 0; i < sb.n; i++) {
			if (i > 0)
				buf_addch(raw, '.');
			buf_add(raw, sb.seg[i].s, sb.seg[i].len);
		}
		sel_clear(&sb);
		LEAVE(true);
	}
	sel_clear(&sb);
	if (r_number(p)) {
		buf_add(raw, p->s + start, p->pos - start);
		LEAVE(true);
	}
	if (r_string(p, raw))
		LEAVE(true);
	LEAVE(false);
}

/* ---- match expressions ---- */

/* Operators as sequences of optional/required white space and words. */
struct opdef {
	const char *name;	/* rule name */
	enum bx_op op;
	bool ws_opt;		/* "==" and "!=": _? around, else _ */
	const char *words[3];
	const char *wants[3];
};

static const struct opdef op_eq = { "MatchEqual", BX_EQ, true,
	{ "==" }, { "\"==\"" } };
static const struct opdef op_ne = { "MatchNotEqual", BX_NE, true,
	{ "!=" }, { "\"!=\"" } };
static const struct opdef op_contains = { "MatchContains", BX_IN, false,
	{ "contains" }, { "\"contains\"" } };
static const struct opdef op_notcontains = { "MatchNotContains", BX_NOTIN,
	false, { "not", "contains" }, { "\"not\"", "\"contains\"" } };
static const struct opdef op_matches = { "MatchMatches", BX_MATCHES, false,
	{ "matches" }, { "\"matches\"" } };
static const struct opdef op_notmatches = { "MatchNotMatches",
	BX_NOTMATCHES, false, { "not", "matches" },
	{ "\"not\"", "\"matches\"" } };
static const struct opdef op_empty = { "MatchIsEmpty", BX_EMPTY, false,
	{ "is", "empty" }, { "\"is\"", "\"empty\"" } };
static const struct opdef op_notempty = { "MatchIsNotEmpty", BX_NOTEMPTY,
	false, { "is", "not", "empty" }, { "\"is\"", "\"not\"", "\"empty\"" } };
static const struct opdef op_in = { "MatchIn", BX_IN, false,
	{ "in" }, { "\"in\"" } };
static const struct opdef op_notin = { "MatchNotIn", BX_NOTIN, false,
	{ "not", "in" }, { "\"not\"", "\"in\"" } };

/*
 * MatchEqual <- _? "==" _?     MatchIsEmpty <- _ "is" _ "empty"
 * MatchIn <- _ "in" _          MatchNotIn <- _ "not" _ "in" _  (etc.)
 * Empty-test operators have no trailing white space.
 */
static bool
r_op(struct px *p, const struct opdef *d)
{
	size_t start = p->pos;
	bool trailing = d->op != BX_EMPTY && d->op != BX_NOTEMPTY;

	RULE(d->name);
	for (int i = 0; i < 3 && d->words[i] != NULL; i++) {
		if (!r_ws(p) && !d->ws_opt)
			goto fail;
		if (!lit(p, d->words[i], d->wants[i]))
			goto fail;
	}
	if (trailing && !r_ws(p) && !d->ws_opt)
		goto fail;
	LEAVE(true);
fail:
	p->pos = start;
	LEAVE(false);
}

static bool
r_op_any(struct px *p, const struct opdef *const *ops, size_t n,
    enum bx_op *op)
{
	for (size_t i = 0; i < n; i++)
		if (r_op(p, ops[i])) {
			*op = ops[i]->op;
			return true;
		}
	return false;
}

static struct bx_node *
make_match(struct px *p, enum bx_op op, struct selbuf *sb, struct buf *val)
{
	struct bx_node *node = bx_node_new(p->e, BX_MATCH);
	struct bx_match *m = bx_match_new(p->e);
	struct buf sel;

	m->op = op;
	m->nseg = sb->n;
	m->seg = sb->seg;
	memset(sb, 0, sizeof(*sb));
	buf_init(&sel);
	for (size_t i = 0; i < m->nseg; i++) {
		if (i > 0)
			buf_addch(&sel, '.');
		buf_add(&sel, m->seg[i].s, m->seg[i].len);
	}
	m->sellen = sel.len;
	m->sel = buf_steal(&sel);
	if (val != NULL) {
		m->has_value = true;
		m->rawlen = val->len;
		m->raw = xmalloc(val->len + 1);
		if (val->len > 0)
			memcpy(m->raw, val->data, val->len);
		m->raw[val->len] = '\0';
	}
	node->m = m;
	return node;
}

/* MatchSelectorOpValue "match" <- Selector (==|!=|contains|...) Value */
static bool
r_m_sov(struct px *p, struct bx_node **out)
{
	static const struct opdef *const ops[] = { &op_eq, &op_ne,
		&op_contains, &op_notcontains, &op_matches, &op_notmatches };
	struct selbuf sb = { 0 };
	struct buf val;
	size_t start = p->pos;
	enum bx_op op;
	bool ok;

	RULE("\"match\"");
	buf_init(&val);
	ok = r_selector(p, &sb) && r_op_any(p, ops, nitems(ops), &op) &&
	    r_value(p, &val);
	if (ok)
		*out = make_match(p, op, &sb, &val);
	else
		p->pos = start;
	sel_clear(&sb);
	buf_free(&val);
	LEAVE(ok);
}

/* MatchSelectorOp "match" <- Selector (MatchIsEmpty / MatchIsNotEmpty) */
static bool
r_m_so(struct px *p, struct bx_node **out)
{
	static const struct opdef *const ops[] = { &op_empty, &op_notempty };
	struct selbuf sb = { 0 };
	size_t start = p->pos;
	enum bx_op op;
	bool ok;

	RULE("\"match\"");
	ok = r_selector(p, &sb) && r_op_any(p, ops, nitems(ops), &op);
	if (ok)
		*out = make_match(p, op, &sb, NULL);
	else
		p->pos = start;
	sel_clear(&sb);
	LEAVE(ok);
}

/*
 * MatchValueOpSelector "match" <- Value (MatchIn / MatchNotIn) Selector
 *     / Value (MatchIn / MatchNotIn) !Selector &{ "Invalid selector" }
 */
static bool
r_m_vos(struct px *p, struct bx_node **out)
{
	static const struct opdef *const ops[] = { &op_in, &op_notin };
	struct selbuf sb = { 0 };
	struct buf val;
	size_t start = p->pos;
	enum bx_op op;
	bool ok;

	RULE("\"match\"");
	buf_init(&val);
	ok = r_value(p, &val) && r_op_any(p, ops, nitems(ops), &op) &&
	    r_selector(p, &sb);
	if (ok) {
		*out = make_match(p, op, &sb, &val);
	} else {
		p->pos = start;
		if (r_value(p, &val) && r_op_any(p, ops, nitems(ops), &op) &&
		    not_pred(p, selector_cb, NULL))
			add_err(p, p->pos, "Invalid selector");
		p->pos = start;
	}
	sel_clear(&sb);
	buf_free(&val);
	LEAVE(ok);
}

/* MatchExpression "match" <- MatchSelectorOpValue / MatchSelectorOp
 *     / MatchValueOpSelector */
static bool
r_match(struct px *p, struct bx_node **out)
{
	bool ok;

	RULE("\"match\"");
	ok = r_m_sov(p, out) || r_m_so(p, out) || r_m_vos(p, out);
	LEAVE(ok);
}

/* ---- boolean structure ---- */

static bool r_or(struct px *, struct bx_node **);

typedef bool (*rule_fn)(struct px *, struct bx_node **);

/* Memoised call of one of the recursive rules; see the file comment. */
static bool
memo_call(struct px *p, int which, rule_fn fn, struct bx_node **out)
{
	struct memo *m = &p->memo[which][p->pos];
	bool ok;

	if (p->too_deep)
		return false;
	if (m->state != 0) {
		if (m->state == 2) {
			p->pos = m->end;
			*out = m->node;
		}
		return m->state == 2;
	}
	if (++p->depth > BEXPR_MAX_DEPTH) {
		p->too_deep = true;
		return false;
	}
	size_t start = p->pos;
	ok = fn(p, out);
	p->depth--;
	if (p->too_deep)
		return false;
	m = &p->memo[which][start];
	m->state = ok ? 2 : 1;
	m->end = p->pos;
	m->node = ok ? *out : NULL;
	return ok;
}

/*
 * ParenthesizedExpression "grouping" <- "(" _? OrExpression _? ")"
 *     / MatchExpression
 *     / "(" _? OrExpression _? !")" &{ "Unmatched parentheses" }
 */
static bool
paren_impl(struct px *p, struct bx_node **out)
{
	static const char *const rp[] = { ")", "\")\"" };
	size_t start = p->pos;
	struct bx_node *n;

	RULE("\"grouping\"");
	if (lit(p, "(", "\"(\"")) {
		r_ws(p);
		if (r_or(p, &n)) {
			r_ws(p);
			if (lit(p, ")", "\")\"")) {
				*out = n;
				LEAVE(true);
			}
		}
	}
	p->pos = start;
	if (r_match(p, out))
		LEAVE(true);
	p->pos = start;
	if (lit(p, "(", "\"(\"")) {
		r_ws(p);
		if (r_or(p, &n)) {
			r_ws(p);
			if (not_pred(p, lit_cb, (void *)rp))
				add_err(p, p->pos, "Unmatched parentheses");
		}
	}
	p->pos = start;
	LEAVE(false);
}

static bool
r_paren(struct px *p, struct bx_node **out)
{
	return memo_call(p, M_PAREN, paren_impl, out);
}

/* NotExpression <- "not" _ NotExpression / ParenthesizedExpression;
 * "not not x" collapses to x, as go-bexpr's action does. */
static bool
not_impl(struct px *p, struct bx_node **out)
{
	size_t start = p->pos;
	struct bx_node *n;

	RULE("NotExpression");
	if (lit(p, "not", "\"not\"") && r_ws(p) &&
	    memo_call(p, M_NOT, not_impl, &n)) {
		if (n->kind == BX_NOT) {
			*out = n->l;
		} else {
			*out = bx_node_new(p->e, BX_NOT);
			(*out)->l = n;
		}
		LEAVE(true);
	}
	p->pos = start;
	LEAVE(r_paren(p, out));
}

static bool
and_impl(struct px *p, struct bx_node **out)
{
	size_t start = p->pos;
	struct bx_node *l, *r;

	RULE("AndExpression");
	if (memo_call(p, M_NOT, not_impl, &l) && r_ws(p) &&
	    lit(p, "and", "\"and\"") && r_ws(p) &&
	    memo_call(p, M_AND, and_impl, &r)) {
		*out = bx_node_new(p->e, BX_AND);
		(*out)->l = l;
		(*out)->r = r;
		LEAVE(true);
	}
	p->pos = start;
	LEAVE(memo_call(p, M_NOT, not_impl, out));
}

/* OrExpression <- AndExpression _ "or" _ OrExpression / AndExpression */
static bool
or_impl(struct px *p, struct bx_node **out)
{
	size_t start = p->pos;
	struct bx_node *l, *r;

	RULE("OrExpression");
	if (memo_call(p, M_AND, and_impl, &l) && r_ws(p) &&
	    lit(p, "or", "\"or\"") && r_ws(p) &&
	    memo_call(p, M_OR, or_impl, &r)) {
		*out = bx_node_new(p->e, BX_OR);
		(*out)->l = l;
		(*out)->r = r;
		LEAVE(true);
	}
	p->pos = start;
	LEAVE(memo_call(p, M_AND, and_impl, out));
}

static bool
r_or(struct px *p, struct bx_node **out)
{
	return memo_call(p, M_OR, or_impl, out);
}

/*
 * Input <- _? "(" _? OrExpression _? ")" _? EOF
 *     / _? OrExpression _? EOF
 */
static bool
r_input(struct px *p, struct bx_node **out)
{
	struct bx_node *n;

	RULE("Input");
	r_ws(p);
	if (lit(p, "(", "\"(\"")) {
		r_ws(p);
		if (r_or(p, &n)) {
			r_ws(p);
			if (lit(p, ")", "\")\"")) {
				r_ws(p);
				if (r_eof(p)) {
					*out = n;
					LEAVE(true);
				}
			}
		}
	}
	p->pos = 0;
	r_ws(p);
	if (r_or(p, &n)) {
		r_ws(p);
		if (r_eof(p)) {
			*out = n;
			LEAVE(true);
		}
	}
	p->pos = 0;
	LEAVE(false);
}

static int
want_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* pigeon: "no match found, expected: " + sorted wants joined by ", " and a
 * final " or ", with "!." moved to the end as "EOF". */
static void
no_match(struct px *p, struct buf *err)
{
	char *list[MAXEXP];
	size_t n = 0;
	bool eof = false;

	for (size_t i = 0; i < p->nexp; i++) {
		if (p->expinv[i] && strcmp(p->exp[i], ".") == 0) {
			eof = true;
			continue;
		}
		list[n++] = p->expinv[i] ? xasprintf("!%s", p->exp[i]) :
		    xstrdup(p->exp[i]);
	}
	qsort(list, n, sizeof(list[0]), want_cmp);
	position(p, p->maxpos, err);
	buf_addstr(err, ": no match found, expected: ");
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			buf_addstr(err, i + 1 == n && !eof ? " or " : ", ");
		buf_addstr(err, list[i]);
		free(list[i]);
	}
	if (eof)
		buf_addstr(err, n > 0 ? " or EOF" : "EOF");
}

struct bx_node *
bx_parse(struct bexpr *e, const char *s, size_t n, struct buf *err)
{
	struct px p;
	struct bx_node *root = NULL;
	uint32_t r;
	bool ok;

	memset(&p, 0, sizeof(p));
	p.e = e;
	p.s = s;
	p.n = n;
	buf_init(&p.errs);
	for (int i = 0; i < M_COUNT; i++)
		p.memo[i] = xcalloc(n + 1, sizeof(struct memo));
	/* pigeon decodes the first rune before any rule runs. */
	if (n > 0 && bx_utf8_decode(s, n, &r) == 1 && r == BX_RUNE_ERROR)
		add_err(&p, 0, "invalid encoding");
	ok = r_input(&p, &root);
	if (p.too_deep) {
		buf_printf(err, "expression nests more than %d levels deep",
		    BEXPR_MAX_DEPTH);
		root = NULL;
	} else if (p.nerrs > 0) {
		buf_add(err, p.errs.data, p.errs.len);
		root = NULL;
	} else if (!ok) {
		no_match(&p, err);
		root = NULL;
	}
	buf_free(&p.errs);
	for (int i = 0; i < M_COUNT; i++)
		free(p.memo[i]);
	return root;
}
