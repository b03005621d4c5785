/*
 * Answers built from the catalog through struct dns_lookup (a fake one):
 * service, node, addr, PTR, prepared-query forms; health filtering,
 * shuffling, de-duplication; and the size rules of consul.md §5.3.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tests/unit/dns/dnstest.h"

static struct presp resp;
static char names[1100][40], addrs[1100][40];

/* n web instances on nodes n0..n(n-1), 10.0.x.y, port 8000+i. */
static void
web_instances(int n, enum dns_health h)
{
	for (int i = 0; i < n; i++) {
		snprintf(names[i], sizeof(names[i]), "n%d", i);
		snprintf(addrs[i], sizeof(addrs[i]), "10.0.%d.%d", i / 250,
		    i % 250 + 1);
		int nd = fake_node(names[i], "dc1", addrs[i]);
		fake_inst("web", i % 2 ? "primary" : "secondary", nd, NULL,
		    (uint16_t)(8000 + i), h);
	}
}

static bool
has_addr(const struct presp *p, int sec, const char *a)
{
	for (size_t i = 0; i < p->n[sec]; i++)
		if (strcmp(p->rr[sec][i].data, a) == 0)
			return true;
	return false;
}

START_TEST(t_health_filter)
{
	fake_reset();
	int a = fake_node("a", "dc1", "10.0.0.1");
	int b = fake_node("b", "dc1", "10.0.0.2");
	int c = fake_node("c", "dc1", "10.0.0.3");
	fake_inst("web", NULL, a, NULL, 80, DNS_HEALTH_PASSING);
	fake_inst("web", NULL, b, NULL, 80, DNS_HEALTH_WARNING);
	fake_inst("web", NULL, c, NULL, 80, DNS_HEALTH_CRITICAL);
	fake_inst("db", NULL, c, NULL, 5432, DNS_HEALTH_CRITICAL);
	struct dns_resolver *r = mkres(NULL);

	ck_assert_int_eq(ask(r, "web.service.consul.", DNS_T_A, -1, false,
	    &resp), DNS_REPLY);
	ck_assert_uint_eq(resp.rcode, DNS_R_NOERROR);
	ck_assert_uint_eq(resp.an, 2);
	ck_assert(has_addr(&resp, 0, "10.0.0.1"));
	ck_assert(has_addr(&resp, 0, "10.0.0.2"));
	ck_assert(!has_addr(&resp, 0, "10.0.0.3"));
	ck_assert_str_eq(resp.rr[0][0].name, "web.service.consul.");
	/* Nothing healthy left: NXDOMAIN + SOA. */
	ck_assert_int_eq(ask(r, "db.service.consul.", DNS_T_A, -1, false,
	    &resp), DNS_REPLY);
	ck_assert_uint_eq(resp.rcode, DNS_R_NXDOMAIN);
	ck_assert_uint_eq(count_rr(&resp, 1, DNS_T_SOA), 1);
	/* IPv4 only, AAAA asked: NODATA + SOA. */
	ck_assert_int_eq(ask(r, "web.service.consul.", DNS_T_AAAA, -1, false,
	    &resp), DNS_REPLY);
	ck_assert_uint_eq(resp.rcode, DNS_R_NOERROR);
	ck_assert_uint_eq(resp.an, 0);
	ck_assert_uint_eq(count_rr(&resp, 1, DNS_T_SOA), 1);
	dns_resolver_free(r);

	struct dns_config cfg;
	test_config(&cfg);
	cfg.only_passing = true;
	r = mkres(&cfg);
	ck_assert_int_eq(ask(r, "web.service.consul.", DNS_T_A, -1, false,
	    &resp), DNS_REPLY);
	ck_assert_uint_eq(resp.an, 1);
	ck_assert_str_eq(resp.rr[0][0].data, "10.0.0.1");
	dns_resolver_free(r);
}
END_TEST

