/*
 * Service and check definitions: JSON -> chk_service_def / chk_def, the
 * way Consul decodes them (agent/structs/service_definition.go,
 * check_definition.go, check_type.go): Go's case-insensitive key match
 * plus the snake_case spellings those types accept, durations as Go text
 * or nanoseconds, null as "not given".  Type mismatches are worded like
 * encoding/json's UnmarshalTypeError.
 */
#include "workers/checks/chk.h"
#include "lib/duration.h"
#include "lib/json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define META_MAX_PAIRS 64
#define META_KEY_MAX 128
#define META_VALUE_MAX 512

struct jctx {
	struct buf *err;
	const char *gostruct;	/* "ServiceDefinition", "CheckType" ... */
};

static const char *
go_kind(yajl_val v)
{
	if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v))
		return "bool";
	return json_type_name(v);
}

static int
type_err(struct jctx *j, const char *field, yajl_val v, const char *gotype)
{
	buf_printf(j->err, "json: cannot unmarshal %s into Go struct field "
	    "%s.%s of type %s", go_kind(v), j->gostruct, field, gotype);
	return -EINVAL;
}

/* The member for a Go field, or NULL when absent or null. */
static yajl_val
member(yajl_val o, const char *key)
{
	yajl_val v = json_get_loose(o, key);
	return v && !YAJL_IS_NULL(v) ? v : NULL;
}

static int
get_str(struct jctx *j, yajl_val o, const char *key, char **out)
{
	yajl_val v = member(o, key);
	if (v == NULL)
		return 0;
	if (!YAJL_IS_STRING(v))
		return type_err(j, key, v, "string");
	free(*out);
	*out = xstrdup(v->u.string);
	return 0;
}

static int
get_bool(struct jctx *j, yajl_val o, const char *key, bool *out)
{
	yajl_val v = member(o, key);
	if (v == NULL)
		return 0;
	if (!json_as_bool(v, out))
		return type_err(j, key, v, "bool");
	return 0;
}

static int
get_int(struct jctx *j, yajl_val o, const char *key, int64_t *out)
{
	yajl_val v = member(o, key);
	if (v == NULL)
		return 0;
	if (!YAJL_IS_NUMBER(v))
		return type_err(j, key, v, "int");
	if (!json_as_int(v, out)) {
		buf_printf(j->err, "json: cannot unmarshal number %s into Go "
		    "struct field %s.%s of type int", v->u.number.r,
		    j->gostruct, key);
		return -EINVAL;
	}
	return 0;
}

/* Durations: Go text, or a JSON number of nanoseconds; other types are
 * ignored as Consul's UnmarshalJSON type switch ignores them. */
static int
get_dur(struct jctx *j, yajl_val o, const char *key, int64_t *out)
{
	yajl_val v = member(o, key);
	int64_t i;
	if (v == NULL)
		return 0;
	if (YAJL_IS_STRING(v)) {
		if (duration_parse(v->u.string, strlen(v->u.string), out) < 0) {
			buf_printf(j->err, "time: invalid duration \"%s\"",
			    v->u.string);
			return -EINVAL;
		}
	} else if (YAJL_IS_NUMBER(v))
		*out = json_as_int(v, &i) ? i : (int64_t)v->u.number.d;
	return 0;
}

static void
strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int
get_strv(struct jctx *j, yajl_val o, const char *key, char ***out,
    size_t *n)
{
	yajl_val v = member(o, key);
	if (v == NULL)
		return 0;
	if (!YAJL_IS_ARRAY(v))
		return type_err(j, key, v, "[]string");
	for (size_t i = 0; i < v->u.array.len; i++)
		if (!YAJL_IS_STRING(v->u.array.values[i]))
			return type_err(j, key, v->u.array.values[i], "string");
	strv_free(*out, *n);
	*out = xcalloc(v->u.array.len + 1, sizeof(char *));
	for (size_t i = 0; i < v->u.array.len; i++)
		(*out)[i] = xstrdup(v->u.array.values[i]->u.string);
	*n = v->u.array.len;
	return 0;
}

