/*
 * One client connection: reading and parsing requests, handing them to
 * handlers, writing the answers back in request order (RFC 9112 §9.3.2:
 * pipelined responses go out in the order the requests came in).
 *
 * Every request is a ctx on the connection's queue, from the moment its
 * head is parsed until its response is completely written.  Handlers may
 * reply in any order; the writer only ever sends the longest prefix of the
 * queue whose responses are complete, gathered into one sendmsg().
 *
 * Re-entrancy: the application only ever marks a ctx done (or kicks the
 * connection, when it replies outside our callbacks); the socket is only
 * written, and a connection only destroyed, at the end of one of our own
 * libev callbacks (read, write, timer, prepare).  Abort hooks run from
 * there too, never from inside a call the application made.
 *
 * Memory: an idle keep-alive connection is this struct and nothing else;
 * input is read into the server's scratch buffer and only an incomplete
 * head is kept per connection.  A request costs one allocation (ctx plus
 * the parsed head), its body one more, its response one more.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/log.h"
#include "workers/http/http_priv.h"

enum { TM_NONE, TM_IDLE, TM_READ, TM_WRITE, TM_LINGER };

#define LINGER_SECS 1.0		/* Go's rstAvoidanceDelay is 500 ms */
#define CONTINUE_LINE "HTTP/1.1 100 Continue\r\n\r\n"
#define CONTINUE_LEN (sizeof(CONTINUE_LINE) - 1)
#define DIRECT_READ_MIN 4096	/* body bytes worth a recv() into the body */
#define CLIENT_STR_ROOM 128

static void conn_settle(struct http_conn *c);
static void read_cb(struct ev_loop *loop, ev_io *w, int revents);
static void write_cb(struct ev_loop *loop, ev_io *w, int revents);
static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents);

/* ---- ctx lifetime ---- */

static void
ctx_set_client(struct http_ctx *x, struct http_conn *c, char *room)
{
	size_t al = strlen(c->addr) + 1, il = strlen(c->ip) + 1;

	memcpy(room, c->addr, al);
	memcpy(room + al, c->ip, il);
	x->h.req.client = room;
	x->h.req.client_ip = room + al;
}

/* A ctx with no parsed head, for answers to unparseable input. */
static struct http_ctx *
ctx_new_bare(struct http_conn *c)
{
	struct http_ctx *x = xcalloc(1, sizeof(*x) + CLIENT_STR_ROOM);
	struct http_request *r = &x->h.req;

	x->conn = c;
	x->app = c->srv->app;
	x->rest = "";
	r->method_str = r->path = r->raw_path = r->raw_query = "";
	r->body = (const uint8_t *)"";
	r->version_minor = 1;
	x->h.content_length = -1;
	ctx_set_client(x, c, x->arena);
	return x;
}

static void
ctx_free(struct http_ctx *x)
{
	if (x->body != NULL)
		free(x->body);
	buf_free(&x->out);
	free(x->xbody);
	free(x);
}

static void
conn_enqueue(struct http_conn *c, struct http_ctx *x)
{
	if (c->qtail != NULL)
		c->qtail->next = x;
	else
		c->qhead = x;
	c->qtail = x;
	c->nq++;
}

/*
 * Forget a list of ctxs whose client is gone.  Two passes so that a hook
 * replying to another ctx of the list cannot free it behind our back:
 * every ctx is detached first, and a reply to an aborting ctx is ignored.
 */
static void
ctx_abandon_list(struct http_server *s, struct http_ctx *list)
{
	struct http_ctx *x, *next, *hooks = NULL, **tail = &hooks;

	for (x = list; x != NULL; x = next) {
		next = x->next;
		x->next = NULL;
		x->conn = NULL;
		if (x->state != CTX_HANDLER) {
			ctx_free(x);
			continue;
		}
		s->st.aborted++;
		if (x->abort_fn == NULL)
			continue;	/* orphan: its reply frees it */
		x->aborting = true;
		*tail = x;
		tail = &x->next;
	}
	for (x = hooks; x != NULL; x = next) {
		next = x->next;
		x->abort_fn(x->abort_arg);
		ctx_free(x);
	}
}

