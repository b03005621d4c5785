/*
 * The registry's rules (agent.go AddService / AddCheck / RemoveService /
 * updateTTLCheck / maintenance), persistence across a "restart", and the
 * catalog-sync seam's deferral of output-only changes.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/duration.h"
#include "tests/unit/checks/chktest.h"

static struct buf err;

static void
setup(void)
{
	buf_init(&err);
	chk_setup();
}

static void
teardown(void)
{
	chk_teardown();
	buf_free(&err);
}

START_TEST(service_defaults)
{
	struct chk_service *s;
	struct chk_check *c;
	ck_assert_int_eq(reg_service("{\"Name\":\"web\",\"Port\":80,\"Address\":"
	    "\"10.1.2.3\",\"Checks\":[{\"TTL\":\"1m\"},{\"TTL\":\"1m\","
	    "\"Status\":\"passing\",\"Name\":\"mine\"}]}", &err), 0);
	s = chk_service_find(&T, "web");		/* ID defaults to Name */
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(s->w_passing, 1);
	ck_assert_int_eq(s->w_warning, 1);
	ck_assert_uint_eq(s->ntaddrs, 2);		/* lan_ipv4, wan_ipv4 */
	ck_assert_str_eq(s->taddrs[0].key, "lan_ipv4");
	ck_assert_str_eq(s->taddrs[1].address, "10.1.2.3");
	ck_assert_int_eq(s->taddrs[1].port, 80);
	c = chk_check_find(&T, "service:web:1");
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->name, "Service 'web' check");
	ck_assert_int_eq(c->status, CHK_CRITICAL);	/* initial default */
	ck_assert_str_eq(c->interval_text, "");
	c = chk_check_find(&T, "service:web:2");
	ck_assert_str_eq(c->name, "mine");
	ck_assert_int_eq(c->status, CHK_PASSING);
	ck_assert_int_eq(reg_service("{\"Name\":\"db\",\"Check\":{\"TTL\":"
	    "\"1s\"}}", &err), 0);
	ck_assert_ptr_nonnull(chk_check_find(&T, "service:db"));
	ck_assert_uint_eq(chk_service_count(&T), 2);
	ck_assert_uint_eq(chk_check_count(&T), 3);
}
END_TEST

/* A standalone check's ID defaults to its name; its durations print as
 * Go's Duration.String(). */
START_TEST(check_defaults_and_service_link)
{
	struct chk_check *c;
	ck_assert_int_eq(reg_check("{\"Name\":\"disk\",\"TTL\":\"30s\"}", &err),
	    0);
	c = chk_check_find(&T, "disk");
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->interval_text, "0s");
	ck_assert_str_eq(c->service_id, "");
	ck_assert_int_eq(reg_check("{\"Name\":\"x\",\"TTL\":\"1s\","
	    "\"ServiceID\":\"nope\"}", &err), -ENOENT);
	ck_assert_str_eq((char *)err.data, "ServiceID \"nope\" does not exist");
	buf_reset(&err);
	ck_assert_int_eq(reg_service("{\"Name\":\"web\"}", &err), 0);
	ck_assert_int_eq(reg_check("{\"ID\":\"w\",\"Name\":\"x\",\"TTL\":\"1s\","
	    "\"service_id\":\"web\"}", &err), 0);
	ck_assert_str_eq(chk_check_find(&T, "w")->service_id, "web");
}
END_TEST

/* Re-registration keeps a check's status (no flapping); without
 * replace-existing-checks a dropped check stays, with it it goes. */
START_TEST(reregister_and_replace)
{
	ck_assert_int_eq(reg_service("{\"Name\":\"web\",\"Checks\":[{\"CheckID\":"
	    "\"a\",\"TTL\":\"1m\"},{\"CheckID\":\"b\",\"TTL\":\"1m\"}]}", &err),
	    0);
	ck_assert_int_eq(chk_ttl_update(&T, "a", CHK_PASSING, "ok", &err), 0);
	ck_assert_int_eq(reg_service("{\"Name\":\"web\",\"Tags\":[\"v2\"],"
	    "\"Checks\":[{\"CheckID\":\"a\",\"TTL\":\"1m\"}]}", &err), 0);
	ck_assert_int_eq(status_of("a"), CHK_PASSING);
	ck_assert_str_eq(chk_check_find(&T, "a")->output, "ok");
	ck_assert_ptr_nonnull(chk_check_find(&T, "b"));
	struct chk_service_def d;
	parse_service("{\"Name\":\"web\",\"Checks\":[{\"CheckID\":\"a\","
	    "\"TTL\":\"1m\"}]}", &d);
	ck_assert_int_eq(chk_add_service(&T, &d, CHK_SRC_REMOTE, true, false,
	    &err), 0);
	ck_assert_ptr_null(chk_check_find(&T, "b"));
	ck_assert_ptr_nonnull(chk_check_find(&T, "a"));
}
END_TEST

