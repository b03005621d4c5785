/*
 * muster validate: configuration checking belongs to the configuration
 * code (supervisor/config.c); main() calls it directly, and the client
 * routes here too so that `muster validate` behaves the same whichever
 * way it is reached.
 */
#include "supervisor/cli/cli.h"
#include "supervisor/config.h"

int
cli_cmd_validate(int argc, char **argv)
{
	return cfg_validate_cmd(argc, argv);
}
