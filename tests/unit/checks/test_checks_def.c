/*
 * Definitions as Consul decodes and validates them (service_definition.go,
 * check_type.go, agent_endpoint.go), the StatusHandler thresholds, and the
 * output caps of each runner.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/duration.h"
#include "tests/unit/checks/chktest.h"

START_TEST(service_keys_any_case_and_snake)
{
	struct chk_service_def d;
	parse_service("{\"name\":\"web\",\"id\":\"web-1\",\"TAGS\":[\"a\",\"b\"],"
	    "\"port\":8080,\"address\":\"10.0.0.1\","
	    "\"enable_tag_override\":true,\"meta\":{\"z\":\"1\",\"a\":\"2\"},"
	    "\"weights\":{\"passing\":3,\"warning\":0},"
	    "\"tagged_addresses\":{\"wan\":{\"address\":\"1.2.3.4\",\"port\":9}},"
	    "\"check\":{\"http\":\"http://x/\",\"interval\":\"10s\","
	    "\"tls_skip_verify\":true,\"deregister_critical_service_after\":"
	    "\"90m\",\"header\":{\"X-A\":[\"1\",\"2\"]}},"
	    "\"checks\":[{\"ttl\":30000000000,\"status\":\"passing\"},"
	    "{\"args\":[\"/bin/true\"],\"interval\":\"1s\","
	    "\"failures_before_critical\":3,\"success_before_passing\":2}]}", &d);
	ck_assert_str_eq(d.svc->name, "web");
	ck_assert_str_eq(d.svc->id, "web-1");
	ck_assert_uint_eq(d.svc->ntags, 2);
	ck_assert_str_eq(d.svc->tags[1], "b");
	ck_assert_int_eq(d.svc->port, 8080);
	ck_assert(d.svc->enable_tag_override);
	ck_assert_uint_eq(d.svc->nmeta, 2);
	ck_assert_str_eq(d.svc->meta[0].key, "a");	/* sorted, as Go prints */
	ck_assert(d.svc->weights_set);
	ck_assert_int_eq(d.svc->w_passing, 3);
	ck_assert_uint_eq(d.svc->ntaddrs, 1);
	ck_assert_str_eq(d.svc->taddrs[0].address, "1.2.3.4");
	ck_assert_uint_eq(d.nchecks, 3);
	ck_assert_str_eq(d.checks[0].http, "http://x/");
	ck_assert_int_eq(d.checks[0].interval, 10 * DURATION_S);
	ck_assert(d.checks[0].tls_skip_verify);
	ck_assert_int_eq(d.checks[0].deregister_after, 90 * DURATION_M);
	ck_assert_uint_eq(d.checks[0].nheaders, 1);
	ck_assert_uint_eq(d.checks[0].headers[0].nvalues, 2);
	ck_assert_int_eq(d.checks[1].ttl, 30 * DURATION_S);	/* ns number */
	ck_assert_str_eq(d.checks[1].status, "passing");
	ck_assert_uint_eq(d.checks[2].nargs, 1);
	ck_assert_int_eq(d.checks[2].failures_before_critical, 3);
	ck_assert_int_eq(d.checks[2].success_before_passing, 2);
	ck_assert_int_eq(chk_def_kind(&d.checks[0]), CHK_K_HTTP);
	ck_assert_int_eq(chk_def_kind(&d.checks[1]), CHK_K_TTL);
	ck_assert_int_eq(chk_def_kind(&d.checks[2]), CHK_K_SCRIPT);
	chk_service_def_free(&d);
}
END_TEST

/* The Go client sends "Check": null, "Checks": null and ScriptArgs; an
 * empty "Check": {} is ignored (CheckType.Empty). */
START_TEST(service_nulls_and_empty_check)
{
	struct chk_service_def d;
	parse_service("{\"Name\":\"a\",\"Tags\":null,\"Check\":null,"
	    "\"Checks\":null,\"Meta\":null}", &d);
	ck_assert_uint_eq(d.nchecks, 0);
	ck_assert_uint_eq(d.svc->ntags, 0);
	chk_service_def_free(&d);
	parse_service("{\"Name\":\"a\",\"Check\":{},\"Checks\":[{\"ScriptArgs\":"
	    "[\"x\"],\"Interval\":\"1s\"}]}", &d);
	ck_assert_uint_eq(d.nchecks, 1);
	ck_assert_str_eq(d.checks[0].args[0], "x");
	chk_service_def_free(&d);
}
END_TEST

