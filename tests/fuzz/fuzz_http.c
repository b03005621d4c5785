/*
 * libFuzzer target: bytes from an HTTP client.  They go
 *  1. through the pure parsers: head end search at every prefix, head
 *     parse, query options, the chunked decoder over what follows the
 *     head, in steps the first byte chooses;
 *  2. into a live server over a socketpair, written in pieces, with one
 *     route answering at once and one parking requests that are answered
 *     later in reverse order (pipelining, aborts, limits, lingering).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "workers/http/http_priv.h"

#define NPARK 64

static struct http_ctx *parked[NPARK];
static int nparked;

static void
unpark(void *arg)
{
	struct http_ctx *c = arg;

	for (int i = 0; i < nparked; i++)
		if (parked[i] == c) {
			parked[i] = parked[--nparked];
			return;
		}
}

static void
h_now(struct http_ctx *c, const struct http_request *r)
{
	struct http_query_opts o;

	if (!http_ctx_query_opts(c, &o))
		return;
	http_reply_header(c, "X-Consul-Index", "1");
	http_reply(c, 200, "application/json", r->body, r->body_len);
}

static void
h_park(struct http_ctx *c, const struct http_request *r)
{
	(void)r;
	if (nparked == NPARK) {
		http_reply_error(c, 500, "full");
		return;
	}
	parked[nparked++] = c;
	http_ctx_on_abort(c, unpark, c);
}

static const struct http_route routes[] = {
	{ HTTP_GET | HTTP_PUT | HTTP_POST, "/a", false, h_now, 0 },
	{ HTTP_GET | HTTP_PUT, "/v1/kv/", true, h_now, 64 },
	{ 0, "/p", false, h_park, 0 },
};

static void
fuzz_parsers(const uint8_t *data, size_t size)
{
	size_t scan = 0, hl = 0;

	for (size_t n = 1; n <= size && hl == 0; n++)
		hl = http_head_end(data, n, &scan);
	if (hl == 0)
		return;
	size_t asz = http_head_arena_size(data, hl);
	void *arena = aligned_alloc(16, (asz + 15) / 16 * 16);
	struct http_head h;
	if (http_head_parse(&h, arena, asz, data, hl) == 0) {
		struct http_query_opts o;
		struct buf err;
		buf_init(&err);
		(void)http_query_opts(&h.req, &o, &err);
		buf_free(&err);
		(void)http_header(&h.req, "Content-Type");
	}
	free(arena);

	struct http_chunk st = { 0 };
	uint8_t *body = NULL;
	size_t blen = 0, bcap = 0, step = (size_t)data[0] % 7 + 1;
	bool done = false;
	for (size_t off = hl; off < size && !done;) {
		size_t k = size - off < step ? size - off : step;
		ssize_t used = http_chunk_feed(&st, data + off, k, &body, &blen,
		    &bcap, 4096, &done);
		if (used < 0)
			break;
		off += (size_t)used;
	}
	free(body);
}

static void
drain(int fd)
{
	char tmp[4096];

	while (recv(fd, tmp, sizeof(tmp), MSG_DONTWAIT) > 0)
		;
}

static void
fuzz_server(struct ev_loop *loop, const uint8_t *data, size_t size)
{
	struct http_limits lim;
	struct http_server *s;
	int sv[2];

	http_limits_default(&lim);
	lim.max_header_bytes = 2048;
	lim.max_body = 1024;
	lim.max_pipeline = 4;
	s = http_server_new(loop, routes, nitems(routes), &lim, NULL);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0,
	    sv) < 0)
		abort();
	http_conn_new(s, sv[0], NULL, 0, true);
	size_t off = 0, step = (size_t)(size ? data[0] : 0) * 3 + 1;
	for (int i = 0; i < 256; i++) {
		if (off < size) {
			size_t k = size - off < step ? size - off : step;
			ssize_t w = send(sv[1], data + off, k, MSG_DONTWAIT);
			if (w > 0)
				off += (size_t)w;
			if (off == size)
				shutdown(sv[1], SHUT_WR);
		}
		ev_run(loop, EVRUN_NOWAIT);
		drain(sv[1]);
		/* Answer the newest parked request first. */
		if (nparked > 0 && i % 3 == 2) {
			struct http_ctx *c = parked[--nparked];
			http_reply(c, 200, NULL, "late", 4);
		}
		if (http_server_conns_open(s) == 0)
			break;
	}
	http_server_free(s);	/* aborts what is still parked */
	close(sv[1]);
	nparked = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ev_loop *loop;

	if (loop == NULL)
		loop = ev_loop_new(EVFLAG_AUTO);
	if (size == 0)
		return 0;
	fuzz_parsers(data, size);
	fuzz_server(loop, data, size);
	return 0;
}
