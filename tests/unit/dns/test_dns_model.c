/*
 * The read model (workers/dns/dns_model.c): the DNS_UPDATE stream's
 * rules (reset/complete, seq gaps, stale indexes, malformed messages
 * change nothing) and the lookups the resolver makes through it, down
 * to answers over the model.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/dns/dnstest.h"
#include "workers/dns/dns_model.h"
#include "proto/proto.h"

/* Messages built by the tests: up to 8 instances per node. */
struct tsvc {
	const char *id, *name, *addr, *tag;
	int port;
	uint8_t health;
	bool native;
};

/* A row: with all, every instance of the node; else a delta replacing
 * the node's instances of names (nnames of them). */
static void
enc_row(struct buf *out, const char *name, const char *addr,
    uint8_t health, const struct tsvc *sv, size_t n, bool all,
    const char *const *names, size_t nnames)
{
	struct buf b[8];
	struct proto_str items[8];
	const char *meta[] = { "rack", "r1" };
	for (size_t i = 0; i < n; i++) {
		const char *tags[] = { sv[i].tag };
		struct proto_dns_svc m = { .id = proto_str_c(sv[i].id),
			.service = proto_str_c(sv[i].name),
			.kind = PROTO_STR(""), .address = proto_str_c(sv[i].addr),
			.port = sv[i].port,
			.tags = { .n = sv[i].tag != NULL, .items = tags },
			.weights_passing = 1, .weights_warning = 1,
			.connect_native = sv[i].native, .health = sv[i].health };
		buf_init(&b[i]);
		proto_enc_dns_svc(&b[i], &m);
		items[i] = (struct proto_str){ (const char *)b[i].data,
		    (uint32_t)b[i].len };
	}
	struct proto_dns_node m = { .name = proto_str_c(name),
		.address = proto_str_c(addr), .datacenter = PROTO_STR("dc1"),
		.meta = { .n = 2, .items = meta }, .health = health,
		.all_services = all,
		.service_names = { .n = (uint32_t)nnames, .items = names },
		.services = { .n = (uint32_t)n, .strs = items } };
	proto_enc_dns_node(out, &m);
	for (size_t i = 0; i < n; i++)
		buf_free(&b[i]);
}

static void
enc_node(struct buf *out, const char *name, const char *addr,
    uint8_t health, const struct tsvc *sv, size_t n)
{
	enc_row(out, name, addr, health, sv, n, true, NULL, 0);
}

/* One update of nodes (encoded, nn of them) and one gone name. */
static int
update(struct dns_model *m, uint64_t seq, uint64_t index, bool reset,
    bool complete, struct buf *nodes, size_t nn, const char *gone)
{
	struct proto_str items[8];
	const char *g[] = { gone };
	struct buf out;
	for (size_t i = 0; i < nn; i++)
		items[i] = (struct proto_str){ (const char *)nodes[i].data,
		    (uint32_t)nodes[i].len };
	struct proto_dns_update u = { .seq = seq, .index = index,
		.reset = reset, .complete = complete,
		.nodes = { .n = (uint32_t)nn, .strs = items },
		.gone = { .n = gone != NULL, .items = g } };
	buf_init(&out);
	proto_enc_dns_update(&out, &u);
	int r = dns_model_update(m, out.data, out.len);
	buf_free(&out);
	return r;
}

static const struct tsvc web1[] = {
	{ "web", "web", "", "v1", 80, 0, false },
	{ "web-b", "web", "10.0.0.50", "v2", 81, 2, false },
	{ "db", "db", "", NULL, 5432, 1, true },
};
static const struct tsvc web2[] = { { "web", "Web", "", "V1", 80, 0, false } };

