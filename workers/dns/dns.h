/*
 * The dns worker's serving engine: Consul's DNS interface (reference
 * consul.md §5) over RFC 1035 UDP and TCP.
 *
 * Three layers, each usable on its own:
 *
 *   resolver  dns_answer(): one query packet in, one response packet out.
 *             Authoritative for `domain` and `alt_domain`; names under
 *             "arpa." are reverse lookups; anything else is forwarded to
 *             the recursors (dns_recurse(), asynchronous) or REFUSED.
 *             Catalog data comes through struct dns_lookup, which the
 *             worker implements against its read model.
 *   server    non-blocking UDP and TCP listeners on a libev loop, on
 *             sockets the supervisor bound.
 *   codec     dns_wire.h (internal): query parser and response writer.
 *
 * Nothing here logs above debug; errors are negative errno values.
 * Single-threaded: every function must be called from the loop's thread.
 */
#ifndef MUSTER_DNS_H
#define MUSTER_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "lib/util.h"

#define DNS_MAX_RECURSORS 16

enum dns_recursor_strategy {
	DNS_RECURSE_SEQUENTIAL = 0,	/* Consul's default */
	DNS_RECURSE_RANDOM,
};

/* One dns_config.service_ttl entry: "web" exact, "web-*" prefix, "*". */
struct dns_service_ttl {
	const char *name;
	uint32_t ttl;			/* seconds */
};

/*
 * Everything the resolver needs from the agent config.  dns_resolver_new()
 * copies it, so the caller may free its strings afterwards.  Start from
 * dns_config_defaults(), which sets Consul's defaults (§5.4).
 */
struct dns_config {
	const char *domain;		/* "consul." ("consul" is fine too) */
	const char *alt_domain;		/* NULL or "" when unset */
	const char *datacenter;		/* this agent's dc, e.g. "dc1" */
	const char *node_name;		/* NS fallback when no servers known */
	const char *advertise_addr;	/* IP literal: glue for that NS */
	uint32_t node_ttl;		/* seconds */
	const struct dns_service_ttl *service_ttl;
	size_t nservice_ttl;
	struct {
		uint32_t refresh, retry, expire, min_ttl;
	} soa;
	int udp_answer_limit;		/* default 3, at most 8 */
	int a_record_limit;		/* 0 = unlimited */
	bool enable_truncate;		/* set TC when answers were trimmed */
	bool only_passing;		/* drop instances in warning too */
	bool node_meta_txt;		/* enable_additional_node_meta_txt */
	bool disable_compression;
	const char *const *recursors;	/* "ip", "ip:port", "[v6]:port" */
	size_t nrecursors;		/* at most DNS_MAX_RECURSORS */
	enum dns_recursor_strategy recursor_strategy;
	uint32_t recursor_timeout_ms;	/* per upstream attempt; default 2000 */
};

void dns_config_defaults(struct dns_config *c);

/*
 * The catalog as the resolver sees it.  All names passed in are lower case;
 * implementations compare case-insensitively.  Every string and array
 * handed back must stay valid until the dns_answer() call that asked for
 * it returns (the read model does not change during a call).
 *
 * Return values: 1 found, 0 not found, -ENOENT unknown datacenter (answered
 * NXDOMAIN, like Consul's "no path to datacenter"), other negative errno =
 * lookup failure (answered SERVFAIL).
 */
enum dns_health {
	DNS_HEALTH_PASSING = 0,
	DNS_HEALTH_WARNING,
	DNS_HEALTH_CRITICAL,		/* also maintenance mode */
};

struct dns_meta {
	const char *key, *value;
};

struct dns_node {
	const char *name;
	const char *dc;
	const char *address;		/* IP literal or host name */
	const struct dns_meta *meta;
	size_t nmeta;
};

struct dns_instance {
	struct dns_node node;
	const char *service;		/* service name */
	const char *address;		/* service address; NULL/"" = node's */
	uint16_t port;
	/* Worst status over the instance's node and service checks. */
	enum dns_health health;
	uint16_t weight_passing, weight_warning;	/* Consul: 1, 1 */
};

enum dns_service_kind {
	DNS_SVC_PLAIN = 0,		/* <svc>.service */
	DNS_SVC_CONNECT,		/* <svc>.connect: mesh-capable */
	DNS_SVC_INGRESS,		/* <svc>.ingress: ingress gateways */
};

struct dns_service_query {
	const char *dc;
	const char *service;
	const char *tag;		/* NULL: no tag filter */
	enum dns_service_kind kind;
};

/* Reverse lookup result: the PTR target is built from these. */
struct dns_ptr {
	bool is_service;		/* <name>.service.<dc> vs .node.<dc> */
	const char *name;
	const char *dc;
};

/* Called once per instance, any health; the resolver filters and sorts. */
typedef void dns_instance_fn(void *arg, const struct dns_instance *in);

