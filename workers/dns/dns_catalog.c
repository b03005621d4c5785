/*
 * Names inside the domain (reference consul.md §5.1; Consul agent/dns.go
 * dispatch, parseLocality, handleNodeQuery, getNameserversAndNodeRecord,
 * handlePtr).
 *
 *   <node>.node[.<dc>[.dc]]                A/AAAA (CNAME for a host name),
 *                                          TXT from node meta
 *   [<tag>.]<svc>.service[.<dc>[.dc]]      see dns_service.c
 *   _<svc>._<tag>[.service][.<dc>]         RFC 2782 form (SRV)
 *   <svc>.connect / <svc>.ingress          mesh endpoints via the lookup
 *   <name>.query[.<dc>]                    prepared query via the lookup
 *   <hex>.addr[.<dc>]                      8 or 32 hex digits: A / AAAA
 *
 * The type label is the rightmost known one; between it and the domain
 * only a datacenter may appear ("<dc>" or "<dc>.dc").  Peers, ports and
 * virtual IPs are not supported and answer NXDOMAIN.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "workers/dns/dns_int.h"

struct labels {
	const uint8_t *p[DNS_LABELS_MAX];
	uint8_t len[DNS_LABELS_MAX];
	int n;
};

/* Labels of name before its zone suffix at zoff.  A label holding a dot or
 * NUL cannot be a catalog name (it would not survive joining). */
static bool
split(const uint8_t *name, size_t zoff, struct labels *l)
{
	l->n = 0;
	for (const uint8_t *p = name; (size_t)(p - name) < zoff; p += *p + 1) {
		if (memchr(p + 1, '.', *p) || memchr(p + 1, 0, *p))
			return false;
		l->p[l->n] = p + 1;
		l->len[l->n++] = *p;
	}
	return true;
}

static bool
label_is(const struct labels *l, int i, const char *s)
{
	return strlen(s) == l->len[i] && memcmp(l->p[i], s, l->len[i]) == 0;
}

/* Labels [from, to) joined with dots; false if it does not fit. */
static bool
join(const struct labels *l, int from, int to, char *out, size_t size)
{
	size_t n = 0;

	for (int i = from; i < to; i++) {
		if (n + l->len[i] + 2 > size)
			return false;
		if (i > from)
			out[n++] = '.';
		memcpy(out + n, l->p[i], l->len[i]);
		n += l->len[i];
	}
	out[n] = '\0';
	return true;
}

/* Consul parseLocality (CE): "", "<dc>", "<dc>.dc"; peers unsupported. */
static bool
locality(const struct dns_ctx *x, const struct labels *l, int from,
    char *dc, size_t size)
{
	int n = l->n - from;

	if (n == 0) {
		snprintf(dc, size, "%s", x->c->dc);
		return true;
	}
	if (n == 1 || (n == 2 && label_is(l, from + 1, "dc")))
		return join(l, from, from + 1, dc, size);
	return false;
}

bool
dns_parse_ip(const char *s, uint8_t ip[16], bool *v6)
{
	if (s == NULL || *s == '\0')
		return false;
	if (inet_pton(AF_INET, s, ip) == 1) {
		*v6 = false;
		return true;
	}
	if (inet_pton(AF_INET6, s, ip) == 1) {
		*v6 = true;
		return true;
	}
	return false;
}

uint32_t
dns_node_fqdn(struct dns_ctx *x, const char *node, const char *dc)
{
	char text[DNS_NAME_MAX + 64];

	if (snprintf(text, sizeof(text), "%s.node.%s.%s", node,
	    dc && *dc ? dc : x->c->dc, x->zone_txt) >= (int)sizeof(text))
		return UINT32_MAX;
	return dns_msg_textname(x->m, text);
}

/* RFC 1464 §2: backquote escapes "`", "=" and leading/trailing spaces of
 * the key; Consul emits keys prefixed "rfc1035-" as the raw value. */