START_TEST(t_shuffle_dedup)
{
	fake_reset();
	web_instances(6, DNS_HEALTH_PASSING);
	/* A second instance on n0 with the same address: one A record. */
	fake_inst("web", NULL, 0, NULL, 9999, DNS_HEALTH_PASSING);
	struct dns_resolver *r = mkres(NULL);
	bool seen[6] = { false };
	int distinct = 0;

	ck_assert_int_eq(ask(r, "web.service.consul.", DNS_T_A, -1, true,
	    &resp), DNS_REPLY);
	ck_assert_uint_eq(resp.an, 6);
	for (int i = 0; i < 60; i++) {
		ask(r, "web.service.consul.", DNS_T_A, -1, false, &resp);
		ck_assert_uint_eq(resp.an, 3);
		for (int k = 0; k < 6; k++)
			if (strcmp(resp.rr[0][0].data, addrs[k]) == 0 &&
			    !seen[k]) {
				seen[k] = true;
				distinct++;
			}
	}
	/* 60 shuffles, 6 candidates for the first place. */
	ck_assert_int_ge(distinct, 3);
	dns_resolver_free(r);
}
END_TEST

START_TEST(t_srv)
{
	fake_reset();
	int a = fake_node("alpha", "dc1", "10.0.0.1");
	int b = fake_node("beta", "dc1", "10.0.0.2");
	fake.nodes[a].meta[0] = (struct dns_meta){ "rack", "r1" };
	fake.nodes[a].nmeta = 1;
	fake_inst("web", "primary", a, NULL, 8080, DNS_HEALTH_PASSING);
	fake_inst("web", NULL, b, "192.168.0.7", 9090, DNS_HEALTH_WARNING);
	/* Same node, address and port twice: one SRV. */
	fake_inst("web", NULL, a, NULL, 8080, DNS_HEALTH_PASSING);
	struct dns_resolver *r = mkres(NULL);

	ck_assert_int_eq(ask(r, "web.service.consul.", DNS_T_SRV, -1, true,
	    &resp), DNS_REPLY);
	ck_assert_uint_eq(resp.rcode, DNS_R_NOERROR);
	ck_assert_uint_eq(resp.an, 2);
	bool saw_node = false, saw_addr = false;
	for (size_t i = 0; i < resp.n[0]; i++) {
		const char *d = resp.rr[0][i].data;
		if (strcmp(d, "1 1 8080 alpha.node.dc1.consul.") == 0)
			saw_node = true;
		if (strcmp(d, "1 1 9090 c0a80007.addr.dc1.consul.") == 0)
			saw_addr = true;
	}
	ck_assert(saw_node && saw_addr);
	/* Glue for both targets, and alpha's meta as TXT. */
	ck_assert_uint_eq(count_rr(&resp, 2, DNS_T_A), 2);
	const struct prr *t = find_rr(&resp, 2, DNS_T_TXT);
	ck_assert_ptr_nonnull(t);
	ck_assert_str_eq(t->name, "alpha.node.dc1.consul.");
	ck_assert_str_eq(t->data, "rack=r1");
	for (size_t i = 0; i < resp.n[2]; i++) {
		const struct prr *g = &resp.rr[2][i];
		if (g->type != DNS_T_A)
			continue;
		if (strcmp(g->name, "alpha.node.dc1.consul.") == 0)
			ck_assert_str_eq(g->data, "10.0.0.1");
		else
			ck_assert_str_eq(g->name, "c0a80007.addr.dc1.consul.");
	}
	/* The SRV target resolves: <hex>.addr A. */
	ck_assert_int_eq(ask(r, "c0a80007.addr.dc1.consul.", DNS_T_A, -1,
	    false, &resp), DNS_REPLY);
	ck_assert_str_eq(resp.rr[0][0].data, "192.168.0.7");
	dns_resolver_free(r);
}
END_TEST

