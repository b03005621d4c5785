/*
 * dns_answer(): one query packet to one response.
 *
 * Malformed queries get FORMERR, other opcodes NOTIMP, EDNS versions above
 * 0 BADVERS (RFC 6891 §6.1.3); packets that are not queries are dropped.
 * A question in the domain is answered here (Consul handleQuery), one under
 * arpa. by reverse lookup (handlePtr), anything else is the recursors'.
 */
#include <string.h>

#include "workers/dns/dns_int.h"

int
dns_zone_offset(const uint8_t *name, const uint8_t *zone)
{
	size_t nl = dns_name_len(name), zl = dns_name_len(zone);

	for (const uint8_t *p = name; *p; p += *p + 1) {
		size_t rest = nl - (size_t)(p - name);
		if (rest < zl)
			return -1;
		if (rest == zl && memcmp(p, zone, zl) == 0)
			return (int)(p - name);
	}
	return -1;
}

/* The longest configured domain containing the name (Consul
 * getResponseDomain), or NULL. */
static bool
pick_zone(struct dns_ctx *x)
{
	const struct dns_zcfg *c = x->c;
	int d = dns_zone_offset(x->lname, c->domain);
	int a = c->has_alt ? dns_zone_offset(x->lname, c->alt) : -1;

	if (d < 0 && a < 0)
		return false;
	if (a >= 0 && (d < 0 || a < d)) {
		x->zone = c->alt;
		x->zone_txt = c->alt_txt;
	} else {
		x->zone = c->domain;
		x->zone_txt = c->domain_txt;
	}
	return true;
}

static void
status_to_msg(struct dns_ctx *x, enum dns_status st)
{
	switch (st) {
	case DNS_ST_OK:
		break;
	case DNS_ST_NODATA:
		dns_msg_add_soa(x, DNS_SEC_NS);
		break;
	case DNS_ST_NXDOMAIN:
		x->m->rcode = DNS_R_NXDOMAIN;
		dns_msg_add_soa(x, DNS_SEC_NS);
		break;
	case DNS_ST_SERVFAIL:
		x->m->rcode = DNS_R_SERVFAIL;
		break;
	}
}

/*
 * SOA and NS are answered for any name in the domain, as Consul does; the
 * apex itself has no other data: ANY gives SOA + NS, other types NODATA.
 */
static void
zone_answer(struct dns_ctx *x)
{
	bool apex = dns_name_len(x->lname) == dns_name_len(x->zone);

	switch (x->q->qtype) {
	case DNS_T_SOA:
		dns_msg_add_soa(x, DNS_SEC_AN);
		dns_catalog_ns(x, false);
		return;
	case DNS_T_NS:
		dns_catalog_ns(x, true);
		return;
	case DNS_T_AXFR:
	case DNS_T_IXFR:
		x->m->rcode = DNS_R_NOTIMP;
		return;
	}
	if (apex && x->q->qtype == DNS_T_ANY) {
		dns_msg_add_soa(x, DNS_SEC_AN);
		dns_catalog_ns(x, true);
	} else if (apex) {
		status_to_msg(x, DNS_ST_NODATA);
	} else {
		status_to_msg(x, dns_catalog_answer(x, x->lname,
		    DNS_OWNER_QNAME, DNS_CNAME_DEPTH));
	}
}

static bool
under_arpa(const uint8_t *lname)
{
	static const uint8_t arpa[] = "\004arpa";
	return dns_zone_offset(lname, arpa) >= 0;
}

/* Reverse lookups answer in the primary domain (Consul handlePtr). */
static int
ptr_answer(struct dns_ctx *x)
{
	x->zone = x->c->domain;
	x->zone_txt = x->c->domain_txt;
	if (x->q->qtype == DNS_T_SOA) {
		dns_msg_add_soa(x, DNS_SEC_AN);
		return DNS_REPLY;
	}
	enum dns_status st = dns_catalog_ptr(x);
	if (st == DNS_ST_NXDOMAIN && dns_recursion_enabled(x->r))
		return DNS_RECURSE;
	status_to_msg(x, st);
	return DNS_REPLY;
}

static void
count_rcode(struct dns_resolver *r, uint16_t rcode)
{
	if (rcode == DNS_R_NXDOMAIN)
		r->st.nxdomain++;
	else if (rcode == DNS_R_SERVFAIL)
		r->st.servfail++;
	else if (rcode == DNS_R_REFUSED)
		r->st.refused++;
	else if (rcode == DNS_R_FORMERR)
		r->st.formerr++;
}

static int
simple(struct dns_resolver *r, const struct dns_query *q, uint16_t flags,
    uint16_t rcode, struct buf *out)
{
	dns_msg_simple(q, flags, rcode, true, out);
	count_rcode(r, rcode);
	r->st.answered++;
	return DNS_REPLY;
}

static int
answer_question(struct dns_resolver *r, const struct dns_query *q,
    uint16_t flags, bool tcp, struct buf *out)
{
	struct dns_ctx x = { .r = r, .c = r->cfg, .q = q, .m = &r->msg };
	int rc = DNS_REPLY;

	if (q->qclass != DNS_C_IN && q->qclass != DNS_C_ANY)
		return simple(r, q, flags, DNS_R_REFUSED, out);
	memcpy(x.lname, q->qname, q->qname_len);
	dns_name_lower(x.lname);
	/* Smallest record is 16 octets: more answers cannot fit anyway. */
	x.an_cap = (tcp ? DNS_MSG_MAX : dns_udp_limit(q)) / 16 + 1;
	dns_msg_reset(x.m);
	r->ninst = 0;
	if (pick_zone(&x))
		zone_answer(&x);
	else if (under_arpa(x.lname))
		rc = ptr_answer(&x);
	else if (dns_recursion_enabled(r))
		return DNS_RECURSE;
	else
		return simple(r, q, flags, DNS_R_REFUSED, out);
	if (rc != DNS_REPLY)
		return rc;
	flags |= DNS_F_AA;
	if (dns_msg_finish(&x, tcp, flags, out))
		r->st.truncated++;
	count_rcode(r, x.m->rcode);
	r->st.answered++;
	return DNS_REPLY;
}

int
dns_answer(struct dns_resolver *r, const uint8_t *pkt, size_t len, bool tcp,
    struct buf *out)
{
	struct dns_query q;
	enum dns_parse_result pr = dns_parse_query(pkt, len, &q);
	/* RFC 1035 §4.1.1: copy opcode and RD; RFC 4035 §3.1.6: CD. */
	uint16_t flags = (uint16_t)(DNS_F_QR |
	    (q.flags & (0x7800u | DNS_F_RD | DNS_F_CD)));

	r->st.queries++;
	if (dns_recursion_enabled(r))
		flags |= DNS_F_RA;
	switch (pr) {
	case DNS_PARSE_DROP:
		r->st.dropped++;
		return DNS_DROP;
	case DNS_PARSE_NOTIMP:
		return simple(r, &q, flags, DNS_R_NOTIMP, out);
	case DNS_PARSE_FORMERR:
		return simple(r, &q, flags, DNS_R_FORMERR, out);
	case DNS_PARSE_BADVERS:
		return simple(r, &q, flags, DNS_R_BADVERS, out);
	case DNS_PARSE_OK:
		break;
	}
	return answer_question(r, &q, flags, tcp, out);
}
