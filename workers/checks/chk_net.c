/*
 * Addresses, name resolution, non-blocking dialing, and the TCP and UDP
 * probes (agent/checks/check.go CheckTCP, CheckUDP).  Errors are worded
 * as Go's net package words them, because that text is the check output
 * Consul users see: "dial tcp 127.0.0.1:1: connect: connection refused".
 *
 * getaddrinfo() blocks, so names are resolved on helper threads that only
 * ever run getaddrinfo and hand results back through an ev_async; every
 * callback runs on the loop.  Numeric addresses never touch the threads.
 */
#include "workers/checks/chk_probe.h"
#include "lib/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RESOLVER_THREADS 2

/* ---- addresses ---- */

int
chk_addr_parse(const char *s, struct chk_addr *a, struct buf *err)
{
	const char *colon = strrchr(s, ':'), *host = s;
	size_t hlen;

	memset(a, 0, sizeof(*a));
	if (colon == NULL) {
		buf_printf(err, "address %s: missing port in address", s);
		return -EINVAL;
	}
	hlen = (size_t)(colon - s);
	if (s[0] == '[') {
		const char *end = strchr(s, ']');
		if (end == NULL) {
			buf_printf(err, "address %s: missing ']' in address", s);
			return -EINVAL;
		}
		if (end + 1 != colon) {
			buf_printf(err, "address %s: %s", s, end[1] ?
			    "too many colons in address" :
			    "missing port in address");
			return -EINVAL;
		}
		host = s + 1;
		hlen = (size_t)(end - host);
	} else if (memchr(s, ':', hlen)) {
		buf_printf(err, "address %s: too many colons in address", s);
		return -EINVAL;
	}
	a->host = xstrndup(host, hlen);
	a->port = xstrdup(colon + 1);
	a->text = xstrdup(s);
	return 0;
}

void
chk_addr_free(struct chk_addr *a)
{
	free(a->host);
	free(a->port);
	free(a->text);
	memset(a, 0, sizeof(*a));
}

void
chk_sockaddr_text(const struct sockaddr *sa, char *out, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;
		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		snprintf(out, len, "[%s]:%u", ip, ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const void *)sa;
		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		snprintf(out, len, "%s:%u", ip, ntohs(s4->sin_port));
	}
}

/* Go's text for a failed lookup. */
static void
lookup_error(struct buf *out, const char *net, const char *host, int gai)
{
	char e[128];
	buf_printf(out, "dial %s: lookup %s: %s", net, host,
	    gai == EAI_NONAME || gai == EAI_NODATA ? "no such host" :
	    gai == EAI_SYSTEM ? chk_errstr(errno, e) : gai_strerror(gai));
}

/* ---- resolver ---- */

struct chk_resolve_req {
	struct chk_resolve_req *next;
	char *host, *port;
	int socktype;
	chk_resolve_cb *cb;
	void *arg;
	struct addrinfo *res;
	int err;
	bool cancelled;
};

struct chk_resolver {
	struct ev_loop *loop;
	ev_async async;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t th[RESOLVER_THREADS];
	int nth;
	bool quit;
	struct chk_resolve_req *todo, *todo_tail, *done;
};

static void
rq_free(struct chk_resolve_req *q)
{
	if (q->res)
		freeaddrinfo(q->res);
	free(q->host);
	free(q->port);
	free(q);
}

static void
rq_lookup(struct chk_resolve_req *q, int flags)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
		.ai_socktype = q->socktype, .ai_flags = flags };
	q->err = getaddrinfo(q->host, q->port, &hints, &q->res);
	if (q->err)
		q->res = NULL;
}

static void *
resolver_main(void *arg)
{
	struct chk_resolver *rs = arg;
	pthread_mutex_lock(&rs->mu);
	for (;;) {
		struct chk_resolve_req *q;
		while (!rs->quit && rs->todo == NULL)
			pthread_cond_wait(&rs->cv, &rs->mu);
		if (rs->quit)
			break;
		q = rs->todo;
		rs->todo = q->next;
		if (rs->todo == NULL)
			rs->todo_tail = NULL;
		bool skip = q->cancelled;
		pthread_mutex_unlock(&rs->mu);
		if (!skip)
			rq_lookup(q, AI_ADDRCONFIG);
		pthread_mutex_lock(&rs->mu);
		q->next = rs->done;
		rs->done = q;
		ev_async_send(rs->loop, &rs->async);
	}
	pthread_mutex_unlock(&rs->mu);
	return NULL;
}