START_TEST(t_name_forms)
{
	fake_reset();
	web_instances(4, DNS_HEALTH_PASSING);
	fake_node("n9", "dc2", "10.9.0.1");
	fake_inst("web", NULL, 4, NULL, 80, DNS_HEALTH_PASSING);
	struct dns_resolver *r = mkres(NULL);
	struct {
		const char *name;
		uint16_t type;
		const char *svc, *tag, *dc;
		unsigned rcode;
	} cases[] = {
		{ "_web._tcp.service.consul.", DNS_T_SRV, "web", NULL, "dc1", 0 },
		{ "_web._primary.service.consul.", DNS_T_SRV, "web", "primary",
		    "dc1", 0 },
		{ "_web._tcp.consul.", DNS_T_SRV, "web", NULL, "dc1", 0 },
		{ "_web._tcp.dc2.consul.", DNS_T_SRV, "web", NULL, "dc2", 0 },
		{ "primary.web.service.consul.", DNS_T_A, "web", "primary",
		    "dc1", 0 },
		{ "web.service.dc2.consul.", DNS_T_A, "web", NULL, "dc2", 0 },
		{ "web.service.dc2.dc.consul.", DNS_T_A, "web", NULL, "dc2", 0 },
		{ "WEB.Service.CONSUL.", DNS_T_A, "web", NULL, "dc1", 0 },
		{ "web.service.dc9.consul.", DNS_T_A, "web", NULL, "dc9", 3 },
		{ "nosuch.service.consul.", DNS_T_A, "nosuch", NULL, "dc1", 3 },
	};

	for (size_t i = 0; i < nitems(cases); i++) {
		ck_assert_int_eq(ask(r, cases[i].name, cases[i].type, -1, true,
		    &resp), DNS_REPLY);
		ck_assert_msg(resp.rcode == cases[i].rcode, "%s: rcode %u",
		    cases[i].name, resp.rcode);
		ck_assert_str_eq(fake.last_svc, cases[i].svc);
		ck_assert_str_eq(fake.last_dc, cases[i].dc);
		ck_assert(fake.last_had_tag == (cases[i].tag != NULL));
		if (cases[i].tag)
			ck_assert_str_eq(fake.last_tag, cases[i].tag);
	}
	/* Only one label may sit between the type and the domain. */
	unsigned calls = fake.service_calls;
	ck_assert_int_eq(ask(r, "web.service.dc1.extra.consul.", DNS_T_A, -1,
	    false, &resp), DNS_REPLY);
	ck_assert_uint_eq(resp.rcode, DNS_R_NXDOMAIN);
	ck_assert_uint_eq(fake.service_calls, calls);
	/* A lookup failure is SERVFAIL. */
	fake.fail = -EIO;
	ck_assert_int_eq(ask(r, "web.service.consul.", DNS_T_A, -1, false,
	    &resp), DNS_REPLY);
	ck_assert_uint_eq(resp.rcode, DNS_R_SERVFAIL);
	dns_resolver_free(r);
}
END_TEST

