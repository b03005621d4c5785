/*
 * Consul filter expressions: compilation (parse, literal coercion, regex,
 * optional check against a schema) and evaluation, following go-bexpr
 * v0.1.2's validate.go and evaluate.go as Consul vendors them.  See
 * lib/bexpr.h for the language and the two evaluation modes.
 */
#include "lib/bexpr_int.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const struct bexpr_type bexpr_t_string = { BEXPR_T_STRING, NULL, NULL };
const struct bexpr_type bexpr_t_int = { BEXPR_T_INT, NULL, NULL };
const struct bexpr_type bexpr_t_uint = { BEXPR_T_UINT, NULL, NULL };
const struct bexpr_type bexpr_t_float = { BEXPR_T_FLOAT, NULL, NULL };
const struct bexpr_type bexpr_t_bool = { BEXPR_T_BOOL, NULL, NULL };
const struct bexpr_type bexpr_t_string_list = { BEXPR_T_LIST,
	&bexpr_t_string, NULL };
const struct bexpr_type bexpr_t_string_map = { BEXPR_T_MAP,
	&bexpr_t_string, NULL };

struct bx_node *
bx_node_new(struct bexpr *e, enum bx_kind kind)
{
	struct bx_node *n = xcalloc(1, sizeof(*n));

	if (e->nnodes == e->capnodes) {
		e->capnodes = e->capnodes ? e->capnodes * 2 : 16;
		e->nodes = xrealloc(e->nodes, e->capnodes * sizeof(*e->nodes));
	}
	e->nodes[e->nnodes++] = n;
	n->kind = kind;
	return n;
}

struct bx_match *
bx_match_new(struct bexpr *e)
{
	struct bx_match *m = xcalloc(1, sizeof(*m));

	if (e->nmatches == e->capmatches) {
		e->capmatches = e->capmatches ? e->capmatches * 2 : 16;
		e->matches = xrealloc(e->matches,
		    e->capmatches * sizeof(*e->matches));
	}
	e->matches[e->nmatches++] = m;
	return m;
}

void
bexpr_free(struct bexpr *e)
{
	if (e == NULL)
		return;
	for (size_t i = 0; i < e->nnodes; i++)
		free(e->nodes[i]);
	for (size_t i = 0; i < e->nmatches; i++) {
		struct bx_match *m = e->matches[i];
		for (size_t k = 0; k < m->nseg; k++)
			free(m->seg[k].s);
		free(m->seg);
		free(m->sel);
		free(m->raw);
		free(m->err_i);
		free(m->err_u);
		free(m->err_f);
		free(m->err_b);
		free(m->field);
		bx_re_free(m->re);
		free(m);
	}
	free(e->nodes);
	free(e->matches);
	free(e);
}

/* ---- Consul's messages ---- */

static void
err_selector(const struct bx_match *m, size_t upto, struct buf *err)
{
	struct buf sel;

	buf_init(&sel);
	for (size_t i = 0; i <= upto && i < m->nseg; i++) {
		if (i > 0)
			buf_addch(&sel, '.');
		buf_add(&sel, m->seg[i].s, m->seg[i].len);
	}
	buf_addstr(err, BEXPR_ERR_PREFIX "Selector ");
	bx_quote(err, (const char *)sel.data, sel.len);
	buf_addstr(err, " is not valid");
	buf_free(&sel);
}

static void
err_operator(const struct bx_match *m, struct buf *err)
{
	const char *name = bx_op_name(m->op);

	buf_addstr(err, BEXPR_ERR_PREFIX "Invalid match operator ");
	bx_quote(err, name, strlen(name));
	buf_addstr(err, " for selector ");
	bx_quote(err, m->sel, m->sellen);
}

static void
err_coerce(const struct bx_match *m, const char *why, struct buf *err)
{
	buf_addstr(err, BEXPR_ERR_PREFIX "Failed to coerce value ");
	bx_quote(err, m->raw, m->rawlen);
	buf_addstr(err, " for selector ");
	bx_quote(err, m->sel, m->sellen);
	buf_printf(err, ": %s", why);
}

