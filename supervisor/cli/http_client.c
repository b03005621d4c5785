/*
 * Blocking HTTP/1.1 client (see http_client.h).  Sockets are non-blocking
 * underneath so that every wait goes through poll(2) with a deadline; the
 * caller still sees one call that returns when the response is complete.
 *
 * Message syntax and body framing follow RFC 9112: a status line, header
 * fields up to an empty line, then a body framed by Transfer-Encoding
 * chunked (§7.1), Content-Length (§6.2) or the close of the connection
 * (§6.3 rule 8).  Responses to HEAD and 1xx/204/304 have no body.
 */
#include "supervisor/cli/http_client.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define HC_LINE_MAX	(64 * 1024)
#define HC_HEAD_MAX	(1024 * 1024)
#define HC_BODY_MAX	(64u * 1024 * 1024)
#define HC_DIAL_MS	30000

struct hconn {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	int io_timeout_ms;
	char peer[300];		/* "tcp 127.0.0.1:8500", for messages */
	uint8_t rbuf[16384];
	size_t roff, rlen;
};

const char *
cli_errstr(int e, char *out, size_t len)
{
	snprintf(out, len, "%s", strerror(e));
	if (out[0] && isupper((unsigned char)out[0]) &&
	    !(out[1] && isupper((unsigned char)out[1])))
		out[0] = (char)tolower((unsigned char)out[0]);
	return out;
}

static bool
is_ip_literal(const char *s)
{
	unsigned char tmp[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, s, tmp) == 1 ||
	    inet_pton(AF_INET6, s, tmp) == 1;
}

/* Wait for events on fd; timeout_ms 0 waits forever.  0 or -errno. */
static int
wait_fd(int fd, short events, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = events };
	uint64_t deadline = mono_ms() + (uint64_t)timeout_ms;

	for (;;) {
		int left = -1, r;

		if (timeout_ms > 0) {
			uint64_t now = mono_ms();
			if (now >= deadline)
				return -ETIMEDOUT;
			left = (int)(deadline - now);
		}
		r = poll(&p, 1, left);
		if (r > 0)
			return 0;
		if (r == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

static void
sockaddr_text(const struct sockaddr *sa, char *out, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;
		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
		snprintf(out, len, "[%s]:%u", a, ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const void *)sa;
		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		snprintf(out, len, "%s:%u", a, ntohs(s4->sin_port));
	}
}

/* Connect one resolved address within timeout_ms; the fd or -errno. */
static int
dial_addr(const struct addrinfo *ai, int timeout_ms)
{
	int fd, e, soerr = 0;
	socklen_t sl = sizeof(soerr);

	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd < 0)
		return -errno;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return fd;
	if (errno != EINPROGRESS) {
		e = -errno;
		goto fail;
	}
	if ((e = wait_fd(fd, POLLOUT, timeout_ms)) < 0)
		goto fail;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
		soerr = errno;
	if (soerr == 0)
		return fd;
	e = -soerr;
fail:
	close(fd);
	return e;
}

static int
dial_tcp(const struct cli_http_target *t, struct hconn *c, struct buf *err)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM }, *res, *ai;
	int timeout = t->connect_timeout_ms ? t->connect_timeout_ms :
	    HC_DIAL_MS;
	uint64_t deadline = mono_ms() + (uint64_t)timeout;
	char addr[INET6_ADDRSTRLEN + 16] = "", es[128];
	int r, e = -EHOSTUNREACH;

	r = getaddrinfo(t->host, t->port, &hints, &res);
	if (r != 0) {
		buf_printf(err, "dial tcp: lookup %s: %s", t->host,
		    r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
		return -EHOSTUNREACH;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		uint64_t now = mono_ms();

		sockaddr_text(ai->ai_addr, addr, sizeof(addr));
		if (now >= deadline) {
			e = -ETIMEDOUT;
			break;
		}
		if ((e = dial_addr(ai, (int)(deadline - now))) >= 0)
			break;
	}
	freeaddrinfo(res);
	if (e < 0) {
		if (e == -ETIMEDOUT)
			buf_printf(err, "dial tcp %s: i/o timeout", addr);
		else
			buf_printf(err, "dial tcp %s: connect: %s", addr,
			    cli_errstr(-e, es, sizeof(es)));
		return e;
	}
	c->fd = e;
	snprintf(c->peer, sizeof(c->peer), "tcp %s", addr);
	return 0;
}