START_TEST(t_node)
{
	fake_reset();
	int n = fake_node("db1", "dc1", "10.1.1.1");
	fake.nodes[n].meta[0] = (struct dns_meta){ "k=ey", "v`al" };
	fake.nodes[n].meta[1] = (struct dns_meta){ "rfc1035-raw", "as is" };
	fake.nodes[n].meta[2] = (struct dns_meta){ " sp ", "x" };
	fake.nodes[n].nmeta = 3;
	fake_node("web.dotted", "dc1", "fd00::5");
	fake_node("ext", "dc1", "db.example.com");
	struct dns_config c;
	test_config(&c);
	c.node_ttl = 30;
	struct dns_resolver *r = mkres(&c);

	ck_assert_int_eq(ask(r, "db1.node.consul.", DNS_T_A, -1, false, &resp),
	    DNS_REPLY);
	ck_assert_uint_eq(resp.an, 1);
	ck_assert_str_eq(resp.rr[0][0].data, "10.1.1.1");
	ck_assert_uint_eq(resp.rr[0][0].ttl, 30);
	ck_assert_uint_eq(count_rr(&resp, 2, DNS_T_TXT), 3);
	/* TXT: RFC 1464 key=value, backquote escapes. */
	ck_assert_int_eq(ask(r, "db1.node.dc1.consul.", DNS_T_TXT, -1, false,
	    &resp), DNS_REPLY);
	ck_assert_uint_eq(resp.an, 3);
	ck_assert_str_eq(resp.rr[0][0].data, "k`=ey=v``al");
	ck_assert_str_eq(resp.rr[0][1].data, "as is");
	ck_assert_str_eq(resp.rr[0][2].data, "` sp` =x");
	/* ANY: address and TXT. */
	ck_assert_int_eq(ask(r, "db1.node.consul.", DNS_T_ANY, -1, true,
	    &resp), DNS_REPLY);
	ck_assert_uint_eq(count_rr(&resp, 0, DNS_T_A), 1);
	ck_assert_uint_eq(count_rr(&resp, 0, DNS_T_TXT), 3);
	/* AAAA of an IPv4 node: NODATA + SOA. */
	ck_assert_int_eq(ask(r, "db1.node.consul.", DNS_T_AAAA, -1, false,
	    &resp), DNS_REPLY);
	ck_assert_uint_eq(resp.rcode, DNS_R_NOERROR);
	ck_assert_uint_eq(resp.an, 0);
	ck_assert_uint_eq(count_rr(&resp, 1, DNS_T_SOA), 1);
	/* Node names may contain dots. */
	ck_assert_int_eq(ask(r, "web.dotted.node.consul.", DNS_T_AAAA, -1,
	    false, &resp), DNS_REPLY);
	ck_assert_str_eq(resp.rr[0][0].data, "fd00::5");
	/* A host name address: CNAME. */
	ck_assert_int_eq(ask(r, "ext.node.consul.", DNS_T_A, -1, false,
	    &resp), DNS_REPLY);
	ck_assert_uint_eq(resp.rr[0][0].type, DNS_T_CNAME);
	ck_assert_str_eq(resp.rr[0][0].data, "db.example.com.");
	ck_assert_int_eq(ask(r, "nope.node.consul.", DNS_T_A, -1, false,
	    &resp), DNS_REPLY);
	ck_assert_uint_eq(resp.rcode, DNS_R_NXDOMAIN);
	dns_resolver_free(r);
}
END_TEST

START_TEST(t_cname_inside)
{
	fake_reset();
	int a = fake_node("a", "dc1", "10.0.0.1");
	fake_node("target", "dc1", "10.7.7.7");
	/* The service's address names a node of ours: resolved inside. */
	fake_inst("ext", NULL, a, "target.node.consul", 80,
	    DNS_HEALTH_PASSING);
	/* A loop: the address names the service itself via a CNAME chain. */
	fake_inst("loop", NULL, a, "loop2.service.consul", 80,
	    DNS_HEALTH_PASSING);
	fake_inst("loop2", NULL, a, "loop.service.consul", 80,
	    DNS_HEALTH_PASSING);
	struct dns_resolver *r = mkres(NULL);

	ck_assert_int_eq(ask(r, "ext.service.consul.", DNS_T_A, -1, false,
	    &resp), DNS_REPLY);
	ck_assert_uint_eq(resp.an, 2);
	ck_assert_uint_eq(resp.rr[0][0].type, DNS_T_CNAME);
	ck_assert_str_eq(resp.rr[0][0].data, "target.node.consul.");
	ck_assert_str_eq(resp.rr[0][1].name, "target.node.consul.");
	ck_assert_str_eq(resp.rr[0][1].data, "10.7.7.7");
	/* SRV: target the host, its addresses in additional. */
	ck_assert_int_eq(ask(r, "ext.service.consul.", DNS_T_SRV, -1, false,
	    &resp), DNS_REPLY);
	ck_assert_str_eq(resp.rr[0][0].data, "1 1 80 target.node.consul.");
	ck_assert_str_eq(find_rr(&resp, 2, DNS_T_A)->data, "10.7.7.7");
	/* The loop ends after DNS_CNAME_DEPTH levels. */
	ck_assert_int_eq(ask(r, "loop.service.consul.", DNS_T_A, -1, true,
	    &resp), DNS_REPLY);
	ck_assert_uint_eq(resp.rr[0][0].type, DNS_T_CNAME);
	ck_assert_uint_le(resp.an, 4);
	dns_resolver_free(r);
}
END_TEST

