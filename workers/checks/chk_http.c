/*
 * HTTP checks (agent/checks/check.go CheckHTTP), as a non-blocking
 * HTTP/1.1 client on the loop: one connection per round (Consul disables
 * keep-alives), "Connection: close", Go's default headers (User-Agent
 * "Consul Health Check", Accept "text/plain, text/(star), (star)/(star)"),
 * the check's headers, method and body, redirects followed up to 10 unless
 * disable_redirects, TLS through OpenSSL with tls_skip_verify and
 * tls_server_name.  2xx is passing, 429 warning, anything else critical;
 * the output is "HTTP GET <url>: <status line> Output: <body>" with the
 * last output-limit bytes of the body.  Errors read as Go's http.Client
 * words them: `Get "<url>": dial tcp ...: connect: connection refused`.
 */
#include "workers/checks/chk_probe.h"
#include "lib/base64.h"
#include "lib/log.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define MAX_REDIRECTS 10
#define HEAD_MAX (1u << 20)

struct chk_tls {
	SSL_CTX *verify, *noverify;
};

struct url {
	bool https;
	char *host, *port, *hostport, *target, *userinfo, *text;
};

enum phase { P_DIAL, P_TLS, P_WRITE, P_HEAD, P_BODY };
enum chunk { C_SIZE, C_DATA, C_DATA_END, C_TRAILER, C_DONE };

struct http_probe {
	struct chk_probe p;
	struct url u;
	char *method;
	bool with_body;
	int redirects;
	struct chk_dial *dial;
	int fd;
	SSL *ssl;
	ev_io io;
	ev_timer tm;
	enum phase phase;
	struct buf req, head, line;
	size_t req_off;
	int status;
	char *status_text, *location;
	bool chunked, to_eof;
	enum chunk cstate;
	int64_t remain;
	struct chk_ring ring;
};

/* ---- TLS contexts ---- */

int
chk_tls_init(struct chk_state *st)
{
	struct chk_tls *t;
	if (st->tls)
		return 0;
	t = xcalloc(1, sizeof(*t));
	t->verify = SSL_CTX_new(TLS_client_method());
	t->noverify = SSL_CTX_new(TLS_client_method());
	if (t->verify == NULL || t->noverify == NULL) {
		SSL_CTX_free(t->verify);
		SSL_CTX_free(t->noverify);
		free(t);
		return -ENOMEM;
	}
	/* Go's client default: TLS 1.2 at least. */
	SSL_CTX_set_min_proto_version(t->verify, TLS1_2_VERSION);
	SSL_CTX_set_min_proto_version(t->noverify, TLS1_2_VERSION);
	SSL_CTX_set_default_verify_paths(t->verify);
	SSL_CTX_set_verify(t->verify, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_verify(t->noverify, SSL_VERIFY_NONE, NULL);
	st->tls = t;
	return 0;
}

void
chk_tls_free(struct chk_state *st)
{
	if (st->tls == NULL)
		return;
	SSL_CTX_free(st->tls->verify);
	SSL_CTX_free(st->tls->noverify);
	free(st->tls);
	st->tls = NULL;
}

/* ---- URLs ---- */

static void
url_free(struct url *u)
{
	free(u->host);
	free(u->port);
	free(u->hostport);
	free(u->target);
	free(u->userinfo);
	free(u->text);
	memset(u, 0, sizeof(*u));
}

static int
hexval(int c)
{
	return isdigit(c) ? c - '0' : isxdigit(c) ? (tolower(c) - 'a' + 10) :
	    -1;
}

static char *
pct_decode(const char *s, size_t n)
{
	char *o = xmalloc(n + 1), *p = o;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 &&
		    hexval(s[i + 2]) >= 0) {
			*p++ = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		} else
			*p++ = s[i];
	}
	*p = '\0';
	return o;
}

