/*
 * The command line client: every `muster` subcommand other than agent and
 * worker.  Behaviour follows Consul's CLI (mitchellh/cli + command/...):
 * output to stdout, errors to stderr, help to stdout, and these exit codes:
 *
 *   0    success, or help asked for with -h / -help / --help / help
 *   1    error (agent unreachable, non-200 answer, bad flag or argument)
 *   2    `members`: no member matched (consul prints nothing then)
 *   127  unknown subcommand (usage is printed)
 *
 * Adding a command: write supervisor/cli/cmd_<name>.c defining
 * `int cli_cmd_<name>(int argc, char **argv)` (argv[0] is the command's
 * name), add one X(...) line to CLI_COMMANDS below, and add the file to
 * cli_sources in supervisor/cli/meson.build.  A command with subcommands
 * ("kv get", "operator raft list-peers") dispatches with cli_dispatch()
 * over its own table.
 */
#ifndef MUSTER_CLI_H
#define MUSTER_CLI_H

#include <stdbool.h>
#include <stddef.h>

#define CLI_EXIT_OK		0
#define CLI_EXIT_ERR		1
#define CLI_EXIT_NOMATCH	2
#define CLI_EXIT_UNKNOWN	127

/* argv[0] is "muster", argv[1] the subcommand (may be absent). */
int cli_main(int argc, char **argv);

typedef int (*cli_run_fn)(int argc, char **argv);

struct cli_cmd {
	const char *name;
	cli_run_fn run;		/* NULL: handled by main() (agent) */
	const char *synopsis;
};

/*
 * Top-level client commands: X(name, function, synopsis).  The help text
 * lists them sorted, with "agent" (run by main()).
 */
#define CLI_COMMANDS(X)							\
	X("catalog", cli_cmd_catalog, "Interact with the catalog")	\
	X("event", cli_cmd_event, "Fire a new event")			\
	X("force-leave", cli_cmd_force_leave,				\
	    "Forces a member of the cluster to enter the \"left\" state") \
	X("info", cli_cmd_info,						\
	    "Provides debugging information for operators.")		\
	X("join", cli_cmd_join, "Tell Muster agent to join cluster")	\
	X("keygen", cli_cmd_keygen, "Generates a new encryption key")	\
	X("keyring", cli_cmd_keyring,					\
	    "Manages gossip layer encryption keys")			\
	X("kv", cli_cmd_kv, "Interact with the key-value store")	\
	X("leave", cli_cmd_leave,					\
	    "Gracefully leaves the Muster cluster and shuts down")	\
	X("maint", cli_cmd_maint,					\
	    "Controls node or service maintenance mode")		\
	X("members", cli_cmd_members,					\
	    "Lists the members of a Muster cluster")			\
	X("operator", cli_cmd_operator,					\
	    "Provides cluster-level tools for Muster operators")	\
	X("reload", cli_cmd_reload,					\
	    "Triggers the agent to reload configuration files")		\
	X("services", cli_cmd_services, "Interact with services")	\
	X("snapshot", cli_cmd_snapshot,					\
	    "Saves, restores and inspects snapshots of Muster server state") \
	X("validate", cli_cmd_validate,					\
	    "Validate config files/directories")			\
	X("version", cli_cmd_version, "Prints the Muster version")

#define CLI_DECLARE(name, fn, synopsis) int fn(int argc, char **argv);
CLI_COMMANDS(CLI_DECLARE)
#undef CLI_DECLARE

/*
 * Run the subcommand named by argv[1] from tab (argv[0] is the parent
 * command).  Nested commands behave as consul's: no or an unknown
 * subcommand prints help (the parent's usage, then its subcommands) and
 * exits 1; -h prints it and exits 0.
 */
int cli_dispatch(const char *help, const struct cli_cmd *tab, size_t n,
    int argc, char **argv);

#endif
