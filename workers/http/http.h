/*
 * The http worker's HTTP/1.1 server engine: libev, non-blocking, one thread.
 *
 * It parses requests (RFC 9112: request line, header fields, Content-Length
 * and chunked bodies, Expect: 100-continue, HTTP/1.0 and 1.1 persistence,
 * pipelining), routes them through a static table the way Go's ServeMux and
 * Consul's endpoint wrapper do (agent/http.go: 404 "404 page not found",
 * 405 "method X not allowed" with Allow, OPTIONS answered from the table),
 * and writes the answers strictly in request order even when handlers reply
 * out of order.  Endpoints are written on top of this API; nothing here
 * knows about Consul objects.
 *
 * Handler contract and ctx lifetime
 * ---------------------------------
 * A handler is called once per request with a ctx and the request.  It
 * must finish the ctx exactly once with one of http_reply*(), either before
 * returning or later (after IPC replies arrive).  Until then the ctx, the
 * request and every string in it stay valid.  After the reply call the ctx
 * belongs to the server again: do not touch it, or the request, any more.
 *
 * If the client goes away (EOF, reset, timeout, server freed) before the
 * reply, and the handler registered an abort hook with http_ctx_on_abort(),
 * the hook runs once, from the event loop (never from inside an http_*
 * call the application made), and the ctx and request are freed when the
 * hook returns: the handler must forget the ctx inside the hook and never
 * reply to it.  Without a hook the ctx stays valid until the handler
 * replies; that reply is then discarded.  So a handler that may reply late
 * should always register a hook to cancel its pending work.
 *
 * http_reply_header() may be called any number of times before the reply.
 * Replies may be made from any callback on the server's loop, including
 * from another request's handler; the bytes go out when every earlier
 * response on that connection has been written.
 *
 * Errors from this layer are negative errno values; it logs at debug only.
 */
#ifndef MUSTER_HTTP_H
#define MUSTER_HTTP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "lib/util.h"

/* Methods, as a mask in routes and as the value of http_request.method. */
#define HTTP_GET	0x01u
#define HTTP_HEAD	0x02u
#define HTTP_PUT	0x04u
#define HTTP_POST	0x08u
#define HTTP_DELETE	0x10u
#define HTTP_PATCH	0x20u
#define HTTP_OPTIONS	0x40u
#define HTTP_OTHER	0x80u	/* any other token; see method_str */

struct http_header {
	const char *name;	/* as sent */
	const char *value;	/* surrounding whitespace removed; folded lines joined by one SP */
};

struct http_param {
	const char *name;	/* decoded (%XX, '+' -> SP) */
	const char *value;	/* decoded; "" for a bare ?flag */
	bool has_value;		/* "name=..." rather than bare "name" */
};

struct http_request {
	unsigned method;		/* one HTTP_* bit */
	const char *method_str;		/* as sent, e.g. "GET" */
	const char *path;		/* percent-decoded, NUL-terminated */
	size_t path_len;
	const char *raw_path;		/* as sent, without the query */
	const char *raw_query;		/* after '?', "" when none */
	const struct http_param *params;	/* in order; keys may repeat */
	size_t nparams;
	const struct http_header *headers;	/* in order */
	size_t nheaders;
	const uint8_t *body;		/* NUL-terminated past body_len; "" when none */
	size_t body_len;
	const char *client;		/* "ip:port", "[v6]:port", or "@" (AF_UNIX) */
	const char *client_ip;		/* "ip", or "" for AF_UNIX */
	uint8_t version_minor;		/* HTTP/1.<n> */
	bool keep_alive;		/* the connection stays open after this one */
};

struct http_ctx;

typedef void http_handler_fn(struct http_ctx *c, const struct http_request *r);

