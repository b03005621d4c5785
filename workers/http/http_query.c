/*
 * Query parameters, request headers, and the options every Consul read
 * takes, parsed as agent/http.go's parse() does: parseDC, parseToken,
 * parseFilter, parseConsistency, parseCacheControl, parseWait, in that
 * order, with Consul's exact error texts (clients show them verbatim).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lib/duration.h"
#include "workers/http/http_priv.h"

const char *
http_query(const struct http_request *r, const char *name, bool *present)
{
	for (size_t i = 0; i < r->nparams; i++)
		if (strcmp(r->params[i].name, name) == 0) {
			if (present)
				*present = true;
			return r->params[i].value;
		}
	if (present)
		*present = false;
	return NULL;
}

size_t
http_query_all(const struct http_request *r, const char *name,
    const char **out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < r->nparams; i++)
		if (strcmp(r->params[i].name, name) == 0) {
			if (n < max)
				out[n] = r->params[i].value;
			n++;
		}
	return n;
}

const char *
http_header(const struct http_request *r, const char *name)
{
	for (size_t i = 0; i < r->nheaders; i++)
		if (strcasecmp(r->headers[i].name, name) == 0)
			return r->headers[i].value;
	return NULL;
}

/* Go's query.Get(name) != "": the first value, if non-empty. */
static const char *
query_get(const struct http_request *r, const char *name)
{
	const char *v = http_query(r, name, NULL);

	return v != NULL && *v != '\0' ? v : NULL;
}

static bool
query_has(const struct http_request *r, const char *name)
{
	bool present;

	(void)http_query(r, name, &present);
	return present;
}

/* Go's strconv.ParseUint(s, 10, 64). */
static int
parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (*s == '\0')
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* Go's %q, close enough for error texts: quotes, \" \\ and \xNN escapes. */
static void
buf_add_quoted(struct buf *b, const char *s)
{
	buf_addch(b, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\') {
			buf_addch(b, '\\');
			buf_addch(b, (char)*p);
		} else if (*p < 0x20 || *p == 0x7f)
			buf_printf(b, "\\x%02x", *p);
		else
			buf_addch(b, (char)*p);
	}
	buf_addch(b, '"');
}

/* Authorization: Bearer <token> (RFC 6750), as parseTokenFromHeaders. */
static const char *
bearer_token(const struct http_request *r, char *tmp, size_t tmpsz)
{
	const char *v = http_header(r, "Authorization");
	const char *sp;

	if (v == NULL || (sp = strchr(v, ' ')) == NULL)
		return NULL;
	if ((size_t)(sp - v) != 6 || strncasecmp(v, "bearer", 6) != 0)
		return NULL;
	while (*sp == ' ')
		sp++;
	size_t n = strcspn(sp, " ");
	if (n == 0 || n >= tmpsz)
		return NULL;
	memcpy(tmp, sp, n);
	tmp[n] = '\0';
	return tmp;
}

static int
parse_consistency(const struct http_request *r, struct http_query_opts *o,
    struct buf *err)
{
	const char *ms;

	o->stale = query_has(r, "stale");
	o->consistent = query_has(r, "consistent");
	o->leader = query_has(r, "leader");
	o->cached = query_has(r, "cached");
	if ((ms = query_get(r, "max_stale")) != NULL) {
		if (duration_parse(ms, strlen(ms), &o->max_stale_ns) < 0) {
			buf_addstr(err, "Invalid max_stale value ");
			buf_add_quoted(err, ms);
			return -EINVAL;
		}
		if (o->max_stale_ns > 0)
			o->stale = true;
	}
	if (o->stale && o->consistent) {
		buf_addstr(err, "Cannot specify ?stale with ?consistent, "
		    "conflicting semantics.");
		return -EINVAL;
	}
	if (o->cached && o->consistent) {
		buf_addstr(err, "Cannot specify ?cached with ?consistent, "
		    "conflicting semantics.");
		return -EINVAL;
	}
	return 0;
}

