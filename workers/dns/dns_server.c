/*
 * The DNS listeners: UDP and TCP (RFC 1035 §4.2, RFC 7766) on sockets the
 * supervisor bound, driven by one libev loop.
 *
 * UDP reads and answers in batches (recvmmsg/sendmmsg) into per-slot
 * buffers that are reused, so steady-state serving does not allocate.  A
 * socket bound to a wildcard address answers from the address the query
 * was sent to (IP_PKTINFO / IPV6_PKTINFO).
 *
 * TCP: 2-byte length framing, any number of queries per connection,
 * answered as they complete (forwarded ones may overtake, RFC 7766 §6.2.1.1);
 * a connection idle for tcp_idle_ms is closed, connections above
 * tcp_max_conns are closed at once, and a connection whose unsent answers
 * pass tcp_out_max is not read until they drain.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "workers/dns/dns_int.h"

#define UDP_BATCH 32
#define UDP_RX 4096			/* a query larger than this is junk */
#define TCP_ACCEPT_BATCH 64
#define CMSG_ROOM CMSG_SPACE(sizeof(struct in6_pktinfo))

struct udp_slot {
	uint8_t rx[UDP_RX];
	struct sockaddr_storage peer;
	uint8_t rcmsg[CMSG_ROOM];
	uint8_t scmsg[CMSG_ROOM];
	struct buf tx;
};

struct dns_udp {
	struct dns_server *s;
	struct dns_udp *next;
	int fd;
	bool pktinfo;
	ev_io io;
	struct udp_slot slot[UDP_BATCH];
	struct mmsghdr rmsg[UDP_BATCH], smsg[UDP_BATCH];
	struct iovec riov[UDP_BATCH], siov[UDP_BATCH];
};

struct dns_tcpl {
	struct dns_server *s;
	struct dns_tcpl *next;
	int fd;
	ev_io io;
	ev_timer pause;			/* out of descriptors: back off */
};

struct pend;

struct dns_conn {
	struct dns_server *s;
	struct dns_conn *prev, *next;
	int fd;
	ev_io io;
	int events;
	ev_timer idle;
	struct buf in, out;
	size_t out_off;
	struct pend *pend;		/* forwarded queries in flight */
	bool eof;
	bool wrote;			/* output drained since the last tick */
};

/* A query forwarded to the recursors on behalf of a client. */
struct pend {
	struct dns_server *s;
	struct pend *prev, *next;
	struct dns_recursion *rc;
	struct dns_conn *conn;		/* TCP client, or NULL */
	struct dns_udp *udp;		/* UDP client */
	struct sockaddr_storage peer;
	socklen_t peerlen;
	uint8_t cmsg[CMSG_ROOM];
	size_t cmsglen;
};

struct dns_server {
	struct ev_loop *loop;
	struct dns_resolver *r;
	struct dns_server_limits lim;
	struct dns_udp *udps;
	struct dns_tcpl *tcpls;
	struct dns_conn *conns;
	unsigned nconns;
	struct pend *udp_pend;
	struct buf scratch;
	struct dns_stats st;		/* transport counters only */
};

struct dns_server *
dns_server_new(struct ev_loop *loop, struct dns_resolver *r)
{
	struct dns_server *s = xcalloc(1, sizeof(*s));

	s->loop = loop;
	s->r = r;
	s->lim.tcp_max_conns = 512;
	s->lim.tcp_idle_ms = 10000;
	s->lim.tcp_out_max = 256 * 1024;
	return s;
}

void
dns_server_set_limits(struct dns_server *s, const struct dns_server_limits *l)
{
	if (l->tcp_max_conns)
		s->lim.tcp_max_conns = l->tcp_max_conns;
	if (l->tcp_idle_ms)
		s->lim.tcp_idle_ms = l->tcp_idle_ms;
	if (l->tcp_out_max)
		s->lim.tcp_out_max = l->tcp_out_max;
}

