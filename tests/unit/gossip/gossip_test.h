/* Shared declarations of the gossip unit test suite (test name 'gossip'). */
#ifndef MUSTER_TEST_GOSSIP_H
#define MUSTER_TEST_GOSSIP_H

#include <check.h>

/* Directory of the capture vectors (argv[1]). */
extern const char *gt_datadir;

TCase *gt_codec_tcase(void);
TCase *gt_capture_tcase(void);
TCase *gt_sim_tcase(void);
TCase *gt_sim2_tcase(void);

#endif
