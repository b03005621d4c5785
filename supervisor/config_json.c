/*
 * Config file (and config dump) JSON onto the key table.  Keys match
 * case-insensitively, as Consul's decoder (mapstructure) matches them;
 * null means "not set here"; a value of the wrong JSON type is an error
 * naming the key, never a silent conversion.
 */
#include "supervisor/config_int.h"

#include "lib/duration.h"
#include "lib/json.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *
want_name(enum cfg_type t)
{
	switch (t) {
	case CT_BOOL:
		return "a boolean";
	case CT_INT:
		return "a number";
	case CT_DUR:
		return "a duration string";
	case CT_STR:
	case CT_ADDRS:
		return "a string";
	case CT_LIST:
		return "an array of strings";
	case CT_RAWLIST:
		return "an array of objects";
	default:
		return "an object";
	}
}

static int
wrong_type(struct cfg_ctx *x, const char *path, const char *want, yajl_val v)
{
	return cfg_fail(x, x->cur, path, "expected %s, got %s", want,
	    json_type_name(v));
}

static int
why_fail(struct cfg_ctx *x, const char *path, struct buf *why)
{
	int r = cfg_fail(x, x->cur, path, "%s", (char *)why->data);
	buf_free(why);
	return r;
}

/* A scalar JSON value: checked for type, then stored as its text. */
static int
set_scalar(struct cfg_ctx *x, size_t ki, yajl_val v, const char *path)
{
	const struct cfg_key *k = &cfg_keys[ki];
	struct buf why;
	const char *s;
	char num[32];

	switch (k->type) {
	case CT_BOOL:
		if (!YAJL_IS_TRUE(v) && !YAJL_IS_FALSE(v))
			return wrong_type(x, path, want_name(k->type), v);
		*CFG_FIELD(x->c, k, bool) = YAJL_IS_TRUE(v);
		return 0;
	case CT_INT:
		if (!YAJL_IS_NUMBER(v))
			return wrong_type(x, path, want_name(k->type), v);
		if (!YAJL_IS_INTEGER(v) || v->u.number.i < INT_MIN ||
		    v->u.number.i > INT_MAX)
			return cfg_fail(x, x->cur, path,
			    "expected an integer, got %s", v->u.number.r);
		snprintf(num, sizeof(num), "%lld", (long long)v->u.number.i);
		s = num;
		break;
	default:
		if (!YAJL_IS_STRING(v))
			return wrong_type(x, path, want_name(k->type), v);
		s = v->u.string;
		break;
	}
	buf_init(&why);
	if (cfg_set_string(x, ki, s, &why) < 0)
		return why_fail(x, path, &why);
	buf_free(&why);
	return 0;
}

static int
set_list(struct cfg_ctx *x, size_t ki, yajl_val v, const char *path)
{
	if (!YAJL_IS_ARRAY(v))
		return wrong_type(x, path, "an array of strings", v);
	for (size_t i = 0; i < v->u.array.len; i++) {
		yajl_val e = v->u.array.values[i];
		char sub[256];
		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		if (!YAJL_IS_STRING(e))
			return wrong_type(x, sub, "a string", e);
		struct buf why;
		buf_init(&why);
		if (cfg_set_string(x, ki, e->u.string, &why) < 0)
			return why_fail(x, sub, &why);
		buf_free(&why);
	}
	return 0;
}

static int
set_map(struct cfg_ctx *x, size_t ki, yajl_val v, const char *path)
{
	const struct cfg_key *k = &cfg_keys[ki];
	if (!YAJL_IS_OBJECT(v))
		return wrong_type(x, path, "an object", v);
	for (size_t i = 0; i < v->u.object.len; i++) {
		const char *mk = v->u.object.keys[i];
		yajl_val e = v->u.object.values[i];
		char sub[512];
		snprintf(sub, sizeof(sub), "%s.%s", path, mk);
		if (!YAJL_IS_STRING(e))
			return wrong_type(x, sub, k->type == CT_DURMAP ?
			    "a duration string" : "a string", e);
		if (k->type == CT_MAP) {
			cfg_map_set(CFG_FIELD(x->c, k, struct cfg_strmap), mk,
			    e->u.string);
			continue;
		}
		int64_t d;
		int r = duration_parse(e->u.string, strlen(e->u.string), &d);
		if (r < 0 || d < 0)
			return cfg_fail(x, x->cur, sub, "invalid duration \"%s\" "
			    "(want e.g. \"10s\", \"1h30m\")", e->u.string);
		cfg_durmap_set(CFG_FIELD(x->c, k, struct cfg_durmap), mk, d);
	}
	return 0;
}