/* ---- compilation ---- */

static bool
tkind_scalar(enum bexpr_tkind k)
{
	return k <= BEXPR_T_BOOL;
}

/* go-bexpr's SupportedOperations per field kind (field_config.go). */
static bool
op_allowed(const struct bexpr_type *t, enum bx_op op)
{
	switch (t->kind) {
	case BEXPR_T_STRING:
		return op != BX_EMPTY && op != BX_NOTEMPTY;
	case BEXPR_T_INT:
	case BEXPR_T_UINT:
	case BEXPR_T_FLOAT:
	case BEXPR_T_BOOL:
		return op == BX_EQ || op == BX_NE;
	case BEXPR_T_LIST:
		if (op == BX_EMPTY || op == BX_NOTEMPTY)
			return true;
		return tkind_scalar(t->elem->kind) &&
		    (op == BX_IN || op == BX_NOTIN);
	case BEXPR_T_MAP:
		return op == BX_EMPTY || op == BX_NOTEMPTY || op == BX_IN ||
		    op == BX_NOTIN;
	case BEXPR_T_STRUCT:
		return false;
	}
	return false;
}

static const struct bexpr_field *
find_field(const struct bexpr_type *t, const struct bx_seg *seg)
{
	for (const struct bexpr_field *f = t->fields; f && f->name; f++)
		if (strlen(f->name) == seg->len &&
		    memcmp(f->name, seg->s, seg->len) == 0)
			return f;
	return NULL;
}

/* The strconv error for coercing the literal to scalar kind k, or NULL. */
static const char *
coerce_error(const struct bx_match *m, enum bexpr_tkind k)
{
	switch (k) {
	case BEXPR_T_INT: return m->err_i;
	case BEXPR_T_UINT: return m->err_u;
	case BEXPR_T_FLOAT: return m->err_f;
	case BEXPR_T_BOOL: return m->err_b;
	default: return NULL;
	}
}

/* validate.go's checks, in its order: selector, operator, coercion. */
static int
bind_typed(const struct bexpr_type *root, struct bx_match *m, struct buf *err)
{
	const struct bexpr_type *t = root;
	const char *why;

	m->root = root;
	m->field = xcalloc(m->nseg ? m->nseg : 1, sizeof(*m->field));
	for (size_t i = 0; i < m->nseg; i++) {
		while (t->kind == BEXPR_T_LIST)
			t = t->elem;	/* slices expose their elements' fields */
		if (t->kind == BEXPR_T_STRUCT) {
			if ((m->field[i] = find_field(t, &m->seg[i])) == NULL)
				goto badsel;
			t = m->field[i]->type;
		} else if (t->kind == BEXPR_T_MAP) {
			t = t->elem;
		} else {
badsel:
			err_selector(m, i, err);
			return -EINVAL;
		}
	}
	if (!op_allowed(t, m->op)) {
		err_operator(m, err);
		return -EINVAL;
	}
	if (m->has_value) {
		why = coerce_error(m, t->kind == BEXPR_T_LIST ? t->elem->kind :
		    t->kind);
		if (why != NULL) {
			err_coerce(m, why, err);
			return -EINVAL;
		}
	}
	return 0;
}