/* The parts Go's http.Client needs from url.Parse. */
static int
url_parse(const char *s, struct url *u, struct buf *err)
{
	const char *p, *auth, *end, *at, *hp;
	memset(u, 0, sizeof(*u));
	u->text = xstrdup(s);
	if ((p = strstr(s, "://")) == NULL || p == s) {
		buf_printf(err, "unsupported protocol scheme \"%.*s\"",
		    p ? (int)(p - s) : 0, s);
		return -EINVAL;
	}
	if ((size_t)(p - s) == 4 && strncasecmp(s, "http", 4) == 0)
		u->https = false;
	else if ((size_t)(p - s) == 5 && strncasecmp(s, "https", 5) == 0)
		u->https = true;
	else {
		buf_printf(err, "unsupported protocol scheme \"%.*s\"",
		    (int)(p - s), s);
		return -EINVAL;
	}
	auth = p + 3;
	end = auth + strcspn(auth, "/?#");
	at = memchr(auth, '@', (size_t)(end - auth));
	hp = at ? at + 1 : auth;
	if (at)
		u->userinfo = pct_decode(auth, (size_t)(at - auth));
	if (hp == end) {
		buf_addstr(err, "http: no Host in request URL");
		return -EINVAL;
	}
	u->hostport = xstrndup(hp, (size_t)(end - hp));
	if (hp[0] == '[') {
		const char *rb = memchr(hp, ']', (size_t)(end - hp));
		if (rb == NULL) {
			buf_printf(err, "parse \"%s\": missing ']' in host", s);
			return -EINVAL;
		}
		u->host = xstrndup(hp + 1, (size_t)(rb - hp - 1));
		u->port = rb + 1 < end && rb[1] == ':' ?
		    xstrndup(rb + 2, (size_t)(end - rb - 2)) : xstrdup("");
	} else {
		const char *c = memchr(hp, ':', (size_t)(end - hp));
		u->host = xstrndup(hp, c ? (size_t)(c - hp) : (size_t)(end - hp));
		u->port = c ? xstrndup(c + 1, (size_t)(end - c - 1)) :
		    xstrdup("");
	}
	if (u->port[0] == '\0') {
		free(u->port);
		u->port = xstrdup(u->https ? "443" : "80");
	}
	if (*end == '/' || *end == '?')
		u->target = xstrndup(end, strcspn(end, "#"));
	else
		u->target = xstrdup("/");
	if (u->target[0] == '?') {
		char *t = xasprintf("/%s", u->target);
		free(u->target);
		u->target = t;
	}
	return 0;
}

/* A Location header against the URL it answered (RFC 3986 5.2, the
 * forms servers send). */
static char *
url_resolve(const struct url *base, const char *loc)
{
	const char *scheme = base->https ? "https" : "http";
	if (strstr(loc, "://") && strcspn(loc, ":") < strcspn(loc, "/?#"))
		return xstrdup(loc);
	if (loc[0] == '/' && loc[1] == '/')
		return xasprintf("%s:%s", scheme, loc);
	if (loc[0] == '/')
		return xasprintf("%s://%s%s", scheme, base->hostport, loc);
	size_t dir = strcspn(base->target, "?");
	while (dir > 0 && base->target[dir - 1] != '/')
		dir--;
	return xasprintf("%s://%s%.*s%s", scheme, base->hostport, (int)dir,
	    base->target, loc);
}

/* ---- request ---- */

static bool
has_header(const struct chk_def *d, const char *name)
{
	for (size_t i = 0; i < d->nheaders; i++)
		if (strcasecmp(d->headers[i].name, name) == 0 &&
		    d->headers[i].nvalues > 0)
			return true;
	return false;
}

