/*
 * lib/duration against Go's own time package test tables, lib/base64
 * against RFC 4648's vectors, lib/json's lookups and writer against what
 * Go's encoding/json produces.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/base64.h"
#include "lib/duration.h"
#include "lib/json.h"
#include "tests/unit/config/suites.h"

#define MS DURATION_MS
#define S DURATION_S
#define M DURATION_M
#define H DURATION_H

static const struct {
	const char *in;
	int64_t want;
} parse_ok[] = {
	{ "0", 0 }, { "5s", 5 * S }, { "30s", 30 * S }, { "1478s", 1478 * S },
	{ "-5s", -5 * S }, { "+5s", 5 * S }, { "-0", 0 }, { "+0", 0 },
	{ "5.0s", 5 * S }, { "5.6s", 5 * S + 600 * MS }, { "5.s", 5 * S },
	{ ".5s", 500 * MS }, { "1.0s", S }, { "1.00s", S },
	{ "1.004s", S + 4 * MS }, { "1.0040s", S + 4 * MS },
	{ "100.00100s", 100 * S + 1 * MS }, { "10ns", 10 }, { "11us", 11000 },
	{ "12\xc2\xb5s", 12000 }, { "12\xce\xbcs", 12000 }, { "13ms", 13 * MS },
	{ "14s", 14 * S }, { "15m", 15 * M }, { "16h", 16 * H },
	{ "3h30m", 3 * H + 30 * M }, { "10.5s4m", 4 * M + 10 * S + 500 * MS },
	{ "-2m3.4s", -(2 * M + 3 * S + 400 * MS) },
	{ "1h2m3s4ms5us6ns", H + 2 * M + 3 * S + 4 * MS + 5000 + 6 },
	{ "39h9m14.425s", 39 * H + 9 * M + 14 * S + 425 * MS },
	{ "52763797000ns", 52763797000 },
	{ "0.3333333333333333333h", 20 * M },
	{ "9007199254740993ns", (1ll << 53) + 1 },
	{ "9223372036854775807ns", INT64_MAX },
	{ "9223372036854775.807us", INT64_MAX },
	{ "9223372036s854ms775us807ns", INT64_MAX },
	{ "-9223372036854775808ns", INT64_MIN },
	{ "-9223372036854775.808us", INT64_MIN },
	{ "0.100000000000000000000h", 6 * M },
	{ "0.830103483285477580700h", 49 * M + 48 * S + 372539827 },
	{ "87600h", 87600 * H }, { "72h", 72 * H },
};

static const struct {
	const char *in;
	int err;
} parse_bad[] = {
	{ "", -EINVAL }, { "3", -EINVAL }, { "-", -EINVAL }, { "s", -EINVAL },
	{ ".", -EINVAL }, { "-.", -EINVAL }, { ".s", -EINVAL },
	{ "+.s", -EINVAL }, { "1d", -EINVAL }, { "\x85\x85", -EINVAL },
	{ "\xff" "ff", -EINVAL }, { "hello \xff" "ff world", -EINVAL },
	{ "5 s", -EINVAL }, { "1.5", -EINVAL }, { "1h 30m", -EINVAL },
	{ "9223372036854775808ns", -ERANGE },
	{ "9223372036854775.808us", -ERANGE },
	{ "9223372036854ms775us808ns", -ERANGE },
	{ "-9223372036854775809ns", -ERANGE },
	{ "3000000h", -ERANGE },
};

START_TEST(duration_parse_matches_go)
{
	for (size_t i = 0; i < nitems(parse_ok); i++) {
		int64_t v = 12345;
		int r = duration_parse(parse_ok[i].in, strlen(parse_ok[i].in), &v);
		ck_assert_msg(r == 0, "%s: %d", parse_ok[i].in, r);
		ck_assert_msg(v == parse_ok[i].want, "%s: got %lld want %lld",
		    parse_ok[i].in, (long long)v, (long long)parse_ok[i].want);
	}
	for (size_t i = 0; i < nitems(parse_bad); i++) {
		int64_t v;
		int r = duration_parse(parse_bad[i].in, strlen(parse_bad[i].in), &v);
		ck_assert_msg(r == parse_bad[i].err, "%s: got %d want %d",
		    parse_bad[i].in, r, parse_bad[i].err);
	}
	/* The length bounds the input: "5s" inside "5sx". */
	int64_t v;
	ck_assert_int_eq(duration_parse("5sx", 2, &v), 0);
	ck_assert_int_eq(v, 5 * S);
}
END_TEST

