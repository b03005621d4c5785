/* The catalog tables: registration and its checks, Consul's index rules,
 * what each write tells blocking queries, cascading deregistration,
 * reads, and snapshots. */
#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workers/store/catalog.h"
#include "workers/store/catalog_query.h"

static struct cat_db db;
static char chg[512][96];
static int nchg;
static char err[1024];

static void
on_chg(void *arg, enum cat_change what, const char *name)
{
	static const char *const scope[] = { "N", "S", "C", "n:", "s:" };
	if (nchg < 512)
		snprintf(chg[nchg++], sizeof(chg[0]), "%s%s", scope[what],
		    name ? name : "");
}

static bool
told(const char *key)
{
	for (int i = 0; i < nchg; i++)
		if (strcmp(chg[i], key) == 0)
			return true;
	return false;
}

static uint32_t
count(const char *const *v)
{
	uint32_t n = 0;
	while (v && v[n])
		n++;
	return n;
}

static struct cat_node *
mk_node(const char *name, const char *addr, const char *id,
    const char *const *meta)
{
	struct proto_cat_node m = { .id = proto_str_c(id),
		.node = proto_str_c(name), .address = proto_str_c(addr),
		.datacenter = proto_str_c("dc1"), .has_meta = meta != NULL,
		.meta = { .n = count(meta), .items = meta } };
	struct buf b;
	buf_init(&b);
	proto_enc_cat_node(&b, &m);
	struct cat_node *n = cat_dec_node(b.data, b.len);
	buf_free(&b);
	ck_assert_ptr_nonnull(n);
	return n;
}

static struct cat_service *
mk_svc(const char *id, const char *name, const char *const *tags, int port)
{
	struct proto_cat_service m = { .id = proto_str_c(id),
		.service = proto_str_c(name),
		.tags = { .n = count(tags), .items = tags }, .port = port,
		.weights_passing = 1, .weights_warning = 1 };
	struct buf b;
	buf_init(&b);
	proto_enc_cat_service(&b, &m);
	struct cat_service *s = cat_dec_service(b.data, b.len, NULL);
	buf_free(&b);
	ck_assert_ptr_nonnull(s);
	return s;
}

static struct cat_check *
mk_chk(const char *id, const char *status, const char *svc)
{
	struct proto_cat_check m = { .check_id = proto_str_c(id),
		.name = proto_str_c(id), .status = proto_str_c(status),
		.service_id = proto_str_c(svc), .definition = PROTO_STR("{}") };
	struct buf b;
	buf_init(&b);
	proto_enc_cat_check(&b, &m);
	struct cat_check *c = cat_dec_check(b.data, b.len);
	buf_free(&b);
	ck_assert_ptr_nonnull(c);
	return c;
}

/* Register (stateless checks first, as the store does) at index idx. */
static int
reg(uint64_t idx, struct cat_node *n, struct cat_service *s,
    struct cat_check *c1, struct cat_check *c2)
{
	struct cat_reg r = { .node = n, .service = s };
	r.checks = calloc(3, sizeof(*r.checks));
	if (c1)
		r.checks[r.nchecks++] = c1;
	if (c2)
		r.checks[r.nchecks++] = c2;
	nchg = 0;
	err[0] = '\0';
	int rc = cat_reg_check(&r, err, sizeof(err));
	if (rc == 0)
		rc = cat_register(&db, idx, &r, err, sizeof(err), on_chg, NULL);
	cat_reg_free(&r);
	return rc;
}

static void
dereg(uint64_t idx, const char *node, const char *svc, const char *chk)
{
	nchg = 0;
	cat_deregister(&db, idx, node, svc, chk, on_chg, NULL);
}

static struct cat_result res;

static int
query(uint8_t what, const char *name, const char *const *tags,
    const char *const *meta, bool passing)
{
	struct proto_cat_read_req q = { .what = what, .name = proto_str_c(name),
		.tags = { .n = count(tags), .items = tags },
		.node_meta = { .n = count(meta), .items = meta },
		.passing = passing }, wire;
	struct buf b;
	/* As the store gets it: lists are walked in their wire form. */
	buf_init(&b);
	proto_enc_cat_read_req(&b, &q);
	ck_assert_int_eq(proto_dec_cat_read_req(b.data, b.len, &wire), 0);
	cat_result_free(&res);
	ck_assert_int_eq(cat_query(&db, &wire, &res), 0);
	buf_free(&b);
	return (int)res.items.n;
}

