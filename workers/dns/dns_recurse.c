/*
 * Forwarding to the configured recursors (reference consul.md §5.4; Consul
 * agent/dns.go handleRecurse), asynchronously on the resolver's loop.
 *
 * Upstreams are tried in order (sequential) or in a random permutation
 * (random), each for recursor_timeout over UDP from a fresh connected
 * socket (a random source port per query, a random ID).  A reply counts
 * only if its ID and question match ours.  An rcode other than NOERROR or
 * NXDOMAIN, a timeout, or an ICMP error moves on to the next upstream; when
 * none is left the client gets SERVFAIL.  A truncated UDP reply is retried
 * over TCP with the same upstream when the client itself is on TCP; a UDP
 * client gets the truncated reply and retries over TCP on its own.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "workers/dns/dns_int.h"

struct dns_recursion {
	struct dns_resolver *r;
	struct dns_recursion *prev, *next;
	struct dns_query q;		/* the client's question */
	uint8_t *pkt;			/* as sent upstream (our ID) */
	size_t len;
	uint16_t up_id;
	bool client_tcp;
	struct sockaddr_storage up[DNS_MAX_RECURSORS];
	socklen_t uplen[DNS_MAX_RECURSORS];
	size_t nup, idx;
	uint32_t timeout_ms;
	int fd;
	bool tcp;			/* this attempt is over TCP */
	bool failing;			/* timer fires the SERVFAIL */
	struct buf tbuf;		/* TCP: request, then response */
	size_t toff;
	ev_io io;
	ev_timer timer;
	dns_reply_fn *done;
	void *arg;
};

static void rc_next(struct dns_recursion *rc);

static void
rc_close(struct dns_recursion *rc)
{
	ev_io_stop(rc->r->loop, &rc->io);
	ev_timer_stop(rc->r->loop, &rc->timer);
	if (rc->fd >= 0)
		close(rc->fd);
	rc->fd = -1;
}

static void
rc_unlink_free(struct dns_recursion *rc)
{
	struct dns_resolver *r = rc->r;

	rc_close(rc);
	if (rc->prev)
		rc->prev->next = rc->next;
	else
		r->recs = rc->next;
	if (rc->next)
		rc->next->prev = rc->prev;
	r->nrecs--;
	buf_free(&rc->tbuf);
	free(rc->pkt);
	free(rc);
}

/* Hand the client its answer, then forget the recursion. */
static void
rc_deliver(struct dns_recursion *rc, uint8_t *pkt, size_t len)
{
	dns_reply_fn *done = rc->done;
	void *arg = rc->arg;
	struct buf tc = { 0 };

	dns_put16(pkt, rc->q.id);
	if (!rc->client_tcp && len > dns_udp_limit(&rc->q)) {
		/* An upstream ignoring the client's size: RFC 1035 §4.2.1. */
		uint16_t f = (uint16_t)(dns_get16(pkt + 2) | DNS_F_TC);
		dns_msg_simple(&rc->q, (uint16_t)(f & ~0xfu), DNS_RCODE(f), true,
		    &tc);
		pkt = tc.data;
		len = tc.len;
	}
	rc_close(rc);
	done(arg, pkt, len);
	buf_free(&tc);
	rc_unlink_free(rc);
}

static void
rc_servfail(struct dns_recursion *rc)
{
	struct buf out = { 0 };
	uint16_t f = (uint16_t)(DNS_F_QR | DNS_F_RA |
	    (rc->q.flags & (DNS_F_RD | DNS_F_CD)));

	rc->r->st.recurse_failed++;
	rc->r->st.servfail++;
	dns_msg_simple(&rc->q, f, DNS_R_SERVFAIL, true, &out);
	rc_deliver(rc, out.data, out.len);
	buf_free(&out);
}