static const struct {
	int64_t ns;
	const char *want;
} fmt_table[] = {
	{ 0, "0s" }, { 1, "1ns" }, { 1100, "1.1\xc2\xb5s" },
	{ 2200 * 1000, "2.2ms" }, { 3300 * MS, "3.3s" },
	{ 4 * M + 5 * S, "4m5s" }, { 4 * M + 5001 * MS, "4m5.001s" },
	{ 5 * H + 6 * M + 7001 * MS, "5h6m7.001s" },
	{ 8 * M + 1, "8m0.000000001s" },
	{ INT64_MAX, "2562047h47m16.854775807s" },
	{ INT64_MIN, "-2562047h47m16.854775808s" },
	{ 72 * H, "72h0m0s" }, { 90 * S, "1m30s" }, { 300 * MS, "300ms" },
	{ 1500 * MS, "1.5s" }, { 5 * M, "5m0s" }, { 87600 * H, "87600h0m0s" },
	{ -1500 * MS, "-1.5s" }, { 999, "999ns" }, { 1000, "1\xc2\xb5s" },
};

START_TEST(duration_format_matches_go)
{
	char out[DURATION_STRLEN];
	for (size_t i = 0; i < nitems(fmt_table); i++) {
		duration_format(fmt_table[i].ns, out, sizeof(out));
		ck_assert_str_eq(out, fmt_table[i].want);
		/* What we print reads back to the same value. */
		int64_t back;
		ck_assert_int_eq(duration_parse(out, strlen(out), &back), 0);
		ck_assert_int_eq(back, fmt_table[i].ns);
	}
	char small[4];
	duration_format(72 * H, small, sizeof(small));
	ck_assert_str_eq(small, "72h");
}
END_TEST

