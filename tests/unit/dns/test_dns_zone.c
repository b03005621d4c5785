/*
 * The zone with an empty catalog: SOA/NS/ANY at the apex, NXDOMAIN and
 * NODATA with the SOA, alt_domain, case, names outside the domain, EDNS0,
 * and configuration validation.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tests/unit/dns/dnstest.h"

static struct presp resp;

static struct dns_resolver *
empty_res(struct dns_config *c)
{
	struct dns_resolver *r = NULL;
	struct dns_config d;

	if (c == NULL) {
		test_config(&d);
		c = &d;
	}
	ck_assert_int_eq(dns_resolver_new(NULL, c, NULL, &r), 0);
	return r;
}

static void
check_soa(const struct prr *rr, const char *zone, uint32_t min_ttl)
{
	char want[600];

	ck_assert_ptr_nonnull(rr);
	ck_assert_uint_eq(rr->type, DNS_T_SOA);
	ck_assert_str_eq(rr->name, zone);
	snprintf(want, sizeof(want), "ns.%s hostmaster.%s", zone, zone);
	ck_assert_str_eq(rr->data, want);
	ck_assert_uint_eq(rr->ttl, min_ttl);
	/* serial = unix time */
	ck_assert_uint_le(rr->soa[0], (uint32_t)time(NULL));
	ck_assert_uint_ge(rr->soa[0], (uint32_t)time(NULL) - 5);
	ck_assert_uint_eq(rr->soa[4], min_ttl);
}

START_TEST(t_apex_soa)
{
	struct dns_config c;
	test_config(&c);
	c.soa.refresh = 111;
	c.soa.retry = 22;
	c.soa.expire = 3333;
	c.soa.min_ttl = 7;
	struct dns_resolver *r = empty_res(&c);

	ck_assert_int_eq(ask(r, "consul.", DNS_T_SOA, -1, false, &resp),
	    DNS_REPLY);
	ck_assert_uint_eq(resp.rcode, DNS_R_NOERROR);
	ck_assert(resp.flags & DNS_F_AA);
	ck_assert(!(resp.flags & DNS_F_RA));
	ck_assert(resp.flags & DNS_F_RD);
	ck_assert_uint_eq(resp.an, 1);
	check_soa(&resp.rr[0][0], "consul.", 7);
	ck_assert_uint_eq(resp.rr[0][0].soa[1], 111);
	ck_assert_uint_eq(resp.rr[0][0].soa[2], 22);
	ck_assert_uint_eq(resp.rr[0][0].soa[3], 3333);
	/* NS in authority, the agent itself, with its address as glue. */
	ck_assert_uint_eq(resp.ns, 1);
	ck_assert_str_eq(resp.rr[1][0].data, "agent-one.node.dc1.consul.");
	ck_assert_str_eq(resp.rr[1][0].name, "consul.");
	ck_assert_uint_eq(resp.ar, 1);
	ck_assert_str_eq(resp.rr[2][0].name, "agent-one.node.dc1.consul.");
	ck_assert_str_eq(resp.rr[2][0].data, "10.0.0.9");
	dns_resolver_free(r);
}
END_TEST

START_TEST(t_apex_ns_any_nodata)
{
	struct dns_resolver *r = empty_res(NULL);

	ck_assert_int_eq(ask(r, "consul.", DNS_T_NS, -1, false, &resp),
	    DNS_REPLY);
	ck_assert_uint_eq(resp.rcode, DNS_R_NOERROR);
	ck_assert_uint_eq(resp.an, 1);
	ck_assert_uint_eq(resp.rr[0][0].type, DNS_T_NS);
	ck_assert_str_eq(resp.rr[0][0].data, "agent-one.node.dc1.consul.");
	ck_assert_uint_eq(resp.ar, 1);
	ck_assert_uint_eq(resp.rr[2][0].type, DNS_T_A);

	ck_assert_int_eq(ask(r, "consul.", DNS_T_ANY, -1, false, &resp),
	    DNS_REPLY);
	ck_assert_uint_eq(resp.rcode, DNS_R_NOERROR);
	ck_assert_uint_eq(count_rr(&resp, 0, DNS_T_SOA), 1);
	ck_assert_uint_eq(count_rr(&resp, 0, DNS_T_NS), 1);
	ck_assert_uint_eq(resp.ar, 1);

	/* The apex has no A: NODATA, SOA in authority for negative caching. */
	ck_assert_int_eq(ask(r, "consul.", DNS_T_A, -1, false, &resp),
	    DNS_REPLY);
	ck_assert_uint_eq(resp.rcode, DNS_R_NOERROR);
	ck_assert_uint_eq(resp.an, 0);
	ck_assert_uint_eq(resp.ns, 1);
	check_soa(&resp.rr[1][0], "consul.", 0);

	/* AXFR: Consul answers NOTIMP. */
	ck_assert_int_eq(ask(r, "consul.", DNS_T_AXFR, -1, false, &resp),
	    DNS_REPLY);
	ck_assert_uint_eq(resp.rcode, DNS_R_NOTIMP);
	dns_resolver_free(r);
}
END_TEST