void
dns_server_stats(const struct dns_server *s, struct dns_stats *out)
{
	dns_resolver_stats(s->r, out);
	out->udp_errors = s->st.udp_errors;
	out->tcp_accepted = s->st.tcp_accepted;
	out->tcp_rejected = s->st.tcp_rejected;
	out->tcp_timeouts = s->st.tcp_timeouts;
	out->tcp_errors = s->st.tcp_errors;
}

static void
pend_link(struct pend **head, struct pend *p)
{
	p->prev = NULL;
	p->next = *head;
	if (*head)
		(*head)->prev = p;
	*head = p;
}

static void
pend_unlink(struct pend **head, struct pend *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		*head = p->next;
	if (p->next)
		p->next->prev = p->prev;
}

/* The query's destination address becomes the reply's source. */
static size_t
reply_cmsg(struct msghdr *rh, uint8_t *out)
{
	struct msghdr o = { .msg_control = out, .msg_controllen = CMSG_ROOM };
	struct cmsghdr *oc;

	if (rh->msg_control == NULL)
		return 0;
	memset(out, 0, CMSG_ROOM);
	oc = CMSG_FIRSTHDR(&o);
	for (struct cmsghdr *c = CMSG_FIRSTHDR(rh); c; c = CMSG_NXTHDR(rh, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			pi.ipi_spec_dst = pi.ipi_addr;
			pi.ipi_ifindex = 0;
			oc->cmsg_level = IPPROTO_IP;
			oc->cmsg_type = IP_PKTINFO;
			oc->cmsg_len = CMSG_LEN(sizeof(pi));
			memcpy(CMSG_DATA(oc), &pi, sizeof(pi));
			return CMSG_SPACE(sizeof(pi));
		}
		if (c->cmsg_level == IPPROTO_IPV6 &&
		    c->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			oc->cmsg_level = IPPROTO_IPV6;
			oc->cmsg_type = IPV6_PKTINFO;
			oc->cmsg_len = CMSG_LEN(sizeof(pi));
			memcpy(CMSG_DATA(oc), &pi, sizeof(pi));
			return CMSG_SPACE(sizeof(pi));
		}
	}
	return 0;
}

static void
udp_send_one(struct dns_server *s, int fd, const void *pkt, size_t len,
    const struct sockaddr_storage *peer, socklen_t peerlen, void *cmsg,
    size_t cmsglen)
{
	struct iovec iov = { (void *)pkt, len };
	struct msghdr h = {
		.msg_name = (void *)peer, .msg_namelen = peerlen,
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cmsglen ? cmsg : NULL, .msg_controllen = cmsglen,
	};

	while (sendmsg(fd, &h, MSG_DONTWAIT) < 0) {
		if (errno != EINTR) {
			s->st.udp_errors++;
			return;
		}
	}
}

static void
udp_pend_done(void *arg, const uint8_t *pkt, size_t len)
{
	struct pend *p = arg;
	struct dns_server *s = p->s;

	udp_send_one(s, p->udp->fd, pkt, len, &p->peer, p->peerlen, p->cmsg,
	    p->cmsglen);
	pend_unlink(&s->udp_pend, p);
	free(p);
}

static void
udp_recurse(struct dns_udp *u, int i)
{
	struct dns_server *s = u->s;
	struct pend *p = xcalloc(1, sizeof(*p));
	struct msghdr *h = &u->rmsg[i].msg_hdr;

	p->s = s;
	p->udp = u;
	p->peer = u->slot[i].peer;
	p->peerlen = h->msg_namelen;
	p->cmsglen = reply_cmsg(h, p->cmsg);
	p->rc = dns_recurse(s->r, u->slot[i].rx, u->rmsg[i].msg_len, false,
	    udp_pend_done, p);
	if (p->rc == NULL) {
		free(p);
		return;
	}
	pend_link(&s->udp_pend, p);
}

