/*
 * A response as a list of records, serialised once its size limit is
 * known.  Building the list first lets the trimming rules of Consul's
 * trimUDPResponse/trimTCPResponse (reference consul.md §5.3) drop whole
 * records: answers from the end, each with the additional records that
 * serve it, and the authority section before any answer.
 *
 * The record array and the name arena live in the resolver and are reused,
 * so a warm resolver answers without allocating.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "workers/dns/dns_int.h"

void
dns_msg_reset(struct dns_msg *m)
{
	m->nrec = 0;
	m->nan = 0;
	buf_reset(&m->arena);
	m->rcode = DNS_R_NOERROR;
	m->aa = false;
	m->ecs_scoped = false;
}

void
dns_msg_free(struct dns_msg *m)
{
	free(m->rec);
	buf_free(&m->arena);
	memset(m, 0, sizeof(*m));
}

uint32_t
dns_msg_name(struct dns_msg *m, const uint8_t *wire)
{
	uint32_t off = (uint32_t)m->arena.len;
	buf_add(&m->arena, wire, dns_name_len(wire));
	return off;
}

uint32_t
dns_msg_textname(struct dns_msg *m, const char *text)
{
	uint8_t wire[DNS_NAME_MAX];

	if (dns_name_from_text(text, wire) < 0)
		return UINT32_MAX;
	dns_name_lower(wire);
	return dns_msg_name(m, wire);
}

uint32_t
dns_msg_prefixed(struct dns_msg *m, const char *label, const uint8_t *suffix)
{
	size_t l = strlen(label), sl = dns_name_len(suffix);
	uint8_t wire[DNS_NAME_MAX];

	if (l == 0 || l > DNS_LABEL_MAX || 1 + l + sl > DNS_NAME_MAX)
		return UINT32_MAX;
	wire[0] = (uint8_t)l;
	memcpy(wire + 1, label, l);
	memcpy(wire + 1 + l, suffix, sl);
	dns_name_lower(wire);
	return dns_msg_name(m, wire);
}

const uint8_t *
dns_msg_name_at(const struct dns_msg *m, const struct dns_query *q,
    uint32_t off)
{
	return off == DNS_OWNER_QNAME ? q->qname : m->arena.data + off;
}

struct dns_rec *
dns_msg_add(struct dns_msg *m, uint16_t type, uint8_t sec, int32_t group,
    uint32_t owner, uint32_t ttl)
{
	if (m->nrec == m->caprec) {
		m->caprec = m->caprec ? m->caprec * 2 : 64;
		m->rec = xrealloc(m->rec, m->caprec * sizeof(*m->rec));
	}
	struct dns_rec *r = &m->rec[m->nrec++];
	memset(r, 0, sizeof(*r));
	r->type = type;
	r->sec = sec;
	r->group = group;
	r->owner = owner;
	r->ttl = ttl;
	if (sec == DNS_SEC_AN)
		m->nan++;
	return r;
}

static bool
rdata_eq(const struct dns_msg *m, const struct dns_query *q,
    const struct dns_rec *a, const struct dns_rec *b)
{
	switch (a->type) {
	case DNS_T_A:
		return memcmp(a->u.ip, b->u.ip, 4) == 0;
	case DNS_T_AAAA:
		return memcmp(a->u.ip, b->u.ip, 16) == 0;
	case DNS_T_CNAME:
	case DNS_T_PTR:
	case DNS_T_NS:
		return dns_name_eq(dns_msg_name_at(m, q, a->u.name),
		    dns_msg_name_at(m, q, b->u.name));
	case DNS_T_TXT:
		return a->u.txt.len == b->u.txt.len &&
		    memcmp(m->arena.data + a->u.txt.off,
		    m->arena.data + b->u.txt.off, a->u.txt.len) == 0;
	default:
		return false;
	}
}

bool
dns_msg_has_extra(const struct dns_msg *m, const struct dns_query *q,
    const struct dns_rec *cand)
{
	const uint8_t *owner = dns_msg_name_at(m, q, cand->owner);

	for (size_t i = 0; i < m->nrec; i++) {
		const struct dns_rec *r = &m->rec[i];
		if (r == cand || r->sec != DNS_SEC_AR || r->type != cand->type)
			continue;
		if (rdata_eq(m, q, r, cand) &&
		    dns_name_eq(dns_msg_name_at(m, q, r->owner), owner))
			return true;
	}
	return false;
}

/* Consul agent/dns.go makeSOARecord: ns.<domain>, hostmaster.<domain>,
 * serial = unix time, TTL = min_ttl, in the domain the question used. */
