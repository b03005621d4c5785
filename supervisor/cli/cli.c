/*
 * Top-level dispatch, after mitchellh/cli as consul configures it (see
 * cli.h for exit codes): -h/-help/--help anywhere before "--" asks for
 * help, -v/-version/--version before the subcommand prints the version,
 * other flags before the subcommand are an error, and usage goes to
 * stdout.
 */
#include "supervisor/cli/cli.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "supervisor/cli/flags.h"

static const struct cli_cmd cli_top[] = {
	{ "agent", NULL, "Runs a Muster agent" },
#define CLI_ENTRY(name, fn, synopsis) { name, fn, synopsis },
	CLI_COMMANDS(CLI_ENTRY)
#undef CLI_ENTRY
};

static int
cmd_cmp(const void *a, const void *b)
{
	const struct cli_cmd *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

/* "    name    synopsis" lines, sorted, names padded to the longest. */
static void
print_cmd_list(FILE *out, const struct cli_cmd *tab, size_t n)
{
	const struct cli_cmd **v = xcalloc(n, sizeof(*v));
	size_t i, w = 0;

	for (i = 0; i < n; i++) {
		v[i] = &tab[i];
		w = MAX(w, strlen(tab[i].name));
	}
	qsort(v, n, sizeof(*v), cmd_cmp);
	for (i = 0; i < n; i++)
		fprintf(out, "    %-*s    %s\n", (int)w, v[i]->name,
		    v[i]->synopsis);
	free(v);
}

static void
top_usage(FILE *out)
{
	fprintf(out, "Usage: muster [--version] [--help] <command> [<args>]\n"
	    "\nAvailable commands are:\n");
	print_cmd_list(out, cli_top, nitems(cli_top));
}

static const struct cli_cmd *
cmd_find(const struct cli_cmd *tab, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(tab[i].name, name) == 0)
			return &tab[i];
	return NULL;
}

static bool
is_help_flag(const char *a)
{
	return strcmp(a, "-h") == 0 || strcmp(a, "-help") == 0 ||
	    strcmp(a, "--help") == 0;
}

static bool
is_version_flag(const char *a)
{
	return strcmp(a, "-v") == 0 || strcmp(a, "-version") == 0 ||
	    strcmp(a, "--version") == 0;
}

/* Print a command's help by running it with -h, as consul's CLI does. */
static void
cmd_help(const struct cli_cmd *c)
{
	char *av[] = { (char *)c->name, (char *)"-h", NULL };

	if (c->run)
		c->run(2, av);
}

static int
run_top(const struct cli_cmd *c, int argc, char **argv, bool topflags)
{
	if (c->run == NULL) {
		fprintf(stderr, "muster %s is started by the muster "
		    "executable itself, not the client\n", c->name);
		return CLI_EXIT_ERR;
	}
	if (topflags) {
		printf("Invalid flags before the subcommand. If these flags "
		    "are for\nthe subcommand, please put them after the "
		    "subcommand.\n\n");
		cmd_help(c);
		return CLI_EXIT_ERR;
	}
	return c->run(argc, argv);
}

int
cli_main(int argc, char **argv)
{
	bool help = false, version = false, topflags = false;
	const struct cli_cmd *c;
	int i, sub = -1;

	/* A closed pipe is an error return from write, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (is_help_flag(argv[i]))
			help = true;
		else if (sub >= 0)
			continue;
		else if (is_version_flag(argv[i]))
			version = true;
		else if (argv[i][0] == '-')
			topflags = true;
		else
			sub = i;
	}
	if (version) {
		char *av[] = { (char *)"version", NULL };
		return cli_cmd_version(1, av);
	}
	if (sub < 0) {
		top_usage(stdout);
		return help ? CLI_EXIT_OK : CLI_EXIT_UNKNOWN;
	}
	/* "muster help [command]": not in consul, but expected of a CLI. */
	if (strcmp(argv[sub], "help") == 0) {
		if (sub + 1 < argc && (c = cmd_find(cli_top, nitems(cli_top),
		    argv[sub + 1])) != NULL && c->run) {
			cmd_help(c);
			return CLI_EXIT_OK;
		}
		top_usage(stdout);
		return sub + 1 < argc ? CLI_EXIT_UNKNOWN : CLI_EXIT_OK;
	}
	if ((c = cmd_find(cli_top, nitems(cli_top), argv[sub])) == NULL) {
		top_usage(stdout);
		return CLI_EXIT_UNKNOWN;
	}
	return run_top(c, argc - sub, argv + sub, topflags);
}

int
cli_dispatch(const char *help, const struct cli_cmd *tab, size_t n, int argc,
    char **argv)
{
	const struct cli_cmd *c;

	if (argc >= 2 && argv[1][0] != '-' &&
	    (c = cmd_find(tab, n, argv[1])) != NULL && c->run)
		return c->run(argc - 1, argv + 1);
	printf("%s\n\nSubcommands:\n", help);
	print_cmd_list(stdout, tab, n);
	return cli_wants_help(argc - 1, argv + 1) ? CLI_EXIT_OK : CLI_EXIT_ERR;
}
