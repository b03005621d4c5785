/*
 * A stand-in for the agent's HTTP API in the CLI's unit tests: a forked
 * process serving canned, Consul-shaped answers on 127.0.0.1 (plain or
 * TLS) or on a Unix socket, one request per connection, recording the
 * last request it saw in memory shared with the test.
 */
#ifndef MUSTER_TEST_CLI_FIXTURE_H
#define MUSTER_TEST_CLI_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum fx_mode {
	FX_LENGTH,	/* Content-Length framing */
	FX_CHUNKED,	/* chunked, small chunks, an extension and a trailer */
	FX_RAW,		/* send .body verbatim as the whole response */
	FX_HANG,	/* read the request, never answer */
};

struct fx_route {
	const char *method;
	const char *target;	/* request-target, query included */
	int status;
	const char *body;
	enum fx_mode mode;
};

struct fx_record {
	int nreq;
	char head[16384];	/* the last request's head */
	char body[4096];
};

struct fx {
	pid_t pid;
	int port;		/* TCP */
	char path[108];		/* Unix socket */
	char addr[160];		/* "http://127.0.0.1:port", "unix:///path" */
	struct fx_record *rec;	/* shared with the server process */
};

struct fx_tls {
	const char *cert;	/* PEM paths */
	const char *key;
	const char *client_ca;	/* require a client certificate from it */
};

/* Start a server; tls may be NULL.  unix_path NULL means TCP. */
void fx_start(struct fx *f, const struct fx_route *routes, size_t n,
    const char *unix_path, const struct fx_tls *tls);
void fx_stop(struct fx *f);

/* A self-signed certificate for IP:127.0.0.1 and DNS:muster.test. */
void fx_make_cert(const char *cert_path, const char *key_path);

/* The value of a header in the last request, or NULL. */
const char *fx_header(const struct fx *f, const char *name, char *out,
    size_t len);

#endif