static void
meta_text(struct buf *b, const char *key, const char *value)
{
	size_t kl = strlen(key), lead = 0, trail = 0;

	if (strncasecmp(key, "rfc1035-", 8) == 0) {
		buf_addstr(b, value);
		return;
	}
	while (lead < kl && key[lead] == ' ')
		lead++;
	while (trail < kl - lead && key[kl - 1 - trail] == ' ')
		trail++;
	for (size_t i = 0; i < kl; i++) {
		if (i < lead || i >= kl - trail || key[i] == '`' || key[i] == '=')
			buf_addch(b, '`');
		buf_addch(b, key[i]);
	}
	buf_addch(b, '=');
	for (const char *v = value; *v; v++) {
		if (*v == '`')
			buf_addch(b, '`');
		buf_addch(b, *v);
	}
}

void
dns_node_meta(struct dns_ctx *x, const struct dns_node *n, uint32_t owner,
    uint8_t sec, int32_t group, uint32_t ttl)
{
	struct dns_msg *m = x->m;

	for (size_t i = 0; i < n->nmeta; i++) {
		if (n->meta[i].key == NULL || n->meta[i].value == NULL)
			continue;
		uint32_t off = (uint32_t)m->arena.len;
		meta_text(&m->arena, n->meta[i].key, n->meta[i].value);
		struct dns_rec *r = dns_msg_add(m, DNS_T_TXT, sec, group,
		    owner, ttl);
		r->u.txt.off = off;
		r->u.txt.len = (uint32_t)(m->arena.len - off);
		if (sec == DNS_SEC_AR && dns_msg_has_extra(m, x->q, r))
			r->sec = DNS_SEC_NONE;
	}
}

bool
dns_qtype_takes(uint16_t qtype, bool v6)
{
	/* Consul makeARecord: which query types an address answers. */
	switch (qtype) {
	case DNS_T_SRV:
	case DNS_T_ANY:
	case DNS_T_NS:
	case DNS_T_TXT:
		return true;
	case DNS_T_A:
		return !v6;
	case DNS_T_AAAA:
		return v6;
	default:
		return false;
	}
}

static enum dns_status
node_answer(struct dns_ctx *x, const struct dns_dq *dq,
    const struct labels *l, int kind)
{
	char name[DNS_NAME_MAX + 1], dc[DNS_LABEL_MAX + 1];
	struct dns_node node = { 0 };
	uint8_t ip[16], fq[DNS_NAME_MAX];
	uint32_t ttl = x->c->node_ttl;
	size_t nan0 = x->m->nan;
	bool v6;

	if (kind < 1 || !join(l, 0, kind, name, sizeof(name)) ||
	    !locality(x, l, kind + 1, dc, sizeof(dc)))
		return DNS_ST_NXDOMAIN;
	int rc = x->r->lookup.node ? x->r->lookup.node(x->r->lookup.ctx, dc,
	    name, &node) : 0;
	if (rc == 0 || rc == -ENOENT)
		return DNS_ST_NXDOMAIN;
	if (rc < 0)
		return DNS_ST_SERVFAIL;
	uint16_t t = dq->qtype;
	if (t != DNS_T_A && t != DNS_T_AAAA && t != DNS_T_ANY && t != DNS_T_TXT)
		return DNS_ST_NODATA;
	if (t != DNS_T_TXT && dns_parse_ip(node.address, ip, &v6)) {
		if (dns_qtype_takes(t, v6))
			memcpy(dns_msg_add(x->m, v6 ? DNS_T_AAAA : DNS_T_A,
			    DNS_SEC_AN, 0, dq->owner, ttl)->u.ip, ip, 16);
	} else if (t != DNS_T_TXT && node.address && *node.address &&
	    dns_name_from_text(node.address, fq) > 1) {
		dns_name_lower(fq);
		struct dns_rec *r = dns_msg_add(x->m, DNS_T_CNAME, DNS_SEC_AN,
		    0, dq->owner, ttl);
		r->u.name = dns_msg_name(x->m, fq);
		dns_resolve_cname(x, fq, dq->depth, DNS_SEC_AN, 0, ttl,
		    SIZE_MAX);
	}
	if (x->c->node_meta_txt || t == DNS_T_TXT || t == DNS_T_ANY) {
		bool ans = t == DNS_T_TXT || t == DNS_T_ANY;
		dns_node_meta(x, &node, dq->owner, ans ? DNS_SEC_AN :
		    DNS_SEC_AR, 0, ttl);
	}
	return x->m->nan > nan0 ? DNS_ST_OK : DNS_ST_NODATA;
}

