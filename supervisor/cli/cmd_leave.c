/*
 * muster leave: PUT /v1/agent/leave; the agent leaves the gossip pool
 * gracefully and shuts down (consul's command/leave).
 */
#include <stdio.h>

#include "lib/util.h"
#include "supervisor/cli/api.h"
#include "supervisor/cli/cli.h"

static const char leave_help[] =
    "Usage: muster leave [options]\n"
    "\n"
    "  Causes the agent to gracefully leave the Muster cluster and shutdown.";

int
cli_cmd_leave(int argc, char **argv)
{
	struct cli_http_opts ho = { 0 };
	struct cli_flag hf[CLI_HTTP_FLAGS_MAX];
	struct cli_flagset fs[] = { CLI_HTTP_FLAGSET(&ho, hf, false) };
	struct cli_client c;
	int r, i;

	if ((r = cli_flags_parse(argc, argv, leave_help, fs, nitems(fs))) < 1)
		return cli_flags_exit(r);
	if (r < argc) {
		/* Go prints a []string as [a b]. */
		fprintf(stderr, "Error found unexpected args: [");
		for (i = r; i < argc; i++)
			fprintf(stderr, "%s%s", i > r ? " " : "", argv[i]);
		fprintf(stderr, "]\n");
		cli_flags_usage(stdout, leave_help, fs, nitems(fs));
		return CLI_EXIT_ERR;
	}
	if (cli_client_open(&c, &ho) < 0)
		return CLI_EXIT_ERR;
	r = cli_call(&c, "PUT", "/v1/agent/leave", NULL, 0, NULL,
	    "Error leaving");
	cli_client_free(&c);
	if (r < 0)
		return CLI_EXIT_ERR;
	printf("Graceful leave complete\n");
	return CLI_EXIT_OK;
}