/*
 * One row of the static route table.  path is matched against the decoded
 * path: exactly, or, with prefix set (path must then end in '/'), as a
 * prefix, the longest prefix winning and an exact row winning over any
 * prefix (Go's ServeMux).  "/v1/kv" with only "/v1/kv/" registered gets a
 * 301 to "/v1/kv/", as Go's ServeMux answers.  Several rows may share a
 * path with different methods.
 *
 * methods 0 means "every method, the handler decides" (Consul's empty
 * method list).  A GET row also answers HEAD: the handler runs with method
 * HEAD and the body it replies is counted in Content-Length but not sent.
 * max_body 0 means the server's limit.
 */
struct http_route {
	unsigned methods;
	const char *path;
	bool prefix;
	http_handler_fn *handler;
	size_t max_body;
};

struct http_limits {
	size_t max_header_bytes;	/* request line + headers; over -> 431 */
	size_t max_body;		/* default per request; over -> 413 */
	unsigned max_conns;		/* all clients; at the cap accept() waits */
	unsigned max_conns_per_client;	/* per IP (not AF_UNIX); over -> 429; 0 = no cap */
	unsigned max_pipeline;		/* requests queued per connection */
	uint32_t idle_timeout_ms;	/* keep-alive connection with nothing to do */
	uint32_t read_timeout_ms;	/* a head must arrive within it; a body
					 * may not stall longer than it */
	uint32_t write_timeout_ms;	/* client not reading our answer */
	bool allow_unprintable_path;	/* Consul's disable_http_unprintable_char_filter */
};

#define HTTP_MAX_HEADER_BYTES_DEFAULT	(1u << 20)	/* Go's DefaultMaxHeaderBytes */
#define HTTP_MAX_BODY_DEFAULT		(512u * 1024 + 64 * 1024) /* kv_max_value_size + margin */
#define HTTP_MAX_CONNS_PER_CLIENT_DEFAULT 200u		/* limits.http_max_conns_per_client */

/* Fill lim with the defaults above and: 8192 connections, 32 pipelined
 * requests, idle 120 s (longer than Go clients' 90 s pool timeout), read
 * 60 s, write 60 s. */
void http_limits_default(struct http_limits *lim);

struct http_server;

/*
 * routes must outlive the server (a static table).  lim NULL means the
 * defaults.  app is handed back by http_app().
 */
struct http_server *http_server_new(struct ev_loop *loop,
    const struct http_route *routes, size_t nroutes,
    const struct http_limits *lim, void *app);
/*
 * Serve an already bound and listening TCP or AF_UNIX stream socket (the
 * supervisor binds).  The server owns fd from now on, also on error.
 * Returns 0 or -errno.
 */
int http_server_listen_fd(struct http_server *s, int fd);
/* A header sent with every response (http_config.response_headers). */
void http_server_add_header(struct http_server *s, const char *name,
    const char *value);
/* Stop accepting; the listening sockets are closed.  Open connections go
 * on until they finish or http_server_free(). */
void http_server_stop_listening(struct http_server *s);
/* Close every connection (abort hooks run) and listener; NULL is fine.
 * Not from inside a handler or an abort hook of this server. */
void http_server_free(struct http_server *s);

struct http_stats {
	uint64_t conns_open;
	uint64_t conns_accepted;
	uint64_t conns_rejected;	/* per-client cap (429) */
	uint64_t requests;		/* responses completely written */
	uint64_t bad_requests;		/* 400/413/431/... sent by the engine */
	uint64_t aborted;		/* client gone before the reply */
};

uint64_t http_server_conns_open(const struct http_server *s);
uint64_t http_server_requests_served(const struct http_server *s);
void http_server_stats(const struct http_server *s, struct http_stats *st);

/* ---- in handlers ---- */

const struct http_request *http_ctx_request(const struct http_ctx *c);
void *http_app(const struct http_ctx *c);
/* The decoded path after a prefix route's path ("" for exact routes). */
const char *http_path_rest(const struct http_ctx *c);
/* ?pretty present (Consul indents JSON then). */
bool http_pretty(const struct http_ctx *c);
void http_ctx_on_abort(struct http_ctx *c, void (*fn)(void *arg), void *arg);

