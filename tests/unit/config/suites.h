/* The config test's suites and the helpers they share. */
#ifndef MUSTER_TEST_CONFIG_SUITES_H
#define MUSTER_TEST_CONFIG_SUITES_H

#include <check.h>

#include "supervisor/config.h"

Suite *lib_suite(void);
Suite *config_errors_suite(void);

/* A fresh temporary directory; files written into it with tmp_write. */
const char *tmp_dir(void);
void tmp_write(const char *name, const char *text);
char *tmp_path(const char *name);
void tmp_cleanup(void);

/* Load with these arguments (NULL-terminated); expect success / failure. */
struct agent_config *load_ok(const char *arg, ...);
char *load_err(const char *arg, ...);

#endif
