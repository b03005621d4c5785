/*
 * The codec: every way a query can be malformed is rejected (and answered
 * FORMERR where a reply is possible), and the writer's compression and
 * record encodings decode back to what was written.
 */
#include <errno.h>
#include <string.h>

#include "tests/unit/dns/dnstest.h"

static uint8_t pkt[70000];

static size_t
hdr(uint8_t *p, uint16_t flags, unsigned qd, unsigned an, unsigned ns,
    unsigned ar)
{
	memset(p, 0, DNS_HDR_LEN);
	dns_put16(p, 0xbeef);
	dns_put16(p + 2, (uint16_t)flags);
	dns_put16(p + 4, (uint16_t)qd);
	dns_put16(p + 6, (uint16_t)an);
	dns_put16(p + 8, (uint16_t)ns);
	dns_put16(p + 10, (uint16_t)ar);
	return DNS_HDR_LEN;
}

static size_t
put_q(uint8_t *p, size_t o, const char *name, uint16_t type)
{
	int n = dns_name_from_text(name, p + o);
	ck_assert_int_gt(n, 0);
	o += (size_t)n;
	dns_put16(p + o, type);
	dns_put16(p + o + 2, DNS_C_IN);
	return o + 4;
}

static size_t
put_opt(uint8_t *p, size_t o, uint16_t udp, uint32_t ttl, const uint8_t *opt,
    uint16_t optlen)
{
	p[o] = 0;
	dns_put16(p + o + 1, DNS_T_OPT);
	dns_put16(p + o + 3, udp);
	dns_put32(p + o + 5, ttl);
	dns_put16(p + o + 9, optlen);
	if (optlen)
		memcpy(p + o + 11, opt, optlen);
	return o + 11 + optlen;
}

static enum dns_parse_result
parse(size_t len)
{
	struct dns_query q;
	return dns_parse_query(pkt, len, &q);
}

/* The resolver's reply to pkt[0..len): rcode, or -1 when dropped. */
static int
reply_rcode(size_t len, struct presp *p)
{
	struct dns_resolver *r = mkres(NULL);
	int rc = ask_raw(r, pkt, len, false, p);
	dns_resolver_free(r);
	return rc == DNS_REPLY ? (int)p->rcode : -1;
}

static struct presp resp;

START_TEST(t_short_header)
{
	size_t n = mkq(pkt, 1, "consul.", DNS_T_SOA, -1);
	ck_assert_int_eq(parse(n), DNS_PARSE_OK);
	for (size_t l = 0; l < DNS_HDR_LEN; l++) {
		ck_assert_int_eq(parse(l), DNS_PARSE_DROP);
		ck_assert_int_eq(reply_rcode(l, &resp), -1);
	}
	/* A header alone claiming a question: FORMERR, no question. */
	ck_assert_int_eq(reply_rcode(DNS_HDR_LEN, &resp), DNS_R_FORMERR);
	ck_assert_uint_eq(resp.qd, 0);
	/* Every truncation inside the question is FORMERR too. */
	for (size_t l = DNS_HDR_LEN; l < n; l++)
		ck_assert_int_eq(reply_rcode(l, &resp), DNS_R_FORMERR);
}
END_TEST

START_TEST(t_response_dropped)
{
	size_t n = mkq(pkt, 1, "consul.", DNS_T_SOA, -1);
	pkt[2] |= 0x80;		/* QR: a response, never answered */
	ck_assert_int_eq(parse(n), DNS_PARSE_DROP);
	ck_assert_int_eq(reply_rcode(n, &resp), -1);
}
END_TEST

START_TEST(t_qdcount)
{
	size_t o = hdr(pkt, 0, 0, 0, 0, 0);
	ck_assert_int_eq(reply_rcode(o, &resp), DNS_R_FORMERR);
	ck_assert_uint_eq(resp.id, 0xbeef);

	o = hdr(pkt, 0, 2, 0, 0, 0);
	o = put_q(pkt, o, "a.consul.", DNS_T_A);
	o = put_q(pkt, o, "b.consul.", DNS_T_A);
	ck_assert_int_eq(parse(o), DNS_PARSE_FORMERR);
	ck_assert_int_eq(reply_rcode(o, &resp), DNS_R_FORMERR);
	ck_assert_uint_eq(resp.qd, 0);
}
END_TEST

