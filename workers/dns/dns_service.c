/*
 * Service answers (reference consul.md §5.2; Consul agent/dns.go
 * handleServiceQuery, addServiceNodeRecordsToMessage,
 * addServiceSRVRecordsToMessage, makeNodeServiceRecords, resolveCNAME).
 *
 *   - instances with a critical check are dropped, warning too with
 *     only_passing; none left is NXDOMAIN, none of the asked type NODATA
 *   - shuffled on every query
 *   - A/AAAA: one record per distinct address, capped by a_record_limit;
 *     host-name addresses answer CNAME (+ what the domain resolves it to)
 *     only when no instance has an IP address
 *   - SRV: priority 1, weight by health, one per node:address:port; target
 *     <node>.node.<dc>.<domain>, or <hex>.addr.<dc>.<domain> when the
 *     service has its own address; A/AAAA and node meta TXT in additional
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "workers/dns/dns_int.h"

static void
push_inst(void *arg, const struct dns_instance *in)
{
	struct dns_resolver *r = arg;

	if (r->ninst == r->capinst) {
		r->capinst = r->capinst ? r->capinst * 2 : 64;
		r->inst = xrealloc(r->inst, r->capinst * sizeof(*r->inst));
	}
	r->inst[r->ninst++] = *in;
}

int
dns_collect(struct dns_ctx *x, const struct dns_service_query *sq)
{
	struct dns_resolver *r = x->r;
	size_t base = r->ninst;

	if (r->lookup.service == NULL)
		return 0;
	int rc = r->lookup.service(r->lookup.ctx, sq, push_inst, r);
	if (rc < 0) {
		r->ninst = base;
		return rc;
	}
	return r->ninst > base ? 1 : 0;
}

static size_t
keep_healthy(struct dns_ctx *x, size_t base)
{
	struct dns_resolver *r = x->r;
	size_t w = base;

	for (size_t i = base; i < r->ninst; i++) {
		enum dns_health h = r->inst[i].health;
		if (h == DNS_HEALTH_CRITICAL ||
		    (x->c->only_passing && h != DNS_HEALTH_PASSING))
			continue;
		r->inst[w++] = r->inst[i];
	}
	r->ninst = w;
	return w - base;
}

static void
shuffle(struct dns_resolver *r, size_t base, size_t n)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = (size_t)(dns_rand(r) % i);
		struct dns_instance t = r->inst[base + i - 1];
		r->inst[base + i - 1] = r->inst[base + j];
		r->inst[base + j] = t;
	}
}

/* service_ttl: an exact name wins over the longest "prefix*" rule. */
static uint32_t
service_ttl(const struct dns_zcfg *c, const char *svc)
{
	size_t best = 0;
	uint32_t ttl = 0;
	bool found = false;

	for (size_t i = 0; i < c->nttl; i++) {
		const struct dns_ttl_rule *t = &c->ttl[i];
		size_t l = strlen(t->name);
		if (!t->prefix && strcasecmp(t->name, svc) == 0)
			return t->ttl;
		if (t->prefix && strncasecmp(t->name, svc, l) == 0 &&
		    (!found || l > best)) {
			found = true;
			best = l;
			ttl = t->ttl;
		}
	}
	return ttl;
}

enum target_kind { T_NONE, T_NODE_IP, T_SVC_IP, T_HOST };

struct target {
	enum target_kind kind;
	uint8_t ip[16];
	bool v6;
	const char *host;
};

/* Consul makeNodeServiceRecords: the service address if it has one, else
 * the node's; an address that is no IP is a host name to CNAME to. */
static void
classify(const struct dns_dq *dq, const struct dns_instance *in,
    struct target *t)
{
	const char *svc = in->address && *in->address ? in->address : NULL;
	const char *node = in->node.address && *in->node.address ?
	    in->node.address : NULL;
	uint8_t w[DNS_NAME_MAX];

	memset(t, 0, sizeof(*t));
	if (svc == NULL && node == NULL)
		return;
	if (svc == NULL) {
		t->kind = dns_parse_ip(node, t->ip, &t->v6) ? T_NODE_IP : T_HOST;
		t->host = node;
	} else if (dns_parse_ip(svc, t->ip, &t->v6)) {
		t->kind = T_SVC_IP;
	} else if (dns_name_from_text(svc, w) > 1 && dns_name_eq(w, dq->name) &&
	    node && dns_parse_ip(node, t->ip, &t->v6)) {
		t->kind = T_NODE_IP;	/* service address names itself */
	} else {
		t->kind = T_HOST;
		t->host = svc;
	}
}

static bool
dup_answer(const struct dns_msg *m, size_t rec0, uint16_t type,
    const uint8_t *ip)
{
	for (size_t i = rec0; i < m->nrec; i++)
		if (m->rec[i].sec == DNS_SEC_AN && m->rec[i].type == type &&
		    memcmp(m->rec[i].u.ip, ip, 16) == 0)
			return true;
	return false;
}

