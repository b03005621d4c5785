/*
 * Storing one key's value, from a flag's text or a JSON value, and the
 * per-type free, dump and compare the other phases use.
 */
#include "supervisor/config_int.h"

#include "lib/duration.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
cfg_list_add(struct cfg_strlist *l, const char *s)
{
	l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
	l->v[l->n++] = xstrdup(s);
}

void
cfg_list_clear(struct cfg_strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

void
cfg_map_set(struct cfg_strmap *m, const char *k, const char *v)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->k[i], k) == 0) {
			free(m->v[i]);
			m->v[i] = xstrdup(v);
			return;
		}
	m->k = xrealloc(m->k, (m->n + 1) * sizeof(*m->k));
	m->v = xrealloc(m->v, (m->n + 1) * sizeof(*m->v));
	m->k[m->n] = xstrdup(k);
	m->v[m->n++] = xstrdup(v);
}

void
cfg_durmap_set(struct cfg_durmap *m, const char *k, int64_t v)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->k[i], k) == 0) {
			m->v[i] = v;
			return;
		}
	m->k = xrealloc(m->k, (m->n + 1) * sizeof(*m->k));
	m->v = xrealloc(m->v, (m->n + 1) * sizeof(*m->v));
	m->k[m->n] = xstrdup(k);
	m->v[m->n++] = v;
}

void
cfg_warn(struct agent_config *c, const char *fmt, ...)
{
	va_list ap;
	char *s;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (s == NULL)
		return;
	for (size_t i = 0; i < c->warnings.n; i++)
		if (strcmp(c->warnings.v[i], s) == 0) {
			free(s);
			return;
		}
	cfg_list_add(&c->warnings, s);
	free(s);
}

int
cfg_fail(struct cfg_ctx *x, const char *src, const char *path,
    const char *fmt, ...)
{
	va_list ap;
	char *s;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	buf_addstr(x->err, "config: ");
	if (src)
		buf_printf(x->err, "%s: ", src);
	if (path)
		buf_printf(x->err, "key \"%s\": ", path);
	buf_addstr(x->err, s ? s : "out of memory");
	free(s);
	return -EINVAL;
}

/* Go's strconv.ParseBool. */
static int
parse_bool(const char *s, bool *b)
{
	static const char *const t[] = { "1", "t", "T", "TRUE", "true", "True" };
	static const char *const f[] = { "0", "f", "F", "FALSE", "false", "False" };
	for (size_t i = 0; i < nitems(t); i++) {
		if (strcmp(s, t[i]) == 0)
			return *b = true, 0;
		if (strcmp(s, f[i]) == 0)
			return *b = false, 0;
	}
	return -EINVAL;
}

static int
check_int(const struct cfg_key *k, int *v, struct buf *why)
{
	if (k->lo < k->hi && (*v < k->lo || *v > k->hi)) {
		if (k->hi == INT_MAX)
			buf_printf(why, "must be %s, got %d",
			    k->lo == 0 ? "greater than or equal to zero" :
			    "positive", *v);
		else
			buf_printf(why, "must be between %d and %d, got %d",
			    k->lo, k->hi, *v);
		return -EINVAL;
	}
	return k->check ? k->check(v, why) : 0;
}

static int
check_dur(const struct cfg_key *k, int64_t *v, struct buf *why)
{
	if (*v < 0) {
		buf_addstr(why, "must not be negative");
		return -EINVAL;
	}
	return k->check ? k->check(v, why) : 0;
}

static int
parse_dur(const char *s, int64_t *v, struct buf *why)
{
	int r = duration_parse(s, strlen(s), v);
	if (r == -ERANGE)
		buf_printf(why, "duration \"%s\" is out of range", s);
	else if (r < 0)
		buf_printf(why, "invalid duration \"%s\" (want e.g. \"10s\", "
		    "\"1h30m\")", s);
	return r < 0 ? -EINVAL : 0;
}

/* A string value through the key's validator, then stored in *slot. */
static int
store_str(const struct cfg_key *k, char **slot, const char *s,
    struct buf *why)
{
	char *v = xstrdup(s);
	if (k->check && k->check(&v, why) < 0) {
		free(v);
		return -EINVAL;
	}
	free(*slot);
	*slot = v;
	return 0;
}