/* Drop every ctx after prev (all of them when prev is NULL). */
static void
conn_drop_after(struct http_conn *c, struct http_ctx *prev)
{
	struct http_ctx *list = prev ? prev->next : c->qhead;
	unsigned kept = 0;

	for (struct http_ctx *x = c->qhead; x != list; x = x->next)
		kept++;
	if (prev != NULL)
		prev->next = NULL;
	else
		c->qhead = NULL;
	c->qtail = prev;
	c->nq = kept;
	c->reading = NULL;
	c->req_start = 0;
	ctx_abandon_list(c->srv, list);
}

/* ---- building responses ---- */

static void
out_init(struct http_ctx *x, size_t extra)
{
	if (x->out.data == NULL) {
		buf_reserve(&x->out, HTTP_OUT_RESERVE + extra);
		x->out.len = HTTP_OUT_RESERVE;
	} else
		buf_reserve(&x->out, extra);
}

static void
out_add(struct http_ctx *x, const char *s, size_t n)
{
	if (n == 0)
		return;
	memcpy(x->out.data + x->out.len, s, n);
	x->out.len += n;
}

#define OUT_LIT(x, s) out_add((x), (s), sizeof(s) - 1)

static void
out_status_line(struct http_ctx *x, int status)
{
	char line[HTTP_OUT_RESERVE];
	int n = snprintf(line, sizeof(line), "HTTP/1.1 %d %s\r\n", status,
	    http_status_text(status));

	if (n < 0 || n >= (int)sizeof(line))
		n = snprintf(line, sizeof(line), "HTTP/1.1 %d \r\n", status);
	x->out_start = HTTP_OUT_RESERVE - (size_t)n;
	memcpy(x->out.data + x->out_start, line, (size_t)n);
}

/*
 * The one place a response is assembled: status line, the handler's
 * headers, the server's headers, Content-Type, Date, Content-Length,
 * Connection, and the body (copied unless taken).
 */
static void
ctx_build(struct http_ctx *x, int status, const char *ctype,
    const void *body, size_t len, uint8_t *taken)
{
	struct http_server *s = x->conn->srv;
	char num[24];
	const char *date = http_date(s);
	size_t ctl = ctype ? strlen(ctype) : 0;

	if (status < 100 || status > 999)
		status = 500;
	bool nobody = status < 200 || status == 204 || status == 304;
	bool send_body = !nobody && !x->head_only;
	if (ctype == NULL) {
		ctype = "text/plain; charset=utf-8";
		ctl = strlen(ctype);
	}
	out_init(x, s->extra_hdrs.len + ctl + 160 +
	    (send_body && taken == NULL ? len : 0));
	out_add(x, (const char *)s->extra_hdrs.data, s->extra_hdrs.len);
	if (!nobody) {
		OUT_LIT(x, "Content-Type: ");
		out_add(x, ctype, ctl);
		OUT_LIT(x, "\r\n");
	}
	OUT_LIT(x, "Date: ");
	out_add(x, date, strlen(date));
	OUT_LIT(x, "\r\n");
	if (!nobody) {
		int n = snprintf(num, sizeof(num), "%zu", len);
		OUT_LIT(x, "Content-Length: ");
		out_add(x, num, (size_t)n);
		OUT_LIT(x, "\r\n");
	}
	if (x->close_after)
		OUT_LIT(x, "Connection: close\r\n");
	else if (x->h.req.version_minor == 0)
		OUT_LIT(x, "Connection: keep-alive\r\n");
	OUT_LIT(x, "\r\n");
	if (send_body && taken != NULL) {
		x->xbody = taken;
		x->xbody_len = len;
	} else {
		if (send_body && len > 0)
			out_add(x, body, len);
		free(taken);
	}
	x->out.data[x->out.len] = '\0';
	out_status_line(x, status);
	x->status = status;
	x->state = CTX_DONE;
}

/* Answers the engine makes itself; the body follows Go's net/http. */
void
http_ctx_reply_simple(struct http_ctx *x, int status, const char *hname,
    const char *hval, const char *msg)
{
	if (hname != NULL)
		http_reply_header(x, hname, hval);
	ctx_build(x, status, NULL, msg, strlen(msg), NULL);
}

