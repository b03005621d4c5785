/*
 * gRPC and H2PING checks over a minimal HTTP/2 client (RFC 9113):
 * agent/checks/grpc.go (GrpcHealthProbe) and check.go (CheckH2PING).
 *
 * One connection per round, over TLS with ALPN "h2" (grpc_use_tls,
 * h2ping_use_tls) or cleartext with prior knowledge (h2c).  The client
 * sends the preface and SETTINGS (no push, no dynamic HPACK table), then
 * either a PING (h2ping) or one unary call on stream 1:
 *
 *   POST /grpc.health.v1.Health/Check, content-type application/grpc,
 *   te trailers; DATA: a length-prefixed HealthCheckRequest{service}.
 *
 * and reads frames until the stream ends: the HealthCheckResponse status
 * (grpc.health.v1: 0 UNKNOWN, 1 SERVING, 2 NOT_SERVING, 3
 * SERVICE_UNKNOWN) and grpc-status / grpc-message from the trailers.
 * Windows never matter: the exchange is far below 64 KiB.
 */
#include "workers/checks/chk_probe.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define F_DATA 0x0
#define F_HEADERS 0x1
#define F_RST 0x3
#define F_SETTINGS 0x4
#define F_PING 0x6
#define F_GOAWAY 0x7
#define F_CONTINUATION 0x9
#define FL_END_STREAM 0x1
#define FL_ACK 0x1
#define FL_END_HEADERS 0x4
#define FL_PADDED 0x8
#define FL_PRIORITY 0x20
#define FRAME_MAX 16384

static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
static const unsigned char alpn_h2[] = { 2, 'h', '2' };

enum h2_phase { H2_DIAL, H2_TLS, H2_RUN };

struct h2_probe {
	struct chk_probe p;
	bool grpc;
	char *target, *host, *port, *service;
	bool tls, skip_verify;
	struct chk_dial *dial;
	int fd;
	SSL *ssl;
	ev_io io;
	ev_timer tm;
	enum h2_phase phase;
	struct buf out, in, hblock, msg, grpc_message;
	size_t out_off;
	bool hblock_open, hblock_ends_stream;
	int http_status, grpc_status;
	bool have_grpc_status;
	uint8_t ping[8];
};

static const char *const grpc_codes[] = { "OK", "Canceled", "Unknown",
	"InvalidArgument", "DeadlineExceeded", "NotFound", "AlreadyExists",
	"PermissionDenied", "ResourceExhausted", "FailedPrecondition",
	"Aborted", "OutOfRange", "Unimplemented", "Internal", "Unavailable",
	"DataLoss", "Unauthenticated" };

static const char *const serving[] = { "UNKNOWN", "SERVING", "NOT_SERVING",
	"SERVICE_UNKNOWN" };

static void
h2_free(struct h2_probe *h)
{
	struct ev_loop *loop = h->p.run->st->loop;
	ev_io_stop(loop, &h->io);
	ev_timer_stop(loop, &h->tm);
	chk_dial_cancel(h->dial);
	if (h->ssl)
		SSL_free(h->ssl);
	if (h->fd >= 0)
		close(h->fd);
	buf_free(&h->out);
	buf_free(&h->in);
	buf_free(&h->hblock);
	buf_free(&h->msg);
	buf_free(&h->grpc_message);
	free(h->target);
	free(h->host);
	free(h->port);
	free(h->service);
	free(h);
}

static void
h2_cancel(struct chk_probe *p)
{
	h2_free((struct h2_probe *)p);
}

static const struct chk_probe_ops h2_ops = { h2_cancel };

static void
h2_done(struct h2_probe *h, enum chk_status s, const char *out)
{
	struct chk_run *r = h->p.run;
	chk_probe_result(r, s, out);
	h2_free(h);
	chk_probe_end(r);
}

