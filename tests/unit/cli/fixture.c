/*
 * The fake agent for the CLI tests (see fixture.h).  It runs in its own
 * process so that the CLI under test runs in the test process, single
 * threaded, exactly as in `muster`.
 */
#include "fixture.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

struct fx_conn {
	int fd;
	SSL *ssl;
};

static ssize_t
c_read(struct fx_conn *c, void *p, size_t n)
{
	if (c->ssl) {
		int r = SSL_read(c->ssl, p, (int)n);
		return r > 0 ? r : (SSL_get_error(c->ssl, r) ==
		    SSL_ERROR_ZERO_RETURN ? 0 : -1);
	}
	return read(c->fd, p, n);
}

static void
c_write(struct fx_conn *c, const void *p, size_t n)
{
	const char *q = p;

	while (n > 0) {
		ssize_t k = c->ssl ? SSL_write(c->ssl, q, (int)n) :
		    send(c->fd, q, n, MSG_NOSIGNAL);
		if (k <= 0)
			return;
		q += k;
		n -= (size_t)k;
	}
}

static void
c_printf(struct fx_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
c_printf(struct fx_conn *c, const char *fmt, ...)
{
	char b[8192];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(b, sizeof(b), fmt, ap);
	va_end(ap);
	c_write(c, b, (size_t)n);
}

static void
copy_str(char *dst, size_t len, const char *src)
{
	size_t n = strlen(src);

	n = n < len ? n : len - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Read the head and a Content-Length body; the request-target. */
static bool
read_request(struct fx_conn *c, struct fx_record *rec, char *method,
    char *target)
{
	char buf[20000];
	size_t len = 0;
	char *end = NULL, *cl;
	size_t want = 0, have;

	while (end == NULL && len < sizeof(buf) - 1) {
		ssize_t k = c_read(c, buf + len, sizeof(buf) - 1 - len);
		if (k <= 0)
			return false;
		len += (size_t)k;
		buf[len] = '\0';
		end = strstr(buf, "\r\n\r\n");
	}
	if (end == NULL)
		return false;
	*end = '\0';
	copy_str(rec->head, sizeof(rec->head), buf);
	if (sscanf(buf, "%15s %1023s", method, target) != 2)
		return false;
	if ((cl = strcasestr(buf, "\r\nContent-Length:")) != NULL)
		want = strtoul(cl + 17, NULL, 10);
	have = len - (size_t)(end + 4 - buf);
	memmove(buf, end + 4, have);
	while (have < want && have < sizeof(buf) - 1) {
		ssize_t k = c_read(c, buf + have, sizeof(buf) - 1 - have);
		if (k <= 0)
			break;
		have += (size_t)k;
	}
	buf[have] = '\0';
	copy_str(rec->body, sizeof(rec->body), buf);
	rec->nreq++;
	return true;
}

static void
send_chunked(struct fx_conn *c, const char *body)
{
	size_t n = strlen(body), off = 0, k;
	int i = 0;

	while (off < n) {
		k = n - off < 7 ? n - off : 7;
		/* Upper-case hex and an extension on every other chunk. */
		if (i++ % 2)
			c_printf(c, "%zX;ext=\"x\"\r\n", k);
		else
			c_printf(c, "%zx\r\n", k);
		c_write(c, body + off, k);
		c_write(c, "\r\n", 2);
		off += k;
	}
	c_printf(c, "0\r\nX-Trailer: done\r\n\r\n");
}

static void
respond(struct fx_conn *c, const struct fx_route *r)
{
	const char *reason = r->status == 200 ? "OK" : "Error";
	const char *ctype = r->status == 200 ? "application/json" :
	    "text/plain; charset=utf-8";

	switch (r->mode) {
	case FX_RAW:
		c_write(c, r->body, strlen(r->body));
		return;
	case FX_HANG:
		pause();
		return;
	case FX_CHUNKED:
		c_printf(c, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n", r->status, reason,
		    ctype);
		send_chunked(c, r->body);
		return;
	case FX_LENGTH:
		c_printf(c, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
		    "X-Consul-Index: 7\r\nContent-Length: %zu\r\n\r\n%s",
		    r->status, reason, ctype, strlen(r->body), r->body);
		return;
	}
}

static void
serve_one(int fd, SSL_CTX *ctx, const struct fx_route *routes, size_t n,
    struct fx_record *rec)
{
	static const struct fx_route notfound = { "", "", 404, "not found\n",
		FX_LENGTH };
	struct fx_conn c = { .fd = fd };
	char method[16], target[1024];
	const struct fx_route *r = &notfound;
	struct timeval tv = { .tv_sec = 10 };
	size_t i;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (ctx) {
		c.ssl = SSL_new(ctx);
		SSL_set_fd(c.ssl, fd);
		if (SSL_accept(c.ssl) != 1)
			goto out;
	}
	if (!read_request(&c, rec, method, target))
		goto out;
	for (i = 0; i < n; i++)
		if (strcmp(routes[i].method, method) == 0 &&
		    strcmp(routes[i].target, target) == 0) {
			r = &routes[i];
			break;
		}
	respond(&c, r);
out:
	if (c.ssl) {
		SSL_shutdown(c.ssl);
		SSL_free(c.ssl);
	}
	close(fd);
}

static SSL_CTX *
server_ctx(const struct fx_tls *tls)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	ck_assert(ctx != NULL);
	ck_assert_int_eq(SSL_CTX_use_certificate_file(ctx, tls->cert,
	    SSL_FILETYPE_PEM), 1);
	ck_assert_int_eq(SSL_CTX_use_PrivateKey_file(ctx, tls->key,
	    SSL_FILETYPE_PEM), 1);
	if (tls->client_ca) {
		ck_assert_int_eq(SSL_CTX_load_verify_locations(ctx,
		    tls->client_ca, NULL), 1);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
		    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	}
	return ctx;
}

static int
listen_on(struct fx *f, const char *unix_path)
{
	int fd;

	if (unix_path) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };

		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", unix_path);
		unlink(unix_path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun,
		    sizeof(sun)), 0);
		snprintf(f->path, sizeof(f->path), "%s", unix_path);
		snprintf(f->addr, sizeof(f->addr), "unix://%s", unix_path);
	} else {
		struct sockaddr_in sin = { .sin_family = AF_INET,
			.sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t sl = sizeof(sin);

		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin,
		    sizeof(sin)), 0);
		ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &sl),
		    0);
		f->port = ntohs(sin.sin_port);
		snprintf(f->addr, sizeof(f->addr), "http://127.0.0.1:%d",
		    f->port);
	}
	ck_assert_int_eq(listen(fd, 16), 0);
	return fd;
}

