/*
 * Anti-entropy against a real catalog (the store's tables and queries,
 * in process): the fake store answers the sync's CAT_REGISTER,
 * CAT_DEREGISTER and CAT_READ_REQ from a cat_db when the test says so,
 * or refuses them as a store without a leader does.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/duration.h"
#include "tests/unit/checks/chktest.h"
#include "workers/store/catalog.h"
#include "workers/store/catalog_query.h"

static struct {
	struct cat_db db;
	uint64_t index;
	struct q {
		uint16_t type;
		struct buf msg;
		chk_store_cb *cb;
		void *arg;
		int64_t h;
	} q[256];
	size_t nq;
	int64_t next_h;
	const char *refuse;	/* answer every request with this error */
	unsigned writes, reads;
} F;

static int64_t
fake_request(struct chk_state *st, uint16_t type, const struct buf *msg,
    unsigned timeout_ms, chk_store_cb *cb, void *arg)
{
	ck_assert_uint_lt(F.nq, 256);
	struct q *q = &F.q[F.nq++];
	q->type = type;
	buf_init(&q->msg);
	buf_add(&q->msg, msg->data, msg->len);
	q->cb = cb;
	q->arg = arg;
	q->h = ++F.next_h;
	return q->h;
}

static void
fake_cancel(struct chk_state *st, int64_t h)
{
	for (size_t i = 0; i < F.nq; i++)
		if (F.q[i].h == h)
			F.q[i].cb = NULL;
}

static void
reply_result(struct q *q, int code, const char *msg)
{
	struct buf out;
	buf_init(&out);
	proto_enc_result_msg(&out, code, msg);
	q->cb(q->arg, PROTO_RESULT, out.data, out.len, 0);
	buf_free(&out);
}

static void
reply_write(struct q *q)
{
	struct buf out;
	struct proto_cat_write w = { .index = F.index };
	buf_init(&out);
	proto_enc_cat_write(&out, &w);
	q->cb(q->arg, PROTO_CAT_WRITE, out.data, out.len, 0);
	buf_free(&out);
}

static void
serve_read(struct q *q)
{
	struct proto_cat_read_req rq;
	struct cat_result r;
	struct buf out;
	ck_assert_int_eq(proto_dec_cat_read_req(q->msg.data, q->msg.len, &rq),
	    0);
	ck_assert_int_eq(cat_query(&F.db, &rq, &r), 0);
	struct proto_cat_read m = { .index = r.index, .known_leader = true,
		.found = r.found,
		.node = { (const char *)r.node.data, (uint32_t)r.node.len },
		.items = cat_list_strv(&r.items) };
	buf_init(&out);
	proto_enc_cat_read(&out, &m);
	F.reads++;
	q->cb(q->arg, PROTO_CAT_READ, out.data, out.len, 0);
	buf_free(&out);
	cat_result_free(&r);
}

static void
serve(struct q *q)
{
	char err[512];
	if (F.refuse) {
		reply_result(q, -ENOTCONN, F.refuse);
		return;
	}
	if (q->type == PROTO_CAT_READ_REQ) {
		serve_read(q);
		return;
	}
	F.writes++;
	if (q->type == PROTO_CAT_REGISTER) {
		struct cat_reg reg;
		ck_assert_int_eq(cat_dec_register(q->msg.data, q->msg.len, &reg),
		    0);
		if (cat_reg_check(&reg, err, sizeof(err)) < 0 ||
		    cat_register(&F.db, ++F.index, &reg, err, sizeof(err), NULL,
		    NULL) < 0) {
			cat_reg_free(&reg);
			reply_result(q, -EINVAL, err);
			return;
		}
		cat_reg_free(&reg);
	} else {
		struct proto_cat_deregister d;
		ck_assert_int_eq(proto_dec_cat_deregister(q->msg.data,
		    q->msg.len, &d), 0);
		char *node = proto_str_dup(d.node), *sid = proto_str_dup(
		    d.service_id), *cid = proto_str_dup(d.check_id);
		cat_deregister(&F.db, ++F.index, node, sid[0] ? sid : NULL,
		    cid[0] ? cid : NULL, NULL, NULL);
		free(node);
		free(sid);
		free(cid);
	}
	reply_write(q);
}

