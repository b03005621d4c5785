/* Helpers for the dns suites; see dnstest.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/unit/dns/dnstest.h"

struct fake fake;
struct ev_loop *tloop;

void
loop_setup(void)
{
	tloop = ev_loop_new(EVFLAG_AUTO);
	ck_assert_ptr_nonnull(tloop);
}

void
loop_teardown(void)
{
	ev_loop_destroy(tloop);
	tloop = NULL;
}

size_t
mkq(uint8_t *p, uint16_t id, const char *name, uint16_t qtype, int edns)
{
	int n = dns_name_from_text(name, p + DNS_HDR_LEN);
	size_t o;

	ck_assert_int_gt(n, 0);
	memset(p, 0, DNS_HDR_LEN);
	dns_put16(p, id);
	dns_put16(p + 2, DNS_F_RD);
	dns_put16(p + 4, 1);
	o = DNS_HDR_LEN + (size_t)n;
	dns_put16(p + o, qtype);
	dns_put16(p + o + 2, DNS_C_IN);
	o += 4;
	if (edns >= 0) {
		dns_put16(p + 10, 1);
		p[o] = 0;
		dns_put16(p + o + 1, DNS_T_OPT);
		dns_put16(p + o + 3, (uint16_t)edns);
		dns_put32(p + o + 5, 0);
		dns_put16(p + o + 9, 0);
		o += 11;
	}
	return o;
}

static bool
rdata_text(const uint8_t *pkt, size_t len, const struct dns_rr *rr,
    struct prr *out)
{
	const uint8_t *d = pkt + rr->rdoff;
	uint8_t name[DNS_NAME_MAX], name2[DNS_NAME_MAX];
	char t1[300], t2[300];
	size_t o = rr->rdoff, end = rr->rdoff + rr->rdlen;

	out->data[0] = '\0';
	switch (rr->type) {
	case DNS_T_A:
		return rr->rdlen == 4 &&
		    inet_ntop(AF_INET, d, out->data, sizeof(out->data));
	case DNS_T_AAAA:
		return rr->rdlen == 16 &&
		    inet_ntop(AF_INET6, d, out->data, sizeof(out->data));
	case DNS_T_NS:
	case DNS_T_CNAME:
	case DNS_T_PTR:
		if (dns_name_read(pkt, len, &o, name) < 0 || o != end)
			return false;
		dns_name_to_text(name, out->data);
		return true;
	case DNS_T_SRV:
		o += 6;
		if (rr->rdlen < 7 || dns_name_read(pkt, len, &o, name) < 0 ||
		    o != end)
			return false;
		/* RFC 2782: the target is never compressed. */
		if (dns_name_len(name) != rr->rdlen - 6u)
			return false;
		dns_name_to_text(name, t1);
		snprintf(out->data, sizeof(out->data), "%u %u %u %s",
		    dns_get16(d), dns_get16(d + 2), dns_get16(d + 4), t1);
		return true;
	case DNS_T_SOA:
		if (dns_name_read(pkt, len, &o, name) < 0 ||
		    dns_name_read(pkt, len, &o, name2) < 0 || end - o != 20)
			return false;
		dns_name_to_text(name, t1);
		dns_name_to_text(name2, t2);
		snprintf(out->data, sizeof(out->data), "%s %s", t1, t2);
		for (int i = 0; i < 5; i++)
			out->soa[i] = dns_get32(pkt + o + 4 * i);
		return true;
	case DNS_T_TXT: {
		size_t n = 0;
		out->nstrings = 0;
		while (o < end) {
			size_t l = pkt[o];
			if (o + 1 + l > end || n + l >= sizeof(out->data))
				return false;
			memcpy(out->data + n, pkt + o + 1, l);
			n += l;
			o += 1 + l;
			out->nstrings++;
		}
		out->data[n] = '\0';
		return out->nstrings > 0;
	}
	default:
		return true;
	}
}