START_TEST(decode_errors_worded_like_go)
{
	ck_assert_str_eq(service_error("{\"Name\":\"a\",\"Port\":\"80\"}"),
	    "json: cannot unmarshal string into Go struct field "
	    "ServiceDefinition.Port of type int");
	ck_assert_str_eq(service_error("{\"Name\":\"a\",\"Port\":1.5}"),
	    "json: cannot unmarshal number 1.5 into Go struct field "
	    "ServiceDefinition.Port of type int");
	ck_assert_str_eq(service_error("{\"Name\":\"a\",\"Tags\":[1]}"),
	    "json: cannot unmarshal number into Go struct field "
	    "ServiceDefinition.Tags of type string");
	ck_assert_str_eq(service_error("[1]"), "json: cannot unmarshal array "
	    "into Go value of type structs.ServiceDefinition");
	ck_assert_str_eq(check_error("{\"Name\":\"c\",\"TTL\":\"5 parsecs\"}"),
	    "time: invalid duration \"5 parsecs\"");
	ck_assert_str_eq(check_error("{\"Name\":\"c\",\"TLSSkipVerify\":\"yes\","
	    "\"TTL\":\"1s\"}"), "json: cannot unmarshal string into Go struct "
	    "field CheckDefinition.TLSSkipVerify of type bool");
}
END_TEST

START_TEST(service_validation_messages)
{
	ck_assert_str_eq(service_error("{\"Port\":1}"), "Missing service name");
	ck_assert_str_eq(service_error("{\"Name\":\"a\",\"Address\":\"0.0.0.0\"}"),
	    "Invalid service address");
	ck_assert_str_eq(service_error("{\"Name\":\"a\",\"Weights\":"
	    "{\"Warning\":1}}"),
	    "Invalid Weights: Passing must be greater than 0");
	ck_assert_str_eq(service_error("{\"Name\":\"a\",\"Weights\":"
	    "{\"Passing\":1,\"Warning\":-1}}"),
	    "Invalid Weights: Warning must be greater or equal than 0");
	ck_assert_str_eq(service_error("{\"Name\":\"a\",\"Weights\":"
	    "{\"Passing\":70000}}"),
	    "Invalid Weights: DNS Weight must be between 0 and 65535");
	ck_assert_str_eq(service_error("{\"Name\":\"a\",\"Meta\":{\"b c\":\"1\"}}"),
	    "Invalid Service Meta: Couldn't load metadata pair ('b c', '1'): "
	    "Key contains invalid characters");
	ck_assert_str_eq(service_error("{\"Name\":\"a\",\"Meta\":"
	    "{\"consul-x\":\"1\"}}"), "Invalid Service Meta: Couldn't load "
	    "metadata pair ('consul-x', '1'): Key prefix 'consul-' is reserved "
	    "for internal use");
	ck_assert_str_eq(service_error("{\"Name\":\"a\",\"Check\":"
	    "{\"HTTP\":\"http://x\"}}"), "Invalid check: Interval must be > 0 "
	    "for Script, HTTP, H2PING, TCP, UDP or OSService checks");
	ck_assert_str_eq(service_error("{\"Name\":\"a\",\"Check\":"
	    "{\"TTL\":\"1s\",\"Status\":\"up\"}}"),
	    "Status for checks must 'passing', 'warning', 'critical'");
}
END_TEST

START_TEST(meta_limits)
{
	struct buf j;
	char big[600];
	buf_init(&j);
	buf_addstr(&j, "{\"Name\":\"a\",\"Meta\":{");
	for (int i = 0; i < 65; i++)
		buf_printf(&j, "%s\"k%d\":\"v\"", i ? "," : "", i);
	buf_addstr(&j, "}}");
	ck_assert_str_eq(service_error((char *)j.data), "Invalid Service Meta: "
	    "Node metadata cannot contain more than 64 key/value pairs");
	buf_free(&j);
	memset(big, 'v', 513);
	big[513] = '\0';
	buf_init(&j);
	buf_printf(&j, "{\"Name\":\"a\",\"Meta\":{\"k\":\"%s\"}}", big);
	ck_assert(strstr(service_error((char *)j.data),
	    "Value is too long (limit: 512 characters)") != NULL);
	buf_free(&j);
	memset(big, 'k', 129);
	big[129] = '\0';
	buf_init(&j);
	buf_printf(&j, "{\"Name\":\"a\",\"Meta\":{\"%s\":\"v\"}}", big);
	ck_assert(strstr(service_error((char *)j.data),
	    "Key is too long (limit: 128 characters)") != NULL);
	buf_free(&j);
}
END_TEST

