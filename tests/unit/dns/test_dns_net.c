/*
 * The server over real sockets on 127.0.0.1: UDP and TCP round trips,
 * pipelined and split TCP frames, idle timeout, connection cap; recursor
 * forwarding against tiny upstreams run inside the test (failover,
 * timeouts, SERVFAIL, TCP fallback, spoofed replies, random strategy);
 * and, when installed, dig(1) parsing our answers.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit/dns/dnstest.h"

static struct presp resp;
static uint8_t buf[70000];

struct srv {
	struct dns_resolver *r;
	struct dns_server *s;
	uint16_t port;
};

static void
srv_start(struct srv *v, const struct dns_config *c)
{
	int u = -1, t = -1;

	for (int i = 0; i < 20 && t < 0; i++) {
		if (u >= 0)
			close(u);
		u = bind_udp(&v->port);
		t = bind_tcp_at(v->port);
	}
	ck_assert_int_ge(t, 0);
	v->r = mkres(c);
	v->s = dns_server_new(tloop, v->r);
	ck_assert_int_eq(dns_server_add_udp(v->s, u), 0);
	ck_assert_int_eq(dns_server_add_tcp(v->s, t), 0);
}

static void
srv_stop(struct srv *v)
{
	dns_server_free(v->s);
	dns_resolver_free(v->r);
}

/* A tiny upstream resolver: answers A 192.0.2.<tag> (or misbehaves). */
enum up_mode { UP_ANSWER, UP_SILENT, UP_SERVFAIL, UP_TRUNC, UP_SPOOF };

struct upstream {
	int ufd, tfd, cfd;
	uint16_t port;
	enum up_mode mode;
	uint8_t tag;
	unsigned queries, tcp_queries;
	ev_io uio, tio, cio;
	uint8_t cbuf[4096];
	size_t clen;
	char recursor[32];
};

static size_t
up_reply(struct upstream *u, const uint8_t *q, size_t qlen, uint8_t *out,
    unsigned nans, uint16_t extra_flags, unsigned rcode)
{
	struct dns_rr rr;
	size_t o = DNS_HDR_LEN;

	if (qlen < DNS_HDR_LEN || dns_question_read(q, qlen, &o, &rr) < 0)
		return 0;
	memcpy(out, q, o);
	dns_put16(out + 2, (uint16_t)(DNS_F_QR | DNS_F_RA | DNS_F_RD |
	    extra_flags | rcode));
	dns_put16(out + 6, (uint16_t)nans);
	dns_put16(out + 8, 0);
	dns_put16(out + 10, 0);
	for (unsigned i = 0; i < nans; i++) {
		static const uint8_t a[] = { 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60,
			0, 4, 192, 0, 2, 0 };
		memcpy(out + o, a, sizeof(a));
		out[o + sizeof(a) - 1] = (uint8_t)(u->tag + i);
		o += sizeof(a);
	}
	return o;
}

static void
up_udp_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct upstream *u = w->data;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	uint8_t q[4096], out[4096];
	ssize_t n = recvfrom(u->ufd, q, sizeof(q), MSG_DONTWAIT,
	    (struct sockaddr *)&ss, &sl);
	size_t m = 0;

	if (n <= 0)
		return;
	u->queries++;
	switch (u->mode) {
	case UP_SILENT:
		return;
	case UP_SERVFAIL:
		m = up_reply(u, q, (size_t)n, out, 0, 0, DNS_R_SERVFAIL);
		break;
	case UP_TRUNC:
		m = up_reply(u, q, (size_t)n, out, 0, DNS_F_TC, 0);
		break;
	case UP_SPOOF:
		m = up_reply(u, q, (size_t)n, out, 1, 0, 0);
		out[0] ^= 0x55;		/* wrong ID first */
		out[m - 1] = 66;
		sendto(u->ufd, out, m, 0, (struct sockaddr *)&ss, sl);
		out[0] ^= 0x55;
		out[m - 1] = u->tag;
		break;
	case UP_ANSWER:
		m = up_reply(u, q, (size_t)n, out, 1, 0, 0);
		break;
	}
	sendto(u->ufd, out, m, 0, (struct sockaddr *)&ss, sl);
}

