/*
 * muster reload: PUT /v1/agent/reload, the same as SIGHUP to the agent
 * (consul's command/reload).  A configuration the agent rejects comes
 * back as a non-200 answer whose body says why; it is printed.
 */
#include <stdio.h>

#include "lib/util.h"
#include "supervisor/cli/api.h"
#include "supervisor/cli/cli.h"

static const char reload_help[] =
    "Usage: muster reload\n"
    "\n"
    "  Causes the agent to reload configurations. This can be used instead\n"
    "  of sending the SIGHUP signal to the agent.";

int
cli_cmd_reload(int argc, char **argv)
{
	struct cli_http_opts ho = { 0 };
	struct cli_flag hf[CLI_HTTP_FLAGS_MAX];
	struct cli_flagset fs[] = { CLI_HTTP_FLAGSET(&ho, hf, false) };
	struct cli_client c;
	int r;

	if ((r = cli_flags_parse(argc, argv, reload_help, fs, nitems(fs))) < 1)
		return cli_flags_exit(r);
	if (cli_client_open(&c, &ho) < 0)
		return CLI_EXIT_ERR;
	r = cli_call(&c, "PUT", "/v1/agent/reload", NULL, 0, NULL,
	    "Error reloading");
	cli_client_free(&c);
	if (r < 0)
		return CLI_EXIT_ERR;
	printf("Configuration reload triggered\n");
	return CLI_EXIT_OK;
}