/* Item i of the last query as "node/service" (entries), a node name,
 * "service[tags]" or "node/check". */
static const char *
item(int i)
{
	static char out[256];
	struct proto_str s = { (const char *)res.items.data.data +
		res.items.offs[i], (uint32_t)((i + 1 < (int)res.items.n ?
		res.items.offs[i + 1] : res.items.data.len) - res.items.offs[i]) };
	struct proto_cat_entry e;
	struct proto_cat_node n;
	struct proto_cat_service sv;
	struct proto_cat_check c;
	if (proto_dec_cat_entry(s.p, s.len, &e) == 0 &&
	    proto_dec_cat_node(e.node.p, e.node.len, &n) == 0 &&
	    proto_dec_cat_service(e.service.p, e.service.len, &sv) == 0)
		snprintf(out, sizeof(out), "%.*s/%.*s+%u", (int)n.node.len,
		    n.node.p, (int)sv.id.len, sv.id.p, e.checks.n);
	else if (proto_dec_cat_node(s.p, s.len, &n) == 0)
		snprintf(out, sizeof(out), "%.*s", (int)n.node.len, n.node.p);
	else if (proto_dec_cat_check(s.p, s.len, &c) == 0)
		snprintf(out, sizeof(out), "%.*s/%.*s", (int)c.node.len, c.node.p,
		    (int)c.check_id.len, c.check_id.p);
	else if (proto_dec_cat_service(s.p, s.len, &sv) == 0) {
		int o = snprintf(out, sizeof(out), "%.*s[", (int)sv.service.len,
		    sv.service.p);
		struct proto_strv_iter it;
		struct proto_str t;
		proto_strv_iter_init(&it, &sv.tags);
		while (proto_strv_next(&it, &t) && o < 200)
			o += snprintf(out + o, sizeof(out) - (size_t)o, "%s%.*s",
			    out[o - 1] == '[' ? "" : ",", (int)t.len, t.p);
		snprintf(out + o, sizeof(out) - (size_t)o, "]");
	} else
		snprintf(out, sizeof(out), "?");
	return out;
}

static void
setup(void)
{
	cat_db_init(&db);
	nchg = 0;
	memset(&res, 0, sizeof(res));
}

static void
teardown(void)
{
	cat_result_free(&res);
	cat_db_free(&db);
}

/* web on n1 (with a service check and the node's serfHealth), db on n2. */
static void
two_nodes(void)
{
	static const char *const tags[] = { "v1", "Primary", NULL };
	ck_assert_int_eq(reg(10, mk_node("n1", "10.0.0.1", "", NULL),
	    mk_svc("web1", "web", tags, 80), mk_chk("web-alive", "passing",
	    "web1"), mk_chk("serfHealth", "passing", "")), 0);
	ck_assert_int_eq(reg(11, mk_node("n2", "10.0.0.2", "", NULL),
	    mk_svc("db1", "db", NULL, 5432), NULL, NULL), 0);
}

START_TEST(register_sets_rows_and_indexes)
{
	two_nodes();
	struct cat_node *n = cat_node_get(&db, "N1");	/* case-insensitive */
	ck_assert_ptr_nonnull(n);
	ck_assert_str_eq(n->name, "n1");
	ck_assert_uint_eq(n->create_index, 10);
	ck_assert_uint_eq(n->modify_index, 10);
	struct cat_service *s = cat_service_get(n, "WEB1");
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(s->create_index, 10);
	struct cat_check *c = cat_check_get(n, "web-alive");
	ck_assert_ptr_nonnull(c);
	/* Consul copies the service's name and tags into its checks. */
	ck_assert_str_eq(c->service_name, "web");
	ck_assert_uint_eq(c->nservice_tags, 2);
	ck_assert_str_eq(c->node_name, "n1");	/* defaulted to the node */
	ck_assert_uint_eq(db.idx_nodes, 11);
	ck_assert_uint_eq(db.idx_services, 11);
	ck_assert_uint_eq(db.idx_checks, 10);
	ck_assert_uint_eq(cat_service_index(&db, "web", true), 10);
	ck_assert_uint_eq(cat_service_index(&db, "DB", false), 11);
	/* A status left empty is critical (api.HealthCritical). */
	ck_assert_int_eq(reg(12, mk_node("n1", "10.0.0.1", "", NULL), NULL,
	    mk_chk("disk", "", ""), NULL), 0);
	ck_assert_str_eq(cat_check_get(n, "disk")->status, "critical");
}
END_TEST

