/*
 * muster kv export: consul's command/kv/exp.  Every pair under the
 * prefix (all of them when none is given) as the JSON array `kv import`
 * reads, written as Go's json.MarshalIndent(entries, "", "\t") writes
 * it: one {"key", "flags", "value" (base64)} object per pair, in the
 * store's key order, strings escaped as encoding/json escapes them, and
 * "[]" when there is nothing.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/base64.h"
#include "supervisor/cli/cli.h"
#include "supervisor/cli/cmd_kv.h"

static const char export_help[] =
    "Usage: muster kv export [KEY_OR_PREFIX]\n"
    "\n"
    "  Retrieves key-value pairs for the given prefix from Muster's "
    "key-value store,\n"
    "  and writes a JSON representation to stdout. This can be used with "
    "the command\n"
    "  \"muster kv import\" to move entire trees between Muster clusters.\n"
    "\n"
    "      $ muster kv export vault\n"
    "\n"
    "  For a full list of options and examples, please see the "
    "documentation.";

static void
export_field(struct buf *j, const char *name, const char *s, bool last)
{
	buf_printf(j, "\t\t\"%s\": ", name);
	kv_json_string(j, s, strlen(s));
	buf_addstr(j, last ? "\n" : ",\n");
}

/* The JSON document, without UI.Info's final newline. */
static void
export_json(struct buf *j, const struct kv_pair *ps, size_t n)
{
	size_t i;
	char *v;

	if (n == 0) {
		buf_addstr(j, "[]");
		return;
	}
	buf_addstr(j, "[\n");
	for (i = 0; i < n; i++) {
		const struct kv_pair *p = &ps[i];

		v = base64_encode(p->value.data, p->value.len);
		buf_addstr(j, "\t{\n");
		export_field(j, "key", p->key, false);
		buf_printf(j, "\t\t\"flags\": %" PRIu64 ",\n", p->flags);
		export_field(j, "value", v, !p->ns && !p->partition);
		/* Enterprise fields, omitted when empty. */
		if (p->ns)
			export_field(j, "namespace", p->ns, !p->partition);
		if (p->partition)
			export_field(j, "partition", p->partition, true);
		buf_addstr(j, i + 1 < n ? "\t},\n" : "\t}\n");
		free(v);
	}
	buf_addch(j, ']');
}

int
cli_cmd_kv_export(int argc, char **argv)
{
	struct cli_http_opts ho = { 0 };
	struct cli_flag hf[CLI_HTTP_FLAGS_MAX];
	struct cli_flagset fs[] = { CLI_HTTP_FLAGSET(&ho, hf, true) };
	struct cli_client c;
	struct kv_pair *ps;
	struct buf err, j;
	const char *key;
	size_t n;
	int r;

	if ((r = cli_flags_parse(argc, argv, export_help, fs,
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
	if (cli_client_open(&c, &ho) < 0)
		return CLI_EXIT_ERR;
	buf_init(&err);
	buf_init(&j);
	if (kv_read_pairs(&c, key, true, &ps, &n, &err) < 0) {
		fprintf(stderr, "Error querying agent: %s\n", (char *)err.data);
		r = CLI_EXIT_ERR;
	} else {
		export_json(&j, ps, n);
		buf_addch(&j, '\n');
		fwrite(j.data, 1, j.len, stdout);
		kv_pairs_free(ps, n);
		r = CLI_EXIT_OK;
	}
	buf_free(&err);
	buf_free(&j);
	cli_client_free(&c);
	return r;
}
