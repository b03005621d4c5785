/*
 * One non-blocking TCP connection on the server port, either side: an
 * input buffer handed to the owner's on_read after every batch of reads,
 * and an output queue written when the socket is writable.  Sending only
 * queues (it never writes or closes synchronously), so a caller deep in
 * the Raft core's callbacks can send without the connection vanishing
 * under it; errors surface in the I/O callbacks, which close.
 */
#include "workers/store/rpc_int.h"
#include "workers/store/store.h"
#include "workers/common/worker.h"
#include "supervisor/config.h"
#include "proto/proto.h"
#include "lib/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define RPC_READ_CHUNK 65536
#define RPC_READS_PER_EVENT 16

int
rpc_parse_addr(const char *addr, struct sockaddr_storage *ss, unsigned *len)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	char host[64];
	const char *colon = strrchr(addr, ':');
	const char *h = addr;
	size_t hl;

	if (colon == NULL || colon[1] == '\0')
		return -EINVAL;
	hl = (size_t)(colon - addr);
	if (hl >= 2 && addr[0] == '[' && addr[hl - 1] == ']') {
		h++;
		hl -= 2;
	}
	if (hl == 0 || hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	char *end;
	unsigned long port = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || port == 0 || port > 65535)
		return -EINVAL;
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		*len = sizeof(*in4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*in6);
		return 0;
	}
	return -EINVAL;
}

ssize_t
rpc_frame_peek(const uint8_t *p, size_t len, size_t max, uint16_t *type,
    const uint8_t **body, uint32_t *body_len)
{
	if (len < RPC_HDR)
		return 0;
	uint32_t n = proto_le32(p);
	if (n > max)
		return -EBADMSG;
	*type = proto_le16(p + 4);
	if (len - RPC_HDR < n)
		return 0;
	*body = p + RPC_HDR;
	*body_len = n;
	return (ssize_t)(RPC_HDR + n);
}

void
rpc_frame_put(struct buf *out, uint16_t type, const struct buf *body)
{
	uint8_t h[RPC_HDR];
	proto_wle32(h, (uint32_t)body->len);
	proto_wle16(h + 4, type);
	buf_add(out, h, sizeof(h));
	buf_add(out, body->data, body->len);
}

static int
flush(struct rpc_conn *c)
{
	while (c->out_off < c->out.len) {
		ssize_t n = send(c->fd, c->out.data + c->out_off,
		    c->out.len - c->out_off, MSG_NOSIGNAL);
		if (n > 0) {
			c->out_off += (size_t)n;
			c->written += (uint64_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		return n < 0 ? -errno : -EPIPE;
	}
	buf_reset(&c->out);
	c->out_off = 0;
	ev_io_stop(c->st->w->loop, &c->wio);
	return 0;
}

static int
finish_connect(struct rpc_conn *c)
{
	int soerr = 0;
	socklen_t sl = sizeof(soerr);
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
		return -errno;
	if (soerr != 0)
		return -soerr;
	c->connecting = false;
	c->opened_ms = mono_ms();
	ev_timer_stop(c->st->w->loop, &c->timer);
	ev_io_start(c->st->w->loop, &c->rio);
	return 0;
}

static void
write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct rpc_conn *c = w->data;
	int r = 0;
	if (c->connecting && (r = finish_connect(c)) < 0) {
		log_debug("rpc: connect to %s: %s", c->peer, strerror(-r));
		rpc_conn_close(c, r);
		return;
	}
	if ((r = flush(c)) < 0) {
		log_debug("rpc: write to %s: %s", c->peer, strerror(-r));
		rpc_conn_close(c, r);
	}
}

/* Read what is there (bounded per event, so one busy peer cannot starve
 * the loop), hand it to the owner, then act on EOF or an error. */
static void
read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct rpc_conn *c = w->data;
	int err = 1;
	for (int i = 0; i < RPC_READS_PER_EVENT && err == 1; i++) {
		buf_reserve(&c->in, RPC_READ_CHUNK);
		ssize_t n = recv(c->fd, c->in.data + c->in.len, RPC_READ_CHUNK, 0);
		if (n > 0) {
			c->in.len += (size_t)n;
			c->in.data[c->in.len] = 0;
			if (n < RPC_READ_CHUNK)
				break;
		} else if (n == 0)
			err = 0;
		else if (errno == EINTR)
			continue;
		else if (errno == EAGAIN || errno == EWOULDBLOCK)
			break;
		else
			err = -errno;
	}
	if (c->in.len > 0 && c->on_read(c) < 0)
		return;
	if (err <= 0)
		rpc_conn_close(c, err);
}

static void
timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct rpc_conn *c = t->data;
	log_debug("rpc: %s: %s timed out", c->peer,
	    c->connecting ? "connect" : "handshake");
	rpc_conn_close(c, -ETIMEDOUT);
}