static void
build_request(struct http_probe *h)
{
	const struct chk_def *d = &h->p.run->c->def;
	const char *host = h->u.hostport;
	bool body_method = strcmp(h->method, "POST") == 0 ||
	    strcmp(h->method, "PUT") == 0 || strcmp(h->method, "PATCH") == 0;
	size_t blen = h->with_body ? strlen(d->body) : 0;

	buf_reset(&h->req);
	h->req_off = 0;
	for (size_t i = 0; h->redirects == 0 && i < d->nheaders; i++)
		if (strcasecmp(d->headers[i].name, "Host") == 0 &&
		    d->headers[i].nvalues > 0)
			host = d->headers[i].values[0];
	buf_printf(&h->req, "%s %s HTTP/1.1\r\nHost: %s\r\n", h->method,
	    h->u.target, host);
	if (!has_header(d, "User-Agent"))
		buf_addstr(&h->req, "User-Agent: Consul Health Check\r\n");
	if (!has_header(d, "Accept"))
		buf_addstr(&h->req, "Accept: text/plain, text/*, */*\r\n");
	for (size_t i = 0; i < d->nheaders; i++) {
		if (strcasecmp(d->headers[i].name, "Host") == 0 ||
		    strcasecmp(d->headers[i].name, "Content-Length") == 0 ||
		    strcasecmp(d->headers[i].name, "Connection") == 0)
			continue;
		for (size_t k = 0; k < d->headers[i].nvalues; k++)
			buf_printf(&h->req, "%s: %s\r\n", d->headers[i].name,
			    d->headers[i].values[k]);
	}
	if (h->u.userinfo && !has_header(d, "Authorization")) {
		char *b64 = base64_encode(h->u.userinfo, strlen(h->u.userinfo));
		buf_printf(&h->req, "Authorization: Basic %s\r\n", b64);
		free(b64);
	}
	if (blen > 0 || body_method)
		buf_printf(&h->req, "Content-Length: %zu\r\n", blen);
	buf_addstr(&h->req, "Connection: close\r\n\r\n");
	if (blen)
		buf_add(&h->req, d->body, blen);
}

/* ---- connection ---- */

static void
conn_close(struct http_probe *h)
{
	struct ev_loop *loop = h->p.run->st->loop;
	ev_io_stop(loop, &h->io);
	chk_dial_cancel(h->dial);
	h->dial = NULL;
	if (h->ssl) {
		SSL_free(h->ssl);
		h->ssl = NULL;
	}
	if (h->fd >= 0) {
		close(h->fd);
		h->fd = -1;
	}
}

static void
http_free(struct http_probe *h)
{
	conn_close(h);
	ev_timer_stop(h->p.run->st->loop, &h->tm);
	url_free(&h->u);
	free(h->method);
	free(h->status_text);
	free(h->location);
	buf_free(&h->req);
	buf_free(&h->head);
	buf_free(&h->line);
	chk_ring_free(&h->ring);
	free(h);
}

static void
http_cancel(struct chk_probe *p)
{
	http_free((struct http_probe *)p);
}

static const struct chk_probe_ops http_ops = { http_cancel };

static void
http_done(struct http_probe *h, enum chk_status s, const char *out)
{
	struct chk_run *r = h->p.run;
	chk_probe_result(r, s, out);
	http_free(h);
	chk_probe_end(r);
}