START_TEST(base64_rfc4648_vectors)
{
	static const char *const in[] = { "", "f", "fo", "foo", "foob",
		"fooba", "foobar" };
	static const char *const out[] = { "", "Zg==", "Zm8=", "Zm9v",
		"Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
	for (size_t i = 0; i < nitems(in); i++) {
		char *e = base64_encode(in[i], strlen(in[i]));
		ck_assert_str_eq(e, out[i]);
		ck_assert_uint_eq(strlen(e), base64_encoded_len(strlen(in[i])));
		free(e);
		struct buf b;
		buf_init(&b);
		ck_assert_int_eq(base64_decode(out[i], strlen(out[i]), &b), 0);
		ck_assert_uint_eq(b.len, strlen(in[i]));
		ck_assert(memcmp(b.data ? (char *)b.data : "", in[i], b.len) == 0);
		buf_free(&b);
	}
}
END_TEST

START_TEST(base64_binary_round_trip_and_rejects)
{
	unsigned char all[256];
	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	for (size_t n = 0; n <= sizeof(all); n += 17) {
		char *e = base64_encode(all, n);
		struct buf b;
		buf_init(&b);
		ck_assert_int_eq(base64_decode(e, strlen(e), &b), 0);
		ck_assert_uint_eq(b.len, n);
		ck_assert(n == 0 || memcmp(b.data, all, n) == 0);
		buf_free(&b);
		free(e);
	}
	static const char *const bad[] = { "Zg=", "Zg", "Z===", "Zm9v!",
		"Zm9vYg==Zm9v", "Zm=v", "-_-_", "Zm9v====", "=Zm9", "Zm 9v" };
	struct buf b;
	buf_init(&b);
	buf_addstr(&b, "keep");
	for (size_t i = 0; i < nitems(bad); i++) {
		ck_assert_msg(base64_decode(bad[i], strlen(bad[i]), &b) == -EINVAL,
		    "%s accepted", bad[i]);
		ck_assert_str_eq((char *)b.data, "keep");
	}
	/* Go's decoder skips CR and LF. */
	ck_assert_int_eq(base64_decode("Zm9v\r\nYmFy\n", 11, &b), 0);
	ck_assert_str_eq((char *)b.data, "keepfoobar");
	buf_free(&b);
}
END_TEST

START_TEST(json_lookup_like_go)
{
	const char *doc = "{\"ID\": 1, \"id\": 2, \"Name\": \"a\", "
	    "\"NAME\": \"b\", \"deregister_critical_service_after\": \"1m\", "
	    "\"x\": null, \"t\": true, \"f\": 1.5}";
	yajl_val v = json_parse(doc, strlen(doc), NULL);
	ck_assert_ptr_nonnull(v);
	int64_t i;
	/* An exact match wins over case-insensitive ones. */
	ck_assert(json_as_int(json_get(v, "id"), &i));
	ck_assert_int_eq(i, 2);
	ck_assert(json_as_int(json_get(v, "ID"), &i));
	ck_assert_int_eq(i, 1);
	/* Otherwise the last case-insensitive match, as Go decodes. */
	ck_assert(json_as_int(json_get(v, "Id"), &i));
	ck_assert_int_eq(i, 2);
	const char *s;
	ck_assert(json_as_str(json_get(v, "name"), &s));
	ck_assert_str_eq(s, "b");
	ck_assert_ptr_null(json_get(v, "DeregisterCriticalServiceAfter"));
	ck_assert(json_as_str(json_get_loose(v,
	    "DeregisterCriticalServiceAfter"), &s));
	ck_assert_str_eq(s, "1m");
	ck_assert(json_key_eq_loose("node_name", "NodeName"));
	ck_assert(!json_key_eq_loose("node_name", "NodeNames"));
	ck_assert(!json_key_eq("node_name", "NodeName"));
	ck_assert_str_eq(json_type_name(json_get(v, "x")), "null");
	ck_assert_str_eq(json_type_name(json_get(v, "t")), "boolean");
	ck_assert_str_eq(json_type_name(json_get(v, "f")), "number");
	ck_assert_str_eq(json_type_name(v), "object");
	ck_assert(!json_as_int(json_get(v, "f"), &i));
	bool b;
	ck_assert(json_as_bool(json_get(v, "t"), &b) && b);
	ck_assert_ptr_null(json_get(v, "missing"));
	ck_assert_ptr_null(json_get(json_get(v, "t"), "x"));
	yajl_tree_free(v);
}
END_TEST

START_TEST(json_parse_errors_have_a_place)
{
	struct buf err;
	buf_init(&err);
	const char *doc = "{\n  \"a\": 1,\n  \"b\": tru\n}";
	ck_assert_ptr_null(json_parse(doc, strlen(doc), &err));
	ck_assert_msg(strstr((char *)err.data, "line 3") != NULL, "%s",
	    (char *)err.data);
	ck_assert_ptr_null(strchr((char *)err.data, '\n'));
	buf_reset(&err);
	/* Not NUL-terminated: only len bytes are read. */
	yajl_val v = json_parse("[1]]", 3, &err);
	ck_assert_ptr_nonnull(v);
	yajl_tree_free(v);
	char deep[300];
	memset(deep, '[', 200);
	ck_assert_ptr_null(json_parse(deep, 200, &err));
	ck_assert_ptr_nonnull(strstr((char *)err.data, "nested deeper"));
	buf_free(&err);
}
END_TEST

static char *
write_sample(bool pretty)
{
	struct buf b;
	struct json_w w;
	buf_init(&b);
	json_w_init(&w, &b, pretty);
	json_w_obj_open(&w);
	json_w_key(&w, "Name");
	json_w_str(&w, "a\"b\\\x01\xff");
	json_w_key(&w, "Empty");
	json_w_obj_open(&w);
	json_w_obj_close(&w);
	json_w_key(&w, "List");
	json_w_arr_open(&w);
	json_w_int(&w, -3);
	json_w_uint(&w, 18446744073709551615ull);
	json_w_double(&w, 0.1);
	json_w_bool(&w, true);
	json_w_null(&w);
	json_w_arr_open(&w);
	json_w_arr_close(&w);
	json_w_arr_close(&w);
	json_w_obj_close(&w);
	ck_assert_int_eq(json_w_finish(&w), 0);
	return buf_steal(&b);
}

START_TEST(json_writer_compact_and_pretty)
{
	char *c = write_sample(false);
	ck_assert_str_eq(c, "{\"Name\":\"a\\\"b\\\\\\u0001\xef\xbf\xbd\","
	    "\"Empty\":{},\"List\":[-3,18446744073709551615,0.1,true,null,[]]}");
	free(c);
	/* json.MarshalIndent(v, "", "    ") plus Consul's trailing newline. */
	char *p = write_sample(true);
	ck_assert_str_eq(p, "{\n"
	    "    \"Name\": \"a\\\"b\\\\\\u0001\xef\xbf\xbd\",\n"
	    "    \"Empty\": {},\n"
	    "    \"List\": [\n"
	    "        -3,\n"
	    "        18446744073709551615,\n"
	    "        0.1,\n"
	    "        true,\n"
	    "        null,\n"
	    "        []\n"
	    "    ]\n"
	    "}\n");
	free(p);
	struct buf b;
	struct json_w w;
	buf_init(&b);
	json_w_init(&w, &b, true);
	json_w_arr_open(&w);
	json_w_arr_close(&w);
	ck_assert_int_eq(json_w_finish(&w), 0);
	ck_assert_str_eq((char *)b.data, "[]\n");
	buf_reset(&b);
	/* Misuse is reported, not silently written. */
	json_w_init(&w, &b, false);
	json_w_obj_open(&w);
	json_w_int(&w, 1);	/* a key must be a string */
	ck_assert_int_eq(json_w_finish(&w), -EINVAL);
	buf_free(&b);
}
END_TEST

START_TEST(json_tree_copies_verbatim)
{
	const char *doc = "{\"a\":[1.50,-2e3,{\"b\":null}],\"c\":\"\\u00e9\"}";
	yajl_val v = json_parse(doc, strlen(doc), NULL);
	struct buf b;
	struct json_w w;
	buf_init(&b);
	json_w_init(&w, &b, false);
	json_w_value(&w, v);
	ck_assert_int_eq(json_w_finish(&w), 0);
	ck_assert_str_eq((char *)b.data,
	    "{\"a\":[1.50,-2e3,{\"b\":null}],\"c\":\"\xc3\xa9\"}");
	buf_free(&b);
	yajl_tree_free(v);
}
END_TEST

START_TEST(json_doubles_like_go)
{
	static const struct {
		double v;
		const char *want;
	} t[] = {
		{ 0.1, "0.1" }, { 3.0, "3" }, { -0.5, "-0.5" }, { 0, "0" },
		{ 1e20, "100000000000000000000" }, { 1e21, "1e+21" },
		{ 1e-7, "1e-7" }, { 0.000001, "0.000001" },
		{ 123456789.123, "123456789.123" }, { 1.5e-10, "1.5e-10" },
		{ 5e-324, "5e-324" }, { 1.7976931348623157e308,
		  "1.7976931348623157e+308" }, { 2.5e-5, "0.000025" },
	};
	char out[32];
	for (size_t i = 0; i < nitems(t); i++) {
		json_format_double(t[i].v, out);
		ck_assert_str_eq(out, t[i].want);
	}
}
END_TEST

Suite *
lib_suite(void)
{
	Suite *s = suite_create("lib");
	TCase *tc = tcase_create("duration");
	tcase_add_test(tc, duration_parse_matches_go);
	tcase_add_test(tc, duration_format_matches_go);
	suite_add_tcase(s, tc);
	tc = tcase_create("base64");
	tcase_add_test(tc, base64_rfc4648_vectors);
	tcase_add_test(tc, base64_binary_round_trip_and_rejects);
	suite_add_tcase(s, tc);
	tc = tcase_create("json");
	tcase_add_test(tc, json_lookup_like_go);
	tcase_add_test(tc, json_parse_errors_have_a_place);
	tcase_add_test(tc, json_writer_compact_and_pretty);
	tcase_add_test(tc, json_tree_copies_verbatim);
	tcase_add_test(tc, json_doubles_like_go);
	suite_add_tcase(s, tc);
	return s;
}