static size_t
recurse_max(const struct dns_ctx *x)
{
	return x->q->edns ? SIZE_MAX : DNS_RECURSE_RECORDS_MAX;
}

static void
cname_set(struct dns_ctx *x, const struct dns_dq *dq, const char *host,
    uint32_t ttl)
{
	uint8_t fq[DNS_NAME_MAX];

	if (dns_name_from_text(host, fq) <= 1)
		return;
	dns_name_lower(fq);
	dns_msg_add(x->m, DNS_T_CNAME, DNS_SEC_AN, 0, dq->owner, ttl)->u.name =
	    dns_msg_name(x->m, fq);
	dns_resolve_cname(x, fq, dq->depth, DNS_SEC_AN, 0, ttl, recurse_max(x));
}

static void
addr_records(struct dns_ctx *x, const struct dns_dq *dq, size_t base,
    size_t n, uint32_t ttl)
{
	struct dns_msg *m = x->m;
	size_t nan0 = m->nan, rec0 = m->nrec;
	int count = 0;
	struct target t;

	for (size_t i = 0; i < n && m->nan - nan0 < x->an_cap; i++) {
		classify(dq, &x->r->inst[base + i], &t);
		if ((t.kind != T_NODE_IP && t.kind != T_SVC_IP) ||
		    !dns_qtype_takes(dq->qtype, t.v6))
			continue;
		uint16_t type = t.v6 ? DNS_T_AAAA : DNS_T_A;
		if (dup_answer(m, rec0, type, t.ip))
			continue;
		memcpy(dns_msg_add(m, type, DNS_SEC_AN, 0, dq->owner,
		    ttl)->u.ip, t.ip, 16);
		if (++count == x->c->a_record_limit)
			break;
	}
	if (m->nan > nan0)
		return;
	for (size_t i = 0; i < n; i++) {
		classify(dq, &x->r->inst[base + i], &t);
		if (t.kind == T_HOST) {
			cname_set(x, dq, t.host, ttl);
			return;
		}
	}
}

static uint32_t
addr_fqdn(struct dns_ctx *x, const struct target *t, const char *dc)
{
	char text[DNS_NAME_MAX + 64];
	size_t n = 0, len = t->v6 ? 16 : 4;

	for (size_t i = 0; i < len; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%02x",
		    t->ip[i]);
	if (snprintf(text + n, sizeof(text) - n, ".addr.%s.%s", dc,
	    x->zone_txt) >= (int)(sizeof(text) - n))
		return UINT32_MAX;
	return dns_msg_textname(x->m, text);
}

static bool
dup_tuple(const struct dns_resolver *r, size_t base, size_t i)
{
	const struct dns_instance *a = &r->inst[base + i];

	for (size_t j = 0; j < i; j++) {
		const struct dns_instance *b = &r->inst[base + j];
		if (a->port == b->port &&
		    strcmp(a->node.name ? a->node.name : "",
		    b->node.name ? b->node.name : "") == 0 &&
		    strcmp(a->address ? a->address : "",
		    b->address ? b->address : "") == 0)
			return true;
	}
	return false;
}

static void
srv_one(struct dns_ctx *x, const struct dns_dq *dq,
    const struct dns_instance *in, uint32_t ttl, const char *dc)
{
	struct dns_msg *m = x->m;
	const char *ndc = in->node.dc && *in->node.dc ? in->node.dc : dc;
	uint8_t fq[DNS_NAME_MAX];
	uint32_t target;
	struct target t;

	classify(dq, in, &t);
	if (t.kind == T_NONE)
		return;
	if (t.kind == T_NODE_IP)
		target = dns_node_fqdn(x, in->node.name, ndc);
	else if (t.kind == T_SVC_IP)
		target = addr_fqdn(x, &t, dc);
	else if (dns_name_from_text(t.host, fq) > 1)
		target = (dns_name_lower(fq), dns_msg_name(m, fq));
	else
		return;
	if (target == UINT32_MAX)
		return;
	struct dns_rec *r = dns_msg_add(m, DNS_T_SRV, DNS_SEC_AN, 0, dq->owner,
	    ttl);
	r->u.srv.prio = 1;
	r->u.srv.weight = in->health == DNS_HEALTH_WARNING ?
	    in->weight_warning : in->weight_passing;
	r->u.srv.port = in->port;
	r->u.srv.target = target;
	int32_t ord = (int32_t)m->nan - 1;
	if (t.kind == T_HOST) {
		dns_resolve_cname(x, fq, dq->depth, DNS_SEC_AR, ord, ttl,
		    recurse_max(x));
	} else {
		r = dns_msg_add(m, t.v6 ? DNS_T_AAAA : DNS_T_A, DNS_SEC_AR, ord,
		    target, ttl);
		memcpy(r->u.ip, t.ip, 16);
		if (dns_msg_has_extra(m, x->q, r))
			r->sec = DNS_SEC_NONE;
	}
	if (x->c->node_meta_txt && in->node.nmeta) {
		uint32_t owner = dns_node_fqdn(x, in->node.name, ndc);
		if (owner != UINT32_MAX)
			dns_node_meta(x, &in->node, owner, DNS_SEC_AR, ord, ttl);
	}
}