/* A model synced with n1 (web x2, db) and n2 (web, node warning). */
static struct dns_model *
synced_model(void)
{
	struct dns_model *m = dns_model_new("dc1");
	struct buf n[2];
	buf_init(&n[0]);
	buf_init(&n[1]);
	enc_node(&n[0], "n1", "10.0.0.1", 0, web1, 3);
	enc_node(&n[1], "N2", "10.0.0.2", 1, web2, 1);
	ck_assert_int_eq(update(m, 0, 10, true, false, &n[0], 1, NULL), 0);
	ck_assert(!dns_model_synced(m));
	ck_assert_int_eq(update(m, 1, 10, false, true, &n[1], 1, NULL), 0);
	ck_assert(dns_model_synced(m));
	ck_assert_uint_eq(dns_model_index(m), 10);
	buf_free(&n[0]);
	buf_free(&n[1]);
	return m;
}

struct seen {
	struct dns_instance in[16];
	size_t n;
};

static void
collect(void *arg, const struct dns_instance *in)
{
	struct seen *s = arg;
	if (s->n < 16)
		s->in[s->n++] = *in;
}

static size_t
services(struct dns_model *m, const char *svc, const char *tag,
    enum dns_service_kind kind, struct seen *s)
{
	struct dns_lookup lk;
	struct dns_service_query q = { .dc = "dc1", .service = svc, .tag = tag,
		.kind = kind };
	dns_model_lookup(m, &lk);
	memset(s, 0, sizeof(*s));
	ck_assert_int_ge(lk.service(lk.ctx, &q, collect, s), 0);
	return s->n;
}

START_TEST(t_lookups)
{
	struct dns_model *m = synced_model();
	struct dns_lookup lk;
	struct dns_node node;
	struct dns_ptr ptr;
	struct seen s;
	size_t nn, ni;
	dns_model_lookup(m, &lk);
	dns_model_counts(m, &nn, &ni);
	ck_assert_uint_eq(nn, 2);
	ck_assert_uint_eq(ni, 4);

	ck_assert_int_eq(lk.node(lk.ctx, "dc1", "n2", &node), 1);
	ck_assert_str_eq(node.name, "N2");
	ck_assert_str_eq(node.address, "10.0.0.2");
	ck_assert_uint_eq(node.nmeta, 1);
	ck_assert_str_eq(node.meta[0].key, "rack");
	ck_assert_int_eq(lk.node(lk.ctx, "dc1", "n3", &node), 0);
	ck_assert_int_eq(lk.node(lk.ctx, "dc2", "n1", &node), -ENOENT);

	/* Case-insensitive names and tags; health folds node and service. */
	ck_assert_uint_eq(services(m, "web", NULL, DNS_SVC_PLAIN, &s), 3);
	ck_assert_uint_eq(services(m, "web", "v1", DNS_SVC_PLAIN, &s), 2);
	ck_assert_uint_eq(services(m, "web", "v2", DNS_SVC_PLAIN, &s), 1);
	ck_assert_str_eq(s.in[0].address, "10.0.0.50");
	ck_assert_int_eq(s.in[0].health, DNS_HEALTH_CRITICAL);
	ck_assert_uint_eq(s.in[0].port, 81);
	ck_assert_uint_eq(services(m, "web", "v1", DNS_SVC_PLAIN, &s), 2);
	for (size_t i = 0; i < s.n; i++)
		ck_assert_int_eq(s.in[i].health, strcmp(s.in[i].node.name,
		    "N2") == 0 ? DNS_HEALTH_WARNING : DNS_HEALTH_PASSING);
	ck_assert_uint_eq(services(m, "we", NULL, DNS_SVC_PLAIN, &s), 0);
	ck_assert_uint_eq(services(m, "webx", NULL, DNS_SVC_PLAIN, &s), 0);
	ck_assert_uint_eq(services(m, "db", NULL, DNS_SVC_CONNECT, &s), 1);
	ck_assert_uint_eq(services(m, "web", NULL, DNS_SVC_CONNECT, &s), 0);
	ck_assert_uint_eq(services(m, "db", NULL, DNS_SVC_INGRESS, &s), 0);

	/* Reverse: a node's address first, then an instance's. */
	ck_assert_int_eq(lk.reverse(lk.ctx, "10.0.0.2", &ptr), 1);
	ck_assert(!ptr.is_service);
	ck_assert_str_eq(ptr.name, "N2");
	ck_assert_int_eq(lk.reverse(lk.ctx, "10.0.0.50", &ptr), 1);
	ck_assert(ptr.is_service);
	ck_assert_str_eq(ptr.name, "web");
	ck_assert_int_eq(lk.reverse(lk.ctx, "10.0.0.99", &ptr), 0);
	dns_model_free(m);
}
END_TEST