/* First value of query parameter name ("" for a bare flag), NULL when
 * absent; *present (may be NULL) says whether it appeared at all. */
const char *http_query(const struct http_request *r, const char *name,
    bool *present);
/* Every value of name, in order: fills out[0..max) and returns the total
 * count (which may exceed max). */
size_t http_query_all(const struct http_request *r, const char *name,
    const char **out, size_t max);
/* First header named name (case-insensitive), NULL when absent. */
const char *http_header(const struct http_request *r, const char *name);

/* Add a response header (name spelled as given).  "Content-Type",
 * "Content-Length", "Date" and "Connection" are the server's; a handler's
 * "Connection: close" makes the server close after this response. */
void http_reply_header(struct http_ctx *c, const char *name,
    const char *value);
void http_reply_headerf(struct http_ctx *c, const char *name,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Finish with body[0..len) (copied).  content_type NULL means
 * "text/plain; charset=utf-8". */
void http_reply(struct http_ctx *c, int status, const char *content_type,
    const void *body, size_t len);
/* Same, taking body's storage (no copy); body is left empty. */
void http_reply_buf(struct http_ctx *c, int status, const char *content_type,
    struct buf *body);
/* application/json, taking json's storage. */
void http_reply_json(struct http_ctx *c, int status, struct buf *json);
/* text/plain; charset=utf-8, as Consul writes its errors. */
void http_reply_error(struct http_ctx *c, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void http_reply_verror(struct http_ctx *c, int status, const char *fmt,
    va_list ap) __attribute__((format(printf, 3, 0)));

const char *http_status_text(int status);

/* ---- query options every Consul read takes (agent/http.go parse()) ---- */

#define HTTP_WAIT_DEFAULT_NS	(300LL * 1000000000LL)	/* default_query_time 5m */
#define HTTP_WAIT_MAX_NS	(600LL * 1000000000LL)	/* max_query_time 10m */

struct http_query_opts {
	uint64_t index;		/* ?index; 0 when absent */
	int64_t wait_ns;	/* ?wait: clamped, default when absent or <= 0 */
	bool wait_set;		/* ?wait was given */
	int64_t max_stale_ns;	/* ?max_stale; 0 when absent */
	bool stale;		/* ?stale, or max_stale > 0 */
	bool consistent;	/* ?consistent */
	bool leader;		/* ?leader */
	bool cached;		/* ?cached */
	bool pretty;		/* ?pretty */
	/* Cache-Control request header, for ?cached */
	int64_t max_age_ns;
	int64_t stale_if_error_ns;
	bool must_revalidate;
	/* first non-empty value, NULL otherwise (Go's query.Get() != "") */
	const char *filter;
	const char *dc;
	const char *near;
	/* ?token, else X-Consul-Token, else "Authorization: Bearer x";
	 * NULL when none.  May point into token_buf: do not copy the struct
	 * while using token. */
	const char *token;
	char token_buf[256];
};

/*
 * Parse the options, checked in Consul's order.  On a bad value returns
 * -EINVAL with Consul's exact message in err ("Invalid index", "Invalid
 * wait time", "Invalid max_stale value \"x\"", "Cannot specify ?stale with
 * ?consistent, conflicting semantics.", ...): answer it with status 400.
 * The strings point into r (or o->token_buf).
 */
int http_query_opts(const struct http_request *r, struct http_query_opts *o,
    struct buf *err);
/* http_query_opts() that answers the 400 itself; false means replied. */
bool http_ctx_query_opts(struct http_ctx *c, struct http_query_opts *o);
/* The wait a blocking query should use: ns clamped to (0, max] with def
 * for <= 0. */
int64_t http_wait_clamp(int64_t ns, int64_t def, int64_t max);
/* wait plus a random stagger in [0, wait/16) (Consul's jitterFraction). */
int64_t http_wait_jitter(int64_t wait_ns);

#endif
