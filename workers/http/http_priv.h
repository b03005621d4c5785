/*
 * Internals of the HTTP engine shared by http_*.c; not for endpoints.
 *
 * http_parser.c holds the pure parsing functions (no I/O, no allocation
 * beyond what the caller hands in) so that the fuzz target and the unit
 * tests reach them directly.
 */
#ifndef MUSTER_HTTP_PRIV_H
#define MUSTER_HTTP_PRIV_H

#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

#include "workers/http/http.h"

/* ---- parser (http_parser.c) ---- */

/*
 * Find the end of a request head (through the empty line; CRLF or bare LF
 * line ends, RFC 9112 §2.2).  Returns its length, or 0 when more bytes are
 * needed; *scan carries the progress between calls over a growing buffer
 * (start it at 0).
 */
size_t http_head_end(const uint8_t *p, size_t len, size_t *scan);

/* What the head says about the message, besides struct http_request. */
struct http_head {
	struct http_request req;
	int64_t content_length;		/* -1 when absent */
	bool chunked;
	bool expect_continue;
	bool path_unprintable;		/* decoded path has control characters */
	const char *error;		/* why, when parse returns a status */
};

/* Bytes of arena http_head_parse() needs for head[0..len) plus extra. */
size_t http_head_arena_size(const uint8_t *head, size_t len);
/*
 * Parse a complete head into h, copying it into arena (of
 * http_head_arena_size() bytes, suitably aligned); every pointer in h->req
 * points into arena.  Returns 0, or the status to answer (400, 417, 501,
 * 505) with h->error set.
 */
int http_head_parse(struct http_head *h, void *arena, size_t arena_len,
    const uint8_t *head, size_t len);

/*
 * Percent-decode s[0..n) into out (room for n + 1; NUL-terminated); form
 * also maps '+' to ' ' (application/x-www-form-urlencoded).  Returns the
 * decoded length or -1 on a malformed escape.
 */
ssize_t http_pct_decode(char *out, const char *s, size_t n, bool form);

/*
 * Split a raw query into params the way Go's url.ParseQuery does: pairs
 * separated by '&', a pair holding ';' or a bad escape is skipped, empty
 * pairs are skipped.  Decoded strings go to scratch (2 * n + 2 bytes).
 * Returns the number of params written (at most max).
 */
size_t http_query_parse(const char *raw, size_t n, char *scratch,
    struct http_param *out, size_t max);
/* Upper bound of params in a raw query of n bytes. */
size_t http_query_count(const char *raw, size_t n);

/* Incremental decoder of a chunked body (RFC 9112 §7.1). */
struct http_chunk {
	uint8_t state;
	uint8_t ndigits;
	uint64_t remain;	/* bytes left in the current chunk */
	size_t line;		/* bytes in the current size/trailer line */
	size_t trailers;	/* bytes of trailer section so far */
};

#define HTTP_CHUNK_LINE_MAX	4096	/* Go's maxLineLength */
#define HTTP_CHUNK_TRAILER_MAX	(64 * 1024)

/*
 * Feed in[0..len).  Decoded data is appended to *out / *out_len (growing
 * *out_cap by realloc; the data stays NUL-terminated).  Stops after the
 * last chunk's trailer section and sets *done.  Returns the bytes consumed,
 * -EBADMSG for malformed input or -EFBIG when the body passes max.
 */
ssize_t http_chunk_feed(struct http_chunk *st, const uint8_t *in, size_t len,
    uint8_t **out, size_t *out_len, size_t *out_cap, size_t max, bool *done);

/* ---- connection and server (http_conn.c, http_server.c) ---- */

enum http_ctx_state {
	CTX_BODY,	/* head parsed, reading the body */
	CTX_HANDLER,	/* with the handler, no reply yet */
	CTX_DONE,	/* reply built, being written */
};

struct http_conn;
struct http_server;

#define HTTP_OUT_RESERVE 64	/* room for the status line before the headers */

struct http_ctx {
	struct http_ctx *next;		/* the connection's queue, in order */
	struct http_conn *conn;		/* NULL once orphaned */
	void *app;
	struct http_head h;
	const struct http_route *route;	/* the row whose handler runs */
	const char *rest;
	int pre_status;			/* answered by the engine: 301/404/405/OPTIONS */
	unsigned allow;			/* methods of the matched path */
	uint8_t state;
	bool head_only;			/* HEAD: count the body, do not send it */
	bool close_after;		/* close once this response is written */
	bool want_continue;		/* owe "100 Continue" before the body */
	bool aborting;
	int status;

