/*
 * The resolver: configuration, and the path of one query from packet to
 * response (reference consul.md §5; Consul agent/dns.go handleQuery,
 * handlePtr and the ServeMux that routes between them).
 *
 *   domain / alt_domain   authoritative answers (AA), RA iff recursors
 *   *.arpa.               reverse lookups, NXDOMAIN falls to recursors
 *   anything else         recursors, or REFUSED without them (miekg/dns
 *                         answers an unrouted name with REFUSED)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "workers/dns/dns_int.h"

void
dns_config_defaults(struct dns_config *c)
{
	memset(c, 0, sizeof(*c));
	c->domain = "consul.";
	c->datacenter = "dc1";
	c->soa.refresh = 3600;
	c->soa.retry = 600;
	c->soa.expire = 86400;
	c->soa.min_ttl = 0;
	c->udp_answer_limit = 3;
	c->node_meta_txt = true;
	c->recursor_strategy = DNS_RECURSE_SEQUENTIAL;
	c->recursor_timeout_ms = 2000;
}

static void
zcfg_free(struct dns_zcfg *z)
{
	if (z == NULL)
		return;
	for (size_t i = 0; i < z->nttl; i++)
		free(z->ttl[i].name);
	free(z->ttl);
	free(z->dc);
	free(z->node_name);
	free(z);
}

/* "1.2.3.4", "1.2.3.4:53", "::1", "[::1]", "[::1]:53"; port 53 default. */
static int
parse_recursor(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *port = NULL, *colon = strchr(s, ':');
	size_t hl;

	if (*s == '[') {
		const char *end = strchr(s, ']');
		if (end == NULL || (end[1] != '\0' && end[1] != ':'))
			return -EINVAL;
		hl = (size_t)(end - s - 1);
		s++;
		port = end[1] == ':' ? end + 2 : NULL;
	} else if (colon && strchr(colon + 1, ':') == NULL) {
		hl = (size_t)(colon - s);
		port = colon + 1;
	} else {
		hl = strlen(s);
	}
	if (hl == 0 || hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, hl);
	host[hl] = '\0';

	unsigned long p = 53;
	if (port) {
		char *end;
		errno = 0;
		p = strtoul(port, &end, 10);
		if (*port == '\0' || *end != '\0' || errno || p == 0 || p > 65535)
			return -EINVAL;
	}
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)p);
		*len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)p);
		*len = sizeof(*sin6);
	} else {
		return -EINVAL;
	}
	return 0;
}

static int
zone_name(const char *text, uint8_t *wire, char *txt)
{
	if (dns_name_from_text(text, wire) <= 1)	/* not the root */
		return -EINVAL;
	dns_name_lower(wire);
	dns_name_to_text(wire, txt);
	return 0;
}