static bool
parse_opt(const uint8_t *pkt, const struct dns_rr *rr, struct presp *r)
{
	size_t o = rr->rdoff, end = rr->rdoff + rr->rdlen;

	if (r->edns || rr->name[0] != 0)
		return false;
	r->edns = true;
	r->edns_udp = rr->class;
	r->opt_ttl = rr->ttl;
	r->rcode |= (rr->ttl >> 24) << 4;
	while (o < end) {
		if (end - o < 4)
			return false;
		uint16_t code = dns_get16(pkt + o), l = dns_get16(pkt + o + 2);
		if (end - o - 4 < l)
			return false;
		if (code == DNS_OPT_ECS && l >= 4) {
			r->ecs = true;
			r->ecs_source = pkt[o + 6];
			r->ecs_scope = pkt[o + 7];
		}
		o += 4 + (size_t)l;
	}
	return true;
}

bool
parse_resp(const uint8_t *pkt, size_t len, struct presp *r)
{
	struct dns_rr rr;
	size_t o = DNS_HDR_LEN;
	unsigned cnt[3];

	memset(r, 0, offsetof(struct presp, rr));
	memset(r->n, 0, sizeof(r->n));
	if (len < DNS_HDR_LEN)
		return false;
	r->len = len;
	r->id = dns_get16(pkt);
	r->flags = dns_get16(pkt + 2);
	r->rcode = DNS_RCODE(r->flags);
	r->qd = dns_get16(pkt + 4);
	cnt[0] = r->an = dns_get16(pkt + 6);
	cnt[1] = r->ns = dns_get16(pkt + 8);
	cnt[2] = r->ar = dns_get16(pkt + 10);
	if (r->qd > 1)
		return false;
	if (r->qd == 1) {
		if (dns_question_read(pkt, len, &o, &rr) < 0)
			return false;
		dns_name_to_text(rr.name, r->qname);
		r->qtype = rr.type;
		r->qclass = rr.class;
	}
	for (int s = 0; s < 3; s++) {
		for (unsigned i = 0; i < cnt[s]; i++) {
			if (dns_rr_read(pkt, len, &o, &rr) < 0)
				return false;
			if (rr.type == DNS_T_OPT) {
				if (s != 2 || !parse_opt(pkt, &rr, r))
					return false;
				continue;
			}
			if (r->n[s] >= PR_MAX)
				continue;
			struct prr *p = &r->rr[s][r->n[s]++];
			dns_name_to_text(rr.name, p->name);
			p->type = rr.type;
			p->class = rr.class;
			p->ttl = rr.ttl;
			if (!rdata_text(pkt, len, &rr, p))
				return false;
		}
	}
	return o == len;
}

const struct prr *
find_rr(const struct presp *r, int sec, uint16_t type)
{
	for (size_t i = 0; i < r->n[sec]; i++)
		if (type == 0 || r->rr[sec][i].type == type)
			return &r->rr[sec][i];
	return NULL;
}

size_t
count_rr(const struct presp *r, int sec, uint16_t type)
{
	size_t n = 0;
	for (size_t i = 0; i < r->n[sec]; i++)
		if (type == 0 || r->rr[sec][i].type == type)
			n++;
	return n;
}

void
fake_reset(void)
{
	memset(&fake, 0, sizeof(fake));
}

int
fake_node(const char *name, const char *dc, const char *addr)
{
	struct fnode *n = &fake.nodes[fake.nnodes];
	n->name = name;
	n->dc = dc;
	n->addr = addr;
	return (int)fake.nnodes++;
}

void
fake_inst(const char *svc, const char *tag, int node, const char *addr,
    uint16_t port, enum dns_health h)
{
	struct finst *i = &fake.inst[fake.ninst++];
	i->svc = svc;
	i->tag = tag;
	i->node = node;
	i->addr = addr;
	i->port = port;
	i->health = h;
}

