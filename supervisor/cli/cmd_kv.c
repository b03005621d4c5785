/*
 * muster kv: the subcommand table, and the KV requests the subcommands
 * share, made as Consul's Go API client makes them (api/kv.go): reads
 * accept 200 and 404 (404 is "no such key", never an error), writes
 * accept only 200 and succeed when the answer contains "true"; any
 * other status is StatusError's "Unexpected response code: N (body)".
 */
#include "supervisor/cli/cmd_kv.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "supervisor/cli/cli.h"

/* Largest read answer kept in memory: 2048 values at the 512 KiB cap. */
#define KV_READ_MAX ((size_t)1 << 30)

static const char kv_help[] =
    "Usage: muster kv <subcommand> [options] [args]\n"
    "\n"
    "  This command has subcommands for interacting with Muster's "
    "key-value\n"
    "  store. Here are some simple examples, and more detailed examples "
    "are\n"
    "  available in the subcommands or the documentation.\n"
    "\n"
    "  Create or update the key named \"redis/config/connections\" with "
    "the value \"5\":\n"
    "\n"
    "      $ muster kv put redis/config/connections 5\n"
    "\n"
    "  Read this value back:\n"
    "\n"
    "      $ muster kv get redis/config/connections\n"
    "\n"
    "  Or get detailed key information:\n"
    "\n"
    "      $ muster kv get -detailed redis/config/connections\n"
    "\n"
    "  Finally, delete the key:\n"
    "\n"
    "      $ muster kv delete redis/config/connections\n"
    "\n"
    "  For more examples, ask for subcommand help or view the "
    "documentation.";

static const struct cli_cmd kv_cmds[] = {
	{ "delete", cli_cmd_kv_delete, "Removes data from the KV store" },
	{ "export", cli_cmd_kv_export,
	    "Exports a tree from the KV store as JSON" },
	{ "get", cli_cmd_kv_get, "Retrieves or lists data from the KV store" },
	{ "import", cli_cmd_kv_import,
	    "Imports a tree stored as JSON to the KV store" },
	{ "put", cli_cmd_kv_put, "Sets or updates data in the KV store" },
};

int
cli_cmd_kv(int argc, char **argv)
{
	return cli_dispatch(kv_help, kv_cmds, nitems(kv_cmds), argc, argv);
}

void
kv_pairs_free(struct kv_pair *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(p[i].key);
		buf_free(&p[i].value);
		free(p[i].session);
		free(p[i].ns);
		free(p[i].partition);
	}
	free(p);
}

void
kv_keys_free(char **k, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(k[i]);
	free(k);
}

void
kv_path(struct buf *path, const char *key)
{
	buf_addstr(path, "/v1/kv/");
	cli_url_escape(path, key, true);
}

/* Go's StatusError text, the body cut of surrounding white space. */
static void
status_error(struct buf *err, const struct cli_http_resp *r)
{
	static const char ws[] = " \t\r\n\v\f";
	size_t s = 0, e = r->body.len;

	while (s < e && strchr(ws, r->body.data[s]))
		s++;
	while (e > s && strchr(ws, r->body.data[e - 1]))
		e--;
	buf_printf(err, "Unexpected response code: %d (", r->status);
	buf_add(err, r->body.data + s, e - s);
	buf_addch(err, ')');
}

/*
 * GET with Go's getInternal rules: 0 with the 200 answer parsed into
 * *root, 0 with *root NULL on 404, -1 with *err set otherwise.
 */
static int
kv_get(struct cli_client *c, const char *path, yajl_val *root,
    struct buf *err)
{
	/* A whole tree (export) may well pass the client's default cap. */
	struct cli_http_req req = { .method = "GET", .path = path,
		.max_body = KV_READ_MAX };
	struct cli_http_resp r;
	int rc = -1;

	*root = NULL;
	cli_http_resp_init(&r);
	if (cli_request_req(c, &req, &r, err) < 0)
		goto out;
	if (r.status == 404)
		rc = 0;
	else if (r.status != 200)
		status_error(err, &r);
	else if ((*root = cli_json_parse(&r.body, err)) != NULL)
		rc = 0;
out:
	cli_http_resp_free(&r);
	return rc;
}

static bool
json_u64(yajl_val v, uint64_t *out)
{
	const char *s;
	char *end;

	*out = 0;
	if (v == NULL || YAJL_IS_NULL(v))
		return true;
	if (!YAJL_IS_NUMBER(v) || *(s = v->u.number.r) == '-')
		return false;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return *end == '\0' && errno == 0;
}

static char *
json_strdup(yajl_val v)
{
	const char *s = cli_json_str(v);

	return s && *s ? xstrdup(s) : NULL;
}

/* One api.KVPair from its JSON object; -1 with *err set. */
static int
pair_decode(yajl_val o, struct kv_pair *p, struct buf *err)
{
	const char *v;
	size_t bad;

	memset(p, 0, sizeof(*p));
	buf_init(&p->value);
	if (!YAJL_IS_OBJECT(o)) {
		buf_addstr(err, "json: cannot unmarshal non-object into Go "
		    "value of type api.KVPair");
		return -1;
	}
	p->key = xstrdup(cli_json_str(cli_json_get(o, "Key")) ?
	    cli_json_str(cli_json_get(o, "Key")) : "");
	p->session = json_strdup(cli_json_get(o, "Session"));
	p->ns = json_strdup(cli_json_get(o, "Namespace"));
	p->partition = json_strdup(cli_json_get(o, "Partition"));
	if (!json_u64(cli_json_get(o, "CreateIndex"), &p->create_index) ||
	    !json_u64(cli_json_get(o, "ModifyIndex"), &p->modify_index) ||
	    !json_u64(cli_json_get(o, "LockIndex"), &p->lock_index) ||
	    !json_u64(cli_json_get(o, "Flags"), &p->flags)) {
		buf_addstr(err, "json: cannot unmarshal an index or flags "
		    "into Go value of type uint64");
		return -1;
	}
	if ((v = cli_json_str(cli_json_get(o, "Value"))) != NULL &&
	    kv_b64_decode(v, strlen(v), &p->value, &bad) < 0) {
		buf_printf(err, "illegal base64 data at input byte %zu", bad);
		return -1;
	}
	return 0;
}

