/*
 * Consul's ?filter= expression language: HashiCorp go-bexpr v0.1.2, the
 * version Consul vendors (its endpoints call the three-argument
 * bexpr.CreateFilter(expr, nil, dataType) of that release).
 *
 * Grammar (precedence low to high: or, and, not; parentheses group):
 *
 *	expr     := and ("or" and)*            (right-associative, short-circuit)
 *	and      := not ("and" not)*
 *	not      := "not" not | "(" expr ")" | match
 *	match    := sel ("==" | "!=") value
 *	          | sel ["not"] ("contains" | "matches") value
 *	          | sel "is" ["not"] "empty"
 *	          | value ["not"] "in" sel
 *	sel      := ident ("." ident | "[" string "]")*   ident = [a-zA-Z][a-zA-Z0-9_]*
 *	value    := sel (taken as its dotted text) | number | string
 *	number   := "-"? ("0" | [1-9][0-9]*) ("." [0-9]+)?
 *	string   := "..." (Go escapes: \n \t \xHH \uHHHH \" ...) | `raw`
 *
 * Keywords are lower case and need white space around them ("a==1" is
 * fine, "a in b" needs the spaces).  Selector names match field names and
 * map keys case-sensitively, as Consul's reflection-based lookup does.
 *
 * Semantics (go-bexpr v0.1.2, as Consul behaves):
 *   - strings: == != contains/in (substring) matches (Go RE2 syntax);
 *     numbers and booleans: == != only, the literal coerced with Go's
 *     strconv rules for the field's type (ParseInt base 0, so "0x50" == 80;
 *     ParseBool accepts 1/t/T/TRUE/true/True and the false forms);
 *   - lists of scalars: in/contains (membership), is [not] empty;
 *     lists of objects: is [not] empty, and a selector that continues
 *     through the list matches if ANY element matches
 *     (Checks.Status == "critical");
 *   - maps: in/contains test the keys, is [not] empty, Meta.k or Meta["k"]
 *     selects a value; a missing key makes ==, is not empty and in false
 *     and every other operator true (go-bexpr's "not present" rule;
 *     note that this includes matches);
 *   - "is empty" on a string is an error in v0.1.2 (Consul's docs list
 *     only Equal, Not Equal, In, Not In, Matches, Not Matches for strings).
 *
 * Errors carry Consul's exact text.  Everything Consul reports when it
 * creates the filter (syntax, unknown selector, operator not valid for the
 * field, a literal that does not fit the field's type, a bad regex) is
 * prefixed with "Failed to create boolean expression evaluator: "; syntax
 * errors are pigeon's "1:14 (13): no match found, expected: ..." form.
 * Consul's HTTP layer writes that text as the response body with status
 * 500 (the error is untyped there; a client agent forwarding to a server
 * prefixes "rpc error making call: "); muster's HTTP layer chooses its
 * own.  tests/unit/catalog/bexpr_oracle.h holds over a thousand results
 * and messages recorded from go-bexpr v0.1.2 that this code reproduces.
 *
 * Regular expressions use our own implementation of Go's regexp syntax
 * (lib/bexpr_re.c), not POSIX regcomp, whose ERE lacks \d, (?i), (?:...),
 * non-greedy operators and Go's error messages: Go's syntax and errors
 * (\d \w \s \b, (?i) (?s) (?m) (?U), (?:...), *? +?, \Q..\E, [[:alpha:]],
 * \x{...}, \p{Greek}), unanchored match, and time linear in the subject
 * (a Thompson NFA, no backtracking, no backreferences), so a hostile
 * pattern cannot stall a worker.  \p{...} classes and (?i) folding use
 * Go's Unicode tables (lib/bexpr_unicode.c).  Unlike Go, a program is
 * limited to 20000 instructions (x{1000} counts 1000).
 *
 * Two ways to bind an expression to data:
 *   - typed (bexpr_compile_typed): selectors, operators and literals are
 *     checked at compile time against a schema, exactly as Consul checks
 *     them against its Go structs; a field absent from an item (omitempty)
 *     or null evaluates as the type's zero value.  Endpoints should use
 *     this with the Consul schemas below.
 *   - untyped (bexpr_compile): the same checks happen at evaluation,
 *     driven by the kinds in the value tree (a key missing from a
 *     BEXPR_STRUCT is "Selector ... is not valid", from a BEXPR_MAP it is
 *     the not-present rule), with Consul's messages, and only on the
 *     branches and items actually evaluated.  in/contains and is empty
 *     apply to the keys of either object kind; null behaves as an empty
 *     container, or as a value equal to nothing.
 *
 * A compiled expression is immutable apart from regex scratch space: reuse
 * it for any number of items, but from one thread at a time.  Evaluation
 * does not allocate except to format an error.
 */
#ifndef MUSTER_BEXPR_H
#define MUSTER_BEXPR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yajl/yajl_tree.h>

#include "lib/util.h"

/*
 * Longest expression accepted, and the parser's nesting budget: every
 * "(", "not" and chained "and"/"or" term spends one to four levels, so
 * about 500 nested parentheses or 600 chained terms fit.  go-bexpr has no
 * limit; ours keeps recursion within a worker's stack.
 */
#define BEXPR_MAX_LEN 65536
#define BEXPR_MAX_DEPTH 2000
/* NFA instructions over all of an expression's regexes (one regex may
 * have 20000): "expression too large" past it, as Go says for its limit. */