static int
hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* <hex>.addr: the SRV targets of services with their own address. */
static enum dns_status
addr_answer(struct dns_ctx *x, const struct dns_dq *dq,
    const struct labels *l, int kind)
{
	uint8_t ip[16] = { 0 };

	if (kind != 1 || (l->len[0] != 8 && l->len[0] != 32))
		return DNS_ST_NXDOMAIN;
	for (unsigned i = 0; i < l->len[0]; i++) {
		int v = hexval(l->p[0][i]);
		if (v < 0)
			return DNS_ST_NXDOMAIN;
		ip[i / 2] = (uint8_t)(ip[i / 2] << 4 | v);
	}
	bool v6 = l->len[0] == 32;
	if (!(dq->qtype == DNS_T_ANY || dq->qtype == (v6 ? DNS_T_AAAA : DNS_T_A)))
		return DNS_ST_NODATA;
	memcpy(dns_msg_add(x->m, v6 ? DNS_T_AAAA : DNS_T_A, DNS_SEC_AN, 0,
	    dq->owner, x->c->node_ttl)->u.ip, ip, 16);
	return DNS_ST_OK;
}

static const char *const kinds[] = {
	"service", "connect", "virtual", "ingress", "node", "query", "addr",
};

/* Rightmost type label; SRV questions may omit "service" (RFC 2782 form),
 * then the rightmost "_" label ends the service part. */
static int
find_kind(const struct labels *l, uint16_t qtype, const char **kind)
{
	for (int i = l->n - 1; i >= 0; i--) {
		for (size_t k = 0; k < nitems(kinds); k++) {
			if (label_is(l, i, kinds[k])) {
				*kind = kinds[k];
				return i;
			}
		}
		if (qtype == DNS_T_SRV && l->len[i] > 0 && l->p[i][0] == '_') {
			*kind = "_";
			return i + 1;
		}
	}
	return -1;
}

static enum dns_status
service_form(struct dns_ctx *x, const struct dns_dq *dq,
    const struct labels *l, int kind, const char *what)
{
	char svc[DNS_NAME_MAX + 1], tag[DNS_NAME_MAX + 1];
	char dc[DNS_LABEL_MAX + 2];
	struct dns_service_query sq = { .dc = dc, .service = svc };
	int n = kind;

	/* In the "_" form the labels after the service part are suffixes. */
	int suffix = what[0] == '_' ? kind : kind + 1;
	if (n < 1 || !locality(x, l, suffix, dc, sizeof(dc)))
		return DNS_ST_NXDOMAIN;
	if (strcmp(what, "connect") == 0 || strcmp(what, "ingress") == 0) {
		sq.kind = what[0] == 'c' ? DNS_SVC_CONNECT : DNS_SVC_INGRESS;
		join(l, n - 1, n, svc, sizeof(svc));
	} else if (n == 2 && l->p[0][0] == '_' && l->p[1][0] == '_' &&
	    l->len[0] > 1 && l->len[1] > 1) {
		/* _<svc>._<tag>: tag "tcp" means no tag filter. */
		join(l, 0, 1, svc, sizeof(svc));
		memmove(svc, svc + 1, strlen(svc));
		join(l, 1, 2, tag, sizeof(tag));
		if (strcmp(tag, "_tcp") != 0)
			sq.tag = tag + 1;
	} else {
		/* tag[.tag].<svc>: a dotted tag is legacy but still works. */
		join(l, n - 1, n, svc, sizeof(svc));
		if (n >= 2 && join(l, 0, n - 1, tag, sizeof(tag)))
			sq.tag = tag;
	}
	return dns_service_answer(x, dq, &sq);
}