static void
udp_prepare(struct dns_udp *u)
{
	for (int i = 0; i < UDP_BATCH; i++) {
		struct msghdr *h = &u->rmsg[i].msg_hdr;
		u->riov[i].iov_base = u->slot[i].rx;
		u->riov[i].iov_len = UDP_RX;
		memset(h, 0, sizeof(*h));
		h->msg_name = &u->slot[i].peer;
		h->msg_namelen = sizeof(u->slot[i].peer);
		h->msg_iov = &u->riov[i];
		h->msg_iovlen = 1;
		if (u->pktinfo) {
			h->msg_control = u->slot[i].rcmsg;
			h->msg_controllen = CMSG_ROOM;
		}
	}
}

/* Answer n received datagrams; returns how many replies were queued. */
static int
udp_answer_batch(struct dns_udp *u, int n)
{
	int ns = 0;

	for (int i = 0; i < n; i++) {
		struct msghdr *h = &u->rmsg[i].msg_hdr;
		struct udp_slot *sl = &u->slot[i];
		if (h->msg_flags & MSG_TRUNC) {
			u->s->st.udp_errors++;
			continue;
		}
		int rc = dns_answer(u->s->r, sl->rx, u->rmsg[i].msg_len, false,
		    &sl->tx);
		if (rc == DNS_RECURSE)
			udp_recurse(u, i);
		if (rc != DNS_REPLY)
			continue;
		struct msghdr *o = &u->smsg[ns].msg_hdr;
		u->siov[ns].iov_base = sl->tx.data;
		u->siov[ns].iov_len = sl->tx.len;
		memset(o, 0, sizeof(*o));
		o->msg_name = &sl->peer;
		o->msg_namelen = h->msg_namelen;
		o->msg_iov = &u->siov[ns];
		o->msg_iovlen = 1;
		size_t cl = reply_cmsg(h, sl->scmsg);
		o->msg_control = cl ? sl->scmsg : NULL;
		o->msg_controllen = cl;
		ns++;
	}
	return ns;
}

static void
udp_send_batch(struct dns_udp *u, int ns)
{
	int sent = 0;

	while (sent < ns) {
		int k = sendmmsg(u->fd, u->smsg + sent, (unsigned)(ns - sent),
		    MSG_DONTWAIT);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			/* The first one failed (unreachable peer, full
			 * buffer): UDP, so drop it and go on. */
			u->s->st.udp_errors++;
			sent++;
			continue;
		}
		sent += k;
	}
}

static void
udp_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct dns_udp *u = w->data;

	/* A few batches per wakeup, then let other watchers run. */
	for (int round = 0; round < 8; round++) {
		udp_prepare(u);
		int n = recvmmsg(u->fd, u->rmsg, UDP_BATCH, MSG_DONTWAIT, NULL);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR)
				u->s->st.udp_errors++;
			return;
		}
		udp_send_batch(u, udp_answer_batch(u, n));
		if (n < UDP_BATCH)
			return;
	}
}

int
dns_server_add_udp(struct dns_server *s, int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int on = 1;

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		return -errno;
	if (fd_set_nonblock(fd, true) < 0 || fd_set_cloexec(fd, true) < 0)
		return -errno;
	struct dns_udp *u = xcalloc(1, sizeof(*u));
	u->s = s;
	u->fd = fd;
	if (ss.ss_family == AF_INET &&
	    ((struct sockaddr_in *)&ss)->sin_addr.s_addr == htonl(INADDR_ANY)) {
		u->pktinfo = setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on,
		    sizeof(on)) == 0;
	} else if (ss.ss_family == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED(
	    &((struct sockaddr_in6 *)&ss)->sin6_addr)) {
		/* Dual-stack sockets see IPv4 queries as IP_PKTINFO. */
		setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on));
		u->pktinfo = setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on,
		    sizeof(on)) == 0;
	}
	ev_io_init(&u->io, udp_cb, fd, EV_READ);
	u->io.data = u;
	ev_io_start(s->loop, &u->io);
	u->next = s->udps;
	s->udps = u;
	return 0;
}

static void conn_flush(struct dns_conn *c);

