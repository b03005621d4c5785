/*
 * muster kv delete: consul's command/kv/del.  KEY (one leading '/'
 * dropped), or with -recurse every key under the prefix (the empty
 * prefix included); -cas -modify-index=N deletes only if the key's
 * ModifyIndex is N.  Deleting a key that does not exist succeeds, as in
 * consul.  Messages: "Success! Deleted key: KEY", "Success! Deleted keys
 * with prefix: KEY", "Error! Did not delete key KEY: CAS failed".
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "supervisor/cli/cli.h"
#include "supervisor/cli/cmd_kv.h"

static const char delete_help[] =
    "Usage: muster kv delete [options] KEY_OR_PREFIX\n"
    "\n"
    "  Removes the value from Muster's key-value store at the given path. "
    "If no\n"
    "  key exists at the path, no action is taken.\n"
    "\n"
    "  To delete the value for the key named \"foo\" in the key-value "
    "store:\n"
    "\n"
    "      $ muster kv delete foo\n"
    "\n"
    "  To delete all keys which start with \"foo\", specify the -recurse "
    "option:\n"
    "\n"
    "      $ muster kv delete -recurse foo\n"
    "\n"
    "  This will delete the keys named \"foo\", \"food\", and "
    "\"foo/bar/zip\" if they\n"
    "  existed.";

struct delete_opts {
	bool cas, recurse;
	uint64_t modify_index;
};

/* consul's checks, in its order; an error message or NULL. */
static const char *
delete_check(const char *key, const struct delete_opts *o)
{
	if (*key == '\0' && !o->recurse)
		return "Error! Missing KEY argument";
	if (o->cas && o->modify_index == 0)
		return "Cannot delete a key that does not exist. Provide a "
		    "-modify-index greater than than 0.";
	if (o->modify_index != 0 && !o->cas)
		return "Cannot specify -modify-index without -cas!";
	if (o->recurse && o->cas)
		return "Cannot specify both -cas and -recurse!";
	return NULL;
}

static int
delete_run(struct cli_client *c, const char *key, const struct delete_opts *o)
{
	struct buf path, err;
	char n[24];
	bool ok;
	int r;

	buf_init(&path);
	buf_init(&err);
	kv_path(&path, key);
	if (o->recurse)
		cli_query_add(&path, "recurse", NULL);
	else if (o->cas) {
		snprintf(n, sizeof(n), "%" PRIu64, o->modify_index);
		cli_query_add(&path, "cas", n);
	}
	r = kv_write(c, "DELETE", (char *)path.data, NULL, 0, &ok, &err);
	if (o->recurse && r < 0)
		fprintf(stderr, "Error! Did not delete prefix %s: %s\n", key,
		    (char *)err.data);
	else if (o->recurse)
		printf("Success! Deleted keys with prefix: %s\n", key);
	else if (o->cas && r < 0)
		fprintf(stderr, "Error! Did not delete key %s: %s\n", key,
		    (char *)err.data);
	else if (o->cas && !ok)
		fprintf(stderr, "Error! Did not delete key %s: CAS failed\n",
		    key);
	else if (r < 0)
		fprintf(stderr, "Error deleting key %s: %s\n", key,
		    (char *)err.data);
	else
		printf("Success! Deleted key: %s\n", key);
	buf_free(&path);
	buf_free(&err);
	return r == 0 && (ok || !o->cas) ? CLI_EXIT_OK : CLI_EXIT_ERR;
}

int
cli_cmd_kv_delete(int argc, char **argv)
{
	struct delete_opts o = { 0 };
	struct cli_http_opts ho = { 0 };
	struct cli_flag hf[CLI_HTTP_FLAGS_MAX];
	struct cli_flag cf[] = {
		CLI_BOOL("cas", &o.cas, "Perform a Check-And-Set operation. "
		    "Specifying this value also requires the -modify-index "
		    "flag to be set. The default value is false."),
		CLI_U64("modify-index", &o.modify_index, "uint", "Unsigned "
		    "integer representing the ModifyIndex of the key. This is "
		    "used in combination with the -cas flag."),
		CLI_BOOL("recurse", &o.recurse, "Recursively delete all keys "
		    "with the path. The default value is false."),
	};
	struct cli_flagset fs[] = {
		CLI_HTTP_FLAGSET(&ho, hf, true),
		{ "Command Options", cf, nitems(cf) },
	};
	struct cli_client c;
	const char *key, *e;
	int r;

	if ((r = cli_flags_parse(argc, argv, delete_help, fs,
	    nitems(fs))) < 1)
		return cli_flags_exit(r);
	if (argc - r > 1) {
		fprintf(stderr, "Too many arguments (expected 1, got %d)\n",
		    argc - r);
		return CLI_EXIT_ERR;
	}
	key = r < argc ? argv[r] : "";
	if (*key == '/')
		key++;
	if ((e = delete_check(key, &o)) != NULL) {
		fprintf(stderr, "%s\n", e);
		return CLI_EXIT_ERR;
	}
	if (cli_client_open(&c, &ho) < 0)
		return CLI_EXIT_ERR;
	c.stale = false;
	r = delete_run(&c, key, &o);
	cli_client_free(&c);
	return r;
}