static void
resolver_async_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	struct chk_resolver *rs = w->data;
	struct chk_resolve_req *q, *list, *rev = NULL;

	pthread_mutex_lock(&rs->mu);
	list = rs->done;
	rs->done = NULL;
	pthread_mutex_unlock(&rs->mu);
	while (list) {			/* oldest first */
		q = list;
		list = q->next;
		q->next = rev;
		rev = q;
	}
	while ((q = rev) != NULL) {
		rev = q->next;
		if (!q->cancelled) {
			q->cb(q->arg, q->res, q->err);
			q->res = NULL;
		}
		rq_free(q);
	}
}

int
chk_resolver_start(struct chk_state *st)
{
	struct chk_resolver *rs = xcalloc(1, sizeof(*rs));
	sigset_t all, old;

	rs->loop = st->loop;
	pthread_mutex_init(&rs->mu, NULL);
	pthread_cond_init(&rs->cv, NULL);
	ev_async_init(&rs->async, resolver_async_cb);
	rs->async.data = rs;
	ev_async_start(st->loop, &rs->async);
	ev_unref(st->loop);	/* the resolver alone keeps nothing alive */
	/* Signals are the loop's: the threads block them all. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (int i = 0; i < RESOLVER_THREADS; i++)
		if (pthread_create(&rs->th[rs->nth], NULL, resolver_main,
		    rs) == 0)
			rs->nth++;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	st->resolver = rs;
	if (rs->nth == 0)
		log_warnx("no resolver thread: only numeric addresses work");
	return rs->nth > 0 ? 0 : -EAGAIN;
}

void
chk_resolver_stop(struct chk_state *st)
{
	struct chk_resolver *rs = st->resolver;
	struct chk_resolve_req *q;
	if (rs == NULL)
		return;
	pthread_mutex_lock(&rs->mu);
	rs->quit = true;
	pthread_cond_broadcast(&rs->cv);
	pthread_mutex_unlock(&rs->mu);
	for (int i = 0; i < rs->nth; i++)
		pthread_join(rs->th[i], NULL);
	ev_ref(st->loop);
	ev_async_stop(st->loop, &rs->async);
	while ((q = rs->todo) != NULL) {
		rs->todo = q->next;
		rq_free(q);
	}
	while ((q = rs->done) != NULL) {
		rs->done = q->next;
		rq_free(q);
	}
	pthread_mutex_destroy(&rs->mu);
	pthread_cond_destroy(&rs->cv);
	free(rs);
	st->resolver = NULL;
}

struct chk_resolve_req *
chk_resolve(struct chk_state *st, const char *host, const char *port,
    int socktype, chk_resolve_cb *cb, void *arg)
{
	struct chk_resolve_req *q = xcalloc(1, sizeof(*q));
	struct chk_resolver *rs;
	if (st->resolver == NULL)
		chk_resolver_start(st);
	rs = st->resolver;
	q->host = xstrdup(host);
	q->port = xstrdup(port);
	q->socktype = socktype;
	q->cb = cb;
	q->arg = arg;
	/* Numeric addresses are answered without a thread, but still from
	 * the loop, never from inside this call. */
	rq_lookup(q, AI_NUMERICHOST | AI_NUMERICSERV);
	pthread_mutex_lock(&rs->mu);
	if (q->err == 0 || rs->nth == 0) {
		q->next = rs->done;
		rs->done = q;
		ev_async_send(rs->loop, &rs->async);
	} else {
		q->err = 0;
		if (rs->todo_tail)
			rs->todo_tail->next = q;
		else
			rs->todo = q;
		rs->todo_tail = q;
		pthread_cond_signal(&rs->cv);
	}
	pthread_mutex_unlock(&rs->mu);
	return q;
}

void
chk_resolve_cancel(struct chk_state *st, struct chk_resolve_req *q)
{
	if (q == NULL || st->resolver == NULL)
		return;
	pthread_mutex_lock(&st->resolver->mu);
	q->cancelled = true;
	pthread_mutex_unlock(&st->resolver->mu);
}

/* ---- dialing ---- */

struct chk_dial {
	struct chk_state *st;
	char *host, *port;
	struct chk_resolve_req *rq;
	struct addrinfo *res, *cur;
	int fd;
	ev_io io;
	ev_timer tm;
	chk_dial_cb *done;
	void *arg;
	struct buf first_err;
	char cur_text[64];
};