static void h2_fail(struct h2_probe *h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A failed round, worded as grpc-go (an RPC error) or CheckH2PING. */
static void
h2_fail(struct h2_probe *h, const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	h2_done(h, CHK_CRITICAL, msg ? msg : "error");
	free(msg);
}

/* ---- frames out ---- */

static void
frame(struct h2_probe *h, uint8_t type, uint8_t flags, uint32_t sid,
    const void *p, size_t n)
{
	uint8_t hd[9] = { (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n,
		type, flags, (uint8_t)(sid >> 24), (uint8_t)(sid >> 16),
		(uint8_t)(sid >> 8), (uint8_t)sid };
	buf_add(&h->out, hd, sizeof(hd));
	buf_add(&h->out, p, n);
}

/* HPACK literal without indexing, name from the static table (idx) or
 * new (idx 0), no Huffman (RFC 7541 6.2.2). */
static void
hp_lit(struct buf *b, unsigned idx, const char *name, const char *value)
{
	size_t vl = strlen(value);
	if (idx == 0) {
		buf_addch(b, 0x00);
		buf_addch(b, (char)strlen(name));
		buf_addstr(b, name);
	} else if (idx < 15)
		buf_addch(b, (char)idx);
	else {
		buf_addch(b, 0x0f);
		buf_addch(b, (char)(idx - 15));
	}
	if (vl < 127)
		buf_addch(b, (char)vl);
	else {
		buf_addch(b, 0x7f);
		for (vl -= 127; vl >= 128; vl >>= 7)
			buf_addch(b, (char)(0x80 | (vl & 0x7f)));
		buf_addch(b, (char)vl);
	}
	buf_addstr(b, value);
}

/* The unary call: HEADERS, then DATA with the request, END_STREAM. */
static void
queue_call(struct h2_probe *h)
{
	struct buf hb, msg;
	size_t sl = strlen(h->service);
	char *authority = strchr(h->host, ':') ? xasprintf("[%s]:%s", h->host,
	    h->port) : xasprintf("%s:%s", h->host, h->port);

	buf_init(&hb);
	buf_addch(&hb, (char)0x83);			/* :method POST */
	buf_addch(&hb, (char)(h->tls ? 0x87 : 0x86));	/* :scheme */
	hp_lit(&hb, 4, NULL, "/grpc.health.v1.Health/Check");
	hp_lit(&hb, 1, NULL, authority);
	hp_lit(&hb, 31, NULL, "application/grpc");
	hp_lit(&hb, 0, "te", "trailers");
	hp_lit(&hb, 58, NULL, "Consul Health Check");
	frame(h, F_HEADERS, FL_END_HEADERS, 1, hb.data, hb.len);
	buf_init(&msg);
	/* gRPC message: flag 0, u32 length, protobuf field 1 (service). */
	size_t pl = sl ? 1 + (sl < 128 ? 1 : 2) + sl : 0;
	uint8_t pre[5] = { 0, (uint8_t)(pl >> 24), (uint8_t)(pl >> 16),
		(uint8_t)(pl >> 8), (uint8_t)pl };
	buf_add(&msg, pre, sizeof(pre));
	if (sl) {
		buf_addch(&msg, 0x0a);
		if (sl < 128)
			buf_addch(&msg, (char)sl);
		else {
			buf_addch(&msg, (char)(0x80 | (sl & 0x7f)));
			buf_addch(&msg, (char)(sl >> 7));
		}
		buf_add(&msg, h->service, sl);
	}
	frame(h, F_DATA, FL_END_STREAM, 1, msg.data, msg.len);
	buf_free(&msg);
	buf_free(&hb);
	free(authority);
}

static void
queue_start(struct h2_probe *h)
{
	/* SETTINGS: HEADER_TABLE_SIZE 0, ENABLE_PUSH 0. */
	static const uint8_t settings[] = { 0, 1, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0 };
	buf_add(&h->out, preface, sizeof(preface) - 1);
	frame(h, F_SETTINGS, 0, 0, settings, sizeof(settings));
	if (h->grpc)
		queue_call(h);
	else {
		random_bytes(h->ping, sizeof(h->ping));
		frame(h, F_PING, 0, 0, h->ping, sizeof(h->ping));
	}
}

/* ---- the answer ---- */

static void
on_header(void *arg, const char *name, size_t nl, const char *value,
    size_t vl)
{
	struct h2_probe *h = arg;
	if (nl == 7 && memcmp(name, ":status", 7) == 0)
		h->http_status = atoi(value);
	else if (nl == 11 && memcmp(name, "grpc-status", 11) == 0) {
		h->grpc_status = atoi(value);
		h->have_grpc_status = true;
	} else if (nl == 12 && memcmp(name, "grpc-message", 12) == 0) {
		buf_reset(&h->grpc_message);
		/* percent-encoded (gRPC over HTTP/2, Responses) */
		for (size_t i = 0; i < vl; i++) {
			int hi, lo;
			if (value[i] == '%' && i + 2 < vl &&
			    (hi = isxdigit((unsigned char)value[i + 1])) &&
			    (lo = isxdigit((unsigned char)value[i + 2]))) {
				char hx[3] = { value[i + 1], value[i + 2], 0 };
				buf_addch(&h->grpc_message,
				    (char)strtol(hx, NULL, 16));
				i += 2;
			} else
				buf_addch(&h->grpc_message, value[i]);
		}
	}
}

static const char *
code_name(int c)
{
	return c >= 0 && (size_t)c < nitems(grpc_codes) ? grpc_codes[c] :
	    "Unknown";
}

/* HealthCheckResponse.status: field 1, varint. */
static int
response_status(const struct buf *m)
{
	const uint8_t *p = m->data;
	size_t n = m->len, i = 5;
	uint32_t len;
	if (n < 5 || p[0] != 0)
		return -1;
	len = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 8 | p[4];
	if (len > n - 5)
		return -1;
	n = 5 + len;
	while (i < n) {
		uint64_t key = 0, v = 0;
		for (int s = 0; i < n; s += 7) {
			key |= (uint64_t)(p[i] & 0x7f) << s;
			if (!(p[i++] & 0x80) || s > 56)
				break;
		}
		if ((key & 7) != 0)
			return -1;	/* only varints in this message */
		for (int s = 0; i < n; s += 7) {
			v |= (uint64_t)(p[i] & 0x7f) << s;
			if (!(p[i++] & 0x80) || s > 56)
				break;
		}
		if ((key >> 3) == 1)
			return (int)v;
	}
	return 0;	/* proto3: an absent field is UNKNOWN (0) */
}

/* The stream is over: Consul's verdict (GrpcHealthProbe.Check). */
static void
grpc_verdict(struct h2_probe *h)
{
	int st;
	if (h->have_grpc_status && h->grpc_status != 0) {
		h2_fail(h, "rpc error: code = %s desc = %s",
		    code_name(h->grpc_status), h->grpc_message.data ?
		    (char *)h->grpc_message.data : "");
		return;
	}
	if (h->http_status != 200) {
		h2_fail(h, "rpc error: code = Unknown desc = unexpected HTTP "
		    "status code received from server: %d", h->http_status);
		return;
	}
	if ((st = response_status(&h->msg)) < 0) {
		h2_fail(h, "rpc error: code = Internal desc = grpc: failed to "
		    "unmarshal the received message");
		return;
	}
	if (st == 1) {
		char *out = xasprintf("gRPC check %s: success", h->target);
		h2_done(h, CHK_PASSING, out);
		free(out);
		return;
	}
	h2_fail(h, "gRPC %s serving status: %s", h->target,
	    (size_t)st < nitems(serving) ? serving[st] : "UNKNOWN");
}

/* Strip padding (and the priority block of HEADERS). */
static bool
payload(uint8_t flags, bool headers, const uint8_t **p, size_t *n)
{
	size_t pad = 0;
	if (flags & FL_PADDED) {
		if (*n < 1)
			return false;
		pad = (*p)[0];
		(*p)++;
		(*n)--;
	}
	if (headers && (flags & FL_PRIORITY)) {
		if (*n < 5)
			return false;
		*p += 5;
		*n -= 5;
	}
	if (pad > *n)
		return false;
	*n -= pad;
	return true;
}

/* One frame; false when the round finished (h freed). */
static bool
on_frame(struct h2_probe *h, uint8_t type, uint8_t flags, uint32_t sid,
    const uint8_t *p, size_t n)
{
	switch (type) {
	case F_SETTINGS:
		if (!(flags & FL_ACK))
			frame(h, F_SETTINGS, FL_ACK, 0, NULL, 0);
		return true;
	case F_PING:
		if (!(flags & FL_ACK)) {
			frame(h, F_PING, FL_ACK, 0, p, n);
			return true;
		}
		if (!h->grpc && n == 8 && memcmp(p, h->ping, 8) == 0) {
			h2_done(h, CHK_PASSING, "HTTP2 ping was successful");
			return false;
		}
		return true;
	case F_GOAWAY:
		if (h->grpc)
			h2_fail(h, "rpc error: code = Unavailable desc = "
			    "server sent GOAWAY");
		else
			h2_fail(h, "HTTP2 ping failed: server sent GOAWAY");
		return false;
	case F_RST:
		if (sid != 1)
			return true;
		h2_fail(h, "rpc error: code = Internal desc = stream "
		    "terminated by RST_STREAM with error code: %u",
		    n >= 4 ? (unsigned)(p[0] << 24 | p[1] << 16 | p[2] << 8 |
		    p[3]) : 0);
		return false;
	case F_DATA:
		if (sid != 1 || !h->grpc)
			return true;
		if (!payload(flags, false, &p, &n))
			break;
		buf_add(&h->msg, p, n);
		if (flags & FL_END_STREAM) {
			grpc_verdict(h);
			return false;
		}
		return true;
	case F_HEADERS:
	case F_CONTINUATION:
		if (sid != 1)
			return true;
		if (type == F_HEADERS) {
			if (!payload(flags, true, &p, &n))
				break;
			buf_reset(&h->hblock);
			h->hblock_ends_stream = flags & FL_END_STREAM;
		}
		buf_add(&h->hblock, p, n);
		if (!(flags & FL_END_HEADERS))
			return true;
		if (chk_hpack_decode(h->hblock.data, h->hblock.len, on_header,
		    h) < 0)
			break;
		if (h->hblock_ends_stream) {
			grpc_verdict(h);
			return false;
		}
		return true;
	default:
		return true;
	}
	h2_fail(h, "rpc error: code = Internal desc = http2: malformed frame");
	return false;
}

static bool
read_frames(struct h2_probe *h)
{
	while (h->in.len >= 9) {
		const uint8_t *b = h->in.data;
		size_t n = (size_t)b[0] << 16 | (size_t)b[1] << 8 | b[2];
		uint32_t sid = ((uint32_t)b[5] << 24 | (uint32_t)b[6] << 16 |
		    (uint32_t)b[7] << 8 | b[8]) & 0x7fffffffu;
		if (n > FRAME_MAX) {
			h2_fail(h, "%shttp2: frame too large", h->grpc ?
			    "rpc error: code = Internal desc = " :
			    "HTTP2 ping failed: ");
			return false;
		}
		if (h->in.len < 9 + n)
			break;
		if (!on_frame(h, b[3], b[4], sid, b + 9, n))
			return false;
		buf_consume(&h->in, 9 + n);
	}
	return true;
}

/* ---- I/O ---- */

static void
h2_io_error(struct h2_probe *h, const char *what)
{
	if (h->grpc)
		h2_fail(h, "rpc error: code = Unavailable desc = %s", what);
	else
		h2_fail(h, "HTTP2 ping failed: %s", what);
}

static void
set_events(struct h2_probe *h, int ev)
{
	struct ev_loop *loop = h->p.run->st->loop;
	if (ev_is_active(&h->io) && (h->io.events & (EV_READ | EV_WRITE)) ==
	    ev)
		return;
	ev_io_stop(loop, &h->io);
	ev_io_set(&h->io, h->fd, ev);
	ev_io_start(loop, &h->io);
}

/* >0 bytes, 0 EOF, -1 would block (*want set), -2 error (msg). */
static ssize_t
xio(struct h2_probe *h, bool wr, void *p, size_t n, int *want,
    struct buf *msg)
{
	char t[128];
	ssize_t r;
	if (h->ssl == NULL) {
		r = wr ? send(h->fd, p, n, MSG_NOSIGNAL) : recv(h->fd, p, n, 0);
		if (r >= 0)
			return r;
		if (errno == EAGAIN || errno == EINTR) {
			*want |= wr ? EV_WRITE : EV_READ;
			return -1;
		}
		buf_printf(msg, "%s: %s", wr ? "write" : "read",
		    chk_errstr(errno, t));
		return -2;
	}
	ERR_clear_error();
	errno = 0;
	r = wr ? SSL_write(h->ssl, p, (int)n) : SSL_read(h->ssl, p, (int)n);
	if (r > 0)
		return r;
	switch (SSL_get_error(h->ssl, (int)r)) {
	case SSL_ERROR_WANT_READ:
		*want |= EV_READ;
		return -1;
	case SSL_ERROR_WANT_WRITE:
		*want |= EV_WRITE;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		if (errno == 0)
			return 0;
		buf_printf(msg, "%s: %s", wr ? "write" : "read",
		    chk_errstr(errno, t));
		return -2;
	default:
		chk_tls_error(h->ssl, msg);
		return -2;
	}
}

static void
h2_step(struct h2_probe *h)
{
	uint8_t b[16384];
	struct buf msg;
	int want = EV_READ;
	ssize_t n;

	buf_init(&msg);
	if (h->phase == H2_TLS) {
		int r;
		ERR_clear_error();
		if ((r = SSL_connect(h->ssl)) != 1) {
			int e = SSL_get_error(h->ssl, r);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
				set_events(h, e == SSL_ERROR_WANT_READ ?
				    EV_READ : EV_WRITE);
				buf_free(&msg);
				return;
			}
			chk_tls_error(h->ssl, &msg);
			h2_io_error(h, (char *)msg.data);
			buf_free(&msg);
			return;
		}
		h->phase = H2_RUN;
	}
	for (;;) {
		while (h->out_off < h->out.len) {
			n = xio(h, true, h->out.data + h->out_off,
			    h->out.len - h->out_off, &want, &msg);
			if (n == -2) {
				h2_io_error(h, (char *)msg.data);
				buf_free(&msg);
				return;
			}
			if (n < 0)
				break;
			h->out_off += (size_t)n;
		}
		if (h->out_off == h->out.len) {
			buf_reset(&h->out);
			h->out_off = 0;
		}
		n = xio(h, false, b, sizeof(b), &want, &msg);
		if (n == -1)
			break;
		if (n <= 0) {
			h2_io_error(h, n == 0 ? "EOF" : (char *)msg.data);
			buf_free(&msg);
			return;
		}
		buf_add(&h->in, b, (size_t)n);
		if (!read_frames(h)) {
			buf_free(&msg);
			return;
		}
	}
	buf_free(&msg);
	set_events(h, want | (h->out.len > h->out_off ? EV_WRITE : 0));
}

static void
h2_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	h2_step(w->data);
}