/* Answer everything queued, and what that queues, until quiet. */
static void
answer_all(void)
{
	while (F.nq > 0) {
		struct q q = F.q[0];
		memmove(&F.q[0], &F.q[1], (F.nq - 1) * sizeof(F.q[0]));
		F.nq--;
		if (q.cb)
			serve(&q);
		buf_free(&q.msg);
		ev_run(T.loop, EVRUN_NOWAIT);	/* kicks, coalesced */
	}
}

static const char *const meta[] = { "rack", "r1", NULL };

static struct buf err;

static void
ae_setup(void)
{
	memset(&F, 0, sizeof(F));
	buf_init(&err);
	cat_db_init(&F.db);
	chk_setup();
	T.cfg.node_id = "0e5a9a4c-1a33-4d4b-9a1f-6d6f0b5c0a11";
	T.cfg.datacenter = "dc1";
	T.cfg.advertise_addr = "10.0.0.5";
	T.cfg.advertise_addr_wan = "";
	T.cfg.node_meta = meta;
	T.tun.ae_interval = 300 * DURATION_MS;
	T.tun.ae_retry = 100 * DURATION_MS;
	T.tun.ae_server_up = 50 * DURATION_MS;
	T.store_request = fake_request;
	T.store_cancel = fake_cancel;
}

static void
ae_teardown(void)
{
	chk_teardown();
	for (size_t i = 0; i < F.nq; i++)
		buf_free(&F.q[i].msg);
	cat_db_free(&F.db);
	buf_free(&err);
}

static struct cat_node *
node1(void)
{
	return cat_node_get(&F.db, "node1");
}

static const char *
check_status(const char *id)
{
	struct cat_node *n = node1();
	struct cat_check *c = n ? cat_check_get(n, id) : NULL;
	return c ? c->status : NULL;
}

/* Local registrations reach the catalog with their checks, in one write
 * per service, after the node info. */
START_TEST(pushes_local_state)
{
	chk_ae_start(&T);
	answer_all();			/* the first full sync: node info */
	struct cat_node *n = node1();
	ck_assert_ptr_nonnull(n);
	ck_assert_str_eq(n->address, "10.0.0.5");
	ck_assert_str_eq(n->id, "0e5a9a4c-1a33-4d4b-9a1f-6d6f0b5c0a11");
	ck_assert_uint_eq(n->ntagged, 4);
	ck_assert_str_eq(n->tagged[0].key, "lan");
	ck_assert_str_eq(n->tagged[1].key, "lan_ipv4");
	ck_assert_str_eq(n->tagged[3].val, "10.0.0.5");
	ck_assert_uint_eq(n->nmeta, 2);
	ck_assert_str_eq(n->meta[0].key, "consul-network-segment");
	ck_assert_str_eq(n->meta[1].key, "rack");

	unsigned before = F.writes;
	ck_assert_int_eq(reg_service("{\"Name\":\"web\",\"Port\":80,"
	    "\"Checks\":[{\"TTL\":\"1h\"},{\"TTL\":\"1h\"}]}", &err), 0);
	ev_run(T.loop, EVRUN_NOWAIT);
	answer_all();
	ck_assert_uint_eq(F.writes, before + 1);	/* checks rode along */
	ck_assert_ptr_nonnull(cat_service_get(node1(), "web"));
	ck_assert_str_eq(check_status("service:web:1"), "critical");
	ck_assert_uint_eq(chk_sync_pending(&T), 0);

	/* A status change goes at once; deregistration too. */
	ck_assert_int_eq(chk_ttl_update(&T, "service:web:2", CHK_PASSING, "ok",
	    &err), 0);
	ev_run(T.loop, EVRUN_NOWAIT);
	answer_all();
	ck_assert_str_eq(check_status("service:web:2"), "passing");
	ck_assert_int_eq(chk_remove_service(&T, "web", true, &err), 0);
	ev_run(T.loop, EVRUN_NOWAIT);
	answer_all();
	ck_assert_ptr_null(cat_service_get(node1(), "web"));
	ck_assert_ptr_null(check_status("service:web:1"));
	ck_assert_uint_eq(chk_sync_pending(&T), 0);
}
END_TEST