START_TEST(t_nxdomain)
{
	struct dns_resolver *r = empty_res(NULL);
	const char *names[] = {
		"web.service.consul.", "node1.node.consul.", "foo.consul.",
		"x.y.z.consul.", "_web._tcp.service.consul.",
	};

	for (size_t i = 0; i < nitems(names); i++) {
		ck_assert_int_eq(ask(r, names[i], DNS_T_A, -1, false, &resp),
		    DNS_REPLY);
		ck_assert_uint_eq(resp.rcode, DNS_R_NXDOMAIN);
		ck_assert(resp.flags & DNS_F_AA);
		ck_assert_str_eq(resp.qname, names[i]);
		ck_assert_uint_eq(resp.an, 0);
		ck_assert_uint_eq(resp.ns, 1);
		check_soa(&resp.rr[1][0], "consul.", 0);
	}
	/* SOA for a name inside the domain: the zone's SOA (as Consul). */
	ck_assert_int_eq(ask(r, "web.service.consul.", DNS_T_SOA, -1, false,
	    &resp), DNS_REPLY);
	ck_assert_uint_eq(resp.rcode, DNS_R_NOERROR);
	check_soa(&resp.rr[0][0], "consul.", 0);
	struct dns_stats st;
	dns_resolver_stats(r, &st);
	ck_assert_uint_eq(st.nxdomain, nitems(names));
	ck_assert_uint_eq(st.queries, nitems(names) + 1);
	dns_resolver_free(r);
}
END_TEST

START_TEST(t_alt_domain)
{
	struct dns_config c;
	test_config(&c);
	c.alt_domain = "Test-Domain.";
	struct dns_resolver *r = empty_res(&c);

	ck_assert_int_eq(ask(r, "test-domain.", DNS_T_SOA, -1, false, &resp),
	    DNS_REPLY);
	check_soa(&resp.rr[0][0], "test-domain.", 0);
	ck_assert_str_eq(resp.rr[1][0].data,
	    "agent-one.node.dc1.test-domain.");
	ck_assert_int_eq(ask(r, "web.service.test-domain.", DNS_T_A, -1, false,
	    &resp), DNS_REPLY);
	ck_assert_uint_eq(resp.rcode, DNS_R_NXDOMAIN);
	check_soa(&resp.rr[1][0], "test-domain.", 0);
	/* The primary domain still answers in itself. */
	ck_assert_int_eq(ask(r, "web.service.consul.", DNS_T_A, -1, false,
	    &resp), DNS_REPLY);
	check_soa(&resp.rr[1][0], "consul.", 0);
	dns_resolver_free(r);

	/* An alt_domain under the domain: the longer suffix wins. */
	c.alt_domain = "alt.consul.";
	r = empty_res(&c);
	ck_assert_int_eq(ask(r, "web.service.alt.consul.", DNS_T_A, -1, false,
	    &resp), DNS_REPLY);
	check_soa(&resp.rr[1][0], "alt.consul.", 0);
	dns_resolver_free(r);
}
END_TEST

START_TEST(t_case_insensitive)
{
	struct dns_config c;
	test_config(&c);
	c.domain = "CoNsUl";
	struct dns_resolver *r = empty_res(&c);

	ck_assert_int_eq(ask(r, "CONSUL.", DNS_T_SOA, -1, false, &resp),
	    DNS_REPLY);
	ck_assert_uint_eq(resp.rcode, DNS_R_NOERROR);
	/* The question is echoed as asked (RFC 4343), data in our case. */
	ck_assert_str_eq(resp.qname, "CONSUL.");
	check_soa(&resp.rr[0][0], "consul.", 0);
	ck_assert_int_eq(ask(r, "Web.SERVICE.consul.", DNS_T_A, -1, false,
	    &resp), DNS_REPLY);
	ck_assert_uint_eq(resp.rcode, DNS_R_NXDOMAIN);
	ck_assert_str_eq(resp.qname, "Web.SERVICE.consul.");
	dns_resolver_free(r);
}
END_TEST

