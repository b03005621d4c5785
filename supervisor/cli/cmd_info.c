/*
 * muster info: the Stats object of GET /v1/agent/self as consul prints it
 * (command/info): each section name sorted, "name:", then its keys sorted,
 * one "\tkey = value" line each.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "supervisor/cli/api.h"
#include "supervisor/cli/cli.h"

static const char info_help[] =
    "Usage: muster info [options]\n"
    "\n"
    "  Provides debugging information for operators";

/* Indices of obj's keys in byte order (Go's sort.Strings). */
static size_t *
sorted_keys(yajl_val obj)
{
	size_t n = obj->u.object.len, i, j, *ix = xcalloc(n + 1, sizeof(*ix));

	for (i = 0; i < n; i++)
		ix[i] = i;
	for (i = 1; i < n; i++)	/* insertion sort: sections are short */
		for (j = i; j > 0 && strcmp(obj->u.object.keys[ix[j - 1]],
		    obj->u.object.keys[ix[j]]) > 0; j--) {
			size_t t = ix[j];
			ix[j] = ix[j - 1];
			ix[j - 1] = t;
		}
	return ix;
}

static int
info_print(yajl_val stats)
{
	size_t *ix = sorted_keys(stats), i, j;
	int rc = CLI_EXIT_OK;

	for (i = 0; i < stats->u.object.len; i++) {
		yajl_val sec = stats->u.object.values[ix[i]];
		size_t *sx;

		printf("%s:\n", stats->u.object.keys[ix[i]]);
		if (!YAJL_IS_OBJECT(sec)) {
			fprintf(stderr, "Got invalid subkey in stats: %s\n",
			    stats->u.object.keys[ix[i]]);
			rc = CLI_EXIT_ERR;
			break;
		}
		sx = sorted_keys(sec);
		for (j = 0; j < sec->u.object.len; j++) {
			yajl_val v = sec->u.object.values[sx[j]];

			printf("\t%s = ", sec->u.object.keys[sx[j]]);
			cli_json_print_scalar(stdout, v);
			putchar('\n');
		}
		free(sx);
	}
	free(ix);
	return rc;
}

int
cli_cmd_info(int argc, char **argv)
{
	struct cli_http_opts ho = { 0 };
	struct cli_flag hf[CLI_HTTP_FLAGS_MAX];
	struct cli_flagset fs[] = { CLI_HTTP_FLAGSET(&ho, hf, false) };
	struct cli_http_resp r;
	struct cli_client c;
	struct buf err;
	yajl_val root = NULL, stats;
	int rc = CLI_EXIT_ERR;

	if ((rc = cli_flags_parse(argc, argv, info_help, fs, nitems(fs))) < 1)
		return cli_flags_exit(rc);
	if (cli_client_open(&c, &ho) < 0)
		return CLI_EXIT_ERR;
	rc = CLI_EXIT_ERR;
	cli_http_resp_init(&r);
	buf_init(&err);
	if (cli_call(&c, "GET", "/v1/agent/self", NULL, 0, &r,
	    "Error querying agent") < 0)
		goto out;
	if ((root = cli_json_parse(&r.body, &err)) == NULL) {
		fprintf(stderr, "Error querying agent: %s\n", (char *)err.data);
		goto out;
	}
	if (!YAJL_IS_OBJECT(stats = cli_json_get(root, "Stats"))) {
		fprintf(stderr, "Agent response did not contain 'Stats' key\n");
		goto out;
	}
	rc = info_print(stats);
out:
	yajl_tree_free(root);
	buf_free(&err);
	cli_http_resp_free(&r);
	cli_client_free(&c);
	return rc;
}
