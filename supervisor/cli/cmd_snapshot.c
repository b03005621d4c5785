/*
 * muster snapshot save|restore|inspect (consul's command/snapshot):
 * archives of the replicated state through /v1/snapshot.  save writes to
 * FILE.tmp, verifies the archive's checksums, then renames, so a partial
 * download never looks like a snapshot.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/archive.h"
#include "lib/json.h"
#include "lib/util.h"
#include "supervisor/cli/api.h"
#include "supervisor/cli/cli.h"

static int
parse_one_arg(int argc, char **argv, const char *help,
    struct cli_http_opts *ho, bool server, const char **file)
{
	struct cli_flag hf[CLI_HTTP_FLAGS_MAX];
	struct cli_flagset fs[] = { CLI_HTTP_FLAGSET(ho, hf, server) };
	int r = cli_flags_parse(argc, argv, help, fs, nitems(fs));
	if (r < 1)
		return cli_flags_exit(r);
	if (argc - r != 1) {
		fprintf(stderr, argc - r == 0 ? "Missing FILE argument\n" :
		    "Too many arguments (expected 1, got %d)\n", argc - r);
		return CLI_EXIT_ERR;
	}
	*file = argv[r];
	return -1;	/* parsed: go on */
}

static const char save_help[] =
    "Usage: muster snapshot save [options] FILE\n"
    "\n"
    "  Retrieves an atomic, point-in-time snapshot of the state of the\n"
    "  Muster servers, which includes key/value entries, and saves it to\n"
    "  FILE.  Use -stale to take it from any server, even without a leader.";

static int
cmd_save(int argc, char **argv)
{
	struct cli_http_opts ho = { 0 };
	struct cli_client c;
	struct cli_http_resp resp;
	struct archive_file f[3];
	const char *file, *why;
	char tmp[4096];
	int r = parse_one_arg(argc, argv, save_help, &ho, true, &file);
	if (r >= 0)
		return r;
	if (cli_client_open(&c, &ho) < 0)
		return CLI_EXIT_ERR;
	c.t.io_timeout_ms = 0;
	cli_http_resp_init(&resp);
	r = cli_call(&c, "GET", "/v1/snapshot", NULL, 0, &resp,
	    "Error saving snapshot");
	cli_client_free(&c);
	if (r < 0)
		goto fail;
	if (archive_snapshot_open(resp.body.data, resp.body.len, f, &why) < 0) {
		fprintf(stderr, "Error verifying snapshot file: %s\n", why);
		goto fail;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", file);
	FILE *out = fopen(tmp, "we");
	if (out == NULL || fwrite(resp.body.data, 1, resp.body.len, out) !=
	    resp.body.len || fflush(out) != 0 || fsync(fileno(out)) < 0 ||
	    fclose(out) != 0 || rename(tmp, file) < 0) {
		fprintf(stderr, "Error writing snapshot file: %s\n",
		    strerror(errno));
		unlink(tmp);
		goto fail;
	}
	const char *idx = cli_http_resp_header(&resp, "X-Consul-Index");
	printf("Saved and verified snapshot to index %s\n", idx ? idx : "0");
	cli_http_resp_free(&resp);
	return CLI_EXIT_OK;
fail:
	cli_http_resp_free(&resp);
	return CLI_EXIT_ERR;
}

static const char restore_help[] =
    "Usage: muster snapshot restore [options] FILE\n"
    "\n"
    "  Restores an atomic, point-in-time snapshot of the state of the\n"
    "  Muster servers, replacing everything in them.";

static int
cmd_restore(int argc, char **argv)
{
	struct cli_http_opts ho = { 0 };
	struct cli_client c;
	struct buf data;
	const char *file;
	int r = parse_one_arg(argc, argv, restore_help, &ho, false, &file);
	if (r >= 0)
		return r;
	buf_init(&data);
	if ((r = read_file(file, 1024u * 1024 * 1024, &data)) < 0) {
		fprintf(stderr, "Error opening snapshot file: %s\n",
		    strerror(-r));
		buf_free(&data);
		return CLI_EXIT_ERR;
	}
	if (cli_client_open(&c, &ho) < 0) {
		buf_free(&data);
		return CLI_EXIT_ERR;
	}
	c.t.io_timeout_ms = 0;
	r = cli_call(&c, "PUT", "/v1/snapshot", data.data, data.len, NULL,
	    "Error restoring snapshot");
	cli_client_free(&c);
	buf_free(&data);
	if (r < 0)
		return CLI_EXIT_ERR;
	printf("Restored snapshot\n");
	return CLI_EXIT_OK;
}

static const char inspect_help[] =
    "Usage: muster snapshot inspect FILE\n"
    "\n"
    "  Displays information about a snapshot file on disk.";

static void
print_field(yajl_val meta, const char *key)
{
	yajl_val v = json_get(meta, key);
	printf(" %-12s ", key);
	if (v && YAJL_IS_STRING(v))
		printf("%s\n", YAJL_GET_STRING(v));
	else if (v && YAJL_IS_NUMBER(v))
		printf("%s\n", YAJL_GET_NUMBER(v));
	else
		printf("\n");
}

static int
cmd_inspect(int argc, char **argv)
{
	struct buf data, err;
	struct archive_file f[3];
	const char *why;
	int r;
	if (argc == 2 && (strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "-help") == 0 || strcmp(argv[1], "--help") == 0)) {
		printf("%s\n", inspect_help);
		return CLI_EXIT_OK;
	}
	if (argc != 2) {
		fprintf(stderr, "%s\n", inspect_help);
		return CLI_EXIT_ERR;
	}
	buf_init(&data);
	buf_init(&err);
	if ((r = read_file(argv[1], 1024u * 1024 * 1024, &data)) < 0) {
		fprintf(stderr, "Error opening snapshot file: %s\n", strerror(-r));
		goto fail;
	}
	if (archive_snapshot_open(data.data, data.len, f, &why) < 0) {
		fprintf(stderr, "Error verifying snapshot: %s\n", why);
		goto fail;
	}
	yajl_val meta = json_parse((const char *)f[0].data, f[0].len, &err);
	if (meta == NULL || !YAJL_IS_OBJECT(meta)) {
		fprintf(stderr, "Error reading snapshot metadata\n");
		yajl_tree_free(meta);
		goto fail;
	}
	print_field(meta, "ID");
	print_field(meta, "Size");
	print_field(meta, "Index");
	print_field(meta, "Term");
	print_field(meta, "Version");
	yajl_tree_free(meta);
	buf_free(&data);
	buf_free(&err);
	return CLI_EXIT_OK;
fail:
	buf_free(&data);
	buf_free(&err);
	return CLI_EXIT_ERR;
}

static const char snapshot_help[] =
    "Usage: muster snapshot <subcommand> [options] [args]\n"
    "\n"
    "  Saves, restores and inspects snapshots of the Muster servers' state:\n"
    "\n"
    "      $ muster snapshot save backup.snap\n"
    "      $ muster snapshot restore backup.snap\n"
    "      $ muster snapshot inspect backup.snap";

static const struct cli_cmd snapshot_cmds[] = {
	{ "inspect", cmd_inspect, "Displays information about a snapshot file" },
	{ "restore", cmd_restore, "Restores snapshot of Muster server state" },
	{ "save", cmd_save, "Saves snapshot of Muster server state" },
};

int
cli_cmd_snapshot(int argc, char **argv)
{
	return cli_dispatch(snapshot_help, snapshot_cmds, nitems(snapshot_cmds),
	    argc, argv);
}
