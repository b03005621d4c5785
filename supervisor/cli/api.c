/*
 * Agent address, token and TLS resolution, request helpers and JSON access
 * for the command line (see api.h).  Precedence, strongest first:
 *
 *   address  -http-addr, MUSTER_HTTP_ADDR, CONSUL_HTTP_ADDR, the agent's
 *            control socket (if it exists, or if named by -control-socket
 *            or MUSTER_CONTROL_SOCKET), http://127.0.0.1:8500
 *   token    -token-file, -token, CONSUL_HTTP_TOKEN_FILE, CONSUL_HTTP_TOKEN
 *            (a token file wins over a token given at the same level, as
 *            in Consul's api.NewClient; an empty file is skipped)
 *   TLS      -ca-file/-ca-path/-client-cert/-client-key/-tls-server-name,
 *            else CONSUL_CACERT, CONSUL_CAPATH, CONSUL_CLIENT_CERT,
 *            CONSUL_CLIENT_KEY, CONSUL_TLS_SERVER_NAME;
 *            CONSUL_HTTP_SSL=true makes a bare host:port https;
 *            CONSUL_HTTP_SSL_VERIFY=false skips certificate checks.
 */
#include "supervisor/cli/api.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/base64.h"
#include "lib/paths.h"
#include "lib/util.h"

#define CLI_DEFAULT_ADDR "http://127.0.0.1:8500"
#define CLI_IO_TIMEOUT_MS 60000

size_t
cli_http_flags(struct cli_http_opts *o, struct cli_flag *out, bool server)
{
	const struct cli_flag client[] = {
		CLI_STR("http-addr", &o->http_addr, "address",
		    "The `address` and port of the agent's HTTP API. The value "
		    "can be an IP address or DNS address, but it must also "
		    "include the port; unix:///path names a Unix socket. This "
		    "can also be specified via the MUSTER_HTTP_ADDR or "
		    "CONSUL_HTTP_ADDR environment variables. The default is "
		    "the agent's control socket if it exists, else "
		    "http://127.0.0.1:8500. The scheme can also be set to "
		    "HTTPS by setting the environment variable "
		    "CONSUL_HTTP_SSL=true."),
		CLI_STR("token", &o->token, "value",
		    "ACL token to use in the request. This can also be "
		    "specified via the CONSUL_HTTP_TOKEN environment variable. "
		    "If unspecified, the query will default to the token of "
		    "the agent at the HTTP address."),
		CLI_STR("token-file", &o->token_file, "value",
		    "File containing the ACL token to use in the request "
		    "instead of one specified via the -token argument or "
		    "CONSUL_HTTP_TOKEN environment variable. This can also be "
		    "specified via the CONSUL_HTTP_TOKEN_FILE environment "
		    "variable."),
		CLI_STR("ca-file", &o->ca_file, "value",
		    "Path to a CA file to use for TLS when communicating with "
		    "the agent. This can also be specified via the "
		    "CONSUL_CACERT environment variable."),
		CLI_STR("ca-path", &o->ca_path, "value",
		    "Path to a directory of CA certificates to use for TLS "
		    "when communicating with the agent. This can also be "
		    "specified via the CONSUL_CAPATH environment variable."),
		CLI_STR("client-cert", &o->client_cert, "value",
		    "Path to a client cert file to use for TLS when "
		    "'verify_incoming' is enabled. This can also be specified "
		    "via the CONSUL_CLIENT_CERT environment variable."),
		CLI_STR("client-key", &o->client_key, "value",
		    "Path to a client key file to use for TLS when "
		    "'verify_incoming' is enabled. This can also be specified "
		    "via the CONSUL_CLIENT_KEY environment variable."),
		CLI_STR("tls-server-name", &o->tls_server_name, "value",
		    "The server name to use as the SNI host when connecting "
		    "via TLS. This can also be specified via the "
		    "CONSUL_TLS_SERVER_NAME environment variable."),
		CLI_STR("control-socket", &o->control_socket, "path",
		    "The agent's control socket, used when no HTTP address is "
		    "given. This can also be specified via the "
		    "MUSTER_CONTROL_SOCKET environment variable."),
	};
	const struct cli_flag srv[] = {
		CLI_STR("datacenter", &o->datacenter, "value",
		    "Name of the datacenter to query. If unspecified, this "
		    "will default to the datacenter of the queried agent."),
		CLI_BOOL("stale", &o->stale,
		    "Permit any server (non-leader) to respond to this "
		    "request. This allows for lower latency and higher "
		    "throughput, but can result in stale data. This option has "
		    "no effect on non-read operations. The default value is "
		    "false."),
	};
	size_t n = nitems(client);

	memcpy(out, client, sizeof(client));
	if (server) {
		memcpy(out + n, srv, sizeof(srv));
		n += nitems(srv);
	}
	return n;
}