void
dns_msg_add_soa(struct dns_ctx *x, uint8_t sec)
{
	struct dns_msg *m = x->m;
	uint32_t owner = dns_msg_name(m, x->zone);
	uint32_t mname = dns_msg_prefixed(m, "ns", x->zone);
	uint32_t rname = dns_msg_prefixed(m, "hostmaster", x->zone);

	if (mname == UINT32_MAX || rname == UINT32_MAX)
		return;		/* domain too long for the prefixes */
	struct dns_rec *r = dns_msg_add(m, DNS_T_SOA, sec, DNS_GROUP_NS, owner,
	    x->c->soa_min_ttl);
	r->u.soa.mname = mname;
	r->u.soa.rname = rname;
	r->u.soa.serial = (uint32_t)time(NULL);
	r->u.soa.refresh = x->c->soa_refresh;
	r->u.soa.retry = x->c->soa_retry;
	r->u.soa.expire = x->c->soa_expire;
	r->u.soa.minimum = x->c->soa_min_ttl;
}

size_t
dns_udp_limit(const struct dns_query *q)
{
	if (!q->edns || q->edns_udp <= DNS_UDP_PLAIN)
		return DNS_UDP_PLAIN;
	return MIN((size_t)q->edns_udp, (size_t)DNS_UDP_DATAGRAM_MAX);
}

static int
write_rec(struct dns_writer *w, const struct dns_msg *m,
    const struct dns_query *q, const struct dns_rec *r)
{
	const uint8_t *owner = dns_msg_name_at(m, q, r->owner);
	struct dns_soa soa;

	switch (r->type) {
	case DNS_T_A:
		return dns_w_a(w, owner, r->ttl, r->u.ip);
	case DNS_T_AAAA:
		return dns_w_aaaa(w, owner, r->ttl, r->u.ip);
	case DNS_T_CNAME:
	case DNS_T_PTR:
	case DNS_T_NS:
		return dns_w_namerr(w, r->type, owner, r->ttl,
		    dns_msg_name_at(m, q, r->u.name));
	case DNS_T_SRV:
		return dns_w_srv(w, owner, r->ttl, r->u.srv.prio,
		    r->u.srv.weight, r->u.srv.port,
		    dns_msg_name_at(m, q, r->u.srv.target));
	case DNS_T_TXT:
		return dns_w_txt(w, owner, r->ttl,
		    m->arena.data + r->u.txt.off, r->u.txt.len);
	case DNS_T_SOA:
		soa.mname = dns_msg_name_at(m, q, r->u.soa.mname);
		soa.rname = dns_msg_name_at(m, q, r->u.soa.rname);
		soa.serial = r->u.soa.serial;
		soa.refresh = r->u.soa.refresh;
		soa.retry = r->u.soa.retry;
		soa.expire = r->u.soa.expire;
		soa.minimum = r->u.soa.minimum;
		return dns_w_soa(w, owner, r->ttl, &soa);
	default:
		return 0;
	}
}

/* RFC 6891 OPT echoing the client's payload size (as Consul's setEDNS
 * does) and, RFC 7871 §7.2.1, its ECS option with a scope. */
static int
write_opt(struct dns_writer *w, const struct dns_query *q, uint16_t rcode,
    bool scoped)
{
	uint8_t opt[4 + 4 + 16];
	size_t n = 0;

	if (q->ecs) {
		size_t alen = ((size_t)q->ecs_source + 7) / 8;
		dns_put16(opt, DNS_OPT_ECS);
		dns_put16(opt + 2, (uint16_t)(4 + alen));
		dns_put16(opt + 4, q->ecs_family);
		opt[6] = q->ecs_source;
		opt[7] = scoped ? q->ecs_source : 0;
		memcpy(opt + 8, q->ecs_addr, alen);
		n = 8 + alen;
	}
	return dns_w_opt(w, MAX(q->edns_udp, DNS_UDP_PLAIN),
	    (uint8_t)(rcode >> 4), q->edns_do, opt, n);
}

struct plan {
	size_t nan;			/* answers kept */
	bool keep_ns;
	bool compress;
};