static int
get_headers(struct jctx *j, yajl_val o, struct chk_def *d)
{
	yajl_val v = member(o, "Header");
	if (v == NULL)
		return 0;
	if (!YAJL_IS_OBJECT(v))
		return type_err(j, "Header", v, "map[string][]string");
	d->headers = xcalloc(v->u.object.len + 1, sizeof(*d->headers));
	for (size_t i = 0; i < v->u.object.len; i++) {
		yajl_val a = v->u.object.values[i];
		struct chk_header *h = &d->headers[d->nheaders++];
		h->name = xstrdup(v->u.object.keys[i]);
		if (a == NULL || YAJL_IS_NULL(a))
			continue;
		if (!YAJL_IS_ARRAY(a))
			return type_err(j, "Header", a, "[]string");
		h->values = xcalloc(a->u.array.len + 1, sizeof(char *));
		for (size_t k = 0; k < a->u.array.len; k++) {
			if (!YAJL_IS_STRING(a->u.array.values[k]))
				return type_err(j, "Header",
				    a->u.array.values[k], "string");
			h->values[h->nvalues++] =
			    xstrdup(a->u.array.values[k]->u.string);
		}
	}
	return 0;
}

static void
def_init(struct chk_def *d)
{
	memset(d, 0, sizeof(*d));
	char **s[] = { &d->id, &d->name, &d->notes, &d->service_id,
		&d->token, &d->status, &d->http, &d->method, &d->body,
		&d->tcp, &d->udp, &d->grpc, &d->h2ping, &d->os_service,
		&d->docker_container_id, &d->shell, &d->tls_server_name,
		&d->alias_node, &d->alias_service };
	for (size_t i = 0; i < nitems(s); i++)
		*s[i] = xstrdup("");
}

void
chk_def_free(struct chk_def *d)
{
	char *s[] = { d->id, d->name, d->notes, d->service_id, d->token,
		d->status, d->http, d->method, d->body, d->tcp, d->udp,
		d->grpc, d->h2ping, d->os_service, d->docker_container_id,
		d->shell, d->tls_server_name, d->alias_node, d->alias_service };
	for (size_t i = 0; i < nitems(s); i++)
		free(s[i]);
	strv_free(d->args, d->nargs);
	for (size_t i = 0; i < d->nheaders; i++) {
		free(d->headers[i].name);
		strv_free(d->headers[i].values, d->headers[i].nvalues);
	}
	free(d->headers);
	memset(d, 0, sizeof(*d));
}

static int
check_strings(struct jctx *j, yajl_val o, struct chk_def *d)
{
	static const struct {
		const char *key;
		size_t off;
	} f[] = {
#define S(k, m) { k, offsetof(struct chk_def, m) }
		S("Name", name), S("Notes", notes), S("ServiceID", service_id),
		S("Token", token), S("Status", status), S("HTTP", http),
		S("Method", method), S("Body", body), S("TCP", tcp),
		S("UDP", udp), S("GRPC", grpc), S("H2PING", h2ping),
		S("OSService", os_service),
		S("DockerContainerID", docker_container_id), S("Shell", shell),
		S("TLSServerName", tls_server_name),
		S("AliasNode", alias_node), S("AliasService", alias_service),
#undef S
	};
	int r;
	for (size_t i = 0; i < nitems(f); i++)
		if ((r = get_str(j, o, f[i].key,
		    (char **)((char *)d + f[i].off))) < 0)
			return r;
	/* CheckDefinition has ID, CheckType CheckID; config files use
	 * either spelling for both. */
	if ((r = get_str(j, o, "CheckID", &d->id)) < 0 ||
	    (r = get_str(j, o, "ID", &d->id)) < 0)
		return r;
	return 0;
}