/* Go's url.Error: `Get "<url>": <err>` (op is the method, capitalised). */
static void
http_fail(struct http_probe *h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
http_fail(struct http_probe *h, const char *fmt, ...)
{
	struct buf out;
	va_list ap;
	buf_init(&out);
	buf_addch(&out, h->method[0]);
	for (const char *m = h->method + 1; *m; m++)
		buf_addch(&out, (char)tolower((unsigned char)*m));
	buf_printf(&out, " \"%s\": ", h->u.text);
	va_start(ap, fmt);
	char *msg = NULL;
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	buf_addstr(&out, msg ? msg : "error");
	free(msg);
	http_done(h, CHK_CRITICAL, (char *)out.data);
	buf_free(&out);
}

/* The round's answer: Consul's result line from the final response. */
static void
http_complete(struct http_probe *h)
{
	const struct chk_def *d = &h->p.run->c->def;
	const char *method = d->method[0] ? d->method : "GET";
	enum chk_status s = h->status >= 200 && h->status <= 299 ?
	    CHK_PASSING : h->status == 429 ? CHK_WARNING : CHK_CRITICAL;
	struct buf out;
	buf_init(&out);
	buf_printf(&out, "HTTP %s %s: %s Output: ", method, d->http,
	    h->status_text);
	chk_ring_get(&h->ring, &out);
	http_done(h, s, (char *)out.data);
	buf_free(&out);
}

static void http_connect(struct http_probe *h);

/* Client.Do's redirect rules: 301/302/303 turn into GET (HEAD stays),
 * 307/308 repeat the request. */
static void
http_redirect(struct http_probe *h)
{
	struct buf err;
	char *next = url_resolve(&h->u, h->location);
	if (++h->redirects > MAX_REDIRECTS) {
		free(h->u.text);
		h->u.text = next;
		http_fail(h, "stopped after %d redirects", MAX_REDIRECTS);
		return;
	}
	if (h->status <= 303 && strcmp(h->method, "HEAD") != 0) {
		free(h->method);
		h->method = xstrdup("GET");
		h->with_body = false;
	}
	conn_close(h);
	url_free(&h->u);
	buf_init(&err);
	if (url_parse(next, &h->u, &err) < 0) {
		free(next);
		http_fail(h, "%s", (char *)err.data);
		buf_free(&err);
		return;
	}
	free(next);
	buf_free(&err);
	free(h->status_text);
	free(h->location);
	h->status_text = h->location = NULL;
	h->status = 0;
	buf_reset(&h->head);
	chk_ring_free(&h->ring);
	chk_ring_init(&h->ring, chk_output_max(h->p.run->st,
	    &h->p.run->c->def));
	http_connect(h);
}

static void
body_complete(struct http_probe *h)
{
	const struct chk_def *d = &h->p.run->c->def;
	if (h->status >= 301 && h->status <= 308 && h->status != 304 &&
	    h->status != 305 && h->status != 306 && h->location &&
	    !d->disable_redirects)
		http_redirect(h);
	else
		http_complete(h);
}

/* ---- response ---- */

/* RFC 9112 framing of what follows the head. */
static void
body_framing(struct http_probe *h, const char *te, const char *cl)
{
	h->chunked = h->to_eof = false;
	h->remain = 0;
	if (strcmp(h->method, "HEAD") == 0 || h->status == 204 ||
	    h->status == 304)
		return;
	if (te && strcasestr(te, "chunked")) {
		h->chunked = true;
		h->cstate = C_SIZE;
		buf_reset(&h->line);
	} else if (cl)
		h->remain = strtoll(cl, NULL, 10);
	else
		h->to_eof = true;
}

/*
 * Parse the head in h->head[0..len): status line and the headers framing
 * needs.  -1 with a message for a malformed one.
 */
static int
parse_head(struct http_probe *h, size_t len, struct buf *err)
{
	char *text = xstrndup((char *)h->head.data, len), *save = NULL;
	char *line = strtok_r(text, "\n", &save);
	const char *te = NULL, *cl = NULL;
	char *sp;

	if (line && line[0] && line[strlen(line) - 1] == '\r')
		line[strlen(line) - 1] = '\0';
	if (line == NULL || strncmp(line, "HTTP/1.", 7) != 0 ||
	    (sp = strchr(line, ' ')) == NULL) {
		buf_printf(err, "net/http: HTTP/1.x transport connection broken: "
		    "malformed HTTP response \"%s\"", line ? line : "");
		free(text);
		return -1;
	}
	while (*sp == ' ')
		sp++;
	if (!isdigit((unsigned char)sp[0]) || !isdigit((unsigned char)sp[1]) ||
	    !isdigit((unsigned char)sp[2]) || (sp[3] && sp[3] != ' ')) {
		buf_printf(err, "net/http: HTTP/1.x transport connection broken: "
		    "malformed HTTP status code \"%.*s\"", (int)strcspn(sp, " "),
		    sp);
		free(text);
		return -1;
	}
	h->status = atoi(sp);
	free(h->status_text);
	h->status_text = xstrdup(sp);
	free(h->location);
	h->location = NULL;
	while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
		char *colon = strchr(line, ':'), *v;
		size_t vl;
		if (colon == NULL)
			continue;
		*colon = '\0';
		for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
			;
		vl = strlen(v);
		while (vl && (v[vl - 1] == '\r' || v[vl - 1] == ' '))
			v[--vl] = '\0';
		if (strcasecmp(line, "Transfer-Encoding") == 0)
			te = v;
		else if (strcasecmp(line, "Content-Length") == 0)
			cl = v;
		else if (strcasecmp(line, "Location") == 0)
			h->location = xstrdup(v);
	}
	body_framing(h, te, cl);
	free(text);
	return 0;
}