START_TEST(check_validation_messages)
{
	ck_assert_str_eq(check_error("{\"TTL\":\"1s\"}"), "Missing check name");
	ck_assert_str_eq(check_error("{\"Name\":\"c\",\"TTL\":\"1s\","
	    "\"Status\":\"ok\"}"), "Bad check status");
	ck_assert_str_eq(check_error("{\"Name\":\"c\"}"),
	    "Invalid check: TTL must be > 0 for TTL checks");
	ck_assert_str_eq(check_error("{\"Name\":\"c\",\"TTL\":\"1s\","
	    "\"Interval\":\"1s\"}"),
	    "Invalid check: Interval and TTL cannot both be specified");
	ck_assert_str_eq(check_error("{\"Name\":\"c\",\"TCP\":\"a:1\","
	    "\"Interval\":\"1s\",\"AliasService\":\"x\"}"),
	    "Invalid check: Interval cannot be set for Alias checks");
	ck_assert_str_eq(check_error("{\"Name\":\"c\",\"TTL\":\"1s\","
	    "\"AliasService\":\"x\"}"),
	    "Invalid check: TTL must be not be set for Alias checks");
	ck_assert_str_eq(check_error("{\"Name\":\"c\",\"TTL\":\"1s\","
	    "\"FailuresBeforeWarning\":3,\"FailuresBeforeCritical\":2}"),
	    "Invalid check: FailuresBeforeWarning can't be higher than "
	    "FailuresBeforeCritical");
	ck_assert_str_eq(check_error("{\"Name\":\"c\",\"TTL\":\"1s\","
	    "\"OutputMaxSize\":-1}"),
	    "Invalid check: MaxOutputMaxSize must be positive");
}
END_TEST

/* The canonical JSON persistence writes parses back to the same thing. */
START_TEST(definitions_round_trip)
{
	struct chk_def d, e;
	struct buf b;
	parse_check("{\"ID\":\"c1\",\"Name\":\"n\",\"Notes\":\"x\",\"HTTP\":"
	    "\"https://h/p\",\"Method\":\"POST\",\"Body\":\"{}\",\"Header\":"
	    "{\"A\":[\"1\"]},\"Interval\":\"1m30s\",\"Timeout\":\"2s\","
	    "\"TLSSkipVerify\":true,\"TLSServerName\":\"h\","
	    "\"FailuresBeforeCritical\":2,\"ServiceID\":\"s\"}", &d);
	buf_init(&b);
	chk_write_check_def(&b, &d);
	parse_check((char *)b.data, &e);
	ck_assert_str_eq(e.id, "c1");
	ck_assert_str_eq(e.body, "{}");
	ck_assert_str_eq(e.method, "POST");
	ck_assert_int_eq(e.interval, 90 * DURATION_S);
	ck_assert_int_eq(e.timeout, 2 * DURATION_S);
	ck_assert(e.tls_skip_verify);
	ck_assert_str_eq(e.headers[0].values[0], "1");
	ck_assert_int_eq(e.failures_before_critical, 2);
	ck_assert_str_eq(e.service_id, "s");
	chk_def_free(&d);
	chk_def_free(&e);
	buf_free(&b);
}
END_TEST

static enum chk_status
feed(struct chk_thresh *t, enum chk_status s, bool *changed)
{
	enum chk_status out = (enum chk_status)-1;
	*changed = chk_thresh_feed(t, s, &out);
	return out;
}

/* StatusHandler: counters start at the thresholds (first result applies),
 * success_before_passing holds back recovery, failures walk through
 * warning to critical. */