/* Service and check definitions: kept as compact JSON for their owner. */
static int
add_raw(struct cfg_ctx *x, size_t ki, yajl_val v, const char *path)
{
	if (!YAJL_IS_OBJECT(v))
		return wrong_type(x, path, "an object", v);
	struct buf b;
	struct json_w w;
	buf_init(&b);
	json_w_init(&w, &b, false);
	json_w_value(&w, v);
	if (json_w_finish(&w) < 0) {
		buf_free(&b);
		return cfg_fail(x, x->cur, path, "cannot be re-encoded");
	}
	struct cfg_strlist *l = CFG_FIELD(x->c, &cfg_keys[ki], struct cfg_strlist);
	l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
	l->v[l->n++] = buf_steal(&b);
	return 0;
}

static int
set_rawlist(struct cfg_ctx *x, size_t ki, yajl_val v, const char *path)
{
	if (!YAJL_IS_ARRAY(v))
		return wrong_type(x, path, "an array of objects", v);
	for (size_t i = 0; i < v->u.array.len; i++) {
		char sub[256];
		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		int r = add_raw(x, ki, v->u.array.values[i], sub);
		if (r < 0)
			return r;
	}
	return 0;
}

int
cfg_set_json(struct cfg_ctx *x, size_t ki, yajl_val v, const char *path)
{
	const struct cfg_key *k = &cfg_keys[ki];
	int r;

	if (v == NULL || YAJL_IS_NULL(v))
		return 0;
	switch (k->type) {
	case CT_OBJ:
		if (!YAJL_IS_OBJECT(v))
			return wrong_type(x, path, "an object", v);
		return cfg_walk_object(x, (int)ki, v, path);
	case CT_LIST:
		r = set_list(x, ki, v, path);
		break;
	case CT_MAP:
	case CT_DURMAP:
		r = set_map(x, ki, v, path);
		break;
	case CT_RAW:
		r = add_raw(x, ki, v, path);
		break;
	case CT_RAWLIST:
		r = set_rawlist(x, ki, v, path);
		break;
	case CT_ALIAS: {
		int t = cfg_key_find(k->alias);
		cfg_warn(x->c, "The '%s' field is deprecated. Use the '%s' "
		    "field instead.", k->name, k->alias);
		return cfg_set_json(x, (size_t)t, v, path);
	}
	case CT_UNSUP:
		return cfg_fail(x, x->cur, path, "not supported by muster");
	default:
		r = set_scalar(x, ki, v, path);
		break;
	}
	if (r == 0) {
		x->set[ki] = true;
		x->src[ki] = x->cur;
	}
	return r;
}

/*
 * Consul appends a source's single "service" / "check" after its
 * "services" / "checks" lists, so the top level is walked twice: the
 * singular definitions in the second pass.
 */
int
cfg_walk_object(struct cfg_ctx *x, int parent, yajl_val obj,
    const char *prefix)
{
	for (size_t i = 0; i < obj->u.object.len * (parent < 0 ? 2 : 1); i++) {
		size_t pass = i / obj->u.object.len;
		const char *key = obj->u.object.keys[i % obj->u.object.len];
		char path[512];
		if (prefix)
			snprintf(path, sizeof(path), "%s.%s", prefix, key);
		else
			snprintf(path, sizeof(path), "%s", key);
		int ki = cfg_key_child(parent, key);
		if (ki >= 0 && (cfg_keys[ki].flags & KF_DUMP_ONLY) &&
		    !x->from_dump)
			ki = -1;
		if (ki < 0)
			return cfg_fail(x, x->cur, NULL, "unknown key \"%s\"",
			    path);
		if ((cfg_keys[ki].type == CT_RAW) != (pass == 1))
			continue;
		int r = cfg_set_json(x, (size_t)ki,
		    obj->u.object.values[i % obj->u.object.len], path);
		if (r < 0)
			return r;
	}
	return 0;
}
