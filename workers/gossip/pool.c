/*
 * libev glue for one gossip pool: feeds datagrams, stream bytes and timer
 * ticks into the serf/memberlist core and carries out what it queues.
 * The core decides everything; this file only moves bytes (pool.h).
 */
#include "workers/gossip/pool.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/log.h"

/* push/pull states are capped at 20 MiB; allow the envelope around it */
#define STREAM_MAX (GOSSIP_MAX_PUSH_STATE + 4096)
#define UDP_BATCH 64
#define UDP_RECV_BUF (2 * 1024 * 1024)	/* memberlist's udpRecvBufSize */

struct conn {
	struct gossip_pool *p;
	int fd;
	bool outgoing, connecting, resolved;
	uint64_t stream_id;
	struct buf out;
	size_t outoff;
	struct buf in;
	ev_io io;
	ev_timer timer;
	struct conn *next, **prevp;
};

struct gossip_pool {
	struct ev_loop *loop;
	struct gossip_pool_config cfg;
	struct gossip_serf *s;
	int udp, tcp;
	ev_io udp_io, tcp_io;
	ev_timer tick;
	struct conn *conns;
	unsigned nin;
	bool flushing;
	struct gossip_pool_stats st;
	uint8_t rx[GOSSIP_UDP_RECV_MAX];
};

uint64_t
gossip_pool_now(const struct gossip_pool *p)
{
	return mono_ms();
}

static socklen_t
to_sockaddr(const struct gossip_addr *a, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->len == 16) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, a->ip, 16);
		s6->sin6_port = htons(a->port);
		return sizeof(*s6);
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	s4->sin_family = AF_INET;
	memcpy(&s4->sin_addr, a->ip, 4);
	s4->sin_port = htons(a->port);
	return sizeof(*s4);
}

static void
from_sockaddr(const struct sockaddr_storage *ss, struct gossip_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)ss;
		static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0,
			0, 0xff, 0xff };
		if (memcmp(&s6->sin6_addr, mapped, 12) == 0) {
			memcpy(a->ip, (const uint8_t *)&s6->sin6_addr + 12, 4);
			a->len = 4;
		} else {
			memcpy(a->ip, &s6->sin6_addr, 16);
			a->len = 16;
		}
		a->port = ntohs(s6->sin6_port);
	} else {
		const struct sockaddr_in *s4 = (const void *)ss;
		memcpy(a->ip, &s4->sin_addr, 4);
		a->len = 4;
		a->port = ntohs(s4->sin_port);
	}
}

int
gossip_addr_parse_hostport(const char *s, uint16_t default_port,
    struct gossip_addr *a)
{
	char host[128];
	const char *colon = NULL;
	unsigned long port = default_port;

	if (s[0] == '[') {
		const char *end = strchr(s, ']');
		if (end == NULL || (size_t)(end - s - 1) >= sizeof(host))
			return -EINVAL;
		memcpy(host, s + 1, (size_t)(end - s - 1));
		host[end - s - 1] = '\0';
		if (end[1] == ':')
			colon = end + 1;
		else if (end[1] != '\0')
			return -EINVAL;
	} else {
		colon = strrchr(s, ':');
		if (colon && strchr(s, ':') != colon)
			colon = NULL;	/* a bare IPv6 address */
		size_t hl = colon ? (size_t)(colon - s) : strlen(s);
		if (hl >= sizeof(host))
			return -EINVAL;
		memcpy(host, s, hl);
		host[hl] = '\0';
	}
	if (colon) {
		char *end;
		errno = 0;
		port = strtoul(colon + 1, &end, 10);
		if (errno || *end || end == colon + 1 || port == 0 ||
		    port > 65535)
			return -EINVAL;
	}
	return gossip_addr_parse(host, (uint16_t)port, a);
}

/* ------------------------------------------------------------ flushing */

static void conn_start_outgoing(struct gossip_pool *p, struct gossip_out *o);

static void
send_packet(struct gossip_pool *p, const struct gossip_out *o)
{
	struct sockaddr_storage ss;
	socklen_t sl = to_sockaddr(&o->to, &ss);
	if (sendto(p->udp, o->data.data, o->data.len, MSG_DONTWAIT,
	    (struct sockaddr *)&ss, sl) < 0) {
		p->st.udp_send_fail++;
		log_debug("gossip: sendto: %s", strerror(errno));
	}
}