START_TEST(t_label_too_long)
{
	size_t o = hdr(pkt, 0, 1, 0, 0, 0);
	pkt[o++] = 64;
	memset(pkt + o, 'a', 64);
	o += 64;
	memcpy(pkt + o, "\006consul\0\0\1\0\1", 12);
	o += 12;
	/* 64 has the top bits 01: an extended label type, rejected. */
	ck_assert_int_eq(parse(o), DNS_PARSE_FORMERR);
	ck_assert_int_eq(reply_rcode(o, &resp), DNS_R_FORMERR);

	/* 63 is the longest label that is fine. */
	o = hdr(pkt, 0, 1, 0, 0, 0);
	pkt[o++] = 63;
	memset(pkt + o, 'a', 63);
	o += 63;
	memcpy(pkt + o, "\006consul\0\0\1\0\1", 12);
	o += 12;
	ck_assert_int_eq(parse(o), DNS_PARSE_OK);
	ck_assert_int_eq(reply_rcode(o, &resp), DNS_R_NXDOMAIN);
}
END_TEST

START_TEST(t_name_too_long)
{
	size_t o = hdr(pkt, 0, 1, 0, 0, 0), start = o;
	/* 4 x (1 + 62) = 252 octets of labels + "\1a" + root = 255. */
	for (int i = 0; i < 4; i++) {
		pkt[o++] = 62;
		memset(pkt + o, 'x', 62);
		o += 62;
	}
	pkt[o++] = 1;
	pkt[o++] = 'a';
	pkt[o++] = 0;
	ck_assert_uint_eq(o - start, 255);
	dns_put16(pkt + o, DNS_T_A);
	dns_put16(pkt + o + 2, DNS_C_IN);
	ck_assert_int_eq(parse(o + 4), DNS_PARSE_OK);

	/* One more octet: 256. */
	o = hdr(pkt, 0, 1, 0, 0, 0);
	for (int i = 0; i < 4; i++) {
		pkt[o++] = 62;
		memset(pkt + o, 'x', 62);
		o += 62;
	}
	pkt[o++] = 2;
	pkt[o++] = 'a';
	pkt[o++] = 'b';
	pkt[o++] = 0;
	dns_put16(pkt + o, DNS_T_A);
	dns_put16(pkt + o + 2, DNS_C_IN);
	ck_assert_int_eq(parse(o + 4), DNS_PARSE_FORMERR);
	ck_assert_int_eq(reply_rcode(o + 4, &resp), DNS_R_FORMERR);
}
END_TEST

START_TEST(t_pointer_loop)
{
	/* The name is a pointer to itself. */
	size_t o = hdr(pkt, 0, 1, 0, 0, 0);
	pkt[o++] = 0xc0;
	pkt[o++] = 12;
	dns_put16(pkt + o, DNS_T_A);
	dns_put16(pkt + o + 2, DNS_C_IN);
	ck_assert_int_eq(parse(o + 4), DNS_PARSE_FORMERR);
	ck_assert_int_eq(reply_rcode(o + 4, &resp), DNS_R_FORMERR);

	/* Two names pointing at each other (in an authority record). */
	o = hdr(pkt, 0, 1, 0, 1, 0);
	o = put_q(pkt, o, "a.consul.", DNS_T_A);
	size_t at = o;
	pkt[o++] = 1;
	pkt[o++] = 'b';
	pkt[o++] = 0xc0;
	pkt[o++] = (uint8_t)(at + 4);	/* -> the pointer below */
	pkt[o++] = 0xc0;
	pkt[o++] = (uint8_t)at;		/* -> back to "b" */
	ck_assert_int_eq(parse(o), DNS_PARSE_FORMERR);

	uint8_t name[DNS_NAME_MAX];
	size_t off = at;
	ck_assert_int_lt(dns_name_read(pkt, o, &off, name), 0);
}
END_TEST

START_TEST(t_forward_pointer)
{
	size_t o = hdr(pkt, 0, 1, 0, 0, 0);
	pkt[o++] = 0xc0;
	pkt[o++] = 18;			/* ahead of itself */
	dns_put16(pkt + o, DNS_T_A);
	dns_put16(pkt + o + 2, DNS_C_IN);
	o += 4;
	memcpy(pkt + o, "\006consul\0", 8);
	ck_assert_int_eq(parse(o + 8), DNS_PARSE_FORMERR);

	/* A backward pointer is fine: "x" + pointer to "consul." at 12. */
	o = hdr(pkt, 0, 1, 1, 0, 0);
	o = put_q(pkt, o, "consul.", DNS_T_A);
	pkt[o++] = 1;
	pkt[o++] = 'x';
	pkt[o++] = 0xc0;
	pkt[o++] = 12;
	memcpy(pkt + o, "\0\1\0\1\0\0\0\0\0\4\1\2\3\4", 14);
	o += 14;
	ck_assert_int_eq(parse(o), DNS_PARSE_OK);
	uint8_t name[DNS_NAME_MAX];
	char text[256];
	size_t off = DNS_HDR_LEN + 12;
	ck_assert_int_eq(dns_name_read(pkt, o, &off, name), 10);
	dns_name_to_text(name, text);
	ck_assert_str_eq(text, "x.consul.");
	ck_assert_uint_eq(off, DNS_HDR_LEN + 12 + 4);
	/* A pointer past the end of the packet. */
	pkt[DNS_HDR_LEN + 12 + 3] = 0xff;
	pkt[DNS_HDR_LEN + 12 + 2] = 0xc3;
	ck_assert_int_eq(parse(o), DNS_PARSE_FORMERR);
}
END_TEST