void
fx_start(struct fx *f, const struct fx_route *routes, size_t n,
    const char *unix_path, const struct fx_tls *tls)
{
	pid_t parent = getpid();
	SSL_CTX *ctx = NULL;
	int lfd;

	memset(f, 0, sizeof(*f));
	f->rec = mmap(NULL, sizeof(*f->rec), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert(f->rec != MAP_FAILED);
	lfd = listen_on(f, unix_path);
	if (tls)
		ctx = server_ctx(tls);
	f->pid = fork();
	ck_assert_int_ge(f->pid, 0);
	if (f->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(0);
		signal(SIGPIPE, SIG_IGN);
		for (;;) {
			int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
			if (fd >= 0)
				serve_one(fd, ctx, routes, n, f->rec);
		}
	}
	SSL_CTX_free(ctx);
	close(lfd);
}

void
fx_stop(struct fx *f)
{
	if (f->pid > 0) {
		kill(f->pid, SIGKILL);
		waitpid(f->pid, NULL, 0);
	}
	if (f->path[0])
		unlink(f->path);
	munmap(f->rec, sizeof(*f->rec));
	memset(f, 0, sizeof(*f));
}

const char *
fx_header(const struct fx *f, const char *name, char *out, size_t len)
{
	const char *p = f->rec->head;
	size_t nl = strlen(name);

	while ((p = strstr(p, "\r\n")) != NULL) {
		p += 2;
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1;
			while (*v == ' ')
				v++;
			snprintf(out, len, "%.*s", (int)strcspn(v, "\r\n"), v);
			return out;
		}
	}
	return NULL;
}

void
fx_make_cert(const char *cert_path, const char *key_path)
{
	EVP_PKEY *pk = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *nm;
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	FILE *fp;

	ck_assert(pk != NULL && x != NULL);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, pk);
	nm = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC,
	    (const unsigned char *)"muster test", -1, -1, 0);
	X509_set_issuer_name(x, nm);
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name,
	    "IP:127.0.0.1,DNS:muster.test");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints,
	    "critical,CA:TRUE");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	ck_assert(X509_sign(x, pk, EVP_sha256()) > 0);
	ck_assert((fp = fopen(cert_path, "w")) != NULL);
	PEM_write_X509(fp, x);
	fclose(fp);
	ck_assert((fp = fopen(key_path, "w")) != NULL);
	PEM_write_PrivateKey(fp, pk, NULL, NULL, 0, NULL, NULL);
	fclose(fp);
	X509_free(x);
	EVP_PKEY_free(pk);
}