static int
msg_write(struct dns_ctx *x, struct dns_writer *w, uint16_t flags,
    const struct plan *p)
{
	const struct dns_msg *m = x->m;
	const struct dns_query *q = x->q;
	unsigned cnt[3] = { 0, 0, 0 };
	size_t ord = 0;

	dns_w_init(w, w->p, w->cap, p->compress);
	if (dns_w_header(w, q->id, (uint16_t)(flags | (m->rcode & 0xf))) < 0 ||
	    dns_w_question(w, q->qname, q->qtype, q->qclass) < 0)
		return -1;
	for (unsigned sec = DNS_SEC_AN; sec <= DNS_SEC_AR; sec++) {
		if (sec == DNS_SEC_NS && !p->keep_ns)
			continue;
		for (size_t i = 0; i < m->nrec; i++) {
			const struct dns_rec *r = &m->rec[i];
			if (r->sec != sec)
				continue;
			if (sec == DNS_SEC_AN && ord++ >= p->nan)
				break;
			if (sec == DNS_SEC_AR && (r->group == DNS_GROUP_NS ?
			    !p->keep_ns : (size_t)r->group >= p->nan))
				continue;
			if (write_rec(w, m, q, r) < 0)
				return -1;
			cnt[sec]++;
		}
	}
	if (q->edns) {
		if (write_opt(w, q, m->rcode, m->ecs_scoped) < 0)
			return -1;
		cnt[DNS_SEC_AR]++;
	}
	dns_w_counts(w, 1, (uint16_t)cnt[0], (uint16_t)cnt[1],
	    (uint16_t)cnt[2]);
	return 0;
}

/* The largest answer count that fits, or -1 if none does. */
static long
fit_answers(struct dns_ctx *x, struct dns_writer *w, uint16_t flags,
    struct plan *p, size_t nan)
{
	long good = -1;
	size_t lo = 0, hi = nan;

	while (lo <= hi) {
		p->nan = lo + (hi - lo) / 2;
		if (msg_write(x, w, flags, p) == 0) {
			good = (long)p->nan;
			lo = p->nan + 1;
		} else if (p->nan == 0) {
			break;
		} else {
			hi = p->nan - 1;
		}
	}
	return good;
}

bool
dns_msg_finish(struct dns_ctx *x, bool tcp, uint16_t flags, struct buf *out)
{
	size_t limit = tcp ? DNS_MSG_MAX : dns_udp_limit(x->q);
	struct plan p = { x->m->nan, true, x->c->compress };
	bool trimmed = false, force_tc = false;
	struct dns_writer w;

	buf_reset(out);
	buf_reserve(out, limit);
	dns_w_init(&w, out->data, limit, p.compress);
	if (!tcp && limit == DNS_UDP_PLAIN) {
		/* Consul measures these uncompressed, then sends compressed. */
		size_t maxans = (size_t)MIN(DNS_UDP_ANSWER_MAX,
		    x->c->udp_answer_limit);
		if (p.nan > maxans) {
			p.nan = maxans;
			p.compress = false;
			trimmed = true;
		}
	}
	if (msg_write(x, &w, flags, &p) < 0) {
		size_t nan = p.nan;
		if (nan > 0)
			p.keep_ns = false;
		long k = fit_answers(x, &w, flags, &p, nan);
		if (k < 0 && p.keep_ns) {
			p.keep_ns = false;
			k = fit_answers(x, &w, flags, &p, 0);
		}
		if (k < 0) {
			dns_msg_simple(x->q, flags, x->m->rcode, true, out);
			out->data[2] |= DNS_F_TC >> 8;
			return true;
		}
		trimmed = trimmed || (size_t)k < nan;
		force_tc = k == 0 && nan > 0;
		p.nan = (size_t)k;
	}
	p.compress = x->c->compress;
	msg_write(x, &w, flags, &p);
	out->len = w.len;
	if ((trimmed && x->c->enable_truncate) || force_tc)
		out->data[2] |= DNS_F_TC >> 8;
	return trimmed;
}

void
dns_msg_simple(const struct dns_query *q, uint16_t flags, uint16_t rcode,
    bool with_question, struct buf *out)
{
	struct dns_writer w;
	unsigned qd = 0, ar = 0;

	buf_reset(out);
	buf_reserve(out, DNS_UDP_PLAIN);
	dns_w_init(&w, out->data, DNS_UDP_PLAIN, false);
	dns_w_header(&w, q->id, (uint16_t)(flags | (rcode & 0xf)));
	if (with_question && q->has_question &&
	    dns_w_question(&w, q->qname, q->qtype, q->qclass) == 0)
		qd = 1;
	if (q->edns && write_opt(&w, q, rcode, false) == 0)
		ar = 1;
	dns_w_counts(&w, (uint16_t)qd, 0, 0, (uint16_t)ar);
	out->len = w.len;
}
