/*
 * The calling side of muster RPC (protocol byte 0x02): one connection per
 * destination server, opened on demand and shared by every request to it
 * (answers are matched by reqid), each request with a deadline of its
 * own.  A broken connection fails its requests, telling apart those that
 * never left this process (-ENOTCONN: the caller may try another server)
 * from those that may have been executed (-ECONNRESET).
 */
#include "workers/store/rpc_int.h"
#include "workers/store/store.h"
#include "workers/common/worker.h"
#include "proto/proto.h"
#include "lib/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct rpc_dest {
	char addr[RFT_ADDR_MAX];
	struct rpc_conn *c;
	struct rpc_pending *calls;
	struct rpc_dest *next;
};

struct rpc_pending {
	struct store *st;
	struct rpc_dest *d;
	uint32_t reqid;
	int err;		/* decided before the timer fired */
	uint64_t end;		/* the connection's queued bytes after it */
	ev_timer t;
	rpc_done_fn *fn;
	void *arg;
	struct rpc_pending *next;
};

static void
unlink_call(struct rpc_pending *p)
{
	for (struct rpc_pending **pp = &p->d->calls; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			return;
		}
}

static void
finish(struct rpc_pending *p, int err, uint16_t type, const uint8_t *body,
    size_t len)
{
	ev_timer_stop(p->st->w->loop, &p->t);
	unlink_call(p);
	if (p->fn)
		p->fn(p->arg, err, type, body, len);
	free(p);
}

static void
call_timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct rpc_pending *p = t->data;
	finish(p, p->err ? p->err : -ETIMEDOUT, 0, NULL, 0);
}

static int
dest_read(struct rpc_conn *c)
{
	struct rpc_dest *d = c->owner;
	size_t off = 0;
	for (;;) {
		uint16_t type;
		const uint8_t *body;
		uint32_t blen;
		struct proto_rpc_resp m;
		ssize_t n = rpc_frame_peek(c->in.data + off, c->in.len - off,
		    RPC_MAX_FRAME, &type, &body, &blen);
		if (n == 0)
			break;
		if (n < 0 || type != PROTO_RPC_RESP ||
		    proto_dec_rpc_resp(body, blen, &m) < 0) {
			log_warnx("rpc: malformed answer from %s; closing",
			    c->peer);
			c->st->rpc->bad_input++;
			rpc_conn_close(c, -EBADMSG);
			return -1;
		}
		off += (size_t)n;
		struct rpc_pending *p;
		for (p = d->calls; p && p->reqid != m.reqid; p = p->next)
			;
		if (p)		/* else it timed out: nobody waits */
			finish(p, 0, m.type, (const uint8_t *)m.body.p,
			    m.body.len);
	}
	buf_consume(&c->in, off);
	return 0;
}

static void
dest_closed(struct rpc_conn *c, int err)
{
	struct rpc_dest *d = c->owner;
	if (d == NULL)
		return;
	d->c = NULL;
	log_debug("rpc: connection to %s closed (%s)", d->addr,
	    err ? strerror(-err) : "EOF");
	/* Fail them from the loop, not from inside the close. */
	for (struct rpc_pending *p = d->calls; p; p = p->next) {
		if (p->err)
			continue;
		p->err = c->written >= p->end ? -ECONNRESET : -ENOTCONN;
		ev_timer_stop(c->st->w->loop, &p->t);
		ev_timer_set(&p->t, 0, 0);
		ev_timer_start(c->st->w->loop, &p->t);
	}
}

static struct rpc_dest *
dest_get(struct store *st, const char *addr)
{
	struct rpc_dest *d;
	for (d = st->rpc->dests; d; d = d->next)
		if (strcmp(d->addr, addr) == 0)
			return d;
	d = xcalloc(1, sizeof(*d));
	strlcpy_m(d->addr, addr, sizeof(d->addr));
	d->next = st->rpc->dests;
	st->rpc->dests = d;
	return d;
}

/* Has the server closed an idle connection (it died, or restarted)?
 * Writing a request there would report it as "maybe applied". */
static bool
dest_stale(const struct rpc_conn *c)
{
	uint8_t b;
	if (c->connecting)
		return false;
	ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
	    errno != EINTR);
}

static int
dest_open(struct store *st, struct rpc_dest *d)
{
	int err;
	uint8_t b = RPC_PROTO_MUSTER;
	if (d->c && dest_stale(d->c))
		rpc_conn_close(d->c, -ECONNRESET);
	if (d->c)
		return 0;
	d->c = rpc_conn_connect(st, d->addr, RPC_OUT_CALL, &err);
	if (d->c == NULL)
		return err;
	d->c->owner = d;
	d->c->on_read = dest_read;
	d->c->on_close = dest_closed;
	rpc_conn_send(d->c, &b, 1, 0);
	return 0;
}

int
rpc_call(struct store *st, const char *addr, uint16_t type, const void *body,
    size_t len, unsigned hops, unsigned timeout_ms, rpc_done_fn *fn,
    void *arg)
{
	struct sockaddr_storage ss;
	unsigned sl;
	if (st->rpc == NULL || rpc_parse_addr(addr, &ss, &sl) < 0)
		return -EINVAL;
	struct rpc_dest *d = dest_get(st, addr);
	struct rpc_pending *p = xcalloc(1, sizeof(*p));
	p->st = st;
	p->d = d;
	p->fn = fn;
	p->arg = arg;
	if (++st->rpc->next_reqid == 0)
		++st->rpc->next_reqid;
	p->reqid = st->rpc->next_reqid;
	ev_timer_init(&p->t, call_timer_cb, timeout_ms / 1000.0, 0);
	p->t.data = p;
	int r = dest_open(st, d);	/* first: it may fail the others */
	p->next = d->calls;
	d->calls = p;
	if (r == 0) {
		struct proto_rpc_req q = { .reqid = p->reqid, .type = type,
			.hops = (uint8_t)hops,
			.body = { (const char *)body, (uint32_t)len } };
		struct buf b, f;
		buf_init(&b);
		buf_init(&f);
		proto_enc_rpc_req(&b, &q);
		rpc_frame_put(&f, PROTO_RPC_REQ, &b);
		r = rpc_conn_send(d->c, f.data, f.len, 0);
		p->end = d->c->queued;
		buf_free(&b);
		buf_free(&f);
	}
	if (r < 0) {
		p->err = -ENOTCONN;	/* reported from the loop */
		ev_timer_set(&p->t, 0, 0);
	}
	ev_timer_start(st->w->loop, &p->t);
	return 0;
}

void
rpc_call_forget(struct store *st, void *arg)
{
	if (st->rpc == NULL)
		return;
	for (struct rpc_dest *d = st->rpc->dests; d; d = d->next)
		for (struct rpc_pending *p = d->calls; p; p = p->next)
			if (p->arg == arg)
				p->fn = NULL;
}

void
rpc_client_stop(struct store *st)
{
	struct rpc_dest *d, *dn;
	for (d = st->rpc->dests; d; d = dn) {
		dn = d->next;
		/* Owners free their state on -ECANCELED and call no more. */
		while (d->calls)
			finish(d->calls, -ECANCELED, 0, NULL, 0);
		if (d->c) {
			d->c->owner = NULL;
			rpc_conn_close(d->c, -ECANCELED);
		}
		free(d);
	}
	st->rpc->dests = NULL;
}