START_TEST(same_registration_changes_nothing)
{
	static const char *const tags[] = { "v1", "Primary", NULL };
	two_nodes();
	ck_assert_int_eq(reg(20, mk_node("N1", "10.0.0.1", "", NULL),
	    mk_svc("web1", "web", tags, 80), mk_chk("web-alive", "passing",
	    "web1"), NULL), 0);
	ck_assert_int_eq(nchg, 0);
	ck_assert_uint_eq(cat_node_get(&db, "n1")->modify_index, 10);
	ck_assert_uint_eq(cat_service_index(&db, "web", true), 10);
	ck_assert_uint_eq(db.idx_checks, 10);
	/* A nil map and an empty one differ, as reflect.DeepEqual says. */
	static const char *const none[] = { NULL };
	ck_assert_int_eq(reg(21, mk_node("n1", "10.0.0.1", "", none), NULL,
	    NULL, NULL), 0);
	ck_assert_uint_eq(cat_node_get(&db, "n1")->modify_index, 21);
}
END_TEST

/* What wakes a blocking query on web, and what must not. */
START_TEST(changes_reach_only_the_right_watchers)
{
	two_nodes();
	/* A new db instance: db and the tables move, web does not. */
	ck_assert_int_eq(reg(30, mk_node("n3", "10.0.0.3", "", NULL),
	    mk_svc("db2", "db", NULL, 5432), NULL, NULL), 0);
	ck_assert(told("s:db") && told("S") && told("N") && told("n:n3"));
	ck_assert(!told("s:web") && !told("n:n1"));
	ck_assert_uint_eq(cat_service_index(&db, "web", true), 10);
	ck_assert_uint_eq(cat_service_index(&db, "db", true), 30);
	/* A node-level check on web's node is web's health too. */
	ck_assert_int_eq(reg(31, mk_node("n1", "10.0.0.1", "", NULL), NULL,
	    mk_chk("mem", "warning", ""), NULL), 0);
	ck_assert(told("s:web") && told("n:n1") && told("C"));
	ck_assert(!told("s:db") && !told("N") && !told("S"));
	ck_assert_uint_eq(cat_service_index(&db, "web", true), 31);
	ck_assert_uint_eq(cat_service_index(&db, "db", true), 30);
	/* So is a change of the node itself (its address). */
	ck_assert_int_eq(reg(32, mk_node("n1", "10.0.0.9", "", NULL), NULL,
	    NULL, NULL), 0);
	ck_assert(told("s:web") && told("N") && !told("s:db"));
	ck_assert_uint_eq(cat_service_index(&db, "web", false), 32);
	/* The watch keys the reads park on. */
	char *w;
	struct proto_cat_read_req q = { .what = CAT_Q_HEALTH_SERVICE };
	ck_assert_uint_eq(cat_query_index(&db, &q, "WEB", &w), 32);
	ck_assert_str_eq(w, "s:web");
	free(w);
	q.what = CAT_Q_NODE_SERVICES;
	cat_query_index(&db, &q, "N1", &w);
	ck_assert_str_eq(w, "n:n1");
	free(w);
	q.what = CAT_Q_HEALTH_STATE;
	cat_query_index(&db, &q, "critical", &w);
	ck_assert_str_eq(w, "C");
	free(w);
}
END_TEST

