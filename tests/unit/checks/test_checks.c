/*
 * The checks worker's domain on its own: definitions as Consul decodes
 * and validates them, the registry's rules and messages, the threshold
 * state machine, output caps, runners against loopback, persistence, and
 * the catalog-sync seam.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/json.h"
#include "tests/unit/checks/chktest.h"

struct chk_state T;

void
chk_setup_with(const char *data_dir, bool scripts)
{
	struct chk_config cc = { .node_name = "node1", .data_dir = data_dir,
		.enable_script_checks = scripts,
		.enable_local_script_checks = scripts, .output_max = 4096 };
	struct chk_tuning tun;
	chk_tuning_default(&tun);
	tun.min_interval = 50 * 1000000LL;
	tun.stagger = false;
	chk_state_init(&T, ev_default_loop(0), &cc, &tun);
	chk_state_start(&T);
}

void
chk_setup(void)
{
	chk_setup_with("", true);
}

void
chk_teardown(void)
{
	chk_state_free(&T);
	chk_resolver_stop(&T);
	chk_tls_free(&T);
}

static yajl_val
must_parse(const char *json)
{
	struct buf err;
	buf_init(&err);
	yajl_val v = json_parse(json, strlen(json), &err);
	ck_assert_msg(v != NULL, "bad test JSON %s: %s", json,
	    (char *)err.data);
	buf_free(&err);
	return v;
}

void
parse_service(const char *json, struct chk_service_def *out)
{
	struct buf err;
	yajl_val v = must_parse(json);
	buf_init(&err);
	ck_assert_msg(chk_parse_service(v, out, &err) == 0, "%s: %s", json,
	    (char *)err.data);
	yajl_tree_free(v);
	buf_free(&err);
}

void
parse_check(const char *json, struct chk_def *out)
{
	struct buf err;
	yajl_val v = must_parse(json);
	buf_init(&err);
	ck_assert_msg(chk_parse_check(v, out, &err) == 0, "%s: %s", json,
	    (char *)err.data);
	yajl_tree_free(v);
	buf_free(&err);
}

static char errtext[1024];

const char *
service_error(const char *json)
{
	struct chk_service_def d;
	struct buf err;
	yajl_val v = must_parse(json);
	buf_init(&err);
	if (chk_parse_service(v, &d, &err) == 0) {
		buf_reset(&err);
		ck_assert_msg(chk_validate_service(&d, &err) < 0,
		    "%s accepted", json);
		chk_service_def_free(&d);
	}
	snprintf(errtext, sizeof(errtext), "%s", (char *)err.data);
	yajl_tree_free(v);
	buf_free(&err);
	return errtext;
}

const char *
check_error(const char *json)
{
	struct chk_def d;
	struct buf err;
	yajl_val v = must_parse(json);
	buf_init(&err);
	if (chk_parse_check(v, &d, &err) == 0) {
		buf_reset(&err);
		ck_assert_msg(chk_validate_check(&d, &err) < 0, "%s accepted",
		    json);
		chk_def_free(&d);
	}
	snprintf(errtext, sizeof(errtext), "%s", (char *)err.data);
	yajl_tree_free(v);
	buf_free(&err);
	return errtext;
}

int
reg_service(const char *json, struct buf *err)
{
	struct chk_service_def d;
	int r;
	parse_service(json, &d);
	if ((r = chk_validate_service(&d, err)) < 0) {
		chk_service_def_free(&d);
		return r;
	}
	return chk_add_service(&T, &d, CHK_SRC_REMOTE, false, true, err);
}

int
reg_check(const char *json, struct buf *err)
{
	struct chk_def d;
	int r;
	parse_check(json, &d);
	if ((r = chk_validate_check(&d, err)) < 0) {
		chk_def_free(&d);
		return r;
	}
	return chk_add_check(&T, &d, CHK_SRC_REMOTE, true, err);
}

static void
tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
}

bool
run_until(bool (*pred)(void *), void *arg, double secs)
{
	struct ev_loop *loop = ev_default_loop(0);
	ev_timer tick;
	double end = ev_time() + secs;
	bool ok;
	ev_timer_init(&tick, tick_cb, 0.005, 0.005);
	ev_timer_start(loop, &tick);
	while (!(ok = pred(arg)) && ev_time() < end)
		ev_run(loop, EVRUN_ONCE);
	ev_timer_stop(loop, &tick);
	return ok;
}

int
status_of(const char *id)
{
	struct chk_check *c = chk_check_find(&T, id);
	return c ? (int)c->status : -1;
}

bool
status_is(void *want)
{
	char id[256];
	const char *eq = strrchr(want, '=');
	enum chk_status s;
	snprintf(id, sizeof(id), "%.*s", (int)(eq - (char *)want),
	    (char *)want);
	return chk_status_parse(eq + 1, &s) == 0 && status_of(id) == (int)s;
}

int
main(void)
{
	SRunner *sr = srunner_create(def_suite());
	srunner_add_suite(sr, state_suite());
	srunner_add_suite(sr, run_suite());
	srunner_add_suite(sr, ae_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