static int
dial_unix(const struct cli_http_target *t, struct hconn *c, struct buf *err)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char es[128];
	int fd, e;

	if (strlen(t->sock_path) >= sizeof(sun.sun_path)) {
		buf_printf(err, "dial unix %s: path too long", t->sock_path);
		return -ENAMETOOLONG;
	}
	strlcpy_m(sun.sun_path, t->sock_path, sizeof(sun.sun_path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		e = -errno;
		buf_printf(err, "dial unix %s: socket: %s", t->sock_path,
		    cli_errstr(-e, es, sizeof(es)));
		return e;
	}
	/* A local connect completes at once or fails; no need to poll. */
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    fd_set_nonblock(fd, true) < 0) {
		e = -errno;
		close(fd);
		buf_printf(err, "dial unix %s: connect: %s", t->sock_path,
		    cli_errstr(-e, es, sizeof(es)));
		return e;
	}
	c->fd = fd;
	snprintf(c->peer, sizeof(c->peer), "unix %s", t->sock_path);
	return 0;
}

/* The newest OpenSSL error as text, or fallback when the queue is empty. */
static const char *
ssl_errstr(char *out, size_t len, const char *fallback)
{
	unsigned long e = ERR_peek_last_error();

	if (e == 0)
		snprintf(out, len, "%s", fallback);
	else
		ERR_error_string_n(e, out, len);
	ERR_clear_error();
	return out;
}