static int
append_str(const struct cfg_key *k, struct cfg_strlist *l, const char *s,
    struct buf *why)
{
	char *v = xstrdup(s);
	if (k->check && k->check(&v, why) < 0) {
		free(v);
		return -EINVAL;
	}
	l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
	l->v[l->n++] = v;
	return 0;
}

/* client_addr and addresses.*: one string of space-separated IPs. */
static int
store_addrs(const struct cfg_key *k, struct cfg_strlist *l, const char *s,
    struct buf *why)
{
	struct cfg_strlist nl = { 0 };
	const char *p = s;
	while (*p) {
		p += strspn(p, " \t\r\n");
		size_t n = strcspn(p, " \t\r\n");
		if (n == 0)
			break;
		char *one = xstrndup(p, n);
		int r = append_str(k, &nl, one, why);
		free(one);
		if (r < 0) {
			cfg_list_clear(&nl);
			return r;
		}
		p += n;
	}
	cfg_list_clear(l);
	*l = nl;
	return 0;
}

/*
 * Set key ki from text: a flag's value or a default.  Lists append one
 * element; maps take "key:value" (Consul's -node-meta syntax).
 */
int
cfg_set_string(struct cfg_ctx *x, size_t ki, const char *s, struct buf *why)
{
	const struct cfg_key *k = &cfg_keys[ki];
	void *f = CFG_FIELD(x->c, k, void);

	switch (k->type) {
	case CT_BOOL:
		if (parse_bool(s, f) < 0) {
			buf_addstr(why, "expected true or false");
			return -EINVAL;
		}
		return 0;
	case CT_INT: {
		char *end;
		errno = 0;
		long long v = strtoll(s, &end, 0);
		if (*s == '\0' || *end != '\0' || errno || v < INT_MIN ||
		    v > INT_MAX) {
			buf_addstr(why, "expected an integer");
			return -EINVAL;
		}
		int iv = (int)v;
		if (check_int(k, &iv, why) < 0)
			return -EINVAL;
		*(int *)f = iv;
		return 0;
	}
	case CT_DUR: {
		int64_t v;
		if (parse_dur(s, &v, why) < 0 || check_dur(k, &v, why) < 0)
			return -EINVAL;
		*(int64_t *)f = v;
		return 0;
	}
	case CT_STR:
		return store_str(k, f, s, why);
	case CT_ADDRS:
		return store_addrs(k, f, s, why);
	case CT_LIST:
		return append_str(k, f, s, why);
	case CT_MAP: {
		const char *colon = strchr(s, ':');
		char *key = colon ? xstrndup(s, (size_t)(colon - s)) : xstrdup(s);
		cfg_map_set(f, key, colon ? colon + 1 : "");
		free(key);
		return 0;
	}
	default:
		buf_addstr(why, "cannot be set from the command line");
		return -EINVAL;
	}
}

/* --- per-type free, dump and compare --- */

static bool
has_storage(const struct cfg_key *k)
{
	return k->type != CT_OBJ && k->type != CT_ALIAS &&
	    k->type != CT_UNSUP && k->type != CT_RAW;
}

void
cfg_key_free(struct agent_config *c, size_t ki)
{
	const struct cfg_key *k = &cfg_keys[ki];
	if (!has_storage(k))
		return;
	void *f = CFG_FIELD(c, k, void);
	switch (k->type) {
	case CT_STR:
		free(*(char **)f);
		*(char **)f = NULL;
		break;
	case CT_ADDRS:
	case CT_LIST:
	case CT_RAWLIST:
		cfg_list_clear(f);
		break;
	case CT_MAP: {
		struct cfg_strmap *m = f;
		for (size_t i = 0; i < m->n; i++) {
			free(m->k[i]);
			free(m->v[i]);
		}
		free(m->k);
		free(m->v);
		memset(m, 0, sizeof(*m));
		break;
	}
	case CT_DURMAP: {
		struct cfg_durmap *m = f;
		for (size_t i = 0; i < m->n; i++)
			free(m->k[i]);
		free(m->k);
		free(m->v);
		memset(m, 0, sizeof(*m));
		break;
	}
	default:
		break;
	}
}