static bool
reads_at_least(void *n)
{
	answer_all();
	return F.reads >= *(unsigned *)n;
}

/* A full sync restores what was removed behind the agent's back, removes
 * what it does not own (never serfHealth or the consul service), and
 * writes nothing when all is in sync. */
START_TEST(full_sync_repairs)
{
	char e[256];
	unsigned want;
	ck_assert_int_eq(reg_service("{\"Name\":\"web\",\"Port\":80,"
	    "\"Check\":{\"TTL\":\"1h\"}}", &err), 0);
	chk_ae_start(&T);
	answer_all();
	ck_assert_ptr_nonnull(cat_service_get(node1(), "web"));

	/* Steady state: a full sync reads and writes nothing. */
	unsigned w0 = F.writes;
	want = F.reads + 2;
	ck_assert(run_until(reads_at_least, &want, 2.0));
	answer_all();
	ck_assert_uint_eq(F.writes, w0);

	/* Behind its back. */
	cat_deregister(&F.db, ++F.index, "node1", "web", NULL, NULL, NULL);
	struct cat_reg reg;
	struct buf b;
	buf_init(&b);
	const char *foreign[] = { "ghost", "consul" };
	for (int i = 0; i < 2; i++) {
		struct proto_cat_node nd = { .node = PROTO_STR("node1"),
			.address = PROTO_STR("10.0.0.5") };
		struct proto_cat_service sv = { .id = proto_str_c(foreign[i]),
			.service = proto_str_c(foreign[i]) };
		struct proto_cat_check ck = { .check_id = PROTO_STR(
		    "serfHealth"), .name = PROTO_STR("Serf Health Status"),
			.status = PROTO_STR("passing"),
			.definition = PROTO_STR("{}") };
		struct buf nb, sb, cb, msg;
		buf_init(&nb); buf_init(&sb); buf_init(&cb); buf_init(&msg);
		proto_enc_cat_node(&nb, &nd);
		proto_enc_cat_service(&sb, &sv);
		proto_enc_cat_check(&cb, &ck);
		struct proto_str cv = { (const char *)cb.data,
			(uint32_t)cb.len };
		struct proto_cat_register m = { .node = { (const char *)nb.data,
			(uint32_t)nb.len }, .skip_node_update = true,
			.service = { (const char *)sb.data, (uint32_t)sb.len },
			.checks = { .n = 1, .strs = &cv } };
		proto_enc_cat_register(&msg, &m);
		ck_assert_int_eq(cat_dec_register(msg.data, msg.len, &reg), 0);
		ck_assert_int_eq(cat_reg_check(&reg, e, sizeof(e)), 0);
		ck_assert_int_eq(cat_register(&F.db, ++F.index, &reg, e,
		    sizeof(e), NULL, NULL), 0);
		cat_reg_free(&reg);
		buf_free(&nb); buf_free(&sb); buf_free(&cb); buf_free(&msg);
	}
	buf_free(&b);
	ck_assert_ptr_null(cat_service_get(node1(), "web"));
	want = F.reads + 2;
	ck_assert(run_until(reads_at_least, &want, 2.0));
	answer_all();
	ck_assert_ptr_nonnull(cat_service_get(node1(), "web"));
	ck_assert_str_eq(check_status("service:web"), "critical");
	ck_assert_ptr_null(cat_service_get(node1(), "ghost"));
	ck_assert_ptr_nonnull(cat_service_get(node1(), "consul"));
	ck_assert_str_eq(check_status("serfHealth"), "passing");
}
END_TEST

