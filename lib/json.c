#include "lib/json.h"
#include "lib/log.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

/* yajl_gen refuses to nest deeper than this; refuse to parse it too, so
 * every parsed tree can be written back and freed without deep recursion. */
#define JSON_MAX_DEPTH 128

/* Nesting depth of the document, counted outside strings. */
static size_t
json_depth(const char *s, size_t len)
{
	size_t depth = 0, max = 0;
	bool in_str = false, esc = false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (in_str) {
			if (esc)
				esc = false;
			else if (c == '\\')
				esc = true;
			else if (c == '"')
				in_str = false;
		} else if (c == '"') {
			in_str = true;
		} else if (c == '{' || c == '[') {
			if (++depth > max)
				max = depth;
		} else if ((c == '}' || c == ']') && depth > 0) {
			depth--;
		}
	}
	return max;
}

/* yajl_tree_parse's message spans several lines; re-run a bare parser to
 * get the one-line reason and the place, as "reason at line L, column C". */
static void
json_error(const char *s, size_t len, struct buf *err)
{
	yajl_handle h = yajl_alloc(NULL, NULL, NULL);
	yajl_config(h, yajl_allow_comments, 1);
	yajl_status st = yajl_parse(h, (const unsigned char *)s, len);
	if (st == yajl_status_ok)
		st = yajl_complete_parse(h);
	if (st == yajl_status_ok) {
		buf_addstr(err, "invalid JSON");
		yajl_free(h);
		return;
	}
	/* yajl counts the offending byte as consumed: point at it. */
	size_t at = yajl_get_bytes_consumed(h), line = 1, col = 1;
	if (at > 0)
		at--;
	for (size_t i = 0; i < at && i < len; i++) {
		if (s[i] == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	unsigned char *msg = yajl_get_error(h, 0, (const unsigned char *)s, len);
	char *nl = strchr((char *)msg, '\n');
	if (nl)
		*nl = '\0';
	buf_printf(err, "%s at line %zu, column %zu", (char *)msg, line, col);
	yajl_free_error(h, msg);
	yajl_free(h);
}

yajl_val
json_parse(const char *s, size_t len, struct buf *err)
{
	if (json_depth(s, len) > JSON_MAX_DEPTH) {
		if (err)
			buf_printf(err, "JSON nested deeper than %d levels",
			    JSON_MAX_DEPTH);
		return NULL;
	}
	char *copy = xstrndup(s, len);
	char ebuf[256];
	yajl_val v = yajl_tree_parse(copy, ebuf, sizeof(ebuf));
	free(copy);
	if (v == NULL && err)
		json_error(s, len, err);
	return v;
}

const char *
json_type_name(yajl_val v)
{
	if (v == NULL || YAJL_IS_NULL(v))
		return "null";
	if (YAJL_IS_STRING(v))
		return "string";
	if (YAJL_IS_NUMBER(v))
		return "number";
	if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v))
		return "boolean";
	if (YAJL_IS_OBJECT(v))
		return "object";
	return "array";
}

bool
json_key_eq(const char *a, const char *b)
{
	return strcasecmp(a, b) == 0;
}

bool
json_key_eq_loose(const char *a, const char *b)
{
	for (;;) {
		while (*a == '_')
			a++;
		while (*b == '_')
			b++;
		if (*a == '\0' || *b == '\0')
			return *a == *b;
		if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
			return false;
		a++, b++;
	}
}

static yajl_val
json_get_by(yajl_val obj, const char *key, bool (*eq)(const char *, const char *))
{
	yajl_val found = NULL;
	if (obj == NULL || !YAJL_IS_OBJECT(obj))
		return NULL;
	for (size_t i = 0; i < obj->u.object.len; i++) {
		const char *k = obj->u.object.keys[i];
		if (strcmp(k, key) == 0)
			return obj->u.object.values[i];
		if (eq(k, key))
			found = obj->u.object.values[i];
	}
	return found;
}

yajl_val
json_get(yajl_val obj, const char *key)
{
	return json_get_by(obj, key, json_key_eq);
}