START_TEST(remove_messages)
{
	ck_assert_int_eq(reg_service("{\"Name\":\"web\",\"Check\":{\"TTL\":"
	    "\"1m\"}}", &err), 0);
	ck_assert_int_eq(chk_remove_service(&T, "nope", true, &err), -ENOENT);
	ck_assert_str_eq((char *)err.data, "Unknown service ID \"nope\". "
	    "Ensure that the service ID is passed, not the service name.");
	buf_reset(&err);
	ck_assert_int_eq(chk_remove_check(&T, "nope", true, &err), -ENOENT);
	ck_assert_str_eq((char *)err.data, "Unknown check ID \"nope\". Ensure "
	    "that the check ID is passed, not the check name.");
	buf_reset(&err);
	ck_assert_int_eq(chk_remove_service(&T, "web", true, &err), 0);
	ck_assert_ptr_null(chk_check_find(&T, "service:web"));
	ck_assert_uint_eq(chk_check_count(&T), 0);
}
END_TEST

START_TEST(ttl_update_rules)
{
	ck_assert_int_eq(reg_check("{\"Name\":\"t\",\"TTL\":\"1m\"}", &err), 0);
	ck_assert_int_eq(reg_check("{\"Name\":\"a\",\"AliasService\":\"x\"}",
	    &err), 0);
	ck_assert_int_eq(chk_ttl_update(&T, "a", CHK_PASSING, "", &err), -EIO);
	ck_assert_str_eq((char *)err.data,
	    "CheckID \"a\" does not have associated TTL");
	buf_reset(&err);
	ck_assert_int_eq(chk_ttl_update(&T, "zz", CHK_PASSING, "", &err),
	    -ENOENT);
	buf_reset(&err);
	/* Output over check_output_max_size is cut as CheckTTL does. */
	char big[5000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(chk_ttl_update(&T, "t", CHK_WARNING, big, &err), 0);
	ck_assert_int_eq(status_of("t"), CHK_WARNING);
	ck_assert(strstr(chk_check_find(&T, "t")->output,
	    " ... (captured 4096 of 4999 bytes)") != NULL);
}
END_TEST

START_TEST(script_permission)
{
	chk_teardown();
	chk_setup_with("", false);
	ck_assert_int_eq(reg_check("{\"Name\":\"s\",\"Args\":[\"true\"],"
	    "\"Interval\":\"1s\"}", &err), -EPERM);
	ck_assert_str_eq((char *)err.data, "Scripts are disabled on this agent "
	    "from remote calls; to enable, configure 'enable_script_checks' to "
	    "true");
	buf_reset(&err);
	struct chk_def d;
	parse_check("{\"Name\":\"s\",\"Args\":[\"true\"],\"Interval\":\"1s\"}", &d);
	ck_assert_int_eq(chk_add_check(&T, &d, CHK_SRC_LOCAL, false, &err),
	    -EPERM);
	ck_assert_str_eq((char *)err.data, "Scripts are disabled on this agent; "
	    "to enable, configure 'enable_script_checks' or "
	    "'enable_local_script_checks' to true");
	ck_assert_uint_eq(chk_check_count(&T), 0);
}
END_TEST

START_TEST(maintenance_checks)
{
	struct chk_check *c;
	ck_assert_int_eq(reg_service("{\"Name\":\"web\"}", &err), 0);
	ck_assert_int_eq(chk_maintenance(&T, NULL, true, "", &err), 0);
	c = chk_check_find(&T, "_node_maintenance");
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->name, "Node Maintenance Mode");
	ck_assert_str_eq(c->notes, "Maintenance mode is enabled for this node, "
	    "but no reason was provided. This is a default message.");
	ck_assert_int_eq(c->status, CHK_CRITICAL);
	ck_assert_int_eq(chk_maintenance(&T, "web", true, "deploy", &err), 0);
	c = chk_check_find(&T, "_service_maintenance:web");
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->notes, "deploy");
	ck_assert_str_eq(c->service_id, "web");
	ck_assert_int_eq(chk_maintenance(&T, "nope", true, "", &err), -ENOENT);
	buf_reset(&err);
	ck_assert_int_eq(chk_maintenance(&T, NULL, false, NULL, &err), 0);
	ck_assert_ptr_null(chk_check_find(&T, "_node_maintenance"));
	/* Deregistering the service takes its maintenance check along. */
	ck_assert_int_eq(chk_remove_service(&T, "web", true, &err), 0);
	ck_assert_uint_eq(chk_check_count(&T), 0);
}
END_TEST