static void
conn_set_events(struct dns_conn *c, int events)
{
	if (events == c->events)
		return;
	ev_io_stop(c->s->loop, &c->io);
	c->events = events;
	if (events) {
		ev_io_set(&c->io, c->fd, events);
		ev_io_start(c->s->loop, &c->io);
	}
}

static void
conn_close(struct dns_conn *c)
{
	struct dns_server *s = c->s;

	while (c->pend) {
		struct pend *p = c->pend;
		dns_recurse_cancel(p->rc);
		pend_unlink(&c->pend, p);
		free(p);
	}
	ev_io_stop(s->loop, &c->io);
	ev_timer_stop(s->loop, &c->idle);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->nconns--;
	buf_free(&c->in);
	buf_free(&c->out);
	free(c);
}

static void
conn_queue(struct dns_conn *c, const uint8_t *pkt, size_t len)
{
	uint8_t l[2];

	dns_put16(l, (uint16_t)len);
	buf_add(&c->out, l, 2);
	buf_add(&c->out, pkt, len);
}

static void
tcp_pend_done(void *arg, const uint8_t *pkt, size_t len)
{
	struct pend *p = arg;
	struct dns_conn *c = p->conn;

	pend_unlink(&c->pend, p);
	free(p);
	conn_queue(c, pkt, len);
	conn_flush(c);
}

static void
conn_query(struct dns_conn *c, const uint8_t *q, size_t len)
{
	struct dns_server *s = c->s;
	int rc = dns_answer(s->r, q, len, true, &s->scratch);

	if (rc == DNS_REPLY) {
		conn_queue(c, s->scratch.data, s->scratch.len);
	} else if (rc == DNS_RECURSE) {
		struct pend *p = xcalloc(1, sizeof(*p));
		p->s = s;
		p->conn = c;
		p->rc = dns_recurse(s->r, q, len, true, tcp_pend_done, p);
		if (p->rc == NULL)
			free(p);
		else
			pend_link(&c->pend, p);
	}
}

static bool
conn_backlogged(const struct dns_conn *c)
{
	return c->out.len - c->out_off > c->s->lim.tcp_out_max;
}

/* Answer every complete frame buffered; false on a framing error. */
static bool
conn_frames(struct dns_conn *c)
{
	size_t off = 0;

	while (c->in.len - off >= 2 && !conn_backlogged(c)) {
		size_t l = dns_get16(c->in.data + off);
		if (l == 0)
			return false;
		if (c->in.len - off - 2 < l)
			break;
		conn_query(c, c->in.data + off + 2, l);
		off += 2 + l;
	}
	buf_consume(&c->in, off);
	return true;
}

/* Reading pauses while answers back up; the connection ends once the
 * client is done and nothing is owed to it. */
static void
conn_update(struct dns_conn *c)
{
	bool owe = c->out.len > c->out_off;

	if (c->eof && !owe && c->pend == NULL) {
		conn_close(c);
		return;
	}
	int ev = (owe ? EV_WRITE : 0) |
	    (!c->eof && !conn_backlogged(c) ? EV_READ : 0);
	conn_set_events(c, ev);
}

static void
conn_flush(struct dns_conn *c)
{
	while (c->out.len > c->out_off) {
		ssize_t n = send(c->fd, c->out.data + c->out_off,
		    c->out.len - c->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0) {
			c->s->st.tcp_errors++;
			conn_close(c);
			return;
		}
		c->out_off += (size_t)n;
		c->wrote = true;
	}
	if (c->out_off == c->out.len) {
		buf_reset(&c->out);
		c->out_off = 0;
		/* Frames left unread while backlogged can go now. */
		if (c->in.len >= 2 && !conn_frames(c)) {
			c->s->st.tcp_errors++;
			conn_close(c);
			return;
		}
		if (c->out.len > 0) {
			conn_flush(c);
			return;
		}
	}
	conn_update(c);
}

