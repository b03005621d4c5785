/*
 * libFuzzer target for the DNS query parser and dns_answer().
 *
 * The first input byte picks the transport (TCP or UDP) and one of four
 * resolver configurations (compression, truncation, alt_domain,
 * recursors); the rest is the packet.  A small catalog with IP and
 * host-name addresses (including a CNAME loop) makes the name forms reach
 * the answer builders.  Every response produced must decode strictly,
 * carry the query's ID and fit the transport's limit.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "workers/dns/dns.h"
#include "workers/dns/dns_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct dns_meta meta[] = { { "rack", "r1" }, { "rfc1035-x", "y" } };

static const struct dns_node nodes[] = {
	{ "alpha", "dc1", "10.0.0.1", meta, 2 },
	{ "beta", "dc1", "fd00::2", NULL, 0 },
	{ "ext", "dc1", "db.example.com", NULL, 0 },
	{ "loop", "dc1", "loop.node.consul", NULL, 0 },
};

static int
f_node(void *ctx, const char *dc, const char *name, struct dns_node *out)
{
	for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
		if (strcasecmp(nodes[i].name, name) == 0) {
			*out = nodes[i];
			return 1;
		}
	}
	return strcmp(dc, "dc1") ? -ENOENT : 0;
}

static int
f_service(void *ctx, const struct dns_service_query *q, dns_instance_fn *fn,
    void *arg)
{
	static const char *addrs[] = { NULL, "192.168.1.1", "web.service.consul",
		"svc.example.org", "" };

	if (strcmp(q->service, "none") == 0)
		return 0;
	if (strcmp(q->service, "fail") == 0)
		return -5;
	for (unsigned i = 0; i < 40; i++) {
		struct dns_instance in = { 0 };
		in.node = nodes[i % 4];
		in.service = q->service;
		in.address = addrs[i % 5];
		in.port = (uint16_t)(8000 + i);
		in.health = (enum dns_health)(i % 3);
		in.weight_passing = 1;
		in.weight_warning = 1;
		fn(arg, &in);
	}
	return 1;
}

static int
f_reverse(void *ctx, const char *ip, struct dns_ptr *out)
{
	if (strcmp(ip, "10.0.0.1") == 0) {
		out->name = "alpha";
		out->dc = "dc1";
		return 1;
	}
	return 0;
}

static int
f_query(void *ctx, const char *dc, const char *name, dns_instance_fn *fn,
    void *arg, uint32_t *ttl)
{
	struct dns_service_query q = { .dc = dc, .service = name };
	*ttl = 5;
	return f_service(ctx, &q, fn, arg);
}

static const struct dns_lookup lookup = {
	NULL, f_node, f_service, f_reverse, f_query,
};

static struct dns_resolver *res[4];
static struct buf out;

static void
setup(void)
{
	static const char *rec[] = { "127.0.0.1:53" };
	static const struct dns_service_ttl ttl[] = { { "web*", 9 } };
	struct ev_loop *loop = ev_loop_new(0);

	for (int i = 0; i < 4; i++) {
		struct dns_config c;
		dns_config_defaults(&c);
		c.node_name = "self";
		c.advertise_addr = i & 1 ? "::1" : "127.0.0.1";
		c.disable_compression = i == 1;
		c.enable_truncate = i >= 2;
		c.alt_domain = i == 2 ? "alt.consul." : "muster.";
		c.udp_answer_limit = i == 3 ? 8 : 3;
		c.a_record_limit = i == 1 ? 2 : 0;
		c.only_passing = i == 3;
		c.service_ttl = ttl;
		c.nservice_ttl = 1;
		c.recursors = rec;
		c.nrecursors = i == 3;
		if (dns_resolver_new(loop, &c, &lookup, &res[i]) < 0)
			abort();
	}
}

/* The response must be well-formed wire format through and through. */
static void
check(const uint8_t *q, size_t qlen, bool tcp)
{
	size_t o = DNS_HDR_LEN;
	struct dns_rr rr;

	if (out.len < DNS_HDR_LEN || out.len > (tcp ? 65535u : 65535u - 68))
		abort();
	if (qlen >= 2 && memcmp(out.data, q, 2) != 0)
		abort();
	unsigned qd = dns_get16(out.data + 4);
	unsigned n = dns_get16(out.data + 6) + dns_get16(out.data + 8) +
	    dns_get16(out.data + 10);
	if (qd > 1 || (qd && dns_question_read(out.data, out.len, &o, &rr)))
		abort();
	for (unsigned i = 0; i < n; i++)
		if (dns_rr_read(out.data, out.len, &o, &rr) < 0)
			abort();
	if (o != out.len)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_query q;

	if (res[0] == NULL)
		setup();
	if (size < 1)
		return 0;
	bool tcp = data[0] & 1;
	struct dns_resolver *r = res[(data[0] >> 1) & 3];
	dns_parse_query(data + 1, size - 1, &q);
	if (dns_answer(r, data + 1, size - 1, tcp, &out) == DNS_REPLY)
		check(data + 1, size - 1, tcp);
	return 0;
}
