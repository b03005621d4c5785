/*
 * muster force-leave [-prune] [-wan] NODE: PUT /v1/agent/force-leave/NODE
 * (consul's command/forceleave).  Silent on success.
 */
#include <stdio.h>

#include "lib/util.h"
#include "supervisor/cli/api.h"
#include "supervisor/cli/cli.h"

static const char force_leave_help[] =
    "Usage: muster force-leave [options] name\n"
    "\n"
    "  Forces a member of a Muster cluster to enter the \"left\" state. "
    "Note\n"
    "  that if the member is still actually alive, it will eventually "
    "rejoin\n"
    "  the cluster. This command is most useful for cleaning out "
    "\"failed\" nodes\n"
    "  that are never coming back. If you do not force leave a failed "
    "node,\n"
    "  Muster will attempt to reconnect to those failed nodes for some "
    "period of\n"
    "  time before eventually reaping them.";

int
cli_cmd_force_leave(int argc, char **argv)
{
	struct cli_http_opts ho = { 0 };
	struct cli_flag hf[CLI_HTTP_FLAGS_MAX];
	bool prune = false, wan = false;
	struct cli_flag cf[] = {
		CLI_BOOL("prune", &prune, "Remove agent forcibly from list of "
		    "members"),
		CLI_BOOL("wan", &wan, "Exclusively leave the agent from the "
		    "WAN serf pool."),
	};
	struct cli_flagset fs[] = {
		CLI_HTTP_FLAGSET(&ho, hf, false),
		{ "Command Options", cf, nitems(cf) },
	};
	struct cli_client c;
	struct buf path;
	int r;

	if ((r = cli_flags_parse(argc, argv, force_leave_help, fs,
	    nitems(fs))) < 1)
		return cli_flags_exit(r);
	if (argc - r != 1) {
		fprintf(stderr, "A single node name must be specified to force "
		    "leave.\n\n");
		cli_flags_usage(stderr, force_leave_help, fs, nitems(fs));
		return CLI_EXIT_ERR;
	}
	if (cli_client_open(&c, &ho) < 0)
		return CLI_EXIT_ERR;
	buf_init(&path);
	buf_addstr(&path, "/v1/agent/force-leave/");
	cli_url_escape(&path, argv[r], false);
	if (prune)
		cli_query_add(&path, "prune", "1");
	if (wan)
		cli_query_add(&path, "wan", "1");
	r = cli_call(&c, "PUT", (char *)path.data, NULL, 0, NULL,
	    "Error force leaving");
	buf_free(&path);
	cli_client_free(&c);
	return r < 0 ? CLI_EXIT_ERR : CLI_EXIT_OK;
}