static const char *
env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

static const char *
pick(const char *flag, const char *envname)
{
	return flag && *flag ? flag : env(envname);
}

static char *
xstrdup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

char *
cli_control_socket_path(const struct cli_http_opts *o, bool *explicit)
{
	const char *p = pick(o->control_socket, "MUSTER_CONTROL_SOCKET");
	char dir[200];

	*explicit = p != NULL;
	if (p)
		return xstrdup(p);
	paths_runtime_dir(dir, sizeof(dir));
	return xasprintf("%s/control.sock", dir);
}

/* "host", "host:port", "[v6]" or "[v6]:port" into t->host, t->port. */
static int
parse_hostport(const char *hp, size_t len, bool tls,
    struct cli_http_target *t, struct buf *err)
{
	const char *host = hp, *port = NULL, *end = hp + len, *c;
	size_t hlen;

	if (len > 0 && hp[0] == '[') {
		if ((c = memchr(hp, ']', len)) == NULL)
			goto bad;
		host = hp + 1;
		hlen = (size_t)(c - host);
		if (c + 1 < end && c[1] != ':')
			goto bad;
		if (c + 1 < end)
			port = c + 2;
	} else {
		c = memchr(hp, ':', len);
		if (c && memchr(c + 1, ':', (size_t)(end - c - 1))) {
			buf_printf(err, "address %.*s: too many colons",
			    (int)len, hp);
			return -EINVAL;
		}
		hlen = c ? (size_t)(c - hp) : len;
		if (c)
			port = c + 1;
	}
	if (port) {
		char *e;
		unsigned long v = strtoul(port, &e, 10);

		if (port == end || e != end || v == 0 || v > 65535 ||
		    *port < '0' || *port > '9') {
			buf_printf(err, "invalid port \"%.*s\" after host",
			    (int)(end - port), port);
			return -EINVAL;
		}
	}
	/* Go dials the local system for an empty host (":8500"). */
	t->host = hlen ? xstrndup(host, hlen) : xstrdup("127.0.0.1");
	t->port = port ? xstrndup(port, (size_t)(end - port)) :
	    xstrdup(tls ? "443" : "80");
	return 0;
bad:
	buf_printf(err, "invalid address \"%.*s\"", (int)len, hp);
	return -EINVAL;
}

int
cli_addr_parse(const char *addr, bool ssl_default, struct cli_http_target *t,
    struct buf *err)
{
	const char *sep = strstr(addr, "://"), *rest = addr, *slash;
	size_t plen;

	t->tls = ssl_default;
	if (sep) {
		size_t sl = (size_t)(sep - addr);

		rest = sep + 3;
		if (sl == 4 && memcmp(addr, "unix", 4) == 0) {
			if (*rest == '\0') {
				buf_printf(err, "missing socket path in %s",
				    addr);
				return -EINVAL;
			}
			t->unix_sock = true;
			t->tls = false;
			t->sock_path = xstrdup(rest);
			t->prefix = xstrdup("");
			return 0;
		}
		/* "http" never reverts TLS asked for by CONSUL_HTTP_SSL. */
		if (sl == 5 && memcmp(addr, "https", 5) == 0)
			t->tls = true;
		else if (sl != 4 || memcmp(addr, "http", 4) != 0) {
			buf_printf(err, "Unknown protocol scheme: %.*s",
			    (int)sl, addr);
			return -EINVAL;
		}
	}
	slash = strchr(rest, '/');
	plen = slash ? (size_t)(slash - rest) : strlen(rest);
	if (parse_hostport(rest, plen, t->tls, t, err) < 0)
		return -EINVAL;
	/* A reverse-proxy path prefix ("host:8500/consul"), as Consul. */
	if (slash) {
		size_t n = strlen(slash);
		while (n > 0 && slash[n - 1] == '/')
			n--;
		t->prefix = xstrndup(slash, n);
	} else
		t->prefix = xstrdup("");
	return 0;
}

