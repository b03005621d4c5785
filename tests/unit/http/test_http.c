/*
 * The HTTP engine driven over real sockets (loopback TCP and AF_UNIX) by a
 * real libev loop in this process: byte-at-a-time input, pipelining with
 * handlers answering out of order, chunked bodies, 100-continue, every
 * limit and error status, keep-alive rules, client disconnects during an
 * asynchronous handler, and the query and query-option parsers.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "workers/http/http_priv.h"

/* ---- test application ---- */

#define MAXP 16

struct pending {
	struct http_ctx *ctx;
	int id;
};

static struct {
	struct ev_loop *loop;
	struct http_server *srv;
	uint16_t port;
	char unix_path[108];
	struct pending pend[MAXP];
	int npend;
	int aborted[64];
	int handled;
} T;

static void
h_echo(struct http_ctx *c, const struct http_request *r)
{
	struct buf b;

	buf_init(&b);
	buf_printf(&b, "%s %s body=%zu:", r->method_str, r->path,
	    r->body_len);
	buf_add(&b, r->body, r->body_len);
	T.handled++;
	http_reply_header(c, "X-Consul-Index", "42");
	http_reply_buf(c, 200, "text/plain", &b);
}

static void
h_kv(struct http_ctx *c, const struct http_request *r)
{
	http_reply_error(c, 200, "rest=%s", http_path_rest(c));
}

static void
on_abort(void *arg)
{
	int id = (int)(intptr_t)arg;

	T.aborted[id]++;
	for (int i = 0; i < T.npend; i++)
		if (T.pend[i].id == id) {
			T.pend[i] = T.pend[--T.npend];
			break;
		}
}

/* Parks the request until the test answers it (an IPC round trip). */
static void
h_async(struct http_ctx *c, const struct http_request *r)
{
	const char *id = http_query(r, "id", NULL);
	bool nohook;

	(void)http_query(r, "nohook", &nohook);
	ck_assert_int_lt(T.npend, MAXP);
	T.pend[T.npend].ctx = c;
	T.pend[T.npend].id = id ? atoi(id) : 0;
	if (!nohook)
		http_ctx_on_abort(c, on_abort, (void *)(intptr_t)T.pend[T.npend].id);
	T.npend++;
}

static void
h_query(struct http_ctx *c, const struct http_request *r)
{
	struct buf b;

	buf_init(&b);
	for (size_t i = 0; i < r->nparams; i++)
		buf_printf(&b, "[%s]%s[%s]\n", r->params[i].name,
		    r->params[i].has_value ? "=" : "", r->params[i].value);
	buf_printf(&b, "path=[%s] raw=[%s] q=[%s] client_ip=[%s]\n", r->path,
	    r->raw_path, r->raw_query, r->client_ip);
	http_reply_buf(c, 200, NULL, &b);
}

static void
h_opts(struct http_ctx *c, const struct http_request *r)
{
	struct http_query_opts o;

	if (!http_ctx_query_opts(c, &o))
		return;
	http_reply_error(c, 200, "index=%llu wait=%lld stale=%d token=%s",
	    (unsigned long long)o.index, (long long)o.wait_ns, o.stale,
	    o.token ? o.token : "-");
}

/* ?n=N bytes of 'z'. */
static void
h_big(struct http_ctx *c, const struct http_request *r)
{
	const char *n = http_query(r, "n", NULL);
	size_t len = n ? strtoul(n, NULL, 10) : 0;
	char *p = malloc(len + 1);

	memset(p, 'z', len);
	http_reply(c, 200, "application/octet-stream", p, len);
	free(p);
}

static const struct http_route routes[] = {
	{ HTTP_GET | HTTP_PUT | HTTP_POST, "/echo", false, h_echo, 0 },
	{ HTTP_PUT, "/small", false, h_echo, 16 },
	{ HTTP_PUT, "/bigbody", false, h_echo, 1 << 20 },
	{ HTTP_GET | HTTP_PUT | HTTP_DELETE, "/v1/kv/", true, h_kv, 0 },
	{ HTTP_GET, "/async", false, h_async, 0 },
	{ HTTP_GET, "/query", false, h_query, 0 },
	{ HTTP_GET, "/opts", false, h_opts, 0 },
	{ HTTP_GET, "/big", false, h_big, 0 },
};

static void
test_limits(struct http_limits *l)
{
	http_limits_default(l);
	l->max_header_bytes = 8192;
	l->max_body = 4096;
	l->max_conns = 64;
	l->max_conns_per_client = 4;
	l->max_pipeline = 8;
	l->idle_timeout_ms = 400;
	l->read_timeout_ms = 400;
	l->write_timeout_ms = 3000;
}

static int
listen_tcp(uint16_t *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(fd, 128), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

static struct http_server *
start_server(const struct http_limits *lim, uint16_t *port)
{
	struct http_server *s = http_server_new(T.loop, routes,
	    nitems(routes), lim, &T);

	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(http_server_listen_fd(s, listen_tcp(port)), 0);
	return s;
}

static void
setup(void)
{
	struct http_limits lim;

	memset(&T, 0, sizeof(T));
	T.loop = ev_loop_new(EVFLAG_AUTO);
	test_limits(&lim);
	T.srv = start_server(&lim, &T.port);
}

static void
teardown(void)
{
	http_server_free(T.srv);
	ev_loop_destroy(T.loop);
	if (T.unix_path[0])
		unlink(T.unix_path);
}

/* ---- client side ---- */

struct cli {
	int fd;
	struct buf in;
	bool eof;
};

struct resp {
	int status;
	char head[4096];
	struct buf body;
};

static void
noop_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
}

/* Run the server's loop for one iteration, at most ms. */
static void
pump(int ms)
{
	ev_timer t;

	ev_timer_init(&t, noop_cb, ms / 1000.0, 0);
	ev_timer_start(T.loop, &t);
	ev_run(T.loop, EVRUN_ONCE);
	ev_timer_stop(T.loop, &t);
}

static void
pump_for(int ms)
{
	ev_tstamp end = ev_time() + ms / 1000.0;

	while (ev_time() < end)
		pump(5);
}