START_TEST(unsupported_kinds_refused)
{
	ck_assert_int_eq(reg_check("{\"Name\":\"d\",\"DockerContainerID\":"
	    "\"abc\",\"Args\":[\"x\"],\"Interval\":\"1s\"}", &err), -ENOTSUP);
	ck_assert_str_eq((char *)err.data,
	    "docker checks are not supported by this agent");
}
END_TEST

/* A reaper pass deregisters a service whose check has been critical for
 * longer than deregister_critical_service_after (minimum 1m). */
START_TEST(reaper)
{
	struct chk_check *c;
	ck_assert_int_eq(reg_service("{\"Name\":\"web\",\"Check\":{\"TTL\":"
	    "\"1h\",\"DeregisterCriticalServiceAfter\":\"10s\"}}", &err), 0);
	ck_assert_int_eq(reg_service("{\"Name\":\"db\",\"Check\":{\"TTL\":"
	    "\"1h\"}}", &err), 0);
	c = chk_check_find(&T, "service:web");
	ck_assert_int_eq(c->reap_after_ns, DURATION_M);	/* raised */
	ck_assert_uint_eq(chk_reap(&T, c->critical_since_ms + 59000), 0);
	ck_assert_uint_eq(chk_reap(&T, c->critical_since_ms + 61000), 1);
	ck_assert_ptr_null(chk_service_find(&T, "web"));
	ck_assert_ptr_nonnull(chk_service_find(&T, "db"));
}
END_TEST

static bool
pending_at_least(void *n)
{
	return chk_sync_pending(&T) >= *(size_t *)n;
}

/* Output-only changes of a steady check reach the catalog after
 * check_update_interval/2 + stagger; a status change at once. */
START_TEST(sync_defers_output_only)
{
	size_t one = 1;
	struct chk_check *c;
	T.cfg.check_update_interval = 200 * DURATION_MS;
	ck_assert_int_eq(reg_check("{\"Name\":\"t\",\"TTL\":\"1h\"}", &err), 0);
	ck_assert_uint_eq(chk_sync_pending(&T), 1);
	chk_sync_all_done(&T);
	ck_assert_uint_eq(chk_sync_pending(&T), 0);
	c = chk_check_find(&T, "t");
	chk_update(&T, c, CHK_CRITICAL, "new output");
	ck_assert_str_eq(c->output, "new output");	/* local state is current */
	ck_assert_uint_eq(chk_sync_pending(&T), 0);
	double t0 = ev_time();
	ck_assert(run_until(pending_at_least, &one, 2.0));
	ck_assert(ev_time() - t0 >= 0.09);
	chk_sync_all_done(&T);
	chk_update(&T, c, CHK_PASSING, "new output");
	ck_assert_uint_eq(chk_sync_pending(&T), 1);
	chk_sync_all_done(&T);
	T.cfg.check_update_interval = 0;
	chk_update(&T, c, CHK_PASSING, "again");
	ck_assert_uint_eq(chk_sync_pending(&T), 1);
	chk_sync_all_done(&T);
	ck_assert_int_eq(chk_remove_check(&T, "t", true, &err), 0);
	ck_assert_uint_eq(chk_sync_pending(&T), 1);	/* the deletion */
}
END_TEST

/* The full-sync interval follows the LAN pool's size (agent/ae). */
START_TEST(sync_interval_scales_with_members)
{
	char name[32];
	ck_assert_int_eq(chk_sync_full_interval(&T), 60 * DURATION_S);
	for (int i = 0; i < 128; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		chk_sync_member(&T, name, false);
		chk_sync_member(&T, name, false);	/* updates: no double */
	}
	ck_assert_int_eq(chk_sync_full_interval(&T), 60 * DURATION_S);
	chk_sync_member(&T, "one-more", false);
	ck_assert_int_eq(chk_sync_full_interval(&T), 2 * 60 * DURATION_S);
	chk_sync_member(&T, "one-more", true);	/* reaped */
	ck_assert_int_eq(chk_sync_full_interval(&T), 60 * DURATION_S);
	for (int i = 128; i < 513; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		chk_sync_member(&T, name, false);
	}
	ck_assert_int_eq(chk_sync_full_interval(&T), 4 * 60 * DURATION_S);
}
END_TEST