START_TEST(thresholds_state_machine)
{
	struct chk_def d = { 0 };
	struct chk_thresh t;
	bool ch;

	d.success_before_passing = 2;
	d.failures_before_warning = 1;
	d.failures_before_critical = 3;
	chk_thresh_init(&t, &d);
	ck_assert_int_eq(feed(&t, CHK_PASSING, &ch), CHK_PASSING);
	ck_assert(ch);
	ck_assert_int_eq(feed(&t, CHK_CRITICAL, &ch), CHK_WARNING);
	ck_assert(ch);
	ck_assert_int_eq(feed(&t, CHK_CRITICAL, &ch), CHK_WARNING);
	ck_assert(ch);
	ck_assert_int_eq(feed(&t, CHK_CRITICAL, &ch), CHK_CRITICAL);
	ck_assert(ch);
	feed(&t, CHK_PASSING, &ch);
	ck_assert(!ch);			/* 1 of 2 successes */
	ck_assert_int_eq(feed(&t, CHK_PASSING, &ch), CHK_PASSING);
	ck_assert(ch);
	feed(&t, CHK_PASSING, &ch);
	ck_assert(ch);
}
END_TEST

START_TEST(thresholds_defaults)
{
	struct chk_def d = { 0 };
	struct chk_thresh t;
	bool ch;

	chk_thresh_init(&t, &d);
	ck_assert_int_eq(feed(&t, CHK_CRITICAL, &ch), CHK_CRITICAL);
	ck_assert(ch);
	ck_assert_int_eq(feed(&t, CHK_WARNING, &ch), CHK_WARNING);
	ck_assert(ch);
	/* failures_before_warning defaults to failures_before_critical. */
	d.failures_before_critical = 2;
	chk_thresh_init(&t, &d);
	feed(&t, CHK_PASSING, &ch);
	feed(&t, CHK_CRITICAL, &ch);
	ck_assert(!ch);
	ck_assert_int_eq(feed(&t, CHK_CRITICAL, &ch), CHK_CRITICAL);
	ck_assert(ch);
}
END_TEST

START_TEST(output_caps)
{
	struct chk_ring r;
	struct buf out;
	char *s;

	chk_ring_init(&r, 8);
	chk_ring_write(&r, "0123", 4);
	buf_init(&out);
	chk_output_script(&r, &out);
	ck_assert_str_eq((char *)out.data, "0123");
	chk_ring_write(&r, "456789abc", 9);
	buf_reset(&out);
	chk_output_script(&r, &out);
	ck_assert_str_eq((char *)out.data, "Captured 8 of 13 bytes\n...\n"
	    "56789abc");
	chk_ring_write(&r, "0123456789ABCDEFG", 17);
	buf_reset(&out);
	chk_ring_get(&r, &out);
	ck_assert_str_eq((char *)out.data, "9ABCDEFG");
	buf_free(&out);
	chk_ring_free(&r);
	s = chk_output_ttl("hello world", 5);
	ck_assert_str_eq(s, "hello ... (captured 5 of 11 bytes)");
	free(s);
	s = chk_output_ttl("hi", 5);
	ck_assert_str_eq(s, "hi");
	free(s);
}
END_TEST

START_TEST(status_names)
{
	enum chk_status s;
	ck_assert_int_eq(chk_status_parse("warning", &s), 0);
	ck_assert_int_eq(s, CHK_WARNING);
	ck_assert_int_lt(chk_status_parse("Passing", &s), 0);
	ck_assert_int_lt(chk_status_parse("maintenance", &s), 0);
	ck_assert_str_eq(chk_status_name(CHK_CRITICAL), "critical");
}
END_TEST

Suite *
def_suite(void)
{
	Suite *s = suite_create("definitions");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, service_keys_any_case_and_snake);
	tcase_add_test(tc, service_nulls_and_empty_check);
	tcase_add_test(tc, decode_errors_worded_like_go);
	tcase_add_test(tc, service_validation_messages);
	tcase_add_test(tc, meta_limits);
	tcase_add_test(tc, check_validation_messages);
	tcase_add_test(tc, definitions_round_trip);
	tcase_add_test(tc, thresholds_state_machine);
	tcase_add_test(tc, thresholds_defaults);
	tcase_add_test(tc, output_caps);
	tcase_add_test(tc, status_names);
	suite_add_tcase(s, tc);
	return s;
}