static int
prepare_match(struct bexpr *e, struct bx_match *m, struct buf *err)
{
	struct buf rerr;
	int rc;

	if (m->has_value) {
		bx_parse_int(m->raw, m->rawlen, &m->vi, &m->err_i);
		bx_parse_uint(m->raw, m->rawlen, &m->vu, &m->err_u);
		bx_parse_float(m->raw, m->rawlen, &m->vf, &m->err_f);
		bx_parse_bool(m->raw, m->rawlen, &m->vb, &m->err_b);
	}
	if (e->type != NULL && (rc = bind_typed(e->type, m, err)) < 0)
		return rc;
	if (m->op != BX_MATCHES && m->op != BX_NOTMATCHES)
		return 0;
	buf_init(&rerr);
	if (bx_re_compile(m->raw, m->rawlen, &m->re, &rerr) == 0 &&
	    (e->re_insts += bx_re_size(m->re)) > BEXPR_MAX_RE_SIZE) {
		/* Many regexes each within bounds still cost memory and time
		 * per item; the whole expression has one budget. */
		buf_addstr(&rerr, "error parsing regexp: expression too large: `");
		buf_add(&rerr, m->raw, m->rawlen);
		buf_addch(&rerr, '`');
		bx_re_free(m->re);
		m->re = NULL;
	}
	if (m->re == NULL) {
		buf_addstr(err, BEXPR_ERR_PREFIX
		    "Failed to compile regular expression ");
		bx_quote(err, m->raw, m->rawlen);
		buf_printf(err, ": %.*s", (int)rerr.len, (char *)rerr.data);
		buf_free(&rerr);
		return -EINVAL;
	}
	buf_free(&rerr);
	return 0;
}

/* Left to right, as validate.go walks the tree. */
static int
prepare(struct bexpr *e, struct bx_node *n, struct buf *err)
{
	int rc;

	switch (n->kind) {
	case BX_MATCH:
		return prepare_match(e, n->m, err);
	case BX_NOT:
		return prepare(e, n->l, err);
	default:
		if ((rc = prepare(e, n->l, err)) < 0)
			return rc;
		return prepare(e, n->r, err);
	}
}

struct bexpr *
bexpr_compile_n(const char *expr, size_t len, const struct bexpr_type *type,
    struct buf *err)
{
	struct bexpr *e;
	struct buf perr;

	if (len > BEXPR_MAX_LEN) {
		buf_printf(err, BEXPR_ERR_PREFIX
		    "expression is longer than %d bytes", BEXPR_MAX_LEN);
		return NULL;
	}
	e = xcalloc(1, sizeof(*e));
	e->type = type;
	buf_init(&perr);
	e->root = bx_parse(e, expr, len, &perr);
	if (e->root == NULL) {
		buf_addstr(err, BEXPR_ERR_PREFIX);
		buf_add(err, perr.data, perr.len);
		buf_free(&perr);
		bexpr_free(e);
		return NULL;
	}
	buf_free(&perr);
	if (prepare(e, e->root, err) < 0) {
		bexpr_free(e);
		return NULL;
	}
	return e;
}

struct bexpr *
bexpr_compile(const char *expr, struct buf *err)
{
	return bexpr_compile_n(expr, strlen(expr), NULL, err);
}

struct bexpr *
bexpr_compile_typed(const char *expr, const struct bexpr_type *type,
    struct buf *err)
{
	return bexpr_compile_n(expr, strlen(expr), type, err);
}

/* ---- evaluation ---- */

/* evaluate.go: a missing map key makes ==, is not empty and in false and
 * every other operator true. */
static int
not_present(enum bx_op op)
{
	return !(op == BX_EQ || op == BX_NOTEMPTY || op == BX_IN);
}

static const struct bexpr_value *
lookup(const struct bexpr_value *v, const char *key, size_t len)
{
	if (v->kind != BEXPR_MAP && v->kind != BEXPR_STRUCT)
		return NULL;
	for (size_t i = 0; i < v->map.n; i++) {
		const struct bexpr_member *mb = &v->map.members[i];
		if (mb->keylen == len && memcmp(mb->key, key, len) == 0)
			return &mb->val;
	}
	return NULL;
}

static bool
as_int(const struct bexpr_value *v, int64_t *x)
{
	switch (v->kind) {
	case BEXPR_INT: *x = v->i; return true;
	case BEXPR_UINT:
		*x = (int64_t)v->u;
		return v->u <= INT64_MAX;
	case BEXPR_FLOAT:
		*x = (int64_t)v->f;
		return v->f >= -9.2e18 && v->f <= 9.2e18 && (double)*x == v->f;
	default: return false;
	}
}