START_TEST(t_bad_opt)
{
	struct dns_query q;
	size_t o, base;
	uint8_t opt[32];

	/* Two OPT records (RFC 6891 §6.1.1). */
	o = hdr(pkt, 0, 1, 0, 0, 2);
	o = put_q(pkt, o, "consul.", DNS_T_SOA);
	o = put_opt(pkt, o, 1232, 0, NULL, 0);
	o = put_opt(pkt, o, 1232, 0, NULL, 0);
	ck_assert_int_eq(parse(o), DNS_PARSE_FORMERR);
	ck_assert_int_eq(reply_rcode(o, &resp), DNS_R_FORMERR);
	ck_assert(!resp.edns);

	/* OPT with a non-root owner. */
	o = hdr(pkt, 0, 1, 0, 0, 1);
	o = put_q(pkt, o, "consul.", DNS_T_SOA);
	memcpy(pkt + o, "\1x", 2);
	base = put_opt(pkt, o + 2, 1232, 0, NULL, 0);
	memmove(pkt + o + 2, pkt + o + 3, base - o - 3);
	ck_assert_int_eq(parse(base - 1), DNS_PARSE_FORMERR);

	/* OPT in the answer section. */
	o = hdr(pkt, 0, 1, 1, 0, 0);
	o = put_q(pkt, o, "consul.", DNS_T_SOA);
	o = put_opt(pkt, o, 1232, 0, NULL, 0);
	ck_assert_int_eq(parse(o), DNS_PARSE_FORMERR);

	/* An option running past RDATA. */
	o = hdr(pkt, 0, 1, 0, 0, 1);
	o = put_q(pkt, o, "consul.", DNS_T_SOA);
	memcpy(opt, "\0\012\0\010abcd", 8);	/* cookie, claims 8 octets */
	o = put_opt(pkt, o, 1232, 0, opt, 8);
	ck_assert_int_eq(parse(o), DNS_PARSE_FORMERR);

	/* RDLENGTH past the packet. */
	o = hdr(pkt, 0, 1, 0, 0, 1);
	o = put_q(pkt, o, "consul.", DNS_T_SOA);
	o = put_opt(pkt, o, 1232, 0, NULL, 0);
	dns_put16(pkt + o - 2, 4);
	ck_assert_int_eq(parse(o), DNS_PARSE_FORMERR);

	/* ECS with address bits beyond the prefix, and a non-zero scope. */
	base = hdr(pkt, 0, 1, 0, 0, 1);
	base = put_q(pkt, base, "consul.", DNS_T_SOA);
	memcpy(opt, "\0\010\0\007\0\001\030\0\012\001\003", 11);
	o = put_opt(pkt, base, 1232, 0, opt, 11);
	ck_assert_int_eq(parse(o), DNS_PARSE_OK);
	opt[10] = 0x03 | 0x01;	/* 10.1.3/24 fine */
	opt[9] = 0x01;
	opt[6] = 20;		/* /20: the last octet's low 4 bits must be 0 */
	o = put_opt(pkt, base, 1232, 0, opt, 11);
	ck_assert_int_eq(parse(o), DNS_PARSE_FORMERR);
	opt[6] = 24;
	opt[7] = 8;		/* scope must be 0 in a query */
	o = put_opt(pkt, base, 1232, 0, opt, 11);
	ck_assert_int_eq(parse(o), DNS_PARSE_FORMERR);
	opt[7] = 0;
	opt[5] = 3;		/* unknown family */
	o = put_opt(pkt, base, 1232, 0, opt, 11);
	ck_assert_int_eq(parse(o), DNS_PARSE_FORMERR);

	/* A good OPT: size, DO bit, version 0. */
	o = put_opt(pkt, base, 4096, DNS_EDNS_DO, NULL, 0);
	ck_assert_int_eq(dns_parse_query(pkt, o, &q), DNS_PARSE_OK);
	ck_assert(q.edns);
	ck_assert(q.edns_do);
	ck_assert_uint_eq(q.edns_udp, 4096);
}
END_TEST