static void
srv_records(struct dns_ctx *x, const struct dns_dq *dq, size_t base,
    size_t n, uint32_t ttl, const char *dc)
{
	size_t nan0 = x->m->nan;

	for (size_t i = 0; i < n && x->m->nan - nan0 < x->an_cap; i++) {
		if (dup_tuple(x->r, base, i))
			continue;
		/* A copy: resolving a host name may grow r->inst. */
		struct dns_instance in = x->r->inst[base + i];
		srv_one(x, dq, &in, ttl, dc);
	}
}

static enum dns_status
emit(struct dns_ctx *x, const struct dns_dq *dq, size_t base, uint32_t ttl,
    const char *dc)
{
	size_t nan0 = x->m->nan, n = x->r->ninst - base;

	if (n == 0)
		return DNS_ST_NXDOMAIN;
	if (dq->qtype == DNS_T_SRV)
		srv_records(x, dq, base, n, ttl, dc);
	else
		addr_records(x, dq, base, n, ttl);
	x->r->ninst = base;
	return x->m->nan > nan0 ? DNS_ST_OK : DNS_ST_NODATA;
}

enum dns_status
dns_service_answer(struct dns_ctx *x, const struct dns_dq *dq,
    const struct dns_service_query *sq)
{
	size_t base = x->r->ninst;
	int rc = dns_collect(x, sq);

	if (rc == 0 || rc == -ENOENT)
		return DNS_ST_NXDOMAIN;
	if (rc < 0)
		return DNS_ST_SERVFAIL;
	size_t n = keep_healthy(x, base);
	shuffle(x->r, base, n);
	enum dns_status st = emit(x, dq, base, service_ttl(x->c, sq->service),
	    sq->dc);
	x->r->ninst = base;
	return st;
}

/* Prepared queries filter and order on the servers (near, failover);
 * answers are scoped to the client's subnet (Consul errECSNotGlobal). */
enum dns_status
dns_query_answer(struct dns_ctx *x, const struct dns_dq *dq, const char *dc,
    const char *name)
{
	struct dns_resolver *r = x->r;
	size_t base = r->ninst;
	uint32_t ttl = UINT32_MAX;

	if (r->lookup.query == NULL)
		return DNS_ST_NXDOMAIN;
	int rc = r->lookup.query(r->lookup.ctx, dc, name, push_inst, r, &ttl);
	if (rc == 0 || rc == -ENOENT || r->ninst == base) {
		r->ninst = base;
		return DNS_ST_NXDOMAIN;
	}
	if (rc < 0) {
		r->ninst = base;
		return DNS_ST_SERVFAIL;
	}
	x->m->ecs_scoped = true;
	if (ttl == UINT32_MAX)
		ttl = service_ttl(x->c, r->inst[base].service ?
		    r->inst[base].service : "");
	enum dns_status st = emit(x, dq, base, ttl, dc);
	r->ninst = base;
	return st;
}

size_t
dns_resolve_cname(struct dns_ctx *x, const uint8_t *fqdn, unsigned depth,
    uint8_t sec, int32_t group, uint32_t ttl, size_t max)
{
	struct dns_msg *m = x->m;
	const struct dns_zcfg *c = x->c;
	size_t rec0 = m->nrec, nan0 = m->nan, kept = 0;

	/* Outside the domain Consul asks the recursors synchronously; the
	 * answer then carries the CNAME alone. */
	if (depth < 1 || (dns_zone_offset(fqdn, c->domain) < 0 &&
	    !(c->has_alt && dns_zone_offset(fqdn, c->alt) >= 0)))
		return 0;
	struct dns_dq sub = { fqdn, dns_msg_name(m, fqdn), DNS_T_ANY,
	    depth - 1 };
	dns_answer_dq(x, &sub);
	for (size_t i = rec0; i < m->nrec; i++) {
		struct dns_rec *rr = &m->rec[i];
		bool ok = rr->sec == DNS_SEC_AN && kept < max &&
		    (rr->type == DNS_T_CNAME || rr->type == DNS_T_A ||
		    rr->type == DNS_T_AAAA);
		if (!ok) {
			rr->sec = DNS_SEC_NONE;
			continue;
		}
		rr->ttl = ttl;
		rr->sec = sec;
		rr->group = group;
		kept++;
	}
	m->nan = nan0 + (sec == DNS_SEC_AN ? kept : 0);
	return kept;
}