static void
peer_name(struct rpc_conn *c, const struct sockaddr_storage *ss)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
		port = ntohs(a->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
		port = ntohs(a->sin6_port);
	}
	strlcpy_m(c->ip, ip, sizeof(c->ip));
	snprintf(c->peer, sizeof(c->peer), ss->ss_family == AF_INET6 ?
	    "[%s]:%u" : "%s:%u", ip, port);
}

struct rpc_conn *
rpc_conn_new(struct store *st, int fd, uint8_t kind)
{
	struct rpc_conn *c = xcalloc(1, sizeof(*c));
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int one = 1;

	c->st = st;
	c->fd = fd;
	c->kind = kind;
	c->serial = ++st->rpc->next_serial ? st->rpc->next_serial :
	    ++st->rpc->next_serial;
	c->opened_ms = mono_ms();
	buf_init(&c->in);
	buf_init(&c->out);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	memset(&ss, 0, sizeof(ss));
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0)
		peer_name(c, &ss);
	ev_io_init(&c->rio, read_cb, fd, EV_READ);
	ev_io_init(&c->wio, write_cb, fd, EV_WRITE);
	ev_init(&c->timer, timer_cb);
	c->rio.data = c->wio.data = c->timer.data = c;
	c->next = st->rpc->conns;
	st->rpc->conns = c;
	return c;
}

/* Outgoing connections leave from the address the agent advertises, so
 * that peers see the same address gossip told them about. */
static void
bind_source(struct store *st, int fd, int family)
{
	const struct agent_config *cfg = st->w->cfg;
	struct sockaddr_storage ss;
	unsigned len;
	char a[80];
	if (cfg == NULL || cfg->advertise_addr == NULL ||
	    cfg->advertise_addr[0] == '\0')
		return;
	snprintf(a, sizeof(a), strchr(cfg->advertise_addr, ':') ?
	    "[%s]:1" : "%s:1", cfg->advertise_addr);
	if (rpc_parse_addr(a, &ss, &len) < 0 || ss.ss_family != family)
		return;
	((struct sockaddr_in *)&ss)->sin_port = 0;	/* same offset in v6 */
	if (bind(fd, (struct sockaddr *)&ss, len) < 0)
		log_debug("rpc: source address %s: %s", cfg->advertise_addr,
		    strerror(errno));
}

struct rpc_conn *
rpc_conn_connect(struct store *st, const char *addr, uint8_t kind, int *err)
{
	struct sockaddr_storage ss;
	unsigned len;
	int fd;

	if ((*err = rpc_parse_addr(addr, &ss, &len)) < 0)
		return NULL;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*err = -errno;
		return NULL;
	}
	bind_source(st, fd, ss.ss_family);
	if (connect(fd, (struct sockaddr *)&ss, len) < 0 &&
	    errno != EINPROGRESS) {
		*err = -errno;
		close(fd);
		return NULL;
	}
	struct rpc_conn *c = rpc_conn_new(st, fd, kind);
	strlcpy_m(c->peer, addr, sizeof(c->peer));
	c->connecting = true;
	ev_io_start(st->w->loop, &c->wio);
	ev_timer_set(&c->timer, RPC_CONNECT_TIMEOUT, 0);
	ev_timer_start(st->w->loop, &c->timer);
	*err = 0;
	return c;
}

size_t
rpc_conn_queued(const struct rpc_conn *c)
{
	return c->out.len - c->out_off;
}

int
rpc_conn_send(struct rpc_conn *c, const void *p, size_t len, size_t limit)
{
	size_t cap = limit ? limit : RPC_CONN_HARDCAP;
	if (rpc_conn_queued(c) + len > cap)
		return -ENOBUFS;
	/* Reclaim the written prefix before it dominates the buffer. */
	if (c->out_off > 65536 && c->out_off * 2 > c->out.len) {
		buf_consume(&c->out, c->out_off);
		c->out_off = 0;
	}
	buf_add(&c->out, p, len);
	c->queued += len;
	if (!c->connecting)
		ev_io_start(c->st->w->loop, &c->wio);
	return 0;
}

struct rpc_conn *
rpc_conn_by_serial(struct store *st, uint32_t serial)
{
	for (struct rpc_conn *c = st->rpc->conns; c; c = c->next)
		if (c->serial == serial)
			return c;
	return NULL;
}

void
rpc_conn_close(struct rpc_conn *c, int err)
{
	struct store_rpc *r = c->st->rpc;
	struct ev_loop *loop = c->st->w->loop;
	ev_io_stop(loop, &c->rio);
	ev_io_stop(loop, &c->wio);
	ev_timer_stop(loop, &c->timer);
	close(c->fd);
	for (struct rpc_conn **pp = &r->conns; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	if (c->kind == RPC_IN && r->nin > 0)
		r->nin--;
	if (c->on_close)
		c->on_close(c, err);
	buf_free(&c->in);
	buf_free(&c->out);
	free(c);
}