static struct cli
cli_tcp(uint16_t port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct cli c = { .fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0) };

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(port);
	ck_assert_int_ge(c.fd, 0);
	ck_assert_int_eq(connect(c.fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	buf_init(&c.in);
	return c;
}

static struct cli
cli_open(void)
{
	return cli_tcp(T.port);
}

static void
cli_close(struct cli *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	buf_free(&c->in);
}

static void
cli_send(struct cli *c, const char *s)
{
	size_t n = strlen(s);

	ck_assert_int_eq(write(c->fd, s, n), (ssize_t)n);
}

/* Pull whatever the server sent, running its loop meanwhile. */
static void
cli_pull(struct cli *c)
{
	char tmp[65536];
	ssize_t n;

	pump(5);
	while ((n = recv(c->fd, tmp, sizeof(tmp), MSG_DONTWAIT)) > 0)
		buf_add(&c->in, tmp, (size_t)n);
	if (n == 0 || (n < 0 && errno == ECONNRESET))
		c->eof = true;
}

/* One response; head_only for answers to HEAD.  0 or -1 on timeout/EOF. */
static int
cli_resp_ex(struct cli *c, struct resp *r, bool head_only, int ms)
{
	ev_tstamp end = ev_time() + ms / 1000.0;

	memset(r, 0, sizeof(*r));
	buf_init(&r->body);
	for (;;) {
		char *e = c->in.data ? strstr((char *)c->in.data, "\r\n\r\n") : NULL;
		if (e != NULL) {
			size_t hl = (size_t)(e - (char *)c->in.data) + 4;
			const char *cl;
			size_t blen = 0;
			ck_assert_uint_lt(hl, sizeof(r->head));
			memcpy(r->head, c->in.data, hl);
			r->head[hl] = '\0';
			r->status = atoi(r->head + 9);
			if ((cl = strcasestr(r->head, "\r\nContent-Length: ")) != NULL)
				blen = strtoul(cl + 18, NULL, 10);
			if (head_only || r->status < 200)
				blen = 0;
			if (c->in.len >= hl + blen) {
				buf_add(&r->body, c->in.data + hl, blen);
				buf_consume(&c->in, hl + blen);
				return 0;
			}
		}
		if (c->eof || ev_time() > end)
			return -1;
		cli_pull(c);
	}
}

static int
cli_resp(struct cli *c, struct resp *r)
{
	return cli_resp_ex(c, r, false, 3000);
}

static const char *
resp_header(struct resp *r, const char *name)
{
	static char v[512];
	char pat[128];
	const char *p;

	snprintf(pat, sizeof(pat), "\r\n%s: ", name);
	if ((p = strstr(r->head, pat)) == NULL)
		return NULL;
	p += strlen(pat);
	size_t n = strcspn(p, "\r");
	snprintf(v, sizeof(v), "%.*s", (int)n, p);
	return v;
}

/* Wait until the server closed the connection. */
static bool
cli_wait_eof(struct cli *c, int ms)
{
	ev_tstamp end = ev_time() + ms / 1000.0;

	while (!c->eof && ev_time() < end)
		cli_pull(c);
	return c->eof;
}

/* Nothing arrives within ms (the server holds the answer back). */
static bool
cli_quiet(struct cli *c, int ms)
{
	size_t before = c->in.len;

	pump_for(ms);
	cli_pull(c);
	return c->in.len == before && !c->eof;
}

static bool
pump_until_pending(int n, int ms)
{
	ev_tstamp end = ev_time() + ms / 1000.0;

	while (T.npend < n && ev_time() < end)
		pump(5);
	return T.npend >= n;
}

static struct http_ctx *
take_pending(int id)
{
	for (int i = 0; i < T.npend; i++)
		if (T.pend[i].id == id) {
			struct http_ctx *c = T.pend[i].ctx;
			T.pend[i] = T.pend[--T.npend];
			return c;
		}
	ck_abort_msg("no pending request %d", id);
	return NULL;
}

static void
free_resp(struct resp *r)
{
	buf_free(&r->body);
}

/* ---- tests over the wire ---- */

START_TEST(basic_keepalive)
{
	struct cli c = cli_open();
	struct resp r;

	for (int i = 0; i < 3; i++) {
		cli_send(&c, "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n");
		ck_assert_int_eq(cli_resp(&c, &r), 0);
		ck_assert_int_eq(r.status, 200);
		ck_assert_str_eq((char *)r.body.data, "GET /echo body=0:");
		ck_assert_str_eq(resp_header(&r, "Content-Type"), "text/plain");
		ck_assert_str_eq(resp_header(&r, "X-Consul-Index"), "42");
		ck_assert_ptr_nonnull(resp_header(&r, "Date"));
		ck_assert_str_eq(resp_header(&r, "Content-Length"), "17");
		ck_assert_ptr_null(resp_header(&r, "Connection"));
		free_resp(&r);
	}
	ck_assert(!c.eof);
	ck_assert_uint_eq(http_server_requests_served(T.srv), 3);
	ck_assert_uint_eq(http_server_conns_open(T.srv), 1);
	cli_close(&c);
}
END_TEST

/* Every byte in its own read(): a head, then a chunked body. */
START_TEST(byte_at_a_time)
{
	const char *req = "PUT /echo?a=%41 HTTP/1.1\r\nHost: x\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n"
	    "3\r\nabc\r\n1;ext=1\r\nd\r\n0\r\nX-Trailer: 1\r\n\r\n"
	    "GET /echo HTTP/1.1\r\n\r\n";
	struct cli c = cli_open();
	struct resp r;

	for (const char *p = req; *p; p++) {
		ck_assert_int_eq(write(c.fd, p, 1), 1);
		pump(1);
		pump(1);
	}
	ck_assert_int_eq(cli_resp(&c, &r), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq((char *)r.body.data, "PUT /echo body=4:abcd");
	free_resp(&r);
	ck_assert_int_eq(cli_resp(&c, &r), 0);
	ck_assert_str_eq((char *)r.body.data, "GET /echo body=0:");
	free_resp(&r);
	cli_close(&c);
}
END_TEST

/* Pipelined: the handlers answer 3, 1, 2; responses still go 1, 2, 3. */
START_TEST(pipeline_out_of_order)
{
	struct cli c = cli_open();
	struct resp r;

	cli_send(&c, "GET /async?id=1 HTTP/1.1\r\n\r\n"
	    "GET /async?id=2 HTTP/1.1\r\n\r\n"
	    "GET /echo HTTP/1.1\r\n\r\n"
	    "GET /async?id=3 HTTP/1.1\r\n\r\n");
	ck_assert(pump_until_pending(3, 2000));
	ck_assert_int_eq(T.handled, 1);	/* /echo ran, its answer waits */
	http_reply(take_pending(3), 200, NULL, "three", 5);
	ck_assert(cli_quiet(&c, 50));
	http_reply(take_pending(1), 200, NULL, "one", 3);
	ck_assert_int_eq(cli_resp(&c, &r), 0);
	ck_assert_str_eq((char *)r.body.data, "one");
	free_resp(&r);
	ck_assert(cli_quiet(&c, 50));
	http_reply(take_pending(2), 201, NULL, "two", 3);
	ck_assert_int_eq(cli_resp(&c, &r), 0);
	ck_assert_int_eq(r.status, 201);
	ck_assert_str_eq((char *)r.body.data, "two");
	free_resp(&r);
	ck_assert_int_eq(cli_resp(&c, &r), 0);
	ck_assert_str_eq((char *)r.body.data, "GET /echo body=0:");
	free_resp(&r);
	ck_assert_int_eq(cli_resp(&c, &r), 0);
	ck_assert_str_eq((char *)r.body.data, "three");
	free_resp(&r);
	cli_close(&c);
}
END_TEST

START_TEST(pipeline_many_sync)
{
	struct cli c = cli_open();
	struct resp r;
	struct buf req;

	buf_init(&req);
	/* More than max_pipeline (8): the rest waits in the input buffer. */
	for (int i = 0; i < 20; i++)
		buf_printf(&req, "PUT /echo HTTP/1.1\r\nContent-Length: %d\r\n"
		    "\r\n%02d", 2, i);
	cli_send(&c, (char *)req.data);
	for (int i = 0; i < 20; i++) {
		char want[64];
		ck_assert_int_eq(cli_resp(&c, &r), 0);
		snprintf(want, sizeof(want), "PUT /echo body=2:%02d", i);
		ck_assert_str_eq((char *)r.body.data, want);
		free_resp(&r);
	}
	buf_free(&req);
	cli_close(&c);
}
END_TEST

START_TEST(chunked_bodies)
{
	struct cli c = cli_open();
	struct resp r;

	cli_send(&c, "POST /echo HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n"
	    "4\r\nWiki\r\n5 \r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\n");
	ck_assert_int_eq(cli_resp(&c, &r), 0);
	ck_assert_str_eq((char *)r.body.data,
	    "POST /echo body=23:Wikipedia in\r\n\r\nchunks.");
	free_resp(&r);
	/* Empty chunked body. */
	cli_send(&c, "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "0\r\n\r\n");
	ck_assert_int_eq(cli_resp(&c, &r), 0);
	ck_assert_str_eq((char *)r.body.data, "POST /echo body=0:");
	free_resp(&r);
	/* Malformed: data not followed by CRLF -> 400 and close. */
	cli_send(&c, "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "2\r\nabc\r\n0\r\n\r\n");
	ck_assert_int_eq(cli_resp(&c, &r), 0);
	ck_assert_int_eq(r.status, 400);
	ck_assert_str_eq(resp_header(&r, "Connection"), "close");
	free_resp(&r);
	ck_assert(cli_wait_eof(&c, 3000));
	cli_close(&c);
}
END_TEST

START_TEST(expect_continue)
{
	struct cli c = cli_open();
	struct resp r;

	cli_send(&c, "PUT /echo HTTP/1.1\r\nContent-Length: 5\r\n"
	    "Expect: 100-continue\r\n\r\n");
	ck_assert_int_eq(cli_resp(&c, &r), 0);
	ck_assert_int_eq(r.status, 100);
	free_resp(&r);
	cli_send(&c, "hello");
	ck_assert_int_eq(cli_resp(&c, &r), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq((char *)r.body.data, "PUT /echo body=5:hello");
	free_resp(&r);
	/* Too large: 413 at once, no 100, then close. */
	cli_send(&c, "PUT /echo HTTP/1.1\r\nContent-Length: 999999\r\n"
	    "Expect: 100-continue\r\n\r\n");
	ck_assert_int_eq(cli_resp(&c, &r), 0);
	ck_assert_int_eq(r.status, 413);
	ck_assert_str_eq((char *)r.body.data, "Request body(999999 bytes) too "
	    "large, max size: 4096 bytes");
	free_resp(&r);
	ck_assert(cli_wait_eof(&c, 3000));
	cli_close(&c);
	/* Other expectations: 417. */
	c = cli_open();
	cli_send(&c, "PUT /echo HTTP/1.1\r\nContent-Length: 1\r\n"
	    "Expect: magic\r\n\r\nx");
	ck_assert_int_eq(cli_resp(&c, &r), 0);
	ck_assert_int_eq(r.status, 417);
	free_resp(&r);
	cli_close(&c);
}
END_TEST

START_TEST(body_limits)
{
	struct cli c = cli_open();
	struct resp r;
	char big[5000];

	/* Per-route limit of 16 bytes. */
	cli_send(&c, "PUT /small HTTP/1.1\r\nContent-Length: 16\r\n\r\n"
	    "0123456789abcdef");
	ck_assert_int_eq(cli_resp(&c, &r), 0);
	ck_assert_int_eq(r.status, 200);
	free_resp(&r);
	cli_send(&c, "PUT /small HTTP/1.1\r\nContent-Length: 17\r\n\r\n"
	    "0123456789abcdefg");
	ck_assert_int_eq(cli_resp(&c, &r), 0);
	ck_assert_int_eq(r.status, 413);
	ck_assert_str_eq(resp_header(&r, "Content-Type"),
	    "text/plain; charset=utf-8");
	ck_assert_str_eq((char *)r.body.data, "Request body(17 bytes) too "
	    "large, max size: 16 bytes");
	free_resp(&r);
	ck_assert(cli_wait_eof(&c, 3000));
	cli_close(&c);

	/* Chunked past the server limit (4096). */
	c = cli_open();
	memset(big, 'q', sizeof(big));
	cli_send(&c, "PUT /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "1388\r\n");
	ck_assert_int_eq(write(c.fd, big, sizeof(big)), (ssize_t)sizeof(big));
	ck_assert_int_eq(cli_resp(&c, &r), 0);
	ck_assert_int_eq(r.status, 413);
	ck_assert_str_eq((char *)r.body.data,
	    "Request body too large, max size: 4096 bytes");
	free_resp(&r);
	cli_close(&c);
}
END_TEST

/* A 1 MiB body (route limit) read straight into place, echoed back. */
START_TEST(large_body_and_response)
{
	struct cli c = cli_open();
	struct resp r;
	size_t n = 1 << 20;
	char *body = malloc(n);
	char head[128];

	memset(body, 'b', n);
	snprintf(head, sizeof(head), "PUT /bigbody HTTP/1.1\r\n"
	    "Content-Length: %zu\r\n\r\n", n);
	cli_send(&c, head);
	for (size_t off = 0; off < n;) {
		ssize_t w = send(c.fd, body + off, n - off, MSG_DONTWAIT);
		if (w > 0)
			off += (size_t)w;
		pump(1);
	}
	ck_assert_int_eq(cli_resp_ex(&c, &r, false, 10000), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_eq(r.body.len, n + strlen("PUT /bigbody body=1048576:"));
	free_resp(&r);
	/* An 8 MiB answer cannot go out in one write. */
	cli_send(&c, "GET /big?n=8388608 HTTP/1.1\r\n\r\nGET /echo HTTP/1.1\r\n\r\n");
	ck_assert_int_eq(cli_resp_ex(&c, &r, false, 10000), 0);
	ck_assert_uint_eq(r.body.len, 8388608);
	ck_assert_int_eq(r.body.data[8388607], 'z');
	free_resp(&r);
	ck_assert_int_eq(cli_resp(&c, &r), 0);
	ck_assert_str_eq((char *)r.body.data, "GET /echo body=0:");
	free_resp(&r);
	free(body);
	cli_close(&c);
}
END_TEST

static void
expect_error(const char *req, int status, const char *body)
{
	struct cli c = cli_open();
	struct resp r;

	cli_send(&c, req);
	ck_assert_int_eq(cli_resp(&c, &r), 0);
	ck_assert_msg(r.status == status, "%s: got %d want %d", req, r.status,
	    status);
	if (body != NULL)
		ck_assert_str_eq((char *)r.body.data, body);
	ck_assert_ptr_nonnull(resp_header(&r, "Content-Type"));
	ck_assert_ptr_nonnull(resp_header(&r, "Date"));
	ck_assert_ptr_nonnull(resp_header(&r, "Content-Length"));
	if (status == 400 || status == 431 || status == 501 || status == 505) {
		ck_assert_str_eq(resp_header(&r, "Connection"), "close");
		ck_assert(cli_wait_eof(&c, 3000));
	}
	free_resp(&r);
	cli_close(&c);
}

START_TEST(malformed_400)
{
	expect_error("GARBAGE\r\n\r\n", 400, NULL);
	expect_error("GET /echo HTTP/1.1 extra\r\n\r\n", 400, NULL);
	expect_error("GET /echo\r\n\r\n", 400, NULL);
	expect_error("G(T /echo HTTP/1.1\r\n\r\n", 400, NULL);
	expect_error("GET echo HTTP/1.1\r\n\r\n", 400, NULL);
	expect_error("GET /echo HTTP/1.1\r\nBad Header: x\r\n\r\n", 400,
	    "400 Bad Request: invalid header name");
	expect_error("GET /echo HTTP/1.1\r\nNoColon\r\n\r\n", 400, NULL);
	expect_error("GET /echo HTTP/1.1\r\n folded-first: x\r\n\r\n", 400, NULL);
	expect_error("PUT /echo HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 400,
	    "400 Bad Request: bad Content-Length");
	expect_error("PUT /echo HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400, NULL);
	expect_error("PUT /echo HTTP/1.1\r\nContent-Length: 1\r\n"
	    "Content-Length: 2\r\n\r\nab", 400, NULL);
	expect_error("GET /ec%zzho HTTP/1.1\r\n\r\n", 400,
	    "400 Bad Request: invalid URL escape");
	expect_error("GET /echo%00 HTTP/1.1\r\n\r\n", 400, NULL);
	expect_error("GET /echo HTTP/1.1\r\nX: a\rb\r\n\r\n", 400, NULL);
	expect_error("GET /echo HTTP/1.1\r\nX: a\001b\r\n\r\n", 400,
	    "400 Bad Request: invalid header value");
	expect_error("GET /echo HTTP/2.0\r\n\r\n", 505, NULL);
	expect_error("GET /echo HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
	    501, NULL);
	expect_error("GET /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", 501, NULL);
}
END_TEST

START_TEST(header_too_large_431)
{
	struct cli c = cli_open();
	struct resp r;
	char line[1100];

	cli_send(&c, "GET /echo HTTP/1.1\r\n");
	memset(line, 'a', sizeof(line));
	memcpy(line, "X-Big: ", 7);
	line[sizeof(line) - 3] = '\r';
	line[sizeof(line) - 2] = '\n';
	line[sizeof(line) - 1] = '\0';
	/* 8 x 1.1 KB > 8192 and never an empty line. */
	for (int i = 0; i < 8; i++)
		cli_send(&c, line);
	ck_assert_int_eq(cli_resp(&c, &r), 0);
	ck_assert_int_eq(r.status, 431);
	ck_assert_str_eq((char *)r.body.data,
	    "431 Request Header Fields Too Large");
	ck_assert_str_eq(resp_header(&r, "Connection"), "close");
	free_resp(&r);
	ck_assert(cli_wait_eof(&c, 3000));
	cli_close(&c);
}
END_TEST

START_TEST(routing_404_405_options_301)
{
	struct cli c = cli_open();
	struct resp r;

	cli_send(&c, "GET /nope HTTP/1.1\r\n\r\n");
	ck_assert_int_eq(cli_resp(&c, &r), 0);
	ck_assert_int_eq(r.status, 404);
	ck_assert_str_eq((char *)r.body.data, "404 page not found\n");
	ck_assert_str_eq(resp_header(&r, "Content-Type"),
	    "text/plain; charset=utf-8");
	free_resp(&r);

	/* A 405 still reads the body and keeps the connection. */
	cli_send(&c, "DELETE /echo HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
	ck_assert_int_eq(cli_resp(&c, &r), 0);
	ck_assert_int_eq(r.status, 405);
	ck_assert_str_eq((char *)r.body.data, "method DELETE not allowed");
	ck_assert_str_eq(resp_header(&r, "Allow"), "OPTIONS,GET,PUT,POST");
	free_resp(&r);

	cli_send(&c, "BREW /echo HTTP/1.1\r\n\r\n");
	ck_assert_int_eq(cli_resp(&c, &r), 0);
	ck_assert_int_eq(r.status, 405);
	ck_assert_str_eq((char *)r.body.data, "method BREW not allowed");
	free_resp(&r);

	cli_send(&c, "OPTIONS /v1/kv/x HTTP/1.1\r\n\r\n");
	ck_assert_int_eq(cli_resp(&c, &r), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(resp_header(&r, "Allow"), "OPTIONS,GET,PUT,DELETE");
	free_resp(&r);

	cli_send(&c, "OPTIONS * HTTP/1.1\r\n\r\n");
	ck_assert_int_eq(cli_resp(&c, &r), 0);
	ck_assert_int_eq(r.status, 200);
	free_resp(&r);

	cli_send(&c, "GET /v1/kv/a/b%2Fc?x HTTP/1.1\r\n\r\n");
	ck_assert_int_eq(cli_resp(&c, &r), 0);
	ck_assert_str_eq((char *)r.body.data, "rest=a/b/c");
	free_resp(&r);

	cli_send(&c, "GET /v1/kv?recurse HTTP/1.1\r\n\r\n");
	ck_assert_int_eq(cli_resp(&c, &r), 0);
	ck_assert_int_eq(r.status, 301);
	ck_assert_str_eq(resp_header(&r, "Location"), "/v1/kv/?recurse");
	free_resp(&r);

	/* Control characters in the decoded path: 400, connection kept. */
	cli_send(&c, "GET /v1/kv/a%01 HTTP/1.1\r\n\r\n");
	ck_assert_int_eq(cli_resp(&c, &r), 0);
	ck_assert_int_eq(r.status, 400);
	free_resp(&r);

	/* Absolute-form target. */
	cli_send(&c, "GET http://h:8500/echo HTTP/1.1\r\n\r\n");
	ck_assert_int_eq(cli_resp(&c, &r), 0);
	ck_assert_str_eq((char *)r.body.data, "GET /echo body=0:");
	free_resp(&r);
	ck_assert(!c.eof);
	cli_close(&c);
}
END_TEST

START_TEST(head_requests)
{
	struct cli c = cli_open();
	struct resp r;

	cli_send(&c, "HEAD /echo HTTP/1.1\r\n\r\nGET /echo HTTP/1.1\r\n\r\n");
	ck_assert_int_eq(cli_resp_ex(&c, &r, true, 3000), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(resp_header(&r, "Content-Length"), "18");
	free_resp(&r);
	/* No body bytes were sent: the next response starts right away. */
	ck_assert_int_eq(cli_resp(&c, &r), 0);
	ck_assert_str_eq((char *)r.body.data, "GET /echo body=0:");
	free_resp(&r);
	cli_close(&c);
}
END_TEST

START_TEST(keepalive_rules)
{
	struct cli c;
	struct resp r;

	/* HTTP/1.0 without keep-alive: close after the answer. */
	c = cli_open();
	cli_send(&c, "GET /echo HTTP/1.0\r\n\r\n");
	ck_assert_int_eq(cli_resp(&c, &r), 0);
	ck_assert_str_eq(resp_header(&r, "Connection"), "close");
	free_resp(&r);
	ck_assert(cli_wait_eof(&c, 3000));
	cli_close(&c);

	/* HTTP/1.0 with keep-alive stays open and says so. */
	c = cli_open();
	cli_send(&c, "GET /echo HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
	ck_assert_int_eq(cli_resp(&c, &r), 0);
	ck_assert_str_eq(resp_header(&r, "Connection"), "keep-alive");
	free_resp(&r);
	cli_send(&c, "GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	ck_assert_int_eq(cli_resp(&c, &r), 0);
	free_resp(&r);
	cli_close(&c);

	/* The body of a last request is still read, even in pieces. */
	c = cli_open();
	cli_send(&c, "PUT /echo HTTP/1.0\r\nContent-Length: 6\r\n\r\nab");
	pump_for(20);
	cli_send(&c, "cdef");
	ck_assert_int_eq(cli_resp(&c, &r), 0);
	ck_assert_str_eq((char *)r.body.data, "PUT /echo body=6:abcdef");
	free_resp(&r);
	ck_assert(cli_wait_eof(&c, 3000));
	cli_close(&c);

	/* HTTP/1.1 Connection: close; anything pipelined after is ignored. */
	c = cli_open();
	cli_send(&c, "GET /echo HTTP/1.1\r\nConnection: foo, close\r\n\r\n"
	    "GET /echo HTTP/1.1\r\n\r\n");
	ck_assert_int_eq(cli_resp(&c, &r), 0);
	ck_assert_str_eq(resp_header(&r, "Connection"), "close");
	free_resp(&r);
	ck_assert(cli_wait_eof(&c, 3000));
	ck_assert_uint_eq(c.in.len, 0);
	ck_assert_int_eq(T.handled, 5);	/* not the one after close */
	cli_close(&c);
}
END_TEST

START_TEST(abort_hook_on_disconnect)
{
	struct cli c = cli_open();
	struct cli d = cli_open();
	ev_tstamp end;

	cli_send(&c, "GET /async?id=7 HTTP/1.1\r\n\r\n");
	cli_send(&d, "GET /async?id=8&nohook HTTP/1.1\r\n\r\n");
	ck_assert(pump_until_pending(2, 2000));
	cli_close(&c);
	end = ev_time() + 3;
	while (T.aborted[7] == 0 && ev_time() < end)
		pump(5);
	ck_assert_int_eq(T.aborted[7], 1);
	ck_assert_int_eq(T.npend, 1);
	/* Without a hook the ctx lives on; the late reply is discarded. */
	cli_close(&d);
	end = ev_time() + 3;
	while (http_server_conns_open(T.srv) > 0 && ev_time() < end)
		pump(5);
	ck_assert_uint_eq(http_server_conns_open(T.srv), 0);
	http_reply(take_pending(8), 200, NULL, "late", 4);
	pump_for(20);
	struct http_stats st;
	http_server_stats(T.srv, &st);
	ck_assert_uint_eq(st.aborted, 2);
	ck_assert_uint_eq(st.requests, 0);
}
END_TEST

/* Freeing the server with a request parked runs its hook. */
START_TEST(abort_hook_on_free)
{
	struct cli c = cli_open();

	cli_send(&c, "GET /async?id=9 HTTP/1.1\r\n\r\n");
	ck_assert(pump_until_pending(1, 2000));
	http_server_free(T.srv);
	T.srv = NULL;
	ck_assert_int_eq(T.aborted[9], 1);
	ck_assert(cli_wait_eof(&c, 3000));
	cli_close(&c);
}
END_TEST

/* Answered requests before the disconnect still count; the parked one
 * after it is aborted. */
START_TEST(eof_after_pipeline)
{
	struct cli c = cli_open();

	cli_send(&c, "GET /async?id=1 HTTP/1.1\r\n\r\n"
	    "GET /async?id=2 HTTP/1.1\r\n\r\n");
	ck_assert(pump_until_pending(2, 2000));
	http_reply(take_pending(1), 200, NULL, "one", 3);
	shutdown(c.fd, SHUT_WR);
	ev_tstamp end = ev_time() + 3;
	while (T.aborted[2] == 0 && ev_time() < end)
		pump(5);
	ck_assert_int_eq(T.aborted[2], 1);
	struct resp r;
	ck_assert_int_eq(cli_resp(&c, &r), 0);
	ck_assert_str_eq((char *)r.body.data, "one");
	free_resp(&r);
	ck_assert(cli_wait_eof(&c, 3000));
	cli_close(&c);
}
END_TEST

START_TEST(per_client_429)
{
	struct cli c[5];
	struct resp r;
	ev_tstamp end = ev_time() + 3;

	for (int i = 0; i < 4; i++)
		c[i] = cli_open();
	while (http_server_conns_open(T.srv) < 4 && ev_time() < end)
		pump(5);
	c[4] = cli_open();
	ck_assert_int_eq(cli_resp(&c[4], &r), 0);
	ck_assert_int_eq(r.status, 429);
	ck_assert_str_eq(resp_header(&r, "Connection"), "close");
	free_resp(&r);
	ck_assert(cli_wait_eof(&c[4], 3000));
	cli_close(&c[4]);
	/* The four others work; closing one makes room. */
	cli_send(&c[0], "GET /echo HTTP/1.1\r\n\r\n");
	ck_assert_int_eq(cli_resp(&c[0], &r), 0);
	ck_assert_int_eq(r.status, 200);
	free_resp(&r);
	cli_close(&c[1]);
	end = ev_time() + 3;
	while (http_server_conns_open(T.srv) > 3 && ev_time() < end)
		pump(5);
	c[1] = cli_open();
	cli_send(&c[1], "GET /echo HTTP/1.1\r\n\r\n");
	ck_assert_int_eq(cli_resp(&c[1], &r), 0);
	ck_assert_int_eq(r.status, 200);
	free_resp(&r);
	struct http_stats st;
	http_server_stats(T.srv, &st);
	ck_assert_uint_eq(st.conns_rejected, 1);
	for (int i = 0; i < 4; i++)
		cli_close(&c[i]);
}
END_TEST

/* At max_conns the server stops accepting until a connection closes. */
START_TEST(max_conns_total)
{
	struct http_limits lim;
	uint16_t port;
	struct http_server *s2;
	struct cli a, b, x;
	struct resp r;

	test_limits(&lim);
	lim.max_conns = 2;
	s2 = start_server(&lim, &port);
	a = cli_tcp(port);
	b = cli_tcp(port);
	cli_send(&a, "GET /echo HTTP/1.1\r\n\r\n");
	ck_assert_int_eq(cli_resp(&a, &r), 0);
	free_resp(&r);
	cli_send(&b, "GET /echo HTTP/1.1\r\n\r\n");
	ck_assert_int_eq(cli_resp(&b, &r), 0);
	free_resp(&r);
	x = cli_tcp(port);	/* sits in the kernel's backlog */
	cli_send(&x, "GET /echo HTTP/1.1\r\n\r\n");
	ck_assert(cli_quiet(&x, 100));
	ck_assert_uint_eq(http_server_conns_open(s2), 2);
	cli_close(&a);
	ck_assert_int_eq(cli_resp(&x, &r), 0);
	ck_assert_int_eq(r.status, 200);
	free_resp(&r);
	cli_close(&b);
	cli_close(&x);
	http_server_free(s2);
}
END_TEST

START_TEST(timeouts)
{
	struct cli idle = cli_open();
	struct cli slow = cli_open();
	struct cli used = cli_open();
	struct resp r;
	ev_tstamp t0 = ev_time();

	cli_send(&slow, "GET /echo HTTP/1.1\r\nHost:");
	/* Activity keeps a connection: requests every 100 ms for 0.6 s. */
	for (int i = 0; i < 6; i++) {
		cli_send(&used, "GET /echo HTTP/1.1\r\n\r\n");
		ck_assert_int_eq(cli_resp(&used, &r), 0);
		free_resp(&r);
		pump_for(100);
	}
	ck_assert(cli_wait_eof(&idle, 3000));
	ck_assert(cli_wait_eof(&slow, 3000));
	ck_assert(ev_time() - t0 >= 0.35);
	ck_assert(!used.eof);
	ck_assert(cli_wait_eof(&used, 3000));
	cli_close(&idle);
	cli_close(&slow);
	cli_close(&used);
}
END_TEST

START_TEST(query_over_the_wire)
{
	struct cli c = cli_open();
	struct resp r;

	cli_send(&c, "GET /query?tag=a&tag=b&recurse&x=%2Fa+b&&y=&semi=1;2"
	    "&bad=%zz&z=1 HTTP/1.1\r\n\r\n");
	ck_assert_int_eq(cli_resp(&c, &r), 0);
	ck_assert_str_eq((char *)r.body.data,
	    "[tag]=[a]\n[tag]=[b]\n[recurse][]\n[x]=[/a b]\n[y]=[]\n[z]=[1]\n"
	    "path=[/query] raw=[/query] q=[tag=a&tag=b&recurse&x=%2Fa+b&&y=&"
	    "semi=1;2&bad=%zz&z=1] client_ip=[127.0.0.1]\n");
	free_resp(&r);
	cli_close(&c);
}
END_TEST

START_TEST(query_opts_over_the_wire)
{
	struct cli c = cli_open();
	struct resp r;

	cli_send(&c, "GET /opts?index=12&wait=10s&stale HTTP/1.1\r\n"
	    "X-Consul-Token: tok\r\n\r\n");
	ck_assert_int_eq(cli_resp(&c, &r), 0);
	ck_assert_str_eq((char *)r.body.data,
	    "index=12 wait=10000000000 stale=1 token=tok");
	free_resp(&r);
	cli_send(&c, "GET /opts?index=x HTTP/1.1\r\n\r\n");
	ck_assert_int_eq(cli_resp(&c, &r), 0);
	ck_assert_int_eq(r.status, 400);
	ck_assert_str_eq((char *)r.body.data, "Invalid index");
	ck_assert_str_eq(resp_header(&r, "Content-Type"),
	    "text/plain; charset=utf-8");
	free_resp(&r);
	ck_assert(!c.eof);
	cli_close(&c);
}
END_TEST

START_TEST(unix_socket)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct cli c = { .fd = -1 };
	struct resp r;
	int lfd;

	snprintf(T.unix_path, sizeof(T.unix_path), "/tmp/muster-http-test-%d.sock",
	    (int)getpid());
	unlink(T.unix_path);
	strlcpy_m(sun.sun_path, T.unix_path, sizeof(sun.sun_path));
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(listen(lfd, 16), 0);
	ck_assert_int_eq(http_server_listen_fd(T.srv, lfd), 0);
	/* More than the per-client cap: AF_UNIX clients are not counted. */
	struct cli many[6];
	for (int i = 0; i < 6; i++) {
		many[i].fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		buf_init(&many[i].in);
		many[i].eof = false;
		ck_assert_int_eq(connect(many[i].fd, (struct sockaddr *)&sun,
		    sizeof(sun)), 0);
	}
	for (int i = 0; i < 6; i++) {
		c = many[i];
		cli_send(&c, "GET /query?u=1 HTTP/1.1\r\n\r\n");
		ck_assert_int_eq(cli_resp(&c, &r), 0);
		ck_assert_int_eq(r.status, 200);
		ck_assert_ptr_nonnull(strstr((char *)r.body.data, "client_ip=[]"));
		free_resp(&r);
		cli_close(&c);
	}
}
END_TEST

/* ---- parser units ---- */

static int
parse(const char *head, struct http_head *h, char **arena)
{
	size_t len = strlen(head);
	size_t asz = http_head_arena_size((const uint8_t *)head, len);

	*arena = aligned_alloc(16, (asz + 15) / 16 * 16);
	return http_head_parse(h, *arena, asz, (const uint8_t *)head, len);
}

START_TEST(head_end_split_anywhere)
{
	const char *req = "GET / HTTP/1.1\r\nA: b\r\n\r\nrest";
	size_t want = strlen(req) - 4;

	for (size_t cut = 0; cut <= strlen(req); cut++) {
		size_t scan = 0, got = 0;
		for (size_t n = 1; n <= strlen(req) && got == 0; n++)
			got = http_head_end((const uint8_t *)req, n, &scan);
		ck_assert_uint_eq(got, want);
		scan = 0;
		got = http_head_end((const uint8_t *)req, cut, &scan);
		ck_assert_uint_eq(got, cut >= want ? want : 0);
	}
	size_t scan = 0;
	ck_assert_uint_eq(http_head_end((const uint8_t *)"GET / HTTP/1.0\n\nx",
	    17, &scan), 16);
}
END_TEST

START_TEST(head_parse_fields)
{
	struct http_head h;
	char *a;

	ck_assert_int_eq(parse("PUT /v1/kv/a%20b%2Fc?flags=3 HTTP/1.1\r\n"
	    "Host: x\r\ncontent-LENGTH:  12 \r\nX-Fold: one\r\n  two\r\n"
	    "\tthree  \r\nConnection: keep-alive, Close\r\n\r\n", &h, &a), 0);
	ck_assert_uint_eq(h.req.method, HTTP_PUT);
	ck_assert_str_eq(h.req.path, "/v1/kv/a b/c");
	ck_assert_str_eq(h.req.raw_path, "/v1/kv/a%20b%2Fc");
	ck_assert_str_eq(h.req.raw_query, "flags=3");
	ck_assert_int_eq(h.content_length, 12);
	ck_assert_str_eq(http_header(&h.req, "x-fold"), "one two three");
	ck_assert_str_eq(http_header(&h.req, "HOST"), "x");
	ck_assert_ptr_null(http_header(&h.req, "Hos"));
	ck_assert(!h.req.keep_alive);
	ck_assert_uint_eq(h.req.version_minor, 1);
	free(a);

	/* TE overrides CL; Expect recognised. */
	ck_assert_int_eq(parse("POST / HTTP/1.1\r\nContent-Length: 3\r\n"
	    "Transfer-Encoding: chunked\r\nExpect: 100-Continue\r\n\r\n",
	    &h, &a), 0);
	ck_assert(h.chunked);
	ck_assert_int_eq(h.content_length, -1);
	ck_assert(h.expect_continue);
	ck_assert(h.req.keep_alive);
	free(a);

	/* HTTP/1.0 ignores Transfer-Encoding and Expect. */
	ck_assert_int_eq(parse("POST / HTTP/1.0\r\nTransfer-Encoding: gzip\r\n"
	    "Expect: x\r\n\r\n", &h, &a), 0);
	ck_assert(!h.chunked);
	ck_assert(!h.req.keep_alive);
	free(a);
}
END_TEST

START_TEST(query_decoding_table)
{
	static const struct {
		const char *q;
		const char *want;	/* name=value or name (bare), ';'-joined */
	} tab[] = {
		{ "", "" },
		{ "recurse", "recurse" },
		{ "recurse=", "recurse=" },
		{ "recurse=1", "recurse=1" },
		{ "tag=a&tag=b", "tag=a;tag=b" },
		{ "a+b=c+d", "a b=c d" },
		{ "k=%41%62%3d%26", "k=Ab=&" },
		{ "k=%zz&ok", "ok" },
		{ "k=%4", "" },
		{ "a;b=1&c=2", "c=2" },
		{ "&&x&&", "x" },
		{ "=v", "=v" },
		{ "filter=Service.Tags+contains+%22x%22",
		    "filter=Service.Tags contains \"x\"" },
		{ "wait=10s&index=5", "wait=10s;index=5" },
	};

	for (size_t i = 0; i < nitems(tab); i++) {
		char scratch[256];
		struct http_param pv[16];
		struct buf got;
		size_t n = http_query_parse(tab[i].q, strlen(tab[i].q), scratch,
		    pv, http_query_count(tab[i].q, strlen(tab[i].q)));
		buf_init(&got);
		for (size_t k = 0; k < n; k++)
			buf_printf(&got, "%s%s%s%s", k ? ";" : "", pv[k].name,
			    pv[k].has_value ? "=" : "", pv[k].value);
		ck_assert_msg(strcmp(got.data ? (char *)got.data : "",
		    tab[i].want) == 0, "%s -> %s", tab[i].q, got.data);
		buf_free(&got);
	}

	char out[16];
	ck_assert_int_eq(http_pct_decode(out, "a+%2B", 5, false), 3);
	ck_assert_str_eq(out, "a++");
	ck_assert_int_eq(http_pct_decode(out, "%", 1, false), -1);
	ck_assert_int_eq(http_pct_decode(out, "%a", 2, false), -1);
}
END_TEST

START_TEST(query_lookup)
{
	struct http_head h;
	char *a;
	const char *vals[4];
	bool present;

	ck_assert_int_eq(parse("GET /x?tag=a&recurse&tag=b&tag=c&e= HTTP/1.1"
	    "\r\n\r\n", &h, &a), 0);
	ck_assert_str_eq(http_query(&h.req, "tag", &present), "a");
	ck_assert(present);
	ck_assert_str_eq(http_query(&h.req, "recurse", &present), "");
	ck_assert(present);
	ck_assert_ptr_null(http_query(&h.req, "nope", &present));
	ck_assert(!present);
	ck_assert_uint_eq(http_query_all(&h.req, "tag", vals, 2), 3);
	ck_assert_str_eq(vals[0], "a");
	ck_assert_str_eq(vals[1], "b");
	free(a);
}
END_TEST

static int
opts(const char *target, const char *hdrs, struct http_query_opts *o,
    char *err, size_t errsz)
{
	char head[1024];
	struct http_head h;
	struct buf e;
	char *a;
	int rc;

	snprintf(head, sizeof(head), "GET %s HTTP/1.1\r\n%s\r\n", target, hdrs);
	ck_assert_int_eq(parse(head, &h, &a), 0);
	buf_init(&e);
	rc = http_query_opts(&h.req, o, &e);
	snprintf(err, errsz, "%s", e.data ? (char *)e.data : "");
	buf_free(&e);
	/* Strings point into the arena: copy what the tests look at. */
	if (o->token != NULL && o->token != o->token_buf) {
		strlcpy_m(o->token_buf, o->token, sizeof(o->token_buf));
		o->token = o->token_buf;
	}
	o->filter = o->dc = o->near = NULL;
	free(a);
	return rc;
}

START_TEST(query_opts_table)
{
	static const struct {
		const char *target;
		const char *err;
	} bad[] = {
		{ "/?index=abc", "Invalid index" },
		{ "/?index=-1", "Invalid index" },
		{ "/?index=18446744073709551616", "Invalid index" },
		{ "/?wait=5x", "Invalid wait time" },
		{ "/?wait=10", "Invalid wait time" },
		{ "/?stale&consistent", "Cannot specify ?stale with ?consistent, "
		    "conflicting semantics." },
		{ "/?max_stale=1s&consistent", "Cannot specify ?stale with "
		    "?consistent, conflicting semantics." },
		{ "/?cached&consistent", "Cannot specify ?cached with "
		    "?consistent, conflicting semantics." },
		{ "/?max_stale=zz", "Invalid max_stale value \"zz\"" },
	};
	struct http_query_opts o;
	char err[256];

	for (size_t i = 0; i < nitems(bad); i++) {
		ck_assert_int_eq(opts(bad[i].target, "", &o, err, sizeof(err)),
		    -EINVAL);
		ck_assert_str_eq(err, bad[i].err);
	}
	ck_assert_int_eq(opts("/?index=18446744073709551615&wait=300000ms",
	    "", &o, err, sizeof(err)), 0);
	ck_assert_uint_eq(o.index, UINT64_MAX);
	ck_assert_int_eq(o.wait_ns, 300LL * 1000000000);
	ck_assert(o.wait_set);
	/* wait=0 and absent mean the default; above the cap is capped. */
	ck_assert_int_eq(opts("/?wait=0", "", &o, err, sizeof(err)), 0);
	ck_assert_int_eq(o.wait_ns, HTTP_WAIT_DEFAULT_NS);
	ck_assert_int_eq(opts("/", "", &o, err, sizeof(err)), 0);
	ck_assert_int_eq(o.wait_ns, HTTP_WAIT_DEFAULT_NS);
	ck_assert(!o.wait_set);
	ck_assert_uint_eq(o.index, 0);
	ck_assert_int_eq(opts("/?wait=1h", "", &o, err, sizeof(err)), 0);
	ck_assert_int_eq(o.wait_ns, HTTP_WAIT_MAX_NS);
	/* Flags by presence, whatever the value (Go client sends "stale="). */
	ck_assert_int_eq(opts("/?stale=&cached=&pretty", "", &o, err,
	    sizeof(err)), 0);
	ck_assert(o.stale && o.cached && o.pretty && !o.consistent);
	ck_assert_int_eq(opts("/?max_stale=5s", "", &o, err, sizeof(err)), 0);
	ck_assert(o.stale);
	ck_assert_int_eq(o.max_stale_ns, 5LL * 1000000000);
	/* Token: ?token, then X-Consul-Token, then Bearer. */
	ck_assert_int_eq(opts("/?token=q", "X-Consul-Token: h\r\n", &o, err,
	    sizeof(err)), 0);
	ck_assert_str_eq(o.token, "q");
	ck_assert_int_eq(opts("/", "X-Consul-Token: h\r\n"
	    "Authorization: Bearer b\r\n", &o, err, sizeof(err)), 0);
	ck_assert_str_eq(o.token, "h");
	ck_assert_int_eq(opts("/", "Authorization: bearer  b1 b2\r\n", &o, err,
	    sizeof(err)), 0);
	ck_assert_str_eq(o.token, "b1");
	ck_assert_int_eq(opts("/", "Authorization: Basic x\r\n", &o, err,
	    sizeof(err)), 0);
	ck_assert_ptr_null(o.token);
	/* Cache-Control for ?cached. */
	ck_assert_int_eq(opts("/?cached", "Cache-Control: max-age=30, "
	    "stale-if-error=60\r\n", &o, err, sizeof(err)), 0);
	ck_assert_int_eq(o.max_age_ns, 30LL * 1000000000);
	ck_assert_int_eq(o.stale_if_error_ns, 60LL * 1000000000);
	ck_assert(!o.must_revalidate);
	ck_assert_int_eq(opts("/?cached", "Cache-Control: max-age=x\r\n", &o,
	    err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "Invalid Cache-Control header.");
	/* Jitter stays within [wait, wait + wait/16). */
	for (int i = 0; i < 100; i++) {
		int64_t j = http_wait_jitter(HTTP_WAIT_DEFAULT_NS);
		ck_assert(j >= HTTP_WAIT_DEFAULT_NS &&
		    j < HTTP_WAIT_DEFAULT_NS + HTTP_WAIT_DEFAULT_NS / 16);
	}
}
END_TEST

static int
chunk_all(const char *in, size_t step, struct buf *out, size_t max)
{
	struct http_chunk st = { 0 };
	uint8_t *body = NULL;
	size_t blen = 0, bcap = 0, off = 0, n = strlen(in);
	bool done = false;

	while (off < n && !done) {
		size_t k = MIN(step, n - off);
		ssize_t used = http_chunk_feed(&st, (const uint8_t *)in + off, k,
		    &body, &blen, &bcap, max, &done);
		if (used < 0) {
			free(body);
			return (int)used;
		}
		off += (size_t)used;
	}
	buf_add(out, body ? body : (uint8_t *)"", blen);
	free(body);
	return done ? (int)off : 0;
}

START_TEST(chunk_decoder)
{
	const char *ok = "5;a=b\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n"
	    "0\r\nT: 1\r\nU: 2\r\n\r\nNEXT";
	struct buf b;

	for (size_t step = 1; step <= strlen(ok); step++) {
		buf_init(&b);
		ck_assert_int_eq(chunk_all(ok, step, &b, 100),
		    (int)strlen(ok) - 4);
		ck_assert_str_eq((char *)b.data, "hello 0123456789");
		buf_free(&b);
	}
	buf_init(&b);
	ck_assert_int_eq(chunk_all("3\r\nabcX\r\n", 1, &b, 100), -EBADMSG);
	ck_assert_int_eq(chunk_all("\r\n", 1, &b, 100), -EBADMSG);
	ck_assert_int_eq(chunk_all("g\r\n", 1, &b, 100), -EBADMSG);
	ck_assert_int_eq(chunk_all("fffffffffffffffffff\r\n", 1, &b, 100),
	    -EBADMSG);
	ck_assert_int_eq(chunk_all("65\r\n", 1, &b, 100), -EFBIG);
	ck_assert_int_eq(chunk_all("64\r\n", 1, &b, 100), 0);
	buf_free(&b);
}
END_TEST

static Suite *
http_suite(void)
{
	Suite *s = suite_create("http");
	TCase *tw = tcase_create("wire");
	TCase *tp = tcase_create("parser");

	tcase_add_checked_fixture(tw, setup, teardown);
	tcase_set_timeout(tw, 30);
	tcase_add_test(tw, basic_keepalive);
	tcase_add_test(tw, byte_at_a_time);
	tcase_add_test(tw, pipeline_out_of_order);
	tcase_add_test(tw, pipeline_many_sync);
	tcase_add_test(tw, chunked_bodies);
	tcase_add_test(tw, expect_continue);
	tcase_add_test(tw, body_limits);
	tcase_add_test(tw, large_body_and_response);
	tcase_add_test(tw, malformed_400);
	tcase_add_test(tw, header_too_large_431);
	tcase_add_test(tw, routing_404_405_options_301);
	tcase_add_test(tw, head_requests);
	tcase_add_test(tw, keepalive_rules);
	tcase_add_test(tw, abort_hook_on_disconnect);
	tcase_add_test(tw, abort_hook_on_free);
	tcase_add_test(tw, eof_after_pipeline);
	tcase_add_test(tw, per_client_429);
	tcase_add_test(tw, max_conns_total);
	tcase_add_test(tw, timeouts);
	tcase_add_test(tw, query_over_the_wire);
	tcase_add_test(tw, query_opts_over_the_wire);
	tcase_add_test(tw, unix_socket);
	suite_add_tcase(s, tw);
	tcase_add_test(tp, head_end_split_anywhere);
	tcase_add_test(tp, head_parse_fields);
	tcase_add_test(tp, query_decoding_table);
	tcase_add_test(tp, query_lookup);
	tcase_add_test(tp, query_opts_table);
	tcase_add_test(tp, chunk_decoder);
	suite_add_tcase(s, tp);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(http_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