/* A malformed or refused request: answer, then close (RFC 9112 §9.6). */
static void
ctx_engine_error(struct http_ctx *x, int status, const char *why)
{
	struct http_conn *c = x->conn;
	char msg[256];

	if (status != 429)
		c->srv->st.bad_requests++;
	x->close_after = true;
	c->no_more = true;
	if (c->reading == x)
		c->reading = NULL;
	c->req_start = 0;
	if (status == 413 || status == 429)
		snprintf(msg, sizeof(msg), "%s", why);
	else if (why != NULL && *why != '\0')
		snprintf(msg, sizeof(msg), "%d %s: %s", status,
		    http_status_text(status), why);
	else
		snprintf(msg, sizeof(msg), "%d %s", status,
		    http_status_text(status));
	x->state = CTX_HANDLER;
	ctx_build(x, status, NULL, msg, strlen(msg), NULL);
}

static void
conn_error_bare(struct http_conn *c, int status, const char *why)
{
	struct http_ctx *x = ctx_new_bare(c);

	conn_enqueue(c, x);
	ctx_engine_error(x, status, why);
}

/* ---- requests ---- */

static void
ctx_dispatch(struct http_conn *c, struct http_ctx *x)
{
	if (c->reading == x)
		c->reading = NULL;
	c->req_start = 0;
	x->want_continue = false;
	if (x->body != NULL)
		x->h.req.body = x->body;
	x->h.req.body_len = x->body_len;
	x->state = CTX_HANDLER;
	http_route_dispatch(c->srv, x);
}

static void
ctx_body_start(struct http_conn *c, struct http_ctx *x)
{
	int64_t cl = x->h.content_length;

	if (cl > 0 && (uint64_t)cl > x->max_body) {
		char why[160];
		snprintf(why, sizeof(why), "Request body(%lld bytes) too large, "
		    "max size: %zu bytes", (long long)cl, x->max_body);
		ctx_engine_error(x, 413, why);
		return;
	}
	if (!x->h.chunked && cl <= 0) {
		ctx_dispatch(c, x);
		return;
	}
	x->state = CTX_BODY;
	c->reading = x;
	x->want_continue = x->h.expect_continue;
	if (!x->h.chunked) {
		x->body_cap = (size_t)cl + 1;
		x->body = xmalloc(x->body_cap);
		x->body_remain = (uint64_t)cl;
	}
}

/* A complete head at head[0..hl). */
static void
conn_start_request(struct http_conn *c, const uint8_t *head, size_t hl)
{
	struct http_server *s = c->srv;
	size_t asz = http_head_arena_size(head, hl);
	struct http_ctx *x = xmalloc(sizeof(*x) + asz + CLIENT_STR_ROOM);
	int st;

	memset(x, 0, sizeof(*x));
	x->conn = c;
	x->app = s->app;
	x->rest = "";
	x->max_body = s->lim.max_body;
	conn_enqueue(c, x);
	st = http_head_parse(&x->h, x->arena, asz, head, hl);
	ctx_set_client(x, c, x->arena + asz);
	if (st != 0) {
		ctx_engine_error(x, st, x->h.error);
		return;
	}
	x->head_only = x->h.req.method == HTTP_HEAD;
	if (!x->h.req.keep_alive) {
		x->close_after = true;
		c->no_more = true;
	}
	http_route_match(s, x);
	if (x->route != NULL && x->route->max_body != 0)
		x->max_body = x->route->max_body;
	ctx_body_start(c, x);
}

static void
body_failed(struct http_ctx *x, ssize_t err)
{
	if (err == -EFBIG) {
		char why[128];
		snprintf(why, sizeof(why), "Request body too large, max size: "
		    "%zu bytes", x->max_body);
		ctx_engine_error(x, 413, why);
	} else
		ctx_engine_error(x, 400, "malformed chunked encoding");
}

/* Feed body bytes to the ctx being read; returns bytes used. */
static size_t
conn_feed_body(struct http_conn *c, struct http_ctx *x, const uint8_t *p,
    size_t n)
{
	if (x->cont_sent == 0)
		x->want_continue = false;	/* the client did not wait */
	if (!x->h.chunked) {
		size_t k = n < x->body_remain ? n : (size_t)x->body_remain;
		memcpy(x->body + x->body_len, p, k);
		x->body_len += k;
		x->body_remain -= k;
		if (x->body_remain == 0) {
			x->body[x->body_len] = '\0';
			ctx_dispatch(c, x);
		}
		return k;
	}
	bool done;
	ssize_t k = http_chunk_feed(&x->chunk, p, n, &x->body, &x->body_len,
	    &x->body_cap, x->max_body, &done);
	if (k < 0) {
		body_failed(x, k);
		return n;
	}
	if (done) {
		if (x->body == NULL)
			x->body = xcalloc(1, 1);
		ctx_dispatch(c, x);
	}
	return (size_t)k;
}