static int
tls_ctx(const struct cli_http_target *t, struct hconn *c, struct buf *err)
{
	char es[256];

	if ((c->ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		buf_printf(err, "tls: %s", ssl_errstr(es, sizeof(es), "init"));
		return -ENOMEM;
	}
	SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
	/* Servers that close without close_notify end the body (§6.3). */
	SSL_CTX_set_options(c->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
	if ((t->cert_file != NULL) != (t->key_file != NULL)) {
		buf_printf(err, "both client cert and client key must be "
		    "provided");
		return -EINVAL;
	}
	if (t->cert_file &&
	    (SSL_CTX_use_certificate_chain_file(c->ctx, t->cert_file) != 1 ||
	    SSL_CTX_use_PrivateKey_file(c->ctx, t->key_file,
	    SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(c->ctx) != 1)) {
		buf_printf(err, "tls: loading client certificate %s: %s",
		    t->cert_file, ssl_errstr(es, sizeof(es), "failed"));
		return -EINVAL;
	}
	if (t->ca_file || t->ca_path) {
		if (SSL_CTX_load_verify_locations(c->ctx, t->ca_file,
		    t->ca_path) != 1) {
			buf_printf(err, "tls: loading CA %s: %s",
			    t->ca_file ? t->ca_file : t->ca_path,
			    ssl_errstr(es, sizeof(es), "failed"));
			return -EINVAL;
		}
	} else
		SSL_CTX_set_default_verify_paths(c->ctx);
	SSL_CTX_set_verify(c->ctx, t->insecure ? SSL_VERIFY_NONE :
	    SSL_VERIFY_PEER, NULL);
	return 0;
}

/*
 * Name the server for SNI and for verification, as Go's crypto/tls does:
 * -tls-server-name if given (a ":port" is dropped), else the host.  SNI
 * carries DNS names only (RFC 6066 §3); an IP is checked against the
 * certificate's IP SANs.
 */
static int
tls_name(const struct cli_http_target *t, SSL *ssl)
{
	char name[256];
	const char *n = t->server_name && *t->server_name ? t->server_name :
	    t->host;
	char *colon;

	snprintf(name, sizeof(name), "%s", n);
	if (name[0] == '[') {
		memmove(name, name + 1, strlen(name));
		if ((colon = strchr(name, ']')) != NULL)
			*colon = '\0';
	} else if ((colon = strchr(name, ':')) != NULL &&
	    strchr(colon + 1, ':') == NULL)
		*colon = '\0';
	if (!is_ip_literal(name))
		SSL_set_tlsext_host_name(ssl, name);
	if (t->insecure)
		return 0;
	if (is_ip_literal(name))
		return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
		    name) == 1 ? 0 : -EINVAL;
	return SSL_set1_host(ssl, name) == 1 ? 0 : -EINVAL;
}

static void
tls_error(struct hconn *c, struct buf *err)
{
	long v = SSL_get_verify_result(c->ssl);
	char es[256];

	if (v != X509_V_OK)
		buf_printf(err, "tls: failed to verify certificate: %s",
		    X509_verify_cert_error_string(v));
	else
		buf_printf(err, "tls: handshake with %s failed: %s", c->peer,
		    ssl_errstr(es, sizeof(es), "connection closed"));
}

static int
tls_start(const struct cli_http_target *t, struct hconn *c, struct buf *err)
{
	int r, timeout = t->connect_timeout_ms ? t->connect_timeout_ms :
	    HC_DIAL_MS;
	char es[256];

	if ((r = tls_ctx(t, c, err)) < 0)
		return r;
	if ((c->ssl = SSL_new(c->ctx)) == NULL ||
	    SSL_set_fd(c->ssl, c->fd) != 1 || tls_name(t, c->ssl) < 0) {
		buf_printf(err, "tls: %s", ssl_errstr(es, sizeof(es),
		    "cannot set up the connection"));
		return -EINVAL;
	}
	for (;;) {
		short ev;

		ERR_clear_error();
		if ((r = SSL_connect(c->ssl)) == 1)
			return 0;
		switch (SSL_get_error(c->ssl, r)) {
		case SSL_ERROR_WANT_READ:
			ev = POLLIN;
			break;
		case SSL_ERROR_WANT_WRITE:
			ev = POLLOUT;
			break;
		default:
			tls_error(c, err);
			return -EPROTO;
		}
		if ((r = wait_fd(c->fd, ev, timeout)) < 0) {
			buf_printf(err, "net/http: TLS handshake timeout");
			return r;
		}
	}
}

/* >0 bytes read, 0 at end of stream, or -errno. */
static ssize_t
conn_recv(struct hconn *c, void *p, size_t n)
{
	for (;;) {
		short ev = POLLIN;
		int r;

		if (c->ssl) {
			ERR_clear_error();
			r = SSL_read(c->ssl, p, (int)MIN(n, (size_t)INT_MAX));
			if (r > 0)
				return r;
			switch (SSL_get_error(c->ssl, r)) {
			case SSL_ERROR_ZERO_RETURN:
				return 0;
			case SSL_ERROR_WANT_READ:
				break;
			case SSL_ERROR_WANT_WRITE:
				ev = POLLOUT;
				break;
			case SSL_ERROR_SYSCALL:
				return errno ? -errno : 0;
			default:
				return -EPROTO;
			}
		} else {
			ssize_t k = recv(c->fd, p, n, 0);
			if (k >= 0)
				return k;
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return -errno;
		}
		if ((r = wait_fd(c->fd, ev, c->io_timeout_ms)) < 0)
			return r;
	}
}

/* Write all of p; 0 or -errno. */
static int
conn_send(struct hconn *c, const void *p, size_t n)
{
	const uint8_t *q = p;

	while (n > 0) {
		short ev = POLLOUT;
		int r;

		if (c->ssl) {
			ERR_clear_error();
			r = SSL_write(c->ssl, q, (int)MIN(n, (size_t)INT_MAX));
			if (r > 0) {
				q += r;
				n -= (size_t)r;
				continue;
			}
			switch (SSL_get_error(c->ssl, r)) {
			case SSL_ERROR_WANT_READ:
				ev = POLLIN;
				break;
			case SSL_ERROR_WANT_WRITE:
				break;
			case SSL_ERROR_SYSCALL:
				return errno ? -errno : -EPIPE;
			default:
				return -EPROTO;
			}
		} else {
			ssize_t k = send(c->fd, q, n, MSG_NOSIGNAL);
			if (k >= 0) {
				q += k;
				n -= (size_t)k;
				continue;
			}
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return -errno;
		}
		if ((r = wait_fd(c->fd, ev, c->io_timeout_ms)) < 0)
			return r;
	}
	return 0;
}

static void
io_error(struct hconn *c, const char *op, int e, struct buf *err)
{
	char es[128];

	if (e == -ETIMEDOUT)
		buf_printf(err, "%s %s: i/o timeout", op, c->peer);
	else if (e == -EPROTO && c->ssl)
		buf_printf(err, "%s %s: tls: %s", op, c->peer,
		    ssl_errstr(es, sizeof(es), "protocol error"));
	else
		buf_printf(err, "%s %s: %s", op, c->peer,
		    cli_errstr(-e, es, sizeof(es)));
}

/* Buffered reads.  >0 bytes, 0 at end of stream, or -errno. */
static ssize_t
rd_read(struct hconn *c, void *p, size_t n)
{
	if (c->roff == c->rlen) {
		ssize_t k = conn_recv(c, c->rbuf, sizeof(c->rbuf));
		if (k <= 0)
			return k;
		c->roff = 0;
		c->rlen = (size_t)k;
	}
	n = MIN(n, c->rlen - c->roff);
	memcpy(p, c->rbuf + c->roff, n);
	c->roff += n;
	return (ssize_t)n;
}

/*
 * One line without its CRLF (a bare LF is accepted, RFC 9112 §2.2).
 * 0, -ENODATA at end of stream before any byte, -EPIPE at end of stream
 * inside the line, -EMSGSIZE past max, or -errno.
 */
static int
rd_line(struct hconn *c, struct buf *line, size_t max)
{
	buf_reset(line);
	for (;;) {
		uint8_t *nl;
		size_t n;

		if (c->roff == c->rlen) {
			ssize_t k = conn_recv(c, c->rbuf, sizeof(c->rbuf));
			if (k < 0)
				return (int)k;
			if (k == 0)
				return line->len ? -EPIPE : -ENODATA;
			c->roff = 0;
			c->rlen = (size_t)k;
		}
		nl = memchr(c->rbuf + c->roff, '\n', c->rlen - c->roff);
		n = nl ? (size_t)(nl - (c->rbuf + c->roff)) : c->rlen - c->roff;
		if (line->len + n > max)
			return -EMSGSIZE;
		buf_add(line, c->rbuf + c->roff, n);
		c->roff += n;
		if (nl) {
			c->roff++;
			if (line->len && line->data[line->len - 1] == '\r')
				line->data[--line->len] = '\0';
			return 0;
		}
	}
}

void
cli_http_resp_init(struct cli_http_resp *r)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->body);
}

