/*
 * muster kv put: consul's command/kv/put.  KEY [DATA], DATA being
 * literal, "@file", "-" (stdin) or absent (an empty value); -base64
 * decodes it first.  One request, chosen as consul chooses: -cas
 * (?cas=<-modify-index>, 0 meaning create-only), else -acquire
 * (?acquire=<session>), else -release (?release=<session>), else a plain
 * write; -flags=N rides along when nonzero.  Messages and exit codes are
 * consul's:
 *
 *   Success! Data written to: KEY          Success! Lock acquired on: KEY
 *   Success! Lock released on: KEY
 *   Error! Did not write to KEY: CAS failed                        (exit 1)
 *   Error! Did not write to KEY: CAS performed with index=0 and key
 *     already exists.                                              (exit 1)
 *   Error! Did not acquire lock / Error! Did not release lock      (exit 1)
 *
 * One deliberate difference: data that is not valid base64 under -base64
 * is an error (exit 1, nothing written); consul prints the error but
 * goes on to write whatever prefix decoded and reports success.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/cli/cli.h"
#include "supervisor/cli/cmd_kv.h"

static const char put_help[] =
    "Usage: muster kv put [options] KEY [DATA]\n"
    "\n"
    "  Writes the data to the given path in the key-value store. The data "
    "can be of\n"
    "  any type.\n"
    "\n"
    "      $ muster kv put config/redis/maxconns 5\n"
    "\n"
    "  The data can also be consumed from a file on disk by prefixing with "
    "the \"@\"\n"
    "  symbol. For example:\n"
    "\n"
    "      $ muster kv put config/program/license @license.lic\n"
    "\n"
    "  Or it can be read from stdin using the \"-\" symbol:\n"
    "\n"
    "      $ echo \"abcd1234\" | muster kv put config/program/license -\n"
    "\n"
    "  The DATA argument itself is optional. If omitted, this will create "
    "an empty\n"
    "  key-value pair at the specified path:\n"
    "\n"
    "      $ muster kv put webapp/beta/active\n"
    "\n"
    "  If the -base64 flag is specified, the data will be treated as base "
    "64\n"
    "  encoded.\n"
    "\n"
    "  To perform a Check-And-Set operation, specify the -cas flag with "
    "the\n"
    "  appropriate -modify-index flag corresponding to the key you want to "
    "perform\n"
    "  the CAS operation on:\n"
    "\n"
    "      $ muster kv put -cas -modify-index=844 config/redis/maxconns 5\n"
    "\n"
    "  Additional flags and more advanced use cases are detailed below.";

struct put_opts {
	bool cas, b64, acquire, release;
	uint64_t flags, modify_index;
	const char *session;
};

/* The query as Go's url.Values.Encode sorts it. */
static void
put_path(struct buf *p, const char *key, const struct put_opts *o)
{
	char n[24];

	kv_path(p, key);
	if (!o->cas && o->acquire)
		cli_query_add(p, "acquire", o->session);
	if (o->cas) {
		snprintf(n, sizeof(n), "%" PRIu64, o->modify_index);
		cli_query_add(p, "cas", n);
	}
	if (o->flags) {
		snprintf(n, sizeof(n), "%" PRIu64, o->flags);
		cli_query_add(p, "flags", n);
	}
	if (!o->cas && !o->acquire && o->release)
		cli_query_add(p, "release", o->session);
}

/* The write; 0 with *ok, or -1 with *err as the Go client words it. */
static int
put_send(struct cli_client *c, const char *key, const struct buf *data,
    const struct put_opts *o, bool *ok, struct buf *err)
{
	struct buf path;
	int r;

	*ok = false;
	if (*key == '/') {
		buf_printf(err, "Invalid key. Key must not begin with a "
		    "'/': %s", key);
		return -1;
	}
	buf_init(&path);
	put_path(&path, key, o);
	r = kv_write(c, "PUT", (char *)path.data, data->data, data->len, ok,
	    err);
	buf_free(&path);
	return r;
}

static int
put_report(const char *key, const struct put_opts *o, int r, bool ok,
    const struct buf *err)
{
	const char *e = (const char *)err->data;

	if (o->cas) {
		if (r < 0)
			fprintf(stderr, "Error! Did not write to %s: %s\n",
			    key, e);
		else if (!ok && o->modify_index == 0)
			fprintf(stderr, "Error! Did not write to %s: CAS "
			    "performed with index=0 and key already exists.\n",
			    key);
		else if (!ok)
			fprintf(stderr, "Error! Did not write to %s: CAS "
			    "failed\n", key);
		else
			printf("Success! Data written to: %s\n", key);
	} else if (o->acquire) {
		if (r < 0)
			fprintf(stderr, "Error! Failed writing data: %s\n", e);
		else if (!ok)
			fprintf(stderr, "Error! Did not acquire lock\n");
		else
			printf("Success! Lock acquired on: %s\n", key);
	} else if (o->release) {
		/* consul names the key here, not the error. */
		if (r < 0)
			fprintf(stderr, "Error! Failed writing data: %s\n",
			    key);
		else if (!ok)
			fprintf(stderr, "Error! Did not release lock\n");
		else
			printf("Success! Lock released on: %s\n", key);
	} else if (r < 0)
		fprintf(stderr, "Error! Failed writing data: %s\n", e);
	else
		printf("Success! Data written to: %s\n", key);
	return r == 0 && (ok || (!o->cas && !o->acquire && !o->release)) ?
	    CLI_EXIT_OK : CLI_EXIT_ERR;
}

