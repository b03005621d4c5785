/*
 * Command-line flags with the semantics of Go's flag package, which every
 * Consul subcommand uses and users' scripts rely on: "-name", "--name",
 * "-name=value", "-name value" (not for booleans), parsing stops at the
 * first argument that is not a flag, "-" alone is an argument and "--"
 * ends the flags.  As in mitchellh/cli, "-h", "-help" or "--help" anywhere
 * before "--" prints the command's help instead of running it.
 */
#ifndef MUSTER_CLI_FLAGS_H
#define MUSTER_CLI_FLAGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum cli_flag_kind {
	CLI_FLAG_BOOL,		/* bool * */
	CLI_FLAG_STR,		/* const char ** (points into argv) */
	CLI_FLAG_INT,		/* int64_t * */
	CLI_FLAG_U64,		/* uint64_t * */
};

struct cli_flag {
	const char *name;	/* without the dash */
	enum cli_flag_kind kind;
	void *val;		/* holds the default before parsing */
	const char *arg;	/* placeholder shown in help, e.g. "regexp" */
	const char *usage;
	bool set;		/* given on the command line */
};

/* One titled group of flags in the help text ("HTTP API Options"). */
struct cli_flagset {
	const char *title;
	struct cli_flag *flags;
	size_t n;
};

#define CLI_BOOL(nm, p, use) \
	{ .name = (nm), .kind = CLI_FLAG_BOOL, .val = (p), .usage = (use) }
#define CLI_STR(nm, p, a, use) \
	{ .name = (nm), .kind = CLI_FLAG_STR, .val = (p), .arg = (a), \
	  .usage = (use) }
#define CLI_INT(nm, p, a, use) \
	{ .name = (nm), .kind = CLI_FLAG_INT, .val = (p), .arg = (a), \
	  .usage = (use) }
#define CLI_U64(nm, p, a, use) \
	{ .name = (nm), .kind = CLI_FLAG_U64, .val = (p), .arg = (a), \
	  .usage = (use) }

/* cli_flags_parse() results below 1. */
#define CLI_PARSE_HELP	(-1)	/* help was printed to stdout: exit 0 */
#define CLI_PARSE_ERR	(-2)	/* error and help went to stderr: exit 1 */

/*
 * Parse argv[1..argc) (argv[0] is the command's name) against the sets.
 * Returns the index of the first positional argument (argc when none),
 * or CLI_PARSE_HELP / CLI_PARSE_ERR after printing.  help is the command's
 * usage text; the flag groups are appended to it when printed.
 */
int cli_flags_parse(int argc, char **argv, const char *help,
    struct cli_flagset *sets, size_t nsets);
/* The exit code for a cli_flags_parse() result below 1. */
int cli_flags_exit(int r);

/* The help text followed by every group's flags, as Consul prints it. */
void cli_flags_usage(FILE *out, const char *help,
    const struct cli_flagset *sets, size_t nsets);

/* True when argv[0..argc) holds -h, -help or --help before any "--". */
bool cli_wants_help(int argc, char **argv);

/* Go's strconv.ParseBool: 1 t T TRUE true True, 0 f F FALSE false False. */
int cli_parse_bool(const char *s, bool *out);

#endif