static void
resp_clear_headers(struct cli_http_resp *r)
{
	size_t i;

	for (i = 0; i < r->nhdrs; i++) {
		free(r->hdrs[i].name);
		free(r->hdrs[i].value);
	}
	free(r->hdrs);
	r->hdrs = NULL;
	r->nhdrs = 0;
}

void
cli_http_resp_free(struct cli_http_resp *r)
{
	resp_clear_headers(r);
	buf_free(&r->body);
	r->status = 0;
}

const char *
cli_http_resp_header(const struct cli_http_resp *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->nhdrs; i++)
		if (strcasecmp(r->hdrs[i].name, name) == 0)
			return r->hdrs[i].value;
	return NULL;
}

void
cli_http_target_free(struct cli_http_target *t)
{
	free(t->host);
	free(t->port);
	free(t->sock_path);
	free(t->prefix);
	free(t->ca_file);
	free(t->ca_path);
	free(t->cert_file);
	free(t->key_file);
	free(t->server_name);
	memset(t, 0, sizeof(*t));
}

/* Request ------------------------------------------------------------ */

static bool
no_ctl(const char *s)
{
	for (; *s; s++)
		if (*s == '\r' || *s == '\n')
			return false;
	return true;
}

static bool
method_has_body(const char *m)
{
	return strcmp(m, "PUT") == 0 || strcmp(m, "POST") == 0 ||
	    strcmp(m, "PATCH") == 0;
}