START_TEST(deregister_cascades)
{
	two_nodes();
	ck_assert_int_eq(reg(12, mk_node("n1", "10.0.0.1", "", NULL),
	    mk_svc("web2", "web", NULL, 81), mk_chk("web2-alive", "passing",
	    "web2"), NULL), 0);
	/* A service goes with its checks; the node's own stay. */
	dereg(13, "N1", "web1", "ignored: service wins");
	struct cat_node *n = cat_node_get(&db, "n1");
	ck_assert_ptr_null(cat_service_get(n, "web1"));
	ck_assert_ptr_null(cat_check_get(n, "web-alive"));
	ck_assert_ptr_nonnull(cat_check_get(n, "serfHealth"));
	ck_assert_ptr_nonnull(cat_check_get(n, "web2-alive"));
	ck_assert(told("s:web") && told("C") && told("S"));
	ck_assert_uint_eq(cat_service_index(&db, "web", true), 13);
	ck_assert_uint_eq(cat_name_get(&db, "web")->ninst, 1);
	/* A check alone. */
	dereg(14, "n1", "", "serfHealth");
	ck_assert_ptr_null(cat_check_get(n, "serfHealth"));
	ck_assert(told("s:web"));	/* node-level: web's health changed */
	/* Absent things are no-ops. */
	dereg(15, "n1", "nope", "");
	dereg(15, "ghost", "", "");
	ck_assert_int_eq(nchg, 0);
	/* The node, with everything on it: web is extinct. */
	dereg(16, "n1", "", "");
	ck_assert_ptr_null(cat_node_get(&db, "n1"));
	ck_assert_ptr_null(cat_name_get(&db, "web"));
	ck_assert_ptr_null(cat_instance_first(&db, "web"));
	ck_assert_uint_eq(db.services_gone, 16);
	ck_assert_uint_eq(db.nodes_gone, 16);
	ck_assert_uint_eq(cat_service_index(&db, "web", true), 16);
	ck_assert(told("s:web") && told("n:n1") && told("N"));
	/* n2 is untouched. */
	ck_assert_ptr_nonnull(cat_service_get(cat_node_get(&db, "n2"), "db1"));
	ck_assert_uint_eq(cat_service_index(&db, "db", true), 11);
}
END_TEST

START_TEST(refusals_leave_no_trace)
{
	ck_assert_int_eq(reg(5, mk_node("", "1.2.3.4", "", NULL), NULL, NULL,
	    NULL), -EINVAL);
	ck_assert_str_eq(err, "Must provide node");
	ck_assert_int_eq(reg(5, mk_node("a", "", "", NULL), NULL, NULL, NULL),
	    -EINVAL);
	ck_assert_str_eq(err, "Must provide address if SkipNodeUpdate is not set");
	ck_assert_int_eq(reg(5, mk_node("a", "1.2.3.4", "nope", NULL), NULL,
	    NULL, NULL), -EINVAL);
	ck_assert_str_eq(err, "Bad node ID: uuid string is wrong length");
	ck_assert_int_eq(reg(5, mk_node("a", "1.2.3.4",
	    "40e4a748-2192-161a-0510-9bf59fe950bg", NULL), NULL, NULL, NULL),
	    -EINVAL);
	ck_assert_str_eq(err, "Bad node ID: encoding/hex: invalid byte: U+0067 'g'");
	ck_assert_int_eq(reg(5, mk_node("a", "1.2.3.4", "", NULL),
	    mk_svc("x", "", NULL, 0), NULL, NULL), -EINVAL);
	ck_assert_str_eq(err, "Must provide service name with ID");
	struct cat_service *s = mk_svc("", "web", NULL, 0);
	free(s->address);
	s->address = strdup("0.0.0.0");
	ck_assert_int_eq(reg(5, mk_node("a", "1.2.3.4", "", NULL), s, NULL,
	    NULL), -EINVAL);
	ck_assert_str_eq(err, "Invalid service address");
	struct cat_check *c = mk_chk("c", "passing", "");
	free(c->node_name);
	c->node_name = strdup("other");
	ck_assert_int_eq(reg(5, mk_node("a", "1.2.3.4", "", NULL), NULL, c,
	    NULL), -EINVAL);
	ck_assert_str_eq(err, "check node \"other\" does not match node \"a\"");
	/* A check for a service that is not there: nothing at all is
	 * written, not even the node (Consul's transaction aborts). */
	ck_assert_int_eq(reg(5, mk_node("a", "1.2.3.4", "", NULL),
	    mk_svc("", "web", NULL, 80), mk_chk("c", "passing", "nope"), NULL),
	    -EINVAL);
	ck_assert_str_eq(err, "failed inserting check on node \"a\": Missing "
	    "service registration");
	ck_assert_ptr_null(cat_node_get(&db, "a"));
	ck_assert_ptr_null(cat_name_get(&db, "web"));
	ck_assert_uint_eq(db.idx_nodes, 0);
	ck_assert_int_eq(nchg, 0);
	/* A service ID defaults to the name; its check finds it. */
	ck_assert_int_eq(reg(6, mk_node("a", "1.2.3.4", "", NULL),
	    mk_svc("", "web", NULL, 80), mk_chk("c", "passing", "WEB"), NULL), 0);
	ck_assert_ptr_nonnull(cat_service_get(cat_node_get(&db, "a"), "web"));
	/* Bad service meta, and the mesh kinds muster does not keep. */
	s = mk_svc("", "api", NULL, 80);
	free(s->meta);
	s->meta = calloc(1, sizeof(*s->meta));
	s->meta[0].key = strdup("consul-x");
	s->meta[0].val = strdup("1");
	s->nmeta = 1;
	ck_assert_int_eq(reg(7, mk_node("a", "1.2.3.4", "", NULL), s, NULL,
	    NULL), -EINVAL);
	ck_assert_str_eq(err, "failed inserting service: Invalid Service Meta "
	    "for node a and serviceID api: Couldn't load metadata pair "
	    "('consul-x', '1'): Key prefix 'consul-' is reserved for internal use");
	s = mk_svc("", "proxy", NULL, 80);
	free(s->kind);
	s->kind = strdup("connect-proxy");
	ck_assert_int_eq(reg(7, mk_node("a", "1.2.3.4", "", NULL), s, NULL,
	    NULL), -EINVAL);
}
END_TEST