static void
dial_free(struct chk_dial *d)
{
	ev_io_stop(d->st->loop, &d->io);
	ev_timer_stop(d->st->loop, &d->tm);
	if (d->fd >= 0)
		close(d->fd);
	if (d->res)
		freeaddrinfo(d->res);
	chk_resolve_cancel(d->st, d->rq);
	buf_free(&d->first_err);
	free(d->host);
	free(d->port);
	free(d);
}

static void
dial_finish(struct chk_dial *d, int fd, const char *err)
{
	chk_dial_cb *cb = d->done;
	void *arg = d->arg;
	char *e = err ? xstrdup(err) : NULL;
	if (fd >= 0)
		d->fd = -1;	/* handed over */
	dial_free(d);
	cb(arg, fd, e);
	free(e);
}

static void dial_next(struct chk_dial *d);

static void
dial_failed(struct chk_dial *d, const char *op, int e)
{
	char t[128];
	if (d->first_err.len == 0)
		buf_printf(&d->first_err, "dial tcp %s: %s: %s", d->cur_text,
		    op, chk_errstr(e, t));
	close(d->fd);
	d->fd = -1;
	d->cur = d->cur->ai_next;
	dial_next(d);
}

static void
dial_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct chk_dial *d = w->data;
	int e = 0;
	socklen_t len = sizeof(e);
	ev_io_stop(loop, w);
	if (getsockopt(d->fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
		e = errno;
	if (e)
		dial_failed(d, "connect", e);
	else
		dial_finish(d, d->fd, NULL);
}

static void
dial_next(struct chk_dial *d)
{
	for (; d->cur; d->cur = d->cur->ai_next) {
		struct addrinfo *ai = d->cur;
		chk_sockaddr_text(ai->ai_addr, d->cur_text, sizeof(d->cur_text));
		d->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		if (d->fd < 0) {
			dial_failed(d, "socket", errno);
			return;
		}
		if (connect(d->fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			dial_finish(d, d->fd, NULL);
			return;
		}
		if (errno == EINPROGRESS) {
			ev_io_init(&d->io, dial_io_cb, d->fd, EV_WRITE);
			d->io.data = d;
			ev_io_start(d->st->loop, &d->io);
			return;
		}
		dial_failed(d, "connect", errno);
		return;
	}
	dial_finish(d, -1, d->first_err.len ? (char *)d->first_err.data :
	    "dial tcp: no suitable address found");
}

static void
dial_resolved(void *arg, struct addrinfo *res, int err)
{
	struct chk_dial *d = arg;
	struct buf e;
	d->rq = NULL;
	if (err) {
		buf_init(&e);
		lookup_error(&e, "tcp", d->host, err);
		dial_finish(d, -1, (char *)e.data);
		buf_free(&e);
		return;
	}
	d->res = d->cur = res;
	dial_next(d);
}

static void
dial_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct chk_dial *d = w->data;
	struct buf e;
	buf_init(&e);
	buf_printf(&e, "dial tcp %s: i/o timeout", d->cur_text[0] ?
	    d->cur_text : d->host);
	dial_finish(d, -1, (char *)e.data);
	buf_free(&e);
}

struct chk_dial *
chk_dial_start(struct chk_state *st, const char *host, const char *port,
    int64_t timeout_ns, chk_dial_cb *done, void *arg)
{
	struct chk_dial *d = xcalloc(1, sizeof(*d));
	d->st = st;
	d->fd = -1;
	d->host = xstrdup(host);
	d->port = xstrdup(port);
	d->done = done;
	d->arg = arg;
	buf_init(&d->first_err);
	ev_init(&d->io, dial_io_cb);
	ev_timer_init(&d->tm, dial_timeout_cb, (double)timeout_ns / 1e9, 0);
	d->tm.data = d;
	ev_timer_start(st->loop, &d->tm);
	d->rq = chk_resolve(st, host, port, SOCK_STREAM, dial_resolved, d);
	return d;
}

void
chk_dial_cancel(struct chk_dial *d)
{
	if (d)
		dial_free(d);
}

/* ---- TCP probe ---- */

/*
 * CheckTCP: a connect, and with tcp_use_tls a TLS handshake on it
 * ("TCP+TLS connect ...: Success"), then close.
 */
struct tcp_probe {
	struct chk_probe p;
	struct chk_dial *dial;
	char *target, *host;
	int fd;
	SSL *ssl;
	ev_io io;
	ev_timer tm;
};

static void
tcp_free(struct tcp_probe *t)
{
	struct ev_loop *loop = t->p.run->st->loop;
	ev_io_stop(loop, &t->io);
	ev_timer_stop(loop, &t->tm);
	chk_dial_cancel(t->dial);
	if (t->ssl)
		SSL_free(t->ssl);
	if (t->fd >= 0)
		close(t->fd);
	free(t->target);
	free(t->host);
	free(t);
}

static void
tcp_cancel(struct chk_probe *p)
{
	tcp_free((struct tcp_probe *)p);
}

static const struct chk_probe_ops tcp_ops = { tcp_cancel };

static void
tcp_finish(struct tcp_probe *t, enum chk_status s, const char *out)
{
	struct chk_run *r = t->p.run;
	chk_probe_result(r, s, out);
	tcp_free(t);
	chk_probe_end(r);
}

static void
tcp_success(struct tcp_probe *t)
{
	char *out = xasprintf("%s connect %s: Success", t->ssl ? "TCP+TLS" :
	    "TCP", t->target);
	tcp_finish(t, CHK_PASSING, out);
	free(out);
}

static void
tcp_tls_step(struct tcp_probe *t)
{
	struct ev_loop *loop = t->p.run->st->loop;
	struct buf msg;
	int r, e;
	ERR_clear_error();
	if ((r = SSL_connect(t->ssl)) == 1) {
		tcp_success(t);
		return;
	}
	e = SSL_get_error(t->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		ev_io_stop(loop, &t->io);
		ev_io_set(&t->io, t->fd, e == SSL_ERROR_WANT_READ ? EV_READ :
		    EV_WRITE);
		ev_io_start(loop, &t->io);
		return;
	}
	buf_init(&msg);
	chk_tls_error(t->ssl, &msg);
	tcp_finish(t, CHK_CRITICAL, (char *)msg.data);
	buf_free(&msg);
}

static void
tcp_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	tcp_tls_step(w->data);
}