/* Parse and dispatch what data[0..len) holds; returns bytes used. */
static size_t
conn_consume(struct http_conn *c, const uint8_t *data, size_t len)
{
	const struct http_limits *lim = &c->srv->lim;
	size_t off = 0;

	while (off < len && !c->dead) {
		if (c->reading != NULL) {
			off += conn_feed_body(c, c->reading, data + off,
			    len - off);
			continue;
		}
		if (c->no_more)
			return len;	/* nothing after a close is read */
		if (c->nq >= lim->max_pipeline)
			break;
		/* RFC 9112 §2.2: ignore empty lines before a request. */
		if (c->scan == 0)
			while (off < len && (data[off] == '\r' ||
			    data[off] == '\n'))
				off++;
		if (off == len)
			break;
		if (c->req_start == 0)
			c->req_start = ev_now(c->srv->loop);
		size_t hl = http_head_end(data + off, len - off, &c->scan);
		if (hl == 0 ? len - off > lim->max_header_bytes :
		    hl > lim->max_header_bytes) {
			c->scan = 0;
			conn_error_bare(c, 431, NULL);
			return len;
		}
		if (hl == 0)
			break;
		c->scan = 0;
		conn_start_request(c, data + off, hl);
		off += hl;
	}
	return off;
}

static bool
conn_has_input(const struct http_conn *c)
{
	return c->in.len > c->in_off;
}

static void
conn_consume_in(struct http_conn *c)
{
	size_t used = conn_consume(c, c->in.data + c->in_off,
	    c->in.len - c->in_off);

	c->in_off += used;
	if (c->in_off >= c->in.len) {
		buf_free(&c->in);
		c->in_off = 0;
	} else if (c->in_off > 0) {
		buf_consume(&c->in, c->in_off);
		c->in_off = 0;
	}
}

static bool
conn_can_consume(const struct http_conn *c)
{
	return !c->dead && !c->lingering &&
	    (c->reading != NULL || c->nq < c->srv->lim.max_pipeline);
}

/* ---- reading ---- */

/* The client closed its side: finish what is answered, drop the rest. */
static void
conn_eof(struct http_conn *c)
{
	struct http_ctx *prev = NULL;

	c->rd_eof = true;
	if (c->lingering) {
		c->dead = true;
		return;
	}
	for (struct http_ctx *x = c->qhead; x && x->state == CTX_DONE;
	    x = x->next)
		prev = x;
	conn_drop_after(c, prev);
	if (prev == NULL) {
		c->dead = true;
		return;
	}
	prev->close_after = true;
	c->no_more = true;
}

static void
conn_read_error(struct http_conn *c, ssize_t n)
{
	if (n == 0)
		conn_eof(c);
	else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
		log_debug("http: read from %s: %s", c->addr, strerror(errno));
		c->dead = true;
	}
}

/* recv() straight into a large Content-Length body: one copy only. */
static bool
conn_read_direct(struct http_conn *c)
{
	struct http_ctx *x = c->reading;
	ssize_t n;

	if (x == NULL || x->h.chunked || conn_has_input(c) ||
	    x->body_remain < DIRECT_READ_MIN)
		return false;
	n = recv(c->fd, x->body + x->body_len, (size_t)x->body_remain, 0);
	if (n <= 0) {
		conn_read_error(c, n);
		return true;
	}
	c->last_active = ev_now(c->srv->loop);
	if (x->cont_sent == 0)
		x->want_continue = false;
	x->body_len += (size_t)n;
	x->body_remain -= (uint64_t)n;
	if (x->body_remain == 0) {
		x->body[x->body_len] = '\0';
		ctx_dispatch(c, x);
	}
	return true;
}