START_TEST(t_outside_domain)
{
	struct dns_resolver *r = empty_res(NULL);

	/* No recursors: REFUSED, not authoritative, no RA (miekg/dns). */
	ck_assert_int_eq(ask(r, "example.com.", DNS_T_A, -1, false, &resp),
	    DNS_REPLY);
	ck_assert_uint_eq(resp.rcode, DNS_R_REFUSED);
	ck_assert(!(resp.flags & DNS_F_AA));
	ck_assert(!(resp.flags & DNS_F_RA));
	ck_assert_str_eq(resp.qname, "example.com.");
	/* "xconsul." is not under "consul.". */
	ck_assert_int_eq(ask(r, "xconsul.", DNS_T_A, -1, false, &resp),
	    DNS_REPLY);
	ck_assert_uint_eq(resp.rcode, DNS_R_REFUSED);
	/* Reverse names: ours (NXDOMAIN + SOA of the domain). */
	ck_assert_int_eq(ask(r, "4.3.2.1.in-addr.arpa.", DNS_T_PTR, -1, false,
	    &resp), DNS_REPLY);
	ck_assert_uint_eq(resp.rcode, DNS_R_NXDOMAIN);
	check_soa(&resp.rr[1][0], "consul.", 0);
	/* Class CHAOS is not served. */
	uint8_t q[512];
	size_t n = mkq(q, 5, "version.bind.", DNS_T_TXT, -1);
	dns_put16(q + n - 2, 3);
	ck_assert_int_eq(ask_raw(r, q, n, false, &resp), DNS_REPLY);
	ck_assert_uint_eq(resp.rcode, DNS_R_REFUSED);
	dns_resolver_free(r);

	/* With recursors: RA on our own answers, other names recurse. */
	struct dns_config c;
	const char *rec[] = { "127.0.0.1:5353" };
	test_config(&c);
	c.recursors = rec;
	c.nrecursors = 1;
	ck_assert_int_eq(dns_resolver_new(tloop, &c, NULL, &r), 0);
	ck_assert_int_eq(ask(r, "consul.", DNS_T_SOA, -1, false, &resp),
	    DNS_REPLY);
	ck_assert(resp.flags & DNS_F_RA);
	ck_assert_int_eq(ask(r, "example.com.", DNS_T_A, -1, false, &resp),
	    DNS_RECURSE);
	ck_assert_int_eq(ask(r, "4.3.2.1.in-addr.arpa.", DNS_T_PTR, -1,
	    false, &resp), DNS_RECURSE);
	dns_resolver_free(r);
}
END_TEST

START_TEST(t_edns)
{
	struct dns_resolver *r = empty_res(NULL);
	uint8_t q[600];

	/* The OPT echoes the client's size (Consul setEDNS), DO copied. */
	size_t n = mkq(q, 9, "consul.", DNS_T_SOA, 1232);
	dns_put32(q + n - 6, DNS_EDNS_DO);
	ck_assert_int_eq(ask_raw(r, q, n, false, &resp), DNS_REPLY);
	ck_assert(resp.edns);
	ck_assert_uint_eq(resp.edns_udp, 1232);
	ck_assert(resp.opt_ttl & DNS_EDNS_DO);
	/* No OPT asked, none given. */
	ck_assert_int_eq(ask(r, "consul.", DNS_T_SOA, -1, false, &resp),
	    DNS_REPLY);
	ck_assert(!resp.edns);

	/* ECS echoed with scope 0 (the answer is global). */
	n = mkq(q, 9, "consul.", DNS_T_SOA, 4096);
	static const uint8_t ecs[] = { 0, 8, 0, 7, 0, 1, 24, 0, 192, 0, 2 };
	dns_put16(q + n - 2, sizeof(ecs));
	memcpy(q + n, ecs, sizeof(ecs));
	ck_assert_int_eq(ask_raw(r, q, n + sizeof(ecs), false, &resp),
	    DNS_REPLY);
	ck_assert(resp.ecs);
	ck_assert_uint_eq(resp.ecs_source, 24);
	ck_assert_uint_eq(resp.ecs_scope, 0);
	dns_resolver_free(r);
}
END_TEST