struct dns_lookup {
	void *ctx;
	int (*node)(void *ctx, const char *dc, const char *name,
	    struct dns_node *out);
	int (*service)(void *ctx, const struct dns_service_query *q,
	    dns_instance_fn *fn, void *arg);
	/* ip is inet_ntop() text ("10.0.0.1", "fe80::1"): a node with that
	 * address first, else a service instance with it. */
	int (*reverse)(void *ctx, const char *ip, struct dns_ptr *out);
	/* Prepared query execute (optional, NULL = NXDOMAIN).  *ttl is the
	 * query's DNS.TTL in seconds or UINT32_MAX for the service default. */
	int (*query)(void *ctx, const char *dc, const char *name_or_id,
	    dns_instance_fn *fn, void *arg, uint32_t *ttl);
};

/* Counters; all monotonic. */
struct dns_stats {
	uint64_t queries;		/* packets handed to dns_answer() */
	uint64_t answered;		/* responses produced locally */
	uint64_t dropped;		/* no reply possible (not a query) */
	uint64_t formerr;		/* malformed queries answered FORMERR */
	uint64_t nxdomain;
	uint64_t servfail;
	uint64_t refused;
	uint64_t truncated;		/* answers trimmed to fit */
	uint64_t recursed;		/* forwarded to recursors */
	uint64_t recurse_failed;	/* all recursors failed: SERVFAIL */
	uint64_t udp_errors;		/* recv/send failures, oversize */
	uint64_t tcp_accepted;
	uint64_t tcp_rejected;		/* over the connection cap */
	uint64_t tcp_timeouts;		/* closed idle */
	uint64_t tcp_errors;		/* framing errors, resets */
};

struct dns_resolver;
struct dns_recursion;

/*
 * Validate cfg and build a resolver.  loop may be NULL only when no
 * recursors are configured.  lookup may be NULL (empty catalog); it is
 * copied.  -EINVAL for a bad domain, alt_domain, address or recursor.
 */
int dns_resolver_new(struct ev_loop *loop, const struct dns_config *cfg,
    const struct dns_lookup *lookup, struct dns_resolver **out);
/* Reload: all or nothing; the old config stays on error. */
int dns_resolver_reconfigure(struct dns_resolver *r,
    const struct dns_config *cfg);
void dns_resolver_set_lookup(struct dns_resolver *r,
    const struct dns_lookup *lookup);
/* Cancels every recursion in flight (their callbacks do not run).  Free
 * the server (which owns recursions for its clients) first. */
void dns_resolver_free(struct dns_resolver *r);
void dns_resolver_stats(const struct dns_resolver *r, struct dns_stats *s);

enum dns_answer_result {
	DNS_DROP = 0,		/* send nothing */
	DNS_REPLY = 1,		/* out holds the response */
	DNS_RECURSE = 2,	/* hand the packet to dns_recurse() */
};

/*
 * Answer one query.  tcp selects the size limit: 65535 for TCP, else 512 or
 * the client's EDNS0 size (§5.3).  out is reset and filled; it is reused
 * between calls so steady-state serving does not allocate.
 */
int dns_answer(struct dns_resolver *r, const uint8_t *q, size_t qlen,
    bool tcp, struct buf *out);

/*
 * Forward a query dns_answer() returned DNS_RECURSE for.  done runs exactly
 * once, always later from the loop (never from inside this call), with the
 * upstream's response (its ID rewritten to the client's) or a SERVFAIL;
 * pkt is valid only during the call.  The handle is valid until done runs
 * or dns_recurse_cancel() is called.
 */
typedef void dns_reply_fn(void *arg, const uint8_t *pkt, size_t len);
struct dns_recursion *dns_recurse(struct dns_resolver *r, const uint8_t *q,
    size_t qlen, bool tcp, dns_reply_fn *done, void *arg);
void dns_recurse_cancel(struct dns_recursion *rc);

/* Server engine. */
struct dns_server_limits {
	unsigned tcp_max_conns;		/* default 512 */
	unsigned tcp_idle_ms;		/* default 10000 */
	size_t tcp_out_max;		/* stop reading above; default 256 KiB */
};

struct dns_server;

struct dns_server *dns_server_new(struct ev_loop *loop,
    struct dns_resolver *r);
void dns_server_set_limits(struct dns_server *s,
    const struct dns_server_limits *lim);
/* The server owns fd from now on (made non-blocking here). */
int dns_server_add_udp(struct dns_server *s, int fd);
int dns_server_add_tcp(struct dns_server *s, int listen_fd);
/* Resolver and transport counters together. */
void dns_server_stats(const struct dns_server *s, struct dns_stats *out);
/* Closes every socket and connection; the resolver is not freed. */
void dns_server_free(struct dns_server *s);

#endif