static int
check_scalars(struct jctx *j, yajl_val o, struct chk_def *d)
{
	static const struct {
		const char *key;
		size_t off;
	} b[] = {
		{ "DisableRedirects", offsetof(struct chk_def, disable_redirects) },
		{ "TLSSkipVerify", offsetof(struct chk_def, tls_skip_verify) },
		{ "TCPUseTLS", offsetof(struct chk_def, tcp_use_tls) },
		{ "GRPCUseTLS", offsetof(struct chk_def, grpc_use_tls) },
	}, n[] = {
		{ "SuccessBeforePassing",
		  offsetof(struct chk_def, success_before_passing) },
		{ "FailuresBeforeWarning",
		  offsetof(struct chk_def, failures_before_warning) },
		{ "FailuresBeforeCritical",
		  offsetof(struct chk_def, failures_before_critical) },
		{ "OutputMaxSize", offsetof(struct chk_def, output_max_size) },
	}, t[] = {
		{ "Interval", offsetof(struct chk_def, interval) },
		{ "Timeout", offsetof(struct chk_def, timeout) },
		{ "TTL", offsetof(struct chk_def, ttl) },
		{ "DeregisterCriticalServiceAfter",
		  offsetof(struct chk_def, deregister_after) },
	};
	int r;
	for (size_t i = 0; i < nitems(b); i++)
		if ((r = get_bool(j, o, b[i].key,
		    (bool *)((char *)d + b[i].off))) < 0)
			return r;
	for (size_t i = 0; i < nitems(n); i++)
		if ((r = get_int(j, o, n[i].key,
		    (int64_t *)((char *)d + n[i].off))) < 0)
			return r;
	for (size_t i = 0; i < nitems(t); i++)
		if ((r = get_dur(j, o, t[i].key,
		    (int64_t *)((char *)d + t[i].off))) < 0)
			return r;
	/* h2ping_use_tls defaults to true when h2ping is set. */
	d->h2ping_use_tls = d->h2ping[0] != '\0';
	return get_bool(j, o, "H2PingUseTLS", &d->h2ping_use_tls);
}

static int
parse_check_obj(struct jctx *j, yajl_val o, struct chk_def *d)
{
	int r;
	def_init(d);
	if (!YAJL_IS_OBJECT(o)) {
		buf_printf(j->err, "json: cannot unmarshal %s into Go value of "
		    "type structs.%s", go_kind(o), j->gostruct);
		return -EINVAL;
	}
	if ((r = check_strings(j, o, d)) < 0 ||
	    (r = check_scalars(j, o, d)) < 0 ||
	    (r = get_headers(j, o, d)) < 0 ||
	    (r = get_strv(j, o, "ScriptArgs", &d->args, &d->nargs)) < 0)
		return r;
	if (d->nargs == 0)
		r = get_strv(j, o, "Args", &d->args, &d->nargs);
	return r;
}

int
chk_parse_check(yajl_val v, struct chk_def *out, struct buf *err)
{
	struct jctx j = { err, "CheckDefinition" };
	int r = parse_check_obj(&j, v, out);
	if (r < 0)
		chk_def_free(out);
	return r;
}

bool
chk_def_empty(const struct chk_def *d)
{
	const char *s[] = { d->id, d->name, d->notes, d->status, d->http,
		d->method, d->body, d->tcp, d->udp, d->grpc, d->h2ping,
		d->os_service, d->docker_container_id, d->shell,
		d->tls_server_name, d->alias_node, d->alias_service };
	for (size_t i = 0; i < nitems(s); i++)
		if (s[i][0] != '\0')
			return false;
	return d->nargs == 0 && d->nheaders == 0 && !d->disable_redirects &&
	    !d->tls_skip_verify && !d->tcp_use_tls && !d->grpc_use_tls &&
	    d->interval == 0 && d->timeout == 0 && d->ttl == 0 &&
	    d->deregister_after == 0 && d->success_before_passing == 0 &&
	    d->failures_before_warning == 0 &&
	    d->failures_before_critical == 0 && d->output_max_size == 0;
}

/* ---- services ---- */

void
chk_service_free(struct chk_service *s)
{
	if (s == NULL)
		return;
	free(s->id);
	free(s->name);
	free(s->kind);
	free(s->address);
	free(s->socket_path);
	free(s->token);
	strv_free(s->tags, s->ntags);
	for (size_t i = 0; i < s->nmeta; i++) {
		free(s->meta[i].key);
		free(s->meta[i].value);
	}
	free(s->meta);
	for (size_t i = 0; i < s->ntaddrs; i++) {
		free(s->taddrs[i].key);
		free(s->taddrs[i].address);
	}
	free(s->taddrs);
	free(s);
}

void
chk_service_def_free(struct chk_service_def *d)
{
	chk_service_free(d->svc);
	for (size_t i = 0; i < d->nchecks; i++)
		chk_def_free(&d->checks[i]);
	free(d->checks);
	memset(d, 0, sizeof(*d));
}