START_TEST(t_addr_ptr)
{
	fake_reset();
	int a = fake_node("db1", "dc1", "10.1.1.1");
	fake_node("v6node", "dc2", "2001:db8::1");
	fake_inst("web", NULL, a, "192.168.5.5", 80, DNS_HEALTH_PASSING);
	struct dns_resolver *r = mkres(NULL);

	ck_assert_int_eq(ask(r, "0a000001.addr.consul.", DNS_T_A, -1, false,
	    &resp), DNS_REPLY);
	ck_assert_str_eq(resp.rr[0][0].data, "10.0.0.1");
	ck_assert_int_eq(ask(r, "20010db8000000000000000000000002.addr.dc1."
	    "consul.", DNS_T_AAAA, -1, false, &resp), DNS_REPLY);
	ck_assert_str_eq(resp.rr[0][0].data, "2001:db8::2");
	ck_assert_int_eq(ask(r, "0a000001.addr.consul.", DNS_T_AAAA, -1, false,
	    &resp), DNS_REPLY);
	ck_assert_uint_eq(resp.rcode, DNS_R_NOERROR);
	ck_assert_uint_eq(resp.an, 0);
	ck_assert_int_eq(ask(r, "0a00zz01.addr.consul.", DNS_T_A, -1, false,
	    &resp), DNS_REPLY);
	ck_assert_uint_eq(resp.rcode, DNS_R_NXDOMAIN);

	ck_assert_int_eq(ask(r, "1.1.1.10.in-addr.arpa.", DNS_T_PTR, -1, false,
	    &resp), DNS_REPLY);
	ck_assert_uint_eq(resp.rcode, DNS_R_NOERROR);
	ck_assert(resp.flags & DNS_F_AA);
	ck_assert_str_eq(resp.rr[0][0].data, "db1.node.dc1.consul.");
	ck_assert_uint_eq(resp.rr[0][0].ttl, 0);
	ck_assert_int_eq(ask(r, "5.5.168.192.IN-ADDR.ARPA.", DNS_T_PTR, -1,
	    false, &resp), DNS_REPLY);
	ck_assert_str_eq(resp.rr[0][0].data, "web.service.dc1.consul.");
	ck_assert_int_eq(ask(r, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
	    "0.0.8.b.d.0.1.0.0.2.ip6.arpa.", DNS_T_PTR, -1, false, &resp),
	    DNS_REPLY);
	ck_assert_str_eq(resp.rr[0][0].data, "v6node.node.dc2.consul.");
	/* Not canonical decimal: no match. */
	ck_assert_int_eq(ask(r, "01.1.1.10.in-addr.arpa.", DNS_T_PTR, -1,
	    false, &resp), DNS_REPLY);
	ck_assert_uint_eq(resp.rcode, DNS_R_NXDOMAIN);
	dns_resolver_free(r);
}
END_TEST