/* Feed body bytes: 1 when the body is complete, 0 for more, -1 bad. */
static int
body_feed(struct http_probe *h, const uint8_t *p, size_t n)
{
	if (!h->chunked) {
		size_t take = h->to_eof ? n : (size_t)MIN((int64_t)n, h->remain);
		chk_ring_write(&h->ring, p, take);
		if (h->to_eof)
			return 0;
		h->remain -= (int64_t)take;
		return h->remain <= 0;
	}
	while (n > 0) {
		if (h->cstate == C_DATA) {
			size_t take = (size_t)MIN((int64_t)n, h->remain);
			chk_ring_write(&h->ring, p, take);
			p += take;
			n -= take;
			if ((h->remain -= (int64_t)take) == 0)
				h->cstate = C_DATA_END;
			continue;
		}
		buf_addch(&h->line, (char)*p);
		p++;
		n--;
		if (h->line.len > 4096)
			return -1;
		if (h->line.data[h->line.len - 1] != '\n')
			continue;
		bool empty = h->line.len <= 2;
		if (h->cstate == C_SIZE) {
			char *end;
			h->remain = strtoll((char *)h->line.data, &end, 16);
			if (end == (char *)h->line.data || h->remain < 0)
				return -1;
			h->cstate = h->remain ? C_DATA : C_TRAILER;
		} else if (h->cstate == C_DATA_END) {
			if (!empty)
				return -1;
			h->cstate = C_SIZE;
		} else if (h->cstate == C_TRAILER && empty) {
			h->cstate = C_DONE;
			return 1;
		}
		buf_reset(&h->line);
	}
	return 0;
}

/* Where the head ends (just past the blank line), or 0. */
static size_t
head_end(const struct buf *b)
{
	for (size_t i = 1; i < b->len; i++)
		if (b->data[i] == '\n' && (b->data[i - 1] == '\n' ||
		    (i >= 2 && b->data[i - 1] == '\r' && b->data[i - 2] == '\n')))
			return i + 1;
	return 0;
}

/* Bytes arrived while reading the head: parse it when complete, skip
 * interim 1xx answers, pass the rest to the body.  false: finished. */
static bool
head_feed(struct http_probe *h)
{
	struct buf err;
	size_t end;
	int r;
	while ((end = head_end(&h->head)) != 0) {
		buf_init(&err);
		if (parse_head(h, end, &err) < 0) {
			http_fail(h, "%s", (char *)err.data);
			buf_free(&err);
			return false;
		}
		buf_free(&err);
		buf_consume(&h->head, end);
		if (h->status >= 100 && h->status < 200 && h->status != 101)
			continue;
		h->phase = P_BODY;
		if (!h->chunked && !h->to_eof && h->remain == 0) {
			body_complete(h);
			return false;
		}
		r = body_feed(h, h->head.data, h->head.len);
		buf_reset(&h->head);
		if (r != 0) {
			if (r < 0)
				http_fail(h, "malformed chunked encoding");
			else
				body_complete(h);
			return false;
		}
		return true;
	}
	if (h->head.len > HEAD_MAX) {
		http_fail(h, "net/http: HTTP/1.x transport connection broken: "
		    "response header too long");
		return false;
	}
	return true;
}

/* ---- I/O ---- */

static void
want(struct http_probe *h, int events)
{
	struct ev_loop *loop = h->p.run->st->loop;
	if (ev_is_active(&h->io) && (h->io.events & (EV_READ | EV_WRITE)) ==
	    events)
		return;
	ev_io_stop(loop, &h->io);
	ev_io_set(&h->io, h->fd, events);
	ev_io_start(loop, &h->io);
}