yajl_val
json_get_loose(yajl_val obj, const char *key)
{
	return json_get_by(obj, key, json_key_eq_loose);
}

bool
json_as_str(yajl_val v, const char **s)
{
	if (v == NULL || !YAJL_IS_STRING(v))
		return false;
	*s = v->u.string;
	return true;
}

bool
json_as_bool(yajl_val v, bool *b)
{
	if (v == NULL || !(YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)))
		return false;
	*b = YAJL_IS_TRUE(v);
	return true;
}

bool
json_as_int(yajl_val v, int64_t *i)
{
	if (v == NULL || !YAJL_IS_INTEGER(v))
		return false;
	*i = v->u.number.i;
	return true;
}

/* --- writer --- */

static void
json_w_print(void *ctx, const char *s, size_t len)
{
	buf_add(ctx, s, len);
}

void
json_w_init(struct json_w *w, struct buf *out, bool pretty)
{
	memset(w, 0, sizeof(*w));
	w->out = out;
	w->pretty = pretty;
	w->g = yajl_gen_alloc(NULL);
	if (w->g == NULL)
		fatalx("yajl_gen_alloc");
	yajl_gen_config(w->g, yajl_gen_print_callback, json_w_print, out);
	if (pretty) {
		yajl_gen_config(w->g, yajl_gen_beautify, 1);
		yajl_gen_config(w->g, yajl_gen_indent_string, "    ");
	}
}

int
json_w_finish(struct json_w *w)
{
	if (w->depth != 0 && w->err == 0)
		w->err = yajl_gen_generation_complete;
	yajl_gen_free(w->g);
	w->g = NULL;
	return w->err ? -EINVAL : 0;
}

static void
json_w_status(struct json_w *w, yajl_gen_status st)
{
	if (st != yajl_gen_status_ok && w->err == 0)
		w->err = (int)st;
}

/* Something is being written inside the innermost open container. */
static void
json_w_item(struct json_w *w)
{
	if (w->depth > 0 && w->depth <= nitems(w->nonempty))
		w->nonempty[w->depth - 1] = true;
}

static void
json_w_open(struct json_w *w, bool obj)
{
	json_w_item(w);
	json_w_status(w, obj ? yajl_gen_map_open(w->g) :
	    yajl_gen_array_open(w->g));
	if (w->depth < nitems(w->open_at)) {
		w->open_at[w->depth] = w->out->len;
		w->nonempty[w->depth] = false;
	}
	w->depth++;
}

static void
json_w_close(struct json_w *w, bool obj)
{
	if (w->depth == 0) {
		json_w_status(w, yajl_gen_generation_complete);
		return;
	}
	w->depth--;
	size_t at = w->depth < nitems(w->open_at) ? w->open_at[w->depth] : 0;
	bool empty = w->depth < nitems(w->nonempty) && !w->nonempty[w->depth];
	json_w_status(w, obj ? yajl_gen_map_close(w->g) :
	    yajl_gen_array_close(w->g));
	if (w->pretty && empty && w->err == 0 && at > 0) {
		/* yajl prints "{\n\n    }"; Go prints "{}". The open wrote
		 * "{\n", so the bracket sits just before at. */
		w->out->len = at - 1;
		buf_addch(w->out, obj ? '}' : ']');
		if (w->depth == 0)
			buf_addch(w->out, '\n');
	}
}

void
json_w_obj_open(struct json_w *w)
{
	json_w_open(w, true);
}

void
json_w_obj_close(struct json_w *w)
{
	json_w_close(w, true);
}

void
json_w_arr_open(struct json_w *w)
{
	json_w_open(w, false);
}

void
json_w_arr_close(struct json_w *w)
{
	json_w_close(w, false);
}

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlongs, no
 * surrogates, at most U+10FFFF), 0 if invalid. */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len;
	unsigned lo = 0x80, hi = 0xbf;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