	/* request body */
	uint8_t *body;
	size_t body_len, body_cap;
	uint64_t body_remain;		/* Content-Length bytes still to come */
	size_t max_body;
	struct http_chunk chunk;

	/* response: out = [reserve][extra headers][server headers][body?] */
	struct buf out;
	size_t out_start;		/* the status line's first byte in out */
	uint8_t *xbody;			/* taken body (http_reply_buf) */
	size_t xbody_len;
	size_t sent;			/* bytes of the response written */
	size_t cont_sent;		/* bytes of "100 Continue" written */

	void (*abort_fn)(void *);
	void *abort_arg;

	_Alignas(max_align_t) char arena[];
};

struct http_conn {
	struct http_server *srv;
	struct http_conn *prev, *next;	/* server's list */
	struct http_conn *kick_next;
	ev_io rio, wio;
	ev_timer tmr;
	int fd;
	uint8_t tmode;			/* which timeout tmr runs for */
	bool kicked;
	bool busy;			/* inside one of our callbacks */
	bool dead;			/* destroy at the end of the callback */
	bool no_more;			/* accept no further request */
	bool lingering;			/* write side shut, draining input */
	bool is_unix;
	bool rd_eof;			/* the client shut its side */
	bool want_write;		/* the socket was full */
	struct buf in;			/* unconsumed input (in_off..len) */
	size_t in_off;
	size_t scan;			/* http_head_end() progress */
	ev_tstamp req_start;		/* first byte of the request being read */
	ev_tstamp last_active;		/* last byte in or out */
	ev_tstamp wlast;		/* last write progress */
	ev_tstamp linger_since;
	ev_tstamp tarmed;		/* when tmr fires */
	struct http_ctx *qhead, *qtail;
	struct http_ctx *reading;	/* the ctx in CTX_BODY, if any */
	unsigned nq;
	struct http_ipcount *ipc;	/* per-client count, NULL for AF_UNIX */
	char addr[64];			/* "ip:port" */
	char ip[48];
};

struct http_ipcount {
	struct http_ipcount *next;
	uint8_t key[17];		/* family + 16 address bytes */
	unsigned n;
};

#define HTTP_IPTAB_SIZE 256
#define HTTP_SCRATCH_SIZE (64 * 1024)

struct http_listener {
	ev_io io;
	struct http_server *srv;
	int fd;
	bool is_unix;
};

struct http_server {
	struct ev_loop *loop;
	const struct http_route *routes;
	size_t nroutes;
	size_t *route_len;
	struct http_limits lim;
	void *app;
	struct http_listener **ls;
	size_t nls;
	bool paused;			/* accept() stopped at max_conns or EMFILE */
	ev_timer retry;
	struct http_conn *conns;
	struct http_conn *kick_head;
	ev_prepare prep;
	struct http_ipcount *iptab[HTTP_IPTAB_SIZE];
	struct buf extra_hdrs;		/* http_server_add_header() */
	char date[40];
	time_t date_sec;
	uint8_t *scratch;
	struct http_stats st;
};

/* http_server.c */
const char *http_date(struct http_server *s);
void http_server_conn_gone(struct http_server *s);
/* false: over the per-client cap (nothing is held then). */
bool http_ipcount_acquire(struct http_server *s, struct http_conn *c,
    const struct sockaddr *sa);
void http_ipcount_release(struct http_server *s, struct http_conn *c);
/* At head time: pick the route (x->route, x->rest, x->pre_status). */
void http_route_match(struct http_server *s, struct http_ctx *x);
/* Body complete: run the handler or answer pre_status. */
void http_route_dispatch(struct http_server *s, struct http_ctx *x);

/* http_conn.c */
void http_conn_new(struct http_server *s, int fd,
    const struct sockaddr *sa, socklen_t salen, bool is_unix);
void http_conn_destroy(struct http_conn *c);
void http_conn_kick(struct http_conn *c);
void http_conn_run_kicks(struct http_server *s);
void http_ctx_reply_simple(struct http_ctx *x, int status,
    const char *extra_hdr_name, const char *extra_hdr_val, const char *msg);

#endif