static int
kv_cmp(const void *a, const void *b)
{
	return strcmp(((const struct chk_kv *)a)->key,
	    ((const struct chk_kv *)b)->key);
}

static int
taddr_cmp(const void *a, const void *b)
{
	return strcmp(((const struct chk_taddr *)a)->key,
	    ((const struct chk_taddr *)b)->key);
}

/* Go decodes a JSON object member by member: a repeated key keeps the
 * last value.  Sorted input: drop all but the last of each run. */
static size_t
kv_dedupe(struct chk_kv *kv, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (i + 1 < n && strcmp(kv[i].key, kv[i + 1].key) == 0) {
			free(kv[i].key);
			free(kv[i].value);
			continue;
		}
		kv[o++] = kv[i];
	}
	return o;
}

static int
get_meta(struct jctx *j, yajl_val o, struct chk_service *s)
{
	yajl_val v = member(o, "Meta");
	if (v == NULL)
		return 0;
	if (!YAJL_IS_OBJECT(v))
		return type_err(j, "Meta", v, "map[string]string");
	for (size_t i = 0; i < v->u.object.len; i++) {
		yajl_val x = v->u.object.values[i];
		if (x && !YAJL_IS_NULL(x) && !YAJL_IS_STRING(x))
			return type_err(j, "Meta", x, "string");
	}
	s->meta = xcalloc(v->u.object.len + 1, sizeof(*s->meta));
	for (size_t i = 0; i < v->u.object.len; i++) {
		yajl_val x = v->u.object.values[i];
		s->meta[s->nmeta].key = xstrdup(v->u.object.keys[i]);
		s->meta[s->nmeta++].value = xstrdup(x && YAJL_IS_STRING(x) ?
		    x->u.string : "");
	}
	/* Stable sort keeps the member order inside a run of equal keys. */
	for (size_t i = 1; i < s->nmeta; i++)
		for (size_t k = i; k > 0 && kv_cmp(&s->meta[k - 1],
		    &s->meta[k]) > 0; k--) {
			struct chk_kv t = s->meta[k];
			s->meta[k] = s->meta[k - 1];
			s->meta[k - 1] = t;
		}
	s->nmeta = kv_dedupe(s->meta, s->nmeta);
	return 0;
}

static int
get_taddrs(struct jctx *j, yajl_val o, struct chk_service *s)
{
	yajl_val v = member(o, "TaggedAddresses");
	struct jctx ja = { j->err, "ServiceAddress" };
	int r;
	if (v == NULL)
		return 0;
	if (!YAJL_IS_OBJECT(v))
		return type_err(j, "TaggedAddresses", v,
		    "map[string]structs.ServiceAddress");
	s->taddrs = xcalloc(v->u.object.len + 1, sizeof(*s->taddrs));
	for (size_t i = 0; i < v->u.object.len; i++) {
		yajl_val a = v->u.object.values[i];
		struct chk_taddr *t = &s->taddrs[s->ntaddrs++];
		int64_t port = 0;
		t->key = xstrdup(v->u.object.keys[i]);
		t->address = xstrdup("");
		if (a == NULL || YAJL_IS_NULL(a))
			continue;
		if (!YAJL_IS_OBJECT(a))
			return type_err(j, "TaggedAddresses", a,
			    "structs.ServiceAddress");
		if ((r = get_str(&ja, a, "Address", &t->address)) < 0 ||
		    (r = get_int(&ja, a, "Port", &port)) < 0)
			return r;
		t->port = (int)port;
	}
	qsort(s->taddrs, s->ntaddrs, sizeof(*s->taddrs), taddr_cmp);
	return 0;
}

static int
get_weights(struct jctx *j, yajl_val o, struct chk_service *s)
{
	yajl_val v = member(o, "Weights");
	struct jctx jw = { j->err, "Weights" };
	int64_t p = 0, w = 0;
	int r;
	if (v == NULL)
		return 0;
	if (!YAJL_IS_OBJECT(v))
		return type_err(j, "Weights", v, "structs.Weights");
	if ((r = get_int(&jw, v, "Passing", &p)) < 0 ||
	    (r = get_int(&jw, v, "Warning", &w)) < 0)
		return r;
	s->weights_set = true;
	s->w_passing = p > INT32_MAX ? INT32_MAX : p < INT32_MIN ? INT32_MIN :
	    (int)p;
	s->w_warning = w > INT32_MAX ? INT32_MAX : w < INT32_MIN ? INT32_MIN :
	    (int)w;
	return 0;
}