/* Is pkt the answer to what we sent?  Spoofed or stray replies are not. */
static bool
rc_matches(const struct dns_recursion *rc, const uint8_t *pkt, size_t len)
{
	struct dns_rr a, b;
	size_t oa = DNS_HDR_LEN, ob = DNS_HDR_LEN;

	if (len < DNS_HDR_LEN || dns_get16(pkt) != rc->up_id ||
	    !(dns_get16(pkt + 2) & DNS_F_QR) || dns_get16(pkt + 4) != 1)
		return false;
	if (dns_question_read(pkt, len, &oa, &a) < 0 ||
	    dns_question_read(rc->pkt, rc->len, &ob, &b) < 0)
		return false;
	return a.type == b.type && a.class == b.class &&
	    dns_name_eq(a.name, b.name);
}

/* A matching reply: forward it, retry over TCP, or try the next one. */
static void
rc_reply(struct dns_recursion *rc, uint8_t *pkt, size_t len)
{
	uint16_t f = dns_get16(pkt + 2);
	unsigned rcode = DNS_RCODE(f);

	if (rcode != DNS_R_NOERROR && rcode != DNS_R_NXDOMAIN) {
		rc->idx++;
		rc->tcp = false;
		rc_next(rc);
	} else if ((f & DNS_F_TC) && !rc->tcp && rc->client_tcp) {
		rc->tcp = true;
		rc_next(rc);
	} else {
		rc_deliver(rc, pkt, len);
	}
}

static void
rc_udp_read(struct dns_recursion *rc)
{
	uint8_t pkt[DNS_MSG_MAX];

	for (;;) {
		ssize_t n = recv(rc->fd, pkt, sizeof(pkt), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0) {		/* e.g. ECONNREFUSED from ICMP */
			rc->idx++;
			rc->tcp = false;
			rc_next(rc);
			return;
		}
		if (rc_matches(rc, pkt, (size_t)n)) {
			rc_reply(rc, pkt, (size_t)n);
			return;
		}
	}
}

static void
rc_tcp_fail(struct dns_recursion *rc)
{
	rc->idx++;
	rc->tcp = false;
	rc_next(rc);
}

static void
rc_tcp_write(struct dns_recursion *rc)
{
	int err = 0;
	socklen_t el = sizeof(err);

	if (getsockopt(rc->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err) {
		rc_tcp_fail(rc);
		return;
	}
	ssize_t n = send(rc->fd, rc->tbuf.data + rc->toff,
	    rc->tbuf.len - rc->toff, MSG_NOSIGNAL);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0) {
		rc_tcp_fail(rc);
		return;
	}
	rc->toff += (size_t)n;
	if (rc->toff < rc->tbuf.len)
		return;
	buf_reset(&rc->tbuf);
	ev_io_stop(rc->r->loop, &rc->io);
	ev_io_set(&rc->io, rc->fd, EV_READ);
	ev_io_start(rc->r->loop, &rc->io);
}

static void
rc_tcp_read(struct dns_recursion *rc)
{
	buf_reserve(&rc->tbuf, 4096);
	ssize_t n = recv(rc->fd, rc->tbuf.data + rc->tbuf.len,
	    rc->tbuf.cap - rc->tbuf.len - 1, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		rc_tcp_fail(rc);
		return;
	}
	rc->tbuf.len += (size_t)n;
	if (rc->tbuf.len < 2)
		return;
	size_t want = dns_get16(rc->tbuf.data);
	if (rc->tbuf.len - 2 < want)
		return;
	if (!rc_matches(rc, rc->tbuf.data + 2, want)) {
		rc_tcp_fail(rc);
		return;
	}
	rc_reply(rc, rc->tbuf.data + 2, want);
}

static void
rc_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct dns_recursion *rc = w->data;

	if (!rc->tcp)
		rc_udp_read(rc);
	else if (revents & EV_WRITE)
		rc_tcp_write(rc);
	else
		rc_tcp_read(rc);
}

static void
rc_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct dns_recursion *rc = w->data;

	if (rc->failing) {
		rc_servfail(rc);
		return;
	}
	rc->idx++;
	rc->tcp = false;
	rc_next(rc);
}