static bool
as_uint(const struct bexpr_value *v, uint64_t *x)
{
	switch (v->kind) {
	case BEXPR_INT: *x = (uint64_t)v->i; return v->i >= 0;
	case BEXPR_UINT: *x = v->u; return true;
	case BEXPR_FLOAT:
		*x = (uint64_t)v->f;
		return v->f >= 0 && v->f <= 1.8e19 && (double)*x == v->f;
	default: return false;
	}
}

static bool
as_float(const struct bexpr_value *v, double *x)
{
	switch (v->kind) {
	case BEXPR_INT: *x = (double)v->i; return true;
	case BEXPR_UINT: *x = (double)v->u; return true;
	case BEXPR_FLOAT: *x = v->f; return true;
	default: return false;
	}
}

/* The literal equals scalar v read as type k (coercion already valid). */
static bool
scalar_eq(const struct bx_match *m, enum bexpr_tkind k,
    const struct bexpr_value *v)
{
	static const struct bexpr_value zero = { .kind = BEXPR_INT };
	int64_t i;
	uint64_t u;
	double f;

	if (v == NULL || v->kind == BEXPR_NULL)
		v = k == BEXPR_T_STRING || k == BEXPR_T_BOOL ? NULL : &zero;
	switch (k) {
	case BEXPR_T_STRING:
		if (v == NULL || v->kind != BEXPR_STRING)
			return m->rawlen == 0;
		return v->s.len == m->rawlen &&
		    memcmp(v->s.ptr, m->raw, m->rawlen) == 0;
	case BEXPR_T_INT: return as_int(v, &i) && i == m->vi;
	case BEXPR_T_UINT: return as_uint(v, &u) && u == m->vu;
	case BEXPR_T_FLOAT: return as_float(v, &f) && f == m->vf;
	case BEXPR_T_BOOL:
		return (v != NULL && v->kind == BEXPR_BOOL ? v->b : false) ==
		    m->vb;
	default: return false;
	}
}

static bool
str_contains(const char *h, size_t hl, const char *n, size_t nl)
{
	return nl == 0 || (hl >= nl && memmem(h, hl, n, nl) != NULL);
}

/* String operators; v NULL is the empty string. */
static int
string_op(const struct bx_match *m, const struct bexpr_value *v)
{
	const char *s = "";
	size_t n = 0;
	bool r;

	if (v != NULL && v->kind == BEXPR_STRING && v->s.ptr != NULL) {
		s = v->s.ptr;
		n = v->s.len;
	}
	switch (m->op) {
	case BX_EQ:
	case BX_NE:
		r = n == m->rawlen && memcmp(s, m->raw, n) == 0;
		return m->op == BX_EQ ? r : !r;
	case BX_IN:
	case BX_NOTIN:
		r = str_contains(s, n, m->raw, m->rawlen);
		return m->op == BX_IN ? r : !r;
	default:
		r = bx_re_match(m->re, s, n);
		return m->op == BX_MATCHES ? r : !r;
	}
}

static size_t
container_len(const struct bexpr_value *v)
{
	if (v == NULL)
		return 0;
	if (v->kind == BEXPR_LIST)
		return v->list.n;
	if (v->kind == BEXPR_MAP || v->kind == BEXPR_STRUCT)
		return v->map.n;
	return 0;
}

/* Operators at the end of a typed selector; v NULL is the zero value. */
static int
typed_leaf(const struct bx_match *m, const struct bexpr_type *t,
    const struct bexpr_value *v)
{
	bool r = false;

	switch (t->kind) {
	case BEXPR_T_STRING:
		return string_op(m, v);
	case BEXPR_T_LIST:
	case BEXPR_T_MAP:
		if (m->op == BX_EMPTY || m->op == BX_NOTEMPTY) {
			r = container_len(v) == 0;
			return m->op == BX_EMPTY ? r : !r;
		}
		if (t->kind == BEXPR_T_MAP)
			r = v != NULL && lookup(v, m->raw, m->rawlen) != NULL;
		else if (v != NULL && v->kind == BEXPR_LIST)
			for (size_t i = 0; i < v->list.n && !r; i++)
				r = scalar_eq(m, t->elem->kind,
				    &v->list.items[i]);
		return m->op == BX_IN ? r : !r;
	default:
		r = scalar_eq(m, t->kind, v);
		return m->op == BX_EQ ? r : !r;
	}
}