START_TEST(node_ids_and_renames)
{
	static const char *const id = "40e4a748-2192-161a-0510-9bf59fe950b5";
	ck_assert_int_eq(reg(5, mk_node("old", "10.0.0.1", id, NULL),
	    mk_svc("", "web", NULL, 80), mk_chk("serfHealth", "passing", ""),
	    NULL), 0);
	/* Another node may not take the name of a live node with an ID. */
	ck_assert_int_eq(reg(6, mk_node("old", "10.0.0.2",
	    "11111111-2222-3333-4444-555555555555", NULL), NULL, NULL, NULL),
	    -EINVAL);
	ck_assert_str_eq(err, "failed inserting node: Error while renaming "
	    "Node ID: \"11111111-2222-3333-4444-555555555555\": Node name old "
	    "is reserved by node 40e4a748-2192-161a-0510-9bf59fe950b5 with name "
	    "old (10.0.0.1)");
	/* The same ID under a new name renames the node: the old name goes
	 * with its services and checks, the creation index stays. */
	ck_assert_int_eq(reg(7, mk_node("new", "10.0.0.1", id, NULL), NULL,
	    NULL, NULL), 0);
	ck_assert_ptr_null(cat_node_get(&db, "old"));
	struct cat_node *n = cat_node_get(&db, "new");
	ck_assert_ptr_nonnull(n);
	ck_assert_uint_eq(n->create_index, 5);
	ck_assert_uint_eq(n->modify_index, 7);
	ck_assert_ptr_null(cat_name_get(&db, "web"));
	/* Lookups by ID prefix (at least 2 digits, whole bytes). */
	ck_assert_ptr_eq(cat_node_find(&db, "40e4a7"), n);
	ck_assert_ptr_eq(cat_node_find(&db, "40E4A"), n);
	ck_assert_ptr_null(cat_node_find(&db, "4"));
	ck_assert_ptr_null(cat_node_find(&db, "ff"));
	/* A node without the serf check may be taken over (external). */
	ck_assert_int_eq(reg(8, mk_node("new", "10.0.0.5",
	    "11111111-2222-3333-4444-555555555555", NULL), NULL, NULL, NULL), 0);
	ck_assert_str_eq(cat_node_get(&db, "new")->id,
	    "11111111-2222-3333-4444-555555555555");
	ck_assert_ptr_null(cat_node_find(&db, "40e4"));
}
END_TEST