static void
conn_linger_drain(struct http_conn *c)
{
	ssize_t n = recv(c->fd, c->srv->scratch, HTTP_SCRATCH_SIZE, 0);

	if (n <= 0)
		conn_read_error(c, n);
}

static void
conn_read(struct http_conn *c)
{
	struct http_server *s = c->srv;
	ssize_t n;

	if (c->lingering) {
		conn_linger_drain(c);
		return;
	}
	if (conn_read_direct(c))
		return;
	if (conn_has_input(c)) {
		buf_reserve(&c->in, 16384);
		n = recv(c->fd, c->in.data + c->in.len,
		    c->in.cap - c->in.len - 1, 0);
		if (n <= 0) {
			conn_read_error(c, n);
			return;
		}
		c->in.len += (size_t)n;
		c->in.data[c->in.len] = '\0';
		c->last_active = ev_now(s->loop);
		conn_consume_in(c);
		return;
	}
	n = recv(c->fd, s->scratch, HTTP_SCRATCH_SIZE, 0);
	if (n <= 0) {
		conn_read_error(c, n);
		return;
	}
	c->last_active = ev_now(s->loop);
	size_t used = conn_consume(c, s->scratch, (size_t)n);
	if (used < (size_t)n)
		buf_add(&c->in, s->scratch + used, (size_t)n - used);
}

static void
read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct http_conn *c = w->data;

	(void)loop;
	(void)revents;
	c->busy = true;
	conn_read(c);
	conn_settle(c);
}

/* ---- writing ---- */

static size_t
ctx_out_len(const struct http_ctx *x)
{
	return x->out.len - x->out_start;
}

static size_t
ctx_total(const struct http_ctx *x)
{
	return ctx_out_len(x) + x->xbody_len;
}

/* iovecs for what remains of x; returns how many were added. */
static int
ctx_iov(const struct http_ctx *x, struct iovec *iov)
{
	size_t ol = ctx_out_len(x);
	int n = 0;

	if (x->sent < ol) {
		iov[n].iov_base = x->out.data + x->out_start + x->sent;
		iov[n++].iov_len = ol - x->sent;
	}
	if (x->xbody_len > 0) {
		size_t off = x->sent > ol ? x->sent - ol : 0;
		iov[n].iov_base = x->xbody + off;
		iov[n++].iov_len = x->xbody_len - off;
	}
	return n;
}

/* What can be written now: the answered prefix, or a 100 Continue. */
static int
conn_gather(struct http_conn *c, struct iovec *iov, int max)
{
	int n = 0;

	for (struct http_ctx *x = c->qhead; x != NULL && n + 2 <= max;
	    x = x->next) {
		if (x->state == CTX_DONE) {
			n += ctx_iov(x, iov + n);
			if (x->close_after)
				break;
			continue;
		}
		if (x->state == CTX_BODY && x->want_continue) {
			iov[n].iov_base = (char *)CONTINUE_LINE + x->cont_sent;
			iov[n++].iov_len = CONTINUE_LEN - x->cont_sent;
		}
		break;
	}
	return n;
}

static void
conn_start_linger(struct http_conn *c)
{
	conn_drop_after(c, NULL);
	c->no_more = true;
	if (c->rd_eof || shutdown(c->fd, SHUT_WR) < 0) {
		c->dead = true;
		return;
	}
	c->lingering = true;
	buf_free(&c->in);
	c->in_off = 0;
}

/* w bytes went out: retire finished responses. */
static void
conn_advance(struct http_conn *c, size_t w)
{
	struct http_server *s = c->srv;
	struct http_ctx *x;

	while (w > 0 && (x = c->qhead) != NULL) {
		if (x->state != CTX_DONE) {
			x->cont_sent += w;
			if (x->cont_sent >= CONTINUE_LEN)
				x->want_continue = false;
			return;
		}
		size_t rem = ctx_total(x) - x->sent;
		if (w < rem) {
			x->sent += w;
			return;
		}
		w -= rem;
		c->qhead = x->next;
		if (c->qhead == NULL)
			c->qtail = NULL;
		c->nq--;
		s->st.requests++;
		bool close = x->close_after;
		ctx_free(x);
		if (close) {
			conn_start_linger(c);
			return;
		}
	}
}

