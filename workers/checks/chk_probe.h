/*
 * Inside the runners: one chk_run per running check, and the probes that
 * do one round of an interval check (an HTTP request, a TCP connect, a
 * UDP exchange, a script).  A probe either finishes synchronously inside
 * its start function or sets run->probe and finishes later from the loop.
 *
 * Finishing is two calls: chk_probe_result() (through the thresholds to
 * chk_update()) any number of times, then chk_probe_end() exactly once,
 * after the probe has freed itself, which schedules the next round one
 * interval later (Consul waits an interval after a round completes).
 * chk_run_stop() cancels a probe in flight: ops->cancel frees it and
 * nothing is reported.
 */
#ifndef MUSTER_CHK_PROBE_H
#define MUSTER_CHK_PROBE_H

#include <netdb.h>
#include <sys/socket.h>

#include "workers/checks/chk.h"

struct chk_probe;

struct chk_probe_ops {
	void (*cancel)(struct chk_probe *p);
};

struct chk_probe {
	const struct chk_probe_ops *ops;
	struct chk_run *run;
};

struct chk_run {
	struct chk_state *st;
	struct chk_check *c;
	ev_timer timer;			/* next round, or TTL expiry */
	struct chk_probe *probe;	/* in flight, or NULL */
	struct chk_thresh th;
	int64_t interval, timeout;	/* ns, defaults applied */
	char *ttl_last;			/* TTL: last output set */
	/* alias of another node: the catalog query loop */
	int64_t query;			/* catalog_read handle, 0 idle */
	uint64_t min_index;
	unsigned attempt;
	enum chk_status pending;	/* verdict awaiting the service probe */
	char *pending_msg;
};

void chk_probe_result(struct chk_run *r, enum chk_status s,
    const char *output);
/* An alias check of another node: start its catalog query loop, or at
 * stop cancel the query in flight. */
void chk_alias_remote(struct chk_run *r, bool start);
void chk_probe_end(struct chk_run *r);

void chk_http_start(struct chk_run *r);
void chk_tcp_start(struct chk_run *r);
void chk_udp_start(struct chk_run *r);
void chk_script_start(struct chk_run *r);
void chk_grpc_start(struct chk_run *r);
void chk_h2ping_start(struct chk_run *r);

/* ---- addresses (chk_net.c) ---- */

struct chk_addr {
	char *host;			/* without brackets */
	char *port;
	char *text;			/* host:port as given */
};

/* Split "host:port" / "[v6]:port" (Go's net.SplitHostPort); -EINVAL
 * with Go's message ("address x: missing port in address"). */
int chk_addr_parse(const char *s, struct chk_addr *a, struct buf *err);
void chk_addr_free(struct chk_addr *a);

/*
 * Resolve host (numeric at once, names on the resolver thread).  cb runs
 * exactly once from the loop unless the request is cancelled; res is
 * freed by the caller with freeaddrinfo().  err is a getaddrinfo code.
 */
typedef void chk_resolve_cb(void *arg, struct addrinfo *res, int err);
struct chk_resolve_req;
struct chk_resolve_req *chk_resolve(struct chk_state *st, const char *host,
    const char *port, int socktype, chk_resolve_cb *cb, void *arg);
void chk_resolve_cancel(struct chk_state *st, struct chk_resolve_req *q);
int chk_resolver_start(struct chk_state *st);
void chk_resolver_stop(struct chk_state *st);

/*
 * A non-blocking TCP connect trying each address in turn within one
 * deadline (Go's Dialer with DualStack).  done runs once with the
 * connected fd (>= 0) or -1 and Go's error text ("dial tcp
 * 127.0.0.1:1: connect: connection refused", "... i/o timeout").
 */
struct chk_dial;
typedef void chk_dial_cb(void *arg, int fd, const char *error);
struct chk_dial *chk_dial_start(struct chk_state *st, const char *host,
    const char *port, int64_t timeout_ns, chk_dial_cb *done, void *arg);
void chk_dial_cancel(struct chk_dial *d);

/* "ip:port" / "[ip]:port" of a socket address. */
void chk_sockaddr_text(const struct sockaddr *sa, char *out, size_t len);

/* ---- TLS for HTTP, gRPC and H2PING checks (chk_http.c) ---- */

int chk_tls_init(struct chk_state *st);
void chk_tls_free(struct chk_state *st);
/*
 * A client TLS session on connected fd: SNI and host name (or IP)
 * verification against name unless skip_verify; alpn is a wire-format
 * ALPN list or NULL.  NULL when it cannot be set up.
 */
struct ssl_st *chk_tls_client(struct chk_state *st, int fd, const char *name,
    bool skip_verify, const unsigned char *alpn, unsigned alpn_len);
/* Go's text for a failed handshake ("tls: failed to verify
 * certificate: x509: ..."). */
void chk_tls_error(struct ssl_st *ssl, struct buf *out);

/* ---- HPACK (chk_hpack.c) ---- */

typedef void chk_hpack_cb(void *arg, const char *name, size_t nlen,
    const char *value, size_t vlen);
/* Decode one header block; -EINVAL when malformed or when it refers to
 * a dynamic table entry (the client allows none). */
int chk_hpack_decode(const uint8_t *p, size_t n, chk_hpack_cb *cb,
    void *arg);
/* RFC 7541 Huffman string: appended to out; -EINVAL when invalid. */
int chk_huffman_decode(const uint8_t *p, size_t n, struct buf *out);

#endif