static int
typed(const struct bx_match *m, size_t d, const struct bexpr_type *t,
    const struct bexpr_value *v)
{
	const struct bexpr_value *child;
	int r;

	if (v != NULL && v->kind == BEXPR_NULL)
		v = NULL;	/* nil slice, map or pointer: the zero value */
	if (d == m->nseg)
		return typed_leaf(m, t, v);
	switch (t->kind) {
	case BEXPR_T_LIST:
		/* A selector through a list matches if any element does. */
		if (v == NULL || v->kind != BEXPR_LIST)
			return 0;
		for (size_t i = 0; i < v->list.n; i++)
			if ((r = typed(m, d, t->elem, &v->list.items[i])) != 0)
				return r;
		return 0;
	case BEXPR_T_STRUCT:
		child = NULL;
		if (v != NULL) {
			const struct bexpr_field *f = m->field[d];
			child = lookup(v, f->name, strlen(f->name));
			if (child == NULL && f->json != NULL)
				child = lookup(v, f->json, strlen(f->json));
		}
		return typed(m, d + 1, m->field[d]->type, child);
	default:	/* BEXPR_T_MAP; validation allows nothing else */
		child = v != NULL ? lookup(v, m->seg[d].s, m->seg[d].len) :
		    NULL;
		if (child == NULL)
			return not_present(m->op);
		return typed(m, d + 1, t->elem, child);
	}
}

static bool
kind_scalar(enum bexpr_kind k)
{
	return k >= BEXPR_BOOL && k <= BEXPR_STRING;
}

static enum bexpr_tkind
tkind_of(enum bexpr_kind k)
{
	switch (k) {
	case BEXPR_BOOL: return BEXPR_T_BOOL;
	case BEXPR_INT: return BEXPR_T_INT;
	case BEXPR_UINT: return BEXPR_T_UINT;
	case BEXPR_FLOAT: return BEXPR_T_FLOAT;
	default: return BEXPR_T_STRING;
	}
}

/* Scalar equality in untyped mode: the value's kind picks the coercion. */
static int
dyn_scalar_eq(const struct bx_match *m, const struct bexpr_value *v,
    struct buf *err)
{
	enum bexpr_tkind k = tkind_of(v->kind);
	const char *why = coerce_error(m, k);

	if (why != NULL) {
		err_coerce(m, why, err);
		return -1;
	}
	return scalar_eq(m, k, v);
}

static int
dyn_leaf(const struct bx_match *m, const struct bexpr_value *v,
    struct buf *err)
{
	enum bx_op op = m->op;
	int r = 0;

	switch (v->kind) {
	case BEXPR_NULL:	/* unknown type: the zero value of any */
		return !(op == BX_EQ || op == BX_IN || op == BX_NOTEMPTY ||
		    op == BX_MATCHES);
	case BEXPR_STRING:
		if (op == BX_EMPTY || op == BX_NOTEMPTY)
			break;
		return string_op(m, v);
	case BEXPR_BOOL:
	case BEXPR_INT:
	case BEXPR_UINT:
	case BEXPR_FLOAT:
		if (op != BX_EQ && op != BX_NE)
			break;
		if ((r = dyn_scalar_eq(m, v, err)) < 0)
			return r;
		return op == BX_EQ ? r : !r;
	case BEXPR_LIST:
	case BEXPR_MAP:
	case BEXPR_STRUCT:
		/* Untyped, an object's keys serve in / is empty whichever kind
		 * it is; Go structs allow neither, but here we cannot tell. */
		if (op == BX_EMPTY || op == BX_NOTEMPTY) {
			r = container_len(v) == 0;
			return op == BX_EMPTY ? r : !r;
		}
		if (op != BX_IN && op != BX_NOTIN)
			break;
		if (v->kind != BEXPR_LIST) {
			r = lookup(v, m->raw, m->rawlen) != NULL;
			return op == BX_IN ? r : !r;
		}
		for (size_t i = 0; i < v->list.n && r == 0; i++) {
			const struct bexpr_value *it = &v->list.items[i];
			if (it->kind == BEXPR_NULL)
				continue;
			if (!kind_scalar(it->kind))
				goto badop;	/* a list of objects */
			if ((r = dyn_scalar_eq(m, it, err)) < 0)
				return r;
		}
		return op == BX_IN ? r : !r;
	}
badop:
	err_operator(m, err);
	return -1;
}