void
json_w_strn(struct json_w *w, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k;

	json_w_item(w);
	while (i < n && (k = utf8_seq(p + i, n - i)) > 0)
		i += k;
	if (i == n) {
		json_w_status(w, yajl_gen_string(w->g, p, n));
		return;
	}
	/* As Go's encoding/json: each invalid byte becomes U+FFFD. */
	struct buf t;
	buf_init(&t);
	buf_add(&t, p, i);
	while (i < n) {
		if ((k = utf8_seq(p + i, n - i)) > 0) {
			buf_add(&t, p + i, k);
			i += k;
		} else {
			buf_add(&t, "\xef\xbf\xbd", 3);
			i++;
		}
	}
	json_w_status(w, yajl_gen_string(w->g, t.data, t.len));
	buf_free(&t);
}

void
json_w_str(struct json_w *w, const char *s)
{
	json_w_strn(w, s, strlen(s));
}

void
json_w_key(struct json_w *w, const char *k)
{
	json_w_str(w, k);
}

void
json_w_str_or_null(struct json_w *w, const char *s)
{
	if (s)
		json_w_str(w, s);
	else
		json_w_null(w);
}

void
json_w_int(struct json_w *w, int64_t v)
{
	char t[24];
	int n = snprintf(t, sizeof(t), "%lld", (long long)v);
	json_w_item(w);
	json_w_status(w, yajl_gen_number(w->g, t, (size_t)n));
}

void
json_w_uint(struct json_w *w, uint64_t v)
{
	char t[24];
	int n = snprintf(t, sizeof(t), "%llu", (unsigned long long)v);
	json_w_item(w);
	json_w_status(w, yajl_gen_number(w->g, t, (size_t)n));
}

void
json_format_double(double v, char out[32])
{
	char e[32];
	int p;

	if (!isfinite(v)) {
		strcpy(out, "null");
		return;
	}
	/* Shortest precision that reads back as the same double. */
	for (p = 1; p < 17; p++) {
		snprintf(e, sizeof(e), "%.*e", p - 1, v);
		if (strtod(e, NULL) == v)
			break;
	}
	snprintf(e, sizeof(e), "%.*e", p - 1, v);
	int exp = atoi(strchr(e, 'e') + 1);
	double a = fabs(v);
	if (a != 0 && (a < 1e-6 || a >= 1e21)) {
		/* Go writes e-07 as e-7 (and keeps e+21). */
		char *x = strchr(e, 'e');
		if (x[1] == '-' && x[2] == '0' && x[3] != '\0')
			memmove(x + 2, x + 3, strlen(x + 3) + 1);
		strcpy(out, e);
		return;
	}
	int dec = p - 1 - exp;
	snprintf(out, 32, "%.*f", dec > 0 ? dec : 0, v);
}

void
json_w_double(struct json_w *w, double v)
{
	char t[32];
	json_format_double(v, t);
	json_w_item(w);
	json_w_status(w, yajl_gen_number(w->g, t, strlen(t)));
}

void
json_w_bool(struct json_w *w, bool v)
{
	json_w_item(w);
	json_w_status(w, yajl_gen_bool(w->g, v));
}

void
json_w_null(struct json_w *w)
{
	json_w_item(w);
	json_w_status(w, yajl_gen_null(w->g));
}

void
json_w_value(struct json_w *w, yajl_val v)
{
	if (v == NULL || YAJL_IS_NULL(v)) {
		json_w_null(w);
	} else if (YAJL_IS_STRING(v)) {
		json_w_str(w, v->u.string);
	} else if (YAJL_IS_NUMBER(v)) {
		json_w_item(w);
		json_w_status(w, yajl_gen_number(w->g, v->u.number.r,
		    strlen(v->u.number.r)));
	} else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)) {
		json_w_bool(w, YAJL_IS_TRUE(v));
	} else if (YAJL_IS_OBJECT(v)) {
		json_w_obj_open(w);
		for (size_t i = 0; i < v->u.object.len; i++) {
			json_w_key(w, v->u.object.keys[i]);
			json_w_value(w, v->u.object.values[i]);
		}
		json_w_obj_close(w);
	} else {
		json_w_arr_open(w);
		for (size_t i = 0; i < v->u.array.len; i++)
			json_w_value(w, v->u.array.values[i]);
		json_w_arr_close(w);
	}
}