/* EnableTagOverride: tags changed in the catalog stay, and the agent's
 * service takes them; without it the agent's tags come back. */
START_TEST(tag_override)
{
	unsigned want;
	ck_assert_int_eq(reg_service("{\"Name\":\"a\",\"Tags\":[\"x\"],"
	    "\"EnableTagOverride\":true}", &err), 0);
	ck_assert_int_eq(reg_service("{\"Name\":\"b\",\"Tags\":[\"x\"]}", &err),
	    0);
	chk_ae_start(&T);
	answer_all();
	const char *ids[] = { "a", "b" };
	for (int i = 0; i < 2; i++) {
		struct cat_service *s = cat_service_get(node1(), ids[i]);
		ck_assert_ptr_nonnull(s);
		free(s->tags[0]);
		s->tags[0] = xstrdup("y");	/* an external writer */
	}
	want = F.reads + 2;
	ck_assert(run_until(reads_at_least, &want, 2.0));
	answer_all();
	ck_assert_str_eq(cat_service_get(node1(), "a")->tags[0], "y");
	ck_assert_str_eq(chk_service_find(&T, "a")->tags[0], "y");
	ck_assert_str_eq(cat_service_get(node1(), "b")->tags[0], "x");
}
END_TEST

/* No leader: the full sync fails, is logged and retried after ae_retry +
 * jitter; local changes wait; a server joining brings it forward. */
START_TEST(pauses_without_leader)
{
	struct chk_ae_stats s;
	F.refuse = "No cluster leader";
	chk_ae_start(&T);
	answer_all();
	chk_ae_stats(&T, &s);
	ck_assert(s.paused);
	ck_assert_uint_eq(s.full_failures, 1);
	ck_assert_int_eq(reg_service("{\"Name\":\"web\"}", &err), 0);
	ev_run(T.loop, EVRUN_NOWAIT);
	ck_assert_uint_eq(F.nq, 0);	/* nothing tried before the retry */
	unsigned want = 1;
	F.reads = 0;
	F.refuse = NULL;
	chk_ae_server_up(&T);		/* within ae_server_up (50 ms) */
	double t0 = ev_time();
	ck_assert(run_until(reads_at_least, &want, 2.0));
	ck_assert(ev_time() - t0 < 0.09);
	answer_all();
	chk_ae_stats(&T, &s);
	ck_assert(!s.paused);
	ck_assert_ptr_nonnull(cat_service_get(node1(), "web"));
}
END_TEST

/* A write answered after a newer local change does not mark that change
 * in sync: it is pushed by the next pass. */
START_TEST(newer_change_survives_race)
{
	chk_ae_start(&T);
	answer_all();
	ck_assert_int_eq(reg_check("{\"Name\":\"t\",\"TTL\":\"1h\"}", &err), 0);
	ev_run(T.loop, EVRUN_NOWAIT);
	ck_assert_uint_eq(F.nq, 1);	/* the registration, in flight */
	ck_assert_int_eq(chk_ttl_update(&T, "t", CHK_PASSING, "", &err), 0);
	answer_all();
	ck_assert_str_eq(check_status("t"), "passing");
	ck_assert_uint_eq(chk_sync_pending(&T), 0);
}
END_TEST

Suite *
ae_suite(void)
{
	Suite *s = suite_create("anti-entropy");
	TCase *tc = tcase_create("ae");
	tcase_add_checked_fixture(tc, ae_setup, ae_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, pushes_local_state);
	tcase_add_test(tc, full_sync_repairs);
	tcase_add_test(tc, tag_override);
	tcase_add_test(tc, pauses_without_leader);
	tcase_add_test(tc, newer_change_survives_race);
	suite_add_tcase(s, tc);
	return s;
}