static int
build_head(const struct cli_http_target *t, const struct cli_http_req *req,
    struct buf *h, struct buf *err)
{
	const char *const *hp;
	bool has_ct = false;

	if (!no_ctl(req->method) || !no_ctl(req->path) ||
	    strpbrk(req->path, " \t") || req->path[0] != '/') {
		buf_printf(err, "net/http: invalid request path \"%s\"",
		    req->path);
		return -EINVAL;
	}
	buf_printf(h, "%s %s%s HTTP/1.1\r\n", req->method,
	    t->prefix ? t->prefix : "", req->path);
	if (t->unix_sock)
		buf_addstr(h, "Host: localhost\r\n");
	else if (strchr(t->host, ':'))
		buf_printf(h, "Host: [%s]:%s\r\n", t->host, t->port);
	else
		buf_printf(h, "Host: %s:%s\r\n", t->host, t->port);
	buf_addstr(h, "User-Agent: muster/" MUSTER_VERSION "\r\n");
	buf_addstr(h, "Connection: close\r\n");
	for (hp = req->headers; hp && *hp; hp++) {
		if (!no_ctl(*hp) || strchr(*hp, ':') == NULL) {
			buf_printf(err, "net/http: invalid header \"%s\"", *hp);
			return -EINVAL;
		}
		if (strncasecmp(*hp, "Content-Type:", 13) == 0)
			has_ct = true;
		buf_printf(h, "%s\r\n", *hp);
	}
	if (req->body_len || method_has_body(req->method))
		buf_printf(h, "Content-Length: %zu\r\n", req->body_len);
	/* The Go API client always labels a body as JSON (consul#10011). */
	if (req->body_len && !has_ct)
		buf_addstr(h, "Content-Type: application/json\r\n");
	buf_addstr(h, "\r\n");
	return 0;
}

static int
send_request(const struct cli_http_target *t, const struct cli_http_req *req,
    struct hconn *c, struct buf *err)
{
	struct buf h;
	int r;

	buf_init(&h);
	r = build_head(t, req, &h, err);
	if (r == 0)
		r = conn_send(c, h.data, h.len);
	if (r == 0 && req->body_len)
		r = conn_send(c, req->body, req->body_len);
	if (r < 0 && r != -EINVAL)
		io_error(c, "write", r, err);
	buf_free(&h);
	return r;
}

/* Response ----------------------------------------------------------- */

static int
line_error(struct hconn *c, int e, struct buf *err)
{
	if (e == -ENODATA || e == -EPIPE)
		buf_printf(err, "%s", e == -ENODATA ? "EOF" : "unexpected EOF");
	else if (e == -EMSGSIZE)
		buf_printf(err, "net/http: response line or header too long");
	else
		io_error(c, "read", e, err);
	return e == -ENODATA ? -EPIPE : e;
}

static int
parse_status(const char *s, int *status)
{
	if (strncmp(s, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)s[7]) ||
	    s[8] != ' ' || !isdigit((unsigned char)s[9]) ||
	    !isdigit((unsigned char)s[10]) || !isdigit((unsigned char)s[11]) ||
	    (s[12] != '\0' && s[12] != ' '))
		return -EPROTO;
	*status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
	return 0;
}

static int
add_header(struct cli_http_resp *r, char *line)
{
	char *colon = strchr(line, ':'), *v, *end;
	struct cli_http_hdr *h;

	/* field-name is a token: no whitespace, no obsolete folding. */
	if (colon == NULL || colon == line ||
	    strcspn(line, " \t") < (size_t)(colon - line))
		return -EPROTO;
	for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
		;
	for (end = v + strlen(v); end > v && (end[-1] == ' ' ||
	    end[-1] == '\t'); end--)
		;
	r->hdrs = xrealloc(r->hdrs, (r->nhdrs + 1) * sizeof(*r->hdrs));
	h = &r->hdrs[r->nhdrs++];
	h->name = xstrndup(line, (size_t)(colon - line));
	h->value = xstrndup(v, (size_t)(end - v));
	return 0;
}