START_TEST(reads_order_and_filters)
{
	static const char *const t2[] = { "v2", NULL };
	static const char *const meta_a[] = { "rack", "a", NULL };
	two_nodes();
	ck_assert_int_eq(reg(12, mk_node("A0", "10.0.0.5", "", meta_a),
	    mk_svc("web0", "Web", t2, 80), mk_chk("x", "critical", "web0"),
	    NULL), 0);
	ck_assert_int_eq(reg(13, mk_node("n1", "10.0.0.1", "", NULL),
	    mk_svc("web3", "web", NULL, 83), NULL, NULL), 0);
	/* Nodes by name, case-insensitively. */
	ck_assert_int_eq(query(CAT_Q_NODES, "", NULL, NULL, false), 3);
	ck_assert_str_eq(item(0), "A0");
	ck_assert_str_eq(item(1), "n1");
	static const char *const rack[] = { "rack", "a", NULL };
	ck_assert_int_eq(query(CAT_Q_NODES, "", NULL, rack, false), 1);
	/* Instances by (name, node, ID); "Web" and "web" are one service. */
	ck_assert_int_eq(query(CAT_Q_SERVICE_NODES, "WEB", NULL, NULL, false),
	    3);
	ck_assert_str_eq(item(0), "A0/web0+0");
	ck_assert_str_eq(item(1), "n1/web1+0");
	ck_assert_str_eq(item(2), "n1/web3+0");
	ck_assert_uint_eq(res.index, 13);
	static const char *const primary[] = { "primary", NULL };
	ck_assert_int_eq(query(CAT_Q_SERVICE_NODES, "web", primary, NULL,
	    false), 1);
	ck_assert_str_eq(item(0), "n1/web1+0");
	/* Health: node checks first, then the instance's; ?passing. */
	ck_assert_int_eq(query(CAT_Q_HEALTH_SERVICE, "web", NULL, NULL, false),
	    3);
	ck_assert_str_eq(item(1), "n1/web1+2");	/* serfHealth + web-alive */
	ck_assert_str_eq(item(2), "n1/web3+1");	/* serfHealth */
	ck_assert_int_eq(query(CAT_Q_HEALTH_SERVICE, "web", NULL, NULL, true),
	    2);
	ck_assert_str_eq(item(0), "n1/web1+2");
	/* Services by exact name, tags merged and sorted. */
	ck_assert_int_eq(query(CAT_Q_SERVICES, "", NULL, NULL, false), 3);
	ck_assert_str_eq(item(0), "db[]");
	ck_assert_str_eq(item(1), "Web[v2]");
	ck_assert_str_eq(item(2), "web[Primary,v1]");
	/* Checks of a service, of a node, in a state. */
	ck_assert_int_eq(query(CAT_Q_HEALTH_CHECKS, "web", NULL, NULL, false),
	    2);
	ck_assert_str_eq(item(0), "A0/x");
	ck_assert_str_eq(item(1), "n1/web-alive");
	ck_assert_int_eq(query(CAT_Q_HEALTH_NODE, "N1", NULL, NULL, false), 2);
	ck_assert_int_eq(query(CAT_Q_HEALTH_STATE, "critical", NULL, NULL,
	    false), 1);
	ck_assert_int_eq(query(CAT_Q_HEALTH_STATE, "any", NULL, NULL, false), 3);
	/* A node's services; a missing node. */
	ck_assert_int_eq(query(CAT_Q_NODE_SERVICES, "n1", NULL, NULL, false), 2);
	ck_assert(res.found);
	ck_assert_int_eq(query(CAT_Q_NODE_SERVICES, "nope", NULL, NULL, false),
	    0);
	ck_assert(!res.found);
	ck_assert_uint_eq(res.index, 1);	/* never 0 */
}
END_TEST

/* One service ID changing its name: the old name goes (both wake). */
START_TEST(service_renamed_in_place)
{
	two_nodes();
	ck_assert_int_eq(reg(20, mk_node("n1", "10.0.0.1", "", NULL),
	    mk_svc("web1", "api", NULL, 80), NULL, NULL), 0);
	ck_assert(told("s:web") && told("s:api"));
	ck_assert_ptr_null(cat_name_get(&db, "web"));
	ck_assert_uint_eq(db.services_gone, 20);
	struct cat_service *s = cat_service_get(cat_node_get(&db, "n1"), "web1");
	ck_assert_str_eq(s->name, "api");
	ck_assert_uint_eq(s->create_index, 10);
	ck_assert_uint_eq(s->modify_index, 20);
	ck_assert_ptr_eq(cat_instance_first(&db, "api"), s);
	ck_assert_ptr_null(cat_instance_first(&db, "web"));
	/* Its check follows on its next write (Consul copies the name in). */
	ck_assert_int_eq(reg(21, mk_node("n1", "10.0.0.1", "", NULL), NULL,
	    mk_chk("web-alive", "critical", "web1"), NULL), 0);
	ck_assert_str_eq(cat_check_get(cat_node_get(&db, "n1"),
	    "web-alive")->service_name, "api");
	ck_assert_uint_eq(cat_service_index(&db, "api", true), 21);
}
END_TEST

struct records {
	struct buf b;
	int n;
};