START_TEST(t_query_ttl_ns)
{
	fake_reset();
	web_instances(2, DNS_HEALTH_PASSING);
	int s1 = fake_node("server1", "dc1", "10.5.0.1");
	int s2 = fake_node("server_bad", "dc1", "10.5.0.2");
	fake_inst("consul", NULL, s1, NULL, 8300, DNS_HEALTH_PASSING);
	fake_inst("consul", NULL, s2, NULL, 8300, DNS_HEALTH_PASSING);
	fake_inst("web-api", NULL, 0, NULL, 80, DNS_HEALTH_PASSING);
	fake_inst("db", NULL, 0, NULL, 80, DNS_HEALTH_PASSING);
	struct dns_service_ttl ttls[] = {
		{ "web", 30 }, { "web-*", 10 }, { "*", 5 },
	};
	struct dns_config c;
	test_config(&c);
	c.service_ttl = ttls;
	c.nservice_ttl = nitems(ttls);
	struct dns_resolver *r = mkres(&c);

	ask(r, "web.service.consul.", DNS_T_A, -1, false, &resp);
	ck_assert_uint_eq(resp.rr[0][0].ttl, 30);
	ask(r, "web-api.service.consul.", DNS_T_A, -1, false, &resp);
	ck_assert_uint_eq(resp.rr[0][0].ttl, 10);
	ask(r, "db.service.consul.", DNS_T_A, -1, false, &resp);
	ck_assert_uint_eq(resp.rr[0][0].ttl, 5);

	/* Prepared query: its own TTL; ECS scoped to the client. */
	uint8_t q[600];
	static const uint8_t ecs[] = { 0, 8, 0, 7, 0, 1, 24, 0, 192, 0, 2 };
	size_t n = mkq(q, 3, "webq.query.consul.", DNS_T_A, 4096);
	dns_put16(q + n - 2, sizeof(ecs));
	memcpy(q + n, ecs, sizeof(ecs));
	ck_assert_int_eq(ask_raw(r, q, n + sizeof(ecs), false, &resp),
	    DNS_REPLY);
	ck_assert_uint_eq(resp.an, 2);
	ck_assert_uint_eq(resp.rr[0][0].ttl, 42);
	ck_assert_uint_eq(resp.ecs_scope, 24);
	ck_assert_int_eq(ask(r, "_webq._tcp.query.consul.", DNS_T_SRV, -1,
	    false, &resp), DNS_REPLY);
	ck_assert_uint_eq(count_rr(&resp, 0, DNS_T_SRV), 2);
	ask(r, "other.query.consul.", DNS_T_A, -1, false, &resp);
	ck_assert_uint_eq(resp.rcode, DNS_R_NXDOMAIN);

	/* NS: the known servers (valid names only), not the fallback. */
	ck_assert_int_eq(ask(r, "consul.", DNS_T_NS, -1, false, &resp),
	    DNS_REPLY);
	ck_assert_uint_eq(resp.an, 1);
	ck_assert_str_eq(resp.rr[0][0].data, "server1.node.dc1.consul.");
	ck_assert_str_eq(find_rr(&resp, 2, DNS_T_A)->data, "10.5.0.1");
	dns_resolver_free(r);
}
END_TEST

START_TEST(t_truncation)
{
	fake_reset();
	web_instances(20, DNS_HEALTH_PASSING);
	struct dns_config c;
	test_config(&c);
	struct dns_resolver *r = mkres(&c);

	/* Plain UDP: udp_answer_limit (3), silently (no TC by default). */
	ask(r, "web.service.consul.", DNS_T_A, -1, false, &resp);
	ck_assert_uint_eq(resp.an, 3);
	ck_assert(!(resp.flags & DNS_F_TC));
	ck_assert_uint_le(resp.len, 512);
	/* EDNS0 lifts the count limit (#3355); TCP too. */
	ask(r, "web.service.consul.", DNS_T_A, 4096, false, &resp);
	ck_assert_uint_eq(resp.an, 20);
	ck_assert(resp.edns);
	ask(r, "web.service.consul.", DNS_T_A, -1, true, &resp);
	ck_assert_uint_eq(resp.an, 20);
	struct dns_stats st;
	dns_resolver_stats(r, &st);
	ck_assert_uint_eq(st.truncated, 1);
	dns_resolver_free(r);

	c.enable_truncate = true;
	c.udp_answer_limit = 50;	/* capped at 8 */
	r = mkres(&c);
	ask(r, "web.service.consul.", DNS_T_A, -1, false, &resp);
	ck_assert_uint_eq(resp.an, 8);
	ck_assert(resp.flags & DNS_F_TC);
	ask(r, "web.service.consul.", DNS_T_A, 4096, false, &resp);
	ck_assert(!(resp.flags & DNS_F_TC));
	dns_resolver_free(r);

	c.a_record_limit = 5;
	r = mkres(&c);
	ask(r, "web.service.consul.", DNS_T_A, -1, true, &resp);
	ck_assert_uint_eq(resp.an, 5);
	dns_resolver_free(r);
}
END_TEST

