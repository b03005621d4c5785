#ifndef MUSTER_TEST_CHKTEST_H
#define MUSTER_TEST_CHKTEST_H

#include <check.h>

#include "workers/checks/chk.h"
#include "workers/checks/chk_probe.h"

Suite *def_suite(void);
Suite *state_suite(void);
Suite *run_suite(void);
Suite *ae_suite(void);

/* A fresh registry on the default loop (ev_child needs it), runners
 * started, Consul's tunables shrunk for test speed. */
extern struct chk_state T;
void chk_setup_with(const char *data_dir, bool scripts);
void chk_setup(void);
void chk_teardown(void);

/* Parse helpers: abort the test on a parse error. */
void parse_service(const char *json, struct chk_service_def *out);
void parse_check(const char *json, struct chk_def *out);
/* Parse, expecting failure; returns the message (static buffer). */
const char *service_error(const char *json);
const char *check_error(const char *json);

/* Register through the same path the HTTP API takes (remote, persisted). */
int reg_service(const char *json, struct buf *err);
int reg_check(const char *json, struct buf *err);

/* Run the loop until pred(arg) or secs pass; returns pred's last value. */
bool run_until(bool (*pred)(void *), void *arg, double secs);
/* The status of check id, or -1 when absent. */
int status_of(const char *id);
bool status_is(void *want);	/* arg: "id=status" */

#endif