/* The address string to use and where it came from. */
static char *
choose_addr(const struct cli_http_opts *o, enum cli_addr_src *src)
{
	struct stat st;
	const char *v;
	bool explicit;
	char *sock;

	if (o->http_addr && *o->http_addr) {
		*src = CLI_ADDR_FLAG;
		return xstrdup(o->http_addr);
	}
	if ((v = env("MUSTER_HTTP_ADDR")) != NULL) {
		*src = CLI_ADDR_MUSTER_ENV;
		return xstrdup(v);
	}
	if ((v = env("CONSUL_HTTP_ADDR")) != NULL) {
		*src = CLI_ADDR_CONSUL_ENV;
		return xstrdup(v);
	}
	sock = cli_control_socket_path(o, &explicit);
	if (explicit || (stat(sock, &st) == 0 && S_ISSOCK(st.st_mode))) {
		char *a = xasprintf("unix://%s", sock);
		free(sock);
		*src = CLI_ADDR_CONTROL;
		return a;
	}
	free(sock);
	*src = CLI_ADDR_DEFAULT;
	return xstrdup(CLI_DEFAULT_ADDR);
}

/* A Go strconv.ParseBool environment variable; dflt when unset or bad. */
static bool
env_bool(const char *name, bool dflt)
{
	const char *v = env(name);
	bool b;

	if (v == NULL)
		return dflt;
	if (cli_parse_bool(v, &b) < 0) {
		fprintf(stderr, "Warning: could not parse %s: invalid syntax "
		    "\"%s\"\n", name, v);
		return dflt;
	}
	return b;
}

static int
token_from_file(const char *path, char **out, struct buf *err)
{
	struct buf b;
	size_t s = 0, e;
	char es[128];
	int r;

	buf_init(&b);
	if ((r = read_file(path, 64 * 1024, &b)) < 0) {
		buf_printf(err, "Error loading token file: open %s: %s", path,
		    cli_errstr(-r, es, sizeof(es)));
		buf_free(&b);
		return r;
	}
	e = b.len;
	while (s < e && strchr(" \t\r\n", b.data[s]))
		s++;
	while (e > s && strchr(" \t\r\n", b.data[e - 1]))
		e--;
	if (e > s)
		*out = xstrndup((char *)b.data + s, e - s);
	buf_free(&b);
	return 0;
}

static int
resolve_token(struct cli_client *c, const struct cli_http_opts *o,
    struct buf *err)
{
	const char *f;
	int r;

	if (o->token_file && *o->token_file &&
	    (r = token_from_file(o->token_file, &c->token, err)) < 0)
		return r;
	if (c->token == NULL && o->token && *o->token)
		c->token = xstrdup(o->token);
	if (c->token == NULL && (f = env("CONSUL_HTTP_TOKEN_FILE")) != NULL &&
	    (r = token_from_file(f, &c->token, err)) < 0)
		return r;
	if (c->token == NULL)
		c->token = xstrdup_or_null(env("CONSUL_HTTP_TOKEN"));
	if (c->token && strpbrk(c->token, "\r\n")) {
		buf_printf(err, "invalid ACL token: contains a line break");
		return -EINVAL;
	}
	return 0;
}

static int
resolve_tls(struct cli_client *c, const struct cli_http_opts *o,
    struct buf *err)
{
	struct cli_http_target *t = &c->t;

	t->ca_file = xstrdup_or_null(pick(o->ca_file, "CONSUL_CACERT"));
	t->ca_path = xstrdup_or_null(pick(o->ca_path, "CONSUL_CAPATH"));
	t->cert_file = xstrdup_or_null(pick(o->client_cert,
	    "CONSUL_CLIENT_CERT"));
	t->key_file = xstrdup_or_null(pick(o->client_key, "CONSUL_CLIENT_KEY"));
	t->server_name = xstrdup_or_null(pick(o->tls_server_name,
	    "CONSUL_TLS_SERVER_NAME"));
	t->insecure = !env_bool("CONSUL_HTTP_SSL_VERIFY", true);
	if ((t->cert_file != NULL) != (t->key_file != NULL)) {
		buf_printf(err, "both client cert and client key must be "
		    "provided");
		return -EINVAL;
	}
	return 0;
}

