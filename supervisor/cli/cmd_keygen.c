/*
 * muster keygen: a gossip encryption key, 32 random bytes (AES-256, the
 * size consul's keygen makes) in standard base64, the form -encrypt and
 * the "encrypt" config key take.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/base64.h"
#include "lib/util.h"
#include "supervisor/cli/cli.h"
#include "supervisor/cli/flags.h"

static const char keygen_help[] =
    "Usage: muster keygen\n"
    "\n"
    "  Generates a new 32-byte encryption key that can be used to configure\n"
    "  the agent to encrypt traffic. The output of this command is already\n"
    "  in the proper format that the agent expects.";

int
cli_cmd_keygen(int argc, char **argv)
{
	unsigned char key[32];
	char *b64;
	int r;

	if ((r = cli_flags_parse(argc, argv, keygen_help, NULL, 0)) < 1)
		return cli_flags_exit(r);
	if ((r = random_bytes(key, sizeof(key))) < 0) {
		fprintf(stderr, "Error reading random data: %s\n",
		    strerror(-r));
		return CLI_EXIT_ERR;
	}
	b64 = base64_encode(key, sizeof(key));
	printf("%s\n", b64);
	free(b64);
	explicit_bzero(key, sizeof(key));
	return CLI_EXIT_OK;
}
