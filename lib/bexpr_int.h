/*
 * Private to lib/bexpr*.c: the syntax tree, the pigeon-compatible parser,
 * the RE2-subset regex engine and the Go strconv/utf8 behaviours the
 * error messages depend on.
 */
#ifndef MUSTER_BEXPR_INT_H
#define MUSTER_BEXPR_INT_H

#include "lib/bexpr.h"

/* go-bexpr's MatchOperator; names are its String() forms. */
enum bx_op {
	BX_EQ,		/* "Equal" */
	BX_NE,		/* "Not Equal" */
	BX_IN,		/* "In" (also contains) */
	BX_NOTIN,	/* "Not In" (also not contains) */
	BX_EMPTY,	/* "Is Empty" */
	BX_NOTEMPTY,	/* "Is Not Empty" */
	BX_MATCHES,	/* "Matches" */
	BX_NOTMATCHES,	/* "Not Matches" */
};

enum bx_kind { BX_AND, BX_OR, BX_NOT, BX_MATCH };

struct bx_seg {
	char *s;
	size_t len;
};

struct bx_re;

struct bx_match {
	enum bx_op op;
	size_t nseg;
	struct bx_seg *seg;
	char *sel;		/* segments joined by ".", for messages */
	size_t sellen;
	bool has_value;
	char *raw;		/* the literal as go-bexpr's MatchValue.Raw */
	size_t rawlen;
	/* The literal coerced for each scalar kind, or the strconv error. */
	int64_t vi;
	uint64_t vu;
	double vf;
	bool vb;
	char *err_i, *err_u, *err_f, *err_b;
	struct bx_re *re;	/* matches / not matches */
	/* Typed mode: per segment, the struct field or NULL (map key). */
	const struct bexpr_type *root;
	const struct bexpr_field **field;
};

struct bx_node {
	enum bx_kind kind;
	struct bx_node *l, *r;	/* BX_NOT uses l */
	struct bx_match *m;
};

struct bexpr {
	struct bx_node *root;
	const struct bexpr_type *type;
	/* Every node and match the parser made (memoisation keeps some that
	 * are not in the final tree); freed together. */
	struct bx_node **nodes;
	size_t nnodes, capnodes;
	struct bx_match **matches;
	size_t nmatches, capmatches;
	size_t re_insts;	/* summed over the expression's regexes */
};

/* bexpr_parse.c: pigeon-faithful parse; on error appends pigeon's text. */
struct bx_node *bx_parse(struct bexpr *e, const char *s, size_t n,
    struct buf *err);
struct bx_node *bx_node_new(struct bexpr *e, enum bx_kind kind);
struct bx_match *bx_match_new(struct bexpr *e);

/* bexpr_re.c: Go regexp syntax, boolean unanchored match, linear time. */
int bx_re_compile(const char *pat, size_t len, struct bx_re **out,
    struct buf *err);
bool bx_re_match(struct bx_re *re, const char *s, size_t len);
size_t bx_re_size(const struct bx_re *re);	/* NFA instructions */
void bx_re_free(struct bx_re *re);

/* bexpr_unicode.c: Go's unicode tables (categories, scripts, folding). */
struct bx_utable {
	const char *name;
	const uint32_t *r;	/* lo,hi pairs */
	size_t n;		/* uint32s */
};
extern const struct bx_utable bx_utables[];
extern const size_t bx_nutables;
extern const uint32_t bx_fold_orbit[][2];	/* sorted by [0] */
extern const size_t bx_nfold;

/* bexpr_go.c: Go runtime behaviours. */
#define BX_RUNE_ERROR 0xFFFDu
/* utf8.DecodeRune: width 0 at end, (RuneError, 1) on a bad sequence. */
size_t bx_utf8_decode(const char *s, size_t n, uint32_t *r);
void bx_utf8_append(struct buf *b, uint32_t r);
/* strconv.Quote, close enough for messages (see bexpr_go.c). */
void bx_quote(struct buf *b, const char *s, size_t n);
/* strconv.Unquote of a "..." or `...` literal; -1 on ErrSyntax. */
int bx_unquote(const char *s, size_t n, struct buf *out);
/* strconv parsers; on error they set *err to Go's NumError text. */
bool bx_parse_int(const char *s, size_t n, int64_t *v, char **err);
bool bx_parse_uint(const char *s, size_t n, uint64_t *v, char **err);
bool bx_parse_float(const char *s, size_t n, double *v, char **err);
bool bx_parse_bool(const char *s, size_t n, bool *v, char **err);
const char *bx_op_name(enum bx_op op);

#endif
