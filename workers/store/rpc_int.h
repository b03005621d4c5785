/*
 * The server port's internals, shared by rpc*.c only: a non-blocking TCP
 * connection with an input buffer and a bounded output queue, and the
 * transport's state hung off struct store.
 */
#ifndef MUSTER_STORE_RPC_INT_H
#define MUSTER_STORE_RPC_INT_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#include "workers/store/rpc.h"

#define RPC_HDR 6			/* u32 body length, u16 type */
#define RPC_HELLO_MAX 1024		/* a hello frame's body */
#define RPC_MAX_FRAME (17u << 20)	/* muster RPC: 16 MiB IPC + wrapper */
#define RPC_RAFT_HIWAT (16u << 20)	/* queued to one peer: drop above */
#define RPC_CONN_HARDCAP (64u << 20)	/* queued answers: close above */
#define RPC_CONNECT_TIMEOUT 2.0		/* s */
#define RPC_HANDSHAKE_TIMEOUT 10.0	/* s, first byte and hello */
#define RPC_BACKOFF_MIN_MS 100
#define RPC_BACKOFF_MAX_MS 5000
#define RPC_MAX_CONNS 1024		/* accepted, all clients together */

enum rpc_conn_kind {
	RPC_IN = 1,		/* accepted: protocol byte decides */
	RPC_OUT_RAFT,		/* to a peer's Raft listener */
	RPC_OUT_CALL,		/* muster RPC client side */
};

struct rpc_conn;
typedef int rpc_read_fn(struct rpc_conn *c);	/* <0: c was closed */
typedef void rpc_close_fn(struct rpc_conn *c, int err);

struct rpc_conn {
	struct store *st;
	int fd;
	uint8_t kind;
	uint8_t proto;		/* RPC_IN: 0 until the first byte */
	bool connecting;
	bool hello;		/* RPC_IN Raft: hello received */
	uint32_t serial;
	uint64_t peer_id;	/* Raft: the hello's / the peer's id */
	char peer[64];		/* "ip:port" for logs */
	char ip[48];		/* remote IP, for the per-client cap */
	ev_io rio, wio;
	ev_timer timer;		/* connect or handshake deadline */
	struct buf in;
	struct buf out;
	size_t out_off;
	uint64_t written;	/* bytes handed to the kernel so far */
	uint64_t queued;	/* bytes ever queued */
	uint64_t opened_ms;
	rpc_read_fn *on_read;
	rpc_close_fn *on_close;
	void *owner;
	struct rpc_conn *next;	/* all of a store's connections */
};

struct rpc_peer;		/* rpc_raft.c */
struct rpc_dest;		/* rpc_client.c */
struct rpc_pending;
struct rpc_held;

struct store_rpc {
	struct store *st;
	int listen_fd;
	ev_io accept_io;
	struct rpc_conn *conns;
	unsigned nin;		/* accepted connections open */
	uint32_t next_serial;
	struct rpc_peer *peers;
	struct rpc_dest *dests;
	uint32_t next_reqid;
	struct rpc_held *held;	/* requests waiting for a leader */
	uint64_t cur_deadline;	/* hold deadline of the request re-run now */
	uint64_t bad_input;	/* frames or connections refused */
	uint64_t dropped;	/* Raft messages dropped (queue full, down) */
};

/* rpc_conn.c */
struct rpc_conn *rpc_conn_new(struct store *st, int fd, uint8_t kind);
/* Non-blocking connect from the agent's advertise address. */
struct rpc_conn *rpc_conn_connect(struct store *st, const char *addr,
    uint8_t kind, int *err);
/* Queue bytes; -ENOBUFS when the queue would pass limit (0: hard cap). */
int rpc_conn_send(struct rpc_conn *c, const void *p, size_t len,
    size_t limit);
size_t rpc_conn_queued(const struct rpc_conn *c);
/* Close, run on_close(err) and free; c is gone afterwards. */
void rpc_conn_close(struct rpc_conn *c, int err);
struct rpc_conn *rpc_conn_by_serial(struct store *st, uint32_t serial);
/* Parse one frame header at p: 0 need more, >0 frame size, -EBADMSG. */
ssize_t rpc_frame_peek(const uint8_t *p, size_t len, size_t max,
    uint16_t *type, const uint8_t **body, uint32_t *body_len);
void rpc_frame_put(struct buf *out, uint16_t type, const struct buf *body);

/* rpc.c: frames of an accepted muster RPC connection. */
int rpc_serve_frames(struct rpc_conn *c);
/* rpc_raft.c: frames of an accepted Raft connection. */
int rpc_raft_recv(struct rpc_conn *c);
void rpc_raft_stop(struct store *st);
/* rpc_client.c */
void rpc_client_stop(struct store *st);
/* rpc_forward.c: answer every held request (shutting down). */
void rpc_hold_stop(struct store *st);

#endif