static char datadir[256];

static void
mkdirs(void)
{
	snprintf(datadir, sizeof(datadir), "/tmp/muster-chk-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(datadir));
	char *p = xasprintf("%s/local", datadir);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	free(p);
}

static void
restart(void)
{
	struct chk_config cc = { .node_name = "node1", .data_dir = datadir,
		.enable_script_checks = true, .enable_local_script_checks = true,
		.output_max = 4096 };
	struct chk_tuning tun;
	chk_teardown();
	chk_tuning_default(&tun);
	tun.stagger = false;
	chk_state_init(&T, ev_default_loop(0), &cc, &tun);
	chk_persist_load(&T);
	chk_persist_locate(&T, true);
	chk_persist_locate(&T, false);
	chk_state_start(&T);
}

static void
rmtree(const char *d)
{
	char *cmd = xasprintf("rm -rf '%s'", d);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
}

/* API registrations, TTL state and maintenance survive a restart;
 * deregistration removes the files. */
START_TEST(persistence)
{
	mkdirs();
	chk_teardown();
	chk_setup_with(datadir, true);
	chk_persist_locate(&T, true);
	chk_persist_locate(&T, false);
	ck_assert_ptr_nonnull(T.local_dir);
	ck_assert_int_eq(reg_service("{\"Name\":\"web\",\"Port\":81,\"Tags\":"
	    "[\"x\"],\"Checks\":[{\"TTL\":\"1h\"},{\"Args\":[\"true\"],"
	    "\"Interval\":\"10s\"}]}", &err), 0);
	ck_assert_int_eq(reg_check("{\"Name\":\"disk\",\"TTL\":\"1h\"}", &err),
	    0);
	ck_assert_int_eq(chk_ttl_update(&T, "disk", CHK_WARNING, "80%", &err),
	    0);
	ck_assert_int_eq(chk_maintenance(&T, "web", true, "why", &err), 0);
	restart();
	struct chk_service *s = chk_service_find(&T, "web");
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(s->port, 81);
	ck_assert_str_eq(s->tags[0], "x");
	ck_assert_int_eq(status_of("disk"), CHK_WARNING);
	ck_assert_str_eq(chk_check_find(&T, "disk")->output, "80%");
	ck_assert_int_eq(status_of("service:web:1"), CHK_CRITICAL);
	ck_assert_str_eq(chk_check_find(&T, "service:web:1")->interval_text,
	    "");
	ck_assert_int_eq(chk_check_find(&T, "service:web:2")->kind,
	    CHK_K_SCRIPT);
	ck_assert_str_eq(chk_check_find(&T, "_service_maintenance:web")->notes,
	    "why");
	ck_assert_int_eq(chk_remove_service(&T, "web", true, &err), 0);
	ck_assert_int_eq(chk_remove_check(&T, "disk", true, &err), 0);
	restart();
	ck_assert_uint_eq(chk_service_count(&T), 0);
	ck_assert_uint_eq(chk_check_count(&T), 0);
	rmtree(datadir);
}
END_TEST

/* -dev: nothing written anywhere. */
START_TEST(dev_mode_persists_nothing)
{
	chk_persist_locate(&T, true);
	chk_persist_locate(&T, false);
	ck_assert_ptr_null(T.local_dir);
	ck_assert_int_eq(reg_service("{\"Name\":\"web\"}", &err), 0);
	ck_assert(!chk_service_find(&T, "web")->persisted);
}
END_TEST

Suite *
state_suite(void)
{
	Suite *s = suite_create("registry");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, service_defaults);
	tcase_add_test(tc, check_defaults_and_service_link);
	tcase_add_test(tc, reregister_and_replace);
	tcase_add_test(tc, remove_messages);
	tcase_add_test(tc, ttl_update_rules);
	tcase_add_test(tc, script_permission);
	tcase_add_test(tc, maintenance_checks);
	tcase_add_test(tc, unsupported_kinds_refused);
	tcase_add_test(tc, reaper);
	tcase_add_test(tc, sync_defers_output_only);
	tcase_add_test(tc, sync_interval_scales_with_members);
	tcase_add_test(tc, persistence);
	tcase_add_test(tc, dev_mode_persists_nothing);
	suite_add_tcase(s, tc);
	return s;
}