static void
tcp_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct tcp_probe *t = w->data;
	char *out = xasprintf("dial tcp %s: i/o timeout", t->target);
	tcp_finish(t, CHK_CRITICAL, out);
	free(out);
}

static void
tcp_dialed(void *arg, int fd, const char *error)
{
	struct tcp_probe *t = arg;
	const struct chk_def *d = &t->p.run->c->def;
	t->dial = NULL;
	if (fd < 0) {
		tcp_finish(t, CHK_CRITICAL, error);
		return;
	}
	t->fd = fd;
	if (!d->tcp_use_tls) {
		tcp_success(t);
		return;
	}
	t->ssl = chk_tls_client(t->p.run->st, fd, d->tls_server_name[0] ?
	    d->tls_server_name : t->host, d->tls_skip_verify, NULL, 0);
	if (t->ssl == NULL) {
		tcp_finish(t, CHK_CRITICAL, "tls: cannot set up a connection");
		return;
	}
	ev_io_init(&t->io, tcp_io_cb, fd, EV_WRITE);
	t->io.data = t;
	tcp_tls_step(t);
}

void
chk_tcp_start(struct chk_run *r)
{
	struct chk_addr a;
	struct buf err;
	struct tcp_probe *t;

	buf_init(&err);
	buf_addstr(&err, "dial tcp: ");
	if (chk_addr_parse(r->c->def.tcp, &a, &err) < 0) {
		chk_probe_result(r, CHK_CRITICAL, (char *)err.data);
		buf_free(&err);
		chk_probe_end(r);
		return;
	}
	buf_free(&err);
	t = xcalloc(1, sizeof(*t));
	t->p.ops = &tcp_ops;
	t->p.run = r;
	t->fd = -1;
	t->target = xstrdup(r->c->def.tcp);
	t->host = xstrdup(a.host);
	ev_init(&t->io, tcp_io_cb);
	/* Just after the dialer's own deadline, which words a connect
	 * timeout with the address; this one covers the TLS handshake. */
	ev_timer_init(&t->tm, tcp_timeout_cb, (double)r->timeout / 1e9 + 0.005,
	    0);
	t->tm.data = t;
	ev_timer_start(r->st->loop, &t->tm);
	r->probe = &t->p;
	/* The dialer's own deadline words its timeout with the address. */
	t->dial = chk_dial_start(r->st, a.host, a.port, r->timeout, tcp_dialed,
	    t);
	chk_addr_free(&a);
}

/* ---- UDP probe ---- */

/*
 * CheckUDP: connect, send the (empty) message, read one byte.  A reply
 * or a read timeout is passing; an error (the ICMP port unreachable a
 * closed port sends back, as ECONNREFUSED) is critical.
 */