static void
conn_flush(struct http_conn *c)
{
	struct iovec iov[64];
	struct msghdr mh;

	while (!c->dead && !c->lingering) {
		int n = conn_gather(c, iov, (int)nitems(iov));
		size_t total = 0;
		if (n == 0) {
			c->want_write = false;
			return;
		}
		for (int i = 0; i < n; i++)
			total += iov[i].iov_len;
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = iov;
		mh.msg_iovlen = (size_t)n;
		ssize_t w = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				c->want_write = true;
				return;
			}
			log_debug("http: write to %s: %s", c->addr,
			    strerror(errno));
			c->dead = true;
			return;
		}
		c->last_active = c->wlast = ev_now(c->srv->loop);
		conn_advance(c, (size_t)w);
		if ((size_t)w < total) {
			c->want_write = true;
			return;
		}
	}
}

static void
write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct http_conn *c = w->data;

	(void)loop;
	(void)revents;
	c->busy = true;
	c->want_write = false;
	conn_settle(c);
}

/* ---- watchers and timeouts ---- */

static uint8_t
conn_tmode(const struct http_conn *c)
{
	if (c->lingering)
		return TM_LINGER;
	if (c->want_write)
		return TM_WRITE;
	if (c->reading != NULL || c->req_start != 0)
		return TM_READ;
	if (c->nq == 0)
		return TM_IDLE;
	return TM_NONE;
}

static ev_tstamp
conn_deadline(const struct http_conn *c, uint8_t mode)
{
	const struct http_limits *l = &c->srv->lim;

	switch (mode) {
	case TM_LINGER:
		return c->linger_since + LINGER_SECS;
	case TM_WRITE:
		return c->wlast + l->write_timeout_ms / 1000.0;
	case TM_READ:
		/* The head within the limit; a body as long as it moves. */
		if (c->reading != NULL)
			return c->last_active + l->read_timeout_ms / 1000.0;
		return c->req_start + l->read_timeout_ms / 1000.0;
	case TM_IDLE:
		return c->last_active + l->idle_timeout_ms / 1000.0;
	}
	return 0;
}

static void
conn_arm(struct http_conn *c, ev_tstamp deadline)
{
	ev_tstamp after = deadline - ev_now(c->srv->loop);

	ev_timer_stop(c->srv->loop, &c->tmr);
	ev_timer_set(&c->tmr, after > 0 ? after : 0, 0);
	ev_timer_start(c->srv->loop, &c->tmr);
	c->tarmed = deadline;
}

/*
 * Deadlines move later on every request; rather than re-arm the timer each
 * time it is left to fire early, and timer_cb re-arms it (libev's "lazy
 * timeout" pattern).  It is re-armed here only to move it earlier.
 */
static void
conn_update_timer(struct http_conn *c)
{
	uint8_t mode = conn_tmode(c);
	ev_tstamp now = ev_now(c->srv->loop);

	if (mode != c->tmode) {
		c->tmode = mode;
		if (mode == TM_WRITE)
			c->wlast = now;
		if (mode == TM_LINGER)
			c->linger_since = now;
	}
	if (mode == TM_NONE) {
		ev_timer_stop(c->srv->loop, &c->tmr);
		return;
	}
	ev_tstamp d = conn_deadline(c, mode);
	if (!ev_is_active(&c->tmr) || d < c->tarmed)
		conn_arm(c, d);
}

static void
timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct http_conn *c = w->data;
	uint8_t mode = conn_tmode(c);

	(void)revents;
	c->busy = true;
	if (mode != TM_NONE) {
		ev_tstamp d = conn_deadline(c, mode);
		if (d > ev_now(loop) + 0.001)
			conn_arm(c, d);
		else {
			log_debug("http: %s: %s timeout", c->addr,
			    mode == TM_IDLE ? "idle" : mode == TM_READ ?
			    "read" : mode == TM_WRITE ? "write" : "linger");
			c->dead = true;
		}
	}
	conn_settle(c);
}