/* CONSUL_HTTP_AUTH "user[:password]" as HTTP basic authentication. */
static void
resolve_auth(struct cli_client *c)
{
	const char *a = env("CONSUL_HTTP_AUTH");
	char *b64;

	if (a == NULL)
		return;
	b64 = base64_encode(a, strlen(a));
	c->auth = xasprintf("Basic %s", b64);
	free(b64);
}

int
cli_client_init(struct cli_client *c, const struct cli_http_opts *o,
    struct buf *err)
{
	int r;

	memset(c, 0, sizeof(*c));
	c->addr = choose_addr(o, &c->src);
	r = cli_addr_parse(c->addr, env_bool("CONSUL_HTTP_SSL", false), &c->t,
	    err);
	if (r == 0)
		r = resolve_token(c, o, err);
	if (r == 0)
		r = resolve_tls(c, o, err);
	if (r < 0) {
		cli_client_free(c);
		return r;
	}
	resolve_auth(c);
	c->dc = xstrdup_or_null(o->datacenter && *o->datacenter ?
	    o->datacenter : NULL);
	c->stale = o->stale;
	/*
	 * An agent that accepts and then says nothing must not hang a shell
	 * script forever; commands that stream or block set their own.
	 */
	c->t.io_timeout_ms = CLI_IO_TIMEOUT_MS;
	return 0;
}

int
cli_client_open(struct cli_client *c, const struct cli_http_opts *o)
{
	struct buf err;

	buf_init(&err);
	if (cli_client_init(c, o, &err) < 0) {
		fprintf(stderr, "Error connecting to agent: %s\n",
		    (char *)err.data);
		buf_free(&err);
		return -1;
	}
	buf_free(&err);
	return 0;
}

void
cli_client_free(struct cli_client *c)
{
	cli_http_target_free(&c->t);
	free(c->addr);
	free(c->token);
	free(c->auth);
	free(c->dc);
	memset(c, 0, sizeof(*c));
}

void
cli_url_escape(struct buf *out, const char *s, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || strchr("-._~", ch) ||
		    (keep_slash && ch == '/'))
			buf_addch(out, (char)ch);
		else {
			buf_addch(out, '%');
			buf_addch(out, hex[ch >> 4]);
			buf_addch(out, hex[ch & 15]);
		}
	}
}

void
cli_query_add(struct buf *path, const char *key, const char *val)
{
	buf_addch(path, memchr(path->data, '?', path->len) ? '&' : '?');
	cli_url_escape(path, key, false);
	if (val) {
		buf_addch(path, '=');
		cli_url_escape(path, val, false);
	}
}

/* Go's url.Error prefix: the method with only its first letter upper. */
static void
url_error_prefix(struct buf *b, const struct cli_client *c,
    const char *method, const char *path)
{
	const char *m;

	buf_addch(b, method[0]);
	for (m = method + 1; *m; m++)
		buf_addch(b, (char)(*m >= 'A' && *m <= 'Z' ? *m + 32 : *m));
	if (c->t.unix_sock) {
		buf_printf(b, " \"http://unix%s\": ", path);
	} else {
		bool v6 = strchr(c->t.host, ':') != NULL;

		buf_printf(b, " \"%s://%s%s%s:%s%s%s\": ",
		    c->t.tls ? "https" : "http", v6 ? "[" : "", c->t.host,
		    v6 ? "]" : "", c->t.port, c->t.prefix, path);
	}
}

int
cli_request_req(struct cli_client *c, const struct cli_http_req *in,
    struct cli_http_resp *resp, struct buf *err)
{
	struct cli_http_req req = *in;
	const char **hdrs;
	char *tok = NULL, *auth = NULL;
	struct buf full, e;
	size_t nh = 0, i;
	int r;

