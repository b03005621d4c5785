/*
 * The gossip worker's protocol: codecs checked against live serf
 * captures, malformed input, and the deterministic membership core in a
 * simulated cluster.  argv[1] is the directory with the capture vectors.
 */
#include <stdlib.h>

#include "lib/log.h"
#include "tests/unit/gossip/gossip_test.h"

const char *gt_datadir = "data";

int
main(int argc, char **argv)
{
	if (argc > 1)
		gt_datadir = argv[1];
	log_init("test_gossip", LOG_LVL_ERROR, false);
	Suite *s = suite_create("gossip");
	suite_add_tcase(s, gt_codec_tcase());
	suite_add_tcase(s, gt_capture_tcase());
	suite_add_tcase(s, gt_sim_tcase());
	suite_add_tcase(s, gt_sim2_tcase());
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