static void
h2_dialed(void *arg, int fd, const char *error)
{
	struct h2_probe *h = arg;
	h->dial = NULL;
	if (fd < 0) {
		if (h->grpc)
			h2_fail(h, "rpc error: code = Unavailable desc = "
			    "connection error: desc = \"transport: Error while "
			    "dialing: %s\"", error);
		else
			h2_fail(h, "Failed to dial to %s: %s", h->target, error);
		return;
	}
	h->fd = fd;
	ev_io_init(&h->io, h2_io_cb, fd, EV_READ | EV_WRITE);
	h->io.data = h;
	h->phase = H2_RUN;
	if (h->tls) {
		const struct chk_def *d = &h->p.run->c->def;
		h->ssl = chk_tls_client(h->p.run->st, fd, d->tls_server_name[0] ?
		    d->tls_server_name : h->host, h->skip_verify, alpn_h2,
		    sizeof(alpn_h2));
		if (h->ssl == NULL) {
			h2_io_error(h, "tls: cannot set up a connection");
			return;
		}
		h->phase = H2_TLS;
	}
	queue_start(h);
	h2_step(h);
}

static void
h2_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct h2_probe *h = w->data;
	if (h->grpc)
		h2_fail(h, "rpc error: code = DeadlineExceeded desc = context "
		    "deadline exceeded");
	else if (h->phase == H2_DIAL)
		h2_fail(h, "Failed to dial to %s: context deadline exceeded",
		    h->target);
	else
		h2_fail(h, "HTTP2 ping failed: context deadline exceeded");
}