START_TEST(t_badvers_notimp_trailing)
{
	size_t o = hdr(pkt, 0, 1, 0, 0, 1);
	o = put_q(pkt, o, "consul.", DNS_T_SOA);
	o = put_opt(pkt, o, 1232, 1u << 16, NULL, 0);	/* version 1 */
	ck_assert_int_eq(parse(o), DNS_PARSE_BADVERS);
	ck_assert_int_eq(reply_rcode(o, &resp), DNS_R_BADVERS);
	ck_assert(resp.edns);
	ck_assert_uint_eq((resp.opt_ttl >> 16) & 0xff, 0);

	/* UPDATE (opcode 5): not implemented, question echoed. */
	size_t n = mkq(pkt, 7, "consul.", DNS_T_SOA, -1);
	pkt[2] |= 5 << 3;
	ck_assert_int_eq(parse(n), DNS_PARSE_NOTIMP);
	ck_assert_int_eq(reply_rcode(n, &resp), DNS_R_NOTIMP);
	ck_assert_uint_eq(DNS_OPCODE(resp.flags), 5);
	ck_assert_str_eq(resp.qname, "consul.");

	/* Trailing garbage after the last record. */
	n = mkq(pkt, 7, "consul.", DNS_T_SOA, -1);
	pkt[n] = 0;
	ck_assert_int_eq(parse(n + 1), DNS_PARSE_FORMERR);

	/* Asking for the OPT type itself. */
	n = mkq(pkt, 7, "consul.", DNS_T_OPT, -1);
	ck_assert_int_eq(parse(n), DNS_PARSE_FORMERR);
}
END_TEST

START_TEST(t_compression)
{
	uint8_t buf[512], a[DNS_NAME_MAX], b[DNS_NAME_MAX], c[DNS_NAME_MAX];
	uint8_t out[DNS_NAME_MAX];
	struct dns_writer w;
	char text[256];

	dns_name_from_text("web.service.consul.", a);
	dns_name_from_text("node1.node.dc1.consul.", b);
	dns_name_from_text("web.service.consul.", c);
	dns_w_init(&w, buf, sizeof(buf), true);
	ck_assert_int_eq(dns_w_header(&w, 1, 0), 0);
	ck_assert_int_eq(dns_w_name(&w, a, false), 0);	/* at 12 */
	size_t at_b = w.len;
	ck_assert_int_eq(dns_w_name(&w, b, false), 0);
	/* "node1" "node" "dc1" literally, then a pointer to "consul" (31). */
	ck_assert_uint_eq(w.len - at_b, 6 + 5 + 4 + 2);
	ck_assert_uint_eq(buf[w.len - 2], 0xc0);
	ck_assert_uint_eq(buf[w.len - 1], 12 + 4 + 8);
	size_t at_c = w.len;
	ck_assert_int_eq(dns_w_name(&w, c, false), 0);	/* a pointer */
	ck_assert_uint_eq(w.len - at_c, 2);
	ck_assert_uint_eq(buf[at_c + 1], 12);
	/* SRV targets (nocomp) are written in full. */
	size_t at_d = w.len;
	ck_assert_int_eq(dns_w_name(&w, b, true), 0);
	ck_assert_uint_eq(w.len - at_d, dns_name_len(b));

	size_t off = at_b;
	ck_assert_int_gt(dns_name_read(buf, w.len, &off, out), 0);
	dns_name_to_text(out, text);
	ck_assert_str_eq(text, "node1.node.dc1.consul.");
	/* Another case is another suffix: written in full, case kept. */
	uint8_t d[DNS_NAME_MAX];
	dns_name_from_text("Web.Service.CONSUL.", d);
	size_t at_e = w.len;
	ck_assert_int_eq(dns_w_name(&w, d, false), 0);
	ck_assert_uint_eq(w.len - at_e, dns_name_len(d));
	off = at_e;
	ck_assert_int_gt(dns_name_read(buf, w.len, &off, out), 0);
	dns_name_to_text(out, text);
	ck_assert_str_eq(text, "Web.Service.CONSUL.");
	off = at_c;
	ck_assert_int_gt(dns_name_read(buf, w.len, &off, out), 0);
	ck_assert(dns_name_eq(out, c));

	/* Disabled: every name in full, decoding the same. */
	dns_w_init(&w, buf, sizeof(buf), false);
	dns_w_header(&w, 1, 0);
	dns_w_name(&w, a, false);
	dns_w_name(&w, c, false);
	ck_assert_uint_eq(w.len, DNS_HDR_LEN + 2 * dns_name_len(a));
}
END_TEST

