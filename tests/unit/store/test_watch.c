/* Parked blocking queries wake only on relevant keys, time out, and are
 * capped. */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "workers/store/watch.h"

static int fired[8], why[8];

static void
cb(void *arg, int w)
{
	int i = (int)(intptr_t)arg;
	fired[i]++;
	why[i] = w;
}

START_TEST(only_relevant_writes_wake)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct watch_set ws;
	watch_set_init(&ws, loop, 100);
	watch_park(&ws, WATCH_KEY, "a", 1, 60, cb, (void *)0);
	watch_park(&ws, WATCH_PREFIX, "a/", 2, 60, cb, (void *)1);
	watch_park(&ws, WATCH_PREFIX, "", 0, 60, cb, (void *)2);
	watch_park(&ws, WATCH_KEY, "a/b", 3, 60, cb, (void *)3);
	watch_park(&ws, WATCH_PREFIX, "b/", 2, 60, cb, (void *)4);
	ck_assert_uint_eq(ws.parked, 5);
	watch_notify(&ws, "a/b", 3);
	ck_assert_int_eq(fired[0], 0);
	ck_assert_int_eq(fired[1], 1);
	ck_assert_int_eq(fired[2], 1);
	ck_assert_int_eq(fired[3], 1);
	ck_assert_int_eq(fired[4], 0);
	ck_assert_int_eq(why[1], 0);
	ck_assert_uint_eq(ws.parked, 2);
	watch_notify(&ws, "c", 1);
	ck_assert_int_eq(fired[0] + fired[4], 0);
	watch_set_free(&ws);
	ck_assert_int_eq(why[0], -ECANCELED);
	ck_assert_uint_eq(ws.parked, 0);
	ev_loop_destroy(loop);
}
END_TEST

START_TEST(timeout_and_cap_and_cancel)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct watch_set ws;
	watch_set_init(&ws, loop, 2);
	fired[5] = fired[6] = 0;
	watch_park(&ws, WATCH_KEY, "k", 1, 0.05, cb, (void *)5);
	struct watch_waiter *w = watch_park(&ws, WATCH_KEY, "k", 1, 60, cb, (void *)6);
	ck_assert_ptr_null(watch_park(&ws, WATCH_KEY, "x", 1, 60, cb, (void *)7));
	ck_assert_int_eq(errno, EBUSY);
	watch_cancel(&ws, w);
	double deadline = ev_time() + 5;
	while (fired[5] == 0 && ev_time() < deadline)
		ev_run(loop, EVRUN_ONCE);
	ck_assert_int_eq(fired[5], 1);
	ck_assert_int_eq(why[5], -ETIMEDOUT);
	ck_assert_int_eq(fired[6], 0);
	ck_assert_uint_eq(ws.parked, 0);
	watch_set_free(&ws);
	ev_loop_destroy(loop);
}
END_TEST

/* A woken query that parks again on the same key is not woken twice by
 * one notify_all (it would loop forever). */
static struct watch_set *reparks_ws;
static int reparks;

static void
repark_cb(void *arg, int w)
{
	if (w != 0)
		return;
	reparks++;
	watch_park(reparks_ws, WATCH_PREFIX, "p/", 2, 60, repark_cb, arg);
}

START_TEST(notify_all_with_repark_terminates)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct watch_set ws;
	watch_set_init(&ws, loop, 100);
	reparks_ws = &ws;
	watch_park(&ws, WATCH_PREFIX, "p/", 2, 60, repark_cb, NULL);
	watch_park(&ws, WATCH_KEY, "k", 1, 60, repark_cb, NULL);
	watch_notify_all(&ws);
	ck_assert_int_eq(reparks, 2);
	ck_assert_uint_eq(ws.parked, 2);	/* parked again, once each */
	reparks_ws = NULL;
	watch_set_free(&ws);
	ev_loop_destroy(loop);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("watch");
	TCase *tc = tcase_create("watch");
	tcase_add_test(tc, only_relevant_writes_wake);
	tcase_add_test(tc, timeout_and_cap_and_cancel);
	tcase_add_test(tc, notify_all_with_repark_terminates);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