static void
fill_node(const struct fnode *f, struct dns_node *n)
{
	n->name = f->name;
	n->dc = f->dc;
	n->address = f->addr;
	n->meta = f->meta;
	n->nmeta = f->nmeta;
}

static int
f_node(void *ctx, const char *dc, const char *name, struct dns_node *out)
{
	if (fake.fail)
		return fake.fail;
	if (strcmp(dc, "dc1") && strcmp(dc, "dc2"))
		return -ENOENT;
	for (size_t i = 0; i < fake.nnodes; i++) {
		if (strcasecmp(fake.nodes[i].name, name) == 0 &&
		    strcmp(fake.nodes[i].dc, dc) == 0) {
			fill_node(&fake.nodes[i], out);
			return 1;
		}
	}
	return 0;
}

static int
f_service(void *ctx, const struct dns_service_query *q, dns_instance_fn *fn,
    void *arg)
{
	fake.service_calls++;
	if (strcmp(q->service, "consul") != 0) {
		fake.last = *q;
		snprintf(fake.last_svc, sizeof(fake.last_svc), "%s", q->service);
		snprintf(fake.last_dc, sizeof(fake.last_dc), "%s", q->dc);
		fake.last_had_tag = q->tag != NULL;
		snprintf(fake.last_tag, sizeof(fake.last_tag), "%s",
		    q->tag ? q->tag : "");
	}
	if (fake.fail)
		return fake.fail;
	if (strcmp(q->dc, "dc1") && strcmp(q->dc, "dc2"))
		return -ENOENT;
	for (size_t i = 0; i < fake.ninst; i++) {
		const struct finst *f = &fake.inst[i];
		const struct fnode *n = &fake.nodes[f->node];
		if (strcasecmp(f->svc, q->service) || strcmp(n->dc, q->dc) ||
		    f->kind != q->kind)
			continue;
		if (q->tag && (f->tag == NULL || strcasecmp(f->tag, q->tag)))
			continue;
		struct dns_instance in = { 0 };
		fill_node(n, &in.node);
		in.service = f->svc;
		in.address = f->addr;
		in.port = f->port;
		in.health = f->health;
		in.weight_passing = 1;
		in.weight_warning = 1;
		fn(arg, &in);
	}
	return 1;
}

static int
f_reverse(void *ctx, const char *ip, struct dns_ptr *out)
{
	for (size_t i = 0; i < fake.nnodes; i++) {
		if (strcmp(fake.nodes[i].addr, ip) == 0) {
			out->is_service = false;
			out->name = fake.nodes[i].name;
			out->dc = fake.nodes[i].dc;
			return 1;
		}
	}
	for (size_t i = 0; i < fake.ninst; i++) {
		if (fake.inst[i].addr && strcmp(fake.inst[i].addr, ip) == 0) {
			out->is_service = true;
			out->name = fake.inst[i].svc;
			out->dc = fake.nodes[fake.inst[i].node].dc;
			return 1;
		}
	}
	return 0;
}

static int
f_query(void *ctx, const char *dc, const char *name, dns_instance_fn *fn,
    void *arg, uint32_t *ttl)
{
	struct dns_service_query q = { .dc = dc, .service = "web" };

	if (strcmp(name, "webq") != 0)
		return 0;
	*ttl = 42;
	return f_service(ctx, &q, fn, arg);
}

const struct dns_lookup fake_lookup = {
	.ctx = NULL,
	.node = f_node,
	.service = f_service,
	.reverse = f_reverse,
	.query = f_query,
};

void
test_config(struct dns_config *c)
{
	dns_config_defaults(c);
	c->node_name = "agent-one";
	c->advertise_addr = "10.0.0.9";
}

struct dns_resolver *
mkres(const struct dns_config *c)
{
	struct dns_resolver *r = NULL;
	struct dns_config d;

	if (c == NULL) {
		test_config(&d);
		c = &d;
	}
	ck_assert_int_eq(dns_resolver_new(tloop, c, &fake_lookup, &r), 0);
	return r;
}