START_TEST(t_stream_rules)
{
	struct dns_model *m = dns_model_new("dc1");
	struct buf n;
	struct seen s;
	buf_init(&n);
	enc_node(&n, "n3", "10.0.0.3", 0, web2, 1);
	/* A delta before any reset: the caller must ask for a sync. */
	ck_assert_int_eq(update(m, 1, 5, false, true, &n, 1, NULL), -ESTALE);
	dns_model_free(m);

	m = synced_model();
	/* Next in sequence: applied. */
	ck_assert_int_eq(update(m, 2, 11, false, true, &n, 1, NULL), 0);
	ck_assert_uint_eq(services(m, "web", NULL, DNS_SVC_PLAIN, &s), 4);
	/* A gap: refused, nothing applied. */
	ck_assert_int_eq(update(m, 4, 12, false, true, NULL, 0, "n3"),
	    -ESTALE);
	ck_assert_uint_eq(services(m, "web", NULL, DNS_SVC_PLAIN, &s), 4);
	/* Older than the rows held: ignored (seq still advances). */
	ck_assert_int_eq(update(m, 3, 9, false, true, NULL, 0, "n3"), 0);
	ck_assert_uint_eq(services(m, "web", NULL, DNS_SVC_PLAIN, &s), 4);
	/* A node gone takes its instances. */
	ck_assert_int_eq(update(m, 4, 12, false, true, NULL, 0, "N1"), 0);
	ck_assert_uint_eq(services(m, "web", NULL, DNS_SVC_PLAIN, &s), 2);
	ck_assert_uint_eq(services(m, "db", NULL, DNS_SVC_PLAIN, &s), 0);

	/* A reset serves the old rows until it completes, then only the
	 * new ones; its index may be lower (a restored snapshot). */
	ck_assert_int_eq(update(m, 0, 3, true, false, &n, 1, NULL), 0);
	ck_assert_uint_eq(services(m, "web", NULL, DNS_SVC_PLAIN, &s), 2);
	ck_assert_int_eq(update(m, 1, 3, false, true, NULL, 0, NULL), 0);
	ck_assert_uint_eq(services(m, "web", NULL, DNS_SVC_PLAIN, &s), 1);
	ck_assert_str_eq(s.in[0].node.name, "n3");
	ck_assert_uint_eq(dns_model_index(m), 3);

	/* Malformed: -EBADMSG, nothing changes. */
	ck_assert_int_eq(dns_model_update(m, "\1\2\3", 3), -EBADMSG);
	struct buf bad;
	buf_init(&bad);
	buf_add(&bad, "junk", 4);
	ck_assert_int_eq(update(m, 2, 20, false, true, &bad, 1, NULL),
	    -EBADMSG);
	ck_assert_uint_eq(services(m, "web", NULL, DNS_SVC_PLAIN, &s), 1);
	buf_free(&bad);
	buf_free(&n);
	dns_model_free(m);
}
END_TEST

/* Answers over the model: critical instances never, warning unless
 * only_passing. */