/* >0 bytes, 0 EOF, -1 wait (want set), -2 error (message in err). */
static ssize_t
xio(struct http_probe *h, bool wr, void *p, size_t n, struct buf *err)
{
	char t[128];
	ssize_t r;
	int e;
	if (h->ssl == NULL) {
		r = wr ? send(h->fd, p, n, MSG_NOSIGNAL) : recv(h->fd, p, n, 0);
		if (r >= 0)
			return r;
		if (errno == EAGAIN || errno == EINTR) {
			want(h, wr ? EV_WRITE : EV_READ);
			return -1;
		}
		buf_printf(err, "%s: %s", wr ? "write" : "read",
		    chk_errstr(errno, t));
		return -2;
	}
	ERR_clear_error();
	errno = 0;
	r = wr ? SSL_write(h->ssl, p, (int)n) : SSL_read(h->ssl, p, (int)n);
	if (r > 0)
		return r;
	switch ((e = SSL_get_error(h->ssl, (int)r))) {
	case SSL_ERROR_WANT_READ:
		want(h, EV_READ);
		return -1;
	case SSL_ERROR_WANT_WRITE:
		want(h, EV_WRITE);
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		if (errno == 0)
			return 0;	/* EOF without close_notify */
		buf_printf(err, "%s: %s", wr ? "write" : "read",
		    chk_errstr(errno, t));
		return -2;
	default:
		buf_printf(err, "tls: %s", ERR_reason_error_string(
		    ERR_peek_last_error()) ? ERR_reason_error_string(
		    ERR_peek_last_error()) : "error");
		return -2;
	}
}

/* false: finished (h freed) or waiting. */
static bool
tls_step(struct http_probe *h)
{
	struct buf msg;
	int r, e;
	ERR_clear_error();
	if ((r = SSL_connect(h->ssl)) == 1) {
		h->phase = P_WRITE;
		return true;
	}
	e = SSL_get_error(h->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		want(h, e == SSL_ERROR_WANT_READ ? EV_READ : EV_WRITE);
		return false;
	}
	buf_init(&msg);
	chk_tls_error(h->ssl, &msg);
	http_fail(h, "%s", (char *)msg.data);
	buf_free(&msg);
	return false;
}

static bool
write_step(struct http_probe *h)
{
	struct buf err;
	while (h->req_off < h->req.len) {
		buf_init(&err);
		ssize_t n = xio(h, true, h->req.data + h->req_off,
		    h->req.len - h->req_off, &err);
		if (n == -2)
			http_fail(h, "%s", (char *)err.data);
		buf_free(&err);
		if (n < 0)
			return false;
		h->req_off += (size_t)n;
	}
	h->phase = P_HEAD;
	return true;
}

static void
read_step(struct http_probe *h)
{
	uint8_t b[16384];
	struct buf err;
	for (;;) {
		buf_init(&err);
		ssize_t n = xio(h, false, b, sizeof(b), &err);
		if (n == -2) {
			if (h->phase == P_BODY)
				http_complete(h);	/* Consul only logs it */
			else
				http_fail(h, "%s", (char *)err.data);
		}
		buf_free(&err);
		if (n < 0)
			return;
		if (n == 0) {
			if (h->phase == P_BODY)
				body_complete(h);
			else
				http_fail(h, "EOF");
			return;
		}
		if (h->phase == P_HEAD) {
			buf_add(&h->head, b, (size_t)n);
			if (!head_feed(h))
				return;
			continue;
		}
		int r = body_feed(h, b, (size_t)n);
		if (r < 0) {
			http_fail(h, "malformed chunked encoding");
			return;
		}
		if (r > 0) {
			body_complete(h);
			return;
		}
	}
}

static void
http_step(struct http_probe *h)
{
	if (h->phase == P_TLS && !tls_step(h))
		return;
	if (h->phase == P_WRITE && !write_step(h))
		return;
	read_step(h);
}

static void
io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	http_step(w->data);
}

static bool
is_ip(const char *host)
{
	struct in6_addr a;
	return inet_pton(AF_INET, host, &a) == 1 ||
	    inet_pton(AF_INET6, host, &a) == 1;
}