int
kv_read_pairs(struct cli_client *c, const char *key, bool recurse,
    struct kv_pair **out, size_t *n, struct buf *err)
{
	struct buf path;
	yajl_val root;
	size_t i;
	int rc;

	*out = NULL;
	*n = 0;
	buf_init(&path);
	kv_path(&path, key);
	if (recurse)
		cli_query_add(&path, "recurse", NULL);
	rc = kv_get(c, (char *)path.data, &root, err);
	buf_free(&path);
	if (rc < 0 || root == NULL)
		return rc;
	if (!YAJL_IS_ARRAY(root)) {
		buf_addstr(err, "json: cannot unmarshal non-array into Go "
		    "value of type []*api.KVPair");
		yajl_tree_free(root);
		return -1;
	}
	*out = xcalloc(root->u.array.len + 1, sizeof(**out));
	for (i = 0; i < root->u.array.len; i++) {
		if (pair_decode(root->u.array.values[i], &(*out)[i], err) < 0) {
			kv_pairs_free(*out, i + 1);
			*out = NULL;
			yajl_tree_free(root);
			return -1;
		}
	}
	*n = i;
	yajl_tree_free(root);
	return 0;
}

int
kv_read_keys(struct cli_client *c, const char *prefix, const char *sep,
    char ***out, size_t *n, struct buf *err)
{
	struct buf path;
	yajl_val root, v;
	size_t i;
	int rc;

	*out = NULL;
	*n = 0;
	buf_init(&path);
	kv_path(&path, prefix);
	cli_query_add(&path, "keys", NULL);
	if (sep && *sep)
		cli_query_add(&path, "separator", sep);
	rc = kv_get(c, (char *)path.data, &root, err);
	buf_free(&path);
	if (rc < 0 || root == NULL)
		return rc;
	if (!YAJL_IS_ARRAY(root)) {
		buf_addstr(err, "json: cannot unmarshal non-array into Go "
		    "value of type []string");
		yajl_tree_free(root);
		return -1;
	}
	*out = xcalloc(root->u.array.len + 1, sizeof(**out));
	for (i = 0; i < root->u.array.len; i++) {
		v = root->u.array.values[i];
		(*out)[i] = xstrdup(cli_json_str(v) ? cli_json_str(v) : "");
	}
	*n = i;
	yajl_tree_free(root);
	return 0;
}

int
kv_write(struct cli_client *c, const char *method, const char *path,
    const void *body, size_t len, bool *ok, struct buf *err)
{
	static const char *const octets[] = {
		"Content-Type: application/octet-stream", NULL };
	struct cli_http_req req = { .method = method, .path = path,
		.body = body, .body_len = len };
	struct cli_http_resp r;
	int rc = -1;

	*ok = false;
	/* The Go client labels every KV PUT body as raw bytes. */
	if (strcmp(method, "PUT") == 0)
		req.headers = octets;
	cli_http_resp_init(&r);
	if (cli_request_req(c, &req, &r, err) < 0)
		goto out;
	if (r.status != 200) {
		status_error(err, &r);
		goto out;
	}
	*ok = memmem(r.body.data, r.body.len, "true", 4) != NULL;
	rc = 0;
out:
	cli_http_resp_free(&r);
	return rc;
}

/* Append all of fd; 0 or -errno. */
static int
read_fd(int fd, struct buf *out)
{
	ssize_t k;

	for (;;) {
		buf_reserve(out, 65536);
		k = read(fd, out->data + out->len, 65536);
		if (k == 0)
			return 0;
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		out->len += (size_t)k;
		out->data[out->len] = '\0';
	}
}

/* os.ReadFile's errors: "open p: ..." or "read p: ...". */
static int
load_file(const char *p, struct buf *out, struct buf *err)
{
	char es[128];
	int fd, r;

	if ((fd = open(p, O_RDONLY | O_CLOEXEC)) < 0) {
		buf_printf(err, "Failed to read file: open %s: %s", p,
		    cli_errstr(errno, es, sizeof(es)));
		return -1;
	}
	r = read_fd(fd, out);
	close(fd);
	if (r < 0) {
		buf_printf(err, "Failed to read file: read %s: %s", p,
		    cli_errstr(-r, es, sizeof(es)));
		return -1;
	}
	return 0;
}

int
kv_load_data(const char *arg, struct buf *out, struct buf *err)
{
	char es[128];
	int r;

	if (arg[0] == '@')
		return load_file(arg + 1, out, err);
	if (strcmp(arg, "-") == 0) {
		if ((r = read_fd(STDIN_FILENO, out)) < 0) {
			buf_printf(err, "Failed to read stdin: read "
			    "/dev/stdin: %s", cli_errstr(-r, es, sizeof(es)));
			return -1;
		}
		return 0;
	}
	buf_addstr(out, arg);
	return 0;
}