static int
service_fields(struct jctx *j, yajl_val o, struct chk_service *s)
{
	int64_t port = 0;
	yajl_val conn;
	int r;
	char **str[] = { &s->kind, &s->id, &s->name, &s->address,
		&s->socket_path, &s->token };
	static const char *const keys[] = { "Kind", "ID", "Name", "Address",
		"SocketPath", "Token" };
	for (size_t i = 0; i < nitems(keys); i++)
		if ((r = get_str(j, o, keys[i], str[i])) < 0)
			return r;
	if ((r = get_strv(j, o, "Tags", &s->tags, &s->ntags)) < 0 ||
	    (r = get_int(j, o, "Port", &port)) < 0 ||
	    (r = get_bool(j, o, "EnableTagOverride",
	    &s->enable_tag_override)) < 0 ||
	    (r = get_meta(j, o, s)) < 0 || (r = get_taddrs(j, o, s)) < 0 ||
	    (r = get_weights(j, o, s)) < 0)
		return r;
	s->port = (int)port;
	if ((conn = member(o, "Connect")) != NULL) {
		struct jctx jc = { j->err, "ServiceConnect" };
		if (!YAJL_IS_OBJECT(conn))
			return type_err(j, "Connect", conn,
			    "structs.ServiceConnect");
		if ((r = get_bool(&jc, conn, "Native",
		    &s->connect_native)) < 0)
			return r;
	}
	return 0;
}

static int
service_checks(struct jctx *j, yajl_val o, struct chk_service_def *d)
{
	yajl_val one = member(o, "Check"), many = member(o, "Checks");
	struct jctx jc = { j->err, "CheckType" };
	size_t n = (one ? 1 : 0) + (many && YAJL_IS_ARRAY(many) ?
	    many->u.array.len : 0);
	int r;
	if (many && !YAJL_IS_ARRAY(many))
		return type_err(j, "Checks", many, "structs.CheckTypes");
	d->checks = xcalloc(n + 1, sizeof(*d->checks));
	/* CheckTypes(): a non-empty Check first, then Checks. */
	if (one) {
		if ((r = parse_check_obj(&jc, one, &d->checks[0])) < 0) {
			d->nchecks = 1;
			return r;
		}
		if (chk_def_empty(&d->checks[0]))
			chk_def_free(&d->checks[0]);
		else
			d->nchecks++;
	}
	for (size_t i = 0; many && i < many->u.array.len; i++) {
		yajl_val c = many->u.array.values[i];
		if (c == NULL || YAJL_IS_NULL(c))
			continue;
		r = parse_check_obj(&jc, c, &d->checks[d->nchecks++]);
		if (r < 0)
			return r;
	}
	return 0;
}

int
chk_parse_service(yajl_val v, struct chk_service_def *out, struct buf *err)
{
	struct jctx j = { err, "ServiceDefinition" };
	int r;
	memset(out, 0, sizeof(*out));
	if (v == NULL || !YAJL_IS_OBJECT(v)) {
		buf_printf(err, "json: cannot unmarshal %s into Go value of "
		    "type structs.ServiceDefinition", v ? go_kind(v) : "null");
		return -EINVAL;
	}
	out->svc = xcalloc(1, sizeof(*out->svc));
	char **str[] = { &out->svc->kind, &out->svc->id, &out->svc->name,
		&out->svc->address, &out->svc->socket_path, &out->svc->token };
	for (size_t i = 0; i < nitems(str); i++)
		*str[i] = xstrdup("");
	if ((r = service_fields(&j, v, out->svc)) < 0 ||
	    (r = service_checks(&j, v, out)) < 0) {
		chk_service_def_free(out);
		return r;
	}
	return 0;
}

/* ---- validation ---- */