SSL *
chk_tls_client(struct chk_state *st, int fd, const char *name,
    bool skip_verify, const unsigned char *alpn, unsigned alpn_len)
{
	SSL *ssl;
	if (chk_tls_init(st) < 0)
		return NULL;
	ssl = SSL_new(skip_verify ? st->tls->noverify : st->tls->verify);
	if (ssl == NULL || SSL_set_fd(ssl, fd) != 1) {
		SSL_free(ssl);
		return NULL;
	}
	SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (!is_ip(name))
		SSL_set_tlsext_host_name(ssl, name);
	if (!skip_verify) {
		if (is_ip(name))
			X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name);
		else
			SSL_set1_host(ssl, name);
	}
	if (alpn)
		SSL_set_alpn_protos(ssl, alpn, alpn_len);
	return ssl;
}

void
chk_tls_error(SSL *ssl, struct buf *out)
{
	long v = SSL_get_verify_result(ssl);
	unsigned long e = ERR_peek_last_error();
	if (v != X509_V_OK)
		buf_printf(out, "tls: failed to verify certificate: x509: %s",
		    X509_verify_cert_error_string(v));
	else if (e && ERR_reason_error_string(e))
		buf_printf(out, "tls: %s", ERR_reason_error_string(e));
	else
		buf_addstr(out, "EOF");
}

static int
tls_setup(struct http_probe *h)
{
	const struct chk_def *d = &h->p.run->c->def;
	h->ssl = chk_tls_client(h->p.run->st, h->fd, d->tls_server_name[0] ?
	    d->tls_server_name : h->u.host, d->tls_skip_verify, NULL, 0);
	return h->ssl ? 0 : -1;
}

static void
dialed(void *arg, int fd, const char *error)
{
	struct http_probe *h = arg;
	h->dial = NULL;
	if (fd < 0) {
		http_fail(h, "%s", error);
		return;
	}
	h->fd = fd;
	build_request(h);
	ev_io_init(&h->io, io_cb, fd, EV_WRITE);
	h->io.data = h;
	h->phase = P_WRITE;
	if (h->u.https) {
		if (tls_setup(h) < 0) {
			http_fail(h, "tls: cannot set up a connection");
			return;
		}
		h->phase = P_TLS;
	}
	http_step(h);
}

static void
http_connect(struct http_probe *h)
{
	h->phase = P_DIAL;
	/* The client timeout below is the one that fires. */
	h->dial = chk_dial_start(h->p.run->st, h->u.host, h->u.port,
	    2 * h->p.run->timeout, dialed, h);
}

/* http.Client.Timeout: before the head arrives it is an error; while
 * reading the body Consul still judges the status it got. */
static void
timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct http_probe *h = w->data;
	if (h->phase == P_BODY)
		http_complete(h);
	else
		http_fail(h, "context deadline exceeded (Client.Timeout "
		    "exceeded while awaiting headers)");
}

void
chk_http_start(struct chk_run *r)
{
	const struct chk_def *d = &r->c->def;
	struct http_probe *h = xcalloc(1, sizeof(*h));
	struct buf err;

	h->p.ops = &http_ops;
	h->p.run = r;
	h->fd = -1;
	h->method = xstrdup(d->method[0] ? d->method : "GET");
	h->with_body = true;
	buf_init(&h->req);
	buf_init(&h->head);
	buf_init(&h->line);
	chk_ring_init(&h->ring, chk_output_max(r->st, d));
	ev_init(&h->io, io_cb);
	ev_timer_init(&h->tm, timeout_cb, (double)r->timeout / 1e9, 0);
	h->tm.data = h;
	buf_init(&err);
	if (url_parse(d->http, &h->u, &err) < 0) {
		free(h->u.text);
		h->u.text = xstrdup(d->http);
		http_fail(h, "%s", (char *)err.data);
		buf_free(&err);
		return;
	}
	buf_free(&err);
	ev_timer_start(r->st->loop, &h->tm);
	r->probe = &h->p;
	http_connect(h);
}