START_TEST(t_config_validation)
{
	struct dns_config c;
	struct dns_resolver *r = NULL;
	const char *bad_rec[] = { "not-an-ip" };
	const char *good_rec[] = { "127.0.0.1", "[::1]:53", "::1",
		"127.0.0.2:5300" };

	test_config(&c);
	c.domain = ".";
	ck_assert_int_eq(dns_resolver_new(NULL, &c, NULL, &r), -EINVAL);
	test_config(&c);
	c.domain = "a..b";
	ck_assert_int_eq(dns_resolver_new(NULL, &c, NULL, &r), -EINVAL);
	test_config(&c);
	c.advertise_addr = "nowhere";
	ck_assert_int_eq(dns_resolver_new(NULL, &c, NULL, &r), -EINVAL);
	test_config(&c);
	c.recursors = bad_rec;
	c.nrecursors = 1;
	ck_assert_int_eq(dns_resolver_new(tloop, &c, NULL, &r), -EINVAL);
	c.recursors = good_rec;
	c.nrecursors = 4;
	/* Recursors need a loop. */
	ck_assert_int_eq(dns_resolver_new(NULL, &c, NULL, &r), -EINVAL);
	ck_assert_int_eq(dns_resolver_new(tloop, &c, NULL, &r), 0);

	/* A failed reload keeps the old config. */
	struct dns_config bad;
	test_config(&bad);
	bad.domain = "";
	ck_assert_int_eq(dns_resolver_reconfigure(r, &bad), -EINVAL);
	ck_assert_int_eq(ask(r, "consul.", DNS_T_SOA, -1, false, &resp),
	    DNS_REPLY);
	ck_assert(resp.flags & DNS_F_RA);
	/* A good one takes effect. */
	test_config(&c);
	c.domain = "muster.";
	ck_assert_int_eq(dns_resolver_reconfigure(r, &c), 0);
	ck_assert_int_eq(ask(r, "muster.", DNS_T_SOA, -1, false, &resp),
	    DNS_REPLY);
	ck_assert_uint_eq(resp.rcode, DNS_R_NOERROR);
	ck_assert(!(resp.flags & DNS_F_RA));
	ck_assert_int_eq(ask(r, "consul.", DNS_T_SOA, -1, false, &resp),
	    DNS_REPLY);
	ck_assert_uint_eq(resp.rcode, DNS_R_REFUSED);
	dns_resolver_free(r);
}
END_TEST

START_TEST(t_no_compression)
{
	struct dns_config c;
	static struct presp a;
	test_config(&c);
	struct dns_resolver *r = empty_res(&c);
	ck_assert_int_eq(ask(r, "consul.", DNS_T_SOA, -1, false, &a),
	    DNS_REPLY);
	dns_resolver_free(r);
	c.disable_compression = true;
	r = empty_res(&c);
	ck_assert_int_eq(ask(r, "consul.", DNS_T_SOA, -1, false, &resp),
	    DNS_REPLY);
	/* Same records, more octets. */
	ck_assert_uint_gt(resp.len, a.len);
	ck_assert_str_eq(resp.rr[0][0].data, a.rr[0][0].data);
	ck_assert_str_eq(resp.rr[1][0].data, a.rr[1][0].data);
	ck_assert_str_eq(resp.rr[2][0].name, a.rr[2][0].name);
	dns_resolver_free(r);
}
END_TEST

Suite *
zone_suite(void)
{
	Suite *s = suite_create("dns-zone");
	TCase *tc = tcase_create("zone");
	tcase_add_checked_fixture(tc, loop_setup, loop_teardown);
	tcase_add_test(tc, t_apex_soa);
	tcase_add_test(tc, t_apex_ns_any_nodata);
	tcase_add_test(tc, t_nxdomain);
	tcase_add_test(tc, t_alt_domain);
	tcase_add_test(tc, t_case_insensitive);
	tcase_add_test(tc, t_outside_domain);
	tcase_add_test(tc, t_edns);
	tcase_add_test(tc, t_config_validation);
	tcase_add_test(tc, t_no_compression);
	suite_add_tcase(s, tc);
	return s;
}
