/*
 * muster kv get: consul's command/kv/get.  One key prints its raw value
 * and a newline; -recurse prints "key:value" lines; -keys lists the keys
 * under a prefix folded at -separator (or, with -recurse, every key);
 * -detailed prints each pair as a text/tabwriter table (minwidth 0,
 * padding 6) of CreateIndex, Flags, Key, LockIndex, ModifyIndex, Session
 * ("-" when none) and Value, tables separated by an empty line; -base64
 * prints values base64-encoded.  A missing key is "Error! No key exists
 * at: KEY" and exit 1; an empty prefix prints nothing and exits 0.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/base64.h"
#include "supervisor/cli/cli.h"
#include "supervisor/cli/cmd_kv.h"

static const char get_help[] =
    "Usage: muster kv get [options] [KEY_OR_PREFIX]\n"
    "\n"
    "  Retrieves the value from Muster's key-value store at the given key "
    "name. If no\n"
    "  key exists with that name, an error is returned. If a key exists "
    "with that\n"
    "  name but has no data, nothing is returned. If the name or prefix is "
    "omitted,\n"
    "  it defaults to \"\" which is the root of the key-value store.\n"
    "\n"
    "  To retrieve the value for the key named \"foo\" in the key-value "
    "store:\n"
    "\n"
    "      $ muster kv get foo\n"
    "\n"
    "  This will return the original, raw value stored in Muster. To view "
    "detailed\n"
    "  information about the key, specify the \"-detailed\" flag. This will "
    "output all\n"
    "  known metadata about the key including ModifyIndex and any "
    "user-supplied\n"
    "  flags:\n"
    "\n"
    "      $ muster kv get -detailed foo\n"
    "\n"
    "  To treat the path as a prefix and list all keys which start with the "
    "given\n"
    "  prefix, specify the \"-recurse\" flag:\n"
    "\n"
    "      $ muster kv get -recurse foo\n"
    "\n"
    "  This will return all key-value pairs. To just list the keys which "
    "start with\n"
    "  the specified prefix, use the \"-keys\" option instead:\n"
    "\n"
    "      $ muster kv get -keys foo\n"
    "\n"
    "  For a full list of options and examples, please see the "
    "documentation.";

struct get_opts {
	bool b64, detailed, keys, recurse;
	const char *sep;
};

static void
put_value(struct buf *b, const struct buf *v, bool b64)
{
	char *e;

	if (b64) {
		e = base64_encode(v->data, v->len);
		buf_addstr(b, e);
		free(e);
	} else
		buf_add(b, v->data, v->len);
}

/* consul's prettyKVPair, then UI.Info's newline. */
static void
print_detailed(const struct kv_pair *p, bool b64, bool keys_only)
{
	struct buf t, out;

	buf_init(&t);
	buf_init(&out);
	buf_printf(&t, "CreateIndex\t%" PRIu64 "\nFlags\t%" PRIu64 "\nKey\t%s\n"
	    "LockIndex\t%" PRIu64 "\nModifyIndex\t%" PRIu64 "\nSession\t%s\n",
	    p->create_index, p->flags, p->key, p->lock_index, p->modify_index,
	    p->session ? p->session : "-");
	if (p->partition)
		buf_printf(&t, "Partition\t%s\n", p->partition);
	if (p->ns)
		buf_printf(&t, "Namespace\t%s\n", p->ns);
	if (!keys_only) {
		buf_addstr(&t, "Value\t");
		put_value(&t, &p->value, b64);
	}
	kv_tabwrite(&out, (char *)t.data, t.len, 0, 6);
	buf_addch(&out, '\n');
	fwrite(out.data, 1, out.len, stdout);
	buf_free(&t);
	buf_free(&out);
}

static int
get_keys(struct cli_client *c, const char *key, const struct get_opts *o)
{
	struct buf err;
	char **keys;
	size_t n, i;

	buf_init(&err);
	if (kv_read_keys(c, key, o->sep, &keys, &n, &err) < 0) {
		fprintf(stderr, "Error querying agent: %s\n", (char *)err.data);
		buf_free(&err);
		return CLI_EXIT_ERR;
	}
	for (i = 0; i < n; i++)
		printf("%s\n", keys[i]);
	kv_keys_free(keys, n);
	buf_free(&err);
	return CLI_EXIT_OK;
}

