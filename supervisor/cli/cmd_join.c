/*
 * muster join [-wan] ADDR...: PUT /v1/agent/join/ADDR for each address,
 * as consul's command/join: an address that fails is reported and the
 * others are still tried; exit 1 only when none could be joined.
 */
#include <stdio.h>

#include "lib/util.h"
#include "supervisor/cli/api.h"
#include "supervisor/cli/cli.h"

static const char join_help[] =
    "Usage: muster join [options] address ...\n"
    "\n"
    "  Tells a running Muster agent (with \"muster agent\") to join the "
    "cluster\n"
    "  by specifying at least one existing member.";

static int
join_one(struct cli_client *c, const char *addr, bool wan)
{
	struct buf path, what;
	buf_init(&path);
	buf_init(&what);
	buf_addstr(&path, "/v1/agent/join/");
	cli_url_escape(&path, addr, false);
	if (wan)
		cli_query_add(&path, "wan", "1");
	buf_printf(&what, "Error joining address '%s'", addr);
	int r = cli_call(c, "PUT", (char *)path.data, NULL, 0, NULL,
	    (char *)what.data);
	buf_free(&path);
	buf_free(&what);
	return r;
}

int
cli_cmd_join(int argc, char **argv)
{
	struct cli_http_opts ho = { 0 };
	struct cli_flag hf[CLI_HTTP_FLAGS_MAX];
	bool wan = false;
	struct cli_flag cf[] = {
		CLI_BOOL("wan", &wan, "Joins a server to another server in "
		    "the WAN pool."),
	};
	struct cli_flagset fs[] = {
		CLI_HTTP_FLAGSET(&ho, hf, false),
		{ "Command Options", cf, nitems(cf) },
	};
	struct cli_client c;
	int r, i, joins = 0;

	if ((r = cli_flags_parse(argc, argv, join_help, fs, nitems(fs))) < 1)
		return cli_flags_exit(r);
	if (r >= argc) {
		fprintf(stderr, "At least one address to join must be "
		    "specified.\n\n");
		cli_flags_usage(stderr, join_help, fs, nitems(fs));
		return CLI_EXIT_ERR;
	}
	if (cli_client_open(&c, &ho) < 0)
		return CLI_EXIT_ERR;
	for (i = r; i < argc; i++)
		if (join_one(&c, argv[i], wan) == 0)
			joins++;
	cli_client_free(&c);
	if (joins == 0) {
		fprintf(stderr, "Failed to join any nodes.\n");
		return CLI_EXIT_ERR;
	}
	printf("Successfully joined cluster by contacting %d nodes.\n", joins);
	return CLI_EXIT_OK;
}