static enum dns_status
query_form(struct dns_ctx *x, const struct dns_dq *dq, const struct labels *l,
    int kind)
{
	char name[DNS_NAME_MAX + 1], dc[DNS_LABEL_MAX + 1];
	int n = kind;

	/* Consul parseDatacenter: at most one label after "query". */
	if (n < 1 || l->n - (kind + 1) > 1)
		return DNS_ST_NXDOMAIN;
	if (l->n - (kind + 1) == 1)
		join(l, kind + 1, kind + 2, dc, sizeof(dc));
	else
		snprintf(dc, sizeof(dc), "%s", x->c->dc);
	bool rfc2782 = n >= 2 && l->p[0][0] == '_' && l->p[n - 1][0] == '_';
	if (!join(l, 0, rfc2782 ? n - 1 : n, name, sizeof(name)))
		return DNS_ST_NXDOMAIN;
	return dns_query_answer(x, dq, dc, rfc2782 ? name + 1 : name);
}

enum dns_status
dns_answer_dq(struct dns_ctx *x, const struct dns_dq *dq)
{
	const struct dns_zcfg *c = x->c;
	struct labels l;
	const char *what = NULL;
	int d = dns_zone_offset(dq->name, c->domain);
	int a = c->has_alt ? dns_zone_offset(dq->name, c->alt) : -1;

	/* The longer of domain and alt_domain that is a suffix wins. */
	int zoff = a >= 0 && (d < 0 || a < d) ? a : d;
	if (zoff < 0)
		return DNS_ST_NXDOMAIN;
	if (!split(dq->name, (size_t)zoff, &l))
		return DNS_ST_NXDOMAIN;
	int kind = find_kind(&l, dq->qtype, &what);
	if (kind < 0)
		return DNS_ST_NXDOMAIN;
	if (strcmp(what, "node") == 0)
		return node_answer(x, dq, &l, kind);
	if (strcmp(what, "addr") == 0)
		return addr_answer(x, dq, &l, kind);
	if (strcmp(what, "query") == 0)
		return query_form(x, dq, &l, kind);
	if (strcmp(what, "virtual") == 0)
		return DNS_ST_NXDOMAIN;
	return service_form(x, dq, &l, kind, what);
}

enum dns_status
dns_catalog_answer(struct dns_ctx *x, const uint8_t *name, uint32_t owner,
    unsigned depth)
{
	struct dns_dq dq = { name, owner, x->q->qtype, depth };
	return dns_answer_dq(x, &dq);
}

/* Consul InvalidNameRe: only letters, digits and '-' make an NS name. */
static bool
ns_name_ok(const char *s)
{
	if (s == NULL || *s == '\0')
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '-'))
			return false;
	return true;
}

static bool
add_ns(struct dns_ctx *x, bool in_answer, const char *node, const char *dc,
    const uint8_t *ip, bool v6)
{
	struct dns_msg *m = x->m;
	uint32_t target = dns_node_fqdn(x, node, dc);

	if (!ns_name_ok(node) || target == UINT32_MAX)
		return false;
	uint8_t sec = in_answer ? DNS_SEC_AN : DNS_SEC_NS;
	struct dns_rec *r = dns_msg_add(m, DNS_T_NS, sec, DNS_GROUP_NS,
	    dns_msg_name(m, x->zone), x->c->node_ttl);
	r->u.name = target;
	int32_t group = in_answer ? (int32_t)m->nan - 1 : DNS_GROUP_NS;
	if (ip) {
		r = dns_msg_add(m, v6 ? DNS_T_AAAA : DNS_T_A, DNS_SEC_AR,
		    group, target, x->c->node_ttl);
		memcpy(r->u.ip, ip, 16);
		if (dns_msg_has_extra(m, x->q, r))
			r->sec = DNS_SEC_NONE;
	}
	return true;
}

/*
 * NS: up to three random healthy servers (instances of the "consul"
 * service) as <node>.node.<dc>.<domain> with their address as glue.  An
 * agent that knows of none names itself.
 */
