/*
 * The dns worker's packet layer and serving engine: codec, zone answers,
 * catalog answers through the lookup interface, and the UDP/TCP server
 * with recursor forwarding over real loopback sockets.
 */
#include <stdlib.h>

#include "tests/unit/dns/dnstest.h"

int
main(void)
{
	SRunner *sr = srunner_create(wire_suite());
	srunner_add_suite(sr, zone_suite());
	srunner_add_suite(sr, catalog_suite());
	srunner_add_suite(sr, net_suite());
	srunner_add_suite(sr, model_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