struct udp_probe {
	struct chk_probe p;
	struct chk_resolve_req *rq;
	int fd;
	ev_io io;
	ev_timer tm;
	char *target, *host;
	char local[64], remote[64];
};

static void
udp_free(struct udp_probe *u)
{
	struct ev_loop *loop = u->p.run->st->loop;
	ev_io_stop(loop, &u->io);
	ev_timer_stop(loop, &u->tm);
	chk_resolve_cancel(u->p.run->st, u->rq);
	if (u->fd >= 0)
		close(u->fd);
	free(u->target);
	free(u->host);
	free(u);
}

static void
udp_cancel(struct chk_probe *p)
{
	udp_free((struct udp_probe *)p);
}

static const struct chk_probe_ops udp_ops = { udp_cancel };

static void
udp_finish(struct udp_probe *u, enum chk_status s, const char *out)
{
	struct chk_run *r = u->p.run;
	chk_probe_result(r, s, out);
	udp_free(u);
	chk_probe_end(r);
}

static void
udp_success(struct udp_probe *u)
{
	char *out = xasprintf("UDP connect %s: Success", u->target);
	udp_finish(u, CHK_PASSING, out);
	free(out);
}

static void
udp_error(struct udp_probe *u, const char *op, int e)
{
	char t[128];
	char *out = xasprintf("%s udp %s->%s: %s: %s", op, u->local, u->remote,
	    op, chk_errstr(e, t));
	udp_finish(u, CHK_CRITICAL, out);
	free(out);
}

static void
udp_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct udp_probe *u = w->data;
	char b[1];
	if (recv(u->fd, b, sizeof(b), 0) >= 0)
		udp_success(u);
	else if (errno != EAGAIN && errno != EINTR)
		udp_error(u, "read", errno);
}

static void
udp_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	udp_success(w->data);	/* "i/o timeout" counts as passing */
}

static void
udp_resolved(void *arg, struct addrinfo *res, int err)
{
	struct udp_probe *u = arg;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct buf e;

	u->rq = NULL;
	if (err) {
		buf_init(&e);
		lookup_error(&e, "udp", u->host, err);
		udp_finish(u, CHK_CRITICAL, (char *)e.data);
		buf_free(&e);
		return;
	}
	chk_sockaddr_text(res->ai_addr, u->remote, sizeof(u->remote));
	u->fd = socket(res->ai_family, SOCK_DGRAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (u->fd < 0 || connect(u->fd, res->ai_addr, res->ai_addrlen) < 0) {
		int e2 = errno;
		char t[128];
		char *out = xasprintf("dial udp %s: %s: %s", u->remote,
		    u->fd < 0 ? "socket" : "connect", chk_errstr(e2, t));
		freeaddrinfo(res);
		udp_finish(u, CHK_CRITICAL, out);
		free(out);
		return;
	}
	freeaddrinfo(res);
	if (getsockname(u->fd, (struct sockaddr *)&ss, &sl) == 0)
		chk_sockaddr_text((struct sockaddr *)&ss, u->local,
		    sizeof(u->local));
	if (send(u->fd, "", 0, 0) < 0) {
		udp_error(u, "write", errno);
		return;
	}
	ev_io_init(&u->io, udp_io_cb, u->fd, EV_READ);
	u->io.data = u;
	ev_io_start(u->p.run->st->loop, &u->io);
}

void
chk_udp_start(struct chk_run *r)
{
	struct chk_addr a;
	struct buf err;
	struct udp_probe *u;

	buf_init(&err);
	buf_addstr(&err, "dial udp: ");
	if (chk_addr_parse(r->c->def.udp, &a, &err) < 0) {
		chk_probe_result(r, CHK_CRITICAL, (char *)err.data);
		buf_free(&err);
		chk_probe_end(r);
		return;
	}
	buf_free(&err);
	u = xcalloc(1, sizeof(*u));
	u->p.ops = &udp_ops;
	u->p.run = r;
	u->fd = -1;
	u->target = xstrdup(r->c->def.udp);
	u->host = xstrdup(a.host);
	snprintf(u->local, sizeof(u->local), "?");
	ev_init(&u->io, udp_io_cb);
	ev_timer_init(&u->tm, udp_timeout_cb, (double)r->timeout / 1e9, 0);
	u->tm.data = u;
	ev_timer_start(r->st->loop, &u->tm);
	r->probe = &u->p;
	u->rq = chk_resolve(r->st, a.host, a.port, SOCK_DGRAM, udp_resolved, u);
	chk_addr_free(&a);
}