static void
rearm(struct gossip_pool *p)
{
	uint64_t now = gossip_pool_now(p);
	uint64_t next = gossip_serf_next_deadline(p->s);
	double delay = next > now ? (double)(next - now) / 1000.0 : 0.0;
	if (delay > 3600.0)
		delay = 3600.0;
	ev_timer_stop(p->loop, &p->tick);
	ev_timer_set(&p->tick, delay, 0.0);
	ev_timer_start(p->loop, &p->tick);
}

/* Carry out everything the core queued; an event handler may issue more
 * commands, so loop until both queues are empty. */
void
gossip_pool_flush(struct gossip_pool *p)
{
	struct gossip_out o;
	struct gossip_event e;
	bool more = true;

	if (p->flushing)
		return;
	p->flushing = true;
	while (more) {
		more = false;
		while (gossip_serf_pop_out(p->s, &o)) {
			if (o.kind == GOSSIP_OUT_PACKET)
				send_packet(p, &o);
			else
				conn_start_outgoing(p, &o);
			buf_free(&o.data);
			more = true;
		}
		while (gossip_serf_pop_event(p->s, &e)) {
			if (p->cfg.on_event)
				p->cfg.on_event(p->cfg.arg, p, &e);
			gossip_event_free(&e);
			more = true;
		}
	}
	p->flushing = false;
	rearm(p);
}

static void
on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct gossip_pool *p = w->data;
	gossip_serf_tick(p->s, gossip_pool_now(p));
	gossip_pool_flush(p);
}

static void
on_udp(struct ev_loop *loop, ev_io *w, int revents)
{
	struct gossip_pool *p = w->data;
	struct sockaddr_storage ss;
	struct gossip_addr from;

	for (int i = 0; i < UDP_BATCH; i++) {
		socklen_t sl = sizeof(ss);
		ssize_t n = recvfrom(p->udp, p->rx, sizeof(p->rx), MSG_DONTWAIT,
		    (struct sockaddr *)&ss, &sl);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR)
				log_debug("gossip: recvfrom: %s",
				    strerror(errno));
			break;
		}
		if (n == 0)
			continue;	/* memberlist drops empty datagrams */
		from_sockaddr(&ss, &from);
		gossip_serf_recv_packet(p->s, gossip_pool_now(p), &from, p->rx,
		    (size_t)n);
	}
	gossip_pool_flush(p);
}

/* ------------------------------------------------------------ streams */

static void
conn_close(struct conn *c)
{
	struct gossip_pool *p = c->p;
	ev_io_stop(p->loop, &c->io);
	ev_timer_stop(p->loop, &c->timer);
	close(c->fd);
	*c->prevp = c->next;
	if (c->next)
		c->next->prevp = c->prevp;
	if (!c->outgoing)
		p->nin--;
	buf_free(&c->in);
	buf_free(&c->out);
	free(c);
}

/* An outgoing stream ends; tell the core unless it already knows. */
static void
conn_fail(struct conn *c, int err)
{
	struct gossip_pool *p = c->p;
	if (c->outgoing && !c->resolved)
		gossip_serf_stream_fail(p->s, gossip_pool_now(p), c->stream_id,
		    err);
	conn_close(c);
	gossip_pool_flush(p);
}

static void on_conn_io(struct ev_loop *loop, ev_io *w, int revents);

static void
on_conn_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct conn *c = w->data;
	c->p->st.stream_timeouts++;
	conn_fail(c, -ETIMEDOUT);
}

static struct conn *
conn_new(struct gossip_pool *p, int fd, bool outgoing, double timeout)
{
	struct conn *c = xcalloc(1, sizeof(*c));
	c->p = p;
	c->fd = fd;
	c->outgoing = outgoing;
	buf_init(&c->in);
	buf_init(&c->out);
	ev_io_init(&c->io, on_conn_io, fd, outgoing ? EV_WRITE : EV_READ);
	c->io.data = c;
	ev_timer_init(&c->timer, on_conn_timeout, timeout, 0.0);
	c->timer.data = c;
	c->next = p->conns;
	if (p->conns)
		p->conns->prevp = &c->next;
	c->prevp = &p->conns;
	p->conns = c;
	ev_io_start(p->loop, &c->io);
	ev_timer_start(p->loop, &c->timer);
	return c;
}