/* KEY [DATA] into *data, decoded under -base64; 0 or an exit code. */
static int
put_args(int argc, char **argv, const struct put_opts *o, struct buf *data)
{
	struct buf raw, err;
	size_t bad;
	int rc = 0;

	if (argc == 0 || argc > 2) {
		if (argc == 0)
			fprintf(stderr, "Error! Missing KEY argument\n");
		else
			fprintf(stderr, "Error! Too many arguments (expected 1 "
			    "or 2, got %d)\n", argc);
		return CLI_EXIT_ERR;
	}
	buf_init(&raw);
	buf_init(&err);
	if (argc == 2 && kv_load_data(argv[1], &raw, &err) < 0) {
		fprintf(stderr, "Error! %s\n", (char *)err.data);
		rc = CLI_EXIT_ERR;
	} else if (!o->b64)
		buf_add(data, raw.data, raw.len);
	else if (kv_b64_decode((char *)raw.data, raw.len, data, &bad) < 0) {
		fprintf(stderr, "Error! Cannot base 64 decode data: illegal "
		    "base64 data at input byte %zu\n", bad);
		rc = CLI_EXIT_ERR;
	}
	buf_free(&raw);
	buf_free(&err);
	return rc;
}

static int
put_run(struct put_opts *o, struct cli_http_opts *ho, const char *key,
    const struct buf *data)
{
	struct cli_client c;
	struct buf err;
	bool ok;
	int r;

	if ((o->release || o->acquire) && (o->session == NULL ||
	    *o->session == '\0')) {
		fprintf(stderr, "Error! Missing -session (required with "
		    "-acquire and -release)\n");
		return CLI_EXIT_ERR;
	}
	if (cli_client_open(&c, ho) < 0)
		return CLI_EXIT_ERR;
	/* -stale is for reads; the Go client never sends it on a write. */
	c.stale = false;
	buf_init(&err);
	r = put_send(&c, key, data, o, &ok, &err);
	r = put_report(key, o, r, ok, &err);
	buf_free(&err);
	cli_client_free(&c);
	return r;
}

int
cli_cmd_kv_put(int argc, char **argv)
{
	struct put_opts o = { 0 };
	struct cli_http_opts ho = { 0 };
	struct cli_flag hf[CLI_HTTP_FLAGS_MAX];
	struct cli_flag cf[] = {
		CLI_BOOL("acquire", &o.acquire, "Obtain a lock on the key. If "
		    "the key does not exist, this operation will create the "
		    "key and obtain the lock. The session must already exist "
		    "and be specified via the -session flag. The default value "
		    "is false."),
		CLI_BOOL("base64", &o.b64, "Treat the data as base 64 encoded. "
		    "The default value is false."),
		CLI_BOOL("cas", &o.cas, "Perform a Check-And-Set operation. "
		    "Specifying this value also requires the -modify-index "
		    "flag to be set. The default value is false."),
		CLI_U64("flags", &o.flags, "uint", "Unsigned integer value to "
		    "assign to this key-value pair. This value is not read by "
		    "Muster, so clients can use this value however makes sense "
		    "for their use case. The default value is 0 (no flags)."),
		CLI_U64("modify-index", &o.modify_index, "uint", "Unsigned "
		    "integer representing the ModifyIndex of the key. This is "
		    "used in combination with the -cas flag."),
		CLI_BOOL("release", &o.release, "Forfeit the lock on the key "
		    "at the given path. This requires the -session flag to be "
		    "set. The key must be held by the session in order to be "
		    "unlocked. The default value is false."),
		CLI_STR("session", &o.session, "string", "User-defined "
		    "identifer for this session as a string. This is commonly "
		    "used with the -acquire and -release operations to build "
		    "robust locking, but it can be set on any key. The default "
		    "value is empty (no session)."),
	};
	struct cli_flagset fs[] = {
		CLI_HTTP_FLAGSET(&ho, hf, true),
		{ "Command Options", cf, nitems(cf) },
	};
	struct buf data;
	int pos, r;

	if ((pos = cli_flags_parse(argc, argv, put_help, fs,
	    nitems(fs))) < 1)
		return cli_flags_exit(pos);
	buf_init(&data);
	if ((r = put_args(argc - pos, argv + pos, &o, &data)) == 0)
		r = put_run(&o, &ho, argv[pos], &data);
	buf_free(&data);
	return r;
}