/* TCP side: answers with three A records, then closes. */
static void
up_conn_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct upstream *u = w->data;
	uint8_t out[4096];
	ssize_t n = recv(u->cfd, u->cbuf + u->clen, sizeof(u->cbuf) - u->clen,
	    MSG_DONTWAIT);

	if (n < 0 && errno == EAGAIN)
		return;
	if (n > 0)
		u->clen += (size_t)n;
	if (n > 0 && (u->clen < 2 || u->clen - 2 < dns_get16(u->cbuf)))
		return;
	if (n > 0) {
		u->tcp_queries++;
		size_t m = up_reply(u, u->cbuf + 2, u->clen - 2, out + 2, 3, 0,
		    0);
		dns_put16(out, (uint16_t)m);
		ck_assert_int_eq(send(u->cfd, out, m + 2, 0), (ssize_t)m + 2);
	}
	ev_io_stop(loop, w);
	close(u->cfd);
	u->cfd = -1;
}

static void
up_accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct upstream *u = w->data;
	int fd = accept4(u->tfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	if (u->cfd >= 0) {
		ev_io_stop(loop, &u->cio);
		close(u->cfd);
	}
	u->cfd = fd;
	u->clen = 0;
	ev_io_init(&u->cio, up_conn_cb, fd, EV_READ);
	u->cio.data = u;
	ev_io_start(loop, &u->cio);
}

static void
up_start(struct upstream *u, enum up_mode mode, uint8_t tag)
{
	memset(u, 0, sizeof(*u));
	u->mode = mode;
	u->tag = tag;
	u->cfd = -1;
	u->ufd = u->tfd = -1;
	for (int i = 0; i < 20 && u->tfd < 0; i++) {
		if (u->ufd >= 0)
			close(u->ufd);
		u->ufd = bind_udp(&u->port);
		u->tfd = bind_tcp_at(u->port);
	}
	ck_assert_int_ge(u->tfd, 0);
	ev_io_init(&u->uio, up_udp_cb, u->ufd, EV_READ);
	u->uio.data = u;
	ev_io_start(tloop, &u->uio);
	ev_io_init(&u->tio, up_accept_cb, u->tfd, EV_READ);
	u->tio.data = u;
	ev_io_start(tloop, &u->tio);
	snprintf(u->recursor, sizeof(u->recursor), "127.0.0.1:%u", u->port);
}

static void
up_stop(struct upstream *u)
{
	ev_io_stop(tloop, &u->uio);
	ev_io_stop(tloop, &u->tio);
	ev_io_stop(tloop, &u->cio);
	close(u->ufd);
	close(u->tfd);
	if (u->cfd >= 0)
		close(u->cfd);
}

static void
recursing_config(struct dns_config *c, const char **rec, size_t n,
    uint32_t timeout_ms)
{
	test_config(c);
	c->recursors = rec;
	c->nrecursors = n;
	c->recursor_timeout_ms = timeout_ms;
}

/* A UDP query for example.com through the server: the parsed answer. */
static void
udp_ask(struct srv *v, const char *name, uint16_t id, unsigned ms)
{
	uint8_t q[512];
	size_t n = mkq(q, id, name, DNS_T_A, -1);
	ssize_t got = udp_exchange(v->port, q, n, buf, sizeof(buf), ms);

	ck_assert_int_gt(got, 0);
	ck_assert(parse_resp(buf, (size_t)got, &resp));
	ck_assert_uint_eq(resp.id, id);
}