int
ask_raw(struct dns_resolver *r, const uint8_t *q, size_t qlen, bool tcp,
    struct presp *p)
{
	struct buf out = { 0 };
	int rc = dns_answer(r, q, qlen, tcp, &out);

	if (rc == DNS_REPLY) {
		ck_assert_msg(parse_resp(out.data, out.len, p),
		    "malformed response (%zu bytes)", out.len);
		ck_assert_uint_eq(p->id, dns_get16(q));
		ck_assert(p->flags & DNS_F_QR);
		if (!tcp)
			ck_assert_uint_le(out.len, 65535 - 68);
	}
	buf_free(&out);
	return rc;
}

int
ask(struct dns_resolver *r, const char *name, uint16_t qtype, int edns,
    bool tcp, struct presp *p)
{
	uint8_t q[600];
	size_t n = mkq(q, 0x1234, name, qtype, edns);
	return ask_raw(r, q, n, tcp, p);
}

static int
bind_any(int type, uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	int one = 1;
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(*port);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	if (type == SOCK_STREAM)
		ck_assert_int_eq(listen(fd, 64), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

int
bind_udp(uint16_t *port)
{
	*port = 0;
	return bind_any(SOCK_DGRAM, port);
}

int
bind_tcp(uint16_t *port)
{
	*port = 0;
	return bind_any(SOCK_STREAM, port);
}

int
bind_tcp_at(uint16_t port)
{
	return bind_any(SOCK_STREAM, &port);
}

static void
flag_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	*(bool *)w->data = true;
	ev_break(loop, EVBREAK_ONE);
}

static void
deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	*(bool *)w->data = true;
	ev_break(loop, EVBREAK_ONE);
}

bool
wait_fd(int fd, unsigned ms)
{
	bool ready = false, late = false;
	ev_io io;
	ev_timer t;

	ev_io_init(&io, flag_io_cb, fd, EV_READ);
	io.data = &ready;
	ev_timer_init(&t, deadline_cb, ms / 1000.0, 0.);
	t.data = &late;
	ev_io_start(tloop, &io);
	ev_timer_start(tloop, &t);
	while (!ready && !late)
		ev_run(tloop, EVRUN_ONCE);
	ev_io_stop(tloop, &io);
	ev_timer_stop(tloop, &t);
	return ready;
}

bool
wait_flag(const bool *flag, unsigned ms)
{
	bool late = false;
	ev_timer t;

	ev_timer_init(&t, deadline_cb, ms / 1000.0, 0.);
	t.data = &late;
	ev_timer_start(tloop, &t);
	while (!*flag && !late)
		ev_run(tloop, EVRUN_ONCE);
	ev_timer_stop(tloop, &t);
	return *flag;
}

ssize_t
udp_exchange(uint16_t port, const uint8_t *q, size_t qlen, uint8_t *resp,
    size_t cap, unsigned ms)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	ssize_t n = -1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(port);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(send(fd, q, qlen, 0), (ssize_t)qlen);
	if (wait_fd(fd, ms))
		n = recv(fd, resp, cap, 0);
	close(fd);
	return n;
}

int
tcp_connect(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(port);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

ssize_t
tcp_read_msg(int fd, uint8_t *buf, size_t cap, unsigned ms)
{
	uint8_t l[2];
	size_t got = 0, want = 2;
	uint8_t *dst = l;

	for (int phase = 0; phase < 2; phase++) {
		while (got < want) {
			if (!wait_fd(fd, ms))
				return -1;
			ssize_t n = recv(fd, dst + got, want - got, MSG_DONTWAIT);
			if (n < 0 && errno == EAGAIN)
				continue;
			if (n <= 0)
				return -1;
			got += (size_t)n;
		}
		if (phase == 0) {
			want = dns_get16(l);
			if (want > cap)
				return -1;
			dst = buf;
			got = 0;
		}
	}
	return (ssize_t)want;
}