#define BEXPR_MAX_RE_SIZE 100000

/* Prefix of every creation-time error, as go-bexpr's CreateFilter words it. */
#define BEXPR_ERR_PREFIX "Failed to create boolean expression evaluator: "

/* ---- values: the data an expression is evaluated against ---- */

enum bexpr_kind {
	BEXPR_NULL,
	BEXPR_BOOL,
	BEXPR_INT,
	BEXPR_UINT,
	BEXPR_FLOAT,
	BEXPR_STRING,
	BEXPR_LIST,
	BEXPR_MAP,	/* user-keyed map: missing key = not present */
	BEXPR_STRUCT,	/* fixed fields: missing field = invalid selector */
};

struct bexpr_member;

struct bexpr_value {
	enum bexpr_kind kind;
	union {
		bool b;
		int64_t i;
		uint64_t u;
		double f;
		struct {
			const char *ptr;	/* not NUL-terminated */
			size_t len;
		} s;
		struct {
			const struct bexpr_value *items;
			size_t n;
		} list;
		struct {
			const struct bexpr_member *members;
			size_t n;
		} map;			/* BEXPR_MAP and BEXPR_STRUCT */
	};
};

struct bexpr_member {
	const char *key;
	size_t keylen;
	struct bexpr_value val;
};

/* ---- schemas: the typed view Consul gets from its Go structs ---- */

enum bexpr_tkind {
	BEXPR_T_STRING,
	BEXPR_T_INT,
	BEXPR_T_UINT,
	BEXPR_T_FLOAT,
	BEXPR_T_BOOL,
	BEXPR_T_LIST,	/* elem */
	BEXPR_T_MAP,	/* string keys, elem values */
	BEXPR_T_STRUCT,	/* fields */
};

struct bexpr_type;

struct bexpr_field {
	const char *name;	/* selector name (Go field name); NULL ends */
	const char *json;	/* JSON key when it differs, else NULL */
	const struct bexpr_type *type;
};

struct bexpr_type {
	enum bexpr_tkind kind;
	const struct bexpr_type *elem;
	const struct bexpr_field *fields;
};

extern const struct bexpr_type bexpr_t_string, bexpr_t_int, bexpr_t_uint,
    bexpr_t_float, bexpr_t_bool, bexpr_t_string_list, bexpr_t_string_map;

/*
 * Consul's filterable types (lib/bexpr_consul.c), the selectors of the
 * "Filtering" tables in Consul's API docs:
 *   node            /catalog/nodes                    (structs.Node)
 *   service_node    /catalog/service/:s, /catalog/connect/:s
 *   node_service    /catalog/node/:n Services, /catalog/node-services/:n
 *   agent_service   /agent/services                   (api.AgentService)
 *   health_check    /health/node|checks|state, /agent/checks
 *   check_service_node /health/service/:s, /health/connect/:s
 */
extern const struct bexpr_type bexpr_consul_node, bexpr_consul_service_node,
    bexpr_consul_node_service, bexpr_consul_agent_service,
    bexpr_consul_health_check, bexpr_consul_check_service_node;

/* ---- expressions ---- */

struct bexpr;

/*
 * Parse an expression for untyped evaluation.  On error returns NULL and
 * appends Consul's message (BEXPR_ERR_PREFIX included) to err.  An empty
 * expression is a syntax error here, as in go-bexpr's CreateEvaluator;
 * Consul's CreateFilter treats "" as "no filter" and so should callers.
 */
struct bexpr *bexpr_compile(const char *expr, struct buf *err);

/* Parse and check against type (the type of one item). */
struct bexpr *bexpr_compile_typed(const char *expr,
    const struct bexpr_type *type, struct buf *err);

/* Length-delimited form of both (expr may hold NUL bytes); type may be NULL. */
struct bexpr *bexpr_compile_n(const char *expr, size_t len,
    const struct bexpr_type *type, struct buf *err);

/*
 * Evaluate against one item.  Returns 0 and sets *match, or -EINVAL with
 * the message appended to err (*match false), e.g. for an unknown selector
 * in untyped mode.
 */
int bexpr_eval(const struct bexpr *e, const struct bexpr_value *root,
    bool *match, struct buf *err);

void bexpr_free(struct bexpr *e);

/* ---- building values from JSON ---- */

/* Bump allocator for value trees; reset between items to reuse its memory. */
struct bexpr_arena;

struct bexpr_arena *bexpr_arena_new(void);
void bexpr_arena_reset(struct bexpr_arena *a);
void bexpr_arena_free(struct bexpr_arena *a);

/*
 * Convert a yajl_tree value.  Strings point into the yajl tree, which must
 * outlive the result; everything else lives in the arena.  With a type,
 * objects at map positions become BEXPR_MAP and the rest BEXPR_STRUCT;
 * without one every object becomes BEXPR_STRUCT.  JSON integers become
 * BEXPR_INT (BEXPR_UINT above INT64_MAX), other numbers BEXPR_FLOAT.
 */
const struct bexpr_value *bexpr_from_yajl(struct bexpr_arena *a, yajl_val v,
    const struct bexpr_type *type);

/* Evaluate one yajl item: resets the arena, converts v, evaluates. */
int bexpr_eval_yajl(const struct bexpr *e, struct bexpr_arena *a, yajl_val v,
    const struct bexpr_type *type, bool *match, struct buf *err);

#endif