START_TEST(t_udp_roundtrip)
{
	struct srv v;
	struct dns_stats st;

	fake_reset();
	srv_start(&v, NULL);
	udp_ask(&v, "consul.", 0x4242, 2000);
	ck_assert_uint_eq(resp.rcode, DNS_R_NOERROR);
	ck_assert_uint_eq(resp.ns, 1);
	udp_ask(&v, "nothing.service.consul.", 0x4343, 2000);
	ck_assert_uint_eq(resp.rcode, DNS_R_NXDOMAIN);
	/* Garbage gets FORMERR; a response packet gets nothing. */
	uint8_t junk[20] = { 1, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
	ssize_t got = udp_exchange(v.port, junk, sizeof(junk), buf,
	    sizeof(buf), 2000);
	ck_assert_int_ge(got, DNS_HDR_LEN);
	ck_assert(parse_resp(buf, (size_t)got, &resp));
	ck_assert_uint_eq(resp.rcode, DNS_R_FORMERR);
	ck_assert_uint_eq(resp.id, 0x0102);
	junk[2] = 0x80;
	ck_assert_int_lt(udp_exchange(v.port, junk, sizeof(junk), buf,
	    sizeof(buf), 200), 0);
	dns_server_stats(v.s, &st);
	ck_assert_uint_eq(st.queries, 4);
	ck_assert_uint_eq(st.formerr, 1);
	ck_assert_uint_eq(st.dropped, 1);
	srv_stop(&v);
}
END_TEST

START_TEST(t_tcp_pipeline)
{
	struct srv v;
	uint8_t q[3][512], all[2048];
	size_t n[3], tot = 0;

	fake_reset();
	srv_start(&v, NULL);
	int fd = tcp_connect(v.port);
	n[0] = mkq(q[0], 1, "consul.", DNS_T_SOA, -1);
	n[1] = mkq(q[1], 2, "x.service.consul.", DNS_T_A, -1);
	n[2] = mkq(q[2], 3, "consul.", DNS_T_NS, 1232);
	for (int i = 0; i < 3; i++) {
		dns_put16(all + tot, (uint16_t)n[i]);
		memcpy(all + tot + 2, q[i], n[i]);
		tot += 2 + n[i];
	}
	/* Three queries in one segment: three answers, in order. */
	ck_assert_int_eq(send(fd, all, tot, 0), (ssize_t)tot);
	for (uint16_t id = 1; id <= 3; id++) {
		ssize_t l = tcp_read_msg(fd, buf, sizeof(buf), 2000);
		ck_assert_int_gt(l, 0);
		ck_assert(parse_resp(buf, (size_t)l, &resp));
		ck_assert_uint_eq(resp.id, id);
	}
	ck_assert_uint_eq(resp.an, 1);
	/* One query a byte at a time, the loop running in between. */
	for (size_t i = 0; i < 2 + n[0]; i++) {
		ck_assert_int_eq(send(fd, all + i, 1, 0), 1);
		ev_run(tloop, EVRUN_NOWAIT);
	}
	ssize_t l = tcp_read_msg(fd, buf, sizeof(buf), 2000);
	ck_assert_int_gt(l, 0);
	ck_assert(parse_resp(buf, (size_t)l, &resp));
	ck_assert_uint_eq(resp.id, 1);
	close(fd);
	srv_stop(&v);
}
END_TEST

START_TEST(t_tcp_limits)
{
	struct srv v;
	struct dns_server_limits lim = { .tcp_max_conns = 2,
		.tcp_idle_ms = 300 };
	struct dns_stats st;
	uint8_t b;

	fake_reset();
	srv_start(&v, NULL);
	dns_server_set_limits(v.s, &lim);
	int a = tcp_connect(v.port), c = tcp_connect(v.port);
	ev_run(tloop, EVRUN_NOWAIT);
	/* Over the cap: closed at once. */
	int d = tcp_connect(v.port);
	ck_assert(wait_fd(d, 2000));
	ck_assert_int_eq(recv(d, &b, 1, 0), 0);
	/* Idle ones close after tcp_idle_ms. */
	uint64_t t0 = mono_ms();
	ck_assert(wait_fd(a, 3000));
	ck_assert_int_eq(recv(a, &b, 1, 0), 0);
	ck_assert_uint_ge(mono_ms() - t0, 200);
	/* A zero-length frame is a protocol error. */
	int e = tcp_connect(v.port);
	ck_assert_int_eq(send(e, "\0\0", 2, 0), 2);
	ck_assert(wait_fd(e, 2000));
	ck_assert_int_le(recv(e, &b, 1, 0), 0);
	dns_server_stats(v.s, &st);
	ck_assert_uint_eq(st.tcp_rejected, 1);
	ck_assert_uint_ge(st.tcp_timeouts, 1);
	ck_assert_uint_ge(st.tcp_errors, 1);
	close(a);
	close(c);
	close(d);
	close(e);
	srv_stop(&v);
}
END_TEST

/* A client that asks and never reads: reading stops once answers back
 * up, and the connection is dropped as idle (not kept forever). */
START_TEST(t_tcp_stalled_reader)
{
	struct dns_server_limits lim = { .tcp_idle_ms = 200,
		.tcp_out_max = 8192 };
	struct dns_stats st;
	uint16_t port;
	int small = 4096;

	fake_reset();
	int l = bind_tcp(&port);
	setsockopt(l, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	struct dns_resolver *r = mkres(NULL);
	struct dns_server *s = dns_server_new(tloop, r);
	dns_server_set_limits(s, &lim);
	ck_assert_int_eq(dns_server_add_tcp(s, l), 0);

	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	uint8_t q[514];
	size_t n = mkq(q + 2, 1, "consul.", DNS_T_SOA, -1);
	dns_put16(q, (uint16_t)n);
	size_t sent = 0;
	for (int i = 0; i < 20000; i++) {
		if (send(fd, q, n + 2, MSG_DONTWAIT) != (ssize_t)n + 2)
			break;
		sent++;
		if (i % 64 == 0)
			ev_run(tloop, EVRUN_NOWAIT);
	}
	ck_assert_uint_gt(sent, 100);
	for (int i = 0; i < 60; i++) {
		bool never = false;
		wait_flag(&never, 50);
		dns_server_stats(s, &st);
		if (st.tcp_timeouts)
			break;
	}
	ck_assert_uint_eq(st.tcp_timeouts, 1);
	/* Far fewer answered than asked: reading had stopped. */
	ck_assert_uint_lt(st.queries, sent);
	close(fd);
	dns_server_free(s);
	dns_resolver_free(r);
}
END_TEST

START_TEST(t_recurse)
{
	struct upstream u;
	struct srv v;
	struct dns_config c;
	const char *rec[1];

	fake_reset();
	up_start(&u, UP_ANSWER, 7);
	rec[0] = u.recursor;
	recursing_config(&c, rec, 1, 1000);
	srv_start(&v, &c);
	udp_ask(&v, "example.com.", 0x7777, 3000);
	ck_assert_uint_eq(resp.rcode, DNS_R_NOERROR);
	ck_assert(resp.flags & DNS_F_RA);
	ck_assert_uint_eq(resp.an, 1);
	ck_assert_str_eq(resp.rr[0][0].data, "192.0.2.7");
	ck_assert_str_eq(resp.qname, "example.com.");
	/* Over TCP too (the upstream is asked over UDP first). */
	int fd = tcp_connect(v.port);
	uint8_t q[514];
	size_t n = mkq(q + 2, 0x1111, "example.org.", DNS_T_A, -1);
	dns_put16(q, (uint16_t)n);
	ck_assert_int_eq(send(fd, q, n + 2, 0), (ssize_t)n + 2);
	ssize_t l = tcp_read_msg(fd, buf, sizeof(buf), 3000);
	ck_assert_int_gt(l, 0);
	ck_assert(parse_resp(buf, (size_t)l, &resp));
	ck_assert_uint_eq(resp.id, 0x1111);
	ck_assert_str_eq(resp.rr[0][0].data, "192.0.2.7");
	ck_assert_uint_eq(u.queries, 2);
	close(fd);
	struct dns_stats st;
	dns_server_stats(v.s, &st);
	ck_assert_uint_eq(st.recursed, 2);
	srv_stop(&v);
	up_stop(&u);
}
END_TEST

START_TEST(t_recurse_failover)
{
	struct upstream s1, s2, ok;
	struct srv v;
	struct dns_config c;
	const char *rec[3];

	fake_reset();
	up_start(&s1, UP_SILENT, 1);
	up_start(&s2, UP_SERVFAIL, 2);
	up_start(&ok, UP_ANSWER, 3);
	rec[0] = s1.recursor;
	rec[1] = s2.recursor;
	rec[2] = ok.recursor;
	recursing_config(&c, rec, 3, 250);
	srv_start(&v, &c);
	uint64_t t0 = mono_ms();
	udp_ask(&v, "example.com.", 1, 3000);
	/* Timed out on the first, SERVFAIL from the second: the third. */
	ck_assert_uint_ge(mono_ms() - t0, 240);
	ck_assert_uint_eq(resp.rcode, DNS_R_NOERROR);
	ck_assert_str_eq(resp.rr[0][0].data, "192.0.2.3");
	ck_assert_uint_eq(s1.queries, 1);
	ck_assert_uint_eq(s2.queries, 1);
	ck_assert_uint_eq(ok.queries, 1);
	srv_stop(&v);

	/* None answering: SERVFAIL, with RA, after each had its turn. */
	recursing_config(&c, rec, 2, 150);
	srv_start(&v, &c);
	t0 = mono_ms();
	udp_ask(&v, "example.com.", 2, 3000);
	ck_assert_uint_eq(resp.rcode, DNS_R_SERVFAIL);
	ck_assert(resp.flags & DNS_F_RA);
	ck_assert_str_eq(resp.qname, "example.com.");
	ck_assert_uint_ge(mono_ms() - t0, 140);
	struct dns_stats st;
	dns_server_stats(v.s, &st);
	ck_assert_uint_eq(st.recurse_failed, 1);
	srv_stop(&v);

	/* A recursor nobody listens on (ICMP refused) is skipped fast. */
	up_stop(&s1);
	recursing_config(&c, rec, 1, 5000);
	rec[0] = "127.0.0.1:1";
	srv_start(&v, &c);
	t0 = mono_ms();
	udp_ask(&v, "example.com.", 3, 3000);
	ck_assert_uint_eq(resp.rcode, DNS_R_SERVFAIL);
	ck_assert_uint_lt(mono_ms() - t0, 2000);
	srv_stop(&v);
	up_stop(&s2);
	up_stop(&ok);
}
END_TEST

START_TEST(t_recurse_tcp_fallback)
{
	struct upstream u;
	struct srv v;
	struct dns_config c;
	const char *rec[1];

	fake_reset();
	up_start(&u, UP_TRUNC, 20);
	rec[0] = u.recursor;
	recursing_config(&c, rec, 1, 1000);
	srv_start(&v, &c);
	/* UDP client: gets the truncated reply and may retry over TCP. */
	udp_ask(&v, "big.example.", 5, 3000);
	ck_assert(resp.flags & DNS_F_TC);
	ck_assert_uint_eq(u.tcp_queries, 0);
	/* TCP client: we retry the upstream over TCP. */
	int fd = tcp_connect(v.port);
	uint8_t q[514];
	size_t n = mkq(q + 2, 6, "big.example.", DNS_T_A, -1);
	dns_put16(q, (uint16_t)n);
	ck_assert_int_eq(send(fd, q, n + 2, 0), (ssize_t)n + 2);
	ssize_t l = tcp_read_msg(fd, buf, sizeof(buf), 3000);
	ck_assert_int_gt(l, 0);
	ck_assert(parse_resp(buf, (size_t)l, &resp));
	ck_assert(!(resp.flags & DNS_F_TC));
	ck_assert_uint_eq(resp.an, 3);
	ck_assert_uint_eq(resp.id, 6);
	ck_assert_uint_eq(u.tcp_queries, 1);
	close(fd);
	srv_stop(&v);
	up_stop(&u);
}
END_TEST

START_TEST(t_recurse_spoof_random)
{
	struct upstream a, b;
	struct srv v;
	struct dns_config c;
	const char *rec[2];

	fake_reset();
	up_start(&a, UP_SPOOF, 10);
	up_start(&b, UP_ANSWER, 11);
	rec[0] = a.recursor;
	rec[1] = b.recursor;
	recursing_config(&c, rec, 2, 1000);
	srv_start(&v, &c);
	/* A reply with the wrong ID is ignored, the real one wins. */
	udp_ask(&v, "example.com.", 9, 3000);
	ck_assert_str_eq(resp.rr[0][0].data, "192.0.2.10");
	ck_assert_uint_eq(b.queries, 0);
	srv_stop(&v);

	c.recursor_strategy = DNS_RECURSE_RANDOM;
	srv_start(&v, &c);
	for (int i = 0; i < 40; i++)
		udp_ask(&v, "example.com.", (uint16_t)(100 + i), 3000);
	ck_assert_uint_gt(a.queries, 1);
	ck_assert_uint_gt(b.queries, 0);
	srv_stop(&v);
	up_stop(&a);
	up_stop(&b);
}
END_TEST

static void
count_done(void *arg, const uint8_t *pkt, size_t len)
{
	(*(int *)arg)++;
}

START_TEST(t_recurse_cancel)
{
	struct upstream u;
	struct srv v;
	struct dns_config c;
	const char *rec[1];
	uint8_t q[512];
	int done = 0;

	fake_reset();
	up_start(&u, UP_SILENT, 1);
	rec[0] = u.recursor;
	recursing_config(&c, rec, 1, 300);
	srv_start(&v, &c);
	/* A TCP client that leaves mid-recursion. */
	int fd = tcp_connect(v.port);
	size_t n = mkq(q + 2, 6, "gone.example.", DNS_T_A, -1);
	dns_put16(q, (uint16_t)n);
	ck_assert_int_eq(send(fd, q, n + 2, 0), (ssize_t)n + 2);
	for (int i = 0; i < 20 && u.queries == 0; i++)
		wait_fd(u.ufd, 100);
	close(fd);
	ev_run(tloop, EVRUN_NOWAIT);
	/* Cancelled handles never call back; live ones do, once. */
	n = mkq(q, 7, "x.example.", DNS_T_A, -1);
	struct dns_recursion *rc = dns_recurse(v.r, q, n, false, count_done,
	    &done);
	ck_assert_ptr_nonnull(rc);
	dns_recurse_cancel(rc);
	rc = dns_recurse(v.r, q, n, false, count_done, &done);
	ck_assert_ptr_nonnull(rc);
	bool never = false;
	wait_flag(&never, 800);
	ck_assert_int_eq(done, 1);
	/* Freed with a recursion in flight: no callback, no leak. */
	rc = dns_recurse(v.r, q, n, false, count_done, &done);
	srv_stop(&v);
	ck_assert_int_eq(done, 1);
	up_stop(&u);
}
END_TEST

/* Bind UDP to the wildcard of family af; port out. */
static int
bind_wild(int af, uint16_t *port)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t sl = af == AF_INET ? sizeof(struct sockaddr_in) :
	    sizeof(struct sockaddr_in6);
	int fd = socket(af, SOCK_DGRAM | SOCK_CLOEXEC, 0), off = 0;

	if (fd < 0)
		return -1;
	ss.ss_family = (sa_family_t)af;
	if (af == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

/* A wildcard-bound socket answers from the address the query went to
 * (the client's connected socket drops anything else). */
START_TEST(t_udp_wildcard_source)
{
	int fams[] = { AF_INET, AF_INET6 };

	fake_reset();
	for (size_t f = 0; f < nitems(fams); f++) {
		uint16_t port;
		int u = bind_wild(fams[f], &port);
		if (u < 0 && fams[f] == AF_INET6)
			continue;	/* no IPv6 here */
		ck_assert_int_ge(u, 0);
		struct dns_resolver *r = mkres(NULL);
		struct dns_server *s = dns_server_new(tloop, r);
		ck_assert_int_eq(dns_server_add_udp(s, u), 0);
		struct sockaddr_in a = { .sin_family = AF_INET,
			.sin_port = htons(port) };
		inet_pton(AF_INET, "127.0.0.2", &a.sin_addr);
		int c = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		ck_assert_int_eq(connect(c, (struct sockaddr *)&a, sizeof(a)),
		    0);
		uint8_t q[512];
		size_t n = mkq(q, 77, "consul.", DNS_T_SOA, -1);
		ck_assert_int_eq(send(c, q, n, 0), (ssize_t)n);
		ck_assert_msg(wait_fd(c, 2000), "no reply from 127.0.0.2 (af %d)",
		    fams[f]);
		ssize_t l = recv(c, buf, sizeof(buf), 0);
		ck_assert(parse_resp(buf, (size_t)l, &resp));
		ck_assert_uint_eq(resp.id, 77);
		close(c);
		dns_server_free(s);
		dns_resolver_free(r);
	}
}
END_TEST

/* Run dig against the server, serving while it runs; its stdout. */
static bool
run_dig(uint16_t port, const char *const *args, char *out, size_t cap)
{
	char portarg[16];
	const char *argv[16] = { "dig", "@127.0.0.1", "-p", portarg,
		"+tries=1", "+time=3" };
	int pfd[2], argc = 6;
	size_t got = 0;

	snprintf(portarg, sizeof(portarg), "%u", port);
	for (; *args && argc < 15; args++)
		argv[argc++] = *args;
	ck_assert_int_eq(pipe2(pfd, O_CLOEXEC), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		execv("/usr/bin/dig", (char *const *)argv);
		_exit(127);
	}
	close(pfd[1]);
	while (got + 1 < cap && wait_fd(pfd[0], 10000)) {
		ssize_t n = read(pfd[0], out + got, cap - got - 1);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	out[got] = '\0';
	close(pfd[0]);
	int status;
	waitpid(pid, &status, 0);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

START_TEST(t_dig)
{
	static char out[65536];
	struct srv v;

	if (access("/usr/bin/dig", X_OK) != 0)
		return;		/* dnsutils not installed */
	fake_reset();
	for (int i = 0; i < 12; i++) {
		static char nm[12][16], ad[12][16];
		snprintf(nm[i], sizeof(nm[i]), "node%d", i);
		snprintf(ad[i], sizeof(ad[i]), "10.3.0.%d", i + 1);
		fake_inst("web", NULL, fake_node(nm[i], "dc1", ad[i]), NULL,
		    8080, DNS_HEALTH_PASSING);
	}
	srv_start(&v, NULL);
	const char *soa[] = { "consul.", "SOA", NULL };
	ck_assert(run_dig(v.port, soa, out, sizeof(out)));
	ck_assert_ptr_nonnull(strstr(out, "status: NOERROR"));
	ck_assert_ptr_nonnull(strstr(out, "flags: qr aa rd;"));
	ck_assert_ptr_nonnull(strstr(out, "ns.consul. hostmaster.consul."));
	ck_assert_ptr_null(strstr(out, "alformed"));
	const char *nx[] = { "nope.service.consul.", "A", "+tcp", NULL };
	ck_assert(run_dig(v.port, nx, out, sizeof(out)));
	ck_assert_ptr_nonnull(strstr(out, "status: NXDOMAIN"));
	ck_assert_ptr_nonnull(strstr(out, "AUTHORITY: 1"));
	const char *srv[] = { "web.service.consul.", "SRV", "+bufsize=4096",
		NULL };
	ck_assert(run_dig(v.port, srv, out, sizeof(out)));
	ck_assert_ptr_nonnull(strstr(out, "ANSWER: 12,"));
	ck_assert_ptr_nonnull(strstr(out, "node.dc1.consul."));
	ck_assert_ptr_null(strstr(out, "alformed"));
	/* Plain UDP: three answers, dig does not retry over TCP. */
	const char *a3[] = { "web.service.consul.", "A", "+noedns", NULL };
	ck_assert(run_dig(v.port, a3, out, sizeof(out)));
	ck_assert_ptr_nonnull(strstr(out, "ANSWER: 3,"));
	srv_stop(&v);
}
END_TEST

Suite *
net_suite(void)
{
	Suite *s = suite_create("dns-net");
	TCase *tc = tcase_create("net");
	tcase_add_checked_fixture(tc, loop_setup, loop_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, t_udp_roundtrip);
	tcase_add_test(tc, t_udp_wildcard_source);
	tcase_add_test(tc, t_tcp_pipeline);
	tcase_add_test(tc, t_tcp_limits);
	tcase_add_test(tc, t_tcp_stalled_reader);
	tcase_add_test(tc, t_recurse);
	tcase_add_test(tc, t_recurse_failover);
	tcase_add_test(tc, t_recurse_tcp_fallback);
	tcase_add_test(tc, t_recurse_spoof_random);
	tcase_add_test(tc, t_recurse_cancel);
	tcase_add_test(tc, t_dig);
	suite_add_tcase(s, tc);
	return s;
}