enum chk_kind
chk_def_kind(const struct chk_def *d)
{
	bool iv = d->interval > 0;
	if (d->grpc[0] && iv)
		return CHK_K_GRPC;
	if (d->http[0] && iv)
		return CHK_K_HTTP;
	if (d->ttl > 0)
		return CHK_K_TTL;
	if (d->tcp[0] && iv)
		return CHK_K_TCP;
	if (d->udp[0] && iv)
		return CHK_K_UDP;
	if (d->alias_node[0] || d->alias_service[0])
		return CHK_K_ALIAS;
	if (d->nargs > 0 && d->docker_container_id[0] && iv)
		return CHK_K_DOCKER;
	if (d->nargs > 0 && iv)
		return CHK_K_SCRIPT;
	if (d->h2ping[0] && iv)
		return CHK_K_H2PING;
	if (d->os_service[0] && iv)
		return CHK_K_OSSERVICE;
	return CHK_K_NONE;
}

const char *
chk_kind_name(enum chk_kind k)
{
	static const char *const n[] = { [CHK_K_NONE] = "",
		[CHK_K_SCRIPT] = "script", [CHK_K_HTTP] = "http",
		[CHK_K_TCP] = "tcp", [CHK_K_UDP] = "udp", [CHK_K_TTL] = "ttl",
		[CHK_K_GRPC] = "grpc", [CHK_K_ALIAS] = "alias",
		[CHK_K_DOCKER] = "docker", [CHK_K_H2PING] = "h2ping",
		[CHK_K_OSSERVICE] = "os_service" };
	return (unsigned)k < nitems(n) ? n[k] : "";
}

/* CheckType.Validate(). */
int
chk_def_validate(const struct chk_def *d, struct buf *err)
{
	bool iv_check = d->nargs > 0 || d->http[0] || d->tcp[0] ||
	    d->udp[0] || d->grpc[0] || d->h2ping[0] || d->os_service[0];
	bool alias = d->alias_node[0] || d->alias_service[0];
	const char *msg = NULL;

	if (d->interval > 0 && d->ttl > 0)
		msg = "Interval and TTL cannot both be specified";
	else if (iv_check && d->interval <= 0)
		msg = "Interval must be > 0 for Script, HTTP, H2PING, TCP, "
		    "UDP or OSService checks";
	else if (iv_check && alias)
		msg = "Interval cannot be set for Alias checks";
	else if (alias && d->ttl > 0)
		msg = "TTL must be not be set for Alias checks";
	else if (!iv_check && !alias && d->ttl <= 0)
		msg = "TTL must be > 0 for TTL checks";
	else if (d->output_max_size < 0)
		msg = "MaxOutputMaxSize must be positive";
	else if (d->failures_before_warning > d->failures_before_critical)
		msg = "FailuresBeforeWarning can't be higher than "
		    "FailuresBeforeCritical";
	if (msg == NULL)
		return 0;
	buf_addstr(err, msg);
	return -EINVAL;
}

/* ipaddr.IsAny. */
static bool
addr_is_any(const char *a)
{
	return strcmp(a, "0.0.0.0") == 0 || strcmp(a, "::") == 0 ||
	    strcmp(a, "[::]") == 0;
}