static void
conn_update_watchers(struct http_conn *c)
{
	struct ev_loop *loop = c->srv->loop;
	bool rd, wr = c->want_write && !c->lingering;

	if (c->lingering)
		rd = true;
	else if (c->rd_eof)
		rd = false;
	else if (conn_has_input(c) && !conn_can_consume(c))
		rd = false;	/* pipeline full: let TCP push back */
	else
		rd = true;
	if (rd && !ev_is_active(&c->rio))
		ev_io_start(loop, &c->rio);
	else if (!rd && ev_is_active(&c->rio))
		ev_io_stop(loop, &c->rio);
	if (wr && !ev_is_active(&c->wio))
		ev_io_start(loop, &c->wio);
	else if (!wr && ev_is_active(&c->wio))
		ev_io_stop(loop, &c->wio);
}

/*
 * End of every callback: write what is ready, take up buffered pipelined
 * requests the queue now has room for, then set watchers and the timer, or
 * destroy the connection.
 */
static void
conn_settle(struct http_conn *c)
{
	for (int round = 0; round < 4 && !c->dead; round++) {
		conn_flush(c);
		if (c->dead || !conn_has_input(c) || !conn_can_consume(c) ||
		    (c->no_more && c->reading == NULL))
			break;
		size_t before = c->in.len - c->in_off;
		conn_consume_in(c);
		if (c->in.len - c->in_off == before)
			break;	/* waiting for more bytes */
		if (round == 3)
			http_conn_kick(c);
	}
	if (!c->dead && c->no_more && c->reading == NULL &&
	    conn_has_input(c)) {
		buf_free(&c->in);
		c->in_off = 0;
	}
	c->busy = false;
	if (c->dead) {
		http_conn_destroy(c);
		return;
	}
	conn_update_watchers(c);
	conn_update_timer(c);
}

void
http_conn_kick(struct http_conn *c)
{
	struct http_server *s = c->srv;

	if (c->kicked)
		return;
	c->kicked = true;
	c->kick_next = s->kick_head;
	s->kick_head = c;
}

void
http_conn_run_kicks(struct http_server *s)
{
	struct http_conn *c;

	while ((c = s->kick_head) != NULL) {
		s->kick_head = c->kick_next;
		c->kick_next = NULL;
		c->kicked = false;
		c->busy = true;
		conn_settle(c);
	}
}

/* ---- connection lifetime ---- */