/* Status line and header fields; 1xx interim responses are skipped. */
static int
read_head(struct hconn *c, struct cli_http_resp *r, struct buf *err)
{
	struct buf line;
	size_t total;
	int e;

	buf_init(&line);
	do {
		resp_clear_headers(r);
		if ((e = rd_line(c, &line, HC_LINE_MAX)) < 0) {
			e = line_error(c, e, err);
			goto out;
		}
		if ((e = parse_status((char *)line.data, &r->status)) < 0) {
			buf_printf(err, "malformed HTTP response \"%.80s\"",
			    (char *)line.data);
			goto out;
		}
		for (total = 0;;) {
			if ((e = rd_line(c, &line, HC_LINE_MAX)) < 0) {
				e = line_error(c, e == -ENODATA ? -EPIPE : e,
				    err);
				goto out;
			}
			if (line.len == 0)
				break;
			if ((total += line.len) > HC_HEAD_MAX) {
				buf_printf(err, "net/http: server response "
				    "headers exceeded %d bytes", HC_HEAD_MAX);
				e = -EMSGSIZE;
				goto out;
			}
			if ((e = add_header(r, (char *)line.data)) < 0) {
				buf_printf(err, "malformed MIME header line: "
				    "%.80s", (char *)line.data);
				goto out;
			}
		}
	} while (r->status / 100 == 1 && r->status != 101);
	e = 0;
out:
	buf_free(&line);
	return e;
}

struct sink {
	const struct cli_http_req *req;
	struct cli_http_resp *resp;
	size_t max;
};

static int
sink_put(struct sink *s, const void *p, size_t n, struct buf *err)
{
	if (s->req->on_body) {
		if (s->req->on_body(s->req->arg, p, n) != 0) {
			buf_printf(err, "response body rejected by the reader");
			return -ECANCELED;
		}
		return 0;
	}
	if (s->resp->body.len + n > s->max) {
		buf_printf(err, "response body larger than %zu bytes", s->max);
		return -EFBIG;
	}
	buf_add(&s->resp->body, p, n);
	return 0;
}

/* Exactly n body bytes, or to the end of the stream when to_eof. */
static int
read_n(struct hconn *c, struct sink *s, uint64_t n, bool to_eof,
    struct buf *err)
{
	uint8_t tmp[16384];
	int e;

	while (to_eof || n > 0) {
		ssize_t k = rd_read(c, tmp, to_eof ? sizeof(tmp) :
		    (size_t)MIN(n, (uint64_t)sizeof(tmp)));
		if (k == 0 && to_eof)
			return 0;
		if (k == 0) {
			buf_printf(err, "unexpected EOF");
			return -EPIPE;
		}
		if (k < 0) {
			io_error(c, "read", (int)k, err);
			return (int)k;
		}
		if ((e = sink_put(s, tmp, (size_t)k, err)) < 0)
			return e;
		if (!to_eof)
			n -= (uint64_t)k;
	}
	return 0;
}

/* chunk-size [ chunk-ext ] (RFC 9112 §7.1); the extension is ignored. */
static int
chunk_size(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	int n = 0;

	for (; isxdigit((unsigned char)*s); s++, n++) {
		if (v > (UINT64_MAX >> 4))
			return -ERANGE;
		v = v << 4 | (uint64_t)(isdigit((unsigned char)*s) ? *s - '0' :
		    (tolower((unsigned char)*s) - 'a' + 10));
	}
	while (*s == ' ' || *s == '\t')
		s++;
	if (n == 0 || (*s != '\0' && *s != ';'))
		return -EPROTO;
	*out = v;
	return 0;
}