static void
print_list(const struct kv_pair *ps, size_t n, const struct get_opts *o)
{
	struct buf line;
	size_t i;

	buf_init(&line);
	for (i = 0; i < n; i++) {
		if (o->detailed) {
			print_detailed(&ps[i], o->b64, o->keys);
			if (i + 1 < n)
				putchar('\n');
			continue;
		}
		buf_reset(&line);
		buf_addstr(&line, ps[i].key);
		if (!o->keys) {
			buf_addch(&line, ':');
			put_value(&line, &ps[i].value, o->b64);
		}
		buf_addch(&line, '\n');
		fwrite(line.data, 1, line.len, stdout);
	}
	buf_free(&line);
}

static int
get_pairs(struct cli_client *c, const char *key, const struct get_opts *o)
{
	struct kv_pair *ps;
	struct buf err, v;
	size_t n;
	int rc = CLI_EXIT_ERR;

	buf_init(&err);
	buf_init(&v);
	if (kv_read_pairs(c, key, o->recurse, &ps, &n, &err) < 0) {
		fprintf(stderr, "Error querying agent: %s\n", (char *)err.data);
		goto out;
	}
	if (o->recurse)
		print_list(ps, n, o);
	else if (n == 0)
		fprintf(stderr, "Error! No key exists at: %s\n", key);
	else if (o->detailed)
		print_detailed(&ps[0], o->b64, false);
	else {
		put_value(&v, &ps[0].value, o->b64);
		buf_addch(&v, '\n');
		fwrite(v.data, 1, v.len, stdout);
	}
	if (o->recurse || n > 0)
		rc = CLI_EXIT_OK;
	kv_pairs_free(ps, n);
out:
	buf_free(&err);
	buf_free(&v);
	return rc;
}

int
cli_cmd_kv_get(int argc, char **argv)
{
	struct get_opts o = { .sep = "/" };
	struct cli_http_opts ho = { 0 };
	struct cli_flag hf[CLI_HTTP_FLAGS_MAX];
	struct cli_flag cf[] = {
		CLI_BOOL("base64", &o.b64,
		    "Base64 encode the value. The default value is false."),
		CLI_BOOL("detailed", &o.detailed, "Provide additional metadata "
		    "about the key in addition to the value such as the "
		    "ModifyIndex and any flags that may have been set on the "
		    "key. The default value is false."),
		CLI_BOOL("keys", &o.keys, "List keys which start with the "
		    "given prefix, but not their values. This is especially "
		    "useful if you only need the key names themselves. This "
		    "option is commonly combined with the -separator option. "
		    "The default value is false."),
		CLI_BOOL("recurse", &o.recurse, "Recursively look at all keys "
		    "prefixed with the given path. The default value is "
		    "false."),
		CLI_STR("separator", &o.sep, "string", "String to use as a "
		    "separator between keys. The default value is \"/\", but "
		    "this option is only taken into account when paired with "
		    "the -keys flag."),
	};
	struct cli_flagset fs[] = {
		CLI_HTTP_FLAGSET(&ho, hf, true),
		{ "Command Options", cf, nitems(cf) },
	};
	struct cli_client c;
	const char *key;
	int r;

	if ((r = cli_flags_parse(argc, argv, get_help, fs, nitems(fs))) < 1)
		return cli_flags_exit(r);
	if (argc - r > 1) {
		fprintf(stderr, "Too many arguments (expected 1, got %d)\n",
		    argc - r);
		return CLI_EXIT_ERR;
	}
	key = r < argc ? argv[r] : "";
	/* Keys never start with '/'; consul strips one for the user. */
	if (*key == '/')
		key++;
	if (*key == '\0' && !o.recurse && !o.keys) {
		fprintf(stderr, "Error! Missing KEY argument\n");
		return CLI_EXIT_ERR;
	}
	if (cli_client_open(&c, &ho) < 0)
		return CLI_EXIT_ERR;
	r = o.keys && !o.recurse ? get_keys(&c, key, &o) :
	    get_pairs(&c, key, &o);
	cli_client_free(&c);
	return r;
}