static void
conn_format_addr(struct http_conn *c, const struct sockaddr *sa)
{
	char ip[INET6_ADDRSTRLEN];

	if (c->is_unix || sa == NULL) {
		strlcpy_m(c->addr, "@", sizeof(c->addr));
		c->ip[0] = '\0';
		return;
	}
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;
		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		snprintf(c->addr, sizeof(c->addr), "%s:%u", ip,
		    ntohs(in->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		snprintf(c->addr, sizeof(c->addr), "[%s]:%u", ip,
		    ntohs(in6->sin6_port));
	} else
		strlcpy_m(ip, "?", sizeof(ip));
	strlcpy_m(c->ip, ip, sizeof(c->ip));
}

void
http_conn_new(struct http_server *s, int fd, const struct sockaddr *sa,
    socklen_t salen, bool is_unix)
{
	struct http_conn *c = xcalloc(1, sizeof(*c));
	int one = 1;

	(void)salen;
	c->srv = s;
	c->fd = fd;
	c->is_unix = is_unix;
	conn_format_addr(c, sa);
	if (!is_unix)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
	ev_io_init(&c->rio, read_cb, fd, EV_READ);
	ev_io_init(&c->wio, write_cb, fd, EV_WRITE);
	ev_init(&c->tmr, timer_cb);
	c->rio.data = c->wio.data = c->tmr.data = c;
	c->last_active = ev_now(s->loop);
	c->next = s->conns;
	if (s->conns != NULL)
		s->conns->prev = c;
	s->conns = c;
	s->st.conns_open++;
	s->st.conns_accepted++;
	if (!is_unix && sa != NULL && !http_ipcount_acquire(s, c, sa)) {
		/* Consul's connlimit: 429, then close. */
		s->st.conns_rejected++;
		conn_error_bare(c, 429, "Your IP is issuing too many "
		    "concurrent connections, please rate limit your calls\n");
	}
	c->busy = true;
	conn_settle(c);
}

void
http_conn_destroy(struct http_conn *c)
{
	struct http_server *s = c->srv;

	conn_drop_after(c, NULL);
	ev_io_stop(s->loop, &c->rio);
	ev_io_stop(s->loop, &c->wio);
	ev_timer_stop(s->loop, &c->tmr);
	close(c->fd);
	if (c->kicked) {
		struct http_conn **pp = &s->kick_head;
		while (*pp != c)
			pp = &(*pp)->kick_next;
		*pp = c->kick_next;
	}
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	http_ipcount_release(s, c);
	buf_free(&c->in);
	free(c);
	http_server_conn_gone(s);
}

/* ---- the handler API ---- */

const struct http_request *
http_ctx_request(const struct http_ctx *c)
{
	return &c->h.req;
}

void *
http_app(const struct http_ctx *c)
{
	return c->app;
}

const char *
http_path_rest(const struct http_ctx *c)
{
	return c->rest;
}

bool
http_pretty(const struct http_ctx *c)
{
	bool present;

	(void)http_query(&c->h.req, "pretty", &present);
	return present;
}

void
http_ctx_on_abort(struct http_ctx *c, void (*fn)(void *arg), void *arg)
{
	c->abort_fn = fn;
	c->abort_arg = arg;
}

static bool
ctx_replyable(struct http_ctx *x)
{
	if (x->aborting)
		return false;	/* inside its own abort hook */
	if (x->state != CTX_HANDLER) {
		log_warnx("http: reply to a finished request ignored");
		return false;
	}
	return true;
}

static bool
header_safe(const char *s)
{
	return strpbrk(s, "\r\n") == NULL;
}

void
http_reply_header(struct http_ctx *x, const char *name, const char *value)
{
	size_t nl, vl;

	if (x->aborting || x->state != CTX_HANDLER || x->conn == NULL)
		return;
	if (!header_safe(name) || !header_safe(value) || *name == '\0') {
		log_debug("http: header with CR/LF dropped");
		return;
	}
	if (strcasecmp(name, "Connection") == 0) {
		if (strcasestr(value, "close") != NULL)
			x->close_after = true;
		return;
	}
	if (strcasecmp(name, "Content-Length") == 0 ||
	    strcasecmp(name, "Content-Type") == 0 ||
	    strcasecmp(name, "Date") == 0 ||
	    strcasecmp(name, "Transfer-Encoding") == 0)
		return;
	nl = strlen(name);
	vl = strlen(value);
	out_init(x, nl + vl + 4);
	out_add(x, name, nl);
	OUT_LIT(x, ": ");
	out_add(x, value, vl);
	OUT_LIT(x, "\r\n");
	x->out.data[x->out.len] = '\0';
}

void
http_reply_headerf(struct http_ctx *c, const char *name, const char *fmt, ...)
{
	va_list ap;
	char *v;

	va_start(ap, fmt);
	if (vasprintf(&v, fmt, ap) < 0)
		fatal("vasprintf");
	va_end(ap);
	http_reply_header(c, name, v);
	free(v);
}

static void
ctx_finish(struct http_ctx *x, int status, const char *ctype,
    const void *body, size_t len, uint8_t *taken)
{
	if (!ctx_replyable(x)) {
		free(taken);
		return;
	}
	if (x->conn == NULL) {		/* client gone, no hook: discard */
		free(taken);
		ctx_free(x);
		return;
	}
	ctx_build(x, status, ctype, body, len, taken);
	if (!x->conn->busy)
		http_conn_kick(x->conn);
}

void
http_reply(struct http_ctx *c, int status, const char *content_type,
    const void *body, size_t len)
{
	ctx_finish(c, status, content_type, body, len, NULL);
}

void
http_reply_buf(struct http_ctx *c, int status, const char *content_type,
    struct buf *body)
{
	size_t len = body->len;
	uint8_t *p = body->data;

	buf_init(body);
	ctx_finish(c, status, content_type, p, len, p);
}

void
http_reply_json(struct http_ctx *c, int status, struct buf *json)
{
	http_reply_buf(c, status, "application/json", json);
}

void
http_reply_verror(struct http_ctx *c, int status, const char *fmt, va_list ap)
{
	char *msg;
	int n = vasprintf(&msg, fmt, ap);

	if (n < 0)
		fatal("vasprintf");
	ctx_finish(c, status, NULL, msg, (size_t)n, (uint8_t *)msg);
}

void
http_reply_error(struct http_ctx *c, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	http_reply_verror(c, status, fmt, ap);
	va_end(ap);
}