/* Cache-Control max-age=N, stale-if-error=N (seconds), must-revalidate. */
static int
parse_cache_control(const struct http_request *r, struct http_query_opts *o,
    struct buf *err)
{
	const char *v = http_header(r, "Cache-Control");

	while (v != NULL && *v) {
		size_t n = strcspn(v, ",");
		const char *d = v, *e = v + n;
		while (d < e && (*d == ' ' || *d == '\t'))
			d++;
		while (e > d && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		size_t dl = (size_t)(e - d);
		int64_t *dst = NULL;
		size_t skip = 0;
		if (dl == 15 && strncasecmp(d, "must-revalidate", 15) == 0)
			o->must_revalidate = true;
		else if (dl >= 8 && strncasecmp(d, "max-age=", 8) == 0)
			dst = &o->max_age_ns, skip = 8;
		else if (dl >= 15 && strncasecmp(d, "stale-if-error=", 15) == 0)
			dst = &o->stale_if_error_ns, skip = 15;
		if (dst != NULL) {
			char num[24];
			uint64_t secs;
			if (dl - skip >= sizeof(num))
				goto bad;
			memcpy(num, d + skip, dl - skip);
			num[dl - skip] = '\0';
			if (parse_u64(num, &secs) < 0 || secs > INT64_MAX / 1000000000)
				goto bad;
			*dst = (int64_t)secs * 1000000000;
			if (dst == &o->max_age_ns && secs == 0)
				o->must_revalidate = true;
		}
		v += n + (v[n] == ',');
	}
	return 0;
bad:
	buf_addstr(err, "Invalid Cache-Control header.");
	return -EINVAL;
}

static int
parse_wait(const struct http_request *r, struct http_query_opts *o,
    struct buf *err)
{
	const char *w = query_get(r, "wait");
	const char *ix = query_get(r, "index");
	int64_t ns = 0;

	if (w != NULL) {
		if (duration_parse(w, strlen(w), &ns) < 0) {
			buf_addstr(err, "Invalid wait time");
			return -EINVAL;
		}
		o->wait_set = true;
	}
	o->wait_ns = http_wait_clamp(ns, HTTP_WAIT_DEFAULT_NS,
	    HTTP_WAIT_MAX_NS);
	if (ix != NULL && parse_u64(ix, &o->index) < 0) {
		buf_addstr(err, "Invalid index");
		return -EINVAL;
	}
	return 0;
}

int
http_query_opts(const struct http_request *r, struct http_query_opts *o,
    struct buf *err)
{
	int rc;

	memset(o, 0, sizeof(*o));
	o->wait_ns = HTTP_WAIT_DEFAULT_NS;
	o->dc = query_get(r, "dc");
	o->near = query_get(r, "near");
	o->filter = query_get(r, "filter");
	o->pretty = query_has(r, "pretty");
	o->token = query_get(r, "token");
	if (o->token == NULL) {
		const char *t = http_header(r, "X-Consul-Token");
		if (t != NULL && *t != '\0')
			o->token = t;
	}
	if (o->token == NULL)
		o->token = bearer_token(r, o->token_buf, sizeof(o->token_buf));
	if ((rc = parse_consistency(r, o, err)) < 0)
		return rc;
	if ((rc = parse_cache_control(r, o, err)) < 0)
		return rc;
	return parse_wait(r, o, err);
}

bool
http_ctx_query_opts(struct http_ctx *c, struct http_query_opts *o)
{
	struct buf err;

	buf_init(&err);
	if (http_query_opts(http_ctx_request(c), o, &err) < 0) {
		http_reply(c, 400, NULL, err.data, err.len);
		buf_free(&err);
		return false;
	}
	buf_free(&err);
	return true;
}

int64_t
http_wait_clamp(int64_t ns, int64_t def, int64_t max)
{
	if (ns <= 0)
		return def;
	return ns > max ? max : ns;
}

int64_t
http_wait_jitter(int64_t wait_ns)
{
	uint64_t rnd;
	int64_t span = wait_ns / 16;

	if (span <= 0 || random_bytes(&rnd, sizeof(rnd)) < 0)
		return wait_ns;
	return wait_ns + (int64_t)(rnd % (uint64_t)span);
}