START_TEST(t_answers)
{
	struct dns_model *m = synced_model();
	struct dns_lookup lk;
	struct dns_config c;
	struct dns_resolver *r;
	struct presp *p = calloc(1, sizeof(*p));
	test_config(&c);
	dns_model_lookup(m, &lk);
	ck_assert_int_eq(dns_resolver_new(NULL, &c, &lk, &r), 0);
	ck_assert_int_eq(ask(r, "web.service.consul", DNS_T_A, -1, false, p),
	    DNS_REPLY);
	ck_assert_uint_eq(p->rcode, 0);
	ck_assert_uint_eq(count_rr(p, 0, DNS_T_A), 2);
	ck_assert_int_eq(ask(r, "N1.node.consul", DNS_T_A, -1, false, p),
	    DNS_REPLY);
	ck_assert_str_eq(find_rr(p, 0, DNS_T_A)->data, "10.0.0.1");
	c.only_passing = true;
	ck_assert_int_eq(dns_resolver_reconfigure(r, &c), 0);
	ask(r, "web.service.consul", DNS_T_A, -1, false, p);
	ck_assert_uint_eq(count_rr(p, 0, DNS_T_A), 1);
	ck_assert_str_eq(find_rr(p, 0, DNS_T_A)->data, "10.0.0.1");
	ask(r, "nope.service.consul", DNS_T_A, -1, false, p);
	ck_assert_uint_eq(p->rcode, 3);
	dns_resolver_free(r);
	dns_model_free(m);
	free(p);
}
END_TEST

/* Per-service deltas (schema_dns.h): only the named services of the
 * node change; the header always does. */
START_TEST(t_deltas)
{
	struct dns_model *m = synced_model();
	struct seen s;
	size_t nn, ni;
	struct buf b;
	static const struct tsvc web3[] = {
		{ "web-c", "web", "10.0.0.60", NULL, 82, 0, false } };
	const char *web[] = { "WEB" }, *db[] = { "db" };

	/* web on n1 becomes one new instance; db and N2's web stay. */
	buf_init(&b);
	enc_row(&b, "n1", "10.0.0.1", 0, web3, 1, false, web, 1);
	ck_assert_int_eq(update(m, 2, 11, false, true, &b, 1, NULL), 0);
	buf_free(&b);
	ck_assert_uint_eq(services(m, "web", NULL, 0, &s), 2);
	ck_assert_uint_eq(services(m, "db", NULL, 0, &s), 1);
	dns_model_counts(m, &nn, &ni);
	ck_assert_uint_eq(nn, 2);
	ck_assert_uint_eq(ni, 3);

	/* db listed with no instance: gone; a header-only row (no names)
	 * changes the node's address and keeps web-c. */
	buf_init(&b);
	enc_row(&b, "n1", "10.0.0.9", 0, NULL, 0, false, db, 1);
	ck_assert_int_eq(update(m, 3, 12, false, true, &b, 1, NULL), 0);
	buf_free(&b);
	ck_assert_uint_eq(services(m, "db", NULL, 0, &s), 0);
	buf_init(&b);
	enc_row(&b, "n1", "10.0.0.7", 0, NULL, 0, false, NULL, 0);
	ck_assert_int_eq(update(m, 4, 13, false, true, &b, 1, NULL), 0);
	buf_free(&b);
	ck_assert_uint_eq(services(m, "web", NULL, 0, &s), 2);
	bool found = false;
	for (size_t i = 0; i < s.n; i++)
		if (s.in[i].port == 82)
			found = strcmp(s.in[i].node.address, "10.0.0.7") == 0;
	ck_assert(found);

	/* A full sync resets: what it does not list is gone. */
	buf_init(&b);
	enc_node(&b, "n3", "10.0.0.3", 0, web2, 1);
	ck_assert_int_eq(update(m, 0, 14, true, true, &b, 1, NULL), 0);
	buf_free(&b);
	ck_assert_uint_eq(services(m, "web", NULL, 0, &s), 1);
	dns_model_counts(m, &nn, &ni);
	ck_assert_uint_eq(nn, 1);
	ck_assert_uint_eq(ni, 1);
	dns_model_free(m);
}
END_TEST

Suite *
model_suite(void)
{
	Suite *s = suite_create("dns_model");
	TCase *tc = tcase_create("model");
	tcase_add_test(tc, t_lookups);
	tcase_add_test(tc, t_stream_rules);
	tcase_add_test(tc, t_answers);
	tcase_add_test(tc, t_deltas);
	suite_add_tcase(s, tc);
	return s;
}
