/*
 * Thin helpers over yajl for the two places JSON lives: the HTTP API and
 * config files.
 *
 * Reading: parse into a yajl_tree and look members up the way Go's
 * encoding/json (and so Consul) matches object keys to struct fields:
 * case-insensitively.  Consul's own structures additionally accept
 * snake_case spellings of PascalCase fields in many places (service and
 * check definitions: "deregister_critical_service_after" for
 * "DeregisterCriticalServiceAfter"); json_get_loose() matches those.
 *
 * Writing: struct json_w wraps yajl_gen and appends straight into a
 * struct buf.  Output follows Go's json.Marshal / json.MarshalIndent(v,
 * "", "    ") layout (Consul's ?pretty): empty containers as {} and [],
 * invalid UTF-8 replaced by U+FFFD, floats in Go's shortest form.  Unlike
 * Go, '<', '>' and '&' are not \u-escaped (the output is still valid
 * JSON; no client depends on the escaping).
 */
#ifndef MUSTER_JSON_H
#define MUSTER_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "lib/util.h"

/*
 * Parse s[0..len) (need not be NUL-terminated) into a tree; free it with
 * yajl_tree_free().  On a syntax error returns NULL and, when err is not
 * NULL, appends yajl's one-line message to it.
 */
yajl_val json_parse(const char *s, size_t len, struct buf *err);

/* "string", "number", "boolean", "object", "array" or "null". */
const char *json_type_name(yajl_val v);

/* Case-insensitive (ASCII) key equality, Go's encoding/json matching. */
bool json_key_eq(const char *a, const char *b);
/* As json_key_eq, ignoring '_' on both sides: "node_name" == "NodeName". */
bool json_key_eq_loose(const char *a, const char *b);

/*
 * Member of object obj whose key matches key (json_key_eq /
 * json_key_eq_loose).  An exact match wins; otherwise, as Go decodes a
 * document member by member, the last matching member wins.  NULL when
 * absent or obj is not an object.
 */
yajl_val json_get(yajl_val obj, const char *key);
yajl_val json_get_loose(yajl_val obj, const char *key);

/* Typed accessors: false when v is absent or of another type. */
bool json_as_str(yajl_val v, const char **s);
bool json_as_bool(yajl_val v, bool *b);
/* A JSON number that is an integer (no fraction, no exponent overflow). */
bool json_as_int(yajl_val v, int64_t *i);

struct json_w {
	yajl_gen g;
	struct buf *out;
	bool pretty;
	int err;		/* first yajl_gen_status error, 0 if none */
	unsigned depth;
	/* Pretty mode: where each open container's '{'/'[' was written and
	 * whether anything was put in it, to print empty ones as {} / []. */
	size_t open_at[128];
	bool nonempty[128];
};

/* Start writing into out (appending).  pretty: 4-space indent + "\n". */
void json_w_init(struct json_w *w, struct buf *out, bool pretty);
/* Release the generator; returns 0 or -EINVAL if any call misused the
 * generator (unbalanced containers, a non-string key, too deep). */
int json_w_finish(struct json_w *w);

void json_w_obj_open(struct json_w *w);
void json_w_obj_close(struct json_w *w);
void json_w_arr_open(struct json_w *w);
void json_w_arr_close(struct json_w *w);
/* Object keys are strings: json_w_key() is json_w_str() for clarity. */
void json_w_key(struct json_w *w, const char *k);
void json_w_str(struct json_w *w, const char *s);
void json_w_strn(struct json_w *w, const char *s, size_t n);
/* NULL is written as null. */
void json_w_str_or_null(struct json_w *w, const char *s);
void json_w_int(struct json_w *w, int64_t v);
void json_w_uint(struct json_w *w, uint64_t v);
void json_w_double(struct json_w *w, double v);
void json_w_bool(struct json_w *w, bool v);
void json_w_null(struct json_w *w);
/* Copy a parsed tree (numbers keep their original text). */
void json_w_value(struct json_w *w, yajl_val v);

/* Go's strconv.FormatFloat(v, 'g'-ish, -1, 64) as encoding/json prints
 * float64: shortest round-trip digits, exponent form only below 1e-6 or
 * from 1e21.  out must hold 32 bytes.  NaN/Inf print as "null". */
void json_format_double(double v, char out[32]);

#endif