static bool
meta_key_ok(const char *k)
{
	for (const char *p = k; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
			return false;
	return true;
}

/* structs.validateMetadata / validateMetaPair, service flavour. */
static int
validate_meta(const struct chk_service *s, struct buf *err)
{
	const char *why = NULL;
	size_t i;
	if (s->nmeta > META_MAX_PAIRS) {
		buf_printf(err, "Invalid Service Meta: Node metadata cannot "
		    "contain more than %d key/value pairs", META_MAX_PAIRS);
		return -EINVAL;
	}
	for (i = 0; i < s->nmeta && why == NULL; i++) {
		const char *k = s->meta[i].key;
		if (k[0] == '\0')
			why = "Key cannot be blank";
		else if (!meta_key_ok(k))
			why = "Key contains invalid characters";
		else if (strlen(k) > META_KEY_MAX)
			why = "Key is too long (limit: 128 characters)";
		else if (strncmp(k, "consul-", 7) == 0)
			why = "Key prefix 'consul-' is reserved for internal "
			    "use";
		else if (strlen(s->meta[i].value) > META_VALUE_MAX)
			why = "Value is too long (limit: 512 characters)";
	}
	if (why == NULL)
		return 0;
	buf_printf(err, "Invalid Service Meta: Couldn't load metadata pair "
	    "('%s', '%s'): %s", s->meta[i - 1].key, s->meta[i - 1].value,
	    why);
	return -EINVAL;
}

/* AgentRegisterService's checks before AddService, in its order. */
int
chk_validate_service(const struct chk_service_def *d, struct buf *err)
{
	const struct chk_service *s = d->svc;
	enum chk_status st;
	int r;

	if (s->name[0] == '\0') {
		buf_addstr(err, "Missing service name");
		return -EINVAL;
	}
	if (addr_is_any(s->address)) {
		buf_addstr(err, "Invalid service address");
		return -EINVAL;
	}
	if (s->weights_set) {
		const char *why = s->w_passing < 1 ?
		    "Passing must be greater than 0" : s->w_warning < 0 ?
		    "Warning must be greater or equal than 0" :
		    s->w_passing > 65535 || s->w_warning > 65535 ?
		    "DNS Weight must be between 0 and 65535" : NULL;
		if (why) {
			buf_printf(err, "Invalid Weights: %s", why);
			return -EINVAL;
		}
	}
	if ((r = validate_meta(s, err)) < 0)
		return r;
	for (size_t i = 0; i < d->nchecks; i++) {
		buf_addstr(err, "Invalid check: ");
		if (chk_def_validate(&d->checks[i], err) < 0)
			return -EINVAL;
		buf_reset(err);
	}
	for (size_t i = 0; i < d->nchecks; i++)
		if (d->checks[i].status[0] &&
		    chk_status_parse(d->checks[i].status, &st) < 0) {
			buf_addstr(err, "Status for checks must 'passing', "
			    "'warning', 'critical'");
			return -EINVAL;
		}
	return 0;
}

/* AgentRegisterCheck's checks before AddCheck. */
int
chk_validate_check(const struct chk_def *d, struct buf *err)
{
	enum chk_status st;
	if (d->name[0] == '\0') {
		buf_addstr(err, "Missing check name");
		return -EINVAL;
	}
	if (d->status[0] && chk_status_parse(d->status, &st) < 0) {
		buf_addstr(err, "Bad check status");
		return -EINVAL;
	}
	buf_addstr(err, "Invalid check: ");
	if (chk_def_validate(d, err) < 0)
		return -EINVAL;
	buf_reset(err);
	return 0;
}

/* ---- canonical JSON (persistence) ---- */

static void
w_str(struct json_w *w, const char *k, const char *v)
{
	if (v[0] == '\0')
		return;
	json_w_key(w, k);
	json_w_str(w, v);
}

static void
w_int(struct json_w *w, const char *k, int64_t v)
{
	if (v == 0)
		return;
	json_w_key(w, k);
	json_w_int(w, v);
}

static void
w_bool(struct json_w *w, const char *k, bool v)
{
	if (!v)
		return;
	json_w_key(w, k);
	json_w_bool(w, true);
}

void
chk_write_service_def(struct buf *out, const struct chk_service *s)
{
	struct json_w w;
	json_w_init(&w, out, false);
	json_w_obj_open(&w);
	w_str(&w, "ID", s->id);
	w_str(&w, "Name", s->name);
	w_str(&w, "Kind", s->kind);
	json_w_key(&w, "Tags");
	json_w_arr_open(&w);
	for (size_t i = 0; i < s->ntags; i++)
		json_w_str(&w, s->tags[i]);
	json_w_arr_close(&w);
	w_str(&w, "Address", s->address);
	w_str(&w, "SocketPath", s->socket_path);
	json_w_key(&w, "TaggedAddresses");
	json_w_obj_open(&w);
	for (size_t i = 0; i < s->ntaddrs; i++) {
		json_w_key(&w, s->taddrs[i].key);
		json_w_obj_open(&w);
		json_w_key(&w, "Address");
		json_w_str(&w, s->taddrs[i].address);
		json_w_key(&w, "Port");
		json_w_int(&w, s->taddrs[i].port);
		json_w_obj_close(&w);
	}
	json_w_obj_close(&w);
	json_w_key(&w, "Meta");
	json_w_obj_open(&w);
	for (size_t i = 0; i < s->nmeta; i++) {
		json_w_key(&w, s->meta[i].key);
		json_w_str(&w, s->meta[i].value);
	}
	json_w_obj_close(&w);
	w_int(&w, "Port", s->port);
	if (s->weights_set) {
		json_w_key(&w, "Weights");
		json_w_obj_open(&w);
		json_w_key(&w, "Passing");
		json_w_int(&w, s->w_passing);
		json_w_key(&w, "Warning");
		json_w_int(&w, s->w_warning);
		json_w_obj_close(&w);
	}
	w_bool(&w, "EnableTagOverride", s->enable_tag_override);
	if (s->connect_native) {
		json_w_key(&w, "Connect");
		json_w_obj_open(&w);
		w_bool(&w, "Native", true);
		json_w_obj_close(&w);
	}
	w_str(&w, "Token", s->token);
	json_w_obj_close(&w);
	json_w_finish(&w);
}

static void
w_dur(struct json_w *w, const char *k, int64_t ns)
{
	char t[DURATION_STRLEN];
	if (ns == 0)
		return;
	duration_format(ns, t, sizeof(t));
	json_w_key(w, k);
	json_w_str(w, t);
}

static void
write_check_strings(struct json_w *w, const struct chk_def *d)
{
	static const struct {
		const char *key;
		size_t off;
	} f[] = {
#define S(k, m) { k, offsetof(struct chk_def, m) }
		S("ID", id), S("Name", name), S("Notes", notes),
		S("ServiceID", service_id), S("Token", token),
		S("Status", status), S("HTTP", http), S("Method", method),
		S("Body", body), S("TCP", tcp), S("UDP", udp), S("GRPC", grpc),
		S("H2PING", h2ping), S("OSService", os_service),
		S("DockerContainerID", docker_container_id), S("Shell", shell),
		S("TLSServerName", tls_server_name),
		S("AliasNode", alias_node), S("AliasService", alias_service),
#undef S
	};
	for (size_t i = 0; i < nitems(f); i++)
		w_str(w, f[i].key, *(char *const *)((const char *)d +
		    f[i].off));
}

void
chk_write_check_def(struct buf *out, const struct chk_def *d)
{
	struct json_w w;
	json_w_init(&w, out, false);
	json_w_obj_open(&w);
	write_check_strings(&w, d);
	if (d->nargs) {
		json_w_key(&w, "ScriptArgs");
		json_w_arr_open(&w);
		for (size_t i = 0; i < d->nargs; i++)
			json_w_str(&w, d->args[i]);
		json_w_arr_close(&w);
	}
	if (d->nheaders) {
		json_w_key(&w, "Header");
		json_w_obj_open(&w);
		for (size_t i = 0; i < d->nheaders; i++) {
			json_w_key(&w, d->headers[i].name);
			json_w_arr_open(&w);
			for (size_t k = 0; k < d->headers[i].nvalues; k++)
				json_w_str(&w, d->headers[i].values[k]);
			json_w_arr_close(&w);
		}
		json_w_obj_close(&w);
	}
	w_bool(&w, "DisableRedirects", d->disable_redirects);
	w_bool(&w, "TLSSkipVerify", d->tls_skip_verify);
	w_bool(&w, "TCPUseTLS", d->tcp_use_tls);
	w_bool(&w, "GRPCUseTLS", d->grpc_use_tls);
	json_w_key(&w, "H2PingUseTLS");
	json_w_bool(&w, d->h2ping_use_tls);
	w_dur(&w, "Interval", d->interval);
	w_dur(&w, "Timeout", d->timeout);
	w_dur(&w, "TTL", d->ttl);
	w_dur(&w, "DeregisterCriticalServiceAfter", d->deregister_after);
	w_int(&w, "SuccessBeforePassing", d->success_before_passing);
	w_int(&w, "FailuresBeforeWarning", d->failures_before_warning);
	w_int(&w, "FailuresBeforeCritical", d->failures_before_critical);
	w_int(&w, "OutputMaxSize", d->output_max_size);
	json_w_obj_close(&w);
	json_w_finish(&w);
}