static int
keep_record(void *arg, uint8_t kind, const struct buf *rec)
{
	struct records *r = arg;
	uint8_t hdr[5] = { kind };
	proto_wle32(hdr + 1, (uint32_t)rec->len);
	buf_add(&r->b, hdr, 5);
	buf_add(&r->b, rec->data, rec->len);
	r->n++;
	return 0;
}

static void
dump(const struct cat_db *d, struct buf *out)
{
	struct records r = { .n = 0 };
	buf_init(&r.b);
	ck_assert_int_eq(cat_snapshot_write(d, keep_record, &r), 0);
	*out = r.b;
}

START_TEST(snapshot_round_trip)
{
	static const char *const meta[] = { "k", "v", NULL };
	two_nodes();
	ck_assert_int_eq(reg(12, mk_node("n3", "10.0.0.3", "", meta),
	    mk_svc("api1", "api", NULL, 9), mk_chk("c", "warning", "api1"),
	    NULL), 0);
	dereg(13, "n2", "", "");
	struct buf a, b;
	dump(&db, &a);
	struct cat_db copy;
	cat_db_init(&copy);
	const uint8_t *p = a.data;
	size_t left = a.len;
	while (left) {
		uint32_t len = proto_le32(p + 1);
		ck_assert_int_eq(cat_snapshot_record(&copy, p[0], p + 5, len), 0);
		p += 5 + len;
		left -= 5 + len;
	}
	/* The same rows and indexes: the same snapshot again. */
	dump(&copy, &b);
	ck_assert_uint_eq(a.len, b.len);
	ck_assert(memcmp(a.data, b.data, a.len) == 0);
	ck_assert_uint_eq(copy.services_gone, 13);
	ck_assert_uint_eq(cat_service_index(&copy, "web", true), 10);
	ck_assert_uint_eq(cat_node_get(&copy, "n3")->index, 12);
	ck_assert_str_eq(cat_check_get(cat_node_get(&copy, "n3"), "c")->status,
	    "warning");
	/* Garbage is refused. */
	ck_assert_int_eq(cat_snapshot_record(&copy, CAT_SNAP_SERVICE,
	    (const uint8_t *)"xx", 2), -EBADMSG);
	cat_db_free(&copy);
	buf_free(&a);
	buf_free(&b);
}
END_TEST

START_TEST(register_message_round_trip)
{
	static const char *const tags[] = { "a", NULL };
	struct cat_reg r = { .node = mk_node("n", "1.1.1.1", "", NULL),
		.skip_node_update = true, .service = mk_svc("", "s", tags, 1) };
	r.checks = calloc(2, sizeof(*r.checks));
	r.checks[r.nchecks++] = mk_chk("", "passing", "");
	free(r.checks[0]->name);
	r.checks[0]->name = strdup("named");
	ck_assert_int_eq(cat_reg_check(&r, err, sizeof(err)), 0);
	struct buf b;
	buf_init(&b);
	cat_enc_register(&b, &r);
	cat_reg_free(&r);
	ck_assert_int_eq(cat_dec_register(b.data, b.len, &r), 0);
	ck_assert(r.skip_node_update);
	ck_assert_str_eq(r.service->id, "s");		/* defaulted */
	ck_assert_str_eq(r.checks[0]->check_id, "named");	/* defaulted */
	ck_assert_str_eq(r.checks[0]->node_name, "n");	/* defaulted */
	ck_assert_uint_eq(r.service->ntags, 1);
	cat_reg_free(&r);
	/* Truncated or with a NUL inside a name: refused. */
	ck_assert_int_eq(cat_dec_register(b.data, b.len - 1, &r), -EBADMSG);
	buf_free(&b);
	struct proto_cat_node m = { .node = { "a\0b", 3 } };
	buf_init(&b);
	proto_enc_cat_node(&b, &m);
	ck_assert_ptr_null(cat_dec_node(b.data, b.len));
	buf_free(&b);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("catalog");
	TCase *tc = tcase_create("catalog");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, register_sets_rows_and_indexes);
	tcase_add_test(tc, same_registration_changes_nothing);
	tcase_add_test(tc, changes_reach_only_the_right_watchers);
	tcase_add_test(tc, deregister_cascades);
	tcase_add_test(tc, refusals_leave_no_trace);
	tcase_add_test(tc, node_ids_and_renames);
	tcase_add_test(tc, reads_order_and_filters);
	tcase_add_test(tc, service_renamed_in_place);
	tcase_add_test(tc, snapshot_round_trip);
	tcase_add_test(tc, register_message_round_trip);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