void
dns_catalog_ns(struct dns_ctx *x, bool in_answer)
{
	struct dns_resolver *r = x->r;
	struct dns_service_query sq = { .dc = x->c->dc, .service = "consul" };
	size_t base = r->ninst, added = 0;
	uint8_t ip[16];
	bool v6;

	if (dns_collect(x, &sq) > 0) {
		size_t n = r->ninst - base;
		for (size_t i = 0; i < n && added < 3; i++) {
			size_t j = i + (size_t)(dns_rand(r) % (n - i));
			struct dns_instance t = r->inst[base + i];
			r->inst[base + i] = r->inst[base + j];
			r->inst[base + j] = t;
			const struct dns_instance *in = &r->inst[base + i];
			if (in->health == DNS_HEALTH_CRITICAL ||
			    (x->c->only_passing &&
			    in->health != DNS_HEALTH_PASSING))
				continue;
			bool hasip = dns_parse_ip(in->node.address, ip, &v6);
			if (add_ns(x, in_answer, in->node.name, in->node.dc,
			    hasip ? ip : NULL, v6))
				added++;
		}
	}
	r->ninst = base;
	if (added == 0 && x->c->has_adv)
		add_ns(x, in_answer, x->c->node_name, x->c->dc, x->c->adv_ip,
		    x->c->adv_v6);
}

/* d.c.b.a.in-addr.arpa (canonical decimal) or 32 nibbles.ip6.arpa. */
static bool
arpa_to_ip(const uint8_t *name, char *text, size_t size)
{
	struct labels l;
	uint8_t ip[16] = { 0 };
	static const uint8_t v4[] = "\007in-addr\004arpa";
	static const uint8_t v6[] = "\003ip6\004arpa";
	int o4 = dns_zone_offset(name, v4), o6 = dns_zone_offset(name, v6);

	if (o4 >= 0 && split(name, (size_t)o4, &l) && l.n == 4) {
		for (int i = 0; i < 4; i++) {
			unsigned v = 0;
			if (l.len[3 - i] > 3 || (l.len[3 - i] > 1 &&
			    l.p[3 - i][0] == '0'))
				return false;
			for (unsigned k = 0; k < l.len[3 - i]; k++) {
				uint8_t c = l.p[3 - i][k];
				if (c < '0' || c > '9')
					return false;
				v = v * 10 + (c - '0');
			}
			if (v > 255)
				return false;
			ip[i] = (uint8_t)v;
		}
		return inet_ntop(AF_INET, ip, text, (socklen_t)size) != NULL;
	}
	if (o6 >= 0 && split(name, (size_t)o6, &l) && l.n == 32) {
		for (int i = 0; i < 32; i++) {
			int v = l.len[31 - i] == 1 ? hexval(l.p[31 - i][0]) : -1;
			if (v < 0)
				return false;
			ip[i / 2] = (uint8_t)(ip[i / 2] << 4 | v);
		}
		return inet_ntop(AF_INET6, ip, text, (socklen_t)size) != NULL;
	}
	return false;
}

/* PTR targets are always in the primary domain, TTL 0 (Consul #10577). */
enum dns_status
dns_catalog_ptr(struct dns_ctx *x)
{
	struct dns_resolver *r = x->r;
	struct dns_ptr p = { 0 };
	char ip[INET6_ADDRSTRLEN], text[DNS_NAME_MAX + 64];

	if (!arpa_to_ip(x->lname, ip, sizeof(ip)) || !r->lookup.reverse)
		return DNS_ST_NXDOMAIN;
	int rc = r->lookup.reverse(r->lookup.ctx, ip, &p);
	if (rc == 0 || rc == -ENOENT || p.name == NULL)
		return DNS_ST_NXDOMAIN;
	if (rc < 0)
		return DNS_ST_SERVFAIL;
	if (x->q->qtype != DNS_T_PTR && x->q->qtype != DNS_T_ANY)
		return DNS_ST_NODATA;
	if (snprintf(text, sizeof(text), "%s.%s.%s.%s", p.name,
	    p.is_service ? "service" : "node", p.dc && *p.dc ? p.dc : x->c->dc,
	    x->c->domain_txt) >= (int)sizeof(text))
		return DNS_ST_SERVFAIL;
	uint32_t target = dns_msg_textname(x->m, text);
	if (target == UINT32_MAX)
		return DNS_ST_SERVFAIL;
	dns_msg_add(x->m, DNS_T_PTR, DNS_SEC_AN, 0, DNS_OWNER_QNAME, 0)
	    ->u.name = target;
	return DNS_ST_OK;
}
