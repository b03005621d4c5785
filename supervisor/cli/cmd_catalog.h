/*
 * `muster catalog` and `muster services`, private to cmd_catalog.c and
 * cmd_services.c: the flags those commands may repeat, which Consul
 * declares with flag.Var (command/flags: AppendSliceValue for -tag,
 * FlagMapValue for -meta, -node-meta and -tagged-address) while the
 * shared parser in flags.c keeps only a flag's last value.
 */
#ifndef MUSTER_CLI_CMD_CATALOG_H
#define MUSTER_CLI_CMD_CATALOG_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/util.h"
#include "supervisor/cli/api.h"
#include "supervisor/cli/flags.h"

int cli_cmd_catalog_datacenters(int argc, char **argv);
int cli_cmd_catalog_nodes(int argc, char **argv);
int cli_cmd_catalog_services(int argc, char **argv);
int cli_cmd_services_register(int argc, char **argv);
int cli_cmd_services_deregister(int argc, char **argv);

/* Every value of one flag, in command-line order (pointers into argv). */
struct cli_strv {
	const char **v;
	size_t n;
};

void cli_strv_free(struct cli_strv *s);

/*
 * The values given to flag `name` in argv[1..end), end being what
 * cli_flags_parse() returned for the same argv and sets (so the flags
 * there are known to be well formed).  -name=v, -name v and --name v
 * all count; a boolean flag consumes no separate value.
 */
void cli_flag_values(int argc, char **argv, int end,
    const struct cli_flagset *sets, size_t nsets, const char *name,
    struct cli_strv *out);

/*
 * A FlagMapValue: every value must hold "key=value".  On the first that
 * does not, prints Go's flag error and the usage to stderr and returns
 * -1 (exit 1), as the flag package does for a rejected Set.
 */
int cli_flag_map_check(const struct cli_strv *vals, const char *flag,
    const char *help, const struct cli_flagset *sets, size_t nsets);

/*
 * Go's map semantics for those values: true when vals->v[i] is the last
 * one given for its key (a later "-meta k=x" replaces an earlier one).
 */
bool cli_flag_map_last(const struct cli_strv *vals, size_t i);

/* "Too many arguments (expected 0, got N)" when positionals remain. */
int cli_no_args(int argc, int first);

/* GET path, requiring 200 and JSON; NULL after printing "what: ...". */
yajl_val cli_get_json(struct cli_client *c, const char *path,
    const char *what);

/* strcmp over an array of const char * (qsort; Go's sort.Strings). */
int cli_str_cmp(const void *a, const void *b);

/* An object's keys sorted bytewise (free the array, not the keys). */
const char **cli_json_sorted_keys(yajl_val obj, size_t *n);

/* s quoted as Go's %q (strconv.Quote) for the ASCII range. */
void cli_go_quote(struct buf *out, const char *s);

#endif