static void
h2_start(struct chk_run *r, bool grpc)
{
	const struct chk_def *d = &r->c->def;
	const char *target = grpc ? d->grpc : d->h2ping;
	struct h2_probe *h = xcalloc(1, sizeof(*h));
	const char *slash = grpc ? strchr(target, '/') : NULL;
	char *hostport = slash ? xstrndup(target, (size_t)(slash - target)) :
	    xstrdup(target);
	struct chk_addr a;
	struct buf err;

	h->p.ops = &h2_ops;
	h->p.run = r;
	h->fd = -1;
	h->grpc = grpc;
	h->target = xstrdup(target);
	h->service = xstrdup(slash ? slash + 1 : "");
	h->tls = grpc ? d->grpc_use_tls : d->h2ping_use_tls;
	h->skip_verify = d->tls_skip_verify;
	buf_init(&h->out);
	buf_init(&h->in);
	buf_init(&h->hblock);
	buf_init(&h->msg);
	buf_init(&h->grpc_message);
	ev_init(&h->io, h2_io_cb);
	ev_timer_init(&h->tm, h2_timeout_cb, (double)r->timeout / 1e9, 0);
	h->tm.data = h;
	buf_init(&err);
	buf_addstr(&err, "dial tcp: ");
	if (chk_addr_parse(hostport, &a, &err) < 0) {
		free(hostport);
		h2_dialed(h, -1, (char *)err.data);
		buf_free(&err);
		return;
	}
	free(hostport);
	buf_free(&err);
	h->host = xstrdup(a.host);
	h->port = xstrdup(a.port);
	chk_addr_free(&a);
	ev_timer_start(r->st->loop, &h->tm);
	r->probe = &h->p;
	h->dial = chk_dial_start(r->st, h->host, h->port, 2 * r->timeout,
	    h2_dialed, h);
}

void
chk_grpc_start(struct chk_run *r)
{
	h2_start(r, true);
}

void
chk_h2ping_start(struct chk_run *r)
{
	h2_start(r, false);
}