/* Every SRV target kept has its glue, and no glue is orphaned. */
static void
check_srv_glue(const struct presp *p)
{
	for (size_t i = 0; i < p->n[0]; i++) {
		const char *t = strrchr(p->rr[0][i].data, ' ') + 1;
		bool found = false;
		for (size_t k = 0; k < p->n[2]; k++)
			if (strcmp(p->rr[2][k].name, t) == 0)
				found = true;
		ck_assert_msg(found, "no glue for %s", t);
	}
	for (size_t k = 0; k < p->n[2]; k++) {
		bool found = false;
		for (size_t i = 0; i < p->n[0]; i++)
			if (strcmp(strrchr(p->rr[0][i].data, ' ') + 1,
			    p->rr[2][k].name) == 0)
				found = true;
		ck_assert_msg(found, "orphan glue %s", p->rr[2][k].name);
	}
}

START_TEST(t_trim_srv)
{
	fake_reset();
	web_instances(300, DNS_HEALTH_PASSING);
	struct dns_config c;
	test_config(&c);
	c.enable_truncate = true;
	struct dns_resolver *r = mkres(&c);

	ask(r, "web.service.consul.", DNS_T_SRV, 1232, false, &resp);
	ck_assert_uint_le(resp.len, 1232);
	ck_assert_uint_gt(resp.an, 10);
	ck_assert_uint_lt(resp.an, 300);
	ck_assert(resp.flags & DNS_F_TC);
	ck_assert(resp.edns);
	check_srv_glue(&resp);
	/* An EDNS size below 512 means 512. */
	ask(r, "web.service.consul.", DNS_T_SRV, 100, false, &resp);
	ck_assert_uint_le(resp.len, 512);
	ck_assert_uint_gt(resp.an, 0);
	check_srv_glue(&resp);
	/* TCP: everything fits. */
	ask(r, "web.service.consul.", DNS_T_SRV, -1, true, &resp);
	ck_assert_uint_eq(resp.an, 300);
	ck_assert(!(resp.flags & DNS_F_TC));
	check_srv_glue(&resp);
	dns_resolver_free(r);

	/* 1000 instances over TCP: trimmed to 64 KiB, still consistent. */
	fake_reset();
	web_instances(1000, DNS_HEALTH_PASSING);
	for (int i = 0; i < 1000; i++)
		fake.nodes[i].name = "a-rather-long-node-name-to-fill-64k-"
		    "quickly-0123456789" + (i % 7);
	c.enable_truncate = false;
	r = mkres(&c);
	ask(r, "web.service.consul.", DNS_T_SRV, -1, true, &resp);
	ck_assert_uint_le(resp.len, 65535);
	ck_assert_uint_gt(resp.an, 100);
	check_srv_glue(&resp);
	dns_resolver_free(r);
}
END_TEST

Suite *
catalog_suite(void)
{
	Suite *s = suite_create("dns-catalog");
	TCase *tc = tcase_create("catalog");
	tcase_add_checked_fixture(tc, loop_setup, loop_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, t_health_filter);
	tcase_add_test(tc, t_shuffle_dedup);
	tcase_add_test(tc, t_srv);
	tcase_add_test(tc, t_name_forms);
	tcase_add_test(tc, t_node);
	tcase_add_test(tc, t_cname_inside);
	tcase_add_test(tc, t_addr_ptr);
	tcase_add_test(tc, t_query_ttl_ns);
	tcase_add_test(tc, t_truncation);
	tcase_add_test(tc, t_trim_srv);
	suite_add_tcase(s, tc);
	return s;
}
