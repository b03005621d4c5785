/*
 * The agent's HTTP API as the command line uses it, after Consul's Go API
 * client (api/api.go) and its CLI flags (command/flags/http.go): where the
 * agent is, which token to send, TLS settings, request helpers that apply
 * Consul's rules (only 200 is success; any other status is the error
 * "Unexpected response code: N (body)"), and JSON access through yajl.
 */
#ifndef MUSTER_CLI_API_H
#define MUSTER_CLI_API_H

#include <stdbool.h>
#include <yajl/yajl_tree.h>

#include "supervisor/cli/flags.h"
#include "supervisor/cli/http_client.h"

/* Flag values; NULL / false when not given.  Strings point into argv. */
struct cli_http_opts {
	const char *http_addr;
	const char *token, *token_file;
	const char *ca_file, *ca_path, *client_cert, *client_key;
	const char *tls_server_name;
	const char *control_socket;
	/* Server flags, for commands that read cluster state. */
	const char *datacenter;
	bool stale;
};

#define CLI_HTTP_FLAGS_MAX 12
/* Fill out[] with the HTTP API flags (plus -datacenter and -stale when
 * server); returns how many. */
size_t cli_http_flags(struct cli_http_opts *o, struct cli_flag *out,
    bool server);
#define CLI_HTTP_FLAGSET(o, storage, server)			\
	{ "HTTP API Options", (storage),			\
	  cli_http_flags((o), (storage), (server)) }

/* Where the address came from, in order of precedence. */
enum cli_addr_src {
	CLI_ADDR_FLAG,		/* -http-addr */
	CLI_ADDR_MUSTER_ENV,	/* MUSTER_HTTP_ADDR */
	CLI_ADDR_CONSUL_ENV,	/* CONSUL_HTTP_ADDR */
	CLI_ADDR_CONTROL,	/* the agent's control socket */
	CLI_ADDR_DEFAULT,	/* http://127.0.0.1:8500 */
};

struct cli_client {
	struct cli_http_target t;
	enum cli_addr_src src;
	char *addr;		/* the address as chosen */
	char *token;		/* X-Consul-Token, or NULL */
	char *auth;		/* "Basic ..." from CONSUL_HTTP_AUTH, or NULL */
	char *dc;
	bool stale;
};

/*
 * The control socket the CLI falls back to: -control-socket, else
 * MUSTER_CONTROL_SOCKET, else <runtime dir>/control.sock.  *explicit is
 * set when the path was given (then it is used even if absent, so that
 * the error names it).
 */
char *cli_control_socket_path(const struct cli_http_opts *o, bool *explicit);

/*
 * Parse an agent address: "http://host:port[/prefix]", "https://...",
 * "unix:///path" or a bare "host:port" (https when ssl_default, as with
 * CONSUL_HTTP_SSL=true).  Fills the address part of t.
 */
int cli_addr_parse(const char *addr, bool ssl_default,
    struct cli_http_target *t, struct buf *err);

/* Resolve flags and environment.  0, or -errno with *err set. */
int cli_client_init(struct cli_client *c, const struct cli_http_opts *o,
    struct buf *err);
/* cli_client_init() that prints "Error connecting to agent: ..." itself. */
int cli_client_open(struct cli_client *c, const struct cli_http_opts *o);
void cli_client_free(struct cli_client *c);

/*
 * One request with the client's token, datacenter and consistency
 * applied.  0 with any status in *resp, or -errno with *err set to Go's
 * wording: Get "http://127.0.0.1:8500/v1/agent/self": dial tcp ...
 */
int cli_request(struct cli_client *c, const char *method, const char *path,
    const void *body, size_t len, struct cli_http_resp *resp,
    struct buf *err);

/*
 * The general form: extra headers, a streamed body (on_body) or a larger
 * max_body.  The client's headers and query parameters are added.  A
 * command that streams or blocks (monitor, snapshot save) sets
 * c->t.io_timeout_ms to 0 first.
 */
int cli_request_req(struct cli_client *c, const struct cli_http_req *req,
    struct cli_http_resp *resp, struct buf *err);

/*
 * cli_request() that also requires 200, printing "<what>: <reason>" to
 * stderr on failure and returning -1.  resp may be NULL.
 */
int cli_call(struct cli_client *c, const char *method, const char *path,
    const void *body, size_t len, struct cli_http_resp *resp,
    const char *what);

/* Append "key" or "key=value" to a path's query, percent-encoded. */
void cli_query_add(struct buf *path, const char *key, const char *val);
/* Percent-encode s (RFC 3986 unreserved kept; '/' kept when keep_slash). */
void cli_url_escape(struct buf *out, const char *s, bool keep_slash);

/* Parse a response body; NULL with *err set ("invalid JSON ..."). */
yajl_val cli_json_parse(const struct buf *body, struct buf *err);
/* obj[key] or NULL (obj not an object, or no such key). */
yajl_val cli_json_get(yajl_val obj, const char *key);
/* The string, or NULL when v is not a string. */
const char *cli_json_str(yajl_val v);
/* Print a scalar as Go's fmt %v prints the decoded value. */
void cli_json_print_scalar(FILE *out, yajl_val v);

#endif