static void
conn_read(struct dns_conn *c)
{
	buf_reserve(&c->in, 4096);
	ssize_t n = recv(c->fd, c->in.data + c->in.len,
	    c->in.cap - c->in.len - 1, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n < 0) {
		c->s->st.tcp_errors++;
		conn_close(c);
		return;
	}
	if (n == 0) {
		c->eof = true;
	} else {
		c->in.len += (size_t)n;
		ev_timer_again(c->s->loop, &c->idle);
	}
	if (!conn_frames(c)) {
		c->s->st.tcp_errors++;
		conn_close(c);
		return;
	}
	conn_flush(c);
}

static void
conn_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct dns_conn *c = w->data;

	if (revents & EV_WRITE) {
		conn_flush(c);
		return;		/* c may be gone; reads come next round */
	}
	if (revents & EV_READ)
		conn_read(c);
}

/* RFC 7766 §6.2.3: close idle connections.  One waiting on a recursor
 * is not idle, nor one whose client is still taking its answers; one whose
 * client has stopped reading is. */
static void
conn_idle_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct dns_conn *c = w->data;
	bool draining = c->out.len > c->out_off && c->wrote;

	c->wrote = false;
	if (c->pend || draining) {
		ev_timer_again(loop, w);
		return;
	}
	c->s->st.tcp_timeouts++;
	conn_close(c);
}

static void
conn_new(struct dns_server *s, int fd)
{
	struct dns_conn *c = xcalloc(1, sizeof(*c));

	c->s = s;
	c->fd = fd;
	ev_io_init(&c->io, conn_cb, fd, EV_READ);
	c->io.data = c;
	ev_timer_init(&c->idle, conn_idle_cb, 0., s->lim.tcp_idle_ms / 1000.0);
	c->idle.data = c;
	ev_timer_again(s->loop, &c->idle);
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
	conn_set_events(c, EV_READ);
}

static void
tcpl_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct dns_tcpl *l = w->data;
	struct dns_server *s = l->s;

	for (int i = 0; i < TCP_ACCEPT_BATCH; i++) {
		int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				/* Retrying at once would spin. */
				s->st.tcp_errors++;
				ev_io_stop(loop, &l->io);
				ev_timer_start(loop, &l->pause);
			}
			return;
		}
		if (s->nconns >= s->lim.tcp_max_conns) {
			s->st.tcp_rejected++;
			close(fd);
			continue;
		}
		s->st.tcp_accepted++;
		conn_new(s, fd);
	}
}

static void
tcpl_resume_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct dns_tcpl *l = w->data;
	ev_io_start(loop, &l->io);
}

int
dns_server_add_tcp(struct dns_server *s, int fd)
{
	if (fd_set_nonblock(fd, true) < 0 || fd_set_cloexec(fd, true) < 0)
		return -errno;
	struct dns_tcpl *l = xcalloc(1, sizeof(*l));
	l->s = s;
	l->fd = fd;
	ev_io_init(&l->io, tcpl_cb, fd, EV_READ);
	l->io.data = l;
	ev_timer_init(&l->pause, tcpl_resume_cb, 0.1, 0.);
	l->pause.data = l;
	ev_io_start(s->loop, &l->io);
	l->next = s->tcpls;
	s->tcpls = l;
	return 0;
}

void
dns_server_free(struct dns_server *s)
{
	if (s == NULL)
		return;
	while (s->conns)
		conn_close(s->conns);
	while (s->udp_pend) {
		struct pend *p = s->udp_pend;
		dns_recurse_cancel(p->rc);
		pend_unlink(&s->udp_pend, p);
		free(p);
	}
	while (s->udps) {
		struct dns_udp *u = s->udps;
		s->udps = u->next;
		ev_io_stop(s->loop, &u->io);
		close(u->fd);
		for (int i = 0; i < UDP_BATCH; i++)
			buf_free(&u->slot[i].tx);
		free(u);
	}
	while (s->tcpls) {
		struct dns_tcpl *l = s->tcpls;
		s->tcpls = l->next;
		ev_io_stop(s->loop, &l->io);
		ev_timer_stop(s->loop, &l->pause);
		close(l->fd);
		free(l);
	}
	buf_free(&s->scratch);
	free(s);
}
