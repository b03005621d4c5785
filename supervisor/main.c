/*
 * One executable: `muster agent` starts the supervisor, `muster worker
 * NAME` is a worker (started by the supervisor only), `muster validate`
 * checks configuration, and every other subcommand is a client of the
 * agent's HTTP API (or its control socket).
 */
#include "lib/log.h"
#include "lib/proctitle.h"
#include "supervisor/cli/cli.h"
#include "supervisor/config.h"
#include "supervisor/sup.h"
#include "workers/common/worker.h"

#include <string.h>

int
main(int argc, char **argv)
{
	proctitle_init(argc, argv);
	log_init("muster", LOG_LVL_INFO, false);
	if (argc >= 2 && strcmp(argv[1], "agent") == 0)
		return sup_agent_main(argc - 2, argv + 2);
	if (argc >= 2 && strcmp(argv[1], "worker") == 0)
		return worker_main(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "validate") == 0)
		return cfg_validate_cmd(argc - 1, argv + 1);
	return cli_main(argc, argv);
}