START_TEST(t_writer_limits)
{
	uint8_t buf[100], name[DNS_NAME_MAX], txt[600];
	struct dns_writer w;
	struct presp *p = &resp;

	/* A record that does not fit leaves the writer as it was. */
	dns_name_from_text("x.consul.", name);
	dns_w_init(&w, buf, 41, true);
	dns_w_header(&w, 9, DNS_F_QR);
	ck_assert_int_eq(dns_w_question(&w, name, DNS_T_TXT, DNS_C_IN), 0);
	struct dns_wmark m = dns_w_mark(&w);
	memset(txt, 'q', sizeof(txt));
	ck_assert_int_eq(dns_w_txt(&w, name, 5, txt, 300), -ENOSPC);
	ck_assert_uint_eq(w.len, m.len);
	ck_assert_uint_eq(w.ncomp, m.ncomp);
	ck_assert_int_eq(dns_w_a(&w, name, 5, (const uint8_t *)"\1\2\3\4"),
	    -ENOSPC);	/* 26 + 16 octets do not fit in 41 */
	ck_assert_uint_eq(w.len, m.len);
	w.cap = 42;
	ck_assert_int_eq(dns_w_a(&w, name, 5, (const uint8_t *)"\1\2\3\4"), 0);
	ck_assert_uint_eq(w.len, 42);
	dns_w_counts(&w, 1, 1, 0, 0);
	ck_assert(parse_resp(buf, w.len, p));
	ck_assert_str_eq(p->rr[0][0].data, "1.2.3.4");

	/* TXT longer than 255 is split into character-strings. */
	uint8_t big[2048];
	dns_w_init(&w, big, sizeof(big), true);
	dns_w_header(&w, 9, DNS_F_QR);
	dns_w_question(&w, name, DNS_T_TXT, DNS_C_IN);
	ck_assert_int_eq(dns_w_txt(&w, name, 5, txt, 600), 0);
	ck_assert_int_eq(dns_w_txt(&w, name, 5, "", 0), 0);
	dns_w_counts(&w, 1, 2, 0, 0);
	ck_assert(parse_resp(big, w.len, p));
	ck_assert_uint_eq(p->rr[0][0].nstrings, 3);
	ck_assert_uint_eq(strlen(p->rr[0][0].data), 600);
	ck_assert_uint_eq(p->rr[0][1].nstrings, 1);
	ck_assert_str_eq(p->rr[0][1].data, "");
}
END_TEST

START_TEST(t_text_names)
{
	uint8_t w[DNS_NAME_MAX];
	char t[256], big[300];

	ck_assert_int_eq(dns_name_from_text("consul", w), 8);
	ck_assert_int_eq(dns_name_from_text("consul.", w), 8);
	ck_assert_int_eq(dns_name_from_text(".", w), 1);
	ck_assert_int_lt(dns_name_from_text("a..b", w), 0);
	ck_assert_int_lt(dns_name_from_text(".a", w), 0);
	ck_assert_int_lt(dns_name_from_text("", w), 0);
	memset(big, 'a', 64);
	big[64] = '\0';
	ck_assert_int_lt(dns_name_from_text(big, w), 0);
	dns_name_from_text("MiXeD.Case.", w);
	dns_name_lower(w);
	dns_name_to_text(w, t);
	ck_assert_str_eq(t, "mixed.case.");
}
END_TEST

Suite *
wire_suite(void)
{
	Suite *s = suite_create("dns-wire");
	TCase *tc = tcase_create("parse");
	tcase_add_checked_fixture(tc, loop_setup, loop_teardown);
	tcase_add_test(tc, t_short_header);
	tcase_add_test(tc, t_response_dropped);
	tcase_add_test(tc, t_qdcount);
	tcase_add_test(tc, t_label_too_long);
	tcase_add_test(tc, t_name_too_long);
	tcase_add_test(tc, t_pointer_loop);
	tcase_add_test(tc, t_forward_pointer);
	tcase_add_test(tc, t_bad_opt);
	tcase_add_test(tc, t_badvers_notimp_trailing);
	suite_add_tcase(s, tc);
	tc = tcase_create("write");
	tcase_add_checked_fixture(tc, loop_setup, loop_teardown);
	tcase_add_test(tc, t_compression);
	tcase_add_test(tc, t_writer_limits);
	tcase_add_test(tc, t_text_names);
	suite_add_tcase(s, tc);
	return s;
}
