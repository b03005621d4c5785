/*
 * A blocking HTTP/1.1 client for the command line: one request per
 * connection ("Connection: close") over TCP, TLS (OpenSSL) or a Unix
 * socket.  Response bodies framed by Content-Length, chunked transfer
 * coding (RFC 9112 §7.1) or the end of the connection.
 *
 * Library layer: returns 0 or a negative errno and logs nothing; on
 * failure *err holds a one-line reason worded like Go's net/http errors
 * ("dial tcp 127.0.0.1:8500: connect: connection refused"), since that is
 * what consul users see after "Error ...: Get \"url\": ".
 */
#ifndef MUSTER_CLI_HTTP_CLIENT_H
#define MUSTER_CLI_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/util.h"

struct cli_http_target {
	bool unix_sock;
	bool tls;
	char *host;		/* TCP: name or address, IPv6 without [] */
	char *port;		/* TCP: decimal */
	char *sock_path;	/* Unix socket */
	char *prefix;		/* path prefix from the address, "" if none */

	/* TLS, when tls is set. */
	char *ca_file, *ca_path;
	char *cert_file, *key_file;
	char *server_name;	/* SNI and the name verified; default host */
	bool insecure;		/* skip certificate verification */

	int connect_timeout_ms;	/* 0: 30 s, as Go's default dialer */
	int io_timeout_ms;	/* per read/write wait; 0: none */
};

struct cli_http_hdr {
	char *name;
	char *value;
};

struct cli_http_req {
	const char *method;	/* "GET", "PUT", ... */
	const char *path;	/* origin-form: "/v1/agent/self?x=y" */
	const char *const *headers;	/* "Name: value", NULL-terminated */
	const void *body;
	size_t body_len;
	/* Stream the body here instead of into resp->body; nonzero stops. */
	int (*on_body)(void *arg, const void *p, size_t n);
	void *arg;
	size_t max_body;	/* bytes kept in resp->body; 0: 64 MiB */
};

struct cli_http_resp {
	int status;
	struct cli_http_hdr *hdrs;
	size_t nhdrs;
	struct buf body;
};

void cli_http_resp_init(struct cli_http_resp *r);
void cli_http_resp_free(struct cli_http_resp *r);
/* Case-insensitive header lookup; the first match, or NULL. */
const char *cli_http_resp_header(const struct cli_http_resp *r,
    const char *name);

/* Perform one request.  0 with *resp filled (any status), or -errno. */
int cli_http_do(const struct cli_http_target *t,
    const struct cli_http_req *req, struct cli_http_resp *resp,
    struct buf *err);

void cli_http_target_free(struct cli_http_target *t);

/* strerror(e) as Go prints syscall errors: "connection refused". */
const char *cli_errstr(int e, char *out, size_t len);

#endif