	for (i = 0; in->headers && in->headers[i]; i++)
		;
	hdrs = xcalloc(i + 3, sizeof(*hdrs));
	buf_init(&full);
	buf_init(&e);
	buf_addstr(&full, in->path);
	if (c->dc)
		cli_query_add(&full, "dc", c->dc);
	if (c->stale)
		cli_query_add(&full, "stale", NULL);
	req.path = (char *)full.data;
	if (c->token)
		hdrs[nh++] = tok = xasprintf("X-Consul-Token: %s", c->token);
	if (c->auth)
		hdrs[nh++] = auth = xasprintf("Authorization: %s", c->auth);
	for (i = 0; in->headers && in->headers[i]; i++)
		hdrs[nh++] = in->headers[i];
	req.headers = hdrs;
	r = cli_http_do(&c->t, &req, resp, &e);
	if (r < 0) {
		url_error_prefix(err, c, req.method, req.path);
		buf_add(err, e.data, e.len);
	}
	free(tok);
	free(auth);
	free(hdrs);
	buf_free(&full);
	buf_free(&e);
	return r;
}

int
cli_request(struct cli_client *c, const char *method, const char *path,
    const void *body, size_t len, struct cli_http_resp *resp,
    struct buf *err)
{
	struct cli_http_req req = { .method = method, .path = path,
		.body = body, .body_len = len };

	return cli_request_req(c, &req, resp, err);
}

int
cli_call(struct cli_client *c, const char *method, const char *path,
    const void *body, size_t len, struct cli_http_resp *resp,
    const char *what)
{
	struct cli_http_resp local;
	struct cli_http_resp *r = resp ? resp : &local;
	struct buf err;
	int rc = 0;

	buf_init(&err);
	if (resp == NULL)
		cli_http_resp_init(&local);
	if (cli_request(c, method, path, body, len, r, &err) < 0) {
		fprintf(stderr, "%s: %s\n", what, (char *)err.data);
		rc = -1;
	} else if (r->status != 200) {
		/* Consul's StatusError: the body with surrounding space cut. */
		size_t s = 0, e = r->body.len;

		while (s < e && strchr(" \t\r\n", r->body.data[s]))
			s++;
		while (e > s && strchr(" \t\r\n", r->body.data[e - 1]))
			e--;
		fprintf(stderr, "%s: Unexpected response code: %d (%.*s)\n",
		    what, r->status, (int)(e - s), (char *)r->body.data + s);
		rc = -1;
	}
	if (resp == NULL)
		cli_http_resp_free(&local);
	buf_free(&err);
	return rc;
}

yajl_val
cli_json_parse(const struct buf *body, struct buf *err)
{
	char msg[256];
	yajl_val v;

	if (body->len == 0 || memchr(body->data, '\0', body->len)) {
		buf_printf(err, "invalid JSON in response: %s", body->len ?
		    "NUL byte" : "empty body");
		return NULL;
	}
	msg[0] = '\0';
	if ((v = yajl_tree_parse((const char *)body->data, msg,
	    sizeof(msg))) == NULL) {
		msg[strcspn(msg, "\n")] = '\0';
		buf_printf(err, "invalid JSON in response: %s", msg[0] ? msg :
		    "parse error");
	}
	return v;
}

yajl_val
cli_json_get(yajl_val obj, const char *key)
{
	size_t i;

	if (!YAJL_IS_OBJECT(obj))
		return NULL;
	for (i = 0; i < obj->u.object.len; i++)
		if (strcmp(obj->u.object.keys[i], key) == 0)
			return obj->u.object.values[i];
	return NULL;
}

const char *
cli_json_str(yajl_val v)
{
	return YAJL_IS_STRING(v) ? v->u.string : NULL;
}

void
cli_json_print_scalar(FILE *out, yajl_val v)
{
	if (YAJL_IS_STRING(v))
		fputs(v->u.string, out);
	else if (YAJL_IS_NUMBER(v))
		fputs(v->u.number.r, out);
	else if (YAJL_IS_TRUE(v))
		fputs("true", out);
	else if (YAJL_IS_FALSE(v))
		fputs("false", out);
	else if (YAJL_IS_NULL(v))
		fputs("<nil>", out);
	else
		fputs(YAJL_IS_ARRAY(v) ? "[...]" : "map[...]", out);
}
