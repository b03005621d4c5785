/*
 * The server port (8300, LISTEN_SERVER_RPC): how servers and client
 * agents talk to each other.  One listener; as in Consul (agent/pool's
 * RPCType), the first byte a client writes on a new connection selects
 * the protocol spoken for the rest of it:
 *
 *   0x01 RPC_PROTO_RAFT    Raft RPCs, one direction only: an RPC_HELLO
 *                          frame (who connects, where its own server
 *                          port is), then rft_wire frames.  Answers go
 *                          back over the receiver's own connection to
 *                          the sender, so every server has one outgoing
 *                          connection per peer and reads the others'.
 *   0x02 RPC_PROTO_MUSTER  muster's request/response RPC: RPC_REQ frames
 *                          from the connecting side, RPC_RESP frames back,
 *                          matched by reqid, many in flight.  Carries the
 *                          store requests a follower forwards to the leader
 *                          and a client agent forwards to a server.
 *
 * Any other first byte is a warning and a closed connection.  Frames on
 * both protocols are those of rft_wire_frame: u32 body length, u16 type
 * (little endian), body.  (Consul's own values are 0x01 Raft too, but its
 * RPC protocols are msgpack; muster servers do not speak to Consul's.)
 *
 * Bytes from the network are untrusted: headers are checked before any
 * allocation, bodies go through the proto decoders, and bad input is a
 * warning, a counter and a dropped connection.
 */
#ifndef MUSTER_STORE_RPC_H
#define MUSTER_STORE_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/util.h"
#include "workers/store/raft.h"

struct store;
struct store_waiter;

#define RPC_PROTO_RAFT 0x01
#define RPC_PROTO_MUSTER 0x02

/* store_waiter.peer of a request that came in on the server port, plus
 * the number of times it was forwarded already; epoch is the connection's
 * serial and reqid the caller's. */
#define RPC_PEER 0x40u
#define RPC_MAX_HOPS 3

/* Timeouts of a forwarded request, under the http worker's 5 s. */
#define RPC_CALL_TIMEOUT_MS 4000u
#define RPC_BLOCKING_MARGIN_MS 3000u

/* rpc.c: state, the listener and incoming connections. */
int rpc_init(struct store *st);
/* The LISTEN_SERVER_RPC socket (the store owns fd from here). */
void rpc_listen(struct store *st, int fd);
void rpc_stop(struct store *st);
bool rpc_waiter(const struct store_waiter *w);
unsigned rpc_waiter_hops(const struct store_waiter *w);
/* Serve a store request held by a waiter (from the server port, or
 * re-run after a hold).  Takes w. */
void rpc_dispatch(struct store *st, struct store_waiter *w);
/* Answer a request that came in on the server port (store_reply). */
void rpc_reply(struct store *st, const struct store_waiter *w,
    uint16_t type, const struct buf *payload);

/* rpc_raft.c: the Raft transport (the core's send callback). */
void rpc_raft_send(struct store *st, const struct rft_msg *m);
/* Where server id listens (from gossip or its hello); addr "ip:port". */
void rpc_raft_learn(struct store *st, uint64_t id, const char *addr);
/* Close connections to servers no longer in the configuration. */
void rpc_raft_conf_changed(struct store *st, const struct rft_conf *c);

/*
 * rpc_client.c: requests to another server.  fn runs exactly once (never
 * before rpc_call returns): err 0 with the answer's type and body, or
 * -ENOTCONN when the request never left this process (safe to retry
 * elsewhere), -ECONNRESET when the connection broke after it was sent,
 * -ETIMEDOUT.  Returns 0, or -EINVAL for a bad address (fn not called).
 */
typedef void rpc_done_fn(void *arg, int err, uint16_t type,
    const uint8_t *body, size_t len);
int rpc_call(struct store *st, const char *addr, uint16_t type,
    const void *body, size_t len, unsigned hops, unsigned timeout_ms,
    rpc_done_fn *fn, void *arg);
/* Drop every call's callback whose arg is arg (its owner is going). */
void rpc_call_forget(struct store *st, void *arg);

/*
 * rpc_forward.c: relay a store request to the leader (addr) or, with addr
 * NULL on a client agent, to any known server of the datacenter, trying
 * another one when a server cannot be reached.  The waiter (taken) gets
 * the answer, or an error saying why there is none.
 */
void rpc_forward(struct store *st, struct store_waiter *w, const char *addr);
/* Where a request this store cannot serve goes, after r from
 * store_propose/store_read_index (-EREMOTE: a leader is known): a client
 * agent's to any server, a follower's to the leader, else it is held
 * until a leader is elected.  Takes w. */
void rpc_route(struct store *st, struct store_waiter *w, int r);
/* Time a forwarded snapshot save or restore may take. */
#define RPC_SNAPSHOT_TIMEOUT_MS 50000u

/*
 * Consul's RPC hold (performance.rpc_hold_timeout): a request that finds
 * no leader, or a leader that cannot be reached, waits for one instead of
 * failing at once, for at most rpc_hold_timeout and never past what its
 * asker waits (RPC_HOLD_MAX_MS, less per hop).  Held requests are re-run
 * when a leader is known (rpc_hold_tick, from the cluster tick and on a
 * role change); expired ones get "No cluster leader".  Takes w.
 */
#define RPC_HOLD_MAX_MS 3000u
void rpc_hold(struct store *st, struct store_waiter *w);
void rpc_hold_tick(struct store *st);

/* Parse "ip:port" / "[v6]:port" into a sockaddr (no name resolution). */
struct sockaddr_storage;
int rpc_parse_addr(const char *addr, struct sockaddr_storage *ss,
    unsigned *len);

#endif