static int
zcfg_names(struct dns_zcfg *z, const struct dns_config *c)
{
	if (zone_name(c->domain ? c->domain : "consul.", z->domain,
	    z->domain_txt) < 0)
		return -EINVAL;
	if (c->alt_domain && *c->alt_domain && strcmp(c->alt_domain, ".")) {
		if (zone_name(c->alt_domain, z->alt, z->alt_txt) < 0)
			return -EINVAL;
		z->has_alt = !dns_name_eq(z->alt, z->domain);
	}
	z->dc = xstrdup(c->datacenter && *c->datacenter ? c->datacenter :
	    "dc1");
	for (char *p = z->dc; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
	z->node_name = xstrdup(c->node_name ? c->node_name : "");
	if (c->advertise_addr && *c->advertise_addr) {
		z->has_adv = true;
		if (inet_pton(AF_INET, c->advertise_addr, z->adv_ip) == 1)
			z->adv_v6 = false;
		else if (inet_pton(AF_INET6, c->advertise_addr, z->adv_ip) == 1)
			z->adv_v6 = true;
		else
			return -EINVAL;
	}
	return 0;
}

static int
zcfg_ttls(struct dns_zcfg *z, const struct dns_config *c)
{
	z->ttl = xcalloc(c->nservice_ttl ? c->nservice_ttl : 1,
	    sizeof(*z->ttl));
	for (size_t i = 0; i < c->nservice_ttl; i++) {
		const char *n = c->service_ttl[i].name;
		if (n == NULL)
			return -EINVAL;
		struct dns_ttl_rule *t = &z->ttl[z->nttl++];
		size_t l = strlen(n);
		t->prefix = l > 0 && n[l - 1] == '*';
		t->name = xstrndup(n, t->prefix ? l - 1 : l);
		for (char *p = t->name; *p; p++)
			*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
		t->ttl = c->service_ttl[i].ttl;
	}
	return 0;
}

static int
zcfg_build(const struct dns_config *c, struct dns_zcfg **out)
{
	struct dns_zcfg *z = xcalloc(1, sizeof(*z));

	if (zcfg_names(z, c) < 0 || zcfg_ttls(z, c) < 0 ||
	    c->udp_answer_limit < 1 || c->a_record_limit < 0 ||
	    c->nrecursors > DNS_MAX_RECURSORS)
		goto bad;
	for (size_t i = 0; i < c->nrecursors; i++)
		if (c->recursors[i] == NULL || parse_recursor(c->recursors[i],
		    &z->rec[i], &z->reclen[i]) < 0)
			goto bad;
	z->nrec = c->nrecursors;
	z->node_ttl = c->node_ttl;
	z->soa_refresh = c->soa.refresh;
	z->soa_retry = c->soa.retry;
	z->soa_expire = c->soa.expire;
	z->soa_min_ttl = c->soa.min_ttl;
	z->udp_answer_limit = c->udp_answer_limit;
	z->a_record_limit = c->a_record_limit;
	z->enable_truncate = c->enable_truncate;
	z->only_passing = c->only_passing;
	z->node_meta_txt = c->node_meta_txt;
	z->compress = !c->disable_compression;
	z->strategy = c->recursor_strategy;
	z->rec_timeout_ms = c->recursor_timeout_ms ? c->recursor_timeout_ms :
	    2000;
	*out = z;
	return 0;
bad:
	zcfg_free(z);
	return -EINVAL;
}

int
dns_resolver_new(struct ev_loop *loop, const struct dns_config *cfg,
    const struct dns_lookup *lookup, struct dns_resolver **out)
{
	struct dns_zcfg *z;
	int rc;

	if ((rc = zcfg_build(cfg, &z)) < 0)
		return rc;
	if (z->nrec && loop == NULL) {
		zcfg_free(z);
		return -EINVAL;
	}
	struct dns_resolver *r = xcalloc(1, sizeof(*r));
	r->loop = loop;
	r->cfg = z;
	dns_resolver_set_lookup(r, lookup);
	if (random_bytes(&r->rng, sizeof(r->rng)) < 0 || r->rng == 0)
		r->rng = mono_ns() | 1;
	*out = r;
	return 0;
}

int
dns_resolver_reconfigure(struct dns_resolver *r, const struct dns_config *cfg)
{
	struct dns_zcfg *z;
	int rc;

	if ((rc = zcfg_build(cfg, &z)) < 0)
		return rc;
	if (z->nrec && r->loop == NULL) {
		zcfg_free(z);
		return -EINVAL;
	}
	/* Recursions in flight keep their own copy of the upstream list. */
	zcfg_free(r->cfg);
	r->cfg = z;
	return 0;
}

void
dns_resolver_set_lookup(struct dns_resolver *r, const struct dns_lookup *l)
{
	r->has_lookup = l != NULL;
	if (l)
		r->lookup = *l;
	else
		memset(&r->lookup, 0, sizeof(r->lookup));
}

void
dns_resolver_free(struct dns_resolver *r)
{
	if (r == NULL)
		return;
	dns_recurse_free_all(r);
	zcfg_free(r->cfg);
	dns_msg_free(&r->msg);
	free(r->inst);
	free(r);
}

void
dns_resolver_stats(const struct dns_resolver *r, struct dns_stats *s)
{
	*s = r->st;
}

/* xorshift64*: shuffling answers needs speed, not secrecy. */
uint64_t
dns_rand(struct dns_resolver *r)
{
	r->rng ^= r->rng >> 12;
	r->rng ^= r->rng << 25;
	r->rng ^= r->rng >> 27;
	return r->rng * 0x2545F4914F6CDD1DULL;
}

bool
dns_recursion_enabled(const struct dns_resolver *r)
{
	return r->cfg->nrec > 0;
}