/* Open, connect and (UDP) send for upstream order[idx]; -errno. */
static int
rc_open(struct dns_recursion *rc)
{
	const struct sockaddr_storage *ss = &rc->up[rc->idx];
	int type = (rc->tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK |
	    SOCK_CLOEXEC;

	rc->fd = socket(ss->ss_family, type, 0);
	if (rc->fd < 0)
		return -errno;
	if (connect(rc->fd, (const struct sockaddr *)ss, rc->uplen[rc->idx]) < 0
	    && errno != EINPROGRESS)
		return -errno;
	if (rc->tcp) {
		uint8_t l[2];
		dns_put16(l, (uint16_t)rc->len);
		buf_reset(&rc->tbuf);
		buf_add(&rc->tbuf, l, 2);
		buf_add(&rc->tbuf, rc->pkt, rc->len);
		rc->toff = 0;
		ev_io_set(&rc->io, rc->fd, EV_WRITE);
		return 0;
	}
	if (send(rc->fd, rc->pkt, rc->len, 0) < 0)
		return -errno;
	ev_io_set(&rc->io, rc->fd, EV_READ);
	return 0;
}

static void
rc_next(struct dns_recursion *rc)
{
	struct ev_loop *loop = rc->r->loop;

	rc_close(rc);
	for (; rc->idx < rc->nup; rc->idx++, rc->tcp = false) {
		/* A fresh ID per attempt: a late reply from the previous
		 * upstream cannot be mistaken for this one's. */
		rc->up_id = (uint16_t)dns_rand(rc->r);
		dns_put16(rc->pkt, rc->up_id);
		if (rc_open(rc) == 0) {
			ev_io_start(loop, &rc->io);
			ev_timer_set(&rc->timer, rc->timeout_ms / 1000.0, 0.);
			ev_timer_start(loop, &rc->timer);
			return;
		}
		rc_close(rc);
	}
	rc->failing = true;
	ev_timer_set(&rc->timer, 0., 0.);
	ev_timer_start(loop, &rc->timer);
}

struct dns_recursion *
dns_recurse(struct dns_resolver *r, const uint8_t *pkt, size_t len, bool tcp,
    dns_reply_fn *done, void *arg)
{
	const struct dns_zcfg *c = r->cfg;
	struct dns_recursion *rc;

	if (r->loop == NULL || len > DNS_MSG_MAX)
		return NULL;
	rc = xcalloc(1, sizeof(*rc));
	if (dns_parse_query(pkt, len, &rc->q) != DNS_PARSE_OK) {
		free(rc);
		return NULL;
	}
	rc->r = r;
	rc->fd = -1;
	rc->client_tcp = tcp;
	rc->done = done;
	rc->arg = arg;
	rc->pkt = xmalloc(len);
	memcpy(rc->pkt, pkt, len);
	rc->len = len;
	rc->timeout_ms = c->rec_timeout_ms;
	/* Over the cap: no upstream is tried, the client gets SERVFAIL. */
	rc->nup = r->nrecs < DNS_RECURSIONS_MAX ? c->nrec : 0;
	for (size_t i = 0; i < rc->nup; i++) {
		rc->up[i] = c->rec[i];
		rc->uplen[i] = c->reclen[i];
	}
	for (size_t i = rc->nup; c->strategy == DNS_RECURSE_RANDOM && i > 1;
	    i--) {
		size_t j = (size_t)(dns_rand(r) % i);
		struct sockaddr_storage t = rc->up[i - 1];
		socklen_t tl = rc->uplen[i - 1];
		rc->up[i - 1] = rc->up[j];
		rc->uplen[i - 1] = rc->uplen[j];
		rc->up[j] = t;
		rc->uplen[j] = tl;
	}
	ev_io_init(&rc->io, rc_io_cb, -1, EV_READ);
	rc->io.data = rc;
	ev_timer_init(&rc->timer, rc_timer_cb, 0., 0.);
	rc->timer.data = rc;
	rc->next = r->recs;
	if (r->recs)
		r->recs->prev = rc;
	r->recs = rc;
	r->nrecs++;
	r->st.recursed++;
	rc_next(rc);
	return rc;
}

void
dns_recurse_cancel(struct dns_recursion *rc)
{
	if (rc)
		rc_unlink_free(rc);
}

void
dns_recurse_free_all(struct dns_resolver *r)
{
	while (r->recs)
		rc_unlink_free(r->recs);
}