static int
read_chunked(struct hconn *c, struct sink *s, struct buf *err)
{
	struct buf line;
	uint64_t n;
	int e;

	buf_init(&line);
	for (;;) {
		if ((e = rd_line(c, &line, HC_LINE_MAX)) < 0)
			goto lerr;
		if (chunk_size((char *)line.data, &n) < 0) {
			buf_printf(err, "malformed chunked encoding: bad chunk "
			    "size \"%.40s\"", (char *)line.data);
			e = -EPROTO;
			goto out;
		}
		if (n == 0)
			break;
		if ((e = read_n(c, s, n, false, err)) < 0)
			goto out;
		if ((e = rd_line(c, &line, HC_LINE_MAX)) < 0)
			goto lerr;
		if (line.len != 0) {
			buf_printf(err, "malformed chunked encoding: missing "
			    "CRLF after chunk data");
			e = -EPROTO;
			goto out;
		}
	}
	/* Trailer fields, up to the empty line; their content is unused. */
	do {
		if ((e = rd_line(c, &line, HC_LINE_MAX)) < 0)
			goto lerr;
	} while (line.len != 0);
	e = 0;
	goto out;
lerr:
	e = line_error(c, e == -ENODATA ? -EPIPE : e, err);
out:
	buf_free(&line);
	return e;
}

/* Transfer-Encoding whose final coding is chunked (RFC 9112 §6.3). */
static bool
te_chunked(const char *te)
{
	const char *last = strrchr(te, ',');
	size_t n;

	last = last ? last + 1 : te;
	while (*last == ' ' || *last == '\t')
		last++;
	n = strcspn(last, " \t;");
	return n == 7 && strncasecmp(last, "chunked", 7) == 0;
}

static int
read_body(struct hconn *c, const struct cli_http_req *req,
    struct cli_http_resp *r, struct buf *err)
{
	struct sink s = { req, r, req->max_body ? req->max_body : HC_BODY_MAX };
	const char *te = cli_http_resp_header(r, "Transfer-Encoding");
	const char *cl = cli_http_resp_header(r, "Content-Length");
	uint64_t n = 0;
	const char *p;

	if (strcmp(req->method, "HEAD") == 0 || r->status / 100 == 1 ||
	    r->status == 204 || r->status == 304)
		return 0;
	if (te)
		return te_chunked(te) ? read_chunked(c, &s, err) :
		    read_n(c, &s, 0, true, err);
	if (cl == NULL)
		return read_n(c, &s, 0, true, err);
	for (p = cl; *p; p++) {
		if (!isdigit((unsigned char)*p) || n > (UINT64_MAX - 9) / 10) {
			buf_printf(err, "bad Content-Length \"%.40s\"", cl);
			return -EPROTO;
		}
		n = n * 10 + (uint64_t)(*p - '0');
	}
	if (p == cl) {
		buf_printf(err, "bad Content-Length \"\"");
		return -EPROTO;
	}
	return read_n(c, &s, n, false, err);
}

static void
conn_close(struct hconn *c)
{
	if (c->ssl) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	SSL_CTX_free(c->ctx);
	if (c->fd >= 0)
		close(c->fd);
	ERR_clear_error();
}

int
cli_http_do(const struct cli_http_target *t, const struct cli_http_req *req,
    struct cli_http_resp *resp, struct buf *err)
{
	struct hconn *c = xcalloc(1, sizeof(*c));
	struct buf werr;
	int r, wr;

	c->fd = -1;
	c->io_timeout_ms = t->io_timeout_ms;
	resp_clear_headers(resp);
	buf_reset(&resp->body);
	resp->status = 0;
	buf_init(&werr);
	r = t->unix_sock ? dial_unix(t, c, err) : dial_tcp(t, c, err);
	if (r == 0 && t->tls)
		r = tls_start(t, c, err);
	if (r < 0)
		goto out;
	/*
	 * A server may answer and close before reading the whole body (a 413
	 * for a large PUT): after a failed write, its response still counts.
	 */
	if ((wr = send_request(t, req, c, &werr)) == -EINVAL) {
		buf_add(err, werr.data, werr.len);
		r = wr;
		goto out;
	}
	if (wr < 0) {
		struct buf rerr;

		buf_init(&rerr);
		r = read_head(c, resp, &rerr);
		buf_free(&rerr);
		if (r < 0) {
			buf_add(err, werr.data, werr.len);
			r = wr;
			goto out;
		}
	} else if ((r = read_head(c, resp, err)) < 0)
		goto out;
	r = read_body(c, req, resp, err);
out:
	buf_free(&werr);
	conn_close(c);
	free(c);
	return r;
}