static void
conn_start_outgoing(struct gossip_pool *p, struct gossip_out *o)
{
	struct sockaddr_storage ss, src;
	socklen_t sl = to_sockaddr(&o->to, &ss);
	uint64_t now = gossip_pool_now(p);
	int fd, err = 0;

	p->st.streams_out++;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd < 0) {
		gossip_serf_stream_fail(p->s, now, o->stream_id, -errno);
		return;
	}
	/* the agent's own address as source, any port */
	if (p->cfg.source.len == o->to.len && p->cfg.source.len > 0) {
		struct gossip_addr a = p->cfg.source;
		a.port = 0;
		socklen_t srcl = to_sockaddr(&a, &src);
		if (bind(fd, (struct sockaddr *)&src, srcl) < 0)
			err = -errno;
	}
	if (err == 0 && connect(fd, (struct sockaddr *)&ss, sl) < 0 &&
	    errno != EINPROGRESS)
		err = -errno;
	if (err < 0) {
		close(fd);
		gossip_serf_stream_fail(p->s, now, o->stream_id, err);
		return;
	}
	double timeout = o->deadline > now ?
	    (double)(o->deadline - now) / 1000.0 : 0.001;
	struct conn *c = conn_new(p, fd, true, timeout);
	c->connecting = true;
	c->stream_id = o->stream_id;
	c->out = o->data;
	buf_init(&o->data);
}

static void
conn_write(struct conn *c)
{
	while (c->outoff < c->out.len) {
		ssize_t n = write(c->fd, c->out.data + c->outoff,
		    c->out.len - c->outoff);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			conn_fail(c, -errno);
			return;
		}
		c->outoff += (size_t)n;
	}
	if (!c->outgoing) {
		/* memberlist: one exchange per connection */
		struct gossip_pool *p = c->p;
		conn_close(c);
		gossip_pool_flush(p);
		return;
	}
	ev_io_stop(c->p->loop, &c->io);
	ev_io_set(&c->io, c->fd, EV_READ);
	ev_io_start(c->p->loop, &c->io);
}

/* Offer the bytes so far to the core; true when the exchange is over. */
static bool
conn_feed(struct conn *c)
{
	struct gossip_pool *p = c->p;
	uint64_t now = gossip_pool_now(p);
	int rc;

	if (c->outgoing) {
		rc = gossip_serf_stream_reply(p->s, now, c->stream_id,
		    c->in.data, c->in.len);
		if (rc == 0)
			return false;
		c->resolved = true;
		conn_close(c);
		gossip_pool_flush(p);
		return true;
	}
	struct buf reply;
	buf_init(&reply);
	rc = gossip_serf_stream_in(p->s, now, c->in.data, c->in.len, &reply);
	if (rc == 0) {
		buf_free(&reply);
		return false;
	}
	gossip_pool_flush(p);
	if (reply.len == 0) {
		buf_free(&reply);
		conn_close(c);
		return true;
	}
	c->out = reply;
	ev_io_stop(p->loop, &c->io);
	ev_io_set(&c->io, c->fd, EV_WRITE);
	ev_io_start(p->loop, &c->io);
	conn_write(c);
	return true;
}

static void
conn_read(struct conn *c)
{
	uint8_t tmp[16384];
	for (;;) {
		ssize_t n = read(c->fd, tmp, sizeof(tmp));
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			conn_fail(c, -errno);
			return;
		}
		if (n == 0) {
			/* EOF before a complete message */
			conn_fail(c, -ECONNRESET);
			return;
		}
		if (c->in.len + (size_t)n > STREAM_MAX) {
			conn_fail(c, -EFBIG);
			return;
		}
		buf_add(&c->in, tmp, (size_t)n);
		if (conn_feed(c))
			return;
	}
}

static void
on_conn_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *c = w->data;
	if (c->connecting && (revents & EV_WRITE)) {
		int err = 0;
		socklen_t el = sizeof(err);
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
			err = errno;
		if (err != 0) {
			conn_fail(c, -err);
			return;
		}
		c->connecting = false;
	}
	if (revents & EV_WRITE)
		conn_write(c);
	else if (revents & EV_READ)
		conn_read(c);
}

static void
on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct gossip_pool *p = w->data;
	unsigned max = p->cfg.max_conns ? p->cfg.max_conns : 128;

	for (int i = 0; i < 16; i++) {
		int fd = accept4(p->tcp, NULL, NULL,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("gossip: accept");
			return;
		}
		if (p->nin >= max) {
			p->st.conns_refused++;
			close(fd);
			continue;
		}
		p->nin++;
		p->st.streams_in++;
		conn_new(p, fd, false,
		    (double)p->cfg.serf.ml.tcp_timeout / 1000.0);
	}
}

/* ------------------------------------------------------------ life */

