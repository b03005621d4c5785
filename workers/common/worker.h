/*
 * The start-up and message loop every worker shares.
 *
 * A worker is `muster worker NAME`, fork+exec'd by the supervisor with its
 * supervisor channel on fd 3 and nothing else.  Everything arrives over
 * that channel, in this order:
 *
 *   CONFIG (the normalised agent config)   -> ops->init(), privileges dropped
 *   LISTEN_FD * n (+ descriptor)           -> ops->listen()
 *   PEER_FD * n (+ descriptor)             -> channel to another worker
 *   STARTUP                                -> ops->start(); READY is sent
 *
 * Later: CONFIG again (reload; answered CONFIG_ACK), PEER_FD again when a
 * peer was restarted (the old channel is closed, its pending requests fail
 * with -EPIPE), SHUTDOWN.  EOF on fd 3 means the supervisor is gone: the
 * worker exits (PR_SET_PDEATHSIG covers a supervisor killed with -9).
 *
 * Messages from peers go through the worker's handler table: a type is
 * accepted only from the processes in its `from` mask (decided by the
 * channel it arrived on, never by the header's sender field).  Anything
 * else is a warning, an error reply if it was a request, and a counter.
 */
#ifndef MUSTER_WORKER_H
#define MUSTER_WORKER_H

#include <ev.h>

#include "ipc/ipc.h"
#include "proto/proto.h"

struct agent_config;
struct worker;

#define FROM(p) (1u << (p))
#define FROM_ANY_WORKER                                                 \
	(FROM(PROC_GOSSIP) | FROM(PROC_STORE) | FROM(PROC_HTTP) |       \
	    FROM(PROC_DNS) | FROM(PROC_CHECKS))

typedef void worker_handler_fn(struct worker *w, unsigned from,
    struct ipc_chan *ch, struct ipc_msg *m);

struct worker_handler {
	uint16_t type;
	uint32_t from;		/* FROM() mask of senders allowed */
	worker_handler_fn *fn;
};

struct worker_ops {
	unsigned proc;
	const struct worker_handler *handlers;
	size_t nhandlers;
	/* Config is in w->cfg; privileges are still held.  <0 -> exit 1. */
	int (*init)(struct worker *w);
	/* A listening socket from the supervisor; the worker owns fd. */
	void (*listen)(struct worker *w, unsigned kind, const char *addr, int fd);
	/* Everything has arrived; start serving.  <0 -> exit 1. */
	int (*start)(struct worker *w);
	/* Reload: newcfg is valid; take what can change at run time.  The
	 * framework frees the old config afterwards.  <0 + err -> reported. */
	int (*reconfig)(struct worker *w, struct agent_config *newcfg,
	    struct buf *err);
	void (*peer_up)(struct worker *w, unsigned peer);
	/* Stop serving (SHUTDOWN or SIGTERM); reason 1 means leave.  Return
	 * true to drain first: the worker then calls worker_stopped(). */
	bool (*stop)(struct worker *w, unsigned reason);
	/* Fill the worker's Stats section (alternating key, value). */
	void (*stats)(struct worker *w, const char *section,
	    struct buf *names);
};

struct worker {
	const struct worker_ops *ops;
	unsigned proc;
	struct ev_loop *loop;
	struct ipc_chan *sup;
	struct ipc_chan *peer[PROC_MAX];
	uint32_t peer_epoch[PROC_MAX];
	struct agent_config *cfg;
	uint64_t cfg_gen;
	bool started, stopping;
	uint64_t bad_messages;	/* rejected by type, sender or codec */
	void *app;		/* the worker's own state */
};

/* A draining worker is done: leave the event loop and exit. */
void worker_stopped(struct worker *w);

/* main() of `muster worker NAME`. */
int worker_main(int argc, char **argv);

/*
 * Send a request to a peer (or PROC_SUPERVISOR); cb runs exactly once.
 * -ENOTCONN when that peer is not connected (cb will not run).
 */
int64_t worker_request(struct worker *w, unsigned peer, uint16_t type,
    const struct buf *payload, unsigned timeout_ms, ipc_reply_cb *cb,
    void *arg);
void worker_request_cancel(struct worker *w, unsigned peer, int64_t reqid);
int worker_send(struct worker *w, unsigned peer, uint16_t type,
    const struct buf *payload);
/* Answer a request with a RESULT (code 0 or -errno) and a message. */
int worker_reply_result(struct ipc_chan *ch, const struct ipc_msg *req,
    int code, const char *msg);
int worker_reply(struct ipc_chan *ch, const struct ipc_msg *req,
    uint16_t type, const struct buf *payload);
/* Decode a RESULT reply; returns its code (or -EBADMSG) and message. */
int worker_result(const struct ipc_msg *m, struct proto_str *msg);

/* The per-worker entry tables, one per worker folder. */
extern const struct worker_ops gossip_ops, store_ops, http_ops, dns_ops,
    checks_ops;

#endif