static int
dyn(const struct bx_match *m, size_t d, const struct bexpr_value *v,
    struct buf *err)
{
	const struct bexpr_value *child;
	int r;

	if (d == m->nseg)
		return dyn_leaf(m, v, err);
	switch (v->kind) {
	case BEXPR_NULL:
		return not_present(m->op);
	case BEXPR_MAP:
	case BEXPR_STRUCT:
		child = lookup(v, m->seg[d].s, m->seg[d].len);
		if (child != NULL)
			return dyn(m, d + 1, child, err);
		if (v->kind == BEXPR_MAP)
			return not_present(m->op);
		break;
	case BEXPR_LIST:
		for (size_t i = 0; i < v->list.n; i++) {
			const struct bexpr_value *it = &v->list.items[i];
			if (kind_scalar(it->kind))
				goto badsel;	/* scalars have no fields */
			if ((r = dyn(m, d, it, err)) != 0)
				return r;
		}
		return 0;
	default:
		break;
	}
badsel:
	err_selector(m, d, err);
	return -1;
}

static int
eval_node(const struct bexpr *e, const struct bx_node *n,
    const struct bexpr_value *v, struct buf *err)
{
	int r;

	switch (n->kind) {
	case BX_AND:
		if ((r = eval_node(e, n->l, v, err)) <= 0)
			return r;
		return eval_node(e, n->r, v, err);
	case BX_OR:
		if ((r = eval_node(e, n->l, v, err)) != 0)
			return r;
		return eval_node(e, n->r, v, err);
	case BX_NOT:
		r = eval_node(e, n->l, v, err);
		return r < 0 ? r : !r;
	default:
		if (e->type != NULL)
			return typed(n->m, 0, e->type, v);
		return dyn(n->m, 0, v, err);
	}
}

int
bexpr_eval(const struct bexpr *e, const struct bexpr_value *root,
    bool *match, struct buf *err)
{
	static const struct bexpr_value null = { .kind = BEXPR_NULL };
	int r;

	*match = false;
	r = eval_node(e, e->root, root != NULL ? root : &null, err);
	if (r < 0)
		return -EINVAL;
	*match = r != 0;
	return 0;
}

/* ---- values from yajl trees ---- */

struct chunk {
	struct chunk *next;
	size_t used, cap;
	max_align_t data[];
};

struct bexpr_arena {
	struct chunk *head, *cur;
};

#define CHUNK_MIN 16384

struct bexpr_arena *
bexpr_arena_new(void)
{
	return xcalloc(1, sizeof(struct bexpr_arena));
}

void
bexpr_arena_reset(struct bexpr_arena *a)
{
	for (struct chunk *c = a->head; c != NULL; c = c->next)
		c->used = 0;
	a->cur = a->head;
}