static void
dump_dur(struct json_w *w, int64_t ns)
{
	char d[DURATION_STRLEN];
	duration_format(ns, d, sizeof(d));
	json_w_str(w, d);
}

static void
dump_list(struct json_w *w, const struct cfg_strlist *l, bool raw)
{
	json_w_arr_open(w);
	for (size_t i = 0; i < l->n; i++) {
		yajl_val v = raw ? json_parse(l->v[i], strlen(l->v[i]), NULL)
				 : NULL;
		if (v) {
			json_w_value(w, v);
			yajl_tree_free(v);
		} else {
			json_w_str(w, l->v[i]);
		}
	}
	json_w_arr_close(w);
}

void
cfg_key_dump(struct json_w *w, const struct agent_config *c, size_t ki)
{
	const struct cfg_key *k = &cfg_keys[ki];
	const void *f = CFG_FIELD(c, k, const void);

	switch (k->type) {
	case CT_BOOL:
		json_w_bool(w, *(const bool *)f);
		break;
	case CT_INT:
		json_w_int(w, *(const int *)f);
		break;
	case CT_DUR:
		dump_dur(w, *(const int64_t *)f);
		break;
	case CT_STR:
		json_w_str(w, *(char *const *)f ? *(char *const *)f : "");
		break;
	case CT_ADDRS: {
		const struct cfg_strlist *l = f;
		struct buf b;
		buf_init(&b);
		for (size_t i = 0; i < l->n; i++)
			buf_printf(&b, "%s%s", i ? " " : "", l->v[i]);
		json_w_str(w, b.data ? (char *)b.data : "");
		buf_free(&b);
		break;
	}
	case CT_LIST:
	case CT_RAWLIST:
		dump_list(w, f, k->type == CT_RAWLIST);
		break;
	case CT_MAP: {
		const struct cfg_strmap *m = f;
		json_w_obj_open(w);
		for (size_t i = 0; i < m->n; i++) {
			json_w_key(w, m->k[i]);
			json_w_str(w, m->v[i]);
		}
		json_w_obj_close(w);
		break;
	}
	case CT_DURMAP: {
		const struct cfg_durmap *m = f;
		json_w_obj_open(w);
		for (size_t i = 0; i < m->n; i++) {
			json_w_key(w, m->k[i]);
			dump_dur(w, m->v[i]);
		}
		json_w_obj_close(w);
		break;
	}
	default:
		json_w_null(w);
		break;
	}
}

static bool
str_eq(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

static bool
list_eq(const struct cfg_strlist *a, const struct cfg_strlist *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]) != 0)
			return false;
	return true;
}

bool
cfg_key_equal(const struct agent_config *a, const struct agent_config *b,
    size_t ki)
{
	const struct cfg_key *k = &cfg_keys[ki];
	const void *fa = CFG_FIELD(a, k, const void);
	const void *fb = CFG_FIELD(b, k, const void);

	switch (k->type) {
	case CT_BOOL:
		return *(const bool *)fa == *(const bool *)fb;
	case CT_INT:
		return *(const int *)fa == *(const int *)fb;
	case CT_DUR:
		return *(const int64_t *)fa == *(const int64_t *)fb;
	case CT_STR:
		return str_eq(*(char *const *)fa, *(char *const *)fb);
	case CT_ADDRS:
	case CT_LIST:
	case CT_RAWLIST:
		return list_eq(fa, fb);
	case CT_MAP: {
		const struct cfg_strmap *ma = fa, *mb = fb;
		if (ma->n != mb->n)
			return false;
		for (size_t i = 0; i < ma->n; i++)
			if (strcmp(ma->k[i], mb->k[i]) != 0 ||
			    strcmp(ma->v[i], mb->v[i]) != 0)
				return false;
		return true;
	}
	case CT_DURMAP: {
		const struct cfg_durmap *ma = fa, *mb = fb;
		if (ma->n != mb->n)
			return false;
		for (size_t i = 0; i < ma->n; i++)
			if (strcmp(ma->k[i], mb->k[i]) != 0 ||
			    ma->v[i] != mb->v[i])
				return false;
		return true;
	}
	default:
		return true;
	}
}
