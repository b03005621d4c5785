/*
 * One gossip pool (Consul's LAN or WAN) on real sockets: the libev glue
 * around the deterministic serf/memberlist core.
 *
 * The supervisor binds the pool's UDP socket and TCP listening socket on
 * the agent's address and hands them over; the pool never binds a
 * listening port itself.  Outgoing TCP connections (joins, push/pull,
 * fallback pings) are bound to the agent's address as their source, so
 * peers see this agent as itself on a multi-homed host.
 *
 * Every stream has the pool's TCPTimeout as its deadline; at most
 * max_conns incoming connections are served at once (memberlist: 128
 * pending push/pulls), more are closed on accept and counted.
 */
#ifndef MUSTER_GOSSIP_POOL_H
#define MUSTER_GOSSIP_POOL_H

#include <ev.h>

#include "workers/gossip/serf.h"

struct gossip_pool;

/* Called for every serf event; e is freed after the call returns. */
typedef void gossip_pool_event_fn(void *arg, struct gossip_pool *p,
    const struct gossip_event *e);

struct gossip_pool_config {
	struct gossip_serf_config serf;	/* name, advertise address, tags,
					 * timing, keyring, wire options */
	struct gossip_addr source;	/* outgoing TCP source; len 0: none */
	unsigned max_conns;		/* 0: 128 */
	gossip_pool_event_fn *on_event;
	void *arg;
};

struct gossip_pool_stats {
	uint64_t udp_send_fail, conns_refused, streams_out, streams_in;
	uint64_t stream_timeouts;
};

/*
 * Takes ownership of udp_fd and tcp_listen_fd (made non-blocking and
 * close-on-exec).  NULL with errno set on failure.
 */
struct gossip_pool *gossip_pool_new(struct ev_loop *loop,
    const struct gossip_pool_config *cfg, int udp_fd, int tcp_listen_fd);
/* Stops watchers, closes every socket, frees the core. */
void gossip_pool_free(struct gossip_pool *p);

/* The core, for queries and commands; call gossip_pool_flush() after a
 * command so its packets go out and the timer is re-armed. */
struct gossip_serf *gossip_pool_serf(struct gossip_pool *p);
void gossip_pool_flush(struct gossip_pool *p);
uint64_t gossip_pool_now(const struct gossip_pool *p);

/* Convenience commands (each flushes). */
/* addrs are "ip:port", "[v6]:port" or "ip" (default port); -EINVAL if
 * none parses.  The result comes as a JOIN_DONE event. */
int gossip_pool_join(struct gossip_pool *p, const char *const *addrs,
    size_t n, uint16_t default_port, bool ignore_old);
int gossip_pool_leave(struct gossip_pool *p);
int gossip_pool_user_event(struct gossip_pool *p, const char *name,
    const uint8_t *payload, size_t len, bool coalesce, const char **why);
int gossip_pool_respond(struct gossip_pool *p, uint64_t query,
    const uint8_t *payload, size_t len, const char **why);
void gossip_pool_stats(const struct gossip_pool *p,
    struct gossip_pool_stats *st);

/* "ip:port" / "[v6]:port" / "ip" into an address; -EINVAL. */
int gossip_addr_parse_hostport(const char *s, uint16_t default_port,
    struct gossip_addr *a);

#endif