void
bexpr_arena_free(struct bexpr_arena *a)
{
	struct chunk *c, *next;

	if (a == NULL)
		return;
	for (c = a->head; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	free(a);
}

static void *
arena_alloc(struct bexpr_arena *a, size_t n)
{
	size_t align = sizeof(max_align_t);
	struct chunk *c, **link;

	n = (n + align - 1) / align * align;
	for (c = a->cur; c != NULL; c = c->next) {
		if (c->cap - c->used >= n) {
			void *p = (char *)c->data + c->used;
			c->used += n;
			a->cur = c;
			return p;
		}
	}
	c = xmalloc(sizeof(*c) + MAX(n, (size_t)CHUNK_MIN));
	c->cap = MAX(n, (size_t)CHUNK_MIN);
	c->used = n;
	c->next = NULL;
	for (link = &a->head; *link != NULL; link = &(*link)->next)
		;
	*link = c;
	a->cur = c;
	return c->data;
}

static const struct bexpr_type *
member_type(const struct bexpr_type *t, const char *key)
{
	if (t == NULL)
		return NULL;
	if (t->kind == BEXPR_T_MAP)
		return t->elem;
	if (t->kind != BEXPR_T_STRUCT)
		return NULL;
	for (const struct bexpr_field *f = t->fields; f && f->name; f++)
		if (strcmp(f->name, key) == 0 ||
		    (f->json != NULL && strcmp(f->json, key) == 0))
			return f->type;
	return NULL;
}

static void
number_from_yajl(yajl_val v, struct bexpr_value *out)
{
	const char *raw = v->u.number.r;
	char *end;

	if (v->u.number.flags & YAJL_NUMBER_INT_VALID) {
		out->kind = BEXPR_INT;
		out->i = v->u.number.i;
		return;
	}
	if (raw != NULL && raw[strspn(raw, "0123456789")] == '\0') {
		errno = 0;
		unsigned long long u = strtoull(raw, &end, 10);
		if (errno == 0) {
			out->kind = BEXPR_UINT;
			out->u = u;
			return;
		}
	}
	out->kind = BEXPR_FLOAT;
	out->f = v->u.number.d;
}

static void
from_yajl(struct bexpr_arena *a, yajl_val v, const struct bexpr_type *t,
    struct bexpr_value *out)
{
	struct bexpr_member *mb;
	struct bexpr_value *items;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (v == NULL || YAJL_IS_NULL(v)) {
		out->kind = BEXPR_NULL;
	} else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)) {
		out->kind = BEXPR_BOOL;
		out->b = YAJL_IS_TRUE(v);
	} else if (YAJL_IS_STRING(v)) {
		out->kind = BEXPR_STRING;
		out->s.ptr = v->u.string;
		out->s.len = strlen(v->u.string);
	} else if (YAJL_IS_NUMBER(v)) {
		number_from_yajl(v, out);
	} else if (YAJL_IS_ARRAY(v)) {
		n = v->u.array.len;
		items = arena_alloc(a, MAX(n, (size_t)1) * sizeof(*items));
		for (size_t i = 0; i < n; i++)
			from_yajl(a, v->u.array.values[i],
			    t != NULL && t->kind == BEXPR_T_LIST ? t->elem :
			    NULL, &items[i]);
		out->kind = BEXPR_LIST;
		out->list.items = items;
		out->list.n = n;
	} else {
		n = v->u.object.len;
		mb = arena_alloc(a, MAX(n, (size_t)1) * sizeof(*mb));
		for (size_t i = 0; i < n; i++) {
			mb[i].key = v->u.object.keys[i];
			mb[i].keylen = strlen(mb[i].key);
			from_yajl(a, v->u.object.values[i],
			    member_type(t, mb[i].key), &mb[i].val);
		}
		out->kind = t != NULL && t->kind == BEXPR_T_MAP ? BEXPR_MAP :
		    BEXPR_STRUCT;
		out->map.members = mb;
		out->map.n = n;
	}
}

const struct bexpr_value *
bexpr_from_yajl(struct bexpr_arena *a, yajl_val v,
    const struct bexpr_type *type)
{
	struct bexpr_value *out = arena_alloc(a, sizeof(*out));

	from_yajl(a, v, type, out);
	return out;
}

int
bexpr_eval_yajl(const struct bexpr *e, struct bexpr_arena *a, yajl_val v,
    const struct bexpr_type *type, bool *match, struct buf *err)
{
	bexpr_arena_reset(a);
	return bexpr_eval(e, bexpr_from_yajl(a, v, type), match, err);
}