static uint64_t
rtt_clock_us(void *arg)
{
	return mono_ns() / 1000;
}

/*
 * memberlist's setUDPRecvBuf: ask for a 2 MiB receive buffer, halving on
 * refusal.  With the kernel's default (about 200 KiB) a worker that did
 * not run for a moment, on a busy host or while a whole cluster joins at
 * once, drops gossip packets; lost alive messages then wait for the next
 * push/pull, up to half a minute.  Linux caps the size at rmem_max.
 */
static void
udp_recv_buf(int fd)
{
	for (int size = UDP_RECV_BUF; size >= 64 * 1024; size /= 2)
		if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size,
		    sizeof(size)) == 0)
			return;
	log_debug("gossip: cannot enlarge the UDP receive buffer: %s",
	    strerror(errno));
}

struct gossip_pool *
gossip_pool_new(struct ev_loop *loop, const struct gossip_pool_config *cfg,
    int udp_fd, int tcp_listen_fd)
{
	udp_recv_buf(udp_fd);
	if (fd_set_nonblock(udp_fd, true) < 0 ||
	    fd_set_cloexec(udp_fd, true) < 0 ||
	    fd_set_nonblock(tcp_listen_fd, true) < 0 ||
	    fd_set_cloexec(tcp_listen_fd, true) < 0)
		return NULL;
	struct gossip_pool *p = xcalloc(1, sizeof(*p));
	p->loop = loop;
	p->cfg = *cfg;
	p->udp = udp_fd;
	p->tcp = tcp_listen_fd;
	if (p->cfg.serf.ml.rtt_clock == NULL)
		p->cfg.serf.ml.rtt_clock = rtt_clock_us;
	p->s = gossip_serf_new(&p->cfg.serf, gossip_pool_now(p));
	ev_io_init(&p->udp_io, on_udp, udp_fd, EV_READ);
	p->udp_io.data = p;
	ev_io_start(loop, &p->udp_io);
	ev_io_init(&p->tcp_io, on_accept, tcp_listen_fd, EV_READ);
	p->tcp_io.data = p;
	ev_io_start(loop, &p->tcp_io);
	ev_timer_init(&p->tick, on_tick, 0.0, 0.0);
	p->tick.data = p;
	gossip_pool_flush(p);
	return p;
}

void
gossip_pool_free(struct gossip_pool *p)
{
	if (p == NULL)
		return;
	while (p->conns) {
		p->conns->resolved = true;
		conn_close(p->conns);
	}
	ev_io_stop(p->loop, &p->udp_io);
	ev_io_stop(p->loop, &p->tcp_io);
	ev_timer_stop(p->loop, &p->tick);
	close(p->udp);
	close(p->tcp);
	gossip_serf_free(p->s);
	free(p);
}

struct gossip_serf *
gossip_pool_serf(struct gossip_pool *p)
{
	return p->s;
}

void
gossip_pool_stats(const struct gossip_pool *p, struct gossip_pool_stats *st)
{
	*st = p->st;
}

int
gossip_pool_join(struct gossip_pool *p, const char *const *addrs, size_t n,
    uint16_t default_port, bool ignore_old)
{
	struct gossip_addr *a = xcalloc(n ? n : 1, sizeof(*a));
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (gossip_addr_parse_hostport(addrs[i], default_port, &a[k]) ==
		    0)
			k++;
		else
			log_warnx("gossip: cannot join '%s': not an address",
			    addrs[i]);
	}
	if (k > 0)
		gossip_serf_join(p->s, gossip_pool_now(p), a, k, ignore_old);
	free(a);
	gossip_pool_flush(p);
	return k > 0 ? 0 : -EINVAL;
}

int
gossip_pool_leave(struct gossip_pool *p)
{
	int rc = gossip_serf_leave(p->s, gossip_pool_now(p));
	gossip_pool_flush(p);
	return rc;
}

int
gossip_pool_user_event(struct gossip_pool *p, const char *name,
    const uint8_t *payload, size_t len, bool coalesce, const char **why)
{
	int rc = gossip_serf_user_event(p->s, gossip_pool_now(p), name, payload,
	    len, coalesce, why);
	gossip_pool_flush(p);
	return rc;
}

int
gossip_pool_respond(struct gossip_pool *p, uint64_t query,
    const uint8_t *payload, size_t len, const char **why)
{
	int rc = gossip_serf_respond(p->s, gossip_pool_now(p), query, payload,
	    len, why);
	gossip_pool_flush(p);
	return rc;
}
